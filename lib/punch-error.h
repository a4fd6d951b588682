/* punch-error.h: the one error domain of libpunch
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-export.h"

G_BEGIN_DECLS

#define PUNCH_ERROR (punch_error_quark ())

/**
 * PunchErrorCode:
 * @PUNCH_ERROR_FAILED: a failure with no better code
 * @PUNCH_ERROR_INVALID_ARGUMENT: bad input: a malformed URI, candidate or description
 * @PUNCH_ERROR_TIMEOUT: a deadline passed
 * @PUNCH_ERROR_ICE_FAILED: every candidate pair failed, or consent was lost
 * @PUNCH_ERROR_AUTHENTICATION: a server or the peer rejected our credentials, or the peer
 *   presented a key other than the one whose fingerprint was expected
 * @PUNCH_ERROR_SIGNALING: the signaling channel failed
 * @PUNCH_ERROR_PROTOCOL: the other side sent something that breaks the protocol
 * @PUNCH_ERROR_CLOSED: the session is closed
 * @PUNCH_ERROR_RELAY_REQUIRED: no direct path exists and no relay is available
 * @PUNCH_ERROR_UNREACHABLE: a server could not be reached
 * @PUNCH_ERROR_WOULD_BLOCK: a queue is full; wait for the session's `writable` signal
 * @PUNCH_ERROR_PEER_GONE: the peer is gone: signaling saw it leave while its path
 *   went silent, it never answered an ICE restart, or nothing authenticated came
 *   from it for the consent timeout
 * @PUNCH_ERROR_PATH_LOST: the path went silent and ICE restarts found no new one
 *   (the message says what the last restart saw)
 * @PUNCH_ERROR_RELAY_LOST: the path went through a TURN server that stopped
 *   answering, and no other path exists (the message names the server)
 * @PUNCH_ERROR_NO_ADDRESS: the local network has no usable address (for
 *   example a configured local address that this host does not have)
 */
typedef enum
{
  PUNCH_ERROR_FAILED,
  PUNCH_ERROR_INVALID_ARGUMENT,
  PUNCH_ERROR_TIMEOUT,
  PUNCH_ERROR_ICE_FAILED,
  PUNCH_ERROR_AUTHENTICATION,
  PUNCH_ERROR_SIGNALING,
  PUNCH_ERROR_PROTOCOL,
  PUNCH_ERROR_CLOSED,
  PUNCH_ERROR_RELAY_REQUIRED,
  PUNCH_ERROR_UNREACHABLE,
  PUNCH_ERROR_WOULD_BLOCK,
  PUNCH_ERROR_PEER_GONE,
  PUNCH_ERROR_PATH_LOST,
  PUNCH_ERROR_RELAY_LOST,
  PUNCH_ERROR_NO_ADDRESS,
} PunchErrorCode;

/**
 * punch_error_quark:
 *
 * Returns: the quark of the %PUNCH_ERROR domain
 */
PUNCH_EXPORT GQuark punch_error_quark (void);

/**
 * punch_error_code_to_string:
 * @code: an error code
 *
 * Returns: (transfer none): a short stable name such as "timeout", used in JSON
 *   output; "unknown" for a value that is not a #PunchErrorCode. It equals the
 *   value's nick in %PUNCH_TYPE_ERROR_CODE.
 */
PUNCH_EXPORT const char *punch_error_code_to_string (PunchErrorCode code);

G_END_DECLS
