/* punch-signal-output-meter.c: counts the bytes that leave through a stream
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-output-meter.h"

struct _PunchSignalOutputMeter
{
  GFilterOutputStream parent;

  guint64 written;
};

static void pollable_iface_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchSignalOutputMeter, punch_signal_output_meter,
                               G_TYPE_FILTER_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      pollable_iface_init))

static GOutputStream *
base_of (gpointer stream)
{
  return g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));
}

static gssize
count (PunchSignalOutputMeter *self, gssize n)
{
  if (n > 0)
    self->written += (guint64)n;
  return n;
}

static gssize
meter_write (GOutputStream *stream, const void *buffer, gsize size, GCancellable *cancellable,
             GError **error)
{
  return count (PUNCH_SIGNAL_OUTPUT_METER (stream),
                g_output_stream_write (base_of (stream), buffer, size, cancellable, error));
}

static gboolean
meter_flush (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  return g_output_stream_flush (base_of (stream), cancellable, error);
}

static gboolean
meter_can_poll (GPollableOutputStream *stream)
{
  GOutputStream *base = base_of (stream);

  return G_IS_POLLABLE_OUTPUT_STREAM (base)
         && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (base));
}

static gboolean
meter_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (base_of (stream)));
}

static GSource *
meter_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) base_source
      = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (base_of (stream)), NULL);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
meter_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize size,
                         GError **error)
{
  return count (PUNCH_SIGNAL_OUTPUT_METER (stream),
                g_pollable_output_stream_write_nonblocking (
                    G_POLLABLE_OUTPUT_STREAM (base_of (stream)), buffer, size, NULL, error));
}

static void
pollable_iface_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = meter_can_poll;
  iface->is_writable = meter_is_writable;
  iface->create_source = meter_create_source;
  iface->write_nonblocking = meter_write_nonblocking;
}

static void
punch_signal_output_meter_class_init (PunchSignalOutputMeterClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = meter_write;
  G_OUTPUT_STREAM_CLASS (klass)->flush = meter_flush;
}

static void
punch_signal_output_meter_init (PunchSignalOutputMeter *self)
{
}

GOutputStream *
punch_signal_output_meter_new (GOutputStream *base)
{
  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (base), NULL);
  return g_object_new (PUNCH_TYPE_SIGNAL_OUTPUT_METER, "base-stream", base, NULL);
}

guint64
punch_signal_output_meter_get_written (PunchSignalOutputMeter *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_OUTPUT_METER (self), 0);
  return self->written;
}
