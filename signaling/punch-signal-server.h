/* punch-signal-server.h: the punch-signal WebSocket server (rooms, tokens, relaying)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-signal-server-config.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SIGNAL_SERVER (punch_signal_server_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignalServer, punch_signal_server, PUNCH, SIGNAL_SERVER, GObject)

/**
 * punch_signal_server_new:
 * @config: copied; see punch_signal_server_config_validate()
 *
 * Serves `GET /healthz` and the WebSocket at `/ws` on the thread-default
 * main context. Logs one line per join, leave and refused message.
 *
 * Returns: (transfer full) (nullable): the server, or %NULL with @error set
 */
PunchSignalServer *punch_signal_server_new (const PunchSignalServerConfig *config, GError **error);

/**
 * punch_signal_server_listen:
 * @address: `HOST:PORT`, `[V6]:PORT`; HOST is an IP literal, `localhost` or `*`;
 *   port 0 picks a free port
 */
gboolean punch_signal_server_listen (PunchSignalServer *self, const char *address, GError **error);

/** Returns: (transfer full) (nullable): `ws://HOST:PORT/ws` (or wss) of the first listener */
char *punch_signal_server_get_url (PunchSignalServer *self);
guint16 punch_signal_server_get_port (PunchSignalServer *self);
guint punch_signal_server_get_n_connections (PunchSignalServer *self);
guint punch_signal_server_get_n_rooms (PunchSignalServer *self);

/** Closes every WebSocket with 1001 (going away) and stops listening. */
void punch_signal_server_shutdown (PunchSignalServer *self);

G_END_DECLS
