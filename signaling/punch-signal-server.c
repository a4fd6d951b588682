/* punch-signal-server.c: rooms of peers on WebSockets; see docs/signaling.md
 *
 * This file: setup, the listener, the HTTP side (/healthz, the upgrade to
 * /ws) and the life of each connection (sending, closing, deadlines). The
 * shards of contexts the WebSockets run on are in punch-signal-shard.c, the
 * rooms and what peers say in them in punch-signal-room.c.
 *
 * Every connection is a Peer. Defences, all per connection: the frame guard
 * (fragmented messages, frame floods), libsoup's max-incoming-payload-size
 * (one frame), a token bucket on messages, a strike count for protocol
 * errors, a hello deadline, and pings with a silence deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server-private.h"
#ifdef PUNCH_SIGNAL_HAVE_REDIS
#include "punch-signal-redis.h"
#endif

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <glib-unix.h>
#include <libsoup/soup.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

G_DEFINE_FINAL_TYPE (PunchSignalServer, punch_signal_server, G_TYPE_OBJECT)

/* ---- sending ---- */

/* After a call into a peer's connection from outside its shard's dispatch:
 * libsoup may have added a source to the shard's context (output that would
 * block, a close timeout), so run the shard again soon, which also updates
 * what epoll watches for it. The shard being dispatched now is updated at
 * the end of shard_run(). */
void
peer_poke (Peer *peer)
{
  if (peer->shard != peer->server->running)
    shard_schedule (peer->shard);
}

static void peer_retire (Peer *peer);

/* Peers closed for their queue: their close frame waits behind what they do
 * not read, so there is no close handshake to wait for. By id, since the
 * peer may be gone by now. Dropping them at once also keeps libsoup's own
 * 5 s close timeout from firing, whose GSource libsoup 3.2 leaks. */
static gboolean
drop_slow (gpointer user_data)
{
  PunchSignalServer *self = user_data;

  g_clear_pointer (&self->slow_source, g_source_unref);
  for (guint i = 0; i < self->slow->len; i++)
    {
      Peer *peer = g_hash_table_lookup (self->ids, self->slow->pdata[i]);
      if (peer == NULL || peer->dead)
        continue;
      g_message ("error room=%s peer=%s addr=%s code=policy: dropped without a close "
                 "handshake: it does not read",
                 peer->room ? peer->room->name : "-", peer->id, peer->addr);
      peer_retire (peer);
    }
  g_ptr_array_set_size (self->slow, 0);
  return G_SOURCE_REMOVE;
}

/* A server frame: the payload after a 2, 4 or 10 byte header, unmasked. */
static guint64
frame_size (gsize len)
{
  return len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
}

/* What libsoup holds for the peer: handed to it, not yet written. libsoup's
 * own pongs and pings also pass the meter, which makes this a little low,
 * never high. */
static guint64
peer_queued (Peer *peer)
{
  guint64 written = punch_signal_output_meter_get_written (peer->meter);

  return peer->handed > written ? peer->handed - written : 0;
}

/* Every call into a peer's SoupWebsocketConnection runs with its shard's
 * context as the thread-default one: that is where libsoup attaches the
 * sources it creates (output, close timeout). Returns FALSE when the peer
 * was closed because it does not read what it is sent (its queue would pass
 * --max-queue). */
gboolean
peer_send_text (Peer *peer, const char *json)
{
  guint64 size = frame_size (strlen (json));
  guint64 queued;

  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return TRUE;
  queued = peer_queued (peer);
  if (queued + size > peer->server->config->max_queue)
    {
      peer->slow = TRUE;
      g_message ("error room=%s peer=%s addr=%s code=policy: does not read: %" G_GUINT64_FORMAT
                 " bytes waiting for it, the limit is %" G_GUINT64_FORMAT " (--max-queue)",
                 peer->room ? peer->room->name : "-", peer->id, peer->addr, queued,
                 peer->server->config->max_queue);
      peer_close (peer, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too slow: outgoing queue full");
      /* it will not read the close frame either: drop it soon (not here,
       * where a room may be walking its peers) */
      g_ptr_array_add (peer->server->slow, g_strdup (peer->id));
      server_soon (peer->server, &peer->server->slow_source, drop_slow);
      return FALSE;
    }
  peer->handed += size;
  g_main_context_push_thread_default (peer->shard->ctx);
  soup_websocket_connection_send_text (peer->conn, json);
  g_main_context_pop_thread_default (peer->shard->ctx);
  peer_poke (peer);
  return TRUE;
}

void
peer_relay (Peer *from, Peer *to, const char *json)
{
  if (!peer_send_text (to, json))
    peer_error (
        from, FALSE, "peer-too-slow",
        "peer \"%s\" does not read its messages and was disconnected (more than %" G_GUINT64_FORMAT
        " bytes were waiting for it)",
        to->id, from->server->config->max_queue);
}

void
peer_send (Peer *peer, const PunchSignalMessage *msg)
{
  g_autofree char *json = punch_signal_message_to_json (msg);

  peer_send_text (peer, json);
}

void
peer_close (Peer *peer, gushort code, const char *reason)
{
  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_main_context_push_thread_default (peer->shard->ctx);
  soup_websocket_connection_close (peer->conn, code, reason);
  g_main_context_pop_thread_default (peer->shard->ctx);
  peer_poke (peer);
}

static const char *
peer_name (Peer *peer)
{
  return peer->id;
}

/* Sends an `error`, logs it, and counts a strike when @strike. */
void
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
                 peer->room ? peer->room->name : "-", peer_name (peer), peer->addr, peer->strikes);
      peer_close (peer, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many protocol errors");
    }
}

/* ---- connections ---- */

/* Never called while the peer's context is being iterated: from reap() or
 * the server's dispose. */
static void
peer_free (Peer *peer)
{
  peer_unwatch (peer);
  peer_drop_deferred (peer);
  g_signal_handlers_disconnect_by_data (peer->conn, peer);
  punch_signal_frame_guard_disarm (peer->guard);
  g_main_context_push_thread_default (peer->shard->ctx);
  if (soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (peer->conn);
  g_object_unref (peer->guard);
  g_main_context_pop_thread_default (peer->shard->ctx);
  peer->server->trimmed_bytes += peer_queued (peer);
  g_object_unref (peer->meter);
  /* on the server's context, which outlives the shard's */
  if (!g_io_stream_is_closed (peer->base))
    g_io_stream_close_async (peer->base, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (peer->base);
  g_clear_pointer (&peer->held, g_ptr_array_unref);
  g_free (peer->id);
  g_free (peer->addr);
  g_free (peer->resume);
  g_free (peer);
}

static gboolean
reap (gpointer user_data)
{
  PunchSignalServer *self = user_data;

  g_clear_pointer (&self->reap_source, g_source_unref);
  for (guint i = 0; i < self->dead->len; i++)
    {
      g_hash_table_remove (self->peers, self->dead->pdata[i]); /* frees it */
    }
  g_ptr_array_set_size (self->dead, 0);
  return G_SOURCE_REMOVE;
}

/* The connection is over: out of its room now, freed soon by reap(). */
static void
peer_retire (Peer *peer)
{
  PunchSignalServer *self = peer->server;

  if (peer->dead)
    return;
  peer_leave (peer);
  /* a peer another connection took the place of no longer owns its id */
  if (g_hash_table_lookup (self->ids, peer->id) == peer)
    g_hash_table_remove (self->ids, peer->id);
  /* this may run inside the shard's context: free it from the server's;
   * until then its socket is not watched (a readable descriptor of a dead
   * peer would wake the server again and again) */
  peer->dead = TRUE;
  peer_drop_deferred (peer);
  peer_unwatch (peer);
  g_ptr_array_add (self->dead, peer);
  server_soon (self, &self->reap_source, reap);
}

static void
on_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  peer_retire (user_data);
}

static void
on_closing (SoupWebsocketConnection *conn, gpointer user_data)
{
  Peer *peer = user_data;

  if (peer->closing_at == 0)
    peer->closing_at = g_get_monotonic_time ();
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

char *
server_new_peer_id (PunchSignalServer *self)
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
  Conn *conn;

  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_free (peer);
      return; /* e.g. a 100 Continue before the 101 */
    }
  /* every connection comes from the listener (punch-signal-listener.c),
   * whose handshake shard ran its HTTP side */
  conn = server_conn_upgraded (self, msg);
  if (conn == NULL)
    {
      g_free (peer);
      g_return_if_reached ();
    }
  peer->server = self;
  peer->id = server_new_peer_id (self);
  peer->addr = address_to_string (soup_server_message_get_remote_address (msg));
  peer->fd = conn->fd;
  peer->base = soup_server_message_steal_connection (msg);
  frames = (guint64)self->config->rate * FRAMES_PER_SECOND_FACTOR + 10;
  /* the WebSocket leaves the handshake lane for the default priority */
  conn->shard = shard_move_to_ws (conn->shard, conn->fd);
  peer->shard = conn->shard;
  g_main_context_push_thread_default (peer->shard->ctx);
  peer->guard = PUNCH_SIGNAL_FRAME_GUARD (punch_signal_frame_guard_new (
      g_io_stream_get_input_stream (peer->base), PUNCH_SIGNAL_MAX_FRAME,
      (guint)MIN (frames, G_MAXUINT), on_guard_trip, peer));
  peer->meter = PUNCH_SIGNAL_OUTPUT_METER (
      punch_signal_output_meter_new (g_io_stream_get_output_stream (peer->base)));
  wrapped = g_simple_io_stream_new (G_INPUT_STREAM (peer->guard), G_OUTPUT_STREAM (peer->meter));
  peer->conn = soup_websocket_connection_new (wrapped, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
                                              origin, NULL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (peer->conn, PUNCH_SIGNAL_MAX_FRAME);
  soup_websocket_connection_set_keepalive_interval (peer->conn, self->config->keepalive_s);
  peer->last_refill = peer->window_start = peer->last_seen = peer->connected_at
      = g_get_monotonic_time ();
  peer->tokens = 3.0 * self->config->rate;

  g_signal_connect (peer->conn, "message", G_CALLBACK (peer_on_message), peer);
  g_signal_connect (peer->conn, "closed", G_CALLBACK (on_closed), peer);
  g_signal_connect (peer->conn, "closing", G_CALLBACK (on_closing), peer);
  g_signal_connect (peer->conn, "pong", G_CALLBACK (on_pong), peer);
  g_signal_connect (peer->conn, "error", G_CALLBACK (on_ws_error), peer);
  g_main_context_pop_thread_default (peer->shard->ctx);
  g_hash_table_add (self->peers, peer);
  g_hash_table_insert (self->ids, peer->id, peer);

  /* runs what is already buffered, then watches the new socket (soon:
   * this is the handshake shard's dispatch) */
  shard_schedule (peer->shard);
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
  g_autoptr (GString) json = g_string_new (NULL);
  char *body;
  gint64 ago = 0;
  const char *degraded = server_degraded (self, &ago);
  gsize len;

  if (strcmp (soup_server_message_get_method (msg), "GET") != 0
      && strcmp (soup_server_message_get_method (msg), "HEAD") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  g_string_append_printf (
      json,
      "{\"status\":\"%s\",\"connections\":%u,\"rooms\":%u,\"handshakes\":%u,\"sockets\":%u,"
      "\"refused\":%" G_GUINT64_FORMAT ",\"handshake_timeouts\":%" G_GUINT64_FORMAT
      ",\"descriptors_exhausted\":%" G_GUINT64_FORMAT,
      degraded ? "degraded" : "ok", g_hash_table_size (self->peers),
      g_hash_table_size (self->rooms), g_queue_get_length (&self->handshakes),
      g_hash_table_size (self->conns), self->refused_full + self->refused_addr, self->expired,
      self->exhausted_count);
  /* degraded: it ran out of file descriptors within the last 10 s */
  if (degraded)
    g_string_append_printf (json, ",\"degraded\":\"out of file descriptors (%s) %.1f s ago\"",
                            degraded, (double)ago / G_USEC_PER_SEC);
  if (self->store)
    punch_signal_room_store_describe (self->store, json);
  g_string_append (json, "}\n");
  len = json->len;
  body = g_string_free (g_steal_pointer (&json), FALSE);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

SoupServer *
server_new_soup (PunchSignalServer *self)
{
  SoupServer *soup = soup_server_new ("server-header", "punch-signal ", "tls-certificate",
                                      self->config->tls_certificate, NULL);

  soup_server_add_handler (soup, "/healthz", healthz_handler, self, NULL);
  soup_server_add_handler (soup, "/ws", ws_handler, self, NULL);
  return soup;
}

/* Closes the handshakes in progress; with @free, lets go of the
 * SoupServers too. */
static void
server_disconnect_soups (PunchSignalServer *self, gboolean free)
{
  for (guint i = 0; self->shards && i < self->shards->len; i++)
    {
      Shard *shard = self->shards->pdata[i];

      if (shard->soup == NULL)
        continue;
      g_main_context_push_thread_default (shard->ctx);
      soup_server_disconnect (shard->soup);
      if (free)
        g_clear_object (&shard->soup);
      g_main_context_pop_thread_default (shard->ctx);
    }
}

/* Freed memory goes back to the system: glibc keeps what a burst of
 * connections or a slow peer's queue used in its heap otherwise, and the
 * server's RSS would stay at its peak. At most once per sweep, and only
 * after enough was freed. */
static void
trim (PunchSignalServer *self)
{
  if (self->trimmed_bytes < 1024 * 1024 && self->trimmed_conns < 256)
    return;
  self->trimmed_bytes = 0;
  self->trimmed_conns = 0;
#ifdef __GLIBC__
  malloc_trim (0);
#endif
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
      if (peer->dead)
        continue;
      /* a client that never answers our close frame: drop it before
       * libsoup's own 5 s close timeout, whose GSource libsoup 3.2 leaks
       * when it fires (on_timeout_close_io() forgets its reference) */
      if (peer->closing_at && now - peer->closing_at > CLOSE_WAIT_US)
        {
          g_message ("error room=%s peer=%s addr=%s code=policy: no answer to the close "
                     "frame within %d s; dropped",
                     peer->room ? peer->room->name : "-", peer->id, peer->addr,
                     (int)(CLOSE_WAIT_US / G_USEC_PER_SEC));
          peer_retire (peer);
          continue;
        }
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
  server_log_counters (self);
  server_free_idle_shards (self);
  trim (self);
  return G_SOURCE_CONTINUE;
}

/* ---- the object ---- */

static void
punch_signal_server_dispose (GObject *object)
{
  PunchSignalServer *self = PUNCH_SIGNAL_SERVER (object);

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  /* first: it answers what is pending, and the room code sees no store */
  if (self->store)
    {
      PunchSignalRoomStore *store = g_steal_pointer (&self->store);
      punch_signal_room_store_free (store);
    }
  if (self->listeners)
    server_listeners_stop (self);
  server_lanes_clear (self);
  if (self->reap_source)
    {
      g_source_destroy (self->reap_source);
      g_clear_pointer (&self->reap_source, g_source_unref);
    }
  if (self->slow_source)
    {
      g_source_destroy (self->slow_source);
      g_clear_pointer (&self->slow_source, g_source_unref);
    }
  if (self->backlog_source)
    {
      g_source_destroy (self->backlog_source);
      g_clear_pointer (&self->backlog_source, g_source_unref);
    }
  if (self->timer_source)
    {
      g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
    }
  server_disconnect_soups (self, TRUE);
  /* rooms first: peer_free must not find a room to leave */
  if (self->rooms)
    g_hash_table_remove_all (self->rooms);
  if (self->peers)
    {
      GHashTableIter iter;
      Peer *peer;
      g_hash_table_iter_init (&iter, self->peers);
      while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
        peer->room = peer->joining = NULL;
      g_hash_table_remove_all (self->ids);
      g_hash_table_remove_all (self->peers);
    }
  if (self->dead)
    g_ptr_array_set_size (self->dead, 0);
  server_listeners_clear (self);
  if (self->shards)
    g_ptr_array_set_size (self->shards, 0);
  G_OBJECT_CLASS (punch_signal_server_parent_class)->dispose (object);
}

static void
punch_signal_server_finalize (GObject *object)
{
  PunchSignalServer *self = PUNCH_SIGNAL_SERVER (object);

  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->dead, g_ptr_array_unref);
  g_clear_pointer (&self->slow, g_ptr_array_unref);
  g_clear_pointer (&self->shards, g_ptr_array_unref);
  g_clear_pointer (&self->timers, g_sequence_free);
  for (guint i = 0; i < N_LANES; i++)
    {
      g_clear_pointer (&self->lanes[i].busy, g_ptr_array_unref);
      if (self->lanes[i].epfd >= 0)
        close (self->lanes[i].epfd);
    }
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->ids, g_hash_table_unref);
  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->config, punch_signal_server_config_free);
  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_clear_pointer (&self->conns, g_hash_table_unref);
  g_clear_pointer (&self->per_addr, g_hash_table_unref);
  g_clear_pointer (&self->released, g_ptr_array_unref);
  g_mutex_clear (&self->released_lock);
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
  self->dead = g_ptr_array_new ();
  self->slow = g_ptr_array_new_with_free_func (g_free);
  self->timers = g_sequence_new (NULL);
  self->shards = g_ptr_array_new_with_free_func ((GDestroyNotify)shard_free);
  for (guint i = 0; i < N_LANES; i++)
    self->lanes[i].epfd = -1;
  server_listeners_init (self);
}

PunchSignalServer *
punch_signal_server_new (const PunchSignalServerConfig *config, GError **error)
{
  g_autoptr (PunchSignalServer) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  if (!punch_signal_server_config_validate (config, error))
    return NULL;

  self = g_object_new (PUNCH_TYPE_SIGNAL_SERVER, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->config = punch_signal_server_config_copy (config);
  if (!server_lanes_init (self, error))
    return NULL;
  self->tls = config->tls_certificate != NULL;
#ifdef PUNCH_SIGNAL_HAVE_REDIS
  if (config->redis_url)
    {
      g_autoptr (PunchSignalRedisAddress) address
          = punch_signal_redis_address_parse (config->redis_url, error);
      if (address == NULL)
        return NULL;
      if (config->redis_password)
        {
          g_free (address->password);
          address->password = g_strdup (config->redis_password);
        }
      g_autofree char *where = punch_signal_redis_address_to_string (address);

      self->store = punch_signal_redis_store_new (address, self->context, &room_store_events, self);
      g_message ("cluster mode: instance %s, rooms in Redis at %s", self->store->instance, where);
    }
#endif
  if (self->store == NULL)
    self->store = punch_signal_local_store_new ();
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

/* The server accepts on this socket itself (punch-signal-listener.c), with
 * a backlog of 4096: GSocket's default of 10 drops SYNs when many peers
 * connect at once. */
static gboolean
listen_on (PunchSignalServer *self, GInetAddress *ip, guint16 port, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ip, port);

  sock = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                       error);
  if (sock == NULL)
    return FALSE;
  g_socket_set_listen_backlog (sock, 4096);
  if (!g_socket_bind (sock, sa, TRUE, error) || !g_socket_listen (sock, error))
    return FALSE;
  return server_listen_socket (self, sock, error);
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
  GSocketAddress *sa = server_first_listener_address (self);

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
  server_listeners_stop (self);
  server_disconnect_soups (self, FALSE);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
    peer_close (peer, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
  /* shared rooms: leave them now, so the other instances tell their peers
   * before this process exits, not after its heartbeat expires */
  if (self->store->shared)
    {
      g_hash_table_iter_init (&iter, self->peers);
      while (g_hash_table_iter_next (&iter, (gpointer *)&peer, NULL))
        peer_leave (peer);
    }
}
