/* punch-pipe.c
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "punch-pipe.h"

#define CHUNK (64 * 1024)
#define DATAGRAM_MAX 1200
/* Reliable mode frames the stream: a 4-byte big-endian length, then that many
 * bytes; a length of 0 ends the stream. libnice's pseudo-TCP cannot half-close:
 * shutting down the write side while received data is still unread sends RST
 * (pseudotcp.c follows RFC 1122's rule for close()), so the end of stdin
 * travels in-band and the connection is never shut down under the peer. */
#define FRAME_HEADER 4

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

  guint8 up_buf[CHUNK];   /* stdin -> peer; reliable: a frame header, then the data */
  guint8 down_buf[CHUNK]; /* peer -> stdout */
  /* reliable: the frame being parsed (see "framing" below) */
  guint8 hdr[FRAME_HEADER];
  guint hdr_have;
  guint32 frame_left;
  gboolean eof_frame;
  gboolean up_done;   /* stdin ended and all of it was handed on */
  gboolean down_done; /* the peer's stream ended and all of it was written */
  gboolean finished;
  guint64 sent;
  guint64 received;
  guint64 last_sent;
  guint64 last_received;
  gint64 first_byte;
  gint64 last_byte;
  gint64 origin;      /* punch_pipe_set_origin(), 0 for none */
  gboolean got_first; /* the first byte from the peer was reported */
  guint progress_source;
  gulong datagram_handler;
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
  g_cancellable_cancel (p->cancellable);
  p->done (p, error, p->user_data);
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

/* ---- reliable: stdin -> stream ----------------------------------------- */

static void up_read (PunchPipe *p);

static void
on_up_eof_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "sending to the peer: ");
          finish (p, error);
        }
      return;
    }
  p->up_done = TRUE;
  maybe_done (p);
}

static void
on_up_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;
  gsize n = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "sending to the peer: ");
          finish (p, error);
        }
      return;
    }
  p->sent += n - FRAME_HEADER;
  note_bytes (p);
  up_read (p);
}

static void
on_up_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  GOutputStream *peer;

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "reading standard input: ");
          finish (p, error);
        }
      return;
    }
  if (!p->reliable)
    {
      g_autoptr (GError) send_error = NULL;
      if (n == 0)
        {
          /* no end of stream to wait for: the caller's part is done, and
           * the peer's datagrams keep coming until the pipe is freed */
          p->up_done = TRUE;
          p->done (p, NULL, p->user_data);
          return;
        }
      /* one read is at most one datagram */
      if (!punch_session_send (p->session, p->up_buf, n, &send_error))
        {
          finish (p, send_error);
          return;
        }
      p->sent += n;
      note_bytes (p);
      up_read (p);
      return;
    }
  peer = g_io_stream_get_output_stream (punch_session_get_io_stream (p->session));
  /* the frame header; n == 0 is the end-of-stream frame */
  p->up_buf[0] = (guint8)(n >> 24);
  p->up_buf[1] = (guint8)(n >> 16);
  p->up_buf[2] = (guint8)(n >> 8);
  p->up_buf[3] = (guint8)n;
  g_output_stream_write_all_async (peer, p->up_buf, FRAME_HEADER + n, G_PRIORITY_DEFAULT,
                                   p->cancellable, n == 0 ? on_up_eof_written : on_up_written, p);
}

static void
up_read (PunchPipe *p)
{
  if (p->reliable)
    g_input_stream_read_async (p->in, p->up_buf + FRAME_HEADER, CHUNK - FRAME_HEADER,
                               G_PRIORITY_DEFAULT, p->cancellable, on_up_read, p);
  else
    g_input_stream_read_async (p->in, p->up_buf, DATAGRAM_MAX, G_PRIORITY_DEFAULT, p->cancellable,
                               on_up_read, p);
}

/* ---- reliable: stream -> stdout ---------------------------------------- */

static void down_read (PunchPipe *p);

/* Strips the frame headers from the @len bytes just read into down_buf,
 * moving the payload to its front. Returns the payload length, or -1 when
 * bytes follow the end-of-stream frame. */
static gssize
unframe (PunchPipe *p, gsize len)
{
  gsize in = 0, out = 0;

  while (in < len)
    {
      if (p->eof_frame)
        return -1;
      if (p->frame_left == 0)
        {
          p->hdr[p->hdr_have++] = p->down_buf[in++];
          if (p->hdr_have < FRAME_HEADER)
            continue;
          p->hdr_have = 0;
          p->frame_left = (guint32)p->hdr[0] << 24 | (guint32)p->hdr[1] << 16
                          | (guint32)p->hdr[2] << 8 | p->hdr[3];
          if (p->frame_left == 0)
            p->eof_frame = TRUE;
          continue;
        }
      gsize take = MIN (p->frame_left, len - in);
      memmove (p->down_buf + out, p->down_buf + in, take);
      in += take;
      out += take;
      p->frame_left -= take;
    }
  return (gssize)out;
}

/* After a chunk went to stdout: the end, or the next read. */
static void
on_down_chunk_done (PunchPipe *p)
{
  if (p->eof_frame)
    {
      g_output_stream_flush (p->out, NULL, NULL);
      p->down_done = TRUE;
      maybe_done (p);
      return;
    }
  down_read (p);
}

static void
on_down_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;
  gsize n = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "writing standard output: ");
          finish (p, error);
        }
      return;
    }
  on_down_chunk_done (p);
}

static void
on_down_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "receiving from the peer: ");
          finish (p, error);
        }
      return;
    }
  if (n == 0)
    {
      g_autoptr (GError) eof = g_error_new_literal (
          PUNCH_ERROR, PUNCH_ERROR_CLOSED,
          "the peer's stream ended before its end-of-data mark: the transfer is incomplete");
      finish (p, eof);
      return;
    }
  n = unframe (p, (gsize)n);
  if (n < 0)
    {
      g_autoptr (GError) bad = g_error_new_literal (
          PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
          "the peer sent data after its end-of-data mark (is it 'punch connect --reliable'?)");
      finish (p, bad);
      return;
    }
  note_received (p, (gsize)n);
  if (n == 0)
    {
      on_down_chunk_done (p);
      return;
    }
  g_output_stream_write_all_async (p->out, p->down_buf, n, G_PRIORITY_DEFAULT, p->cancellable,
                                   on_down_written, p);
}

static void
down_read (PunchPipe *p)
{
  GInputStream *peer = g_io_stream_get_input_stream (punch_session_get_io_stream (p->session));

  g_input_stream_read_async (peer, p->down_buf, CHUNK, G_PRIORITY_DEFAULT, p->cancellable,
                             on_down_read, p);
}

/* ---- datagram: peer -> stdout ------------------------------------------ */

static void write_next_datagram (PunchPipe *p);

static void
on_datagram_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchPipe *p = user_data;
  g_autoptr (GError) error = NULL;

  /* on cancellation the pipe may be gone: touch nothing */
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_prefix_error (&error, "writing standard output: ");
          finish (p, error);
        }
      return;
    }
  g_clear_pointer (&p->writing, g_bytes_unref);
  write_next_datagram (p);
}

static void
write_next_datagram (PunchPipe *p)
{
  if (p->writing || g_queue_is_empty (&p->pending))
    return;
  p->writing = g_queue_pop_head (&p->pending);
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
  g_queue_push_tail (&p->pending, g_bytes_ref (bytes));
  write_next_datagram (p);
}

/* ---- public ------------------------------------------------------------ */

PunchPipe *
punch_pipe_new (PunchSession *session, GInputStream *in, GOutputStream *out, PunchOutput *events,
                PunchPipeDoneFunc done, gpointer user_data)
{
  PunchPipe *p = g_new0 (PunchPipe, 1);

  p->session = g_object_ref (session);
  p->in = g_object_ref (in);
  p->out = g_object_ref (out);
  p->events = events;
  p->done = done;
  p->user_data = user_data;
  p->cancellable = g_cancellable_new ();
  p->reliable = punch_session_get_io_stream (session) != NULL;
  g_queue_init (&p->pending);
  return p;
}

void
punch_pipe_start (PunchPipe *p)
{
  p->progress_source = g_timeout_add_seconds (1, on_progress, p);
  up_read (p);
  if (p->reliable)
    down_read (p);
  else
    p->datagram_handler = g_signal_connect (p->session, "datagram", G_CALLBACK (on_datagram), p);
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
  if (p->datagram_handler)
    g_signal_handler_disconnect (p->session, p->datagram_handler);
  g_queue_clear_full (&p->pending, (GDestroyNotify)g_bytes_unref);
  /* a write still in flight reads p->writing until it sees the cancellation:
   * let the bytes go with the stream's last reference instead of now */
  if (p->writing)
    g_object_set_data_full (G_OBJECT (p->out), "punch-pipe-writing", g_steal_pointer (&p->writing),
                            (GDestroyNotify)g_bytes_unref);
  g_object_unref (p->session);
  g_object_unref (p->in);
  g_object_unref (p->out);
  g_object_unref (p->cancellable);
  g_free (p);
}
