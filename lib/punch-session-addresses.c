/* punch-session-addresses.c: the host addresses a session gathers on
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"

#include <string.h>
#include <nice/agent.h>
#include <nice/interfaces.h>

static gboolean
host_has_address (GList *host_ips, const char *ip)
{
  NiceAddress a, b;

  if (!nice_address_set_from_string (&a, ip))
    return FALSE;
  for (GList *l = host_ips; l; l = l->next)
    if (nice_address_set_from_string (&b, l->data) && nice_address_equal_no_port (&a, &b))
      return TRUE;
  return FALSE;
}

/* The host addresses to gather on, given to libnice. FALSE with
 * self->no_address_error set when there is none. */
gboolean
punch_session_add_local_addresses (PunchSession *self)
{
  GList *host_ips = nice_interfaces_get_local_ips (TRUE); /* loopback included */
  GList *ips = NULL;
  g_autoptr (GString) missing = g_string_new (NULL);
  guint added = 0;

  if (self->config->local_addresses)
    {
      for (guint i = 0; self->config->local_addresses[i]; i++)
        {
          const char *ip = self->config->local_addresses[i];
          if (host_has_address (host_ips, ip))
            ips = g_list_append (ips, g_strdup (ip));
          else
            g_string_append_printf (missing, "%s%s", missing->len ? ", " : "", ip);
        }
    }
  else
    ips = nice_interfaces_get_local_ips (FALSE);

  for (GList *l = ips; l; l = l->next)
    {
      const char *ip = l->data;
      NiceAddress addr;

      if (!punch_session_address_wanted (self->config, ip))
        continue;
      /* link-local IPv6 pairs never work across a NAT and only delay ICE */
      if (self->config->local_addresses == NULL && g_str_has_prefix (ip, "fe80"))
        continue;
      if (!nice_address_set_from_string (&addr, ip))
        continue;
      nice_agent_add_local_address (self->agent, &addr);
      added++;
    }
  if (added == 0)
    {
      g_autoptr (GString) have = g_string_new (NULL);
      for (GList *l = host_ips; l; l = l->next)
        g_string_append_printf (have, "%s%s", have->len ? ", " : "", (const char *)l->data);
      g_clear_error (&self->no_address_error);
      if (missing->len)
        self->no_address_error = g_error_new (
            PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESS,
            "no usable local address: %s %s not an address of this host (it has: %s)", missing->str,
            strchr (missing->str, ',') ? "are" : "is", have->len ? have->str : "none");
      else
        self->no_address_error = g_error_new (
            PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESS,
            "no usable local address: this host has no address of an enabled family other than "
            "loopback (it has: %s); is the network down?",
            have->len ? have->str : "none");
    }
  else if (missing->len)
    g_warning ("local address %s is not an address of this host: not used", missing->str);
  g_list_free_full (ips, g_free);
  g_list_free_full (host_ips, g_free);
  return added > 0;
}
