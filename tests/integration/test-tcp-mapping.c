/* test-tcp-mapping.c: punch_tcp_mapping_discover_async() against real coturns
 * on loopback (two servers, so the mapping can be judged), servers that
 * refuse, stall or answer something that is not STUN, cancellation, and the
 * port staying shareable for the punch that follows
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>
#include "punch-tcp-mapping-private.h"
#include "punch-tcp-socket-private.h"
#include "punch-test-util.h"

typedef struct
{
  GMainContext *context;
  PunchTestCoturn *coturn[2];
  GSocketListener *fake;
  guint16 fake_port;
  GPtrArray *fake_conns;
  const char *fake_says; /* NULL: accept and say nothing */
  PunchTcpMapping *mapping;
  GError *error;
  gboolean done;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->fake_conns = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->mapping, punch_tcp_mapping_free);
  g_clear_error (&f->error);
  for (guint i = 0; i < 2; i++)
    if (f->coturn[i])
      punch_test_coturn_stop (f->coturn[i]);
  if (f->fake)
    g_socket_listener_close (f->fake);
  g_clear_object (&f->fake);
  g_ptr_array_unref (f->fake_conns);
  punch_test_spin (50);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (g_main_context_is_owner (f->context));
  f->mapping = punch_tcp_mapping_discover_finish (result, &f->error);
  f->done = TRUE;
}

static gboolean
is_done (gpointer user_data)
{
  return ((Fixture *)user_data)->done;
}

static void
loopback (PunchStunAddress *a, guint16 port)
{
  g_assert_true (punch_stun_address_parse ("127.0.0.1:0", a));
  a->port = port;
}

static void
discover (Fixture *f, const PunchStunAddress *servers, guint n, guint16 port, guint timeout_ms,
          GCancellable *cancel)
{
  gint64 start = g_get_monotonic_time ();

  punch_tcp_mapping_discover_async (servers, n, port, timeout_ms, cancel, on_done, f);
  g_assert_false (f->done); /* never synchronously */
  g_assert_true (punch_test_wait (is_done, f, 10000));
  /* bounded by its own timer, whatever the servers do */
  g_assert_cmpint (g_get_monotonic_time () - start, <, (timeout_ms + 1000) * 1000);
}

/* a server on loopback that accepts and then says f->fake_says, or nothing */
static void
on_fake_accept (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  GSocketConnection *conn
      = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, NULL);

  if (conn == NULL)
    return;
  if (f->fake_says)
    g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), f->fake_says,
                               strlen (f->fake_says), NULL, NULL, NULL);
  g_ptr_array_add (f->fake_conns, conn);
  g_socket_listener_accept_async (f->fake, NULL, on_fake_accept, f);
}

static void
start_fake (Fixture *f, const char *says)
{
  g_autoptr (GError) error = NULL;

  f->fake = g_socket_listener_new ();
  f->fake_says = says;
  f->fake_port = punch_test_free_port ();
  {
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, f->fake_port);
    g_socket_listener_add_address (f->fake, sa, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                   NULL, &error);
  }
  g_assert_no_error (error);
  g_socket_listener_accept_async (f->fake, NULL, on_fake_accept, f);
}

static const PunchTcpMappingProbe *
probe (Fixture *f, guint i)
{
  return &g_array_index (f->mapping->probes, PunchTcpMappingProbe, i);
}

/* Two coturns: the loopback "NAT" keeps the port and maps the same way toward both. */
static void
test_two_servers (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[2];
  guint16 port = punch_test_free_port ();
  g_autofree char *text = NULL;
  g_autofree char *expect = NULL;

  for (guint i = 0; i < 2; i++)
    {
      f->coturn[i] = punch_test_coturn_start (NULL);
      if (f->coturn[i] == NULL)
        return;
      loopback (&servers[i], f->coturn[i]->port);
    }
  discover (f, servers, 2, port, 3000, NULL);
  g_assert_no_error (f->error);
  g_assert_cmpuint (f->mapping->n_answered, ==, 2);
  g_assert_cmpuint (f->mapping->local.port, ==, port);
  g_assert_cmpuint (f->mapping->mapped.port, ==, port);
  g_assert_cmpint (f->mapping->behaviour, ==, PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT);
  g_assert_true (f->mapping->port_preserved);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *m = punch_stun_address_to_string (&probe (f, i)->mapped);
      g_autofree char *want = g_strdup_printf ("127.0.0.1:%u", port);

      g_assert_cmpstr (m, ==, want);
      g_assert_null (probe (f, i)->error);
      g_assert_cmpfloat (probe (f, i)->connect_ms, >=, 0);
      g_assert_cmpfloat (probe (f, i)->answer_ms, >=, probe (f, i)->connect_ms);
      g_assert_true (punch_stun_address_equal (&probe (f, i)->server, &servers[i]));
    }
  text = punch_tcp_mapping_describe (f->mapping);
  expect = g_strdup_printf ("127.0.0.1:%u (endpoint-independent, port kept)", port);
  g_assert_cmpstr (text, ==, expect);

  /* the connections stay open, and the port can still be shared: a listener for the punch */
  g_assert_cmpuint (f->mapping->held->len, ==, 2);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocket) listener = punch_tcp_socket_new_bound (4, port, NULL, &error);

    g_assert_no_error (error);
    g_assert_true (g_socket_listen (listener, &error));
    g_assert_no_error (error);
  }
  punch_tcp_mapping_release (f->mapping);
  g_assert_cmpuint (f->mapping->held->len, ==, 0);
}

/* Port 0: the kernel picks one, and both connections share it. */
static void
test_any_port (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[2];

  for (guint i = 0; i < 2; i++)
    {
      f->coturn[i] = punch_test_coturn_start (NULL);
      if (f->coturn[i] == NULL)
        return;
      loopback (&servers[i], f->coturn[i]->port);
    }
  discover (f, servers, 2, 0, 3000, NULL);
  g_assert_no_error (f->error);
  g_assert_cmpuint (f->mapping->local.port, !=, 0);
  g_assert_cmpuint (probe (f, 0)->mapped.port, ==, f->mapping->local.port);
  g_assert_cmpuint (probe (f, 1)->mapped.port, ==, f->mapping->local.port);
}

/* One server refuses: the other's answer is the mapping, its behaviour unknown. */
static void
test_one_refuses (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[2];

  f->coturn[0] = punch_test_coturn_start (NULL);
  if (f->coturn[0] == NULL)
    return;
  loopback (&servers[0], punch_test_free_port ()); /* nothing listens there */
  loopback (&servers[1], f->coturn[0]->port);
  discover (f, servers, 2, 0, 3000, NULL);
  g_assert_no_error (f->error);
  g_assert_cmpuint (f->mapping->n_answered, ==, 1);
  g_assert_cmpint (f->mapping->behaviour, ==, PUNCH_TCP_MAPPING_UNKNOWN);
  g_assert_true (punch_stun_address_equal (&f->mapping->mapped, &probe (f, 1)->mapped));
  g_assert_cmpuint (probe (f, 0)->mapped.family, ==, 0);
  g_assert_nonnull (strstr (probe (f, 0)->error, "refused"));
  g_assert_cmpfloat (probe (f, 0)->connect_ms, ==, -1);
}

static void
test_all_refuse (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[1];

  loopback (&servers[0], punch_test_free_port ());
  discover (f, servers, 1, 0, 3000, NULL);
  g_assert_null (f->mapping);
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_assert_true (
      g_str_has_prefix (f->error->message, "no STUN server answered over TCP from port"));
  g_assert_nonnull (strstr (f->error->message, "127.0.0.1:"));
  g_assert_nonnull (strstr (f->error->message, "refused"));
}

/* A server that accepts and never answers: the timer ends it. */
static void
test_silent (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[1];

  start_fake (f, NULL);
  loopback (&servers[0], f->fake_port);
  discover (f, servers, 1, 0, 300, NULL);
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (f->error->message, "no answer within 300 ms"));
}

/* A server that speaks something else is not STUN. */
static void
test_not_stun (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[1];

  start_fake (f, "HTTP/1.1 400 Bad Request\r\n\r\n");
  loopback (&servers[0], f->fake_port);
  discover (f, servers, 1, 0, 3000, NULL);
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (f->error->message, "not-stun"));
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
  PunchStunAddress servers[1];
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GSource) later = g_timeout_source_new (100);

  start_fake (f, NULL);
  loopback (&servers[0], f->fake_port);
  g_source_set_callback (later, cancel_now, cancel, NULL);
  g_source_attach (later, f->context);
  discover (f, servers, 1, 0, 5000, cancel);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  PunchStunAddress servers[2];

  loopback (&servers[0], 3478);
  g_assert_true (punch_stun_address_parse ("[::1]:3478", &servers[1]));
  discover (f, servers, 2, 0, 1000, NULL);
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_clear_error (&f->error);
  f->done = FALSE;

  /* a port that is taken by a socket without SO_REUSEPORT cannot be shared */
  {
    g_autoptr (GSocket) taken
        = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    guint16 port = punch_test_free_port ();
    g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (any, port);
    g_autoptr (GError) error = NULL;

    g_assert_true (g_socket_bind (taken, sa, FALSE, &error));
    g_assert_true (g_socket_listen (taken, &error));
    discover (f, servers, 1, port, 1000, NULL);
    g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
    g_assert_nonnull (strstr (f->error->message, "cannot bind TCP port"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/tcp-mapping/two-servers", test_two_servers);
  ADD ("/punch/tcp-mapping/any-port", test_any_port);
  ADD ("/punch/tcp-mapping/one-refuses", test_one_refuses);
  ADD ("/punch/tcp-mapping/all-refuse", test_all_refuse);
  ADD ("/punch/tcp-mapping/silent", test_silent);
  ADD ("/punch/tcp-mapping/not-stun", test_not_stun);
  ADD ("/punch/tcp-mapping/cancel", test_cancel);
  ADD ("/punch/tcp-mapping/bad-arguments", test_bad_arguments);
#undef ADD
  return g_test_run ();
}
