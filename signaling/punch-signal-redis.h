/* punch-signal-redis.h: the room store in Redis, shared by many punch-signal instances
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch-signal-room-store.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * PunchSignalRedisAddress:
 * @host: (nullable): TCP host, or %NULL with @path
 * @port: TCP port (6379 unless given)
 * @path: (nullable): Unix socket path
 * @user: (nullable): ACL user (Redis 6+); %NULL: `AUTH password` alone
 * @password: (nullable): sent with AUTH on every connection
 * @db: database number (SELECT), 0 by default
 */
typedef struct
{
  char *host;
  guint16 port;
  char *path;
  char *user;
  char *password;
  guint db;
} PunchSignalRedisAddress;

/**
 * punch_signal_redis_address_parse:
 * @url: `redis://[[user]:password@]host[:port][/db]`, `unix:///path/to/socket`
 *   (`unix://[:password@]/path?db=N`)
 *
 * Returns: (transfer full) (nullable): the address, or %NULL with @error set
 */
PunchSignalRedisAddress *punch_signal_redis_address_parse (const char *url, GError **error);
void punch_signal_redis_address_free (PunchSignalRedisAddress *address);
/** Returns: (transfer full): `host:port` or the socket path, without the password */
char *punch_signal_redis_address_to_string (const PunchSignalRedisAddress *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchSignalRedisAddress, punch_signal_redis_address_free)

/**
 * punch_signal_redis_store_new:
 * @address: copied
 * @context: where the hiredis connections and timers run (the server's)
 * @events: what to call when other instances act; copied
 *
 * Starts connecting at once and keeps reconnecting with backoff; until it is
 * connected, joins fail with %PUNCH_SIGNAL_STORE_UNAVAILABLE.
 *
 * Returns: (transfer full): the store
 */
PunchSignalRoomStore *punch_signal_redis_store_new (const PunchSignalRedisAddress *address,
                                                    GMainContext *context,
                                                    const PunchSignalRoomStoreEvents *events,
                                                    gpointer user_data);

G_END_DECLS
