/* punch-pipe.h: stdin to the peer, the peer to stdout, over a connected session
 *
 * Reliable mode is a byte stream, framed on the wire (a 4-byte length before
 * each chunk; length 0 marks the end of stdin, see punch-pipe.c for why): the
 * pipe is done when stdin has ended, everything is written, and the peer's
 * end mark has arrived. A stream that ends without the mark is an error.
 *
 * Datagram mode sends each read of stdin (at most 1200 bytes) as one datagram
 * and writes each datagram received to stdout. There is no end of stream:
 * `done` is called when stdin ends, and the peer's datagrams keep coming
 * until the caller frees the pipe (for example once the peer says bye).
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
 * @events: where progress (`progress` events once a second while data
 *   flows) is printed; borrowed
 */
PunchPipe *punch_pipe_new (PunchSession *session, GInputStream *in, GOutputStream *out,
                           PunchOutput *events, PunchPipeDoneFunc done, gpointer user_data);
void punch_pipe_start (PunchPipe *pipe);
/** The monotonic time (g_get_monotonic_time()) the `first-byte` event counts from. */
void punch_pipe_set_origin (PunchPipe *pipe, gint64 origin);
guint64 punch_pipe_get_bytes_sent (PunchPipe *pipe);
guint64 punch_pipe_get_bytes_received (PunchPipe *pipe);
/** Seconds from the first byte moved to now (or to the end). */
double punch_pipe_get_seconds (PunchPipe *pipe);
void punch_pipe_free (PunchPipe *pipe);

G_END_DECLS
