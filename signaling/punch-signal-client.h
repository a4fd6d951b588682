/* punch-signal-client.h: a peer's connection to punch-signal
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include <punch.h>
#include "punch-signal-message.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_CLIENT (punch_signal_client_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignalClient, punch_signal_client, PUNCH, SIGNAL_CLIENT, GObject)

/**
 * punch_signal_client_new:
 * @url: `ws://HOST:PORT/ws` or `wss://HOST:PORT/ws`
 *
 * The client lives on the thread-default #GMainContext of the caller: every
 * callback and signal arrives there.
 *
 * Signals (all after a successful join):
 * - `peer-joined` (const char *id), `peer-left` (const char *id)
 * - `description` (const char *from, PunchDescription *desc)
 * - `candidate` (const char *from, const char *line)
 * - `end-of-candidates` (const char *from)
 * - `bye` (const char *from)
 * - `message` (PunchSignalMessage *msg): every message from the server, before
 *   the typed signal above
 * - `server-error` (const char *code, const char *message): the server refused
 *   something we sent; the connection stays open
 * - `disconnected` (GError *error, gboolean will_reconnect): the connection was lost
 * - `reconnected`: joined the room again after a loss, with a new id; the
 *   other peers see `peer-left` then `peer-joined`
 *
 * Returns: (transfer full) (nullable): the client, or %NULL with @error set
 *   when @url is not a ws:// or wss:// URL
 */
PunchSignalClient *punch_signal_client_new (const char *url, GError **error);

/** Trust the CAs in this PEM file (instead of the system's) for wss://. */
void punch_signal_client_set_tls_ca_file (PunchSignalClient *self, const char *ca_file);
/** Accept any server certificate, even self-signed. For tests and labs only. */
void punch_signal_client_set_accept_invalid_certificate (PunchSignalClient *self, gboolean accept);
/** Reconnect with backoff (0.25 s doubling to 30 s) when a joined connection drops.
 * On by default. A refusal (bad token, policy close 1008/1009) stops it. */
void punch_signal_client_set_reconnect (PunchSignalClient *self, gboolean reconnect);

/**
 * punch_signal_client_join_async:
 * @room: the room name
 * @token: (nullable): the room token (`punch-signal token`); %NULL for a
 *   server run with `--insecure-no-auth`
 *
 * Connects, sends `hello` and completes at `welcome` (or at the server's
 * refusal: %PUNCH_ERROR_AUTHENTICATION for tokens, %PUNCH_ERROR_SIGNALING
 * otherwise; %PUNCH_ERROR_UNREACHABLE when the server cannot be reached).
 */
void punch_signal_client_join_async (PunchSignalClient *self, const char *room, const char *token,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean punch_signal_client_join_finish (PunchSignalClient *self, GAsyncResult *result,
                                          GError **error);

gboolean punch_signal_client_is_joined (PunchSignalClient *self);
/** Returns: (transfer none) (nullable): our id in the room, from `welcome` */
const char *punch_signal_client_get_id (PunchSignalClient *self);
/** Returns: (transfer none): ids of the other peers now in the room, oldest first */
const char *const *punch_signal_client_get_peers (PunchSignalClient *self);
/** Returns: (transfer none) (element-type PunchIceServer): the servers from `welcome` */
GPtrArray *punch_signal_client_get_ice_servers (PunchSignalClient *self);

/**
 * punch_signal_client_get_role:
 *
 * The ICE role decided at the first `welcome`: the peer that was already in
 * the room is %PUNCH_ROLE_CONTROLLED, the newcomer %PUNCH_ROLE_CONTROLLING.
 * Both sides reach opposite answers without another message.
 *
 * Returns: the role, or %PUNCH_ROLE_AUTO before joining
 */
PunchRole punch_signal_client_get_role (PunchSignalClient *self);

/**
 * punch_signal_client_apply_to_config:
 *
 * Sets @config's role (punch_signal_client_get_role()) and appends the ICE
 * servers from `welcome`. Call it after joining and before punch_session_new().
 */
gboolean punch_signal_client_apply_to_config (PunchSignalClient *self, PunchConfig *config,
                                              GError **error);

/**
 * punch_signal_client_send:
 * Sends a relayed message (description, candidate, end-of-candidates, bye).
 * Its `to` may be %NULL: every other peer in the room.
 *
 * Returns: %FALSE with @error set when not joined or @msg is not a relayed type
 */
gboolean punch_signal_client_send (PunchSignalClient *self, const PunchSignalMessage *msg,
                                   GError **error);
gboolean punch_signal_client_send_description (PunchSignalClient *self, const char *to,
                                               const PunchDescription *desc, GError **error);
gboolean punch_signal_client_send_candidate (PunchSignalClient *self, const char *to,
                                             const char *line, GError **error);
gboolean punch_signal_client_send_end_of_candidates (PunchSignalClient *self, const char *to,
                                                     GError **error);
gboolean punch_signal_client_send_bye (PunchSignalClient *self, const char *to, GError **error);

/** Closes the WebSocket (1000) and stops reconnecting. The client can join again. */
void punch_signal_client_close (PunchSignalClient *self);

G_END_DECLS
