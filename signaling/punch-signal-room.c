/* punch-signal-room.c: rooms, membership, and relaying inside a room
 *
 * A peer joins one room with `hello`; the server answers `welcome`, tells the
 * others `peer-joined`, and from then on relays the peer's description,
 * candidate, end-of-candidates and bye messages to peers of the same room
 * only, stamping `from`. Messages are re-serialized from the parsed struct,
 * so nothing but known fields is ever relayed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server-private.h"
#include "punch-signal-token.h"

#include <string.h>

void
room_free (Room *room)
{
  g_free (room->name);
  g_ptr_array_unref (room->peers);
  g_free (room);
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

  if (room == NULL)
    return;
  g_ptr_array_remove (room->peers, peer);
  peer->room = NULL;
  g_message ("leave room=%s peer=%s addr=%s close=%u peers=%u", room->name, peer->id, peer->addr,
             soup_websocket_connection_get_close_code (peer->conn), room->peers->len);
  left = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_LEFT);
  left->id = g_strdup (peer->id);
  room_broadcast (room, NULL, left);
  if (room->peers->len == 0)
    g_hash_table_remove (self->rooms, room->name);
}

static PunchSignalMessage *
make_welcome (PunchSignalServer *self, Peer *peer, Room *room)
{
  PunchSignalMessage *welcome = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_WELCOME);
  g_autoptr (GStrvBuilder) peers = g_strv_builder_new ();
  gint64 expiry = g_get_real_time () / G_USEC_PER_SEC + self->config->turn_ttl;

  welcome->id = g_strdup (peer->id);
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

static void
handle_hello (Peer *peer, PunchSignalMessage *hello)
{
  PunchSignalServer *self = peer->server;
  g_autoptr (PunchSignalMessage) welcome = NULL;
  g_autoptr (PunchSignalMessage) joined = NULL;
  Room *room;

  if (peer->room)
    {
      peer_error (peer, TRUE, "unexpected", "already in room \"%s\"; one room per connection",
                  peer->room->name);
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

  room = g_hash_table_lookup (self->rooms, hello->room);
  if (room && room->peers->len >= self->config->room_size)
    {
      peer_error (peer, FALSE, "room-full", "room \"%s\" already holds %u peers", room->name,
                  room->peers->len);
      return;
    }
  if (room == NULL)
    {
      room = g_new0 (Room, 1);
      room->name = g_strdup (hello->room);
      room->peers = g_ptr_array_new ();
      g_hash_table_insert (self->rooms, room->name, room);
    }
  g_ptr_array_add (room->peers, peer);
  peer->room = room;
  g_message ("join room=%s peer=%s addr=%s peers=%u", room->name, peer->id, peer->addr,
             room->peers->len);

  welcome = make_welcome (self, peer, room);
  peer_send (peer, welcome);
  joined = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_PEER_JOINED);
  joined->id = g_strdup (peer->id);
  room_broadcast (room, peer, joined);
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

void
peer_on_message (SoupWebsocketConnection *conn, gint type, GBytes *bytes, gpointer user_data)
{
  Peer *peer = user_data;
  g_autoptr (PunchSignalMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  const char *code = NULL;
  gsize len;
  const char *data;

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
