/* punch-signal.h: the punch-signal client library umbrella header
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch-signal-message.h"
#include "punch-signal-token.h"
#include "punch-signal-client.h"
#include "punch-signal-binding.h"
#include "punch-signal-server-config.h"
#include "punch-signal-server.h"
