/* punch-export.h: symbol visibility for libpunch
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#if defined(PUNCH_COMPILATION) || defined(PUNCH_STATIC)
#define PUNCH_EXPORT __attribute__ ((visibility ("default")))
#else
#define PUNCH_EXPORT __attribute__ ((visibility ("default"))) extern
#endif
