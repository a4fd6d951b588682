/* punch-tcp-punch-private.h: a TCP connection through two NATs by simultaneous open (private)
 *
 * Both peers learn their NAT's TCP mapping of one local port
 * (punch-tcp-mapping-private.h), trade the public addresses through
 * signaling, and then call punch_tcp_punch_async() at about the same time,
 * each with the same local port and the other's public address. Each side
 * listens on the port and connect()s from it toward the peer, again and
 * again on a short schedule: a SYN that leaves opens our NAT for the peer's
 * SYN (or SYN-ACK), and whichever connection completes first, connected or
 * accepted, is the one. The SYNs that cross meet in a TCP simultaneous open
 * (RFC 9293 section 3.5) or reach the listener; a NAT that drops an early
 * SYN, or answers it with an RST, is got past by the next attempt.
 *
 * libnice 0.1.21 does none of this (docs/natlab.md, "TCP hole punching").
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-stun-address.h"

G_BEGIN_DECLS

/* Defaults: a connect() at most every 100 ms, for 5 s. */
#define PUNCH_TCP_PUNCH_INTERVAL_MS 100
#define PUNCH_TCP_PUNCH_WINDOW_MS 5000
/* An attempt with no answer is dropped and made again after this many intervals. */
#define PUNCH_TCP_PUNCH_RESEND_INTERVALS 5

/**
 * PunchTcpPunchWay:
 * @PUNCH_TCP_PUNCH_NONE: no connection (yet)
 * @PUNCH_TCP_PUNCH_CONNECTED: our connect() completed (the SYNs crossed,
 *   or the peer's listener answered)
 * @PUNCH_TCP_PUNCH_ACCEPTED: our listener accepted the peer's connect()
 */
typedef enum
{
  PUNCH_TCP_PUNCH_NONE,
  PUNCH_TCP_PUNCH_CONNECTED,
  PUNCH_TCP_PUNCH_ACCEPTED,
} PunchTcpPunchWay;

/** Returns: (transfer none): "none", "connected" or "accepted" */
const char *punch_tcp_punch_way_to_string (PunchTcpPunchWay way);

/**
 * PunchTcpPunchStats:
 * @way: how the connection came
 * @local: the local address the sockets were bound to
 * @peer: the peer address of the connection (family 0 without one)
 * @attempts: connect() calls made
 * @refused: attempts answered with an RST before they connected
 *   (ECONNREFUSED): the peer's NAT, or its host, refused the SYN
 * @failed: attempts that failed otherwise (reset, unreachable, the address
 *   and port already in use by an accepted connection…)
 * @strays: connections accepted from another IP than the peer's, closed
 * @elapsed_ms: from the start to the connection or to the failure
 *
 * What happened, for a report; filled on success and on failure.
 */
typedef struct
{
  PunchTcpPunchWay way;
  PunchStunAddress local;
  PunchStunAddress peer;
  guint attempts;
  guint refused;
  guint failed;
  guint strays;
  double elapsed_ms;
} PunchTcpPunchStats;

/**
 * punch_tcp_punch_async:
 * @local_port: the local port whose mapping the peer was given (not 0)
 * @peer: the peer's public TCP address (its mapping), IPv4 or IPv6
 * @interval_ms: the least time between two connect() calls; 0 for
 *   %PUNCH_TCP_PUNCH_INTERVAL_MS. An attempt refused (RST) is made again at
 *   the next interval; one with no answer is dropped and made again after
 *   %PUNCH_TCP_PUNCH_RESEND_INTERVALS intervals (the kernel's own SYN
 *   retransmission waits 1 s, then 3 s).
 * @window_ms: how long to try; 0 for %PUNCH_TCP_PUNCH_WINDOW_MS
 * @cancellable: (nullable): cancels it
 * @callback: called on the caller's thread-default main context
 * @user_data: for @callback
 *
 * Listens on @local_port (SO_REUSEPORT, beside the connections the mapping
 * holds) and connects from it to @peer until a connection completes or
 * @window_ms passes. A connection accepted from the peer's IP counts
 * whatever its port; one from any other IP is closed. The connection is not
 * authenticated: whatever runs over it must check the peer (TLS).
 */
void punch_tcp_punch_async (guint16 local_port, const PunchStunAddress *peer, guint interval_ms,
                            guint window_ms, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);

/**
 * punch_tcp_punch_finish:
 * @stats: (out caller-allocates) (optional): what happened, on success and
 *   on failure
 *
 * Returns: (transfer full) (nullable): the connection, or %NULL with @error:
 *   PUNCH_ERROR_UNREACHABLE when every attempt was refused or reset,
 *   PUNCH_ERROR_TIMEOUT when the window passed otherwise (the message gives
 *   the counts and the last error), PUNCH_ERROR_FAILED when the port cannot
 *   be bound, G_IO_ERROR_CANCELLED when cancelled
 */
GSocketConnection *punch_tcp_punch_finish (GAsyncResult *result, PunchTcpPunchStats *stats,
                                           GError **error);

G_END_DECLS
