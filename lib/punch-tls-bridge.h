/* punch-tls-bridge.h: real TLS for turns: servers (private)
 *
 * libnice 0.1.21 does not speak TLS to a TURN server in RFC 5245 mode (its socket/pseudossl.c
 * replays canned handshake bytes, and only in the Google and OC2007 compatibility modes). The
 * bridge listens on 127.0.0.1 and, for every connection libnice makes to it as a TURN-TCP server,
 * opens a verified TLS connection to the real server and splices the two.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PunchTlsBridge PunchTlsBridge;

/* Called when a TLS connection to the server fails (handshake, certificate, connect). */
typedef void (*PunchTlsBridgeFailedFunc) (PunchTlsBridge *bridge, const GError *error,
                                          gpointer user_data);

/**
 * punch_tls_bridge_new:
 * @host: the server's name, used for SNI and certificate checks
 * @port: the server's TLS port
 * @ca_file: (nullable): trusted CAs (PEM) instead of the system's
 *
 * Listens at once on an ephemeral loopback port, on the thread-default context.
 */
PunchTlsBridge *punch_tls_bridge_new (const char *host, guint16 port, const char *ca_file,
                                      PunchTlsBridgeFailedFunc failed, gpointer user_data,
                                      GError **error);
guint16 punch_tls_bridge_get_port (PunchTlsBridge *bridge);
/** Returns: (nullable): why the last upstream TLS connection failed */
const GError *punch_tls_bridge_get_last_error (PunchTlsBridge *bridge);
void punch_tls_bridge_free (PunchTlsBridge *bridge);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchTlsBridge, punch_tls_bridge_free)

G_END_DECLS
