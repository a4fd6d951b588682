/* punch-signal-room.c: rooms, membership, and relaying inside a room
 *
 * A peer joins one room with `hello`; the server answers `welcome`, tells the
 * others `peer-joined`, and from then on relays the peer's description,
 * candidate, end-of-candidates and bye messages to peers of the same room
 * only, stamping `from`. Messages are re-serialized from the parsed struct,
 * so nothing but known fields is ever relayed.
 *
 * Membership is the room store's (punch-signal-room-store.h): without
 * --redis it is this process and a join is decided on the spot; with it, a
 * join waits for Redis' answer, and members may be on other instances
 * (room->remote). Messages to those go through the store, and what the
 * other instances report comes back through room_store_events. While a
 * peer waits for its join, what happens in the room is held for it and
 * replayed after its `welcome`, against the members the welcome listed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server-private.h"
#include "punch-signal-token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define MAX_HELD 256 /* events held for one joining peer */

typedef enum
{
  HELD_JOINED,
  HELD_LEFT,
  HELD_MESSAGE,
} HeldKind;

typedef struct
{
  HeldKind kind;
  char *id; /* who joined or left */
  char *json;
} Held;

static void
held_free (Held *held)
{
  g_free (held->id);
  g_free (held->json);
  g_free (held);
}

void
room_free (Room *room)
{
  g_free (room->name);
  g_ptr_array_unref (room->peers);
  g_ptr_array_unref (room->waiting);
  g_hash_table_unref (room->remote);
  g_free (room);
}

static Room *
room_get (PunchSignalServer *self, const char *name)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL)
    {
      room = g_new0 (Room, 1);
      room->name = g_strdup (name);
      room->peers = g_ptr_array_new ();
      room->waiting = g_ptr_array_new ();
      room->remote = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_insert (self->rooms, room->name, room);
    }
  return room;
}

static void
room_drop_if_empty (PunchSignalServer *self, Room *room)
{
  if (room->peers->len == 0 && room->waiting->len == 0)
    g_hash_table_remove (self->rooms, room->name);
}

/* Keeps what happened in its room for a peer that waits for its join. */
static void
peer_hold (Peer *peer, HeldKind kind, const char *id, const char *json)
{
  Held *held;

  if (peer->held == NULL)
    peer->held = g_ptr_array_new_with_free_func ((GDestroyNotify)held_free);
  if (peer->held->len >= MAX_HELD)
    {
      g_message ("error room=%s peer=%s addr=%s code=unavailable: more than %u events while "
                 "its join was pending; dropped one",
                 peer->joining->name, peer->id, peer->addr, MAX_HELD);
      return;
    }
  held = g_new0 (Held, 1);
  held->kind = kind;
  held->id = g_strdup (id);
  held->json = g_strdup (json);
  g_ptr_array_add (peer->held, held);
}

static void
room_hold (Room *room, HeldKind kind, const char *id, const char *json)
{
  for (guint i = 0; i < room->waiting->len; i++)
    peer_hold (room->waiting->pdata[i], kind, id, json);
}

static void
peer_send_typed (Peer *peer, PunchSignalMessageType type, const char *id)
{
  g_autoptr (PunchSignalMessage) msg = punch_signal_message_new (type);

  msg->id = g_strdup (id);
  peer_send (peer, msg);
}

/* ---- rooms ---- */

static void
room_broadcast (Room *room, Peer *except, const PunchSignalMessage *msg)
{
  for (guint i = 0; i < room->peers->len; i++)
    if (room->peers->pdata[i] != except)
      peer_send (room->peers->pdata[i], msg);
}

void
peer_leave (Peer *peer)
{
  PunchSignalServer *self = peer->server;
  Room *room = peer->room;
  g_autoptr (PunchSignalMessage) left = NULL;

  if (peer->joining)
    {
      Room *joining = peer->joining;

      g_ptr_array_remove (joining->waiting, peer);
      peer->joining = NULL;
      g_clear_pointer (&peer->held, g_ptr_array_unref);
      room_drop_if_empty (self, joining);
    }
  if (room == NULL)
    return;
  g_ptr_array_remove (room->peers, peer);
  peer->room = NULL;
  g_message ("leave room=%s peer=%s addr=%s close=%u peers=%u", room->name, peer->id, peer->addr,
             soup_websocket_connection_get_close_code (peer->conn), room->peers->len);
  left = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_LEFT);
  left->id = g_strdup (peer->id);
  room_broadcast (room, NULL, left);
  /* a peer waiting for its join may be told of this one in its welcome */
  room_hold (room, HELD_LEFT, peer->id, NULL);
  if (self->store)
    punch_signal_room_store_leave (self->store, room->name, peer->id);
  room_drop_if_empty (self, room);
}

/* @members: (nullable): the store's list (oldest first); %NULL: the room's local peers */
static PunchSignalMessage *
make_welcome (PunchSignalServer *self, Peer *peer, Room *room, GPtrArray *members)
{
  PunchSignalMessage *welcome = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_WELCOME);
  g_autoptr (GStrvBuilder) peers = g_strv_builder_new ();
  gint64 expiry = g_get_real_time () / G_USEC_PER_SEC + self->config->turn_ttl;

  welcome->id = g_strdup (peer->id);
  if (members)
    for (guint i = 0; i < members->len; i++)
      g_strv_builder_add (peers, ((PunchSignalMember *)members->pdata[i])->id);
  else
    for (guint i = 0; i < room->peers->len; i++)
      if (room->peers->pdata[i] != peer)
        g_strv_builder_add (peers, ((Peer *)room->peers->pdata[i])->id);
  welcome->peers = g_strv_builder_end (peers);
  welcome->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  for (guint i = 0; self->config->turn_uris && self->config->turn_uris[i]; i++)
    {
      const char *uri = self->config->turn_uris[i];
      g_autofree char *password = NULL;
      g_autofree char *username = NULL;
      PunchIceServer *server;

      if (self->config->turn_secret && !g_str_has_prefix (uri, "stun:"))
        username = punch_signal_turn_credentials (self->config->turn_secret, peer->id, expiry,
                                                  &password);
      server = punch_ice_server_parse (uri, username, password, NULL);
      if (server) /* checked by punch_signal_server_config_validate() */
        g_ptr_array_add (welcome->ice_servers, server);
    }
  return welcome;
}

typedef struct
{
  PunchSignalServer *server;
  char *peer;
  char *room;
} Join;

static void
join_free (Join *join)
{
  g_free (join->peer);
  g_free (join->room);
  g_free (join);
}

static char *new_resume_secret (void);

/* In the room now: welcome, peer-joined to the others here (the store told
 * the other instances), then what was held while the store was asked. */
static void
room_admit (Peer *peer, Room *room, GPtrArray *members, GPtrArray *held)
{
  PunchSignalServer *self = peer->server;
  g_autoptr (PunchSignalMessage) welcome = NULL;
  g_autoptr (PunchSignalMessage) joined = NULL;
  g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; members && i < members->len; i++)
    {
      PunchSignalMember *m = members->pdata[i];

      g_hash_table_add (known, m->id);
      if (strcmp (m->instance, self->store->instance) != 0
          && !g_hash_table_contains (room->remote, m->id))
        g_hash_table_insert (room->remote, g_strdup (m->id), g_strdup (m->instance));
    }
  g_ptr_array_add (room->peers, peer);
  peer->room = room;
  g_message ("join room=%s peer=%s addr=%s peers=%u", room->name, peer->id, peer->addr,
             members ? members->len + 1 : room->peers->len);

  welcome = make_welcome (self, peer, room, members);
  g_free (peer->resume);
  peer->resume = new_resume_secret ();
  welcome->resume = g_strdup (peer->resume);
  peer_send (peer, welcome);
  joined = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_JOINED);
  joined->id = g_strdup (peer->id);
  room_broadcast (room, peer, joined);

  for (guint i = 0; held && i < held->len; i++)
    {
      Held *h = held->pdata[i];

      if (h->kind == HELD_JOINED && !g_hash_table_contains (known, h->id))
        {
          g_hash_table_add (known, h->id);
          peer_send_typed (peer, PUNCH_SIGNAL_MESSAGE_PEER_JOINED, h->id);
        }
      else if (h->kind == HELD_LEFT && g_hash_table_remove (known, h->id))
        peer_send_typed (peer, PUNCH_SIGNAL_MESSAGE_PEER_LEFT, h->id);
      else if (h->kind == HELD_MESSAGE)
        peer_send_text (peer, h->json);
    }
}

static void join_start (Peer *peer, Room *room);

static void
on_join_done (PunchSignalStoreStatus status, GPtrArray *members, guint n_members,
              gpointer user_data)
{
  Join *join = user_data;
  PunchSignalServer *self = join->server;
  Peer *peer = g_hash_table_lookup (self->ids, join->peer);
  Room *room = g_hash_table_lookup (self->rooms, join->room);
  g_autoptr (GPtrArray) held = NULL;

  if (self->store == NULL)
    {
      join_free (join); /* the server is going away */
      return;
    }
  if (peer == NULL || room == NULL || peer->joining != room)
    {
      /* it closed meanwhile */
      if (status == PUNCH_SIGNAL_STORE_OK)
        punch_signal_room_store_leave (self->store, join->room, join->peer);
      join_free (join);
      return;
    }
  g_ptr_array_remove (room->waiting, peer);
  peer->joining = NULL;
  held = g_steal_pointer (&peer->held);
  switch (status)
    {
    case PUNCH_SIGNAL_STORE_OK: room_admit (peer, room, members, held); break;
    case PUNCH_SIGNAL_STORE_FULL:
      peer_error (peer, FALSE, "room-full", "room \"%s\" already holds %u peers", room->name,
                  n_members);
      room_drop_if_empty (self, room);
      break;
    case PUNCH_SIGNAL_STORE_TAKEN:
      /* another instance has a peer with this id: take another, ask again */
      g_hash_table_remove (self->ids, peer->id);
      g_free (peer->id);
      peer->id = server_new_peer_id (self);
      g_hash_table_insert (self->ids, peer->id, peer);
      peer->joining = room;
      g_ptr_array_add (room->waiting, peer);
      join_start (peer, room);
      break;
    case PUNCH_SIGNAL_STORE_UNAVAILABLE:
      peer_error (peer, FALSE, "unavailable",
                  "cannot join room \"%s\" now: the shared room store (Redis) is unreachable; "
                  "try again shortly",
                  room->name);
      room_drop_if_empty (self, room);
      break;
    }
  join_free (join);
}

static void
join_start (Peer *peer, Room *room)
{
  PunchSignalServer *self = peer->server;
  Join *join = g_new0 (Join, 1);

  join->server = self;
  join->peer = g_strdup (peer->id);
  join->room = g_strdup (room->name);
  /* the local store answers at once, the Redis store later */
  punch_signal_room_store_join (self->store, room->name, peer->id, room->peers->len,
                                self->config->room_size, on_join_done, join);
}

/* 128 bits from the kernel, as hex */
static char *
new_resume_secret (void)
{
  guint8 raw[16];
  GString *hex = g_string_sized_new (2 * sizeof raw);

  if (getrandom (raw, sizeof raw, 0) != (ssize_t)sizeof raw)
    g_error ("getrandom() failed: %s", g_strerror (errno));
  for (gsize i = 0; i < sizeof raw; i++)
    g_string_append_printf (hex, "%02x", raw[i]);
  return g_string_free (hex, FALSE);
}

static gboolean
secret_equal (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guint8 diff = la != lb;

  for (gsize i = 0; i < la && i < lb; i++)
    diff |= (guint8)(a[i] ^ b[i]);
  return diff == 0;
}

/* A new connection of a peer already in @room (it lost its old one: a
 * changed address, a dead NAT mapping) takes its place: same id, same slot,
 * the old connection closed without a `peer-left`, the others told nothing.
 * Only a room of this instance: with Redis, a peer whose old connection is
 * on another instance joins anew once that one is gone. */
static gboolean
room_take_over (Peer *peer, Room *room, const char *resume)
{
  PunchSignalServer *self = peer->server;
  g_autoptr (PunchSignalMessage) welcome = NULL;
  Peer *old = NULL;

  for (guint i = 0; i < room->peers->len && old == NULL; i++)
    {
      Peer *p = room->peers->pdata[i];
      if (p != peer && p->resume && secret_equal (p->resume, resume))
        old = p;
    }
  if (old == NULL)
    return FALSE;

  g_message ("resume room=%s peer=%s addr=%s (was %s)", room->name, old->id, peer->addr, old->addr);
  g_ptr_array_remove (room->peers, old);
  old->room = NULL;
  g_hash_table_remove (self->ids, peer->id);
  g_free (peer->id);
  peer->id = g_strdup (old->id);
  g_hash_table_replace (self->ids, peer->id, peer);
  g_ptr_array_add (room->peers, peer);
  peer->room = room;
  peer->resume = new_resume_secret ();
  peer_close (old, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "replaced by a new connection of this peer");

  welcome = make_welcome (self, peer, room, NULL);
  /* with Redis, the peers of the other instances too */
  if (g_hash_table_size (room->remote) > 0)
    {
      g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();
      GHashTableIter it;
      gpointer key;

      g_strv_builder_addv (ids, (const char **)welcome->peers);
      g_hash_table_iter_init (&it, room->remote);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_strv_builder_add (ids, key);
      g_strfreev (welcome->peers);
      welcome->peers = g_strv_builder_end (ids);
    }
  welcome->resume = g_strdup (peer->resume);
  peer_send (peer, welcome);
  return TRUE;
}

static void
handle_hello (Peer *peer, PunchSignalMessage *hello)
{
  PunchSignalServer *self = peer->server;
  Room *room;

  if (peer->room)
    {
      peer_error (peer, TRUE, "unexpected", "already in room \"%s\"; one room per connection",
                  peer->room->name);
      return;
    }
  if (peer->joining)
    {
      peer_error (peer, TRUE, "unexpected", "already joining room \"%s\"; one room per connection",
                  peer->joining->name);
      return;
    }
  if (hello->version != PUNCH_SIGNAL_PROTOCOL_VERSION)
    {
      peer_error (peer, TRUE, "unsupported-version",
                  "this server speaks protocol version %d, not %u", PUNCH_SIGNAL_PROTOCOL_VERSION,
                  hello->version);
      return;
    }
  if (!self->config->insecure_no_auth)
    {
      g_autoptr (GError) error = NULL;
      const char *code = NULL;

      if (!punch_signal_token_verify (self->config->secret, hello->token, hello->room,
                                      g_get_real_time () / G_USEC_PER_SEC, &code, &error))
        {
          peer_error (peer, TRUE, code, "%s", error->message);
          return;
        }
    }

  room = room_get (self, hello->room);
  if (hello->resume && room_take_over (peer, room, hello->resume))
    return;
  peer->joining = room;
  g_ptr_array_add (room->waiting, peer);
  join_start (peer, room);
}

typedef struct
{
  PunchSignalServer *server;
  char *from;
  char *to;
} Sent;

static void
on_sent (PunchSignalStoreStatus status, gpointer user_data)
{
  Sent *sent = user_data;
  Peer *peer;

  if (status != PUNCH_SIGNAL_STORE_OK
      && (peer = g_hash_table_lookup (sent->server->ids, sent->from)) != NULL)
    peer_error (peer, FALSE, "unavailable",
                "a message to %s was not delivered: its instance or the shared store (Redis) "
                "is unreachable",
                sent->to ? sent->to : "the peers on another instance");
  g_free (sent->from);
  g_free (sent->to);
  g_free (sent);
}

static void
send_remote (Peer *peer, Room *room, const char *instance, const char *to, const char *json)
{
  Sent *sent = g_new0 (Sent, 1);

  sent->server = peer->server;
  sent->from = g_strdup (peer->id);
  sent->to = g_strdup (to);
  punch_signal_room_store_send (peer->server->store, instance, room->name, to, peer->id, json,
                                on_sent, sent);
}

/* To the members of @room on other instances; returns how many got it
 * (instances, for a message to all). */
static guint
relay_remote (Peer *peer, Room *room, const char *to, const char *json)
{
  g_autoptr (GHashTable) instances = NULL;
  GHashTableIter iter;
  gpointer instance;

  if (g_hash_table_size (room->remote) == 0)
    return 0;
  if (to)
    {
      instance = g_hash_table_lookup (room->remote, to);
      if (instance == NULL)
        return 0;
      send_remote (peer, room, instance, to, json);
      return 1;
    }
  instances = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, room->remote);
  while (g_hash_table_iter_next (&iter, NULL, &instance))
    if (g_hash_table_add (instances, instance))
      send_remote (peer, room, instance, NULL, json);
  return g_hash_table_size (instances);
}

static void
handle_relayed (Peer *peer, PunchSignalMessage *msg)
{
  Room *room = peer->room;
  g_autofree char *json = NULL;
  guint sent = 0;

  if (room == NULL)
    {
      peer_error (peer, TRUE, "not-joined", "send \"hello\" to join a room first");
      return;
    }
  g_free (msg->from);
  msg->from = g_strdup (peer->id);
  json = punch_signal_message_to_json (msg);
  for (guint i = 0; i < room->peers->len; i++)
    {
      Peer *other = room->peers->pdata[i];

      if (other == peer || (msg->to && strcmp (msg->to, other->id) != 0))
        continue;
      peer_relay (peer, other, json);
      sent++;
    }
  sent += relay_remote (peer, room, msg->to, json);
  if (sent == 0 && msg->to)
    peer_error (peer, TRUE, "unknown-peer", "no peer \"%s\" in this room", msg->to);
  else if (sent == 0)
    peer_error (peer, FALSE, "no-peer", "nobody else is in room \"%s\" yet", room->name);
}

/* The token bucket: TRUE when the message may be handled. */
static gboolean
peer_rate_ok (Peer *peer)
{
  guint rate = peer->server->config->rate;
  double burst = 3.0 * rate;
  gint64 now = g_get_monotonic_time ();

  peer->tokens += (double)(now - peer->last_refill) * rate / G_USEC_PER_SEC;
  peer->last_refill = now;
  if (peer->tokens > burst)
    peer->tokens = burst;
  if (now - peer->window_start > RATE_WINDOW_US)
    {
      peer->window_start = now;
      peer->dropped = 0;
      peer->told_rate = FALSE;
    }
  if (peer->tokens >= 1.0)
    {
      peer->tokens -= 1.0;
      return TRUE;
    }
  peer->dropped++;
  if (!peer->told_rate)
    {
      peer->told_rate = TRUE;
      peer_error (peer, FALSE, "rate-limited",
                  "more than %u messages per second; messages are being dropped", rate);
    }
  if (peer->dropped > burst)
    {
      g_message ("error room=%s peer=%s addr=%s code=policy: closed for flooding",
                 peer->room ? peer->room->name : "-", peer->id, peer->addr);
      peer_close (peer, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "rate limit exceeded");
    }
  return FALSE;
}

/* Parses and acts on one text message of @peer (already counted against
 * its rate). */
void
peer_handle_text (Peer *peer, GBytes *bytes)
{
  g_autoptr (PunchSignalMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  const char *code = NULL;
  gsize len;
  const char *data;

  if (peer->dead || soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return; /* closing: we already said why */
  data = g_bytes_get_data (bytes, &len);
  msg = punch_signal_message_parse (data, len, &code, &error);
  if (msg == NULL)
    {
      peer_error (peer, TRUE, code, "%s", error->message);
      return;
    }
  if (msg->type == PUNCH_SIGNAL_MESSAGE_HELLO)
    handle_hello (peer, msg);
  else if (punch_signal_message_type_is_relayed (msg->type))
    handle_relayed (peer, msg);
  else
    peer_error (peer, TRUE, "unexpected", "clients do not send \"%s\"",
                punch_signal_message_type_to_string (msg->type));
}

void
peer_on_message (SoupWebsocketConnection *conn, gint type, GBytes *bytes, gpointer user_data)
{
  Peer *peer = user_data;

  peer->last_seen = g_get_monotonic_time ();
  if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return; /* closing: we already said why */
  if (!peer_rate_ok (peer))
    return;
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      peer_error (peer, TRUE, "bad-json", "messages are JSON text frames, not binary");
      return;
    }
  /* a large message once the shard's time is up waits for its turn (see
   * peer_defer()), and so does anything behind a message that waits */
  if (peer_must_wait (peer, g_bytes_get_size (bytes)))
    peer_defer (peer, bytes);
  else
    peer_handle_text (peer, bytes);
}

/* ---- what other instances report (the Redis store) ---- */

static void
on_remote_joined (gpointer user_data, const char *name, const char *id, const char *instance)
{
  PunchSignalServer *self = user_data;
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL || strcmp (instance, self->store->instance) == 0)
    return;
  if (!g_hash_table_contains (room->remote, id))
    {
      g_autoptr (PunchSignalMessage) joined
          = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_JOINED);

      g_hash_table_insert (room->remote, g_strdup (id), g_strdup (instance));
      joined->id = g_strdup (id);
      room_broadcast (room, NULL, joined);
    }
  room_hold (room, HELD_JOINED, id, NULL);
}

static void
on_remote_left (gpointer user_data, const char *name, const char *id)
{
  PunchSignalServer *self = user_data;
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL)
    return;
  if (g_hash_table_remove (room->remote, id))
    {
      g_autoptr (PunchSignalMessage) left
          = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_LEFT);

      left->id = g_strdup (id);
      room_broadcast (room, NULL, left);
    }
  room_hold (room, HELD_LEFT, id, NULL);
}

/* The room boundary, enforced here too: only to a peer of that room, and
 * only from a member of it. */
static void
on_remote_deliver (gpointer user_data, const char *name, const char *to, const char *from,
                   const char *json)
{
  PunchSignalServer *self = user_data;
  Room *room = g_hash_table_lookup (self->rooms, name);
  Peer *peer;

  if (room == NULL)
    {
      g_debug ("dropped a message from %s for room %s: nobody of it is here", from, name);
      return;
    }
  if (to == NULL)
    {
      if (g_hash_table_contains (room->remote, from))
        for (guint i = 0; i < room->peers->len; i++)
          peer_send_text (room->peers->pdata[i], json);
      room_hold (room, HELD_MESSAGE, from, json);
      return;
    }
  peer = g_hash_table_lookup (self->ids, to);
  if (peer && peer->room == room && g_hash_table_contains (room->remote, from))
    peer_send_text (peer, json);
  else if (peer && peer->joining == room)
    peer_hold (peer, HELD_MESSAGE, from, json);
  else
    g_message ("error room=%s peer=%s code=unknown-peer: dropped a message from %s on another "
               "instance: not a member of this room here",
               name, to, from);
}

static void
on_remote_members (gpointer user_data, const char *name, GPtrArray *members)
{
  PunchSignalServer *self = user_data;
  Room *room = g_hash_table_lookup (self->rooms, name);
  g_autoptr (GHashTable) now = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer id;

  if (room == NULL)
    return;
  for (guint i = 0; i < members->len; i++)
    {
      PunchSignalMember *m = members->pdata[i];

      if (strcmp (m->instance, self->store->instance) == 0)
        continue;
      g_hash_table_insert (now, m->id, m->instance);
    }
  g_hash_table_iter_init (&iter, room->remote);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (now, id))
      g_ptr_array_add (gone, g_strdup (id));
  for (guint i = 0; i < gone->len; i++)
    on_remote_left (self, name, gone->pdata[i]);
  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (room->remote, id))
      on_remote_joined (self, name, id, g_hash_table_lookup (now, id));
  if (gone->len)
    g_message ("redis: room %s: %u peers on other instances left while Redis was unreachable", name,
               gone->len);
}

static void
on_remote_lost (gpointer user_data, const char *name, const char *id)
{
  PunchSignalServer *self = user_data;
  Peer *peer = g_hash_table_lookup (self->ids, id);

  if (peer == NULL || peer->room == NULL || strcmp (peer->room->name, name) != 0)
    return;
  peer_error (peer, FALSE, "unavailable",
              "lost its place in room \"%s\" while the shared store (Redis) was unreachable; "
              "join again",
              name);
  peer_close (peer, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "room state lost");
}

const PunchSignalRoomStoreEvents room_store_events = {
  .peer_joined = on_remote_joined,
  .peer_left = on_remote_left,
  .deliver = on_remote_deliver,
  .members = on_remote_members,
  .lost = on_remote_lost,
};
