/* punch-pipe.c
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "punch-pipe.h"

#define CHUNK (256 * 1024)
#define DATAGRAM_MAX 1200
/* datagrams waiting for stdout before new ones are dropped (and counted) */
#define RX_QUEUE_MAX 8192
/* after the peer's end of datagrams: let the last ones in flight arrive */
#define DATAGRAM_LINGER_MS 200

struct _PunchPipe
{
  PunchSession *session;
  GInputStream *in;
  GOutputStream *out;
  PunchOutput *events;
  PunchPipeDoneFunc done;
  gpointer user_data;
  GCancellable *cancellable;
  gboolean reliable;
  gboolean secure;

  guint8 *up_buf;   /* stdin -> peer */
  gsize up_len;     /* datagram mode: bytes read into up_buf */
  gsize up_off;     /* of those, sent so far */
  gsize up_dgram;   /* the datagram size for this read */
  guint8 *down_buf; /* peer -> stdout */
  gboolean up_done;
  gboolean down_done;
  gboolean peer_ended;
  gboolean linger_over; /* the peer ended, and the last datagrams had time to arrive */
  gboolean acknowledged;
  gboolean finished;
  guint64 sent;
  guint64 received;
  guint64 dropped;
  guint64 last_sent;
  guint64 last_received;
  gint64 first_byte;
  gint64 last_byte;
  gint64 origin;
  gboolean got_first;
  guint progress_source;
  guint linger_source;
  gulong datagram_handler;
  gulong writable_handler;
  GQueue pending;  /* datagram mode: GBytes waiting for stdout */
  GBytes *writing; /* the one being written */
};

static void
finish (PunchPipe *p, const GError *error)
{
  if (p->finished)
    return;
  p->finished = TRUE;
  g_clear_handle_id (&p->progress_source, g_source_remove);
  g_clear_handle_id (&p->linger_source, g_source_remove);
  g_cancellable_cancel (p->cancellable);
  p->done (p, error, p->user_data);
}

/* Ends the pipe with @error unless it was cancelled (the pipe may be gone then). */
static gboolean
failed (PunchPipe *p, GError *error, const char *prefix)
{
  if (error == NULL)
    return FALSE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_prefix_error (&error, "%s", prefix);
      finish (p, error);
    }
  g_error_free (error);
  return TRUE;
}

static void
note_bytes (PunchPipe *p)
{
  p->last_byte = g_get_monotonic_time ();
  if (p->first_byte == 0)
    p->first_byte = p->last_byte;
}

/* The first byte from the peer: a `first-byte` event, timed from the origin. */
static void
note_received (PunchPipe *p, gsize n)
{
  p->received += n;
  note_bytes (p);
  if (p->got_first || n == 0)
    return;
  p->got_first = TRUE;
  punch_output_begin (p->events, "first-byte");
  punch_output_int (p->events, "elapsed_ms",
                    "first byte from the peer after %" G_GINT64_FORMAT " ms",
                    p->origin ? (g_get_monotonic_time () - p->origin) / 1000 : -1);
  punch_output_end (p->events);
}

static void
maybe_done (PunchPipe *p)
{
  if (p->up_done && p->down_done)
    finish (p, NULL);
}

static gboolean
on_progress (gpointer data)
{
  PunchPipe *p = data;
  guint64 ds = p->sent - p->last_sent, dr = p->received - p->last_received;

  if (ds == 0 && dr == 0)
    return G_SOURCE_CONTINUE;
  p->last_sent = p->sent;
  p->last_received = p->received;
  punch_output_begin (p->events, "progress");
  punch_output_uint (p->events, "bytes_sent", "sent %" G_GUINT64_FORMAT " B", p->sent);
  punch_output_uint (p->events, "bytes_received", ", received %" G_GUINT64_FORMAT " B",
                     p->received);
  /* integers in JSON: json-glib prints a double with 17 digits */
  punch_output_uint (p->events, "send_kbit_s", NULL, ds * 8 / 1000);
  punch_output_uint (p->events, "receive_kbit_s", NULL, dr * 8 / 1000);
  if (!punch_output_is_json (p->events))
    {
      g_autofree char *rates
          = g_strdup_printf (", %.2f Mbit/s up, %.2f Mbit/s down", ds * 8 / 1e6, dr * 8 / 1e6);
      punch_output_text (p->events, rates);
    }
  punch_output_end (p->events);
  return G_SOURCE_CONTINUE;
}

static GInputStream *
peer_input (PunchPipe *p)
{
  return g_io_stream_get_input_stream (punch_session_get_io_stream (p->session));
}

static GOutputStream *
peer_output (PunchPipe *p)
{
  return g_io_stream_get_output_stream (punch_session_get_io_stream (p->session));
}

/* ---- stdin -> peer -------------------------------------------------------- */

static void up_read (PunchPipe *p);

static void
on_up_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error);
  if (failed (p, error, "the peer did not confirm our end of data: "))
    return;
  p->acknowledged = TRUE;
  p->up_done = TRUE;
  maybe_done (p);
}

static void
up_end (PunchPipe *p)
{
  if (p->secure)
    {
      /* the peer's acknowledgement of every byte and of the end */
      g_output_stream_close_async (peer_output (p), G_PRIORITY_DEFAULT, p->cancellable,
                                   on_up_closed, p);
      return;
    }
  /* plaintext datagrams: no end of stream to wait for; the caller's part is
   * done, and the peer's datagrams keep coming until the pipe is freed */
  p->up_done = TRUE;
  p->done (p, NULL, p->user_data);
}

static void
on_up_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;
  gsize n = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &error);
  if (failed (p, error, "sending to the peer: "))
    return;
  p->sent += n;
  note_bytes (p);
  up_read (p);
}

/* Datagram mode: sends what was read, cut into datagrams, or waits for room
 * (one read of a busy pipe holds many datagrams: they leave together). */
static void
send_datagram (PunchPipe *p)
{
  GError *error = NULL;

  if (p->up_len == 0 || p->finished)
    return;
  while (p->up_off < p->up_len)
    {
      gsize n = MIN (p->up_dgram, p->up_len - p->up_off);
      if (!punch_session_send (p->session, p->up_buf + p->up_off, n, &error))
        {
          if (g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_WOULD_BLOCK))
            {
              g_error_free (error); /* back-pressure: `writable` brings us back */
              return;
            }
          failed (p, error, "sending a datagram: ");
          return;
        }
      p->up_off += n;
      p->sent += n;
    }
  p->up_len = p->up_off = 0;
  note_bytes (p);
  up_read (p);
}

static void
on_writable (PunchSession *session, gpointer user_data)
{
  send_datagram (user_data);
}

static void
on_up_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (failed (p, error, "reading standard input: "))
    return;
  if (n == 0)
    {
      up_end (p);
      return;
    }
  if (!p->reliable)
    {
      gsize max = punch_session_get_max_datagram_size (p->session);
      p->up_dgram = MIN (DATAGRAM_MAX, max ? max : DATAGRAM_MAX);
      p->up_len = (gsize)n;
      p->up_off = 0;
      send_datagram (p);
      return;
    }
  g_output_stream_write_all_async (peer_output (p), p->up_buf, n, G_PRIORITY_DEFAULT,
                                   p->cancellable, on_up_written, p);
}

static void
up_read (PunchPipe *p)
{
  /* datagram mode: at most 64 KiB, what 54 datagrams carry, per read */
  g_input_stream_read_async (p->in, p->up_buf, p->reliable ? CHUNK : 64 * 1024, G_PRIORITY_DEFAULT,
                             p->cancellable, on_up_read, p);
}

/* ---- peer -> stdout -------------------------------------------------------- */

static void down_read (PunchPipe *p);
static void write_next_datagram (PunchPipe *p);

static void
on_down_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (failed (p, error, "writing standard output: "))
    return;
  down_read (p);
}

/* Datagram mode: done once the peer has ended, the last datagrams had their
 * time to arrive, and stdout has every one of them (it may be far behind). */
static void
maybe_datagrams_done (PunchPipe *p)
{
  if (!p->linger_over || p->down_done || p->writing || !g_queue_is_empty (&p->pending))
    return;
  g_output_stream_flush (p->out, NULL, NULL);
  p->down_done = TRUE;
  maybe_done (p);
}

static gboolean
on_linger_over (gpointer data)
{
  PunchPipe *p = data;

  p->linger_source = 0;
  p->linger_over = TRUE;
  maybe_datagrams_done (p);
  return G_SOURCE_REMOVE;
}

/* Datagram mode: the peer's end has come; done once stdout has it all. */
static void
maybe_down_done (PunchPipe *p)
{
  if (p->peer_ended && p->linger_source == 0 && !p->down_done)
    p->linger_source = g_timeout_add (DATAGRAM_LINGER_MS, on_linger_over, p);
}

static void
on_down_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (failed (p, error, "receiving from the peer: "))
    return;
  if (n == 0)
    {
      if (p->reliable)
        {
          g_output_stream_flush (p->out, NULL, NULL);
          p->down_done = TRUE;
          maybe_done (p);
          return;
        }
      p->peer_ended = TRUE;
      maybe_down_done (p);
      return;
    }
  if (!p->reliable)
    {
      g_autoptr (GError) bad
          = g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                 "the peer sent a byte stream, but this side is in datagram mode "
                                 "(is the other side 'punch connect --reliable'?)");
      finish (p, bad);
      return;
    }
  note_received (p, (gsize)n);
  g_output_stream_write_all_async (p->out, p->down_buf, n, G_PRIORITY_DEFAULT, p->cancellable,
                                   on_down_written, p);
}

static void
down_read (PunchPipe *p)
{
  g_input_stream_read_async (peer_input (p), p->down_buf, CHUNK, G_PRIORITY_DEFAULT, p->cancellable,
                             on_down_read, p);
}

static void
on_datagram_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  GError *error = NULL;

  /* on cancellation the pipe may be gone: touch nothing */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (failed (p, error, "writing standard output: "))
    return;
  g_clear_pointer (&p->writing, g_bytes_unref);
  write_next_datagram (p);
  maybe_datagrams_done (p);
}

static void
write_next_datagram (PunchPipe *p)
{
  if (p->writing || g_queue_is_empty (&p->pending))
    return;
  if (g_queue_get_length (&p->pending) == 1)
    p->writing = g_queue_pop_head (&p->pending);
  else
    {
      /* the backlog in one write: stdout is a byte stream */
      GByteArray *all = g_byte_array_new ();
      while (!g_queue_is_empty (&p->pending) && all->len < CHUNK)
        {
          g_autoptr (GBytes) b = g_queue_pop_head (&p->pending);
          gsize len;
          const guint8 *data = g_bytes_get_data (b, &len);
          g_byte_array_append (all, data, len);
        }
      p->writing = g_byte_array_free_to_bytes (all);
    }
  g_output_stream_write_all_async (p->out, g_bytes_get_data (p->writing, NULL),
                                   g_bytes_get_size (p->writing), G_PRIORITY_DEFAULT,
                                   p->cancellable, on_datagram_written, p);
}

static void
on_datagram (PunchSession *session, GBytes *bytes, gpointer user_data)
{
  PunchPipe *p = user_data;

  if (p->finished)
    return;
  note_received (p, g_bytes_get_size (bytes));
  if (g_queue_get_length (&p->pending) >= RX_QUEUE_MAX)
    {
      /* stdout is this far behind: the datagram cannot wait, and says so */
      if (p->dropped++ == 0)
        {
          punch_output_begin (p->events, "warning");
          punch_output_string (p->events, "message", "%s",
                               "standard output is too slow: dropping datagrams (counted in "
                               "done.dropped)");
          punch_output_end (p->events);
        }
      return;
    }
  g_queue_push_tail (&p->pending, g_bytes_ref (bytes));
  write_next_datagram (p);
}

/* ---- public ------------------------------------------------------------ */

PunchPipe *
punch_pipe_new (PunchSession *session, gboolean reliable, GInputStream *in, GOutputStream *out,
                PunchOutput *events, PunchPipeDoneFunc done, gpointer user_data)
{
  PunchPipe *p = g_new0 (PunchPipe, 1);

  p->session = g_object_ref (session);
  p->in = g_object_ref (in);
  p->out = g_object_ref (out);
  p->events = events;
  p->done = done;
  p->user_data = user_data;
  p->cancellable = g_cancellable_new ();
  p->reliable = reliable;
  p->secure = punch_session_get_io_stream (session) != NULL;
  p->up_buf = g_malloc (CHUNK);
  p->down_buf = g_malloc (CHUNK);
  g_queue_init (&p->pending);
  return p;
}

void
punch_pipe_start (PunchPipe *p)
{
  p->progress_source = g_timeout_add_seconds (1, on_progress, p);
  if (!p->reliable)
    {
      p->datagram_handler = g_signal_connect (p->session, "datagram", G_CALLBACK (on_datagram), p);
      p->writable_handler = g_signal_connect (p->session, "writable", G_CALLBACK (on_writable), p);
    }
  up_read (p);
  /* in datagram mode the stream carries only the peer's end */
  if (p->secure)
    down_read (p);
}

void
punch_pipe_set_origin (PunchPipe *p, gint64 origin)
{
  p->origin = origin;
}

guint64
punch_pipe_get_bytes_sent (PunchPipe *p)
{
  return p->sent;
}

guint64
punch_pipe_get_bytes_received (PunchPipe *p)
{
  return p->received;
}

guint64
punch_pipe_get_dropped (PunchPipe *p)
{
  return p->dropped;
}

gboolean
punch_pipe_get_acknowledged (PunchPipe *p)
{
  return p->acknowledged;
}

double
punch_pipe_get_seconds (PunchPipe *p)
{
  if (p->first_byte == 0)
    return 0;
  return ((p->finished ? p->last_byte : g_get_monotonic_time ()) - p->first_byte) / 1e6;
}

void
punch_pipe_free (PunchPipe *p)
{
  if (p == NULL)
    return;
  g_cancellable_cancel (p->cancellable);
  g_clear_handle_id (&p->progress_source, g_source_remove);
  g_clear_handle_id (&p->linger_source, g_source_remove);
  if (p->datagram_handler)
    g_signal_handler_disconnect (p->session, p->datagram_handler);
  if (p->writable_handler)
    g_signal_handler_disconnect (p->session, p->writable_handler);
  g_queue_clear_full (&p->pending, (GDestroyNotify)g_bytes_unref);
  /* a write still in flight reads its buffer until it sees the cancellation:
   * let the buffers go with the stream's last reference instead of now */
  if (p->writing)
    g_object_set_data_full (G_OBJECT (p->out), "punch-pipe-writing", g_steal_pointer (&p->writing),
                            (GDestroyNotify)g_bytes_unref);
  g_object_set_data_full (G_OBJECT (p->out), "punch-pipe-down-buf", p->down_buf, g_free);
  g_object_set_data_full (G_OBJECT (p->in), "punch-pipe-up-buf", p->up_buf, g_free);
  g_object_unref (p->session);
  g_object_unref (p->in);
  g_object_unref (p->out);
  g_object_unref (p->cancellable);
  g_free (p);
}
