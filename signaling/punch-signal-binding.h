/* punch-signal-binding.h: a PunchSession wired to a room through PunchSignalClient
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch.h"
#include "punch-signal-export.h"
#include "punch-signal-client.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_BINDING (punch_signal_binding_get_type ())
PUNCH_SIGNAL_EXPORT
G_DECLARE_FINAL_TYPE (PunchSignalBinding, punch_signal_binding, PUNCH, SIGNAL_BINDING, GObject)

/**
 * punch_signal_binding_new:
 * @client: a client that has joined a room
 * @session: a session configured from the room (punch_signal_client_apply_to_config());
 *   it may be started before or after
 *
 * punch_signal_client_join_session_async() joins, makes the session and
 * binds it in one go, gathering while it joins; use this function when the
 * session must be made some other way.
 *
 * From now on, until the binding is freed:
 * - when a peer is (or comes) in the room, it sends it our `description`
 *   (credentials and the candidates gathered so far), then trickles each new
 *   local candidate and `end-of-candidates`;
 * - it feeds that peer's description, candidates and end-of-candidates to
 *   @session (candidates that arrive before the credentials wait for them).
 *
 * The binding talks to one peer: the first other peer of the room. If that
 * peer leaves and another joins (or the same one comes back with a new id
 * after a reconnect), the binding sends our description again to the new one.
 * Once the session is connected, signaling is no longer needed.
 *
 * Signals:
 * - `remote-left` (const char *id): the bound peer left the room or said bye.
 * - `error` (GError *error): the peer sent something the session refused.
 *
 * Returns: (transfer full): the binding; it holds @client and @session
 */
PUNCH_SIGNAL_EXPORT PunchSignalBinding *punch_signal_binding_new (PunchSignalClient *client,
                                                                  PunchSession *session);

/**
 * punch_signal_binding_get_remote_id:
 * @self: a binding
 *
 * Returns: (transfer none) (nullable): the id of the bound peer, once there is one
 */
PUNCH_SIGNAL_EXPORT const char *punch_signal_binding_get_remote_id (PunchSignalBinding *self);

/**
 * punch_signal_binding_get_session:
 * @self: a binding
 *
 * Returns: (transfer none): the session it feeds
 */
PUNCH_SIGNAL_EXPORT PunchSession *punch_signal_binding_get_session (PunchSignalBinding *self);

/**
 * punch_signal_binding_get_client:
 * @self: a binding
 *
 * Returns: (transfer none): the client it signals through
 */
PUNCH_SIGNAL_EXPORT PunchSignalClient *punch_signal_binding_get_client (PunchSignalBinding *self);

G_END_DECLS
