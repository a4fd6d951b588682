/* punch-text.h: strings from the network, safe to show on a terminal
 *
 * A STUN server's SOFTWARE, an error's reason phrase, a peer's name: any of
 * them can hold escape sequences that clear a screen or forge lines. Text
 * output passes them through punch_text_escape() first (JSON has its own
 * escaping).
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-export.h"

G_BEGIN_DECLS

/**
 * punch_text_escape:
 * @text: (nullable): UTF-8 text (invalid sequences become U+FFFD)
 *
 * Escapes every control character: C0 (U+0000..U+001F) and DEL as `\n`,
 * `\r`, `\t` or `\xHH`, C1 (U+0080..U+009F) and the bidirectional overrides
 * and isolates (U+202A..U+202E, U+2066..U+2069) as `\u{HHHH}`, and the
 * backslash as `\\`, so the result is one line that shows what was sent.
 *
 * Returns: (transfer full): the escaped text; "" for %NULL
 */
PUNCH_EXPORT char *punch_text_escape (const char *text);

G_END_DECLS
