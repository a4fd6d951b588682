/* test-session.c: two sessions connect over loopback host candidates
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>

#include "punch-test-util.h"
#include "session-pair.h"

#define DATAGRAM_SIZE 1024
#define DATAGRAM_TOTAL (1024 * 1024)
#define RELIABLE_TOTAL (16 * 1024 * 1024)

typedef struct
{
  SessionPair pair;
  PunchConfig *config;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->config = punch_config_new ();
  f->config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  f->config->ipv6 = FALSE;
  f->config->connect_timeout_ms = 10000;
  if (GPOINTER_TO_INT (data) == PUNCH_MODE_RELIABLE)
    f->config->mode = PUNCH_MODE_RELIABLE;
  if (GPOINTER_TO_INT (data) == -1) /* plaintext datagrams */
    f->config->security = PUNCH_SECURITY_NONE;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->pair.a)
    session_pair_clear (&f->pair);
  punch_config_free (f->config);
}

/* ---- datagrams ------------------------------------------------------------ */

typedef struct
{
  guint received;
  guint64 bytes;
  guint8 *seen; /* one flag per sequence number */
  guint n;
  gboolean corrupt;
} Receiver;

static void
fill (guint8 *buf, guint32 seq)
{
  memcpy (buf, &seq, 4);
  for (guint i = 4; i < DATAGRAM_SIZE; i++)
    buf[i] = (guint8)(seq * 31 + i);
}

static void
on_datagram (PunchSession *session, GBytes *bytes, gpointer user_data)
{
  Receiver *r = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 expect[DATAGRAM_SIZE];
  guint32 seq;

  if (len != DATAGRAM_SIZE)
    {
      r->corrupt = TRUE;
      return;
    }
  memcpy (&seq, data, 4);
  fill (expect, seq);
  if (seq >= r->n || memcmp (expect, data, len) != 0 || r->seen[seq])
    r->corrupt = TRUE;
  else
    r->seen[seq] = 1;
  r->received++;
  r->bytes += len;
}

typedef struct
{
  Receiver *r;
  guint target;
} Progress;

static gboolean
caught_up (gpointer data)
{
  Progress *p = data;
  return p->r->received >= p->target;
}

static void
test_datagram (Fixture *f, gconstpointer data)
{
  Receiver r = { 0 };
  const PunchPair *pair;
  PunchStats sa, sb;
  guint8 buf[DATAGRAM_SIZE];

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  pair = punch_session_get_selected_pair (f->pair.a);
  g_assert_nonnull (pair);
  g_assert_false (pair->relayed);
  g_assert_cmpint (pair->local->type, ==, PUNCH_CANDIDATE_HOST);
  g_assert_cmpstr (pair->local->address, ==, "127.0.0.1");
  g_assert_cmpint (pair->local->transport, ==, PUNCH_TRANSPORT_UDP);

  r.n = DATAGRAM_TOTAL / DATAGRAM_SIZE;
  r.seen = g_malloc0 (r.n);
  g_signal_connect (f->pair.b, "datagram", G_CALLBACK (on_datagram), &r);

  /* Paced: at most 32 datagrams in flight, so the socket buffer never
   * overflows and every loss would be a real one. */
  for (guint32 seq = 0; seq < r.n; seq++)
    {
      g_autoptr (GError) error = NULL;
      fill (buf, seq);
      g_assert_true (punch_session_send (f->pair.a, buf, sizeof buf, &error));
      g_assert_no_error (error);
      if (seq >= 32)
        {
          Progress p = { &r, seq - 32 };
          if (!punch_test_wait (caught_up, &p, 5000))
            g_error ("receiver stalled at %u of %u datagrams", r.received, seq);
        }
    }
  {
    Progress p = { &r, r.n };
    g_assert_true (punch_test_wait (caught_up, &p, 5000));
  }
  g_assert_false (r.corrupt);
  g_assert_cmpuint (r.received, ==, r.n);
  g_assert_cmpuint (r.bytes, ==, DATAGRAM_TOTAL);

  punch_session_get_stats (f->pair.a, &sa);
  punch_session_get_stats (f->pair.b, &sb);
  g_assert_cmpuint (sa.bytes_sent, ==, DATAGRAM_TOTAL);
  g_assert_cmpuint (sa.packets_sent, ==, r.n);
  g_assert_cmpuint (sb.bytes_received, ==, DATAGRAM_TOTAL);
  g_assert_cmpuint (sb.packets_received, ==, r.n);
  g_assert_cmpint (sa.time_to_connected_ms, >=, 0);
  g_free (r.seen);
}

/* ---- reliable stream ------------------------------------------------------ */

typedef struct
{
  GOutputStream *out;
  GInputStream *in;
  guint8 *send_buf;
  gsize sent;
  GChecksum *send_sum;
  GChecksum *recv_sum;
  guint8 recv_buf[64 * 1024];
  gsize received;
  GError *error;
  gboolean eof;
} Transfer;

static void write_more (Transfer *t);

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Transfer *t = user_data;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &t->error);

  if (n < 0)
    return;
  g_checksum_update (t->send_sum, t->send_buf + t->sent, n);
  t->sent += n;
  write_more (t);
}

static void
write_more (Transfer *t)
{
  gsize chunk = MIN (RELIABLE_TOTAL - t->sent, 32 * 1024);

  if (chunk == 0)
    return;
  g_output_stream_write_async (t->out, t->send_buf + t->sent, chunk, G_PRIORITY_DEFAULT, NULL,
                               on_written, t);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Transfer *t = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &t->error);

  if (n < 0)
    return;
  if (n == 0)
    {
      t->eof = TRUE;
      return;
    }
  g_checksum_update (t->recv_sum, t->recv_buf, n);
  t->received += n;
  if (t->received < RELIABLE_TOTAL)
    g_input_stream_read_async (t->in, t->recv_buf, sizeof t->recv_buf, G_PRIORITY_DEFAULT, NULL,
                               on_read, t);
}

static gboolean
transfer_done (gpointer data)
{
  Transfer *t = data;
  return t->error != NULL || t->eof || (t->received == RELIABLE_TOTAL && t->sent == RELIABLE_TOTAL);
}

static void
test_reliable (Fixture *f, gconstpointer data)
{
  Transfer t = { 0 };
  GIOStream *sa, *sb;
  GRand *rand = g_rand_new_with_seed (42);
  gint64 start;

  session_pair_init (&f->pair, f->config);
  sa = punch_session_get_io_stream (f->pair.a);
  sb = punch_session_get_io_stream (f->pair.b);
  g_assert_nonnull (sa);
  g_assert_nonnull (sb);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  t.send_buf = g_malloc (RELIABLE_TOTAL);
  for (gsize i = 0; i < RELIABLE_TOTAL / 4; i++)
    ((guint32 *)t.send_buf)[i] = g_rand_int (rand);
  g_rand_free (rand);
  t.out = g_io_stream_get_output_stream (sa);
  t.in = g_io_stream_get_input_stream (sb);
  t.send_sum = g_checksum_new (G_CHECKSUM_SHA256);
  t.recv_sum = g_checksum_new (G_CHECKSUM_SHA256);

  start = g_get_monotonic_time ();
  write_more (&t);
  g_input_stream_read_async (t.in, t.recv_buf, sizeof t.recv_buf, G_PRIORITY_DEFAULT, NULL, on_read,
                             &t);
  if (!punch_test_wait (transfer_done, &t, g_getenv ("PUNCH_UNDER_VALGRIND") ? 600000 : 120000))
    g_error ("reliable transfer stalled: sent %" G_GSIZE_FORMAT ", received %" G_GSIZE_FORMAT,
             t.sent, t.received);
  g_assert_no_error (t.error);
  g_assert_false (t.eof);
  g_assert_cmpuint (t.sent, ==, RELIABLE_TOTAL);
  g_assert_cmpuint (t.received, ==, RELIABLE_TOTAL);
  g_assert_cmpstr (g_checksum_get_string (t.send_sum), ==, g_checksum_get_string (t.recv_sum));
  g_test_message ("16 MiB over pseudo-TCP on loopback in %.2f s",
                  (g_get_monotonic_time () - start) / 1e6);

  g_checksum_free (t.send_sum);
  g_checksum_free (t.recv_sum);
  g_free (t.send_buf);
}

/* ---- bad input and failures ----------------------------------------------- */

static void
test_bad_remote_input (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = punch_session_new (f->config, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (strlen (punch_session_get_local_ufrag (s)), >=, 4);
  g_assert_cmpuint (strlen (punch_session_get_local_pwd (s)), >=, 22);

  g_assert_false (
      punch_session_add_remote_candidate (s, "candidate:1 1 UDP 1 not-an-ip 1 typ host", &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (punch_session_add_remote_candidate (s, "garbage", &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (
      punch_session_add_remote_candidate (s, "candidate:1 2 UDP 1 10.0.0.1 5 typ host", &error));
  g_assert_nonnull (strstr (error->message, "component"));
  g_clear_error (&error);

  g_assert_false (punch_session_set_remote_credentials (s, "a", "b", &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (punch_session_set_remote_credentials (s, punch_session_get_local_ufrag (s),
                                                        punch_session_get_local_pwd (s), &error));
  g_assert_nonnull (strstr (error->message, "echoed"));
  g_clear_error (&error);

  g_assert_false (punch_session_send (s, "x", 1, &error));
  g_assert_nonnull (strstr (error->message, "not connected"));
  g_clear_error (&error);

  g_assert_cmpint (punch_session_get_state (s), ==, PUNCH_STATE_NEW);
  g_assert_true (punch_session_start (s, &error));
  g_assert_false (punch_session_start (s, &error));
  g_assert_nonnull (strstr (error->message, "already started"));
}

static void
test_bad_config (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = NULL;

  f->config->policy = PUNCH_POLICY_RELAY;
  s = punch_session_new (f->config, &error);
  g_assert_null (s);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
}

static void
on_connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **out = user_data;
  g_assert_false (punch_session_connect_finish (PUNCH_SESSION (source), result, out));
  g_assert_nonnull (*out);
}

static gboolean
error_set (gpointer data)
{
  return *(GError **)data != NULL;
}

static void
test_timeout_without_peer (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = NULL;
  gint64 start = g_get_monotonic_time ();

  f->config->connect_timeout_ms = 1000;
  s = punch_session_new (f->config, &error);
  g_assert_no_error (error);
  punch_session_connect_async (s, NULL, on_connect_done, &error);
  g_assert_true (punch_test_wait (error_set, &error, 5000));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "never arrived"));
  g_assert_cmpint (punch_session_get_state (s), ==, PUNCH_STATE_FAILED);
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 3000);
}

static gboolean
both_failed (gpointer data)
{
  SessionPair *pair = data;
  return punch_session_get_state (pair->a) == PUNCH_STATE_FAILED
         && punch_session_get_state (pair->b) == PUNCH_STATE_FAILED;
}

static void
test_credentials_mismatch (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const GError *e;

  f->config->connect_timeout_ms = 8000;
  session_pair_init (&f->pair, f->config);
  /* Each side believes the other's password is something else, so every
   * check is refused. (With one side wrong, the other side's checks still
   * succeed: ICE authenticates each direction on its own.) */
  g_assert_true (punch_session_set_remote_credentials (
      f->pair.b, punch_session_get_local_ufrag (f->pair.a), "WrongPasswordWrongPassw0rd", &error));
  g_assert_true (punch_session_set_remote_credentials (
      f->pair.a, punch_session_get_local_ufrag (f->pair.b), "AlsoWrongAlsoWrongAlso0", &error));
  g_assert_no_error (error);
  session_pair_start (&f->pair);
  g_assert_true (punch_test_wait (both_failed, &f->pair, 12000));
  e = punch_session_get_error (f->pair.a);
  g_assert_nonnull (e);
  g_test_message ("a: %s", e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_RELAY_REQUIRED);
  g_assert_nonnull (strstr (e->message, "credentials do not match"));
  g_assert_nonnull (punch_session_get_error (f->pair.b));
  g_assert_null (punch_session_get_selected_pair (f->pair.a));
}

typedef struct
{
  gboolean done;
  gboolean ok;
  GError *error;
  GPtrArray *states; /* PunchState, from state-changed after the close */
} CloseWait;

static void
on_close_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseWait *w = user_data;

  w->ok = punch_session_close_finish (PUNCH_SESSION (source), result, &w->error);
  w->done = TRUE;
}

static void
on_connect_after_close (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseWait *w = user_data;

  w->ok = punch_session_connect_finish (PUNCH_SESSION (source), result, &w->error);
  w->done = TRUE;
}

static gboolean
close_waited (gpointer data)
{
  return ((CloseWait *)data)->done;
}

static void
on_state_after_close (PunchSession *session, guint state, CloseWait *w)
{
  g_ptr_array_add (w->states, GUINT_TO_POINTER (state));
}

/* A connected session closed: CLOSED at once and for good; nothing works on it. */
static void
test_close_is_final (Fixture *f, gconstpointer data)
{
  CloseWait w = { FALSE, FALSE, NULL, g_ptr_array_new () };
  g_autoptr (GError) error = NULL;

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  g_signal_connect (f->pair.a, "state-changed", G_CALLBACK (on_state_after_close), &w);

  punch_session_close_async (f->pair.a, NULL, on_close_done, &w);
  g_assert_cmpint (punch_session_get_state (f->pair.a), ==, PUNCH_STATE_CLOSED);
  g_assert_true (punch_test_wait (close_waited, &w, 5000));
  g_assert_no_error (w.error);
  g_assert_true (w.ok);

  /* nothing moves it out of CLOSED, and it said CLOSED exactly once */
  punch_test_spin (200);
  g_assert_cmpint (punch_session_get_state (f->pair.a), ==, PUNCH_STATE_CLOSED);
  g_assert_cmpuint (w.states->len, ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (w.states->pdata[0]), ==, PUNCH_STATE_CLOSED);

  /* no data goes out, and connecting again fails at once */
  g_assert_false (punch_session_send (f->pair.a, "late", 4, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED);
  w.done = FALSE;
  punch_session_connect_async (f->pair.a, NULL, on_connect_after_close, &w);
  g_assert_true (punch_test_wait (close_waited, &w, 1000));
  g_assert_false (w.ok);
  g_assert_error (w.error, PUNCH_ERROR, PUNCH_ERROR_CLOSED);
  g_clear_error (&w.error);

  g_signal_handlers_disconnect_by_data (f->pair.a, &w);
  g_clear_object (&f->pair.a); /* closed already: session_pair_clear() closes b only */
  session_pair_clear (&f->pair);
  g_ptr_array_unref (w.states);
}

typedef struct
{
  gboolean closed;
  gboolean eof;
  gsize received;
  GError *error;
  guint8 buf[4096];
  GInputStream *in;
} EofState;

static void
on_eof_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EofState *st = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &st->error);

  if (n < 0)
    return;
  if (n == 0)
    {
      st->eof = TRUE;
      return;
    }
  st->received += n;
  g_input_stream_read_async (st->in, st->buf, sizeof st->buf, G_PRIORITY_DEFAULT, NULL, on_eof_read,
                             st);
}

static gboolean
eof_seen (gpointer data)
{
  EofState *st = data;
  return st->eof || st->error;
}

/* Closing the writing side's output stream reaches the reader as end of
 * stream, after every byte: how `punch connect --reliable` ends a file. */
static void
test_reliable_eof (Fixture *f, gconstpointer data)
{
  EofState st = { 0 };
  g_autoptr (GError) error = NULL;
  GOutputStream *out;
  gsize written;

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  out = g_io_stream_get_output_stream (punch_session_get_io_stream (f->pair.a));
  st.in = g_io_stream_get_input_stream (punch_session_get_io_stream (f->pair.b));
  g_input_stream_read_async (st.in, st.buf, sizeof st.buf, G_PRIORITY_DEFAULT, NULL, on_eof_read,
                             &st);
  g_assert_true (g_output_stream_write_all (out, "hello, bob", 10, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (out, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (eof_seen, &st, 10000));
  g_assert_no_error (st.error);
  g_assert_true (st.eof);
  g_assert_cmpuint (st.received, ==, 10);
}

static gboolean
a_failed (gpointer data)
{
  return punch_session_get_state (((SessionPair *)data)->a) == PUNCH_STATE_FAILED;
}

static void
test_consent_lost (Fixture *f, gconstpointer data)
{
  const GError *e;
  gint64 gone;

  gboolean secure = f->config->security == PUNCH_SECURITY_QUIC;
  gdouble after;

  f->config->consent_timeout_ms = 5000;
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  /* b vanishes without a word: its agent and sockets go away */
  g_clear_object (&f->pair.b);
  gone = g_get_monotonic_time ();
  g_assert_true (punch_test_wait (a_failed, &f->pair, 45000));
  e = punch_session_get_error (f->pair.a);
  after = (g_get_monotonic_time () - gone) / 1e6;
  g_test_message ("a failed %.1f s after b vanished (%u restarts): %s", after, f->pair.a_restarts,
                  e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_PEER_GONE);
  if (secure)
    {
      /* silent for 2.5 s: a restarted ICE, b never answered; consent after 5 s */
      g_assert_cmpuint (f->pair.a_restarts, >=, 1);
      g_assert_nonnull (strstr (e->message, "never answered the ICE restart"));
      g_assert_cmpfloat (after, >=, 4.5);
    }
  else
    g_assert_nonnull (strstr (e->message, "consent lost")); /* libnice's own, 10 s */
}

/* The role can change while gathering, until the peer's credentials are set. */
static void
test_set_role (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_copy (f->config);
  g_autoptr (PunchSession) s = NULL;

  config->role = PUNCH_ROLE_CONTROLLED;
  s = punch_session_new (config, &error);
  g_assert_no_error (error);
  g_assert_true (punch_session_start (s, &error));
  g_assert_no_error (error);
  g_assert_false (punch_session_is_controlling (s));

  g_assert_true (punch_session_set_role (s, PUNCH_ROLE_CONTROLLING, &error));
  g_assert_no_error (error);
  g_assert_true (punch_session_is_controlling (s));

  g_assert_false (punch_session_set_role (s, PUNCH_ROLE_AUTO, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (punch_session_is_controlling (s));

  g_assert_true (
      punch_session_set_remote_credentials (s, "abcd", "0123456789abcdefghijkl", &error));
  g_assert_no_error (error);
  g_assert_false (punch_session_set_role (s, PUNCH_ROLE_CONTROLLED, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_true (punch_session_is_controlling (s));
}

typedef struct
{
  gboolean done;
  GError *error;
} ConnectResult;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ConnectResult *r = user_data;

  punch_session_connect_finish (PUNCH_SESSION (source), result, &r->error);
  r->done = TRUE;
}

static gboolean
connect_done (gpointer data)
{
  return ((ConnectResult *)data)->done;
}

/* A cancelled connect completes at once with G_IO_ERROR_CANCELLED, not at
 * the deadline (30 s here); the session itself goes on. */
static void
test_connect_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_copy (f->config);
  g_autoptr (PunchSession) s = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  ConnectResult r = { 0 };
  gint64 t0;

  config->connect_timeout_ms = 30000;
  s = punch_session_new (config, &error);
  g_assert_no_error (error);
  punch_session_connect_async (s, cancellable, on_connected, &r);
  punch_test_spin (100);
  g_assert_false (r.done);
  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  g_assert_true (punch_test_wait (connect_done, &r, 1000));
  g_test_message ("cancelled connect returned after %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - t0) / 1000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpint (punch_session_get_state (s), ==, PUNCH_STATE_GATHERING);
  /* a second connect without a cancellable still waits, and the close ends it */
  r.done = FALSE;
  punch_session_connect_async (s, NULL, on_connected, &r);
  punch_session_close_async (s, NULL, NULL, NULL);
  g_assert_true (punch_test_wait (connect_done, &r, 1000));
  g_assert_error (r.error, PUNCH_ERROR, PUNCH_ERROR_CLOSED);
  g_clear_error (&r.error);
}

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *)user_data)++;
}

/* state-changed carries a PunchState (a GType of its own), and the state and
 * the selected pair are properties that notify. */
static void
test_typed_state (Fixture *f, gconstpointer data)
{
  GSignalQuery query;
  guint state_notes = 0, pair_notes = 0;
  PunchState state;
  g_autoptr (PunchPair) pair = NULL;

  g_type_class_unref (g_type_class_ref (PUNCH_TYPE_SESSION));
  g_signal_query (g_signal_lookup ("state-changed", PUNCH_TYPE_SESSION), &query);
  g_assert_cmpuint (query.n_params, ==, 1);
  g_assert_true (query.param_types[0] == PUNCH_TYPE_STATE);

  session_pair_init (&f->pair, f->config);
  g_signal_connect (f->pair.a, "notify::state", G_CALLBACK (count_notify), &state_notes);
  g_signal_connect (f->pair.a, "notify::selected-pair", G_CALLBACK (count_notify), &pair_notes);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  g_object_get (f->pair.a, "state", &state, "selected-pair", &pair, NULL);
  g_assert_cmpint (state, ==, PUNCH_STATE_CONNECTED);
  g_assert_nonnull (pair);
  g_assert_cmpstr (pair->local->address, ==, "127.0.0.1");
  g_assert_cmpuint (state_notes, >=, 3); /* gathering, checking, connected */
  g_assert_cmpuint (pair_notes, >=, 1);
  g_signal_handlers_disconnect_by_data (f->pair.a, &state_notes);
  g_signal_handlers_disconnect_by_data (f->pair.a, &pair_notes);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn, mode) \
  g_test_add (path, Fixture, GINT_TO_POINTER (mode), fixture_setup, fn, fixture_teardown)
  ADD ("/punch/session/loopback-datagram", test_datagram, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/loopback-reliable", test_reliable, PUNCH_MODE_RELIABLE);
  ADD ("/punch/session/bad-remote-input", test_bad_remote_input, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/bad-config", test_bad_config, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/timeout-without-peer", test_timeout_without_peer, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/credentials-mismatch", test_credentials_mismatch, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/close", test_close_is_final, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/reliable-eof", test_reliable_eof, PUNCH_MODE_RELIABLE);
  ADD ("/punch/session/consent-lost", test_consent_lost, PUNCH_MODE_DATAGRAM);
  g_test_add ("/punch/session/consent-lost-plaintext", Fixture, GINT_TO_POINTER (-1), fixture_setup,
              test_consent_lost, fixture_teardown);
  ADD ("/punch/session/set-role", test_set_role, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/connect-cancel", test_connect_cancel, PUNCH_MODE_DATAGRAM);
  ADD ("/punch/session/typed-state", test_typed_state, PUNCH_MODE_DATAGRAM);
#undef ADD
  return g_test_run ();
}
