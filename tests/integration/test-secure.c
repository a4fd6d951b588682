/* test-secure.c: the secure channel (QUIC + TLS 1.3) between two real sessions on loopback
 *
 * Keys and fingerprints, pins, streams and their acknowledged end, datagram
 * limits, and packets from a third party that must not get in.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>
#include <punch.h>

#include "punch-test-util.h"
#include "session-pair.h"

typedef struct
{
  SessionPair pair;
  PunchConfig *config;
  guint datagrams; /* delivered to a or b */
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

static gboolean
both_settled (gpointer data)
{
  SessionPair *pair = data;
  PunchState a = punch_session_get_state (pair->a), b = punch_session_get_state (pair->b);
  return (a == PUNCH_STATE_FAILED || a == PUNCH_STATE_CONNECTED)
         && (b == PUNCH_STATE_FAILED || b == PUNCH_STATE_CONNECTED)
         && (a == PUNCH_STATE_FAILED || b == PUNCH_STATE_FAILED);
}

static gboolean
has_error (gpointer session)
{
  return punch_session_get_error (session) != NULL;
}

static gboolean
three_readers (gpointer readers)
{
  return ((GPtrArray *)readers)->len == 3;
}

static void
count_datagram (PunchSession *session, GBytes *bytes, gpointer user_data)
{
  ((Fixture *)user_data)->datagrams++;
}

static char *
other_fingerprint (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) other = punch_identity_new_ephemeral (&error);

  g_assert_no_error (error);
  return g_strdup (punch_identity_get_fingerprint (other));
}

/* a is told b announced another key: a refuses b in the handshake, and b
 * learns it was refused; neither connects, nothing is delivered. */
static void
test_wrong_fingerprint (Fixture *f, gconstpointer data)
{
  g_autofree char *wrong = other_fingerprint ();
  const GError *ea, *eb;

  session_pair_init_full (&f->pair, f->config, f->config, wrong, NULL);
  g_signal_connect (f->pair.a, "datagram", G_CALLBACK (count_datagram), f);
  g_signal_connect (f->pair.b, "datagram", G_CALLBACK (count_datagram), f);
  session_pair_start (&f->pair);
  g_assert_true (punch_test_wait (both_settled, &f->pair, 10000));
  ea = punch_session_get_error (f->pair.a);
  g_assert_nonnull (ea);
  g_test_message ("a: %s", ea->message);
  g_assert_error ((GError *)ea, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  g_assert_nonnull (strstr (ea->message, wrong));
  g_assert_nonnull (strstr (ea->message, "not the"));
  /* b may have finished its side of TLS 1.3 first; it must end failed too */
  g_assert_true (punch_test_wait (has_error, f->pair.b, 5000));
  eb = punch_session_get_error (f->pair.b);
  g_test_message ("b: %s", eb->message);
  g_assert_error ((GError *)eb, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  g_assert_null (punch_session_get_peer_fingerprint (f->pair.a));
  g_assert_cmpuint (f->datagrams, ==, 0);
}

/* The controlled side (the QUIC server) refuses the client's key. */
static void
test_wrong_fingerprint_server_side (Fixture *f, gconstpointer data)
{
  g_autofree char *wrong = other_fingerprint ();
  const GError *eb;

  session_pair_init_full (&f->pair, f->config, f->config, NULL, wrong);
  session_pair_start (&f->pair);
  g_assert_true (punch_test_wait (both_settled, &f->pair, 10000));
  eb = punch_session_get_error (f->pair.b);
  g_assert_nonnull (eb);
  g_assert_error ((GError *)eb, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  /* the client never counts as connected: it waits for the server's confirmation */
  g_assert_true (punch_test_wait (has_error, f->pair.a, 5000));
  g_assert_error ((GError *)punch_session_get_error (f->pair.a), PUNCH_ERROR,
                  PUNCH_ERROR_AUTHENTICATION);
  g_test_message ("a: %s", punch_session_get_error (f->pair.a)->message);
}

/* With pins, the announced key must also be a pinned one: a swapped
 * announcement (what a hostile signaling server would do) is refused. */
static void
test_pinned (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) b_id = punch_identity_new_ephemeral (&error);
  g_autoptr (PunchConfig) ca = punch_config_copy (f->config);
  g_autoptr (PunchConfig) cb = punch_config_copy (f->config);
  g_autofree char *other = other_fingerprint ();
  const GError *ea;

  g_assert_no_error (error);
  cb->identity = punch_identity_ref (b_id);

  /* pinned to someone else: refused although b presents what it announced */
  ca->pinned_peers = g_strsplit (other, ",", -1);
  session_pair_init_full (&f->pair, ca, cb, NULL, NULL);
  session_pair_start (&f->pair);
  g_assert_true (punch_test_wait (both_settled, &f->pair, 10000));
  ea = punch_session_get_error (f->pair.a);
  g_assert_nonnull (ea);
  g_assert_error ((GError *)ea, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  g_assert_nonnull (strstr (ea->message, "pinned"));
  session_pair_clear (&f->pair);

  /* pinned to b (bare hex, lower case): connects, and the peer is b */
  g_strfreev (ca->pinned_peers);
  {
    g_autoptr (GString) hex = g_string_new (NULL);
    for (const char *c = punch_identity_get_fingerprint (b_id) + strlen ("sha-256 "); *c; c++)
      if (*c != ':')
        g_string_append_c (hex, g_ascii_tolower (*c));
    ca->pinned_peers = g_new0 (char *, 3);
    ca->pinned_peers[0] = g_strdup (other);
    ca->pinned_peers[1] = g_strdup (hex->str);
  }
  session_pair_init_full (&f->pair, ca, cb, NULL, NULL);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  g_assert_cmpstr (punch_session_get_peer_fingerprint (f->pair.a), ==,
                   punch_identity_get_fingerprint (b_id));
}

/* A description without a fingerprint cannot be checked: refused up front. */
static void
test_no_fingerprint (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSession) s = punch_session_new (f->config, &error);
  g_autoptr (PunchDescription) desc = punch_description_new ("abcd", "0123456789abcdefghijkl");

  g_assert_no_error (error);
  g_assert_false (punch_session_set_remote_description (s, desc, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
  g_assert_nonnull (strstr (error->message, "no fingerprint"));
  g_clear_error (&error);
  g_assert_false (punch_session_set_remote_fingerprint (s, "sha-1 AB:CD", &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
}

/* ---- streams -------------------------------------------------------------- */

typedef struct
{
  GIOStream *stream;
  GByteArray *got;
  gboolean eof;
  GError *error;
  guint8 buf[16384];
} Reader;

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reader *r = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &r->error);

  if (n <= 0)
    {
      r->eof = n == 0;
      return;
    }
  g_byte_array_append (r->got, r->buf, n);
  g_input_stream_read_async (G_INPUT_STREAM (source), r->buf, sizeof r->buf, G_PRIORITY_DEFAULT,
                             NULL, on_read, r);
}

static Reader *
reader_new (GIOStream *stream)
{
  Reader *r = g_new0 (Reader, 1);

  r->stream = g_object_ref (stream);
  r->got = g_byte_array_new ();
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), r->buf, sizeof r->buf,
                             G_PRIORITY_DEFAULT, NULL, on_read, r);
  return r;
}

static void
reader_free (Reader *r)
{
  g_object_unref (r->stream);
  g_byte_array_unref (r->got);
  g_clear_error (&r->error);
  g_free (r);
}

static gboolean
reader_done (gpointer data)
{
  Reader *r = data;
  return r->eof || r->error;
}

static void
on_peer_stream (PunchSession *session, GIOStream *stream, gpointer user_data)
{
  g_ptr_array_add (user_data, reader_new (stream));
}

typedef struct
{
  gboolean done;
  GError *error;
} CloseResult;

static void
on_output_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseResult *c = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &c->error);
  c->done = TRUE;
}

static gboolean
close_done (gpointer data)
{
  return ((CloseResult *)data)->done;
}

/* Three more streams from a: b hears of each before any data, each carries
 * its own bytes, and each output's async close completes once b has it all. */
static void
test_streams (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) readers = g_ptr_array_new_with_free_func ((GDestroyNotify)reader_free);
  GIOStream *mine[3];
  CloseResult closes[3] = { 0 };

  session_pair_init (&f->pair, f->config);
  g_signal_connect (f->pair.b, "stream", G_CALLBACK (on_peer_stream), readers);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  for (int i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;
      mine[i] = punch_session_open_stream (f->pair.a, &error);
      g_assert_no_error (error);
      g_assert_nonnull (mine[i]);
    }
  g_assert_true (punch_test_wait (three_readers, readers, 5000));
  for (int i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("stream %d says hello", i);
      GOutputStream *out = g_io_stream_get_output_stream (mine[i]);
      gsize written;

      g_assert_true (g_output_stream_write_all (out, text, strlen (text), &written, NULL, &error));
      g_assert_no_error (error);
      g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, on_output_closed, &closes[i]);
    }
  for (int i = 0; i < 3; i++)
    {
      Reader *r = readers->pdata[i];
      g_assert_true (punch_test_wait (close_done, &closes[i], 5000));
      g_assert_no_error (closes[i].error);
      g_assert_true (punch_test_wait (reader_done, r, 5000));
      g_assert_no_error (r->error);
    }
  /* each stream carried exactly one sender's text (QUIC does not order
   * streams among themselves: match by content) */
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("stream %d says hello", i);
      guint matches = 0;
      for (guint j = 0; j < readers->len; j++)
        {
          Reader *r = readers->pdata[j];
          if (r->got->len == strlen (text) && memcmp (r->got->data, text, r->got->len) == 0)
            matches++;
        }
      g_assert_cmpuint (matches, ==, 1);
      g_object_unref (mine[i]);
    }
}

/* ---- many streams, one after the other ------------------------------------ */

typedef struct
{
  guint got; /* streams b read to their end */
  guint8 buf[64];
} Echo;

static void
on_many_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GIOStream *stream = user_data;
  Echo *e = g_object_get_data (G_OBJECT (stream), "echo");
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n > 0)
    {
      g_input_stream_read_async (G_INPUT_STREAM (source), e->buf, sizeof e->buf, G_PRIORITY_DEFAULT,
                                 NULL, on_many_read, stream);
      return;
    }
  if (n == 0)
    e->got++;
  /* b's side ends too, so that the stream closes on both sides */
  g_output_stream_close (g_io_stream_get_output_stream (stream), NULL, NULL);
  g_object_unref (stream);
}

static void
on_many_stream (PunchSession *session, GIOStream *stream, gpointer user_data)
{
  Echo *e = user_data;

  g_object_set_data (G_OBJECT (stream), "echo", e);
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), e->buf, sizeof e->buf,
                             G_PRIORITY_DEFAULT, NULL, on_many_read, g_object_ref (stream));
}

static gboolean
echo_count_reached (gpointer data)
{
  Echo *e = data;
  return e->got >= 150;
}

/* 150 streams, more than the 100 the peer allows at once: closed streams
 * make room for new ones (and are let go). */
static void
test_many_streams (Fixture *f, gconstpointer data)
{
  Echo e = { 0 };

  session_pair_init (&f->pair, f->config);
  g_signal_connect (f->pair.b, "stream", G_CALLBACK (on_many_stream), &e);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  for (guint i = 0; i < 150; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GIOStream) stream = NULL;
      CloseResult close = { 0 };
      GOutputStream *out;
      gsize written;

      /* a few tries: the peer's MAX_STREAMS may still be on its way */
      for (int tries = 0; tries < 200 && stream == NULL; tries++)
        {
          g_clear_error (&error);
          stream = punch_session_open_stream (f->pair.a, &error);
          if (stream == NULL)
            punch_test_spin (10);
        }
      g_assert_no_error (error);
      out = g_io_stream_get_output_stream (stream);
      g_assert_true (g_output_stream_write_all (out, "x", 1, &written, NULL, &error));
      g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, on_output_closed, &close);
      g_assert_true (punch_test_wait (close_done, &close, 5000));
      g_assert_no_error (close.error);
    }
  g_assert_true (punch_test_wait (echo_count_reached, &e, 10000));
  g_assert_cmpuint (e.got, ==, 150);
  g_signal_handlers_disconnect_by_data (f->pair.b, &e);
}

/* The default stream's close completes only after the peer has every byte:
 * while the peer reads nothing, its flow-control window holds the rest back
 * and the close waits; once it reads, the close completes. */
static void
test_close_waits_for_peer (Fixture *f, gconstpointer data)
{
  GOutputStream *out;
  CloseResult close = { 0 };
  Reader *r;
  gsize total = 12 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc (total);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GChecksum) got = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GError) error = NULL;
  gsize written = 0;

  for (gsize i = 0; i < total; i++)
    blob[i] = (guint8)(i * 7 + (i >> 13));
  g_checksum_update (sum, blob, total);
  session_pair_init (&f->pair, f->config);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  out = g_io_stream_get_output_stream (punch_session_get_io_stream (f->pair.a));
  /* 12 MiB fit in the stream's send buffer: the write returns at once */
  g_assert_true (g_output_stream_write_all (out, blob, total, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, total);
  g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, on_output_closed, &close);
  punch_test_spin (500);
  g_assert_false (close.done);

  r = reader_new (punch_session_get_io_stream (f->pair.b));
  g_assert_true (punch_test_wait (close_done, &close, 30000));
  g_assert_no_error (close.error);
  g_assert_true (punch_test_wait (reader_done, r, 10000));
  g_assert_no_error (r->error);
  g_assert_cmpuint (r->got->len, ==, total);
  g_checksum_update (got, r->got->data, r->got->len);
  reader_free (r);
  g_assert_cmpstr (g_checksum_get_string (sum), ==, g_checksum_get_string (got));
}

/* ---- datagrams ------------------------------------------------------------- */

static void
test_datagram_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *buf = NULL;
  gsize max;
  gboolean sent_any = FALSE;
  guint queued = 0;

  session_pair_init (&f->pair, f->config);
  g_assert_cmpuint (punch_session_get_max_datagram_size (f->pair.a), ==, 0);
  g_signal_connect (f->pair.b, "datagram", G_CALLBACK (count_datagram), f);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);

  max = punch_session_get_max_datagram_size (f->pair.a);
  g_test_message ("largest datagram on loopback: %" G_GSIZE_FORMAT " bytes", max);
  g_assert_cmpuint (max, >=, 1100);
  g_assert_cmpuint (max, <, 1452);
  buf = g_malloc0 (max + 1);
  g_assert_false (punch_session_send (f->pair.a, buf, max + 1, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "larger than"));
  g_clear_error (&error);
  g_assert_true (punch_session_send (f->pair.a, buf, max, &error));
  g_assert_no_error (error);
  sent_any = TRUE;

  /* a burst far beyond the queue: back-pressure, never a silent drop */
  for (guint i = 0; i < 5000; i++)
    {
      if (punch_session_send (f->pair.a, buf, 100, &error))
        {
          queued++;
          continue;
        }
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_WOULD_BLOCK);
      g_clear_error (&error);
      break;
    }
  g_test_message ("queued %u datagrams before WOULD_BLOCK", queued);
  g_assert_cmpuint (queued, <, 5000);
  g_assert_true (sent_any);
}

/* ---- packets from a third party -------------------------------------------- */

/* Random bytes, a forged short-header packet and something shaped like a
 * pseudo-TCP RST, sent to a's port from another socket: none reaches the
 * application and the stream goes on intact. */
static void
test_third_party_packets (Fixture *f, gconstpointer data)
{
  const PunchPair *pair;
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) to = NULL;
  g_autoptr (GError) error = NULL;
  GOutputStream *out;
  Reader *r;
  guint8 junk[1200];
  PunchStats stats;
  const char *text = "only the peer writes here";
  gsize written;

  session_pair_init (&f->pair, f->config);
  g_signal_connect (f->pair.a, "datagram", G_CALLBACK (count_datagram), f);
  session_pair_start (&f->pair);
  session_pair_wait_connected (&f->pair, 10000);
  pair = punch_session_get_selected_pair (f->pair.a);
  r = reader_new (punch_session_get_io_stream (f->pair.a));

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  to = g_inet_socket_address_new_from_string (pair->local->address, pair->local->port);
  for (guint i = 0; i < 200; i++)
    {
      for (gsize j = 0; j < sizeof junk; j++)
        junk[j] = (guint8)g_random_int ();
      if (i % 3 == 1)
        junk[0] = 0x40 | (junk[0] & 0x3f); /* a QUIC short header */
      if (i % 3 == 2)
        {
          memset (junk, 0, 24);
          junk[13] = 0x04; /* pseudo-TCP flags: RST */
        }
      g_socket_send_to (sock, to, (const char *)junk, i % 3 == 2 ? 24 : sizeof junk, NULL, &error);
      g_assert_no_error (error);
    }
  out = g_io_stream_get_output_stream (punch_session_get_io_stream (f->pair.b));
  g_assert_true (g_output_stream_write_all (out, text, strlen (text), &written, NULL, &error));
  g_assert_no_error (error);
  g_output_stream_close (out, NULL, &error);
  g_assert_true (punch_test_wait (reader_done, r, 10000));
  g_assert_no_error (r->error);
  g_assert_cmpmem (r->got->data, r->got->len, text, strlen (text));
  g_assert_cmpuint (f->datagrams, ==, 0);
  g_assert_cmpint (punch_session_get_state (f->pair.a), ==, PUNCH_STATE_CONNECTED);
  punch_session_get_stats (f->pair.a, &stats);
  g_test_message ("rtt %" G_GINT64_FORMAT " ms", stats.rtt_ms);
  g_assert_cmpint (stats.rtt_ms, >=, 0);
  reader_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/punch/secure/wrong-fingerprint", test_wrong_fingerprint);
  ADD ("/punch/secure/wrong-fingerprint-server-side", test_wrong_fingerprint_server_side);
  ADD ("/punch/secure/pinned", test_pinned);
  ADD ("/punch/secure/no-fingerprint", test_no_fingerprint);
  ADD ("/punch/secure/streams", test_streams);
  ADD ("/punch/secure/close-waits-for-peer", test_close_waits_for_peer);
  ADD ("/punch/secure/many-streams", test_many_streams);
  ADD ("/punch/secure/datagram-limits", test_datagram_limits);
  ADD ("/punch/secure/third-party-packets", test_third_party_packets);
#undef ADD
  return g_test_run ();
}
