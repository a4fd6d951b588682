/* punch-config.c
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-config.h"
#include "punch-error.h"

#include <string.h>

G_DEFINE_BOXED_TYPE (PunchConfig, punch_config, punch_config_copy, punch_config_free)

PunchConfig *
punch_config_new (void)
{
  PunchConfig *config = g_new0 (PunchConfig, 1);

  config->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  config->policy = PUNCH_POLICY_ALL;
  config->role = PUNCH_ROLE_AUTO;
  config->mode = PUNCH_MODE_DATAGRAM;
  config->ipv4 = TRUE;
  config->ipv6 = TRUE;
  config->connect_timeout_ms = 30000;
  config->consent_freshness = TRUE;
  config->consent_timeout_ms = 30000;
  config->upnp = FALSE;
  config->tcp = TRUE;
  return config;
}

PunchConfig *
punch_config_copy (const PunchConfig *config)
{
  PunchConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);
  copy = g_memdup2 (config, sizeof *config);
  copy->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  for (guint i = 0; config->ice_servers && i < config->ice_servers->len; i++)
    g_ptr_array_add (copy->ice_servers, punch_ice_server_copy (config->ice_servers->pdata[i]));
  copy->local_addresses = g_strdupv (config->local_addresses);
  copy->tls_ca_file = g_strdup (config->tls_ca_file);
  copy->identity = config->identity ? punch_identity_ref (config->identity) : NULL;
  copy->pinned_peers = g_strdupv (config->pinned_peers);
  return copy;
}

void
punch_config_free (PunchConfig *config)
{
  if (config == NULL)
    return;
  g_clear_pointer (&config->ice_servers, g_ptr_array_unref);
  g_strfreev (config->local_addresses);
  g_free (config->tls_ca_file);
  g_clear_pointer (&config->identity, punch_identity_unref);
  g_strfreev (config->pinned_peers);
  g_free (config);
}

gboolean
punch_config_add_ice_server (PunchConfig *config, const char *uri, const char *username,
                             const char *credential, GError **error)
{
  PunchIceServer *server;

  g_return_val_if_fail (config != NULL, FALSE);
  server = punch_ice_server_parse (uri, username, credential, error);
  if (server == NULL)
    return FALSE;
  g_ptr_array_add (config->ice_servers, server);
  return TRUE;
}

gboolean
punch_config_validate (const PunchConfig *config, GError **error)
{
  gboolean have_turn = FALSE;

  g_return_val_if_fail (config != NULL, FALSE);

  if (!config->ipv4 && !config->ipv6)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "both IPv4 and IPv6 are switched off: there is nothing to gather");
      return FALSE;
    }
  if ((config->port_min == 0) != (config->port_max == 0) || config->port_min > config->port_max)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "invalid port range %u-%u: give both ends, lowest first", config->port_min,
                   config->port_max);
      return FALSE;
    }
  if (config->consent_timeout_ms < 1000)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the consent timeout must be at least 1 s (it is %u ms)",
                   config->consent_timeout_ms);
      return FALSE;
    }
  if (config->connect_timeout_ms == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "the connect timeout must be greater than zero");
      return FALSE;
    }
  for (guint i = 0; config->ice_servers && i < config->ice_servers->len; i++)
    {
      const PunchIceServer *s = config->ice_servers->pdata[i];
      if (s->kind == PUNCH_ICE_SERVER_STUN)
        continue;
      have_turn = TRUE;
      if (s->username == NULL || s->credential == NULL)
        {
          g_autofree char *uri = punch_ice_server_to_uri (s);
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "the TURN server %s needs a username and a password", uri);
          return FALSE;
        }
    }
  if (config->policy == PUNCH_POLICY_RELAY && !have_turn)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "the relay-only policy needs at least one TURN server");
      return FALSE;
    }
  if (config->security == PUNCH_SECURITY_NONE && config->mode == PUNCH_MODE_RELIABLE)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "a reliable stream needs the secure channel (QUIC): the plaintext "
                           "path carries datagrams only");
      return FALSE;
    }
  if (config->security == PUNCH_SECURITY_NONE && config->pinned_peers && *config->pinned_peers)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "pinned peers need the secure channel: a plaintext path checks no key");
      return FALSE;
    }
  for (guint i = 0; config->pinned_peers && config->pinned_peers[i]; i++)
    {
      g_autofree char *fp = punch_fingerprint_normalize (config->pinned_peers[i], error);
      if (fp == NULL)
        {
          g_prefix_error (error, "pinned peer %u: ", i + 1);
          return FALSE;
        }
    }
  for (guint i = 0; config->local_addresses && config->local_addresses[i]; i++)
    if (!g_hostname_is_ip_address (config->local_addresses[i]))
      {
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                     "local address \"%s\" is not an IP address", config->local_addresses[i]);
        return FALSE;
      }
  return TRUE;
}

typedef struct
{
  const char *name;
  int value;
} NameValue;

static gboolean
lookup (const NameValue *table, gsize n, const char *what, const char *str, int *out,
        GError **error)
{
  g_autoptr (GString) choices = g_string_new (NULL);

  for (gsize i = 0; i < n; i++)
    {
      if (str && g_ascii_strcasecmp (str, table[i].name) == 0)
        {
          *out = table[i].value;
          return TRUE;
        }
      g_string_append_printf (choices, "%s%s", i ? ", " : "", table[i].name);
    }
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "unknown %s \"%s\"; expected %s",
               what, str ? str : "", choices->str);
  return FALSE;
}

static const NameValue policies[]
    = { { "all", PUNCH_POLICY_ALL }, { "relay", PUNCH_POLICY_RELAY } };
static const NameValue modes[]
    = { { "datagram", PUNCH_MODE_DATAGRAM }, { "reliable", PUNCH_MODE_RELIABLE } };
static const NameValue securities[]
    = { { "quic", PUNCH_SECURITY_QUIC }, { "none", PUNCH_SECURITY_NONE } };
static const NameValue roles[] = { { "auto", PUNCH_ROLE_AUTO },
                                   { "controlling", PUNCH_ROLE_CONTROLLING },
                                   { "controlled", PUNCH_ROLE_CONTROLLED } };

#define DEFINE_ENUM_STRINGS(type, prefix, table, what)                       \
  gboolean prefix##_from_string (const char *str, type *out, GError **error) \
  {                                                                          \
    int v;                                                                   \
    if (!lookup (table, G_N_ELEMENTS (table), what, str, &v, error))         \
      return FALSE;                                                          \
    *out = (type)v;                                                          \
    return TRUE;                                                             \
  }                                                                          \
  const char *prefix##_to_string (type value)                                \
  {                                                                          \
    for (gsize i = 0; i < G_N_ELEMENTS (table); i++)                         \
      if (table[i].value == (int)value)                                      \
        return table[i].name;                                                \
    return "unknown";                                                        \
  }

DEFINE_ENUM_STRINGS (PunchPolicy, punch_policy, policies, "ICE transport policy")
DEFINE_ENUM_STRINGS (PunchMode, punch_mode, modes, "mode")
DEFINE_ENUM_STRINGS (PunchRole, punch_role, roles, "role")
DEFINE_ENUM_STRINGS (PunchSecurity, punch_security, securities, "security")
