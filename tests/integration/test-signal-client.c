/* test-signal-client.c: PunchSignalClient against a real punch-signal on loopback
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch-signal.h>

#include "punch-test-util.h"
#include "test-signal-common.h"

#define SECRET "integration-test-secret-0123456789"
#define CAND1 "candidate:1 1 UDP 2130706431 127.0.0.1 40001 typ host"
#define CAND2 "candidate:2 1 UDP 2130706430 127.0.0.1 40002 typ host"

/* One client and what it has seen, as "event:detail" strings. */
typedef struct
{
  PunchSignalClient *client;
  GPtrArray *events;
} Peer;

typedef struct
{
  SignalServer *server;
  GPtrArray *peers; /* Peer* */
  char *dir;
} Fixture;

static void record (Peer *p, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
record (Peer *p, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (p->events, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
on_peer_joined (PunchSignalClient *c, const char *id, Peer *p)
{
  record (p, "peer-joined:%s", id);
}

static void
on_peer_left (PunchSignalClient *c, const char *id, Peer *p)
{
  record (p, "peer-left:%s", id);
}

static void
on_description (PunchSignalClient *c, const char *from, PunchDescription *desc, Peer *p)
{
  record (p, "description:%s:%s:%u:%d", from, desc->ufrag, desc->candidates->len,
          desc->end_of_candidates);
}

static void
on_candidate (PunchSignalClient *c, const char *from, const char *line, Peer *p)
{
  record (p, "candidate:%s:%s", from, line);
}

static void
on_eoc (PunchSignalClient *c, const char *from, Peer *p)
{
  record (p, "end-of-candidates:%s", from);
}

static void
on_bye (PunchSignalClient *c, const char *from, Peer *p)
{
  record (p, "bye:%s", from);
}

static void
on_server_error (PunchSignalClient *c, const char *code, const char *message, Peer *p)
{
  record (p, "server-error:%s", code);
}

static void
on_disconnected (PunchSignalClient *c, GError *error, gboolean again, Peer *p)
{
  record (p, "disconnected:%d", again);
}

static void
on_reconnected (PunchSignalClient *c, Peer *p)
{
  record (p, "reconnected:%s", punch_signal_client_get_id (c));
}

static Peer *
peer_new (Fixture *f, const char *url)
{
  g_autoptr (GError) error = NULL;
  Peer *p = g_new0 (Peer, 1);

  p->client = punch_signal_client_new (url ? url : f->server->url, &error);
  g_assert_no_error (error);
  p->events = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (p->client, "peer-joined", G_CALLBACK (on_peer_joined), p);
  g_signal_connect (p->client, "peer-left", G_CALLBACK (on_peer_left), p);
  g_signal_connect (p->client, "description", G_CALLBACK (on_description), p);
  g_signal_connect (p->client, "candidate", G_CALLBACK (on_candidate), p);
  g_signal_connect (p->client, "end-of-candidates", G_CALLBACK (on_eoc), p);
  g_signal_connect (p->client, "bye", G_CALLBACK (on_bye), p);
  g_signal_connect (p->client, "server-error", G_CALLBACK (on_server_error), p);
  g_signal_connect (p->client, "disconnected", G_CALLBACK (on_disconnected), p);
  g_signal_connect (p->client, "reconnected", G_CALLBACK (on_reconnected), p);
  g_ptr_array_add (f->peers, p);
  return p;
}

static void
peer_free (Peer *p)
{
  punch_signal_client_close (p->client);
  g_object_unref (p->client);
  g_ptr_array_unref (p->events);
  g_free (p);
}

/* A peer joined to @room, or the test fails. */
static Peer *
peer_join (Fixture *f, const char *room)
{
  Peer *p = peer_new (f, NULL);
  g_autofree char *token = f->server->secret ? signal_server_token (f->server, room, 60) : NULL;
  g_autoptr (GError) error = signal_join (p->client, room, token);

  g_assert_no_error (error);
  g_assert_true (punch_signal_client_is_joined (p->client));
  return p;
}

typedef struct
{
  Peer *peer;
  const char *event;
  gboolean prefix;
} Expect;

static gboolean
has_event (gpointer data)
{
  Expect *e = data;

  for (guint i = 0; i < e->peer->events->len; i++)
    if (e->prefix ? g_str_has_prefix (e->peer->events->pdata[i], e->event)
                  : strcmp (e->peer->events->pdata[i], e->event) == 0)
      return TRUE;
  return FALSE;
}

static void expect_event (Peer *p, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
expect_event (Peer *p, const char *format, ...)
{
  va_list args;
  g_autofree char *event = NULL;
  Expect e = { p, NULL, FALSE };

  va_start (args, format);
  event = g_strdup_vprintf (format, args);
  va_end (args);
  e.event = event;
  if (g_str_has_suffix (event, "*"))
    {
      event[strlen (event) - 1] = '\0';
      e.prefix = TRUE;
    }
  if (!punch_test_wait (has_event, &e, 10000))
    {
      g_autofree char *seen = NULL;
      g_ptr_array_add (p->events, NULL);
      seen = g_strjoinv (", ", (char **)p->events->pdata);
      g_error ("no event \"%s\"; seen: %s", event, seen);
    }
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const char *secret = data;

  f->server = signal_server_start (secret, NULL, NULL);
  f->peers = g_ptr_array_new_with_free_func ((GDestroyNotify)peer_free);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_ptr_array_unref (f->peers);
  punch_test_spin (20);
  signal_server_stop (f->server);
  if (f->dir)
    punch_test_remove_dir (f->dir);
  g_free (f->dir);
}

/* ---- tests ---- */

static void
test_join_and_relay (Fixture *f, gconstpointer data)
{
  Peer *a = peer_join (f, "relay");
  Peer *b;
  const char *a_id, *b_id;
  g_autoptr (PunchDescription) desc = punch_description_new ("ufragB", "pwdB0123456789abcdefghij");
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;

  a_id = punch_signal_client_get_id (a->client);
  g_assert_nonnull (a_id);
  g_assert_null (punch_signal_client_get_peers (a->client)[0]);
  g_assert_cmpint (punch_signal_client_get_role (a->client), ==, PUNCH_ROLE_CONTROLLED);

  b = peer_join (f, "relay");
  b_id = punch_signal_client_get_id (b->client);
  g_assert_cmpstr (b_id, !=, a_id);
  g_assert_cmpstr (punch_signal_client_get_peers (b->client)[0], ==, a_id);
  g_assert_null (punch_signal_client_get_peers (b->client)[1]);
  g_assert_cmpint (punch_signal_client_get_role (b->client), ==, PUNCH_ROLE_CONTROLLING);
  expect_event (a, "peer-joined:%s", b_id);
  g_assert_cmpstr (punch_signal_client_get_peers (a->client)[0], ==, b_id);

  /* every relayed type, both ways, `from` stamped by the server */
  g_ptr_array_add (desc->candidates, punch_candidate_parse (CAND1, &error));
  g_assert_no_error (error);
  g_assert_true (punch_signal_client_send_description (b->client, NULL, desc, &error));
  g_assert_no_error (error);
  expect_event (a, "description:%s:ufragB:1:0", b_id);
  g_assert_true (punch_signal_client_send_candidate (a->client, b_id, "a=" CAND2, &error));
  expect_event (b, "candidate:%s:%s", a_id, CAND2);
  g_assert_true (punch_signal_client_send_end_of_candidates (a->client, NULL, &error));
  expect_event (b, "end-of-candidates:%s", a_id);
  g_assert_true (punch_signal_client_send_bye (b->client, a_id, &error));
  expect_event (a, "bye:%s", b_id);
  g_assert_no_error (error);

  /* a message to nobody in the room is refused, the connection stays */
  g_assert_true (punch_signal_client_send_candidate (a->client, "nobody", CAND1, &error));
  expect_event (a, "server-error:unknown-peer");
  g_assert_true (punch_signal_client_is_joined (a->client));

  punch_signal_client_close (b->client);
  expect_event (a, "peer-left:%s", b_id);
  g_assert_null (punch_signal_client_get_peers (a->client)[0]);
  g_assert_false (punch_signal_client_send_bye (b->client, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_SIGNALING);

  /* one log line per join and leave */
  log = signal_server_log (f->server);
  g_assert_nonnull (strstr (log, "join room=relay peer="));
  g_assert_nonnull (strstr (log, "leave room=relay peer="));
  g_assert_nonnull (strstr (log, "code=unknown-peer"));
}

static void
test_tokens (Fixture *f, gconstpointer data)
{
  g_autofree char *good = signal_server_token (f->server, "vault", 60);
  g_autofree char *expired = signal_server_token (f->server, "vault", -1);
  g_autofree char *other_room = signal_server_token (f->server, "elsewhere", 60);
  g_autofree char *forged = g_strdup (good);
  struct
  {
    const char *token;
    const char *code;
  } bad[] = {
    { NULL, "bad-token" },
    { forged, "bad-token" },
    { expired, "token-expired" },
    { other_room, "wrong-room" },
  };
  Peer *ok;

  forged[strlen (forged) - 2] ^= 1; /* flip a bit of the MAC */
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      Peer *p = peer_new (f, NULL);
      g_autoptr (GError) error = signal_join (p->client, "vault", bad[i].token);
      g_autofree char *paren = g_strdup_printf ("(%s)", bad[i].code);

      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
      g_assert_nonnull (strstr (error->message, paren));
      g_assert_false (punch_signal_client_is_joined (p->client));
    }
  ok = peer_join (f, "vault");
  g_assert_true (punch_signal_client_is_joined (ok->client));
}

static void
test_room_full (Fixture *f, gconstpointer data)
{
  Peer *third;
  g_autoptr (GError) error = NULL;

  peer_join (f, "full");
  peer_join (f, "full");
  third = peer_new (f, NULL);
  error = signal_join (third->client, "full", NULL);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_SIGNALING);
  g_assert_nonnull (strstr (error->message, "(room-full)"));
  /* another room is not full */
  peer_join (f, "not-full");
}

static void
test_rooms_isolated (Fixture *f, gconstpointer data)
{
  Peer *a1 = peer_join (f, "room-a");
  Peer *a2 = peer_join (f, "room-a");
  Peer *b1 = peer_join (f, "room-b");
  Peer *b2 = peer_join (f, "room-b");
  const char *b1_id = punch_signal_client_get_id (b1->client);
  g_autoptr (GError) error = NULL;

  /* naming a peer of another room reaches nobody */
  g_assert_true (punch_signal_client_send_candidate (a1->client, b1_id, CAND1, &error));
  expect_event (a1, "server-error:unknown-peer");
  /* a broadcast stays in the room */
  g_assert_true (punch_signal_client_send_candidate (a1->client, NULL, CAND2, &error));
  expect_event (a2, "candidate:%s:%s", punch_signal_client_get_id (a1->client), CAND2);
  g_assert_no_error (error);
  punch_test_spin (200);
  for (guint i = 0; i < b1->events->len; i++)
    g_assert_false (g_str_has_prefix (b1->events->pdata[i], "candidate:"));
  for (guint i = 0; i < b2->events->len; i++)
    g_assert_false (g_str_has_prefix (b2->events->pdata[i], "candidate:"));
}

static void
test_unreachable (Fixture *f, gconstpointer data)
{
  guint16 port = punch_test_free_port ();
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  Peer *p = peer_new (f, url);
  g_autoptr (GError) error = signal_join (p->client, "x", NULL);
  g_autoptr (GError) bad = NULL;
  g_autoptr (PunchSignalClient) none = punch_signal_client_new ("http://127.0.0.1/ws", &bad);

  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (error->message, url));
  g_assert_null (none);
  g_assert_error (bad, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
}

typedef struct
{
  gboolean done;
  GError *error;
} Outcome;

static void
on_join_cancelled (GObject *source, GAsyncResult *result, gpointer data)
{
  Outcome *o = data;

  g_assert_false (
      punch_signal_client_join_finish (PUNCH_SIGNAL_CLIENT (source), result, &o->error));
  o->done = TRUE;
}

static gboolean
outcome_done (gpointer data)
{
  return ((Outcome *)data)->done;
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  Peer *p = peer_new (f, NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  Outcome o = { FALSE, NULL };
  Peer *other;

  g_cancellable_cancel (cancellable);
  punch_signal_client_join_async (p->client, "c", NULL, cancellable, on_join_cancelled, &o);
  g_assert_true (punch_test_wait (outcome_done, &o, 5000));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&o.error);
  g_assert_false (punch_signal_client_is_joined (p->client));

  /* the same client can join afterwards, and nobody saw the cancelled one */
  other = peer_join (f, "c");
  error = signal_join (p->client, "c", NULL);
  g_assert_no_error (error);
  expect_event (other, "peer-joined:%s", punch_signal_client_get_id (p->client));
  g_assert_cmpuint (other->events->len, ==, 1);
}

/* The client's header says it lives on the caller's thread-default context.
 * Run one on a private context while the global default context is never
 * iterated: the join's cancellation (an idle), the reconnect backoff (a
 * timeout) and everything else must still happen. */
static void
test_private_context (Fixture *f, gconstpointer data)
{
  GMainContext *global = g_main_context_default ();
  GMainContext *ctx = g_main_context_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Outcome o = { FALSE, NULL };
  Peer *p, *a, *b;

  while (g_main_context_iteration (global, FALSE))
    ; /* what earlier tests left there */
  g_main_context_push_thread_default (ctx);

  /* a cancelled join completes, through the client's own idle */
  p = peer_new (f, NULL);
  g_cancellable_cancel (cancellable);
  punch_signal_client_join_async (p->client, "private", NULL, cancellable, on_join_cancelled, &o);
  g_assert_true (punch_test_wait (outcome_done, &o, 5000));
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&o.error);
  punch_test_spin (100);
  g_assert_false (punch_signal_client_is_joined (p->client));

  /* two peers meet; after the server restarts, the backoff timer brings them back */
  a = peer_join (f, "private");
  b = peer_join (f, "private");
  expect_event (a, "peer-joined:%s", punch_signal_client_get_id (b->client));
  signal_server_kill (f->server);
  expect_event (a, "disconnected:1");
  expect_event (b, "disconnected:1");
  signal_server_restart (f->server, NULL);
  expect_event (a, "reconnected:*");
  expect_event (b, "reconnected:*");
  g_assert_true (punch_signal_client_is_joined (a->client));

  /* nothing of theirs is waiting on the global context */
  g_assert_false (g_main_context_pending (global));

  g_ptr_array_set_size (f->peers, 0);
  punch_test_spin (50);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

static void
test_reconnect (Fixture *f, gconstpointer data)
{
  Peer *a = peer_join (f, "phoenix");
  Peer *b = peer_join (f, "phoenix");
  g_autofree char *old_id = g_strdup (punch_signal_client_get_id (a->client));

  signal_server_kill (f->server);
  expect_event (a, "disconnected:1");
  expect_event (b, "disconnected:1");
  g_assert_false (punch_signal_client_is_joined (a->client));
  signal_server_restart (f->server, NULL);
  expect_event (a, "reconnected:*");
  expect_event (b, "reconnected:*");
  g_assert_true (punch_signal_client_is_joined (a->client));
  g_assert_cmpstr (punch_signal_client_get_id (a->client), !=, old_id);
  /* the role is the one decided at the first join */
  g_assert_cmpint (punch_signal_client_get_role (a->client), ==, PUNCH_ROLE_CONTROLLED);
}

static void
test_turn_credentials (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *turn_secret_file = NULL;
  const char *extra[] = { "--turn-secret-file",  NULL,         "--turn-uri",
                          "stun:127.0.0.1:3478", "--turn-uri", "turn:127.0.0.1:3478?transport=tcp",
                          "--turn-ttl",          "600",        NULL };
  Peer *p;
  GPtrArray *servers;
  PunchIceServer *turn;
  g_autoptr (GBytes) secret = g_bytes_new_static ("coturn-shared", 13);
  g_autofree char *expected_password = NULL;
  g_autofree char *expected_user = NULL;
  g_autoptr (PunchConfig) config = punch_config_new ();
  gint64 expiry;

  signal_server_stop (f->server);
  f->dir = g_dir_make_tmp ("punch-signal-turn-XXXXXX", &error);
  turn_secret_file = g_build_filename (f->dir, "turn.secret", NULL);
  g_assert_true (g_file_set_contents (turn_secret_file, "coturn-shared\n", -1, &error));
  extra[1] = turn_secret_file;
  f->server = signal_server_start (NULL, NULL, extra);

  p = peer_join (f, "turn");
  servers = punch_signal_client_get_ice_servers (p->client);
  g_assert_cmpuint (servers->len, ==, 2);
  g_assert_cmpint (((PunchIceServer *)servers->pdata[0])->kind, ==, PUNCH_ICE_SERVER_STUN);
  g_assert_null (((PunchIceServer *)servers->pdata[0])->username);
  turn = servers->pdata[1];
  g_assert_cmpint (turn->kind, ==, PUNCH_ICE_SERVER_TURN);
  g_assert_cmpint (turn->transport, ==, PUNCH_TRANSPORT_TCP);
  /* "<expiry>:<peer id>", base64(HMAC-SHA1(secret, username)) */
  g_assert_true (g_str_has_suffix (turn->username, punch_signal_client_get_id (p->client)));
  expiry = g_ascii_strtoll (turn->username, NULL, 10);
  g_assert_cmpint (ABS (expiry - (g_get_real_time () / G_USEC_PER_SEC + 600)), <=, 5);
  expected_user = punch_signal_turn_credentials (secret, punch_signal_client_get_id (p->client),
                                                 expiry, &expected_password);
  g_assert_cmpstr (turn->username, ==, expected_user);
  g_assert_cmpstr (turn->credential, ==, expected_password);

  g_assert_true (punch_signal_client_apply_to_config (p->client, config, &error));
  g_assert_no_error (error);
  g_assert_cmpint (config->role, ==, PUNCH_ROLE_CONTROLLED);
  g_assert_cmpuint (config->ice_servers->len, ==, 2);
  g_assert_cmpstr (((PunchIceServer *)config->ice_servers->pdata[1])->credential, ==,
                   expected_password);
}

static void
test_wss (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cert = NULL, *key = NULL;
  const char *extra[] = { "--tls-cert", NULL, "--tls-key", NULL, NULL };
  Peer *trusting, *strict, *lax;

  signal_server_stop (f->server);
  f->server = NULL;
  f->dir = g_dir_make_tmp ("punch-signal-wss-XXXXXX", &error);
  if (!punch_test_make_certificate (f->dir, &cert, &key))
    return;
  extra[1] = cert;
  extra[3] = key;
  f->server = signal_server_start (NULL, NULL, extra);
  g_assert_true (g_str_has_prefix (f->server->url, "wss://127.0.0.1:"));

  /* the self-signed certificate as the CA */
  trusting = peer_new (f, NULL);
  punch_signal_client_set_tls_ca_file (trusting->client, cert);
  g_clear_error (&error);
  error = signal_join (trusting->client, "tls", NULL);
  g_assert_no_error (error);

  /* the system's CAs do not know it */
  strict = peer_new (f, NULL);
  error = signal_join (strict->client, "tls", NULL);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_clear_error (&error);

  /* unless told to accept anything */
  lax = peer_new (f, NULL);
  punch_signal_client_set_accept_invalid_certificate (lax->client, TRUE);
  error = signal_join (lax->client, "tls", NULL);
  g_assert_no_error (error);
  expect_event (trusting, "peer-joined:%s", punch_signal_client_get_id (lax->client));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, secret, fn) \
  g_test_add (path, Fixture, secret, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/signal/client/join-and-relay", NULL, test_join_and_relay);
  ADD ("/punch/signal/client/tokens", SECRET, test_tokens);
  ADD ("/punch/signal/client/room-full", NULL, test_room_full);
  ADD ("/punch/signal/client/rooms-isolated", NULL, test_rooms_isolated);
  ADD ("/punch/signal/client/unreachable", NULL, test_unreachable);
  ADD ("/punch/signal/client/cancel", NULL, test_cancel);
  ADD ("/punch/signal/client/reconnect", NULL, test_reconnect);
  ADD ("/punch/signal/client/private-context", NULL, test_private_context);
  ADD ("/punch/signal/client/turn-credentials", NULL, test_turn_credentials);
  ADD ("/punch/signal/client/wss", NULL, test_wss);
#undef ADD
  return g_test_run ();
}
