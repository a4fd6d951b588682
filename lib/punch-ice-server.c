/* punch-ice-server.c: RFC 7064 (stun:) and RFC 7065 (turn:, turns:) URIs
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-ice-server.h"
#include "punch-error.h"

#include <string.h>
#include <gio/gio.h>

G_DEFINE_BOXED_TYPE (PunchIceServer, punch_ice_server, punch_ice_server_copy, punch_ice_server_free)

const char *
punch_transport_to_string (PunchTransport transport)
{
  switch (transport)
    {
    case PUNCH_TRANSPORT_UDP: return "udp";
    case PUNCH_TRANSPORT_TCP: return "tcp";
    case PUNCH_TRANSPORT_TLS: return "tls";
    default: return "unknown";
    }
}

static gboolean
set_error (GError **error, const char *uri, const char *why)
{
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
               "invalid ICE server URI \"%s\": %s", uri, why);
  return FALSE;
}

/* RFC 3986 reg-name, restricted to what a DNS name can hold */
static gboolean
valid_host_name (const char *host)
{
  gsize len = strlen (host);

  if (len == 0 || len > 253)
    return FALSE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return host[0] != '.' && host[0] != '-';
}

static gboolean
parse_port (const char *text, guint16 *port)
{
  guint64 value;

  if (*text == '\0' || strlen (text) > 5)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  value = g_ascii_strtoull (text, NULL, 10);
  if (value == 0 || value > 65535)
    return FALSE;
  *port = (guint16)value;
  return TRUE;
}

PunchIceServer *
punch_ice_server_parse (const char *uri, const char *username, const char *credential,
                        GError **error)
{
  g_autoptr (PunchIceServer) server = NULL;
  g_autofree char *hostport = NULL;
  const char *rest, *query, *port_text = NULL;
  char *host;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (uri == NULL || *uri == '\0')
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "empty ICE server URI; expected stun:, turn: or turns:");
      return NULL;
    }

  server = g_new0 (PunchIceServer, 1);
  if (g_ascii_strncasecmp (uri, "stun:", 5) == 0)
    {
      server->kind = PUNCH_ICE_SERVER_STUN;
      server->port = 3478;
      server->transport = PUNCH_TRANSPORT_UDP;
      rest = uri + 5;
    }
  else if (g_ascii_strncasecmp (uri, "turn:", 5) == 0)
    {
      server->kind = PUNCH_ICE_SERVER_TURN;
      server->port = 3478;
      server->transport = PUNCH_TRANSPORT_UDP;
      rest = uri + 5;
    }
  else if (g_ascii_strncasecmp (uri, "turns:", 6) == 0)
    {
      server->kind = PUNCH_ICE_SERVER_TURNS;
      server->port = 5349;
      server->transport = PUNCH_TRANSPORT_TLS;
      rest = uri + 6;
    }
  else if (g_ascii_strncasecmp (uri, "stuns:", 6) == 0)
    {
      set_error (error, uri, "stuns: (STUN over TLS) is not supported; use stun: or turns:");
      return NULL;
    }
  else
    {
      set_error (error, uri, "the scheme must be stun:, turn: or turns:");
      return NULL;
    }

  if (g_str_has_prefix (rest, "//"))
    {
      set_error (error, uri,
                 "these URIs have no \"//\": write turn:host:port, not turn://host:port");
      return NULL;
    }
  if (strchr (rest, '@') != NULL)
    {
      set_error (error, uri,
                 "credentials do not belong in the URI; pass a username and password separately");
      return NULL;
    }

  query = strchr (rest, '?');
  hostport = query ? g_strndup (rest, query - rest) : g_strdup (rest);

  if (hostport[0] == '[')
    {
      char *end = strchr (hostport, ']');
      if (end == NULL)
        {
          set_error (error, uri, "an IPv6 address opened with '[' is not closed with ']'");
          return NULL;
        }
      *end = '\0';
      host = hostport + 1;
      if (end[1] == ':')
        port_text = end + 2;
      else if (end[1] != '\0')
        {
          set_error (error, uri, "unexpected text after the IPv6 address");
          return NULL;
        }
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        {
          set_error (error, uri, "the text inside [ ] is not an IPv6 address");
          return NULL;
        }
    }
  else
    {
      char *colon = strchr (hostport, ':');
      host = hostport;
      if (colon)
        {
          if (strchr (colon + 1, ':'))
            {
              set_error (
                  error, uri,
                  "an IPv6 address must be written in brackets, e.g. stun:[2001:db8::1]:3478");
              return NULL;
            }
          *colon = '\0';
          port_text = colon + 1;
        }
      if (!valid_host_name (host))
        {
          set_error (error, uri,
                     *host ? "the host is not a valid host name or IP address"
                           : "the host is missing");
          return NULL;
        }
    }

  if (port_text && !parse_port (port_text, &server->port))
    {
      set_error (error, uri, "the port must be a number from 1 to 65535");
      return NULL;
    }
  server->host = g_strdup (host);

  if (query)
    {
      const char *q = query + 1;
      if (server->kind == PUNCH_ICE_SERVER_STUN)
        {
          set_error (error, uri, "stun: URIs take no query; ?transport= is for turn: and turns:");
          return NULL;
        }
      if (g_ascii_strncasecmp (q, "transport=", 10) != 0)
        {
          set_error (error, uri,
                     "the only query RFC 7065 defines is ?transport=udp or ?transport=tcp");
          return NULL;
        }
      q += 10;
      if (g_ascii_strcasecmp (q, "udp") == 0)
        {
          if (server->kind == PUNCH_ICE_SERVER_TURNS)
            {
              set_error (error, uri,
                         "turns: with transport=udp (DTLS) is not supported; use transport=tcp");
              return NULL;
            }
          server->transport = PUNCH_TRANSPORT_UDP;
        }
      else if (g_ascii_strcasecmp (q, "tcp") == 0)
        server->transport
            = server->kind == PUNCH_ICE_SERVER_TURNS ? PUNCH_TRANSPORT_TLS : PUNCH_TRANSPORT_TCP;
      else
        {
          g_autofree char *why = g_strdup_printf ("unknown transport \"%s\"; use udp or tcp", q);
          set_error (error, uri, why);
          return NULL;
        }
    }

  if (server->kind != PUNCH_ICE_SERVER_STUN)
    {
      server->username = g_strdup (username);
      server->credential = g_strdup (credential);
    }
  return g_steal_pointer (&server);
}

char *
punch_ice_server_to_uri (const PunchIceServer *server)
{
  const char *scheme;
  gboolean v6;

  g_return_val_if_fail (server != NULL, NULL);

  scheme = server->kind == PUNCH_ICE_SERVER_STUN   ? "stun"
           : server->kind == PUNCH_ICE_SERVER_TURN ? "turn"
                                                   : "turns";
  v6 = strchr (server->host, ':') != NULL;
  return g_strdup_printf (
      "%s:%s%s%s:%u%s", scheme, v6 ? "[" : "", server->host, v6 ? "]" : "", server->port,
      server->kind == PUNCH_ICE_SERVER_TURN
          ? (server->transport == PUNCH_TRANSPORT_TCP ? "?transport=tcp" : "?transport=udp")
          : "");
}

PunchIceServer *
punch_ice_server_copy (const PunchIceServer *server)
{
  PunchIceServer *copy;

  g_return_val_if_fail (server != NULL, NULL);
  copy = g_memdup2 (server, sizeof *server);
  copy->host = g_strdup (server->host);
  copy->username = g_strdup (server->username);
  copy->credential = g_strdup (server->credential);
  return copy;
}

void
punch_ice_server_free (PunchIceServer *server)
{
  if (server == NULL)
    return;
  g_free (server->host);
  g_free (server->username);
  if (server->credential)
    memset (server->credential, 0, strlen (server->credential));
  g_free (server->credential);
  g_free (server);
}
