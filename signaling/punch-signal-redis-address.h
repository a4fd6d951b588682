/* punch-signal-redis-address.h: where the Redis of a cluster is (the --redis URL)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

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
/** Returns: (transfer full): a copy */
PunchSignalRedisAddress *punch_signal_redis_address_copy (const PunchSignalRedisAddress *address);
void punch_signal_redis_address_free (PunchSignalRedisAddress *address);
/** Returns: (transfer full): `host:port` or the socket path, without the password */
char *punch_signal_redis_address_to_string (const PunchSignalRedisAddress *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchSignalRedisAddress, punch_signal_redis_address_free)

G_END_DECLS
