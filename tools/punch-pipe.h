/* punch-pipe.h: stdin to the peer, the peer to stdout, over a connected session
 *
 * Reliable mode copies stdin into the session's default stream and the
 * stream into stdout. The end of stdin closes the stream's output, and that
 * close completes only once the peer has acknowledged every byte and the end
 * of stream: then `acknowledged` is true. The peer's end of stream is the end
 * of what goes to stdout.
 *
 * Datagram mode cuts each read of stdin into datagrams of at most 1200 bytes
 * (and at most the path's datagram size), waiting when the session's queue
 * is full, and writes the datagrams received to stdout, in order. On a
 * secure session the end of stdin is told to the peer by closing the default
 * stream (no data on it), so both ends know when the other is done; a
 * datagram is dropped only when stdout falls more than RX_QUEUE_MAX behind,
 * and that is counted (punch_pipe_get_dropped()). On a plaintext session
 * there is no end: `done` follows the end of stdin, and the peer's datagrams
 * keep coming until the caller frees the pipe.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include <punch.h>

#include "punch-output.h"

G_BEGIN_DECLS

typedef struct _PunchPipe PunchPipe;

typedef void (*PunchPipeDoneFunc) (PunchPipe *pipe, const GError *error, gpointer user_data);

/**
 * punch_pipe_new:
 * @reliable: copy a byte stream (else datagrams)
 * @events: where progress (`progress` events once a second while data
 *   flows) is printed; borrowed
 */
PunchPipe *punch_pipe_new (PunchSession *session, gboolean reliable, GInputStream *in,
                           GOutputStream *out, PunchOutput *events, PunchPipeDoneFunc done,
                           gpointer user_data);
void punch_pipe_start (PunchPipe *pipe);
/** The monotonic time (g_get_monotonic_time()) the `first-byte` event counts from. */
void punch_pipe_set_origin (PunchPipe *pipe, gint64 origin);
guint64 punch_pipe_get_bytes_sent (PunchPipe *pipe);
guint64 punch_pipe_get_bytes_received (PunchPipe *pipe);
/** Datagrams received but not written to stdout because it fell too far behind. */
guint64 punch_pipe_get_dropped (PunchPipe *pipe);
/** %TRUE once the peer acknowledged everything we sent and our end (secure sessions). */
gboolean punch_pipe_get_acknowledged (PunchPipe *pipe);
/** Seconds from the first byte moved to now (or to the end). */
double punch_pipe_get_seconds (PunchPipe *pipe);
void punch_pipe_free (PunchPipe *pipe);

G_END_DECLS
