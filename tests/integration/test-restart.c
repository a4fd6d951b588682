/* test-restart.c: ICE restarts under a running transfer, the role on the
 * wire, and the errors that name a cause (loopback, real libnice both sides)
 *
 * The lab (tests/lab/recovery.sh) makes the real faults: NAT rebinding, a
 * TURN server restarted, loss, an address that goes away. Here the same
 * machinery runs where each step can be checked: a restart asked for in the
 * middle of a transfer must keep every byte and the one QUIC connection.
 *
 * SPDX-License-Identifier: MIT
 */
#include <punch.h>
#include "session-pair.h"
#include "punch-test-util.h"

#include <string.h>
#include <gio/gio.h>

#define TRANSFER (8 * 1024 * 1024)
#define CHUNK (64 * 1024)

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
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->pair.a)
    session_pair_clear (&f->pair);
  punch_config_free (f->config);
}

/* ---- a transfer on the default stream, a to b -------------------------------- */

typedef struct
{
  PunchSession *a;
  GOutputStream *out;
  GInputStream *in;
  guint8 *data; /* TRANSFER bytes of a known pattern */
  gsize written;
  gsize received;
  gsize restart_at; /* ask a for a restart once b has this much; 0: never */
  gboolean restarted;
  gboolean eof;
  gboolean mismatch;
  GError *error;
  guint8 buf[CHUNK];
  guint pair_changes_a;
  guint pair_changes_b;
} Transfer;

static void write_more (Transfer *t);

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Transfer *t = user_data;
  gsize n = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &t->error))
    return;
  t->written += n;
  write_more (t);
}

static void
on_out_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Transfer *t = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, t->error ? NULL : &t->error);
}

static void
write_more (Transfer *t)
{
  if (t->written >= TRANSFER)
    {
      g_output_stream_close_async (t->out, G_PRIORITY_DEFAULT, NULL, on_out_closed, t);
      return;
    }
  g_output_stream_write_all_async (t->out, t->data + t->written, MIN (CHUNK, TRANSFER - t->written),
                                   G_PRIORITY_DEFAULT, NULL, on_written, t);
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
  if (t->received + (gsize)n > TRANSFER || memcmp (t->buf, t->data + t->received, n) != 0)
    t->mismatch = TRUE;
  t->received += n;
  if (t->restart_at && !t->restarted && t->received >= t->restart_at)
    {
      g_autoptr (GError) error = NULL;
      t->restarted = TRUE;
      g_test_message ("restart asked for after %zu bytes", t->received);
      g_assert_true (punch_session_restart (t->a, &error));
      g_assert_no_error (error);
    }
  g_input_stream_read_async (t->in, t->buf, sizeof t->buf, G_PRIORITY_DEFAULT, NULL, on_read, t);
}

static gboolean
transfer_over (gpointer data)
{
  Transfer *t = data;
  return t->eof || t->error || t->mismatch;
}

static void
count_pair (PunchSession *session, PunchPair *pair, gpointer user_data)
{
  (*(guint *)user_data)++;
}

static void
transfer_start (Transfer *t, SessionPair *pair)
{
  t->a = pair->a;
  t->data = g_malloc (TRANSFER);
  for (gsize i = 0; i < TRANSFER; i++)
    t->data[i] = (guint8)(i * 7 + (i >> 13));
  t->out = g_io_stream_get_output_stream (punch_session_get_io_stream (pair->a));
  t->in = g_io_stream_get_input_stream (punch_session_get_io_stream (pair->b));
  g_signal_connect (pair->a, "selected-pair", G_CALLBACK (count_pair), &t->pair_changes_a);
  g_signal_connect (pair->b, "selected-pair", G_CALLBACK (count_pair), &t->pair_changes_b);
  g_input_stream_read_async (t->in, t->buf, sizeof t->buf, G_PRIORITY_DEFAULT, NULL, on_read, t);
  write_more (t);
}

static void
transfer_clear (Transfer *t, SessionPair *pair)
{
  g_signal_handlers_disconnect_by_data (pair->a, &t->pair_changes_a);
  g_signal_handlers_disconnect_by_data (pair->b, &t->pair_changes_b);
  g_free (t->data);
  g_clear_error (&t->error);
}

/* A restart in the middle of 8 MiB: every byte arrives once, in order, over
 * one QUIC connection (one handshake), and both sides announce the new pair. */
static void
test_requested_mid_transfer (Fixture *f, gconstpointer data)
{
  Transfer t = { 0 };
  PunchStats sa, sb;
  const char *old_ufrag;
  g_autofree char *ufrag_before = NULL;
  gint64 handshake_before;

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  ufrag_before = g_strdup (punch_session_get_local_ufrag (f->pair.a));
  punch_session_get_stats (f->pair.a, &sa);
  handshake_before = sa.handshake_ms;

  t.restart_at = TRANSFER / 4;
  transfer_start (&t, &f->pair);
  g_assert_true (punch_test_wait (transfer_over, &t, 30000));
  g_assert_no_error (t.error);
  g_assert_false (t.mismatch);
  g_assert_true (t.eof);
  g_assert_cmpuint (t.received, ==, TRANSFER);
  g_assert_true (t.restarted);

  punch_session_get_stats (f->pair.a, &sa);
  punch_session_get_stats (f->pair.b, &sb);
  g_test_message ("restarts a %u b %u; a's restart took %" G_GINT64_FORMAT " ms; pair changes a %u "
                  "b %u",
                  sa.restarts, sb.restarts, sa.last_restart_ms, t.pair_changes_a, t.pair_changes_b);
  g_assert_cmpuint (sa.restarts, ==, 1);
  g_assert_cmpuint (sb.restarts, ==, 1); /* b followed */
  g_assert_cmpuint (f->pair.a_restarts, ==, 1);
  g_assert_cmpint (sa.last_restart_ms, >=, 0);
  g_assert_cmpuint (t.pair_changes_a, >=, 1);
  g_assert_cmpuint (t.pair_changes_b, >=, 1);
  /* new credentials, the same QUIC connection */
  old_ufrag = punch_session_get_local_ufrag (f->pair.a);
  g_assert_cmpstr (old_ufrag, !=, ufrag_before);
  g_assert_cmpint (sa.handshake_ms, ==, handshake_before);
  g_assert_cmpint (punch_session_get_state (f->pair.a), ==, PUNCH_STATE_CONNECTED);
  g_assert_cmpint (punch_session_get_state (f->pair.b), ==, PUNCH_STATE_CONNECTED);
  transfer_clear (&t, &f->pair);
}

/* Both sides restart at once: each takes the other's new credentials for
 * its own run, no third restart follows, the transfer completes. */
static void
test_both_at_once (Fixture *f, gconstpointer data)
{
  Transfer t = { 0 };
  g_autoptr (GError) error = NULL;
  PunchStats sa, sb;

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  transfer_start (&t, &f->pair);
  /* b first, then a before b's credentials could reach it through a real
   * server: here they arrive at once, so a's own restart comes second */
  g_assert_true (punch_session_restart (f->pair.b, &error));
  g_assert_no_error (error);
  g_assert_true (punch_session_restart (f->pair.a, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (transfer_over, &t, 30000));
  g_assert_no_error (t.error);
  g_assert_false (t.mismatch);
  g_assert_cmpuint (t.received, ==, TRANSFER);
  punch_session_get_stats (f->pair.a, &sa);
  punch_session_get_stats (f->pair.b, &sb);
  g_test_message ("restarts a %u b %u", sa.restarts, sb.restarts);
  g_assert_cmpuint (sa.restarts, <=, 2);
  g_assert_cmpuint (sb.restarts, <=, 2);
  transfer_clear (&t, &f->pair);
}

static gboolean
a_failed (gpointer data)
{
  return punch_session_get_state (((SessionPair *)data)->a) == PUNCH_STATE_FAILED;
}

/* Signaling says the peer left, but its path works: nothing changes. Once
 * the peer is really gone, the session says peer-gone within about a
 * second, long before the consent timeout. */
static void
test_peer_left (Fixture *f, gconstpointer data)
{
  gint64 gone;
  const GError *e;
  gdouble after;

  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  punch_session_peer_left (f->pair.a);
  punch_test_spin (2000);
  g_assert_cmpint (punch_session_get_state (f->pair.a), ==, PUNCH_STATE_CONNECTED);

  g_clear_object (&f->pair.b);
  gone = g_get_monotonic_time ();
  g_assert_true (punch_test_wait (a_failed, &f->pair, 10000));
  after = (g_get_monotonic_time () - gone) / 1e6;
  e = punch_session_get_error (f->pair.a);
  g_test_message ("a failed %.2f s after b vanished: %s", after, e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_PEER_GONE);
  g_assert_cmpfloat (after, <, 3.5);
  g_assert_cmpuint (f->pair.a_restarts, ==, 0); /* no restart toward a peer that left */
}

static void
test_misuse (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = NULL;
  g_autoptr (PunchConfig) plain = punch_config_copy (f->config);

  s = punch_session_new (f->config, &error);
  g_assert_no_error (error);
  g_assert_false (punch_session_restart (s, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "connected"));
  g_clear_error (&error);
  g_clear_object (&s);

  plain->security = PUNCH_SECURITY_NONE;
  s = punch_session_new (plain, &error);
  g_assert_no_error (error);
  g_assert_false (punch_session_restart (s, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "secure"));
  g_clear_error (&error);

  plain->consent_timeout_ms = 10;
  g_assert_false (punch_config_validate (plain, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
}

/* ---- the role on the wire ------------------------------------------------------ */

static gboolean
wait_readable (gpointer data)
{
  return g_socket_condition_check (G_SOCKET (data), G_IO_IN) != 0;
}

/* The ICE-CONTROLLING (0x802A) or ICE-CONTROLLED (0x8029) attribute of a STUN
 * Binding request, or 0 when it carries neither. */
static guint16
role_attribute (const guint8 *buf, gssize len)
{
  gsize off = 20;

  if (len < 20 || buf[0] != 0x00 || buf[1] != 0x01)
    return 0;
  while (off + 4 <= (gsize)len)
    {
      guint16 type = (guint16)(buf[off] << 8 | buf[off + 1]);
      guint16 alen = (guint16)(buf[off + 2] << 8 | buf[off + 3]);
      if (type == 0x802A || type == 0x8029)
        return type;
      off += 4 + ((alen + 3u) & ~3u);
    }
  return 0;
}

/* The role a session's first connectivity check carries, read off a UDP
 * socket of the test's that poses as the peer's only candidate. */
static guint16
wire_role (const PunchConfig *config, PunchRole initial, PunchRole later)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) c = punch_config_copy (config);
  g_autoptr (PunchSession) s = NULL;
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) bind = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *line = NULL;
  guint8 buf[1500];
  guint16 role = 0;

  peer = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (peer, bind, TRUE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (peer, &error);
  g_assert_no_error (error);
  line = g_strdup_printf ("candidate:1 1 UDP 2130706431 127.0.0.1 %u typ host",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  c->role = initial;
  s = punch_session_new (c, &error);
  g_assert_no_error (error);
  g_assert_true (punch_session_start (s, &error));
  g_assert_no_error (error);
  punch_test_spin (100); /* gathering has begun */
  if (later != PUNCH_ROLE_AUTO)
    {
      g_assert_true (punch_session_set_role (s, later, &error));
      g_assert_no_error (error);
    }
  g_assert_true (
      punch_session_set_remote_credentials (s, "wire", "0123456789abcdefghijkl", &error));
  g_assert_no_error (error);
  g_assert_true (punch_session_add_remote_candidate (s, line, &error));
  g_assert_no_error (error);

  for (int i = 0; i < 10 && role == 0; i++)
    {
      gssize n;
      if (!punch_test_wait (wait_readable, peer, 3000))
        break;
      n = g_socket_receive (peer, (gchar *)buf, sizeof buf, NULL, &error);
      g_assert_no_error (error);
      role = role_attribute (buf, n);
    }
  punch_session_close_async (s, NULL, NULL, NULL);
  punch_test_spin (50);
  return role;
}

static void
test_role_on_wire (Fixture *f, gconstpointer data)
{
  /* set after gathering began, both ways: the checks carry the new role */
  g_assert_cmphex (wire_role (f->config, PUNCH_ROLE_CONTROLLING, PUNCH_ROLE_CONTROLLED), ==,
                   0x8029);
  g_assert_cmphex (wire_role (f->config, PUNCH_ROLE_CONTROLLED, PUNCH_ROLE_CONTROLLING), ==,
                   0x802A);
  /* and the control: set at creation */
  g_assert_cmphex (wire_role (f->config, PUNCH_ROLE_CONTROLLED, PUNCH_ROLE_AUTO), ==, 0x8029);
  g_assert_cmphex (wire_role (f->config, PUNCH_ROLE_CONTROLLING, PUNCH_ROLE_AUTO), ==, 0x802A);
}

/* ---- no usable local address ------------------------------------------------------ */

static gboolean
failed (gpointer data)
{
  return punch_session_get_state (PUNCH_SESSION (data)) == PUNCH_STATE_FAILED;
}

static void
test_no_address (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) c = punch_config_copy (f->config);
  g_autoptr (PunchSession) s = NULL;
  const GError *e;
  /* TEST-NET-2: documentation only, on no host; nothing is sent to it */
  const char *absent = "198.51.100.77";

  g_strfreev (c->local_addresses);
  c->local_addresses = g_strsplit (absent, ",", -1);
  s = punch_session_new (c, &error);
  g_assert_no_error (error);
  g_assert_true (punch_session_start (s, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (failed, s, 3000));
  e = punch_session_get_error (s);
  g_test_message ("%s", e->message);
  g_assert_error ((GError *)e, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESS);
  g_assert_nonnull (strstr (e->message, absent));
  g_assert_cmpstr (punch_error_code_to_string (e->code), ==, "no-address");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/punch/restart/requested-mid-transfer", test_requested_mid_transfer);
  ADD ("/punch/restart/both-at-once", test_both_at_once);
  ADD ("/punch/restart/peer-left", test_peer_left);
  ADD ("/punch/restart/misuse", test_misuse);
  ADD ("/punch/restart/role-on-wire", test_role_on_wire);
  ADD ("/punch/restart/no-address", test_no_address);
#undef ADD
  return g_test_run ();
}
