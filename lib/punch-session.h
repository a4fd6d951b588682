/* punch-session.h: one ICE session with one peer
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-export.h"
#include "punch-config.h"
#include "punch-candidate.h"
#include "punch-description.h"

G_BEGIN_DECLS

/**
 * PunchState:
 * @PUNCH_STATE_NEW: made, not started
 * @PUNCH_STATE_GATHERING: gathering local candidates
 * @PUNCH_STATE_CHECKING: connectivity checks under way
 * @PUNCH_STATE_CONNECTED: a pair is selected and data can flow
 * @PUNCH_STATE_FAILED: no path (see punch_session_get_error()); final
 * @PUNCH_STATE_CLOSED: closed by punch_session_close_async(); final
 *
 * A session's state; %PUNCH_TYPE_STATE is its GType.
 */
typedef enum
{
  PUNCH_STATE_NEW,
  PUNCH_STATE_GATHERING,
  PUNCH_STATE_CHECKING,
  PUNCH_STATE_CONNECTED,
  PUNCH_STATE_FAILED,
  PUNCH_STATE_CLOSED,
} PunchState;

/**
 * punch_state_to_string:
 * @state: a state
 *
 * Returns: (transfer none): its name, e.g. "connected" ("unknown" for no
 *   state), the value's nick in %PUNCH_TYPE_STATE
 */
PUNCH_EXPORT const char *punch_state_to_string (PunchState state);

/**
 * PunchPair:
 * @local: the local candidate of the selected pair
 * @remote: the remote candidate of the selected pair
 * @relayed: %TRUE when either side is a relay candidate
 */
typedef struct
{
  PunchCandidate *local;
  PunchCandidate *remote;
  gboolean relayed;
} PunchPair;

#define PUNCH_TYPE_PAIR (punch_pair_get_type ())
PUNCH_EXPORT GType punch_pair_get_type (void);
/**
 * punch_pair_copy:
 * @pair: a pair
 *
 * Returns: (transfer full): a deep copy of @pair
 */
PUNCH_EXPORT PunchPair *punch_pair_copy (const PunchPair *pair);
/**
 * punch_pair_free:
 * @pair: (nullable) (transfer full): a pair
 */
PUNCH_EXPORT void punch_pair_free (PunchPair *pair);
/**
 * punch_pair_describe:
 * @pair: a pair
 *
 * Returns: (transfer full): e.g. "direct: srflx <-> srflx over udp" or
 *   "RELAYED via TURN: relay <-> srflx over udp"
 */
PUNCH_EXPORT char *punch_pair_describe (const PunchPair *pair);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchPair, punch_pair_free)

/**
 * PunchStats:
 * @bytes_sent: datagram payload bytes sent
 * @bytes_received: datagram payload bytes received
 * @packets_sent: datagrams sent
 * @packets_received: datagrams received
 * @rtt_ms: smoothed round-trip time of the secure channel (QUIC), -1 when not
 *   known (and always with %PUNCH_SECURITY_NONE)
 * @time_to_connected_ms: from punch_session_start() to connected (the peer
 *   authenticated), -1 before
 * @time_to_path_ms: from punch_session_start() to the first working ICE pair
 * @handshake_ms: the secure handshake's duration, -1 before it completed
 * @stream_bytes_sent: bytes written to the default stream
 * @stream_bytes_received: bytes read from the default stream
 * @datagrams_lost: datagrams the network lost (sent, never acknowledged)
 * @datagrams_dropped: datagrams received that the session had to drop (too
 *   many before the application could be told)
 * @restarts: ICE restarts begun (by this side, or to follow the peer's)
 * @last_restart_ms: how long the last restart that found a path took, from
 *   its start to the new path; -1 before one did
 *
 * Packets that are not the peer's (forged, altered, replayed) fail QUIC's
 * authentication and are discarded inside QUIC without a trace here.
 */
typedef struct
{
  guint64 bytes_sent;
  guint64 bytes_received;
  guint64 packets_sent;
  guint64 packets_received;
  gint64 rtt_ms;
  gint64 time_to_connected_ms;
  gint64 time_to_path_ms;
  gint64 handshake_ms;
  guint64 stream_bytes_sent;
  guint64 stream_bytes_received;
  guint64 datagrams_lost;
  guint64 datagrams_dropped;
  guint restarts;
  gint64 last_restart_ms;
} PunchStats;

#define PUNCH_TYPE_SESSION (punch_session_get_type ())
PUNCH_EXPORT
G_DECLARE_FINAL_TYPE (PunchSession, punch_session, PUNCH, SESSION, GObject)

/**
 * punch_session_new:
 * @config: copied; see punch_config_validate()
 *
 * The session lives on the thread-default #GMainContext of the caller: every
 * signal is emitted there, and that context must be running.
 *
 * Signals:
 * - `local-candidate` (const char *line): a gathered candidate as `candidate:…`; trickle it.
 * - `gathering-done`: no more local candidates; send end-of-candidates.
 * - `state-changed` (PunchState state): on every change.
 * - `selected-pair` (PunchPair *pair): the path in use, on every change.
 * - `datagram` (GBytes *data): a datagram from the peer.
 * - `stream` (GIOStream *stream): the peer opened a stream (secure sessions).
 * - `writable`: the datagram queue has room again after a send failed with
 *   %PUNCH_ERROR_WOULD_BLOCK.
 * - `restart` (guint generation, const char *reason): an ICE restart began
 *   (see punch_session_restart()): send the new local credentials
 *   (punch_session_get_local_ufrag() and _pwd(), or the whole
 *   punch_session_get_local_description()) to the peer; new `local-candidate`
 *   and `gathering-done` signals follow for it. @reason is "path-silent",
 *   "path-failed", "network-changed", "peer-restarted", "requested", or
 *   "direct-upgrade" (connected through a relay although both sides have
 *   direct candidates: one restart on the same sockets checks them again).
 *   Without a handler a session never restarts by itself.
 *
 * Security: by default (%PUNCH_SECURITY_QUIC) everything after the ICE
 * checks travels over QUIC with TLS 1.3. The local description carries this
 * side's fingerprint; the peer must present the key whose fingerprint its
 * description announced (and, with pins, a pinned one), or the session fails
 * with %PUNCH_ERROR_AUTHENTICATION before any application byte is delivered.
 * The session becomes %PUNCH_STATE_CONNECTED only once the peer is
 * authenticated. A peer that closes the connection cleanly moves the session
 * to %PUNCH_STATE_CLOSED.
 *
 * Returns: (transfer full) (nullable): a session, or %NULL with @error set
 */
PUNCH_EXPORT PunchSession *punch_session_new (const PunchConfig *config, GError **error);

/**
 * punch_session_start:
 * @self: a session
 * @error: return location for a #GError
 *
 * Resolves the servers and starts gathering. Later failures arrive as %PUNCH_STATE_FAILED.
 *
 * Returns: %FALSE with @error set when it cannot start
 */
PUNCH_EXPORT gboolean punch_session_start (PunchSession *self, GError **error);

/**
 * punch_session_get_local_ufrag:
 * @self: a session
 *
 * Returns: (transfer none): the local ICE username fragment, valid from creation
 */
PUNCH_EXPORT const char *punch_session_get_local_ufrag (PunchSession *self);
/**
 * punch_session_get_local_pwd:
 * @self: a session
 *
 * Returns: (transfer none): the local ICE password, valid from creation
 */
PUNCH_EXPORT const char *punch_session_get_local_pwd (PunchSession *self);
/**
 * punch_session_get_local_description:
 * @self: a session
 *
 * Returns: (transfer full): the credentials and the candidates gathered so far
 */
PUNCH_EXPORT PunchDescription *punch_session_get_local_description (PunchSession *self);
PUNCH_EXPORT gboolean punch_session_is_controlling (PunchSession *self);

/**
 * punch_session_set_role:
 * @role: %PUNCH_ROLE_CONTROLLING or %PUNCH_ROLE_CONTROLLED
 *
 * Sets the ICE role of a session that may already be gathering, so that
 * gathering can start before the role is known (for example while joining a
 * signaling room, which decides it). Only before the remote credentials are
 * set: after that, checks may be under way. The role is the one the checks
 * carry on the wire (ICE-CONTROLLING or ICE-CONTROLLED): libnice cannot change
 * an agent's role once it gathers, so a change after punch_session_start()
 * gathers again on a new agent with the same credentials, and the candidates
 * announced before it are void (new `local-candidate` signals follow).
 *
 * Returns: %FALSE with @error set (%PUNCH_ERROR_INVALID_ARGUMENT) when too late
 *   or @role is %PUNCH_ROLE_AUTO
 */
PUNCH_EXPORT gboolean punch_session_set_role (PunchSession *self, PunchRole role, GError **error);

PUNCH_EXPORT gboolean punch_session_set_remote_credentials (PunchSession *self, const char *ufrag,
                                                            const char *pwd, GError **error);
/**
 * punch_session_add_remote_candidate:
 * @self: a session
 * @line: `candidate:…` (with or without `a=`)
 * @error: return location for a #GError
 *
 * Returns: %FALSE with @error set when @line is not a candidate or the session is over
 */
PUNCH_EXPORT gboolean punch_session_add_remote_candidate (PunchSession *self, const char *line,
                                                          GError **error);
PUNCH_EXPORT void punch_session_set_remote_end_of_candidates (PunchSession *self);
/**
 * punch_session_set_remote_description:
 * @self: a session
 * @desc: the peer's description
 * @error: return location for a #GError
 *
 * Credentials, every candidate and the end-of-candidates flag at once.
 *
 * Returns: %FALSE with @error set when the session refused them
 */
PUNCH_EXPORT gboolean punch_session_set_remote_description (PunchSession *self,
                                                            const PunchDescription *desc,
                                                            GError **error);

PUNCH_EXPORT PunchState punch_session_get_state (PunchSession *self);
/**
 * punch_session_get_error:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): why the session failed
 */
PUNCH_EXPORT const GError *punch_session_get_error (PunchSession *self);
/**
 * punch_session_get_selected_pair:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): the selected pair once connected
 */
PUNCH_EXPORT const PunchPair *punch_session_get_selected_pair (PunchSession *self);
PUNCH_EXPORT void punch_session_get_stats (PunchSession *self, PunchStats *stats);

/**
 * punch_session_send:
 * Sends one datagram: a QUIC DATAGRAM frame (RFC 9221) on a secure session,
 * a bare UDP datagram with %PUNCH_SECURITY_NONE. Datagrams may be lost, never
 * silently dropped here: a full queue fails with %PUNCH_ERROR_WOULD_BLOCK
 * (wait for `writable`), one larger than punch_session_get_max_datagram_size()
 * with %PUNCH_ERROR_INVALID_ARGUMENT.
 */
PUNCH_EXPORT gboolean punch_session_send (PunchSession *self, const void *data, gsize len,
                                          GError **error);
/**
 * punch_session_get_max_datagram_size:
 * @self: a session
 *
 * Returns: the largest datagram payload the path carries now; 0 before connected
 */
PUNCH_EXPORT gsize punch_session_get_max_datagram_size (PunchSession *self);

/**
 * punch_session_get_io_stream:
 * The default stream: a QUIC bidirectional stream that both sides have from
 * the start (secure sessions only). Writes are buffered until connected;
 * g_output_stream_close_async() sends the end of stream and completes once
 * the peer has acknowledged every byte and the end; the peer reads EOF after
 * all data. Use the async or pollable calls: the stream lives on the
 * session's context, where a blocking read would never see data arrive.
 *
 * Returns: (transfer none) (nullable): the stream, or %NULL with %PUNCH_SECURITY_NONE
 */
PUNCH_EXPORT GIOStream *punch_session_get_io_stream (PunchSession *self);

/**
 * punch_session_open_stream:
 * Opens another bidirectional stream (connected secure sessions); the peer
 * gets it through the `stream` signal at once, before any data.
 *
 * Returns: (transfer full) (nullable): the stream, or %NULL with @error set
 */
PUNCH_EXPORT GIOStream *punch_session_open_stream (PunchSession *self, GError **error);

/**
 * punch_session_get_security:
 * @self: a session
 *
 * Returns: how the session's data is protected (from its config)
 */
PUNCH_EXPORT PunchSecurity punch_session_get_security (PunchSession *self);
/**
 * punch_session_get_local_fingerprint:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): this side's fingerprint ("sha-256 AB:…"),
 *   %NULL with %PUNCH_SECURITY_NONE
 */
PUNCH_EXPORT const char *punch_session_get_local_fingerprint (PunchSession *self);
/**
 * punch_session_get_peer_fingerprint:
 * @self: a session
 *
 * Returns: (transfer none) (nullable): the peer's verified fingerprint, once connected
 */
PUNCH_EXPORT const char *punch_session_get_peer_fingerprint (PunchSession *self);
/**
 * punch_session_set_remote_fingerprint:
 * The fingerprint the peer announced (punch_session_set_remote_description()
 * sets it from the description). Any form punch_fingerprint_normalize() takes.
 */
PUNCH_EXPORT gboolean punch_session_set_remote_fingerprint (PunchSession *self,
                                                            const char *fingerprint,
                                                            GError **error);

/**
 * punch_session_restart:
 * @self: a connected secure session
 * @error: return location for a #GError
 *
 * Restarts ICE (RFC 8445 section 9): gathers afresh with new credentials and
 * looks for a new path while the current one stays in use; the QUIC
 * connection carries on over the new path without losing a byte. The
 * session also restarts by itself, when it has a `restart` handler: when
 * nothing has come from the peer for 2.5 s (a NAT rebinding, a dead TURN
 * allocation), or when the local address went away. The peer restarts its
 * side when it is given the new credentials
 * (punch_session_set_remote_credentials() with a new ufrag while connected).
 * If no path is found, restarts are tried again every 5 s, and once nothing
 * has come from the peer for #PunchConfig.consent_timeout_ms the session
 * fails with %PUNCH_ERROR_PATH_LOST, %PUNCH_ERROR_RELAY_LOST,
 * %PUNCH_ERROR_NO_ADDRESS or %PUNCH_ERROR_PEER_GONE, whichever names the cause.
 *
 * Returns: %FALSE with @error set when the session is not connected or not secure
 */
PUNCH_EXPORT gboolean punch_session_restart (PunchSession *self, GError **error);

/**
 * punch_session_peer_left:
 * @self: a session
 *
 * Tells the session that signaling saw the peer leave. While the path works
 * nothing changes (the peer may only have lost its signaling connection);
 * once nothing has come from the peer for 2 s the session fails with
 * %PUNCH_ERROR_PEER_GONE, and it no longer restarts ICE.
 */
PUNCH_EXPORT void punch_session_peer_left (PunchSession *self);

/**
 * punch_session_connect_async:
 * Starts the session if needed and completes when it is connected or has failed.
 * Remote credentials and candidates must still be fed in while it runs.
 */
PUNCH_EXPORT void punch_session_connect_async (PunchSession *self, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
PUNCH_EXPORT gboolean punch_session_connect_finish (PunchSession *self, GAsyncResult *result,
                                                    GError **error);

/**
 * punch_session_close_async:
 * Closes the secure channel (saying so when a stream the peer was writing
 * on had not ended: the peer's session then fails), keeps answering late packets for
 * about three round trips, then closes the path and releases TURN
 * allocations. The state becomes %PUNCH_STATE_CLOSED at once; the callback
 * runs when the agent is gone.
 */
PUNCH_EXPORT void punch_session_close_async (PunchSession *self, GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
PUNCH_EXPORT gboolean punch_session_close_finish (PunchSession *self, GAsyncResult *result,
                                                  GError **error);

G_END_DECLS
