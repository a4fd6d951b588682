/* tcp-punch-probe.c: TCP hole punching end to end with libpunch's pieces, for the NAT lab
 *
 *   tcp-punch-probe --stun 203.0.113.10:3478 --stun 203.0.113.11:3478 \
 *       --mapping-out A.map --peer-in B.map [--port P] [--bytes N] ...
 *
 * 1. learns the NAT's TCP mapping of one local port (punch-tcp-mapping),
 * 2. writes it ("IP:PORT") to --mapping-out and waits for the peer's in
 *    --peer-in (the test script's stand-in for signaling),
 * 3. punches by simultaneous open toward it from the same port
 *    (punch-tcp-punch),
 * 4. sends --bytes bytes and reads as many from the peer at the same time,
 *    each stream a pattern seeded by its sender's public address, and
 *    checks every byte; then a half-close each way.
 *
 * Prints one JSON object on stdout: {"result": "direct", ...} and exits 0,
 * or {"result": "failed", "stage": ..., "error": ...} and exits 1 (2 for
 * usage). Every step is bounded in time.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include "punch-error.h"
#include "punch-tcp-mapping-private.h"
#include "punch-tcp-punch-private.h"

#define CHUNK 16384

typedef struct
{
  GMainLoop *loop;
  /* options */
  PunchStunAddress servers[2];
  guint n_servers;
  guint16 port;
  char *mapping_out, *peer_in;
  guint wait_ms, interval_ms, window_ms, mapping_ms, bytes, start_delay_ms;
  /* progress */
  PunchTcpMapping *mapping;
  PunchStunAddress peer;
  char *mine, *theirs; /* "IP:PORT" */
  PunchTcpPunchStats stats;
  GSocketConnection *conn;
  guint8 *out_buf, *in_buf;
  gsize received;
  gboolean wrote, read_done, eof;
  gint64 start, data_start;
  double data_ms;
  GSource *timer;
  /* the end */
  const char *stage;
  char *error;
  int status;
} Probe;

static void
fill_pattern (guint8 *buf, gsize n, const char *seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (g_str_hash (seed));

  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8)g_rand_int (r);
}

static void
json_str (GString *s, const char *key, const char *value)
{
  g_autofree char *esc = g_strescape (value ? value : "", NULL);
  g_string_append_printf (s, "%s\"%s\": \"%s\"", s->len > 1 ? ", " : "", key, esc);
}

static void
json_num (GString *s, const char *key, double value)
{
  g_string_append_printf (s, "%s\"%s\": %.1f", s->len > 1 ? ", " : "", key, value);
}

static void
json_bool (GString *s, const char *key, gboolean value)
{
  g_string_append_printf (s, "%s\"%s\": %s", s->len > 1 ? ", " : "", key, value ? "true" : "false");
}

static void
report (Probe *p)
{
  g_autoptr (GString) s = g_string_new ("{");

  json_str (s, "result", p->error ? "failed" : "direct");
  if (p->error)
    {
      json_str (s, "stage", p->stage);
      json_str (s, "error", p->error);
    }
  if (p->mapping)
    {
      json_str (s, "mapping", p->mine);
      json_str (s, "behaviour", punch_tcp_mapping_behaviour_to_string (p->mapping->behaviour));
      json_bool (s, "port_preserved", p->mapping->port_preserved);
      json_num (s, "local_port", p->mapping->local.port);
    }
  if (p->theirs)
    json_str (s, "peer", p->theirs);
  if (p->stats.attempts)
    {
      json_str (s, "way", punch_tcp_punch_way_to_string (p->stats.way));
      json_num (s, "attempts", p->stats.attempts);
      json_num (s, "refused", p->stats.refused);
      json_num (s, "failed", p->stats.failed);
      json_num (s, "punch_ms", p->stats.elapsed_ms);
    }
  if (p->stats.peer.family)
    {
      g_autofree char *from = punch_stun_address_to_string (&p->stats.peer);
      json_str (s, "connected_to", from);
    }
  if (!p->error && p->conn)
    {
      json_num (s, "bytes_sent", p->bytes);
      json_num (s, "bytes_verified", p->received);
      json_num (s, "data_ms", p->data_ms);
    }
  json_num (s, "total_ms", (g_get_monotonic_time () - p->start) / 1000.0);
  g_string_append (s, "}");
  printf ("%s\n", s->str);
  fflush (stdout);
}

static void fail (Probe *p, const char *stage, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
fail (Probe *p, const char *stage, const char *fmt, ...)
{
  va_list ap;

  if (p->error)
    return;
  va_start (ap, fmt);
  p->error = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  p->stage = stage;
  p->status = 1;
  g_main_loop_quit (p->loop);
}

static void
maybe_done (Probe *p)
{
  if (p->wrote && p->read_done && p->eof && !p->error)
    {
      p->data_ms = (g_get_monotonic_time () - p->data_start) / 1000.0;
      g_main_loop_quit (p->loop);
    }
}

/* ---- 4: data both ways ---------------------------------------------------- */

static void read_more (Probe *p);

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    {
      fail (p, "data", "reading from the peer: %s", error->message);
      return;
    }
  if (p->read_done)
    {
      if (n != 0)
        {
          fail (p, "data", "the peer sent more than %u bytes", p->bytes);
          return;
        }
      p->eof = TRUE;
      maybe_done (p);
      return;
    }
  if (n == 0)
    {
      fail (p, "data", "the peer closed after %" G_GSIZE_FORMAT " of %u bytes", p->received,
            p->bytes);
      return;
    }
  p->received += n;
  if (p->received == p->bytes)
    {
      g_autofree guint8 *want = g_malloc (p->bytes);
      fill_pattern (want, p->bytes, p->theirs);
      for (gsize i = 0; i < p->bytes; i++)
        if (want[i] != p->in_buf[i])
          {
            fail (p, "data", "byte %" G_GSIZE_FORMAT " from the peer is wrong", i);
            return;
          }
      p->read_done = TRUE;
    }
  read_more (p);
}

static void
read_more (Probe *p)
{
  static guint8 extra[16];
  guint8 *buf = p->read_done ? extra : p->in_buf + p->received;
  gsize len = p->read_done ? sizeof extra : MIN (CHUNK, p->bytes - p->received);

  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (p->conn)), buf, len,
                             G_PRIORITY_DEFAULT, NULL, on_read, p);
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      fail (p, "data", "writing to the peer: %s", error->message);
      return;
    }
  /* all sent: half-close, so the peer sees the end of the stream */
  if (!g_socket_shutdown (g_socket_connection_get_socket (p->conn), FALSE, TRUE, &error))
    {
      fail (p, "data", "shutdown: %s", error->message);
      return;
    }
  p->wrote = TRUE;
  maybe_done (p);
}

/* ---- 3: the punch --------------------------------------------------------- */

static void
on_punched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;

  p->conn = punch_tcp_punch_finish (result, &p->stats, &error);
  if (p->conn == NULL)
    {
      fail (p, "punch", "%s", error->message);
      return;
    }
  g_printerr ("tcp-punch-probe: %s %s after %u attempts (%u refused), %.1f ms\n",
              punch_tcp_punch_way_to_string (p->stats.way), p->theirs, p->stats.attempts,
              p->stats.refused, p->stats.elapsed_ms);
  p->out_buf = g_malloc (p->bytes);
  p->in_buf = g_malloc (p->bytes);
  fill_pattern (p->out_buf, p->bytes, p->mine);
  p->data_start = g_get_monotonic_time ();
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (p->conn)),
                                   p->out_buf, p->bytes, G_PRIORITY_DEFAULT, NULL, on_written, p);
  read_more (p);
}

/* ---- 2: the exchange of mappings ------------------------------------------ */

static void
start_punch (gpointer user_data)
{
  Probe *p = user_data;

  punch_tcp_punch_async (p->mapping->local.port, &p->peer, p->interval_ms, p->window_ms, NULL,
                         on_punched, p);
}

static gboolean
poll_peer (gpointer user_data)
{
  Probe *p = user_data;
  g_autofree char *text = NULL;

  if (!g_file_get_contents (p->peer_in, &text, NULL, NULL) || !g_str_has_suffix (text, "\n"))
    {
      if ((g_get_monotonic_time () - p->start) / 1000 > p->wait_ms)
        {
          fail (p, "exchange", "no peer mapping in %s within %u ms", p->peer_in, p->wait_ms);
          p->timer = NULL;
          return G_SOURCE_REMOVE;
        }
      return G_SOURCE_CONTINUE;
    }
  p->timer = NULL;
  g_strchomp (text);
  if (!punch_stun_address_parse (text, &p->peer) || p->peer.port == 0)
    {
      fail (p, "exchange", "%s does not hold an IP:PORT: \"%s\"", p->peer_in, text);
      return G_SOURCE_REMOVE;
    }
  p->theirs = g_strdup (text);
  if (p->start_delay_ms)
    g_timeout_add_once (p->start_delay_ms, start_punch, p);
  else
    start_punch (p);
  return G_SOURCE_REMOVE;
}

static gboolean
write_mapping (Probe *p, GError **error)
{
  g_autofree char *line = g_strdup_printf ("%s\n", p->mine);

  /* g_file_set_contents writes a temporary file and renames it: the peer never sees half */
  return g_file_set_contents (p->mapping_out, line, -1, error);
}

/* ---- 1: the mapping ------------------------------------------------------- */

static void
on_mapping (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;

  p->mapping = punch_tcp_mapping_discover_finish (result, &error);
  if (p->mapping == NULL)
    {
      fail (p, "mapping", "%s", error->message);
      return;
    }
  p->mine = punch_stun_address_to_string (&p->mapping->mapped);
  {
    g_autofree char *d = punch_tcp_mapping_describe (p->mapping);
    g_printerr ("tcp-punch-probe: TCP mapping of port %u: %s\n", p->mapping->local.port, d);
  }
  if (!write_mapping (p, &error))
    {
      fail (p, "exchange", "%s", error->message);
      return;
    }
  p->timer = g_timeout_source_new (20);
  g_source_set_callback (p->timer, poll_peer, p, NULL);
  g_source_attach (p->timer, NULL);
  g_source_unref (p->timer);
}

static gboolean
on_deadline (gpointer user_data)
{
  fail (user_data, "deadline", "the whole probe took too long");
  return G_SOURCE_REMOVE;
}

static gboolean
parse_stun (const char *name, const char *value, gpointer data, GError **error)
{
  Probe *p = g_object_get_data (G_OBJECT (data), "probe");

  if (p->n_servers == G_N_ELEMENTS (p->servers))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "at most two --stun");
      return FALSE;
    }
  if (!punch_stun_address_parse (value, &p->servers[p->n_servers]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--stun %s: expected IP:PORT",
                   value);
      return FALSE;
    }
  p->n_servers++;
  return TRUE;
}

int
main (int argc, char **argv)
{
  Probe p = { 0 };
  int port = 0, wait_ms = 10000, interval_ms = 0, window_ms = 0, bytes = 65536, mapping_ms = 0,
      start_delay_ms = 0;
  g_autoptr (GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  GOptionEntry entries[] = {
    { "stun", 0, 0, G_OPTION_ARG_CALLBACK, parse_stun,
      "a STUN server over TCP, IP:PORT (once or twice: two servers judge the mapping)", "IP:PORT" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "the local port (default: any)", "P" },
    { "mapping-out", 0, 0, G_OPTION_ARG_FILENAME, &p.mapping_out,
      "write our public TCP address here", "FILE" },
    { "peer-in", 0, 0, G_OPTION_ARG_FILENAME, &p.peer_in,
      "read the peer's public TCP address from here (waits for it)", "FILE" },
    { "wait-ms", 0, 0, G_OPTION_ARG_INT, &wait_ms, "how long to wait for the peer's file", "MS" },
    { "mapping-ms", 0, 0, G_OPTION_ARG_INT, &mapping_ms, "bound on the mapping discovery", "MS" },
    { "interval-ms", 0, 0, G_OPTION_ARG_INT, &interval_ms, "time between connect attempts", "MS" },
    { "window-ms", 0, 0, G_OPTION_ARG_INT, &window_ms, "how long to punch", "MS" },
    { "bytes", 0, 0, G_OPTION_ARG_INT, &bytes, "bytes to send each way (default 65536)", "N" },
    { "start-delay-ms", 0, 0, G_OPTION_ARG_INT, &start_delay_ms,
      "start punching this long after the peer's address arrived (to be the late side)", "MS" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- TCP hole punching, end to end");
  g_autoptr (GOptionGroup) group = NULL;
  g_autoptr (GError) error = NULL;
  guint deadline_ms;

  g_object_set_data (holder, "probe", &p);
  group = g_option_group_new ("probe", "", "", holder, NULL);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (ctx, g_steal_pointer (&group));
  g_option_context_set_summary (
      ctx, "Learns the NAT's TCP mapping of one port from STUN over TCP, trades it with the peer\n"
           "through two files, punches by simultaneous open and checks data both ways.\n"
           "One JSON object on stdout; exit 0 when the data went through directly.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("tcp-punch-probe: %s\n", error->message);
      return 2;
    }
  if (p.n_servers == 0 || p.mapping_out == NULL || p.peer_in == NULL || port < 0 || port > 65535
      || bytes <= 0 || wait_ms <= 0 || interval_ms < 0 || window_ms < 0 || mapping_ms < 0
      || start_delay_ms < 0)
    {
      g_printerr ("tcp-punch-probe: needs --stun, --mapping-out and --peer-in (see --help)\n");
      return 2;
    }
  p.port = port;
  p.wait_ms = wait_ms;
  p.interval_ms = interval_ms;
  p.window_ms = window_ms;
  p.mapping_ms = mapping_ms;
  p.bytes = bytes;
  p.start_delay_ms = start_delay_ms;
  p.start = g_get_monotonic_time ();
  p.loop = g_main_loop_new (NULL, FALSE);

  /* whatever happens, the probe ends: every step's bound, plus slack for the data */
  deadline_ms = (mapping_ms ? mapping_ms : PUNCH_TCP_MAPPING_TIMEOUT_MS) + wait_ms + start_delay_ms
                + (window_ms ? window_ms : PUNCH_TCP_PUNCH_WINDOW_MS) + 10000;
  g_timeout_add (deadline_ms, on_deadline, &p);
  punch_tcp_mapping_discover_async (p.servers, p.n_servers, p.port, p.mapping_ms, NULL, on_mapping,
                                    &p);
  g_main_loop_run (p.loop);
  report (&p);

  if (p.conn)
    g_io_stream_close (G_IO_STREAM (p.conn), NULL, NULL);
  g_clear_object (&p.conn);
  g_clear_pointer (&p.mapping, punch_tcp_mapping_free);
  g_main_loop_unref (p.loop);
  g_free (p.out_buf);
  g_free (p.in_buf);
  g_free (p.mine);
  g_free (p.theirs);
  g_free (p.error);
  g_free (p.mapping_out);
  g_free (p.peer_in);
  return p.status;
}
