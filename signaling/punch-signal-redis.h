/* punch-signal-redis.h: the room store in Redis, shared by many punch-signal instances
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch-signal-redis-address.h"
#include "punch-signal-room-store.h"

#include <gio/gio.h>

G_BEGIN_DECLS

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
