/* punch-candidate.c: RFC 8839 section 5.1 candidate lines
 *
 *   candidate:<foundation> <component-id> <transport> <priority>
 *             <connection-address> <port> typ <cand-type>
 *             [raddr <addr>] [rport <port>] *(SP <ext-name> SP <ext-value>)
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-candidate.h"
#include "punch-error.h"

#include <string.h>
#include <gio/gio.h>

G_DEFINE_BOXED_TYPE (PunchCandidate, punch_candidate, punch_candidate_copy, punch_candidate_free)

#define MAX_LINE 1024
#define DISCARD_PORT 9u

const char *
punch_candidate_type_to_string (PunchCandidateType type)
{
  switch (type)
    {
    case PUNCH_CANDIDATE_HOST: return "host";
    case PUNCH_CANDIDATE_SRFLX: return "srflx";
    case PUNCH_CANDIDATE_PRFLX: return "prflx";
    case PUNCH_CANDIDATE_RELAY: return "relay";
    default: return "unknown";
    }
}

const char *
punch_tcp_type_to_string (PunchTcpType tcp_type)
{
  switch (tcp_type)
    {
    case PUNCH_TCP_TYPE_NONE: return "none";
    case PUNCH_TCP_TYPE_ACTIVE: return "active";
    case PUNCH_TCP_TYPE_PASSIVE: return "passive";
    case PUNCH_TCP_TYPE_SO: return "so";
    default: return "unknown";
    }
}

/* The transports of draft-ietf-mmusic-ice-tcp before RFC 6544, which libnice
 * still reads: "TCP-SO", "TCP-ACT", "TCP-PASS". */
static PunchTcpType
legacy_tcp_transport (const char *transport)
{
  if (g_ascii_strcasecmp (transport, "tcp-so") == 0)
    return PUNCH_TCP_TYPE_SO;
  if (g_ascii_strcasecmp (transport, "tcp-act") == 0)
    return PUNCH_TCP_TYPE_ACTIVE;
  if (g_ascii_strcasecmp (transport, "tcp-pass") == 0)
    return PUNCH_TCP_TYPE_PASSIVE;
  return PUNCH_TCP_TYPE_NONE;
}

guint32
punch_candidate_priority (PunchCandidateType type, PunchTransport transport, PunchTcpType tcp_type,
                          guint other_preference, guint component)
{
  static const guint type_pref[] = {
    [PUNCH_CANDIDATE_HOST] = 126,
    [PUNCH_CANDIDATE_SRFLX] = 100,
    [PUNCH_CANDIDATE_PRFLX] = 110,
    [PUNCH_CANDIDATE_RELAY] = 0,
  };
  guint t, direction;

  g_return_val_if_fail ((guint)type < G_N_ELEMENTS (type_pref), 0);
  g_return_val_if_fail (other_preference < 8192, 0);
  g_return_val_if_fail (component >= 1 && component <= 256, 0);

  t = type_pref[type];
  if (transport == PUNCH_TRANSPORT_UDP)
    direction = 7;
  else
    {
      /* UDP first: TCP candidates at half the type preference, as libnice does.
       * RFC 6544 section 4.2's direction-pref: host and relayed candidates prefer
       * active (6), passive (4), then S-O (2); server reflexive ones S-O (6), active
       * (4), then passive (2), since only simultaneous open gets through a NAT. */
      gboolean nat = type == PUNCH_CANDIDATE_SRFLX || type == PUNCH_CANDIDATE_PRFLX;

      t /= 2;
      if (tcp_type == PUNCH_TCP_TYPE_SO)
        direction = nat ? 6 : 2;
      else if (tcp_type == PUNCH_TCP_TYPE_ACTIVE)
        direction = nat ? 4 : 6;
      else
        direction = nat ? 2 : 4;
    }
  return (t << 24) + (((direction << 13) | other_preference) << 8) + (256 - component);
}

static gboolean fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "malformed candidate: %s", msg);
  return FALSE;
}

static gboolean
is_ice_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

static gboolean
parse_uint (const char *text, guint max_digits, guint64 max, guint64 *out)
{
  gsize len = strlen (text);

  if (len == 0 || len > max_digits)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
  *out = g_ascii_strtoull (text, NULL, 10);
  return *out <= max;
}

static gboolean
parse_ip (const char *text)
{
  return text[0] != '\0' && strlen (text) <= 45 && g_hostname_is_ip_address (text);
}

PunchCandidate *
punch_candidate_parse (const char *line, GError **error)
{
  g_auto (GStrv) tok = NULL;
  g_autoptr (PunchCandidate) c = NULL;
  PunchTcpType legacy_tcp_type;
  guint n;
  guint64 v;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (line == NULL)
    return fail (error, "no text"), NULL;
  if (strnlen (line, MAX_LINE + 1) > MAX_LINE)
    return fail (error, "longer than %d bytes", MAX_LINE), NULL;
  if (!g_utf8_validate (line, -1, NULL))
    return fail (error, "not valid UTF-8"), NULL;
  if (g_str_has_prefix (line, "a="))
    line += 2;
  if (!g_str_has_prefix (line, "candidate:"))
    return fail (error, "it must start with \"candidate:\""), NULL;
  line += strlen ("candidate:");

  for (const char *p = line; *p; p++)
    if (*p == '\t' || *p == '\r' || *p == '\n' || (guchar)*p < 0x20)
      return fail (error,
                   "control characters are not allowed; fields are separated by single spaces"),
             NULL;

  tok = g_strsplit (line, " ", -1);
  n = g_strv_length (tok);
  for (guint i = 0; i < n; i++)
    if (tok[i][0] == '\0')
      return fail (error, "empty field %u (fields are separated by single spaces)", i + 1), NULL;
  if (n < 8)
    return fail (error,
                 "%u fields where at least 8 are needed "
                 "(foundation component transport priority address port typ type)",
                 n),
           NULL;

  c = g_new0 (PunchCandidate, 1);

  if (strlen (tok[0]) > 32)
    return fail (error, "the foundation is longer than 32 characters"), NULL;
  for (const char *p = tok[0]; *p; p++)
    if (!is_ice_char (*p))
      return fail (error, "the foundation \"%s\" has a character outside [A-Za-z0-9+/]", tok[0]),
             NULL;
  c->foundation = g_strdup (tok[0]);

  if (!parse_uint (tok[1], 3, 256, &v) || v == 0)
    return fail (error, "the component id \"%s\" is not a number from 1 to 256", tok[1]), NULL;
  c->component = (guint)v;

  if (g_ascii_strcasecmp (tok[2], "udp") == 0)
    c->transport = PUNCH_TRANSPORT_UDP;
  else if (g_ascii_strcasecmp (tok[2], "tcp") == 0)
    c->transport = PUNCH_TRANSPORT_TCP;
  else if ((legacy_tcp_type = legacy_tcp_transport (tok[2])) != PUNCH_TCP_TYPE_NONE)
    {
      c->transport = PUNCH_TRANSPORT_TCP;
      c->tcp_type = legacy_tcp_type;
    }
  else
    return fail (error, "unknown transport \"%s\"; expected UDP or TCP", tok[2]), NULL;

  if (!parse_uint (tok[3], 10, G_MAXUINT32, &v))
    return fail (error, "the priority \"%s\" is not a number from 0 to 4294967295", tok[3]), NULL;
  c->priority = (guint32)v;

  if (!parse_ip (tok[4]))
    {
      if (g_str_has_suffix (tok[4], ".local"))
        return fail (error, "\"%s\" is an mDNS name; punch needs an IP address", tok[4]), NULL;
      return fail (error, "the address \"%s\" is not an IPv4 or IPv6 address", tok[4]), NULL;
    }
  c->address = g_strdup (tok[4]);

  if (!parse_uint (tok[5], 5, 65535, &v))
    return fail (error, "the port \"%s\" is not a number from 0 to 65535", tok[5]), NULL;
  c->port = (guint16)v;

  if (strcmp (tok[6], "typ") != 0)
    return fail (error, "expected \"typ\" after the port, found \"%s\"", tok[6]), NULL;
  if (strcmp (tok[7], "host") == 0)
    c->type = PUNCH_CANDIDATE_HOST;
  else if (strcmp (tok[7], "srflx") == 0)
    c->type = PUNCH_CANDIDATE_SRFLX;
  else if (strcmp (tok[7], "prflx") == 0)
    c->type = PUNCH_CANDIDATE_PRFLX;
  else if (strcmp (tok[7], "relay") == 0)
    c->type = PUNCH_CANDIDATE_RELAY;
  else
    return fail (error, "unknown candidate type \"%s\"; expected host, srflx, prflx or relay",
                 tok[7]),
           NULL;

  for (guint i = 8; i < n; i += 2)
    {
      const char *name = tok[i], *value = tok[i + 1];

      if (value == NULL)
        return fail (error, "the attribute \"%s\" has no value", name), NULL;
      if (strcmp (name, "raddr") == 0)
        {
          if (!parse_ip (value))
            return fail (error, "raddr \"%s\" is not an IP address", value), NULL;
          g_free (c->related_address);
          c->related_address = g_strdup (value);
        }
      else if (strcmp (name, "rport") == 0)
        {
          if (!parse_uint (value, 5, 65535, &v))
            return fail (error, "rport \"%s\" is not a number from 0 to 65535", value), NULL;
          c->related_port = (guint16)v;
        }
      else if (strcmp (name, "tcptype") == 0)
        {
          PunchTcpType t;

          if (strcmp (value, "active") == 0)
            t = PUNCH_TCP_TYPE_ACTIVE;
          else if (strcmp (value, "passive") == 0)
            t = PUNCH_TCP_TYPE_PASSIVE;
          else if (strcmp (value, "so") == 0)
            t = PUNCH_TCP_TYPE_SO;
          else
            return fail (error, "unknown tcptype \"%s\"; expected active, passive or so", value),
                   NULL;
          if (c->tcp_type != PUNCH_TCP_TYPE_NONE && c->tcp_type != t)
            return fail (error, "tcptype %s contradicts the earlier %s", value,
                         punch_tcp_type_to_string (c->tcp_type)),
                   NULL;
          c->tcp_type = t;
        }
      /* other extension attributes (generation, ufrag, network-id…) are ignored, as RFC 8839 says
       */
    }

  if (c->transport == PUNCH_TRANSPORT_TCP && c->tcp_type == PUNCH_TCP_TYPE_NONE)
    return fail (error, "a TCP candidate needs a tcptype (active, passive or so)"), NULL;
  if (c->transport == PUNCH_TRANSPORT_UDP && c->tcp_type != PUNCH_TCP_TYPE_NONE)
    return fail (error, "tcptype is only for TCP candidates"), NULL;
  if (c->port == 0
      && !(c->transport == PUNCH_TRANSPORT_TCP && c->tcp_type == PUNCH_TCP_TYPE_ACTIVE))
    return fail (error, "port 0 is only allowed for active TCP candidates"), NULL;

  return g_steal_pointer (&c);
}

char *
punch_candidate_to_string (const PunchCandidate *c)
{
  gboolean active;
  GString *s;

  g_return_val_if_fail (c != NULL, NULL);

  active = c->transport == PUNCH_TRANSPORT_TCP && c->tcp_type == PUNCH_TCP_TYPE_ACTIVE;
  s = g_string_new (NULL);
  /* an active candidate's port means nothing: RFC 6544 section 4.5 says 9, as libnice writes */
  g_string_append_printf (s, "candidate:%s %u %s %u %s %u typ %s", c->foundation, c->component,
                          c->transport == PUNCH_TRANSPORT_TCP ? "TCP" : "UDP", c->priority,
                          c->address, active && c->port == 0 ? DISCARD_PORT : c->port,
                          punch_candidate_type_to_string (c->type));
  if (c->related_address)
    g_string_append_printf (s, " raddr %s rport %u", c->related_address,
                            active && c->related_port == 0 ? DISCARD_PORT : c->related_port);
  if (c->transport == PUNCH_TRANSPORT_TCP && c->tcp_type != PUNCH_TCP_TYPE_NONE)
    g_string_append_printf (s, " tcptype %s", punch_tcp_type_to_string (c->tcp_type));
  return g_string_free (s, FALSE);
}

PunchCandidate *
punch_candidate_copy (const PunchCandidate *c)
{
  PunchCandidate *copy;

  g_return_val_if_fail (c != NULL, NULL);
  copy = g_memdup2 (c, sizeof *c);
  copy->foundation = g_strdup (c->foundation);
  copy->address = g_strdup (c->address);
  copy->related_address = g_strdup (c->related_address);
  return copy;
}

void
punch_candidate_free (PunchCandidate *c)
{
  if (c == NULL)
    return;
  g_free (c->foundation);
  g_free (c->address);
  g_free (c->related_address);
  g_free (c);
}
