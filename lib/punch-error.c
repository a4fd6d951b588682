/* punch-error.c
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-error.h"

G_DEFINE_QUARK (punch - error - quark, punch_error)

const char *
punch_error_code_to_string (PunchErrorCode code)
{
  switch (code)
    {
    case PUNCH_ERROR_FAILED: return "failed";
    case PUNCH_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case PUNCH_ERROR_TIMEOUT: return "timeout";
    case PUNCH_ERROR_ICE_FAILED: return "ice-failed";
    case PUNCH_ERROR_AUTHENTICATION: return "authentication";
    case PUNCH_ERROR_SIGNALING: return "signaling";
    case PUNCH_ERROR_PROTOCOL: return "protocol";
    case PUNCH_ERROR_CLOSED: return "closed";
    case PUNCH_ERROR_RELAY_REQUIRED: return "relay-required";
    case PUNCH_ERROR_UNREACHABLE: return "unreachable";
    case PUNCH_ERROR_WOULD_BLOCK: return "would-block";
    case PUNCH_ERROR_PEER_GONE: return "peer-gone";
    case PUNCH_ERROR_PATH_LOST: return "path-lost";
    case PUNCH_ERROR_RELAY_LOST: return "relay-lost";
    case PUNCH_ERROR_NO_ADDRESS: return "no-address";
    default: return "unknown";
    }
}
