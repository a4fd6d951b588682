/* test-turn.c: sessions against a real coturn on loopback
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <glib/gstdio.h>
#include <punch.h>

#include "punch-test-util.h"
#include "session-pair.h"

typedef struct
{
  PunchTestCoturn *coturn;
  PunchConfig *config;
  SessionPair pair;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->coturn = punch_test_coturn_start (NULL);
  f->config = punch_config_new ();
  f->config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  f->config->ipv6 = FALSE;
  f->config->connect_timeout_ms = 10000;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->pair.a)
    session_pair_clear (&f->pair);
  punch_config_free (f->config);
  punch_test_coturn_stop (f->coturn);
}

static void
add_turn (Fixture *f, const char *transport, const char *password)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri
      = g_strdup_printf ("turn:127.0.0.1:%u?transport=%s", f->coturn->port, transport);

  g_assert_true (punch_config_add_ice_server (f->config, uri, f->coturn->user, password, &error));
  g_assert_no_error (error);
}

static void
assert_relayed (PunchSession *s)
{
  const PunchPair *pair = punch_session_get_selected_pair (s);

  g_assert_nonnull (pair);
  g_assert_true (pair->relayed);
  g_assert_cmpint (pair->local->type, ==, PUNCH_CANDIDATE_RELAY);
}

static void
on_datagram (PunchSession *s, GBytes *bytes, gpointer user_data)
{
  GBytes **out = user_data;
  g_clear_pointer (out, g_bytes_unref);
  *out = g_bytes_ref (bytes);
}

static gboolean
got_bytes (gpointer data)
{
  return *(GBytes **)data != NULL;
}

static void
test_relay_only (Fixture *f, gconstpointer data)
{
  const char *transport = data;
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GError) error = NULL;

  if (f->coturn == NULL)
    return;
  add_turn (f, transport, f->coturn->pass);
  f->config->policy = PUNCH_POLICY_RELAY;
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  assert_relayed (f->pair.a);
  assert_relayed (f->pair.b);

  /* every candidate either side gathered is a relay candidate */
  for (guint i = 0; i < f->pair.a_candidates->len; i++)
    g_assert_nonnull (strstr (f->pair.a_candidates->pdata[i], "typ relay"));
  g_assert_cmpuint (f->pair.a_candidates->len, >, 0);

  g_signal_connect (f->pair.b, "datagram", G_CALLBACK (on_datagram), &got);
  g_assert_true (punch_session_send (f->pair.a, "through the relay", 17, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (got_bytes, &got, 5000));
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "through the relay", 17);
}

static gboolean
failed (gpointer data)
{
  return punch_session_get_state (data) == PUNCH_STATE_FAILED;
}

static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = NULL;
  const GError *e;
  gint64 start;

  if (f->coturn == NULL)
    return;
  add_turn (f, "udp", "not-the-password");
  f->config->policy = PUNCH_POLICY_RELAY;
  s = punch_session_new (f->config, &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  g_assert_true (punch_session_start (s, &error));
  g_assert_true (punch_test_wait (failed, s, 8000));
  e = punch_session_get_error (s);
  g_test_message ("failed after %" G_GINT64_FORMAT " ms: %s",
                  (g_get_monotonic_time () - start) / 1000, e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  g_assert_nonnull (strstr (e->message, "authentication failed"));
  /* promptly: well before the 10 s connect timeout */
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 5000);
}

/* relay-only, loopback host candidates, one TURN server */
static PunchConfig *
loopback_relay_config (const char *uri, const char *user, const char *pass)
{
  g_autoptr (GError) error = NULL;
  PunchConfig *config = punch_config_new ();

  g_assert_true (punch_config_add_ice_server (config, uri, user, pass, &error));
  g_assert_no_error (error);
  config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  config->ipv6 = FALSE;
  config->policy = PUNCH_POLICY_RELAY;
  config->connect_timeout_ms = 10000;
  return config;
}

static void
test_turns (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("punch-tls-XXXXXX", &error);
  g_autofree char *cert = NULL, *key = NULL, *uri = NULL;
  g_autoptr (PunchConfig) config = NULL;
  PunchTestCoturn *coturn;
  SessionPair pair;

  if (!punch_test_make_certificate (dir, &cert, &key))
    return;
  coturn = punch_test_coturn_start_tls (cert, key);
  if (coturn == NULL)
    return;

  /* the name is checked against the certificate, so use the name it carries */
  uri = g_strdup_printf ("turns:localhost:%u", coturn->tls_port);
  config = loopback_relay_config (uri, coturn->user, coturn->pass);
  config->tls_ca_file = g_strdup (cert);

  session_pair_init (&pair, config);
  session_pair_start (&pair);
  session_pair_wait_connected (&pair, 10000);
  assert_relayed (pair.a);
  assert_relayed (pair.b);
  session_pair_clear (&pair);
  punch_test_coturn_stop (coturn);
  punch_test_remove_dir (dir);
}

static void
test_unreachable (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = g_strdup_printf ("turn:127.0.0.1:%u", punch_test_free_port ());
  /* nothing listens there */
  g_autoptr (PunchConfig) config = loopback_relay_config (uri, "u", "p");
  g_autoptr (PunchSession) s = NULL;
  const GError *e;

  config->connect_timeout_ms = 15000;
  s = punch_session_new (config, &error);
  g_assert_no_error (error);
  g_assert_true (punch_session_start (s, &error));
  g_assert_true (punch_test_wait (failed, s, 14000));
  e = punch_session_get_error (s);
  g_test_message ("%s", e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (e->message, uri));
}

static void
test_turns_untrusted (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("punch-tls-XXXXXX", &error);
  g_autofree char *cert = NULL, *key = NULL, *uri = NULL;
  g_autoptr (PunchConfig) config = NULL;
  g_autoptr (PunchSession) s = NULL;
  PunchTestCoturn *coturn;
  const GError *e;

  if (!punch_test_make_certificate (dir, &cert, &key))
    return;
  coturn = punch_test_coturn_start_tls (cert, key);
  if (coturn == NULL)
    return;
  /* no tls_ca_file: the self-signed certificate is not trusted */
  uri = g_strdup_printf ("turns:localhost:%u", coturn->tls_port);
  config = loopback_relay_config (uri, coturn->user, coturn->pass);
  s = punch_session_new (config, &error);
  g_assert_no_error (error);
  g_assert_true (punch_session_start (s, &error));
  g_assert_true (punch_test_wait (failed, s, 10000));
  e = punch_session_get_error (s);
  g_test_message ("%s", e->message);
  g_assert_nonnull (strstr (e->message, "TLS failed"));
  g_clear_object (&s);
  punch_test_spin (50);
  punch_test_coturn_stop (coturn);
  punch_test_remove_dir (dir);
}

static char *
rest_password (const char *secret, const char *user)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *)secret, strlen (secret));
  guint8 digest[20];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *)user, strlen (user));
  g_hmac_get_digest (hmac, digest, &len);
  return g_base64_encode (digest, len);
}

/* coturn's TURN REST scheme, as punch-signal mints it: username
 * "<expiry>:<name>", password base64(HMAC-SHA1(secret, username)) */
static void
test_rest_credentials (void)
{
  const char *secret = "punch-rest-secret";
  PunchTestCoturn *coturn = punch_test_coturn_start (secret);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = NULL;
  g_autofree char *user = NULL, *pass = NULL, *uri = NULL;
  SessionPair pair;

  if (coturn == NULL)
    return;
  user = g_strdup_printf ("%" G_GINT64_FORMAT ":alice", g_get_real_time () / G_USEC_PER_SEC + 600);
  pass = rest_password (secret, user);

  uri = g_strdup_printf ("turn:127.0.0.1:%u", coturn->port);
  config = loopback_relay_config (uri, user, pass);
  session_pair_init (&pair, config);
  session_pair_start (&pair);
  session_pair_wait_connected (&pair, 10000);
  assert_relayed (pair.a);
  session_pair_clear (&pair);

  /* an expired REST username is refused, and said so */
  {
    g_autofree char *old_user = g_strdup ("1000:alice");
    g_autofree char *old_pass = rest_password (secret, old_user);
    g_autoptr (PunchConfig) expired = loopback_relay_config (uri, old_user, old_pass);
    g_autoptr (PunchSession) s = NULL;

    s = punch_session_new (expired, &error);
    g_assert_no_error (error);
    g_assert_true (punch_session_start (s, &error));
    g_assert_true (punch_test_wait (failed, s, 8000));
    g_test_message ("%s", punch_session_get_error (s)->message);
    g_assert_error ((GError *)punch_session_get_error (s), PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
    g_assert_nonnull (strstr (punch_session_get_error (s)->message, "REST username that expired"));
  }
  punch_test_coturn_stop (coturn);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/punch/turn/relay-only-udp", Fixture, "udp", fixture_setup, test_relay_only,
              fixture_teardown);
  g_test_add ("/punch/turn/relay-only-tcp", Fixture, "tcp", fixture_setup, test_relay_only,
              fixture_teardown);
  g_test_add_func ("/punch/turn/relay-only-turns", test_turns);
  g_test_add ("/punch/turn/wrong-password", Fixture, NULL, fixture_setup, test_wrong_password,
              fixture_teardown);
  g_test_add_func ("/punch/turn/unreachable", test_unreachable);
  g_test_add_func ("/punch/turn/rest-credentials", test_rest_credentials);
  g_test_add_func ("/punch/turn/turns-untrusted-certificate", test_turns_untrusted);
  return g_test_run ();
}
