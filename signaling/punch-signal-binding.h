/* punch-signal-binding.h: a PunchSession wired to a room through PunchSignalClient
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <punch.h>
#include "punch-signal-client.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_BINDING (punch_signal_binding_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignalBinding, punch_signal_binding, PUNCH, SIGNAL_BINDING, GObject)

/**
 * punch_signal_binding_new:
 * @client: a client that has joined a room
 * @session: a session made with punch_signal_client_apply_to_config(); it may
 *   be started before or after
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
PunchSignalBinding *punch_signal_binding_new (PunchSignalClient *client, PunchSession *session);

/** Returns: (transfer none) (nullable): the id of the bound peer, once there is one */
const char *punch_signal_binding_get_remote_id (PunchSignalBinding *self);

G_END_DECLS
