/* test-session-tcp.c: a session's TCP hole punching on loopback, against a real coturn
 *
 * Two sessions gather on 127.0.0.1 with coturn as their STUN server; coturn
 * answers the TCP Binding that learns each side's TCP mapping. To play a
 * network that blocks UDP, the test's signaling moves every UDP candidate
 * to a closed UDP port: every ICE check fails (ICMP port unreachable),
 * libnice reports FAILED, and only the simultaneous open toward the peer's
 * `tcptype so` candidate can connect. On loopback the "NAT" maps
 * nothing (the mapping is the local address); the lab (tests/lab/
 * tcp-traversal.sh) does the same through real kernel NATs.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>

#include "punch-test-util.h"
#include "session-pair.h"

typedef struct
{
  PunchTestCoturn *coturn;
  PunchConfig *config;
  SessionPair pair;
  guint16 bad_port; /* a closed TCP port the peer's TCP candidate is moved to */
  guint16 dead_udp; /* a closed UDP port every UDP candidate is moved to */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL;

  f->coturn = punch_test_coturn_start (NULL);
  f->config = punch_config_new ();
  f->config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  f->config->ipv6 = FALSE;
  f->config->connect_timeout_ms = 15000;
  if (f->coturn == NULL)
    return;
  uri = g_strdup_printf ("stun:127.0.0.1:%u", f->coturn->port);
  g_assert_true (punch_config_add_ice_server (f->config, uri, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->pair.a)
    session_pair_clear (&f->pair);
  punch_config_free (f->config);
  if (f->coturn)
    punch_test_coturn_stop (f->coturn);
}

/* a port nobody listens on: bind one, read its number, close it */
static guint16
closed_port (GSocketType type)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (
      G_SOCKET_FAMILY_IPV4, type,
      type == G_SOCKET_TYPE_STREAM ? G_SOCKET_PROTOCOL_TCP : G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, TRUE, &error));
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  g_socket_close (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* signaling toward a site that blocks UDP: every UDP candidate points to a
 * closed port (and the TCP one to f->bad_port when set) */
static char *
udp_blocked (PunchSession *from, const char *line, gpointer data)
{
  Fixture *f = data;
  g_autoptr (PunchCandidate) c = punch_candidate_parse (line, NULL);

  g_assert_nonnull (c);
  if (c->transport == PUNCH_TRANSPORT_UDP)
    c->port = f->dead_udp;
  else if (f->bad_port)
    c->port = f->bad_port;
  return punch_candidate_to_string (c);
}

static void
block_udp (Fixture *f)
{
  f->dead_udp = closed_port (G_SOCKET_TYPE_DATAGRAM);
  f->pair.rewrite = udp_blocked;
  f->pair.rewrite_data = f;
}

static const char *
tcp_line (GPtrArray *lines)
{
  const char *found = NULL;

  for (guint i = 0; i < lines->len; i++)
    if (strstr (lines->pdata[i], " TCP ") && strstr (lines->pdata[i], "tcptype so"))
      {
        g_assert_null (found); /* one */
        found = lines->pdata[i];
      }
  return found;
}

static gboolean
both_gathered (gpointer data)
{
  SessionPair *pair = data;
  return pair->a_gathered && pair->b_gathered;
}

/* Connected can come before gathering is over (UDP answers at once on
 * loopback, before the TCP mapping): wait for gathering-done on both. */
static void
wait_gathered (SessionPair *pair)
{
  g_assert_true (punch_test_wait (both_gathered, pair, 5000));
}

static void
assert_tcp_candidate (GPtrArray *lines)
{
  const char *line = tcp_line (lines);
  g_autoptr (PunchCandidate) c = NULL;

  g_assert_nonnull (line);
  c = punch_candidate_parse (line, NULL);
  g_assert_nonnull (c);
  g_assert_cmpint (c->type, ==, PUNCH_CANDIDATE_SRFLX);
  g_assert_cmpint (c->tcp_type, ==, PUNCH_TCP_TYPE_SO);
  g_assert_cmpstr (c->address, ==, "127.0.0.1");
  g_assert_cmpstr (c->related_address, ==, "127.0.0.1");
  /* no NAT on loopback: the mapping is the local port */
  g_assert_cmpuint (c->port, ==, c->related_port);
  g_assert_cmpuint (c->priority, ==,
                    punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                              PUNCH_TCP_TYPE_SO, 0, 1));
}

static void
assert_tcp_path (PunchSession *s)
{
  const PunchPair *pair = punch_session_get_selected_pair (s);
  g_autofree char *text = NULL;

  g_assert_nonnull (pair);
  g_assert_false (pair->relayed);
  g_assert_cmpint (pair->local->transport, ==, PUNCH_TRANSPORT_TCP);
  g_assert_cmpint (pair->local->tcp_type, ==, PUNCH_TCP_TYPE_SO);
  g_assert_cmpint (pair->remote->transport, ==, PUNCH_TRANSPORT_TCP);
  text = punch_pair_describe (pair);
  g_assert_true (g_str_has_prefix (text, "direct: srflx 127.0.0.1:"));
  g_assert_true (g_str_has_suffix (text, " over tcp (simultaneous open)"));
  /* the peer proved its key over TCP as over UDP */
  g_assert_nonnull (punch_session_get_peer_fingerprint (s));
}

/* ---- moving bytes ----------------------------------------------------------- */

typedef struct
{
  GByteArray *got;
  guint8 buf[65536];
  gboolean done;
  GError *error;
} Reader;

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reader *r = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &r->error);

  if (n <= 0)
    {
      r->done = TRUE;
      return;
    }
  g_byte_array_append (r->got, r->buf, n);
  g_input_stream_read_async (G_INPUT_STREAM (source), r->buf, sizeof r->buf, G_PRIORITY_DEFAULT,
                             NULL, on_read, r);
}

static gboolean
reader_done (gpointer data)
{
  return ((Reader *)data)->done;
}

static gboolean
output_closed (gpointer data)
{
  return *(gboolean *)data;
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_assert_true (g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL));
  *(gboolean *)user_data = TRUE;
}

/* @total bytes from @from's default stream to @to's, compared by SHA-256 */
static void
transfer (PunchSession *from, PunchSession *to, gsize total)
{
  g_autofree guint8 *blob = g_malloc (total);
  g_autoptr (GError) error = NULL;
  g_autofree char *want = NULL, *have = NULL;
  Reader r = { 0 };
  gboolean closed = FALSE;
  gsize written = 0;
  GOutputStream *out = g_io_stream_get_output_stream (punch_session_get_io_stream (from));

  for (gsize i = 0; i < total; i++)
    blob[i] = (guint8)(i * 31 + (i >> 11));
  want = g_compute_checksum_for_data (G_CHECKSUM_SHA256, blob, total);
  r.got = g_byte_array_new ();
  g_input_stream_read_async (g_io_stream_get_input_stream (punch_session_get_io_stream (to)), r.buf,
                             sizeof r.buf, G_PRIORITY_DEFAULT, NULL, on_read, &r);
  g_assert_true (g_output_stream_write_all (out, blob, total, &written, NULL, &error));
  g_assert_no_error (error);
  g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, on_closed, &closed);
  g_assert_true (punch_test_wait (reader_done, &r, 20000));
  g_assert_no_error (r.error);
  g_assert_true (punch_test_wait (output_closed, &closed, 5000));
  g_assert_cmpuint (r.got->len, ==, total);
  have = g_compute_checksum_for_data (G_CHECKSUM_SHA256, r.got->data, r.got->len);
  g_assert_cmpstr (have, ==, want);
  g_byte_array_unref (r.got);
}

typedef struct
{
  guint got;
} Count;

static void
on_datagram (PunchSession *s, GBytes *bytes, gpointer user_data)
{
  Count *c = user_data;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 5 && memcmp (data, "hello", 5) == 0)
    c->got++;
}

static gboolean
got_datagram (gpointer data)
{
  return ((Count *)data)->got > 0;
}

/* ---- tests ------------------------------------------------------------------- */

/* No UDP pair works: the simultaneous open connects, QUIC runs over it
 * framed, streams and datagrams work both ways. */
static void
test_tcp_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Count count = { 0 };

  if (f->coturn == NULL)
    return;
  session_pair_init (&f->pair, f->config);
  block_udp (f);
  g_signal_connect (f->pair.a, "datagram", G_CALLBACK (on_datagram), &count);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 15000);
  wait_gathered (&f->pair);
  assert_tcp_candidate (f->pair.a_candidates);
  assert_tcp_candidate (f->pair.b_candidates);
  assert_tcp_path (f->pair.a);
  assert_tcp_path (f->pair.b);

  transfer (f->pair.a, f->pair.b, 4 * 1024 * 1024);
  g_assert_true (punch_session_send (f->pair.b, "hello", 5, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (got_datagram, &count, 5000));
  g_signal_handlers_disconnect_by_data (f->pair.a, &count);
}

/* The local description carries the TCP candidate, and its end of
 * candidates comes only after it. */
static void
test_description (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchDescription) desc = NULL;
  gboolean found = FALSE;

  if (f->coturn == NULL)
    return;
  session_pair_init (&f->pair, f->config);
  /* with UDP working, a session connected before its TCP mapping came back
   * has no use for it and announces none */
  block_udp (f);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 15000);
  wait_gathered (&f->pair);
  desc = punch_session_get_local_description (f->pair.a);
  g_assert_true (desc->end_of_candidates);
  for (guint i = 0; i < desc->candidates->len; i++)
    {
      const PunchCandidate *c = desc->candidates->pdata[i];
      found = found || (c->transport == PUNCH_TRANSPORT_TCP && c->tcp_type == PUNCH_TCP_TYPE_SO);
    }
  g_assert_true (found);
}

/* Both work: UDP is preferred, the TCP connection is closed. */
static void
test_udp_preferred (Fixture *f, gconstpointer data)
{
  const PunchPair *pair;

  if (f->coturn == NULL)
    return;
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 15000);
  wait_gathered (&f->pair);
  /* the TCP candidate may not even be announced: a session connected over
   * UDP before its TCP mapping came back does not use one */
  g_test_message ("TCP candidate announced: %s", tcp_line (f->pair.a_candidates) ? "yes" : "no");
  /* let a late TCP connection complete: it must not take the path */
  punch_test_spin (500);
  pair = punch_session_get_selected_pair (f->pair.a);
  g_assert_nonnull (pair);
  g_assert_cmpint (pair->local->transport, ==, PUNCH_TRANSPORT_UDP);
  g_assert_false (pair->relayed);
  transfer (f->pair.b, f->pair.a, 256 * 1024);
}

static gboolean
both_settled (gpointer data)
{
  SessionPair *pair = data;

  for (int i = 0; i < 2; i++)
    {
      PunchState st = punch_session_get_state (i ? pair->b : pair->a);
      if (st != PUNCH_STATE_FAILED && st != PUNCH_STATE_CONNECTED)
        return FALSE;
    }
  return TRUE;
}

/* UDP and TCP both fail: the error says what TCP saw. */
static void
test_tcp_fails (Fixture *f, gconstpointer data)
{
  if (f->coturn == NULL)
    return;
  f->bad_port = closed_port (G_SOCKET_TYPE_STREAM);

  session_pair_init (&f->pair, f->config);
  block_udp (f);
  session_pair_start (&f->pair);
  g_assert_true (punch_test_wait (both_settled, &f->pair, 20000));
  for (int i = 0; i < 2; i++)
    {
      PunchSession *s = i ? f->pair.b : f->pair.a;
      const GError *e;
      g_autofree char *where
          = g_strdup_printf ("TCP hole punching toward 127.0.0.1:%u", f->bad_port);

      e = punch_session_get_error (s);
      g_assert_cmpint (punch_session_get_state (s), ==, PUNCH_STATE_FAILED);
      g_assert_error (e, PUNCH_ERROR, PUNCH_ERROR_RELAY_REQUIRED);
      g_assert_nonnull (strstr (e->message, where));
    }
}

/* tcp off, relay-only or plaintext: no TCP candidate */
static void
test_off (Fixture *f, gconstpointer data)
{
  if (f->coturn == NULL)
    return;
  f->config->tcp = FALSE;
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 15000);
  g_assert_null (tcp_line (f->pair.a_candidates));
  g_assert_null (tcp_line (f->pair.b_candidates));
  session_pair_clear (&f->pair);

  f->config->tcp = TRUE;
  f->config->security = PUNCH_SECURITY_NONE;
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 15000);
  g_assert_null (tcp_line (f->pair.a_candidates));
  g_assert_null (tcp_line (f->pair.b_candidates));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/session-tcp/tcp-only", Fixture, NULL, fixture_setup, test_tcp_only,
              fixture_teardown);
  g_test_add ("/session-tcp/description", Fixture, NULL, fixture_setup, test_description,
              fixture_teardown);
  g_test_add ("/session-tcp/udp-preferred", Fixture, NULL, fixture_setup, test_udp_preferred,
              fixture_teardown);
  g_test_add ("/session-tcp/tcp-fails", Fixture, NULL, fixture_setup, test_tcp_fails,
              fixture_teardown);
  g_test_add ("/session-tcp/off", Fixture, NULL, fixture_setup, test_off, fixture_teardown);
  return g_test_run ();
}
