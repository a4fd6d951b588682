/* punch-signal-output-meter.h: counts the bytes that leave through a stream (private)
 *
 * libsoup 3.2 queues outgoing WebSocket frames without bound and has no way
 * to ask how much is queued. The server wraps each connection's output in a
 * meter: what it handed to libsoup minus what went through the meter is what
 * waits in libsoup's queue for a peer that does not read.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_OUTPUT_METER (punch_signal_output_meter_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignalOutputMeter, punch_signal_output_meter, PUNCH, SIGNAL_OUTPUT_METER,
                      GFilterOutputStream)

/** @base: a pollable output stream, e.g. the output of a stolen HTTP connection */
GOutputStream *punch_signal_output_meter_new (GOutputStream *base);
/** Returns: the bytes written through the meter so far */
guint64 punch_signal_output_meter_get_written (PunchSignalOutputMeter *self);

G_END_DECLS
