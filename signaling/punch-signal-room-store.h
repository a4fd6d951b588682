/* punch-signal-room-store.h: where room membership lives, behind one small interface
 *
 * The room code (punch-signal-room.c) asks a store to admit a peer to a
 * room, to forget it, and to carry a message to a peer held by another
 * instance; the store tells it what other instances did. Two stores:
 *
 * - the local store (punch_signal_local_store_new()): this process is the
 *   whole world; a join is a size check, nothing crosses a process. This is
 *   punch-signal without --redis, and behaves exactly as before stores.
 * - the Redis store (punch-signal-redis.c): membership in Redis, atomic
 *   joins in a Lua script, messages between instances over pub/sub.
 *
 * Every callback runs on the server's GMainContext.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PunchSignalRoomStore PunchSignalRoomStore;

typedef enum
{
  PUNCH_SIGNAL_STORE_OK,
  PUNCH_SIGNAL_STORE_FULL,        /* the room already holds room_size peers */
  PUNCH_SIGNAL_STORE_TAKEN,       /* the peer id is in use elsewhere in the cluster */
  PUNCH_SIGNAL_STORE_UNAVAILABLE, /* the shared store cannot be reached */
} PunchSignalStoreStatus;

/* A member of a room as the store knows it. */
typedef struct
{
  char *id;
  char *instance; /* the instance whose WebSocket it is */
} PunchSignalMember;

void punch_signal_member_free (PunchSignalMember *member);

/* @members: (nullable) (element-type PunchSignalMember): the members before
 * this peer, oldest first, with %PUNCH_SIGNAL_STORE_OK; %NULL from the local
 * store (the room's local peers are all there is). @n_members: with
 * %PUNCH_SIGNAL_STORE_FULL, how many the room holds. */
typedef void (*PunchSignalJoinFunc) (PunchSignalStoreStatus status, GPtrArray *members,
                                     guint n_members, gpointer user_data);
typedef void (*PunchSignalSendFunc) (PunchSignalStoreStatus status, gpointer user_data);

/* What other instances did, for the room code to apply to its rooms. */
typedef struct
{
  /* @peer joined @room through @instance */
  void (*peer_joined) (gpointer user_data, const char *room, const char *peer,
                       const char *instance);
  /* @peer left @room (closed, or its instance died) */
  void (*peer_left) (gpointer user_data, const char *room, const char *peer);
  /* @json, already stamped with `from`, for @to in @room (@to %NULL: every
   * member on this instance but @from) */
  void (*deliver) (gpointer user_data, const char *room, const char *to, const char *from,
                   const char *json);
  /* after the store came back: @room's members as the store has them now
   * (element-type PunchSignalMember) */
  void (*members) (gpointer user_data, const char *room, GPtrArray *members);
  /* @peer's place in @room could not be restored after an outage */
  void (*lost) (gpointer user_data, const char *room, const char *peer);
} PunchSignalRoomStoreEvents;

typedef struct
{
  /* Admits @peer to @room unless it holds @room_size already (@n_local: the
   * peers this instance has there). Calls @done exactly once, perhaps
   * before returning. */
  void (*join) (PunchSignalRoomStore *store, const char *room, const char *peer, guint n_local,
                guint room_size, PunchSignalJoinFunc done, gpointer user_data);
  /* @peer is gone from @room; never fails (a store that is down catches up) */
  void (*leave) (PunchSignalRoomStore *store, const char *room, const char *peer);
  /* Carries @json to @instance, for @to in @room (%NULL: all of it there). */
  void (*send) (PunchSignalRoomStore *store, const char *instance, const char *room, const char *to,
                const char *from, const char *json, PunchSignalSendFunc done, gpointer user_data);
  /* Adds the store's members to a /healthz JSON object under construction
   * (`"redis":"up"`...), nothing for the local store. */
  void (*describe) (PunchSignalRoomStore *store, GString *json);
  void (*free) (PunchSignalRoomStore *store);
} PunchSignalRoomStoreFuncs;

struct _PunchSignalRoomStore
{
  const PunchSignalRoomStoreFuncs *funcs;
  char *instance;  /* this instance's id, unique in the cluster */
  gboolean shared; /* other instances share the rooms */
  PunchSignalRoomStoreEvents events;
  gpointer user_data;
};

/* Returns: (transfer full): the store of a lone punch-signal */
PunchSignalRoomStore *punch_signal_local_store_new (void);

static inline void
punch_signal_room_store_join (PunchSignalRoomStore *store, const char *room, const char *peer,
                              guint n_local, guint room_size, PunchSignalJoinFunc done,
                              gpointer user_data)
{
  store->funcs->join (store, room, peer, n_local, room_size, done, user_data);
}

static inline void
punch_signal_room_store_leave (PunchSignalRoomStore *store, const char *room, const char *peer)
{
  store->funcs->leave (store, room, peer);
}

static inline void
punch_signal_room_store_send (PunchSignalRoomStore *store, const char *instance, const char *room,
                              const char *to, const char *from, const char *json,
                              PunchSignalSendFunc done, gpointer user_data)
{
  store->funcs->send (store, instance, room, to, from, json, done, user_data);
}

static inline void
punch_signal_room_store_describe (PunchSignalRoomStore *store, GString *json)
{
  store->funcs->describe (store, json);
}

void punch_signal_room_store_free (PunchSignalRoomStore *store);

G_END_DECLS
