/* punch-signal-server.c: rooms of peers on WebSockets; see docs/signaling.md
 *
 * Every connection is a Peer. A peer joins one room with `hello`; the server
 * answers `welcome`, tells the others `peer-joined`, and from then on relays
 * the peer's description, candidate, end-of-candidates and bye messages to
 * peers of the same room only, stamping `from`. Messages are re-serialized
 * from the parsed struct, so nothing but known fields is ever relayed.
 *
 * Defences, all per connection: the frame guard (fragmented messages, frame
 * floods), libsoup's max-incoming-payload-size (one frame), a token bucket
 * on messages, a strike count for protocol errors, a hello deadline, and
 * pings with a silence deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server.h"
#include "punch-signal-frame-guard.h"
#include "punch-signal-message.h"
#include "punch-signal-token.h"

#include <string.h>
#include <libsoup/soup.h>

#define RATE_WINDOW_US (10 * G_USEC_PER_SEC)
#define FRAMES_PER_SECOND_FACTOR 5 /* frames (incl. pings) allowed per allowed message */

typedef struct _Room Room;
typedef struct _Peer Peer;

struct _PunchSignalServer
{
  GObject parent;

  PunchSignalServerConfig *config;
  SoupServer *soup;
  gboolean tls;
  GHashTable *peers; /* Peer* -> Peer*, owned */
  GHashTable *ids;   /* id -> Peer*, every connection */
  GHashTable *rooms; /* name -> Room*, owned */
  guint sweep_id;
  gboolean shutting_down;
};

struct _Room
{
  char *name;
  GPtrArray *peers; /* Peer*, not owned, in order of joining */
};

struct _Peer
{
  PunchSignalServer *server;
  SoupWebsocketConnection *conn;
  GIOStream *base; /* the stolen HTTP connection */
  PunchSignalFrameGuard *guard;
  char *id;
  char *addr;
  Room *room;

  double tokens;
  gint64 last_refill;
  gint64 window_start;
  guint dropped; /* in this window */
  gboolean told_rate;
  guint strikes;

  gint64 connected_at;
  gint64 last_seen;
};

G_DEFINE_FINAL_TYPE (PunchSignalServer, punch_signal_server, G_TYPE_OBJECT)

static void
room_free (Room *room)
{
  g_free (room->name);
  g_ptr_array_unref (room->peers);
  g_free (room);
}

/* ---- sending ---- */

static void
peer_send (Peer *peer, const PunchSignalMessage *msg)
{
  g_autofree char *json = NULL;

  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  json = punch_signal_message_to_json (msg);
  soup_websocket_connection_send_text (peer->conn, json);
}

static void
peer_close (Peer *peer, gushort code, const char *reason)
{
  if (soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->conn, code, reason);
}

static const char *
peer_name (Peer *peer)
{
  return peer->id;
}

/* Sends an `error`, logs it, and counts a strike when @strike. */
static void peer_error (Peer *peer, gboolean strike, const char *code, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

static void
peer_error (Peer *peer, gboolean strike, const char *code, const char *format, ...)
{
  g_autoptr (PunchSignalMessage) msg = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_message ("error room=%s peer=%s addr=%s code=%s: %s", peer->room ? peer->room->name : "-",
             peer_name (peer), peer->addr, code, text);
  msg = punch_signal_message_new_error (code, "%s", text);
  peer_send (peer, msg);
  if (strike && ++peer->strikes >= peer->server->config->max_strikes)
    {
      g_message ("error room=%s peer=%s addr=%s code=policy: closed after %u protocol errors",
                 peer->room ? peer->room->name : "-", peer_name (peer), peer->addr,
                 peer->strikes);
      peer_close (peer, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many protocol errors");
    }
}

/* ---- rooms ---- */

static void
room_broadcast (Room *room, Peer *except, const PunchSignalMessage *msg)
{
  for (guint i = 0; i < room->peers->len; i++)
    if (room->peers->pdata[i] != except)
      peer_send (room->peers->pdata[i], msg);
}

static void
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
      if (soup_websocket_connection_get_state (other->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (other->conn, json);
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

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *bytes, gpointer user_data)
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

/* ---- connections ---- */

static void
peer_free (Peer *peer)
{
  g_signal_handlers_disconnect_by_data (peer->conn, peer);
  punch_signal_frame_guard_disarm (peer->guard);
  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_CLOSED)
    soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (peer->conn);
  g_object_unref (peer->guard);
  if (!g_io_stream_is_closed (peer->base))
    g_io_stream_close_async (peer->base, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (peer->base);
  g_free (peer->id);
  g_free (peer->addr);
  g_free (peer);
}

static void
on_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  Peer *peer = user_data;
  PunchSignalServer *self = peer->server;

  peer_leave (peer);
  g_hash_table_remove (self->ids, peer->id);
  g_hash_table_remove (self->peers, peer); /* frees it */
}

static void
on_pong (SoupWebsocketConnection *conn, GBytes *message, gpointer user_data)
{
  ((Peer *)user_data)->last_seen = g_get_monotonic_time ();
}

static void
on_ws_error (SoupWebsocketConnection *conn, GError *error, gpointer user_data)
{
  Peer *peer = user_data;

  g_debug ("peer %s (%s): %s", peer->id, peer->addr, error->message);
}

static void
on_guard_trip (gushort code, const char *reason, gpointer user_data)
{
  Peer *peer = user_data;

  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_message ("error room=%s peer=%s addr=%s code=policy: %s", peer->room ? peer->room->name : "-",
             peer->id, peer->addr, reason);
  peer_close (peer, code, reason);
}

static char *
new_peer_id (PunchSignalServer *self)
{
  for (;;)
    {
      char *id = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
      if (!g_hash_table_contains (self->ids, id))
        return id;
      g_free (id);
    }
}

static char *
address_to_string (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (isa));
      guint16 port = g_inet_socket_address_get_port (isa);

      if (g_inet_socket_address_get_address (isa)
          && g_inet_address_get_family (g_inet_socket_address_get_address (isa))
                 == G_SOCKET_FAMILY_IPV6)
        return g_strdup_printf ("[%s]:%u", ip, port);
      return g_strdup_printf ("%s:%u", ip, port);
    }
  return g_strdup ("?");
}

static void
upgrade (SoupServerMessage *msg, gpointer user_data)
{
  PunchSignalServer *self = user_data;
  Peer *peer = g_new0 (Peer, 1);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *origin
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Origin");
  g_autoptr (GIOStream) wrapped = NULL;
  guint64 frames;

  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_free (peer);
      return; /* e.g. a 100 Continue before the 101 */
    }
  peer->server = self;
  peer->id = new_peer_id (self);
  peer->addr = address_to_string (soup_server_message_get_remote_address (msg));
  peer->base = soup_server_message_steal_connection (msg);
  frames = (guint64)self->config->rate * FRAMES_PER_SECOND_FACTOR + 10;
  peer->guard = PUNCH_SIGNAL_FRAME_GUARD (
      punch_signal_frame_guard_new (g_io_stream_get_input_stream (peer->base),
                                    PUNCH_SIGNAL_MAX_FRAME, (guint)MIN (frames, G_MAXUINT),
                                    on_guard_trip, peer));
  wrapped = g_simple_io_stream_new (G_INPUT_STREAM (peer->guard),
                                    g_io_stream_get_output_stream (peer->base));
  peer->conn = soup_websocket_connection_new (wrapped, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
                                              origin, NULL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (peer->conn, PUNCH_SIGNAL_MAX_FRAME);
  soup_websocket_connection_set_keepalive_interval (peer->conn, self->config->keepalive_s);
  peer->last_refill = peer->window_start = peer->last_seen = peer->connected_at
      = g_get_monotonic_time ();
  peer->tokens = 3.0 * self->config->rate;

  g_signal_connect (peer->conn, "message", G_CALLBACK (on_message), peer);
  g_signal_connect (peer->conn, "closed", G_CALLBACK (on_closed), peer);
  g_signal_connect (peer->conn, "pong", G_CALLBACK (on_pong), peer);
  g_signal_connect (peer->conn, "error", G_CALLBACK (on_ws_error), peer);
  g_hash_table_add (self->peers, peer);
  g_hash_table_insert (self->ids, peer->id, peer);
}

static void
ws_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  PunchSignalServer *self = user_data;

  if (self->shutting_down || g_hash_table_size (self->peers) >= self->config->max_connections)
    {
      static const char body[] = "punch-signal: too many connections, try again later\n";
      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                    "close");
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, body,
                                        sizeof body - 1);
      return;
    }
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    return; /* libsoup set 400 and a reason */
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (upgrade), self, 0);
}

static void
healthz_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer user_data)
{
  PunchSignalServer *self = user_data;
  g_autofree char *body = NULL;
  gsize len;

  if (strcmp (soup_server_message_get_method (msg), "GET") != 0
      && strcmp (soup_server_message_get_method (msg), "HEAD") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  body = g_strdup_printf ("{\"status\":\"ok\",\"connections\":%u,\"rooms\":%u}\n",
                          g_hash_table_size (self->peers), g_hash_table_size (self->rooms));
  len = strlen (body);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&body), len);
}

/* One timer for every connection's deadlines: a GSource per connection would
 * make every main-loop iteration walk thousands of them. */
static gboolean
sweep (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 silent_limit = now - 3 * (gint64)self->config->keepalive_s * G_USEC_PER_SEC;
  gint64 hello_limit = now - (gint64)self->config->hello_timeout_s * G_USEC_PER_SEC;
  GHashTableIter iter;
  Peer *peer;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
    {
      if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
        continue;
      if (peer->room == NULL && peer->connected_at < hello_limit)
        {
          g_message ("error room=- peer=%s addr=%s code=policy: no room joined within %u s",
                     peer->id, peer->addr, self->config->hello_timeout_s);
          peer_close (peer, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no hello in time");
        }
      else if (peer->last_seen < silent_limit)
        {
          g_message ("error room=%s peer=%s addr=%s code=policy: silent for %u s",
                     peer->room ? peer->room->name : "-", peer->id, peer->addr,
                     3 * self->config->keepalive_s);
          peer_close (peer, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "no answer to pings");
        }
    }
  return G_SOURCE_CONTINUE;
}

/* libsoup 3.0 to 3.3 keep one reference too many on every socket they accept
 * (fixed in 3.4 by "soup-listener: Plug a leak", b545d5f0): about 300 bytes
 * per connection, forever. Drop it once per socket, at its first request. */
static void
on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  static GQuark fixed;
  GSocket *sock = soup_server_message_get_socket (msg);

  if (fixed == 0)
    fixed = g_quark_from_static_string ("punch-signal-socket-ref-fixed");
  if (sock == NULL || g_object_get_qdata (G_OBJECT (sock), fixed))
    return;
  g_object_set_qdata (G_OBJECT (sock), fixed, GINT_TO_POINTER (1));
  g_object_unref (sock);
}

/* ---- the object ---- */

static void
punch_signal_server_dispose (GObject *object)
{
  PunchSignalServer *self = PUNCH_SIGNAL_SERVER (object);

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->soup)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  /* rooms first: peer_free must not find a room to leave */
  if (self->rooms)
    g_hash_table_remove_all (self->rooms);
  if (self->peers)
    {
      GHashTableIter iter;
      Peer *peer;
      g_hash_table_iter_init (&iter, self->peers);
      while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
        peer->room = NULL;
      g_hash_table_remove_all (self->ids);
      g_hash_table_remove_all (self->peers);
    }
  G_OBJECT_CLASS (punch_signal_server_parent_class)->dispose (object);
}

static void
punch_signal_server_finalize (GObject *object)
{
  PunchSignalServer *self = PUNCH_SIGNAL_SERVER (object);

  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->ids, g_hash_table_unref);
  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->config, punch_signal_server_config_free);
  G_OBJECT_CLASS (punch_signal_server_parent_class)->finalize (object);
}

static void
punch_signal_server_class_init (PunchSignalServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_signal_server_dispose;
  object_class->finalize = punch_signal_server_finalize;
}

static void
punch_signal_server_init (PunchSignalServer *self)
{
  self->peers = g_hash_table_new_full (NULL, NULL, (GDestroyNotify)peer_free, NULL);
  self->ids = g_hash_table_new (g_str_hash, g_str_equal);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)room_free);
}

PunchSignalServer *
punch_signal_server_new (const PunchSignalServerConfig *config, GError **error)
{
  g_autoptr (PunchSignalServer) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  if (!punch_signal_server_config_validate (config, error))
    return NULL;

  self = g_object_new (PUNCH_TYPE_SIGNAL_SERVER, NULL);
  self->config = punch_signal_server_config_copy (config);
  self->tls = config->tls_certificate != NULL;
  self->soup = soup_server_new ("server-header", "punch-signal ", "tls-certificate",
                                config->tls_certificate, NULL);
  soup_server_add_handler (self->soup, "/healthz", healthz_handler, self, NULL);
  soup_server_add_handler (self->soup, "/ws", ws_handler, self, NULL);
  if (soup_get_major_version () == 3 && soup_get_minor_version () < 4)
    g_signal_connect (self->soup, "request-started", G_CALLBACK (on_request_started), NULL);
  self->sweep_id = g_timeout_add_seconds (1, sweep, self);
  return g_steal_pointer (&self);
}

static gboolean
parse_listen (const char *address, char **host, guint16 *port, GError **error)
{
  const char *colon;
  guint64 value;
  char *end = NULL;

  if (address[0] == '[')
    {
      const char *close = strstr (address, "]:");
      if (close == NULL)
        goto bad;
      *host = g_strndup (address + 1, (gsize)(close - address - 1));
      colon = close + 1;
    }
  else
    {
      colon = strrchr (address, ':');
      if (colon == NULL || memchr (address, ':', (gsize)(colon - address)))
        goto bad;
      *host = g_strndup (address, (gsize)(colon - address));
    }
  value = g_ascii_strtoull (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || value > 65535)
    {
      g_clear_pointer (host, g_free);
      goto bad;
    }
  *port = (guint16)value;
  return TRUE;

bad:
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
               "cannot listen on \"%s\": expected HOST:PORT such as 127.0.0.1:8443, "
               "[::1]:8443 or *:8443 (port 0 picks a free port)",
               address);
  return FALSE;
}

/* soup_server_listen() leaves GSocket's listen backlog at 10, which drops
 * SYNs when many peers connect at once; this socket has room for 4096. */
static gboolean
listen_on (PunchSignalServer *self, GInetAddress *ip, guint16 port, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ip, port);

  sock = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return FALSE;
  g_socket_set_listen_backlog (sock, 4096);
  if (!g_socket_bind (sock, sa, TRUE, error) || !g_socket_listen (sock, error))
    return FALSE;
  return soup_server_listen_socket (self->soup, sock,
                                    self->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
}

gboolean
punch_signal_server_listen (PunchSignalServer *self, const char *address, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) ip = NULL;
  guint16 port;
  gboolean ok;

  g_return_val_if_fail (PUNCH_IS_SIGNAL_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  if (!parse_listen (address, &host, &port, error))
    return FALSE;
  if (strcmp (host, "*") == 0 || *host == '\0')
    {
      /* IPv6 sockets accept IPv4 too (GLib clears IPV6_V6ONLY); fall back to IPv4 */
      g_autoptr (GError) v6_error = NULL;
      ip = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      ok = listen_on (self, ip, port, &v6_error);
      if (!ok)
        {
          g_clear_object (&ip);
          ip = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
          ok = listen_on (self, ip, port, error);
        }
    }
  else
    {
      if (strcmp (host, "localhost") == 0)
        ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      else
        ip = g_inet_address_new_from_string (host);
      if (ip == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "cannot listen on \"%s\": the host must be an IP address, localhost or *",
                       address);
          return FALSE;
        }
      ok = listen_on (self, ip, port, error);
    }
  if (!ok)
    g_prefix_error (error, "cannot listen on %s: ", address);
  return ok;
}

static GInetSocketAddress *
first_listener (PunchSignalServer *self)
{
  GSList *listeners = soup_server_get_listeners (self->soup);
  GSocketAddress *sa = NULL;

  if (listeners)
    sa = g_socket_get_local_address (listeners->data, NULL);
  g_slist_free (listeners);
  return sa ? G_INET_SOCKET_ADDRESS (sa) : NULL;
}

guint16
punch_signal_server_get_port (PunchSignalServer *self)
{
  g_autoptr (GInetSocketAddress) sa = NULL;

  g_return_val_if_fail (PUNCH_IS_SIGNAL_SERVER (self), 0);
  sa = first_listener (self);
  return sa ? g_inet_socket_address_get_port (sa) : 0;
}

char *
punch_signal_server_get_url (PunchSignalServer *self)
{
  g_autoptr (GInetSocketAddress) sa = NULL;
  g_autofree char *hostport = NULL;

  g_return_val_if_fail (PUNCH_IS_SIGNAL_SERVER (self), NULL);
  sa = first_listener (self);
  if (sa == NULL)
    return NULL;
  hostport = address_to_string (G_SOCKET_ADDRESS (sa));
  return g_strdup_printf ("%s://%s/ws", self->tls ? "wss" : "ws", hostport);
}

guint
punch_signal_server_get_n_connections (PunchSignalServer *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_SERVER (self), 0);
  return g_hash_table_size (self->peers);
}

guint
punch_signal_server_get_n_rooms (PunchSignalServer *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_SERVER (self), 0);
  return g_hash_table_size (self->rooms);
}

void
punch_signal_server_shutdown (PunchSignalServer *self)
{
  GHashTableIter iter;
  Peer *peer;

  g_return_if_fail (PUNCH_IS_SIGNAL_SERVER (self));
  self->shutting_down = TRUE;
  soup_server_disconnect (self->soup);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
    peer_close (peer, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
}
