/* punch.h: the libpunch umbrella header
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#define PUNCH_INSIDE
#include "punch-export.h"
#include "punch-error.h"
#include "punch-ice-server.h"
#include "punch-candidate.h"
#include "punch-description.h"
#include "punch-identity.h"
#include "punch-config.h"
#include "punch-session.h"
#include "punch-enum-types.h"
#include "punch-text.h"
#include "punch-stun-address.h"
#include "punch-check-classify.h"
#include "punch-nat-check.h"
#undef PUNCH_INSIDE
