/* punch-signal-frame-guard.c: a WebSocket frame watchdog on the server's input
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-frame-guard.h"

struct _PunchSignalFrameGuard
{
  GFilterInputStream parent;

  guint64 max_message;
  double rate;  /* frames per second */
  double burst; /* bucket size */
  double tokens;
  gint64 last_refill;

  guint8 hdr[14];
  guint hdr_len;
  guint hdr_need;
  guint64 payload_left;
  guint64 fragmented; /* payload so far of a fragmented message */

  gboolean tripped;
  gushort close_code;
  const char *reason;
  GMainContext *context; /* the creator's thread-default: the callback runs there */
  GSource *idle;
  PunchSignalFrameGuardFunc func;
  gpointer user_data;

  gboolean held;
  GCancellable *wake; /* cancelled on release: the sources made while held fire */
};

static void pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchSignalFrameGuard, punch_signal_frame_guard,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pollable_iface_init))

static gboolean
notify_idle (gpointer data)
{
  PunchSignalFrameGuard *self = data;

  g_clear_pointer (&self->idle, g_source_unref);
  if (self->func)
    self->func (self->close_code, self->reason, self->user_data);
  return G_SOURCE_REMOVE;
}

static void
trip (PunchSignalFrameGuard *self, gushort code, const char *reason)
{
  self->tripped = TRUE;
  self->close_code = code;
  self->reason = reason;
  if (self->func && self->idle == NULL)
    {
      self->idle = g_idle_source_new ();
      g_source_set_priority (self->idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->idle, notify_idle, g_object_ref (self), g_object_unref);
      g_source_attach (self->idle, self->context);
    }
}

/* Returns FALSE when the frame whose header just completed must not pass. */
static gboolean
account (PunchSignalFrameGuard *self)
{
  guint8 opcode = self->hdr[0] & 0x0f;
  gboolean fin = (self->hdr[0] & 0x80) != 0;
  guint8 len7 = self->hdr[1] & 0x7f;
  guint64 len = len7;
  gint64 now = g_get_monotonic_time ();

  if (len7 == 126)
    len = ((guint64)self->hdr[2] << 8) | self->hdr[3];
  else if (len7 == 127)
    {
      len = 0;
      for (int i = 2; i < 10; i++)
        len = (len << 8) | self->hdr[i];
    }
  self->payload_left = len;

  self->tokens += (double)(now - self->last_refill) * self->rate / G_USEC_PER_SEC;
  self->last_refill = now;
  if (self->tokens > self->burst)
    self->tokens = self->burst;
  if (self->tokens < 1.0)
    {
      trip (self, 1008, "too many frames");
      return FALSE;
    }
  self->tokens -= 1.0;

  if (opcode & 0x08) /* control frames: libsoup checks them */
    return TRUE;
  /* libsoup 3.2 drops the connection without a close frame for an oversized
   * frame (max-incoming-payload-size); answer 1009 instead */
  if (len > self->max_message)
    {
      trip (self, 1009, "message too big");
      return FALSE;
    }
  if (opcode != 0)
    self->fragmented = fin ? 0 : len; /* a single frame: libsoup checks its size */
  else
    {
      self->fragmented += len;
      if (self->fragmented > self->max_message)
        {
          trip (self, 1009, "fragmented message too big");
          return FALSE;
        }
      if (fin)
        self->fragmented = 0;
    }
  return TRUE;
}

/* Follows the frames in the @n bytes just read; returns how many may pass. */
static gssize
scan (PunchSignalFrameGuard *self, const guint8 *buf, gssize n)
{
  gssize i = 0;
  gssize hdr_start = 0; /* where the header being read began in this read (0: earlier) */

  while (i < n)
    {
      if (self->payload_left > 0)
        {
          guint64 skip = MIN (self->payload_left, (guint64)(n - i));
          self->payload_left -= skip;
          i += (gssize)skip;
          continue;
        }
      if (self->hdr_len == 0)
        hdr_start = i;
      self->hdr[self->hdr_len++] = buf[i++];
      if (self->hdr_len == 2)
        {
          guint8 len7 = self->hdr[1] & 0x7f;
          self->hdr_need = 2
                           + (len7 == 126   ? 2
                              : len7 == 127 ? 8
                                            : 0)
                           + ((self->hdr[1] & 0x80) ? 4 : 0);
        }
      if (self->hdr_len >= 2 && self->hdr_len == self->hdr_need)
        {
          self->hdr_len = 0;
          if (!account (self))
            return hdr_start;
          /* the mask is part of the header we counted; payload follows */
        }
    }
  return n;
}

static gssize
after_read (PunchSignalFrameGuard *self, void *buffer, gssize n, GError **error)
{
  gssize pass;

  if (n <= 0)
    return n;
  pass = scan (self, buffer, n);
  if (pass == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "input held back");
      return -1;
    }
  return pass;
}

static gssize
guard_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
            GError **error)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));

  if (self->tripped)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, self->reason);
      return -1;
    }
  return after_read (self, buffer, g_input_stream_read (base, buffer, count, cancellable, error),
                     error);
}

static gboolean
guard_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base)
         && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
guard_is_readable (GPollableInputStream *stream)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));

  return !self->tripped && !self->held
         && g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base));
}

static GSource *
guard_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  g_autoptr (GSource) base_source = NULL;

  if (self->tripped) /* a source that never fires: input stays held back */
    return g_pollable_source_new (G_OBJECT (stream));
  if (self->held) /* fires when released */
    {
      g_autoptr (GSource) wake = NULL;

      if (self->wake == NULL)
        self->wake = g_cancellable_new ();
      wake = g_cancellable_source_new (self->wake);
      return g_pollable_source_new_full (stream, wake, cancellable);
    }
  base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base), NULL);
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
guard_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));

  if (self->tripped || self->held)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "input held back");
      return -1;
    }
  return after_read (self, buffer,
                     g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base),
                                                               buffer, count, NULL, error),
                     error);
}

static void
pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = guard_can_poll;
  iface->is_readable = guard_is_readable;
  iface->create_source = guard_create_source;
  iface->read_nonblocking = guard_read_nonblocking;
}

static void
punch_signal_frame_guard_dispose (GObject *object)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (object);

  self->func = NULL;
  g_clear_object (&self->wake);
  if (self->idle)
    {
      g_source_destroy (self->idle);
      g_clear_pointer (&self->idle, g_source_unref);
    }
  G_OBJECT_CLASS (punch_signal_frame_guard_parent_class)->dispose (object);
}

static void
punch_signal_frame_guard_finalize (GObject *object)
{
  PunchSignalFrameGuard *self = PUNCH_SIGNAL_FRAME_GUARD (object);

  g_main_context_unref (self->context);
  G_OBJECT_CLASS (punch_signal_frame_guard_parent_class)->finalize (object);
}

static void
punch_signal_frame_guard_class_init (PunchSignalFrameGuardClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = punch_signal_frame_guard_dispose;
  G_OBJECT_CLASS (klass)->finalize = punch_signal_frame_guard_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = guard_read;
}

static void
punch_signal_frame_guard_init (PunchSignalFrameGuard *self)
{
  self->context = g_main_context_ref_thread_default ();
}

GInputStream *
punch_signal_frame_guard_new (GInputStream *base, guint64 max_message, guint frames_per_second,
                              PunchSignalFrameGuardFunc func, gpointer user_data)
{
  PunchSignalFrameGuard *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base), NULL);
  self = g_object_new (PUNCH_TYPE_SIGNAL_FRAME_GUARD, "base-stream", base, NULL);
  self->max_message = max_message;
  self->rate = MAX (frames_per_second, 1);
  self->burst = self->rate * 10;
  self->tokens = self->burst;
  self->last_refill = g_get_monotonic_time ();
  self->func = func;
  self->user_data = user_data;
  return G_INPUT_STREAM (self);
}

void
punch_signal_frame_guard_hold (PunchSignalFrameGuard *self, gboolean hold)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_FRAME_GUARD (self));
  if (self->held == hold)
    return;
  self->held = hold;
  if (!hold && self->wake)
    {
      g_cancellable_cancel (self->wake);
      g_clear_object (&self->wake);
    }
}

void
punch_signal_frame_guard_disarm (PunchSignalFrameGuard *self)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_FRAME_GUARD (self));
  self->func = NULL;
}
