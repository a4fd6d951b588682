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
 * @bytes_sent: payload bytes handed to the path
 * @bytes_received: payload bytes received
 * @packets_sent: datagrams sent (reliable mode: writes)
 * @packets_received: datagrams received (reliable mode: reads)
 * @rtt_ms: round-trip time on the selected pair, -1 when not known
 * @time_to_connected_ms: from punch_session_start() to connected, -1 before
 */
typedef struct
{
  guint64 bytes_sent;
  guint64 bytes_received;
  guint64 packets_sent;
  guint64 packets_received;
  gint64 rtt_ms;
  gint64 time_to_connected_ms;
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
 * - `datagram` (GBytes *data): datagram mode only.
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
 * set: after that, checks may be under way.
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
 * Datagram mode only. Sends one datagram on the selected pair.
 */
PUNCH_EXPORT gboolean punch_session_send (PunchSession *self, const void *data, gsize len,
                                          GError **error);

/**
 * punch_session_get_io_stream:
 * Reliable mode only: the byte stream to the peer. Reads and writes wait
 * until the session is connected.
 *
 * Returns: (transfer none) (nullable): the stream, or %NULL in datagram mode
 */
PUNCH_EXPORT GIOStream *punch_session_get_io_stream (PunchSession *self);

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
 * Closes the path and releases TURN allocations. The state becomes
 * %PUNCH_STATE_CLOSED at once; the callback runs when the agent is gone.
 */
PUNCH_EXPORT void punch_session_close_async (PunchSession *self, GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
PUNCH_EXPORT gboolean punch_session_close_finish (PunchSession *self, GAsyncResult *result,
                                                  GError **error);

G_END_DECLS
