/* punch-tcp-socket-private.h: TCP sockets that share one local port (private)
 *
 * TCP hole punching needs several sockets on one local port at once: the
 * connections that ask STUN servers for the NAT's mapping of that port, the
 * listening socket and the connect attempts of the simultaneous open. Each is
 * bound with SO_REUSEADDR and SO_REUSEPORT before bind(); g_socket_bind()
 * cannot be used for that, since it sets both options itself (and turns
 * SO_REUSEPORT off for TCP).
 *
 * Used by punch-tcp-mapping.c and punch-tcp-punch.c.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-stun-address.h"

G_BEGIN_DECLS

/**
 * punch_tcp_socket_new_bound:
 * @family: 4 or 6
 * @port: the local port; 0 lets the kernel pick one
 * @bound: (out) (optional): the address the socket is bound to (the any
 *   address of @family and the port)
 *
 * Returns: (transfer full) (nullable): a non-blocking TCP socket bound to the
 *   any address of @family and @port with SO_REUSEADDR and SO_REUSEPORT and
 *   TCP_NODELAY, or %NULL with @error (PUNCH_ERROR_FAILED) set
 */
GSocket *punch_tcp_socket_new_bound (int family, guint16 port, PunchStunAddress *bound,
                                     GError **error);

/**
 * punch_tcp_socket_connect_start:
 * @sock: a socket from punch_tcp_socket_new_bound()
 * @dest: where to connect
 *
 * Starts a non-blocking connect(). Wait for G_IO_OUT, then call
 * g_socket_check_connect_result().
 *
 * Returns: %TRUE when the connection is under way, %FALSE with @error (a
 *   G_IO_ERROR, as g_socket_connect() sets it) when it failed at once
 */
gboolean punch_tcp_socket_connect_start (GSocket *sock, const PunchStunAddress *dest,
                                         GError **error);

/** Returns: (transfer full): @a as a GInetSocketAddress */
GSocketAddress *punch_tcp_socket_address (const PunchStunAddress *a);
/** Fills @out from an IPv4 or IPv6 @sa; zeroes it for anything else. */
void punch_tcp_address_from_socket (GSocketAddress *sa, PunchStunAddress *out);
/** The socket's peer address; zeroed when it has none. */
void punch_tcp_socket_remote (GSocket *sock, PunchStunAddress *out);

/** Milliseconds since @start (monotonic time in microseconds). */
static inline double
punch_tcp_ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

G_END_DECLS
