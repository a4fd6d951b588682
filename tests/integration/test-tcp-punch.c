/* test-tcp-punch.c: punch_tcp_punch_async() on loopback: two sides at once
 * (simultaneous open or listener), data both ways; a plain listener; a peer
 * that only connects to us; strays from another IP; a peer that refuses
 * every SYN (retries on schedule, then UNREACHABLE); one that drops them
 * (TIMEOUT); cancellation. The NAT cases are in tests/lab/tcp-punch.sh.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>
#include "punch-tcp-punch-private.h"
#include "punch-tcp-socket-private.h"
#include "punch-test-util.h"

typedef struct
{
  GSocketConnection *conn;
  PunchTcpPunchStats stats;
  GError *error;
  gboolean done;
} Side;

typedef struct
{
  GMainContext *context;
  Side side[2];
  GPtrArray *keep; /* objects to drop at the end */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->keep = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 2; i++)
    {
      g_clear_object (&f->side[i].conn);
      g_clear_error (&f->side[i].error);
    }
  g_ptr_array_unref (f->keep);
  punch_test_spin (50);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Side *s = user_data;

  s->conn = punch_tcp_punch_finish (result, &s->stats, &s->error);
  s->done = TRUE;
}

static gboolean
both_done (gpointer user_data)
{
  Fixture *f = user_data;
  return f->side[0].done && f->side[1].done;
}

static gboolean
first_done (gpointer user_data)
{
  return ((Fixture *)user_data)->side[0].done;
}

static void
peer_at (PunchStunAddress *a, const char *ip, guint16 port)
{
  g_autofree char *text = g_strdup_printf ("%s:%u", ip, port);
  g_assert_true (punch_stun_address_parse (text, a));
}

static void
start (Fixture *f, guint i, guint16 port, const PunchStunAddress *peer, guint interval_ms,
       guint window_ms, GCancellable *cancel)
{
  punch_tcp_punch_async (port, peer, interval_ms, window_ms, cancel, on_done, &f->side[i]);
  g_assert_false (f->side[i].done);
}

/* Writes @n pattern bytes on @out (thread: the test's; the socket buffers are big enough on
 * loopback only when the reader reads, so alternate in chunks). */
static void
exchange (GSocketConnection *a, GSocketConnection *b, gsize n)
{
  g_autofree guint8 *sent_a = g_malloc (n);
  g_autofree guint8 *sent_b = g_malloc (n);
  g_autofree guint8 *got_a = g_malloc (n);
  g_autofree guint8 *got_b = g_malloc (n);
  GOutputStream *out_a = g_io_stream_get_output_stream (G_IO_STREAM (a));
  GOutputStream *out_b = g_io_stream_get_output_stream (G_IO_STREAM (b));
  GInputStream *in_a = g_io_stream_get_input_stream (G_IO_STREAM (a));
  GInputStream *in_b = g_io_stream_get_input_stream (G_IO_STREAM (b));
  const gsize chunk = 4096;
  g_autoptr (GError) error = NULL;
  gsize bytes;

  for (gsize i = 0; i < n; i++)
    {
      sent_a[i] = (guint8)(i * 7 + 1);
      sent_b[i] = (guint8)(i * 13 + 5);
    }
  for (gsize off = 0; off < n; off += chunk)
    {
      gsize len = MIN (chunk, n - off);

      g_assert_true (g_output_stream_write_all (out_a, sent_a + off, len, &bytes, NULL, &error));
      g_assert_true (g_output_stream_write_all (out_b, sent_b + off, len, &bytes, NULL, &error));
      g_assert_true (g_input_stream_read_all (in_b, got_b + off, len, &bytes, NULL, &error));
      g_assert_cmpuint (bytes, ==, len);
      g_assert_true (g_input_stream_read_all (in_a, got_a + off, len, &bytes, NULL, &error));
      g_assert_cmpuint (bytes, ==, len);
    }
  g_assert_no_error (error);
  g_assert_cmpmem (got_b, n, sent_a, n);
  g_assert_cmpmem (got_a, n, sent_b, n);
}

static guint16
local_port_of (GSocketConnection *c)
{
  g_autoptr (GSocketAddress) sa = g_socket_connection_get_local_address (c, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
}

static guint16
remote_port_of (GSocketConnection *c)
{
  g_autoptr (GSocketAddress) sa = g_socket_connection_get_remote_address (c, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
}

/* Both sides at once, each toward the other's port: one connection, data both ways. */
static void
test_both_sides (Fixture *f, gconstpointer data)
{
  guint16 pa = punch_test_free_port (), pb = punch_test_free_port ();
  PunchStunAddress to_a, to_b;

  peer_at (&to_b, "127.0.0.1", pb);
  peer_at (&to_a, "127.0.0.1", pa);
  start (f, 0, pa, &to_b, 50, 3000, NULL);
  start (f, 1, pb, &to_a, 50, 3000, NULL);
  g_assert_true (punch_test_wait (both_done, f, 5000));
  for (guint i = 0; i < 2; i++)
    {
      Side *s = &f->side[i];

      g_assert_no_error (s->error);
      g_assert_nonnull (s->conn);
      g_assert_cmpint (s->stats.way, !=, PUNCH_TCP_PUNCH_NONE);
      g_assert_cmpuint (s->stats.attempts, >=, 1);
      g_assert_cmpfloat (s->stats.elapsed_ms, <, 3000);
      g_assert_cmpuint (s->stats.local.port, ==, i == 0 ? pa : pb);
      g_assert_cmpuint (s->stats.peer.port, ==, i == 0 ? pb : pa);
      g_test_message ("side %u: %s after %u attempts, %.1f ms", i,
                      punch_tcp_punch_way_to_string (s->stats.way), s->stats.attempts,
                      s->stats.elapsed_ms);
    }
  /* the one connection, seen from both ends */
  g_assert_cmpuint (local_port_of (f->side[0].conn), ==, pa);
  g_assert_cmpuint (remote_port_of (f->side[0].conn), ==, pb);
  g_assert_cmpuint (local_port_of (f->side[1].conn), ==, pb);
  g_assert_cmpuint (remote_port_of (f->side[1].conn), ==, pa);
  exchange (f->side[0].conn, f->side[1].conn, 256 * 1024);
}

/* A peer that simply listens: our connect() wins. */
static void
test_plain_listener (Fixture *f, gconstpointer data)
{
  guint16 pa = punch_test_free_port (), pl = punch_test_free_port ();
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSocketConnection) other = NULL;
  g_autoptr (GError) error = NULL;
  PunchStunAddress to;

  g_socket_listener_add_inet_port (listener, pl, NULL, &error);
  g_assert_no_error (error);
  peer_at (&to, "127.0.0.1", pl);
  start (f, 0, pa, &to, 50, 2000, NULL);
  g_assert_true (punch_test_wait (first_done, f, 3000));
  g_assert_no_error (f->side[0].error);
  g_assert_cmpint (f->side[0].stats.way, ==, PUNCH_TCP_PUNCH_CONNECTED);
  other = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (remote_port_of (other), ==, pa);
  exchange (f->side[0].conn, other, 16 * 1024);
}

/* A peer that only connects to us (from the peer's IP, any port): our listener wins, while our
 * own attempts toward the peer's advertised port are refused; a connection from another IP
 * first is a stray and is closed. */
static void
test_accepted (Fixture *f, gconstpointer data)
{
  guint16 pa = punch_test_free_port ();
  PunchStunAddress to, ours;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) stray_client = g_socket_client_new ();
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) stray = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GInetAddress) two = g_inet_address_new_from_string ("127.0.0.2");
  g_autoptr (GSocketAddress) from_two = g_inet_socket_address_new (two, 0);
  g_autoptr (GSocketAddress) dest = NULL;

  peer_at (&to, "127.0.0.1", punch_test_free_port ()); /* nothing listens there */
  peer_at (&ours, "127.0.0.1", pa);
  dest = punch_tcp_socket_address (&ours);
  start (f, 0, pa, &to, 50, 3000, NULL);
  punch_test_spin (120); /* a few refused attempts */

  g_socket_client_set_local_address (stray_client, from_two);
  stray = g_socket_client_connect (stray_client, G_SOCKET_CONNECTABLE (dest), NULL, &error);
  g_assert_no_error (error);
  punch_test_spin (50);
  g_assert_false (f->side[0].done);

  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (dest), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (first_done, f, 3000));
  g_assert_no_error (f->side[0].error);
  g_assert_cmpint (f->side[0].stats.way, ==, PUNCH_TCP_PUNCH_ACCEPTED);
  g_assert_cmpuint (f->side[0].stats.strays, ==, 1);
  g_assert_cmpuint (f->side[0].stats.refused, >=, 1);
  g_assert_cmpuint (f->side[0].stats.peer.port, ==, local_port_of (conn));
  exchange (f->side[0].conn, conn, 16 * 1024);
}

/* Every SYN answered with an RST: one attempt per interval, then UNREACHABLE. */
static void
test_refused (Fixture *f, gconstpointer data)
{
  PunchStunAddress to;
  gint64 start_time = g_get_monotonic_time ();
  double took_ms;

  peer_at (&to, "127.0.0.1", punch_test_free_port ());
  start (f, 0, punch_test_free_port (), &to, 50, 600, NULL);
  g_assert_true (punch_test_wait (first_done, f, 3000));
  took_ms = (g_get_monotonic_time () - start_time) / 1000.0;
  g_assert_null (f->side[0].conn);
  g_assert_error (f->side[0].error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (f->side[0].error->message, "within 600 ms"));
  g_assert_nonnull (strstr (f->side[0].error->message, "refused (RST)"));
  /* the schedule: the first at once, then one per 50 ms tick, for 600 ms */
  g_assert_cmpuint (f->side[0].stats.attempts, >=, 6);
  g_assert_cmpuint (f->side[0].stats.attempts, <=, 13);
  g_assert_cmpuint (f->side[0].stats.refused, ==, f->side[0].stats.attempts);
  g_assert_cmpfloat (took_ms, >=, 590);
  g_assert_cmpfloat (took_ms, <, 1500);
}

/* A peer whose SYNs vanish (a listener whose accept queue is full drops them): TIMEOUT, and
 * unanswered attempts are made again every PUNCH_TCP_PUNCH_RESEND_INTERVALS intervals. */
static void
test_dropped (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GSocket *full = punch_tcp_socket_new_bound (4, 0, NULL, &error);
  PunchStunAddress bound, to;
  g_autoptr (GSocket) filler = NULL;

  g_assert_no_error (error);
  g_ptr_array_add (f->keep, full);
  g_socket_set_listen_backlog (full, 0);
  g_assert_true (g_socket_listen (full, &error));
  {
    g_autoptr (GSocketAddress) sa = g_socket_get_local_address (full, &error);
    punch_tcp_address_from_socket (sa, &bound);
  }
  peer_at (&to, "127.0.0.1", bound.port);
  /* fill the accept queue (backlog 0 holds one), never accepted */
  filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  {
    g_autoptr (GSocketAddress) sa = punch_tcp_socket_address (&to);
    g_assert_true (g_socket_connect (filler, sa, NULL, &error));
  }
  punch_test_spin (50);

  start (f, 0, punch_test_free_port (), &to, 40, 1000, NULL);
  g_assert_true (punch_test_wait (first_done, f, 3000));
  g_assert_error (f->side[0].error, PUNCH_ERROR, PUNCH_ERROR_TIMEOUT);
  g_assert_cmpuint (f->side[0].stats.refused, ==, 0);
  /* 1000 ms / (40 ms x 5) = a new attempt every 200 ms: 5 or 6 in all */
  g_assert_cmpuint (f->side[0].stats.attempts, >=, 4);
  g_assert_cmpuint (f->side[0].stats.attempts, <=, 6);
}

static gboolean
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GSource) later = g_timeout_source_new (100);
  PunchStunAddress to;

  peer_at (&to, "127.0.0.1", punch_test_free_port ());
  g_source_set_callback (later, cancel_now, cancel, NULL);
  g_source_attach (later, f->context);
  start (f, 0, punch_test_free_port (), &to, 50, 5000, cancel);
  g_assert_true (punch_test_wait (first_done, f, 2000));
  g_assert_error (f->side[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpfloat (f->side[0].stats.elapsed_ms, <, 1000);
}

/* A port held by a socket that does not share it. */
static void
test_port_taken (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  PunchStunAddress to;

  g_assert_no_error (error);
  peer_at (&to, "127.0.0.1", 9);
  start (f, 0, port, &to, 50, 1000, NULL);
  g_assert_true (punch_test_wait (first_done, f, 2000));
  g_assert_error (f->side[0].error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
  g_assert_nonnull (strstr (f->side[0].error->message, "cannot bind TCP port"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/tcp-punch/both-sides", test_both_sides);
  ADD ("/punch/tcp-punch/plain-listener", test_plain_listener);
  ADD ("/punch/tcp-punch/accepted", test_accepted);
  ADD ("/punch/tcp-punch/refused", test_refused);
  ADD ("/punch/tcp-punch/dropped", test_dropped);
  ADD ("/punch/tcp-punch/cancel", test_cancel);
  ADD ("/punch/tcp-punch/port-taken", test_port_taken);
#undef ADD
  return g_test_run ();
}
