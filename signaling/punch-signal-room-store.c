/* punch-signal-room-store.c: the local store (one process is the whole world)
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-room-store.h"

void
punch_signal_member_free (PunchSignalMember *member)
{
  if (member == NULL)
    return;
  g_free (member->id);
  g_free (member->instance);
  g_free (member);
}

void
punch_signal_room_store_free (PunchSignalRoomStore *store)
{
  if (store)
    store->funcs->free (store);
}

static void
local_join (PunchSignalRoomStore *store, const char *room, const char *peer, guint n_local,
            guint room_size, PunchSignalJoinFunc done, gpointer user_data)
{
  if (n_local >= room_size)
    done (PUNCH_SIGNAL_STORE_FULL, NULL, n_local, user_data);
  else
    done (PUNCH_SIGNAL_STORE_OK, NULL, 0, user_data);
}

static void
local_leave (PunchSignalRoomStore *store, const char *room, const char *peer)
{
}

/* never called: a local room has no members elsewhere */
static void
local_send (PunchSignalRoomStore *store, const char *instance, const char *room, const char *to,
            const char *from, const char *json, PunchSignalSendFunc done, gpointer user_data)
{
  done (PUNCH_SIGNAL_STORE_UNAVAILABLE, user_data);
}

static void
local_describe (PunchSignalRoomStore *store, GString *json)
{
}

static void
local_free (PunchSignalRoomStore *store)
{
  g_free (store->instance);
  g_free (store);
}

static const PunchSignalRoomStoreFuncs local_funcs = {
  .join = local_join,
  .leave = local_leave,
  .send = local_send,
  .describe = local_describe,
  .free = local_free,
};

PunchSignalRoomStore *
punch_signal_local_store_new (void)
{
  PunchSignalRoomStore *store = g_new0 (PunchSignalRoomStore, 1);

  store->funcs = &local_funcs;
  store->instance = g_strdup ("local");
  return store;
}
