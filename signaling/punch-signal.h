/* punch-signal.h: the umbrella header of libpunch-signal, the punch-signal client library
 *
 * Applications include <punch/punch-signal.h> and build with
 * `pkg-config --cflags --libs punch-signal` (docs/signaling.md).
 * The server's own headers (punch-signal-server*.h) are not part of it.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#define PUNCH_SIGNAL_INSIDE
#include "punch.h"
#include "punch-signal-export.h"
#include "punch-signal-message.h"
#include "punch-signal-token.h"
#include "punch-signal-client.h"
#include "punch-signal-binding.h"
#include "punch-signal-enum-types.h"
#undef PUNCH_SIGNAL_INSIDE
