/* punch-signal-frame-guard.h: a WebSocket frame watchdog on the server's input (private)
 *
 * libsoup 3.2 bounds the size of one frame (max-incoming-payload-size) but
 * drops the connection without a close frame when it is exceeded; it does not
 * bound the sum of a fragmented message's continuation frames; and it answers
 * every ping. The guard reads the same bytes libsoup reads, follows the frame
 * headers, and trips when a frame or a fragmented message is larger than
 * @max_message, or
 * when frames arrive faster than @frames_per_second (with a burst of ten
 * seconds' worth). Once tripped it holds back the offending frame and all
 * input after it, so libsoup buffers nothing more, and calls @func from an
 * idle callback so the caller can close the connection with a proper code.
 * That idle runs on the thread-default #GMainContext of the caller of
 * punch_signal_frame_guard_new() (a server shard's context), never on the
 * global default context.
 *
 * The server can also hold a connection's input back for a while
 * (punch_signal_frame_guard_hold()): while its earlier messages wait for
 * their turn, nothing more is read, so TCP pushes back on the sender
 * instead of the server buffering for it.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @close_code: 1009 (message too big) or 1008 (policy violation) */
typedef void (*PunchSignalFrameGuardFunc) (gushort close_code, const char *reason,
                                           gpointer user_data);

#define PUNCH_TYPE_SIGNAL_FRAME_GUARD (punch_signal_frame_guard_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignalFrameGuard, punch_signal_frame_guard, PUNCH, SIGNAL_FRAME_GUARD,
                      GFilterInputStream)

/**
 * punch_signal_frame_guard_new:
 * @base: a pollable input stream, e.g. the input of a stolen HTTP connection
 * @max_message: the largest frame or fragmented message, in bytes
 * @frames_per_second: the sustained frame rate allowed
 * @func: called once, from an idle on the caller's thread-default context, when tripped
 * @user_data: for @func
 *
 * Returns: (transfer full): the guarded stream to give libsoup instead of @base
 */
GInputStream *punch_signal_frame_guard_new (GInputStream *base, guint64 max_message,
                                            guint frames_per_second, PunchSignalFrameGuardFunc func,
                                            gpointer user_data);
/**
 * punch_signal_frame_guard_hold:
 * @self: a guard
 * @hold: TRUE to read nothing more for now; FALSE to read again
 *
 * While held, reads would block and the stream's source does not fire;
 * released, the source fires at once (in its context's next iteration), so
 * the reader goes on with what arrived meanwhile.
 */
void punch_signal_frame_guard_hold (PunchSignalFrameGuard *self, gboolean hold);

/**
 * punch_signal_frame_guard_disarm:
 * @self: a guard
 *
 * Stops calling the callback (call it before the callback's data goes away).
 */
void punch_signal_frame_guard_disarm (PunchSignalFrameGuard *self);

G_END_DECLS
