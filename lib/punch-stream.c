/* punch-stream.c: a buffered, pollable GIOStream over libnice's reliable stream
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-stream-private.h"

#include <string.h>

#define PUMP_CHUNK (64 * 1024)
#define BUFFER_CAP (1024 * 1024)

/* ---- input side --------------------------------------------------------- */

#define PUNCH_TYPE_STREAM_INPUT (punch_stream_input_get_type ())
G_DECLARE_FINAL_TYPE (PunchStreamInput, punch_stream_input, PUNCH, STREAM_INPUT, GInputStream)

struct _PunchStreamInput
{
  GInputStream parent_instance;
  PunchStream *owner; /* weak: the owner outlives its input stream's use */
};

static void punch_stream_input_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchStreamInput, punch_stream_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      punch_stream_input_pollable_iface_init))

/* ---- output side: counts bytes, forwards to libnice's pollable stream ---- */

#define PUNCH_TYPE_STREAM_OUTPUT (punch_stream_output_get_type ())
G_DECLARE_FINAL_TYPE (PunchStreamOutput, punch_stream_output, PUNCH, STREAM_OUTPUT, GOutputStream)

struct _PunchStreamOutput
{
  GOutputStream parent_instance;
  PunchStream *owner;
};

static void punch_stream_output_pollable_iface_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchStreamOutput, punch_stream_output, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      punch_stream_output_pollable_iface_init))

struct _PunchStream
{
  GIOStream parent_instance;
  GIOStream *base;
  PunchStreamInput *input;
  PunchStreamOutput *output;
  GByteArray *buffer;
  gboolean eof;
  GError *error;
  gboolean pumping;
  GCancellable *cancellable;
  GPtrArray *waiters; /* GSource, woken when data, EOF or an error arrives */
  guint64 bytes_received;
  guint64 bytes_sent;
  guint64 reads;
};

G_DEFINE_FINAL_TYPE (PunchStream, punch_stream, G_TYPE_IO_STREAM)

static void pump (PunchStream *self);

static void
wake_waiters (PunchStream *self)
{
  for (guint i = 0; i < self->waiters->len;)
    {
      GSource *source = self->waiters->pdata[i];
      if (g_source_is_destroyed (source))
        {
          g_ptr_array_remove_index_fast (self->waiters, i);
          continue;
        }
      g_source_set_ready_time (source, 0);
      i++;
    }
}

static void
on_pumped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchStream *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }
  self->pumping = FALSE;
  if (bytes == NULL)
    self->error = g_steal_pointer (&error);
  else if (g_bytes_get_size (bytes) == 0)
    self->eof = TRUE;
  else
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (bytes, &len);
      g_byte_array_append (self->buffer, data, len);
      self->bytes_received += len;
      self->reads++;
    }
  wake_waiters (self);
  pump (self);
  g_object_unref (self);
}

static void
pump (PunchStream *self)
{
  if (self->pumping || self->eof || self->error || self->buffer->len >= BUFFER_CAP
      || g_cancellable_is_cancelled (self->cancellable))
    return;
  self->pumping = TRUE;
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (self->base), PUMP_CHUNK,
                                   G_PRIORITY_DEFAULT, self->cancellable, on_pumped,
                                   g_object_ref (self));
}

/* PunchStreamInput */

static gssize
input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  PunchStream *self = PUNCH_STREAM_INPUT (stream)->owner;
  gsize n;

  if (self->buffer->len == 0)
    {
      if (self->error)
        {
          g_propagate_error (error, g_error_copy (self->error));
          return -1;
        }
      if (self->eof)
        return 0;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "no data yet");
      return -1;
    }
  n = MIN (count, self->buffer->len);
  memcpy (buffer, self->buffer->data, n);
  g_byte_array_remove_range (self->buffer, 0, n);
  pump (self);
  return n;
}

static gboolean
input_is_readable (GPollableInputStream *stream)
{
  PunchStream *self = PUNCH_STREAM_INPUT (stream)->owner;
  return self->buffer->len > 0 || self->eof || self->error;
}

static gboolean
input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
ready_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  /* a child of the pollable source: its readiness dispatches the parent */
  g_source_set_ready_time (source, -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs ready_funcs = { NULL, NULL, ready_dispatch, NULL, NULL, NULL };

static GSource *
input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  PunchStream *self = PUNCH_STREAM_INPUT (stream)->owner;
  GSource *ready = g_source_new (&ready_funcs, sizeof (GSource));
  GSource *pollable = g_pollable_source_new_full (stream, NULL, cancellable);

  g_source_set_name (ready, "[punch] stream readable");
  g_source_add_child_source (pollable, ready);
  g_ptr_array_add (self->waiters, ready); /* the array holds a ref */
  if (input_is_readable (stream))
    g_source_set_ready_time (ready, 0);
  return pollable;
}

static gssize
input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
            GError **error)
{
  /* A blocking read on the context that runs the pump would deadlock. */
  return input_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer, count, error);
}

static gboolean
input_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
punch_stream_input_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
punch_stream_input_init (PunchStreamInput *self)
{
}

static void
punch_stream_input_class_init (PunchStreamInputClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = input_read;
  stream_class->close_fn = input_close;
}

/* PunchStreamOutput */

static GPollableOutputStream *
base_output (PunchStreamOutput *self)
{
  return G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (self->owner->base));
}

static gssize
output_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count,
                          GError **error)
{
  PunchStreamOutput *self = PUNCH_STREAM_OUTPUT (stream);
  gssize n
      = g_pollable_output_stream_write_nonblocking (base_output (self), buffer, count, NULL, error);
  if (n > 0)
    self->owner->bytes_sent += n;
  return n;
}

static gboolean
output_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (base_output (PUNCH_STREAM_OUTPUT (stream)));
}

static gboolean
output_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  GSource *base = g_pollable_output_stream_create_source (
      base_output (PUNCH_STREAM_OUTPUT (stream)), cancellable);
  GSource *pollable = g_pollable_source_new_full (stream, base, cancellable);

  g_source_unref (base);
  return pollable;
}

static gssize
output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
              GError **error)
{
  return output_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer, count, error);
}

static gboolean
output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  return g_output_stream_close (G_OUTPUT_STREAM (base_output (PUNCH_STREAM_OUTPUT (stream))),
                                cancellable, error);
}

static void
punch_stream_output_pollable_iface_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
punch_stream_output_init (PunchStreamOutput *self)
{
}

static void
punch_stream_output_class_init (PunchStreamOutputClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  stream_class->write_fn = output_write;
  stream_class->close_fn = output_close;
}

/* PunchStream */

static GInputStream *
get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PUNCH_STREAM (stream)->input);
}

static GOutputStream *
get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PUNCH_STREAM (stream)->output);
}

static gboolean
io_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  PunchStream *self = PUNCH_STREAM (stream);

  g_cancellable_cancel (self->cancellable);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
punch_stream_init (PunchStream *self)
{
  self->buffer = g_byte_array_new ();
  self->cancellable = g_cancellable_new ();
  self->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify)g_source_unref);
}

static void
punch_stream_dispose (GObject *object)
{
  PunchStream *self = PUNCH_STREAM (object);

  g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (punch_stream_parent_class)->dispose (object);
}

static void
punch_stream_finalize (GObject *object)
{
  PunchStream *self = PUNCH_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  g_clear_object (&self->cancellable);
  g_byte_array_unref (self->buffer);
  g_ptr_array_unref (self->waiters);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (punch_stream_parent_class)->finalize (object);
}

static void
punch_stream_class_init (PunchStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = punch_stream_dispose;
  object_class->finalize = punch_stream_finalize;
  stream_class->get_input_stream = get_input_stream;
  stream_class->get_output_stream = get_output_stream;
  stream_class->close_fn = io_close;
}

PunchStream *
punch_stream_new (GIOStream *base)
{
  PunchStream *self = g_object_new (PUNCH_TYPE_STREAM, NULL);

  self->base = g_object_ref (base);
  self->input = g_object_new (PUNCH_TYPE_STREAM_INPUT, NULL);
  self->input->owner = self;
  self->output = g_object_new (PUNCH_TYPE_STREAM_OUTPUT, NULL);
  self->output->owner = self;
  pump (self);
  return self;
}

guint64
punch_stream_get_bytes_received (PunchStream *self)
{
  return self->bytes_received;
}

guint64
punch_stream_get_bytes_sent (PunchStream *self)
{
  return self->bytes_sent;
}

guint64
punch_stream_get_reads (PunchStream *self)
{
  return self->reads;
}
