/* punch-stream-private.h: the reliable-mode byte stream handed to applications
 *
 * libnice reads its sockets in reliable mode only while someone reads its
 * GIOStream, so connectivity checks stall until the application reads. The
 * session therefore keeps one read pending on libnice's stream at all times,
 * buffers up to a bound (then stops reading, which closes the pseudo-TCP
 * window: back-pressure), and gives the application this buffered stream.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_STREAM (punch_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchStream, punch_stream, PUNCH, STREAM, GIOStream)

/** @base: libnice's reliable GIOStream; reads start at once */
PunchStream *punch_stream_new (GIOStream *base);
guint64 punch_stream_get_bytes_received (PunchStream *self);
guint64 punch_stream_get_bytes_sent (PunchStream *self);
guint64 punch_stream_get_reads (PunchStream *self);

G_END_DECLS
