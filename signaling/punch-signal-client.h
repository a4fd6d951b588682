/* punch-signal-client.h: a peer's connection to punch-signal
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch.h"
#include "punch-signal-export.h"
#include "punch-signal-message.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_CLIENT (punch_signal_client_get_type ())
PUNCH_SIGNAL_EXPORT
G_DECLARE_FINAL_TYPE (PunchSignalClient, punch_signal_client, PUNCH, SIGNAL_CLIENT, GObject)

/* declared in punch-signal-binding.h */
typedef struct _PunchSignalBinding PunchSignalBinding;

/**
 * punch_signal_client_new:
 * @url: `ws://HOST:PORT/ws` or `wss://HOST:PORT/ws`
 * @error: return location for a #GError
 *
 * The client lives on the thread-default #GMainContext of the caller of
 * this function: every callback, signal and timer (keepalive, reconnect
 * backoff) runs there, and nothing is attached to any other context.
 *
 * Signals (all after a successful join, except `session-created`):
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
 * - `session-created` (PunchSession *session): punch_signal_client_join_session_async()
 *   made @session and is about to start it (see there)
 *
 * Returns: (transfer full) (nullable): the client, or %NULL with @error set
 *   when @url is not a ws:// or wss:// URL
 */
PUNCH_SIGNAL_EXPORT PunchSignalClient *punch_signal_client_new (const char *url, GError **error);

/**
 * punch_signal_client_set_tls_ca_file:
 * @self: a client
 * @ca_file: (nullable): a PEM file of CA certificates; %NULL for the system's
 *
 * Trust the CAs in this PEM file (instead of the system's) for wss://.
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_set_tls_ca_file (PunchSignalClient *self,
                                                              const char *ca_file);
/**
 * punch_signal_client_set_accept_invalid_certificate:
 * @self: a client
 * @accept: %TRUE to accept any certificate
 *
 * Accept any server certificate, even self-signed. For tests and labs only.
 */
PUNCH_SIGNAL_EXPORT void
punch_signal_client_set_accept_invalid_certificate (PunchSignalClient *self, gboolean accept);
/**
 * punch_signal_client_check_alive:
 * @self: a joined client
 *
 * Checks now that the server still answers (after a change of network, say,
 * when the connection may be dead without either side knowing): a ping,
 * and when no pong comes within 3 s the connection is dropped and, with
 * reconnection on, made again. A rejoin comes back as the same peer (same
 * id; the others see no `peer-left`) while the server still holds our place.
 * Between reconnection attempts it tries again at once (the back-off may have
 * grown to many seconds during an outage).
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_check_alive (PunchSignalClient *self);

/**
 * punch_signal_client_set_reconnect:
 * @self: a client
 * @reconnect: whether to reconnect
 *
 * Reconnect with backoff (0.25 s doubling to 30 s) when a joined connection
 * drops. On by default. A refusal (bad token, policy close 1008/1009) stops it.
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_set_reconnect (PunchSignalClient *self,
                                                            gboolean reconnect);

/**
 * punch_signal_client_join_session_async:
 * @self: a client that has not joined a room
 * @room: the room name
 * @token: (nullable): the room token (`punch-signal token`); %NULL for a
 *   server run with `--insecure-no-auth`
 * @config: the session's configuration, copied; its role is replaced by the
 *   one the room decides, and the ICE servers from `welcome` are appended
 * @cancellable: (nullable): cancels the join
 * @callback: called on the client's context when done
 * @user_data: for @callback
 *
 * Joins @room and returns a #PunchSession bound to it, in the order that
 * connects fastest: the session is made and starts gathering (STUN
 * mappings, TURN allocations) *before* the WebSocket is even connected, so
 * gathering overlaps the join instead of following it. Once `welcome`
 * decides the role, it is set on the gathering session
 * (punch_session_set_role()) and the session is bound to the room
 * (punch_signal_binding_new()), which sends the peer the candidates gathered
 * so far and trickles the rest.
 *
 * If `welcome` brings ICE servers (punch-signal `--turn-uri`), they cannot be
 * added to a session that is already gathering: the early session is closed
 * and a new one is made with them, once joined. The same happens if the
 * early session could not be made from @config alone (a relay-only policy
 * that waits for the room's TURN servers, say).
 *
 * To report candidates and states from the start (those of the early
 * session come before the join completes), connect to `session-created`:
 * it is emitted for each session this makes, before that session starts,
 * so its `local-candidate`, `gathering-done` and `state-changed` can be
 * followed as they happen. It fires at most twice; an early session that is
 * dropped is closed first (its `state-changed` says %PUNCH_STATE_CLOSED). The
 * session that counts is punch_signal_binding_get_session() of the result.
 *
 * Errors: those of punch_signal_client_join_async(), and those of
 * punch_config_validate() and punch_session_new() for @config with the
 * room's servers (the client then stays joined: punch_signal_client_close()
 * it, or join again after closing).
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_join_session_async (
    PunchSignalClient *self, const char *room, const char *token, const PunchConfig *config,
    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
/**
 * punch_signal_client_join_session_finish:
 * @self: the client
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the binding, which holds the joined
 *   client and the started, role-set session
 *   (punch_signal_binding_get_session()); or %NULL with @error set
 */
PUNCH_SIGNAL_EXPORT PunchSignalBinding *
punch_signal_client_join_session_finish (PunchSignalClient *self, GAsyncResult *result,
                                         GError **error);

/**
 * punch_signal_client_join_async:
 * @self: a client that has not joined a room
 * @room: the room name
 * @token: (nullable): the room token (`punch-signal token`); %NULL for a
 *   server run with `--insecure-no-auth`
 * @cancellable: (nullable): cancels the join
 * @callback: called on the client's context when done
 * @user_data: for @callback
 *
 * Connects, sends `hello` and completes at `welcome` (or at the server's
 * refusal: %PUNCH_ERROR_AUTHENTICATION for tokens, %PUNCH_ERROR_SIGNALING
 * otherwise; %PUNCH_ERROR_UNREACHABLE when the server cannot be reached).
 * This joins only; punch_signal_client_join_session_async() also makes and
 * binds a session, gathering while it joins.
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_join_async (PunchSignalClient *self, const char *room,
                                                         const char *token,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
/**
 * punch_signal_client_join_finish:
 * @self: the client
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE once joined, otherwise %FALSE with @error set
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_join_finish (PunchSignalClient *self,
                                                              GAsyncResult *result, GError **error);

/**
 * punch_signal_client_is_joined:
 * @self: a client
 *
 * Returns: %TRUE while joined to a room (not while reconnecting)
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_is_joined (PunchSignalClient *self);
/**
 * punch_signal_client_get_id:
 * @self: a client
 *
 * Returns: (transfer none) (nullable): our id in the room, from `welcome`
 */
PUNCH_SIGNAL_EXPORT const char *punch_signal_client_get_id (PunchSignalClient *self);
/**
 * punch_signal_client_get_peers:
 * @self: a client
 *
 * Returns: (transfer none) (array zero-terminated=1): ids of the other peers
 *   now in the room, oldest first
 */
PUNCH_SIGNAL_EXPORT const char *const *punch_signal_client_get_peers (PunchSignalClient *self);
/**
 * punch_signal_client_get_ice_servers:
 * @self: a client
 *
 * Returns: (transfer none) (element-type PunchIceServer): the servers from `welcome`
 */
PUNCH_SIGNAL_EXPORT GPtrArray *punch_signal_client_get_ice_servers (PunchSignalClient *self);

/**
 * punch_signal_client_get_role:
 * @self: a client
 *
 * The ICE role decided at the first `welcome`: the peer that was already in
 * the room is %PUNCH_ROLE_CONTROLLED, the newcomer %PUNCH_ROLE_CONTROLLING.
 * Both sides reach opposite answers without another message.
 *
 * Returns: the role, or %PUNCH_ROLE_AUTO before joining
 */
PUNCH_SIGNAL_EXPORT PunchRole punch_signal_client_get_role (PunchSignalClient *self);

/**
 * punch_signal_client_apply_to_config:
 * @self: a joined client
 * @config: the config to change
 * @error: return location for a #GError
 *
 * Sets @config's role (punch_signal_client_get_role()) and appends the ICE
 * servers from `welcome`. A session made from @config only after joining
 * starts gathering late: punch_signal_client_join_session_async() does the
 * same and gathers while joining.
 *
 * Returns: %FALSE with @error set when not joined yet
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_apply_to_config (PunchSignalClient *self,
                                                                  PunchConfig *config,
                                                                  GError **error);

/**
 * punch_signal_client_send:
 * @self: a joined client
 * @msg: a description, candidate, end-of-candidates or bye; its `to` may be
 *   %NULL: every other peer in the room
 * @error: return location for a #GError
 *
 * Sends a relayed message.
 *
 * Returns: %FALSE with @error set when not joined or @msg is not a relayed type
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_send (PunchSignalClient *self,
                                                       const PunchSignalMessage *msg,
                                                       GError **error);
/**
 * punch_signal_client_send_description:
 * @self: a joined client
 * @to: (nullable): the peer's id; %NULL for every other peer
 * @desc: the description
 * @error: return location for a #GError
 *
 * Returns: as punch_signal_client_send()
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_send_description (PunchSignalClient *self,
                                                                   const char *to,
                                                                   const PunchDescription *desc,
                                                                   GError **error);
/**
 * punch_signal_client_send_candidate:
 * @self: a joined client
 * @to: (nullable): the peer's id; %NULL for every other peer
 * @line: `candidate:…`, with or without `a=`
 * @error: return location for a #GError
 *
 * Returns: as punch_signal_client_send()
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_send_candidate (PunchSignalClient *self,
                                                                 const char *to, const char *line,
                                                                 GError **error);
/**
 * punch_signal_client_send_end_of_candidates:
 * @self: a joined client
 * @to: (nullable): the peer's id; %NULL for every other peer
 * @error: return location for a #GError
 *
 * Returns: as punch_signal_client_send()
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_send_end_of_candidates (PunchSignalClient *self,
                                                                         const char *to,
                                                                         GError **error);
/**
 * punch_signal_client_send_bye:
 * @self: a joined client
 * @to: (nullable): the peer's id; %NULL for every other peer
 * @error: return location for a #GError
 *
 * Returns: as punch_signal_client_send()
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_client_send_bye (PunchSignalClient *self, const char *to,
                                                           GError **error);

/**
 * punch_signal_client_close:
 * @self: a client
 *
 * Closes the WebSocket (1000) and stops reconnecting. The client can join again.
 */
PUNCH_SIGNAL_EXPORT void punch_signal_client_close (PunchSignalClient *self);

G_END_DECLS
