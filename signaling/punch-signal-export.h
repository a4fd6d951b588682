/* punch-signal-export.h: symbol visibility for libpunch-signal
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#if defined(PUNCH_SIGNAL_COMPILATION) || defined(PUNCH_SIGNAL_STATIC)
#define PUNCH_SIGNAL_EXPORT __attribute__ ((visibility ("default")))
#else
#define PUNCH_SIGNAL_EXPORT __attribute__ ((visibility ("default"))) extern
#endif
