/* punch-quic-stream.c: one QUIC bidirectional stream as a pollable GIOStream
 *
 * Reading: ngtcp2 hands over stream data in order; it waits here until the
 * application reads it, and only then is the peer allowed to send more (flow
 * control), so an application that stops reading stops the sender.
 *
 * Writing: ngtcp2 does not copy stream data; it points into it until the
 * peer acknowledges it. Written bytes therefore live in fixed chunks that
 * never move, and a chunk is freed once the peer has acknowledged all of it.
 * The output is writable while less than TX_CAP bytes are unacknowledged.
 *
 * Closing the output sends FIN after the data; g_output_stream_close_async()
 * completes only when the peer has acknowledged every byte and the FIN: that
 * is what "the peer has it" means.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-quic-private.h"
#include "punch-error.h"

#include <string.h>

#define TX_CHUNK (256 * 1024)
/* unacknowledged bytes per stream before writes block: above a 200 ms x
 * 500 Mbit/s bandwidth-delay product (12.5 MB) */
#define TX_CAP (16 * 1024 * 1024)
/* compact the receive buffer once this much of its front has been read */
#define RX_COMPACT (256 * 1024)

typedef struct
{
  guint8 *data;
  gsize len;
} TxChunk;

#define PUNCH_TYPE_QUIC_INPUT (punch_quic_input_get_type ())
G_DECLARE_FINAL_TYPE (PunchQuicInput, punch_quic_input, PUNCH, QUIC_INPUT, GInputStream)
#define PUNCH_TYPE_QUIC_OUTPUT (punch_quic_output_get_type ())
G_DECLARE_FINAL_TYPE (PunchQuicOutput, punch_quic_output, PUNCH, QUIC_OUTPUT, GOutputStream)

struct _PunchQuicInput
{
  GInputStream parent_instance;
  PunchQuicStream *owner; /* weak: the GIOStream outlives the use of its halves */
};

struct _PunchQuicOutput
{
  GOutputStream parent_instance;
  PunchQuicStream *owner;
};

struct _PunchQuicStream
{
  GIOStream parent_instance;
  PunchQuic *quic; /* NULL once detached */
  gint64 id;       /* -1 until known */
  PunchQuicInput *input;
  PunchQuicOutput *output;
  GError *error;

  /* receive */
  GByteArray *rx;
  gsize rx_pos;
  gboolean rx_fin;
  guint64 rx_total; /* delivered by ngtcp2, read or not */
  guint64 bytes_read;
  GPtrArray *read_waiters; /* GSource */

  /* send */
  GQueue tx; /* TxChunk */
  guint64 tx_base;
  guint64 tx_sent;
  guint64 tx_end;
  guint64 tx_acked;
  gboolean fin_wanted;
  gboolean fin_sent;
  gboolean fin_with_data; /* the FIN rode with data, so acking that data acked it */
  gboolean fin_acked;
  gboolean peer_done;
  gboolean announce; /* a new stream: tell the peer, even before any data */
  GPtrArray *write_waiters;
  GList *close_tasks;
};

static void punch_quic_input_pollable_init (GPollableInputStreamInterface *iface);
static void punch_quic_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchQuicInput, punch_quic_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      punch_quic_input_pollable_init))
G_DEFINE_FINAL_TYPE_WITH_CODE (PunchQuicOutput, punch_quic_output, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      punch_quic_output_pollable_init))
G_DEFINE_FINAL_TYPE (PunchQuicStream, punch_quic_stream, G_TYPE_IO_STREAM)

/* ---- waiters ------------------------------------------------------------ */

static gboolean
ready_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  /* a child of a pollable source: its readiness dispatches the parent */
  g_source_set_ready_time (source, -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs ready_funcs = { NULL, NULL, ready_dispatch, NULL, NULL, NULL };

static void
wake (GPtrArray *waiters)
{
  for (guint i = 0; i < waiters->len;)
    {
      GSource *source = waiters->pdata[i];
      if (g_source_is_destroyed (source))
        {
          g_ptr_array_remove_index_fast (waiters, i);
          continue;
        }
      g_source_set_ready_time (source, 0);
      i++;
    }
}

static GSource *
make_source (GObject *stream, GPtrArray *waiters, gboolean ready, GCancellable *cancellable)
{
  GSource *child = g_source_new (&ready_funcs, sizeof (GSource));
  GSource *pollable = g_pollable_source_new_full (stream, NULL, cancellable);

  g_source_set_name (child, "[punch] quic stream ready");
  g_source_add_child_source (pollable, child);
  g_ptr_array_add (waiters, child); /* the array holds the ref */
  if (ready)
    g_source_set_ready_time (child, 0);
  return pollable;
}

/* ---- closing the output ---------------------------------------------------- */

static gboolean
all_acknowledged (PunchQuicStream *self)
{
  /* The peer closed with code 0: it has every stream it was sent to its end
   * (a peer that abandons a stream it was reading closes with another code).
   * Our FIN and last data went out; their acknowledgements may have been
   * lost on the way back. */
  if (self->peer_done && self->fin_wanted && self->fin_sent)
    return TRUE;
  return self->fin_sent && self->tx_acked == self->tx_end
         && (self->fin_with_data || self->fin_acked);
}

static void
finish_close_tasks (PunchQuicStream *self)
{
  GList *tasks;

  if (self->close_tasks == NULL)
    return;
  if (!all_acknowledged (self) && self->error == NULL)
    return;
  tasks = g_steal_pointer (&self->close_tasks);
  for (GList *l = tasks; l; l = l->next)
    {
      if (all_acknowledged (self))
        g_task_return_boolean (l->data, TRUE);
      else
        g_task_return_error (l->data, g_error_copy (self->error));
      g_object_unref (l->data);
    }
  g_list_free (tasks);
}

/* ---- input -------------------------------------------------------------- */

static gsize
rx_available (PunchQuicStream *self)
{
  return self->rx->len - self->rx_pos;
}

static gssize
input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  PunchQuicStream *self = PUNCH_QUIC_INPUT (stream)->owner;
  gsize n = MIN (count, rx_available (self));

  if (n == 0)
    {
      if (self->rx_fin)
        return 0;
      if (self->error)
        {
          g_propagate_error (error, g_error_copy (self->error));
          return -1;
        }
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "no data yet");
      return -1;
    }
  memcpy (buffer, self->rx->data + self->rx_pos, n);
  self->rx_pos += n;
  self->bytes_read += n;
  if (self->rx_pos == self->rx->len)
    {
      g_byte_array_set_size (self->rx, 0);
      self->rx_pos = 0;
    }
  else if (self->rx_pos >= RX_COMPACT)
    {
      g_byte_array_remove_range (self->rx, 0, self->rx_pos);
      self->rx_pos = 0;
    }
  if (self->quic)
    punch_quic_consumed (self->quic, self, n);
  return (gssize)n;
}

static gboolean
input_is_readable (GPollableInputStream *stream)
{
  PunchQuicStream *self = PUNCH_QUIC_INPUT (stream)->owner;
  return rx_available (self) > 0 || self->rx_fin || self->error;
}

static gboolean
input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static GSource *
input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  PunchQuicStream *self = PUNCH_QUIC_INPUT (stream)->owner;
  return make_source (G_OBJECT (stream), self->read_waiters, input_is_readable (stream),
                      cancellable);
}

static gssize
input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
            GError **error)
{
  /* The stream lives on the session's context: a blocking read there would
   * never see data arrive. Synchronous reads return what is there. */
  return input_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer, count, error);
}

static gboolean
input_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  PunchQuicStream *self = PUNCH_QUIC_INPUT (stream)->owner;

  if (!self->rx_fin && self->quic)
    punch_quic_stop_reading (self->quic, self);
  return TRUE;
}

static void
punch_quic_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
punch_quic_input_init (PunchQuicInput *self)
{
}

static void
punch_quic_input_class_init (PunchQuicInputClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = input_read;
  stream_class->close_fn = input_close;
}

/* ---- output ------------------------------------------------------------- */

static gboolean
output_is_writable (GPollableOutputStream *stream)
{
  PunchQuicStream *self = PUNCH_QUIC_OUTPUT (stream)->owner;
  return self->error != NULL || self->tx_end - self->tx_acked < TX_CAP;
}

static gssize
output_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count,
                          GError **error)
{
  PunchQuicStream *self = PUNCH_QUIC_OUTPUT (stream)->owner;
  const guint8 *in = buffer;
  gsize room, done = 0;

  if (self->error)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (self->fin_wanted)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the stream's output is closed");
      return -1;
    }
  room = TX_CAP - MIN (TX_CAP, self->tx_end - self->tx_acked);
  if (room == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                           "the peer has not acknowledged enough yet");
      return -1;
    }
  count = MIN (count, room);
  while (done < count)
    {
      TxChunk *tail = g_queue_peek_tail (&self->tx);
      gsize take;

      if (tail == NULL || tail->len == TX_CHUNK)
        {
          tail = g_new (TxChunk, 1);
          tail->data = g_malloc (TX_CHUNK);
          tail->len = 0;
          g_queue_push_tail (&self->tx, tail);
        }
      take = MIN (count - done, TX_CHUNK - tail->len);
      memcpy (tail->data + tail->len, in + done, take);
      tail->len += take;
      done += take;
    }
  self->tx_end += done;
  if (self->quic)
    punch_quic_schedule_write (self->quic, self);
  return (gssize)done;
}

static gboolean
output_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  PunchQuicStream *self = PUNCH_QUIC_OUTPUT (stream)->owner;
  return make_source (G_OBJECT (stream), self->write_waiters, output_is_writable (stream),
                      cancellable);
}

static gssize
output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
              GError **error)
{
  return output_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer, count, error);
}

static void
request_fin (PunchQuicStream *self)
{
  if (self->fin_wanted)
    return;
  self->fin_wanted = TRUE;
  if (self->quic)
    punch_quic_schedule_write (self->quic, self);
}

static gboolean
output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  /* sends FIN after the data; use the async close to learn that it arrived */
  request_fin (PUNCH_QUIC_OUTPUT (stream)->owner);
  return TRUE;
}

static void
output_close_async (GOutputStream *stream, int io_priority, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  PunchQuicStream *self = PUNCH_QUIC_OUTPUT (stream)->owner;
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, output_close_async);
  request_fin (self);
  self->close_tasks = g_list_append (self->close_tasks, task);
  finish_close_tasks (self);
}

static gboolean
output_close_finish (GOutputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_quic_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
punch_quic_output_init (PunchQuicOutput *self)
{
}

static void
punch_quic_output_class_init (PunchQuicOutputClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  stream_class->write_fn = output_write;
  stream_class->close_fn = output_close;
  stream_class->close_async = output_close_async;
  stream_class->close_finish = output_close_finish;
}

/* ---- the GIOStream ------------------------------------------------------- */

static GInputStream *
get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PUNCH_QUIC_STREAM (stream)->input);
}

static GOutputStream *
get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PUNCH_QUIC_STREAM (stream)->output);
}

static gboolean
io_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  PunchQuicStream *self = PUNCH_QUIC_STREAM (stream);

  request_fin (self);
  input_close (G_INPUT_STREAM (self->input), cancellable, NULL);
  return TRUE;
}

static void
on_output_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

/* GIOStream's default async close runs close_fn in a thread: not here. */
static void
io_close_async (GIOStream *stream, int io_priority, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data)
{
  PunchQuicStream *self = PUNCH_QUIC_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  input_close (G_INPUT_STREAM (self->input), cancellable, NULL);
  g_output_stream_close_async (G_OUTPUT_STREAM (self->output), io_priority, cancellable,
                               on_output_closed, task);
}

static gboolean
io_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
tx_chunk_free (TxChunk *chunk)
{
  g_free (chunk->data);
  g_free (chunk);
}

static void
punch_quic_stream_init (PunchQuicStream *self)
{
  self->id = -1;
  self->rx = g_byte_array_new ();
  g_queue_init (&self->tx);
  self->read_waiters = g_ptr_array_new_with_free_func ((GDestroyNotify)g_source_unref);
  self->write_waiters = g_ptr_array_new_with_free_func ((GDestroyNotify)g_source_unref);
}

static void
punch_quic_stream_finalize (GObject *object)
{
  PunchQuicStream *self = PUNCH_QUIC_STREAM (object);

  g_assert (self->close_tasks == NULL);
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_byte_array_unref (self->rx);
  g_queue_clear_full (&self->tx, (GDestroyNotify)tx_chunk_free);
  g_ptr_array_unref (self->read_waiters);
  g_ptr_array_unref (self->write_waiters);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (punch_quic_stream_parent_class)->finalize (object);
}

static void
punch_quic_stream_class_init (PunchQuicStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = punch_quic_stream_finalize;
  stream_class->get_input_stream = get_input_stream;
  stream_class->get_output_stream = get_output_stream;
  stream_class->close_fn = io_close;
  stream_class->close_async = io_close_async;
  stream_class->close_finish = io_close_finish;
}

/* ---- private API ---------------------------------------------------------- */

PunchQuicStream *
punch_quic_stream_new (PunchQuic *owner, gint64 id)
{
  PunchQuicStream *self = g_object_new (PUNCH_TYPE_QUIC_STREAM, NULL);

  self->quic = owner;
  self->id = id;
  self->input = g_object_new (PUNCH_TYPE_QUIC_INPUT, NULL);
  self->input->owner = self;
  self->output = g_object_new (PUNCH_TYPE_QUIC_OUTPUT, NULL);
  self->output->owner = self;
  return self;
}

gint64
punch_quic_stream_get_id (PunchQuicStream *s)
{
  return s->id;
}

void
punch_quic_stream_set_id (PunchQuicStream *s, gint64 id)
{
  s->id = id;
}

void
punch_quic_stream_receive (PunchQuicStream *s, const guint8 *data, gsize len, gboolean fin)
{
  if (len)
    g_byte_array_append (s->rx, data, len);
  s->rx_total += len;
  if (fin)
    s->rx_fin = TRUE;
  wake (s->read_waiters);
}

void
punch_quic_stream_acked (PunchQuicStream *s, guint64 offset)
{
  TxChunk *head;

  if (offset <= s->tx_acked)
    return;
  s->tx_acked = MIN (offset, s->tx_sent);
  while ((head = g_queue_peek_head (&s->tx)) != NULL && s->tx_base + head->len <= s->tx_acked
         && (head->len == TX_CHUNK || s->tx_base + head->len == s->tx_end))
    {
      s->tx_base += head->len;
      tx_chunk_free (g_queue_pop_head (&s->tx));
    }
  wake (s->write_waiters);
  finish_close_tasks (s);
}

void
punch_quic_stream_closed (PunchQuicStream *s)
{
  if (s->fin_sent)
    {
      s->fin_acked = TRUE;
      s->tx_acked = s->tx_end;
    }
  finish_close_tasks (s);
}

void
punch_quic_stream_fail (PunchQuicStream *s, const GError *error)
{
  if (s->error == NULL)
    s->error = g_error_copy (error);
  wake (s->read_waiters);
  wake (s->write_waiters);
  finish_close_tasks (s);
}

void
punch_quic_stream_peer_done (PunchQuicStream *s)
{
  s->peer_done = TRUE;
  finish_close_tasks (s);
}

void
punch_quic_stream_forget (PunchQuicStream *s)
{
  s->quic = NULL;
}

void
punch_quic_stream_detach (PunchQuicStream *s)
{
  g_autoptr (GError) error = NULL;

  s->quic = NULL;
  error = g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the connection is closed");
  punch_quic_stream_fail (s, error);
}

gsize
punch_quic_stream_peek (PunchQuicStream *s, ngtcp2_vec *vec, gsize max, gboolean *fin)
{
  guint64 start = s->tx_base, at = s->tx_sent;
  gsize n = 0;

  *fin = FALSE;
  if (s->error || s->id < 0)
    return 0;
  for (GList *l = s->tx.head; l && n < max; l = l->next)
    {
      TxChunk *chunk = l->data;
      guint64 end = start + chunk->len;
      if (end > at)
        {
          vec[n].base = chunk->data + (at - start);
          vec[n].len = end - at;
          at = end;
          n++;
        }
      start = end;
    }
  *fin = s->fin_wanted && !s->fin_sent && at == s->tx_end;
  return n;
}

gboolean
punch_quic_stream_wants_write (PunchQuicStream *s)
{
  return s->error == NULL && s->id >= 0
         && (s->announce || s->tx_sent < s->tx_end || (s->fin_wanted && !s->fin_sent));
}

void
punch_quic_stream_announce (PunchQuicStream *s)
{
  s->announce = TRUE;
}

void
punch_quic_stream_sent (PunchQuicStream *s, gsize n, gboolean fin)
{
  s->announce = FALSE;
  s->tx_sent += n;
  if (fin && s->tx_sent == s->tx_end)
    {
      s->fin_sent = TRUE;
      s->fin_with_data = n > 0;
    }
}

gboolean
punch_quic_stream_is_half_received (PunchQuicStream *s)
{
  return s->rx_total > 0 && !s->rx_fin;
}

guint64
punch_quic_stream_get_bytes_read (PunchQuicStream *s)
{
  return s->bytes_read;
}

guint64
punch_quic_stream_get_bytes_written (PunchQuicStream *s)
{
  return s->tx_end;
}
