/* punch-signal-token.h: room tokens and TURN REST credentials (HMAC)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-signal-export.h"

G_BEGIN_DECLS

/**
 * punch_signal_secret_load:
 * @path: a file holding the secret; trailing whitespace (a newline) is dropped
 *
 * Returns: (transfer full) (nullable): the secret, or %NULL with @error set
 *   when the file cannot be read or is empty
 */
PUNCH_SIGNAL_EXPORT GBytes *punch_signal_secret_load (const char *path, GError **error);

/**
 * punch_signal_token_new:
 * @secret: the HMAC key (punch_signal_secret_load())
 * @room: a valid room name (see punch_signal_name_validate())
 * @expiry: when the token stops working, in seconds since the Unix epoch
 *
 * Returns: (transfer full): `<expiry>:<room>:<base64url(HMAC-SHA256(secret, "<expiry>:<room>"))>`
 *   with no padding
 */
PUNCH_SIGNAL_EXPORT char *punch_signal_token_new (GBytes *secret, const char *room, gint64 expiry);

/**
 * punch_signal_token_verify:
 * @secret: the HMAC key
 * @token: (nullable): what the client sent
 * @room: the room it asks to join
 * @now: the current time, in seconds since the Unix epoch
 * @wire_code: (out) (optional) (transfer none): on failure the protocol's
 *   error code: "bad-token", "wrong-room" or "token-expired"
 *
 * The MAC is checked first and in constant time; the room and the expiry are
 * only looked at in a token the secret's holder made.
 *
 * Returns: %TRUE when @token admits the bearer to @room at @now; otherwise
 *   %FALSE with @error set (%PUNCH_ERROR_AUTHENTICATION)
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_token_verify (GBytes *secret, const char *token,
                                                        const char *room, gint64 now,
                                                        const char **wire_code, GError **error);

/**
 * punch_signal_turn_credentials:
 * @secret: coturn's `static-auth-secret`
 * @user: who the credentials are for (the peer id)
 * @expiry: seconds since the Unix epoch
 * @password: (out) (transfer full): base64(HMAC-SHA1(@secret, username))
 *
 * TURN REST ("ephemeral") credentials, as coturn's `--use-auth-secret` checks them.
 *
 * Returns: (transfer full): the username, `<expiry>:<user>`
 */
PUNCH_SIGNAL_EXPORT char *punch_signal_turn_credentials (GBytes *secret, const char *user,
                                                         gint64 expiry, char **password);

G_END_DECLS
