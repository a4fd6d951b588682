/* test-ice-server.c: RFC 7064/7065 URI parsing
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>

typedef struct
{
  const char *uri;
  PunchIceServerKind kind;
  const char *host;
  guint16 port;
  PunchTransport transport;
  const char *canonical;
} GoodUri;

static const GoodUri good[] = {
  { "stun:stun.example.org", PUNCH_ICE_SERVER_STUN, "stun.example.org", 3478, PUNCH_TRANSPORT_UDP,
    "stun:stun.example.org:3478" },
  { "stun:203.0.113.10:19302", PUNCH_ICE_SERVER_STUN, "203.0.113.10", 19302, PUNCH_TRANSPORT_UDP,
    "stun:203.0.113.10:19302" },
  { "STUN:[2001:db8::1]", PUNCH_ICE_SERVER_STUN, "2001:db8::1", 3478, PUNCH_TRANSPORT_UDP,
    "stun:[2001:db8::1]:3478" },
  { "turn:turn.example.org", PUNCH_ICE_SERVER_TURN, "turn.example.org", 3478, PUNCH_TRANSPORT_UDP,
    "turn:turn.example.org:3478?transport=udp" },
  { "turn:198.51.100.7:3479?transport=tcp", PUNCH_ICE_SERVER_TURN, "198.51.100.7", 3479,
    PUNCH_TRANSPORT_TCP, "turn:198.51.100.7:3479?transport=tcp" },
  { "turn:[2001:db8::2]:80?transport=UDP", PUNCH_ICE_SERVER_TURN, "2001:db8::2", 80,
    PUNCH_TRANSPORT_UDP, "turn:[2001:db8::2]:80?transport=udp" },
  { "turns:relay.example.org", PUNCH_ICE_SERVER_TURNS, "relay.example.org", 5349,
    PUNCH_TRANSPORT_TLS, "turns:relay.example.org:5349" },
  { "turns:relay.example.org:443?transport=tcp", PUNCH_ICE_SERVER_TURNS, "relay.example.org", 443,
    PUNCH_TRANSPORT_TLS, "turns:relay.example.org:443" },
};

static void
test_good (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchIceServer) s = punch_ice_server_parse (good[i].uri, "u", "p", &error);
      g_autofree char *canonical = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (s);
      g_assert_cmpint (s->kind, ==, good[i].kind);
      g_assert_cmpstr (s->host, ==, good[i].host);
      g_assert_cmpuint (s->port, ==, good[i].port);
      g_assert_cmpint (s->transport, ==, good[i].transport);
      canonical = punch_ice_server_to_uri (s);
      g_assert_cmpstr (canonical, ==, good[i].canonical);
      if (s->kind == PUNCH_ICE_SERVER_STUN)
        g_assert_null (s->username);
      else
        {
          g_assert_cmpstr (s->username, ==, "u");
          g_assert_cmpstr (s->credential, ==, "p");
        }

      /* the canonical form parses to the same server */
      {
        g_autoptr (PunchIceServer) again = punch_ice_server_parse (canonical, NULL, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (again->host, ==, s->host);
        g_assert_cmpuint (again->port, ==, s->port);
        g_assert_cmpint (again->transport, ==, s->transport);
      }
    }
}

typedef struct
{
  const char *uri;
  const char *message_part;
} BadUri;

static const BadUri bad[] = {
  { "", "empty" },
  { "http://example.org", "scheme" },
  { "stuns:example.org", "not supported" },
  { "stun://example.org", "no \"//\"" },
  { "turn:user:pass@example.org", "credentials" },
  { "stun:", "host is missing" },
  { "stun::3478", "host is missing" },
  { "stun:example.org:0", "port" },
  { "stun:example.org:65536", "port" },
  { "stun:example.org:12ab", "port" },
  { "stun:example.org:", "port" },
  { "stun:2001:db8::1", "brackets" },
  { "stun:[2001:db8::1", "not closed" },
  { "stun:[example.org]:3478", "not an IPv6 address" },
  { "stun:[2001:db8::1]x", "unexpected text" },
  { "stun:exa mple.org", "not a valid host" },
  { "stun:example.org?transport=udp", "take no query" },
  { "turn:example.org?transport=sctp", "unknown transport \"sctp\"" },
  { "turn:example.org?foo=bar", "transport=" },
  { "turns:example.org?transport=udp", "DTLS" },
  { "turn:-bad.example", "not a valid host" },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchIceServer) s = punch_ice_server_parse (bad[i].uri, NULL, NULL, &error);

      g_assert_null (s);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, bad[i].message_part) == NULL)
        g_error ("\"%s\": message \"%s\" lacks \"%s\"", bad[i].uri, error->message,
                 bad[i].message_part);
    }
}

static void
test_config_validate (void)
{
  g_autoptr (PunchConfig) config = punch_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_true (config->consent_freshness);

  config->policy = PUNCH_POLICY_RELAY;
  g_assert_false (punch_config_validate (config, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "needs at least one TURN server"));
  g_clear_error (&error);

  g_assert_true (punch_config_add_ice_server (config, "turn:127.0.0.1", NULL, NULL, &error));
  g_assert_false (punch_config_validate (config, &error));
  g_assert_nonnull (strstr (error->message, "needs a username and a password"));
  g_clear_error (&error);

  g_ptr_array_set_size (config->ice_servers, 0);
  g_assert_true (punch_config_add_ice_server (config, "turn:127.0.0.1", "u", "p", &error));
  g_assert_true (punch_config_validate (config, &error));

  config->port_min = 5000;
  config->port_max = 4000;
  g_assert_false (punch_config_validate (config, &error));
  g_assert_nonnull (strstr (error->message, "port range"));
  g_clear_error (&error);
  config->port_min = config->port_max = 0;

  config->ipv4 = config->ipv6 = FALSE;
  g_assert_false (punch_config_validate (config, &error));
  g_clear_error (&error);
  config->ipv4 = TRUE;

  {
    g_autoptr (PunchConfig) copy = punch_config_copy (config);
    g_assert_cmpuint (copy->ice_servers->len, ==, 1);
    g_assert_true (copy->ice_servers->pdata[0] != config->ice_servers->pdata[0]);
  }
}

static void
test_enum_strings (void)
{
  PunchPolicy policy;
  PunchMode mode;
  PunchRole role;
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_policy_from_string ("relay", &policy, &error));
  g_assert_cmpint (policy, ==, PUNCH_POLICY_RELAY);
  g_assert_true (punch_mode_from_string ("Reliable", &mode, &error));
  g_assert_cmpint (mode, ==, PUNCH_MODE_RELIABLE);
  g_assert_true (punch_role_from_string ("controlled", &role, &error));
  g_assert_cmpint (role, ==, PUNCH_ROLE_CONTROLLED);
  g_assert_false (punch_mode_from_string ("stream", &mode, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "unknown mode \"stream\"; expected datagram, reliable");
  g_assert_cmpstr (punch_policy_to_string (PUNCH_POLICY_ALL), ==, "all");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch/ice-server/good", test_good);
  g_test_add_func ("/punch/ice-server/bad", test_bad);
  g_test_add_func ("/punch/config/validate", test_config_validate);
  g_test_add_func ("/punch/config/enum-strings", test_enum_strings);
  return g_test_run ();
}
