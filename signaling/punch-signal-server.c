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

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <glib-unix.h>
#include <libsoup/soup.h>

#define RATE_WINDOW_US (10 * G_USEC_PER_SEC)
#define FRAMES_PER_SECOND_FACTOR 5 /* frames (incl. pings) allowed per allowed message */

typedef struct _Room Room;
typedef struct _Peer Peer;
typedef struct _Shard Shard;

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

  /* The WebSockets live in shards of at most SHARD_SIZE, each on a
   * GMainContext of its own, and one epoll set on the server's context says
   * which shard to run. GLib's main loop prepares, checks and polls every
   * source of a context on every iteration: with thousands of connections
   * on one context, every message cost time in proportion to the number of
   * connections. A context per connection would cost a descriptor each (its
   * wakeup eventfd). */
  GMainContext *context;
  int epfd;
  GSource *epoll_source;
  GPtrArray *shards; /* Shard*, owned */
  GPtrArray *dead;   /* Peer*: closed, freed by reap() on the server's context */
  GSource *reap_source;
  GPtrArray *busy; /* Shard*: to run again soon (see shard_schedule()) */
  GSource *busy_source;
  Shard *running;    /* the shard whose context shard_run() is dispatching */
  GSequence *timers; /* Shard*, by deadline: the next timer of each context */
  GSource *timer_source;
  gint64 timer_at;
};

#define SHARD_SIZE 64
/* how long a client may take to answer our close frame (see sweep()) */
#define CLOSE_WAIT_US (3 * G_USEC_PER_SEC)

struct _Shard
{
  PunchSignalServer *server;
  GMainContext *ctx;
  guint n_peers;
  GHashTable *watched; /* fd -> epoll events + 1: what the epoll set has of ctx */
  GHashTable *want;    /* scratch for shard_watch() */
  GPollFD *pfds;       /* scratch for g_main_context_query() */
  gint n_pfds;
  gboolean busy;   /* in server->busy */
  gint64 deadline; /* ctx's next timer (monotonic µs), 0 for none */
  GSequenceIter *timer_it;
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
  gint64 closing_at; /* when the closing handshake began, 0 before */

  Shard *shard;  /* the context its sources live on */
  int fd;        /* its socket */
  gboolean dead; /* closed: waits in server->dead */
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

static void shard_schedule (Shard *shard);

/* After a call into a peer's connection from outside its shard's dispatch:
 * libsoup may have added a source to the shard's context (output that would
 * block, a close timeout), so run the shard again soon, which also updates
 * what epoll watches for it. The shard being dispatched now is updated at
 * the end of shard_run(). */
static void
peer_poke (Peer *peer)
{
  if (peer->shard != peer->server->running)
    shard_schedule (peer->shard);
}

/* Every call into a peer's SoupWebsocketConnection runs with its shard's
 * context as the thread-default one: that is where libsoup attaches the
 * sources it creates (output, close timeout). */
static void
peer_send_text (Peer *peer, const char *json)
{
  if (soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_main_context_push_thread_default (peer->shard->ctx);
  soup_websocket_connection_send_text (peer->conn, json);
  g_main_context_pop_thread_default (peer->shard->ctx);
  peer_poke (peer);
}

static void
peer_send (Peer *peer, const PunchSignalMessage *msg)
{
  g_autofree char *json = punch_signal_message_to_json (msg);

  peer_send_text (peer, json);
}

static void
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
                 peer->room ? peer->room->name : "-", peer_name (peer), peer->addr, peer->strikes);
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
      peer_send_text (other, json);
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

/* Runs @func once, soon, on the server's context (unless *@source is
 * already pending). At the default priority, not an idle one: below the
 * epoll source, a busy server would never get to it. */
static void
server_soon (PunchSignalServer *self, GSource **source, GSourceFunc func)
{
  if (*source)
    return;
  *source = g_idle_source_new ();
  g_source_set_priority (*source, G_PRIORITY_DEFAULT);
  g_source_set_callback (*source, func, self, NULL);
  g_source_attach (*source, self->context);
}

/* Takes the peer's socket out of the epoll set (before it can be closed and
 * its number reused by another shard). */
static void
peer_unwatch (Peer *peer)
{
  Shard *shard = peer->shard;

  if (peer->fd >= 0 && g_hash_table_remove (shard->watched, GINT_TO_POINTER (peer->fd)))
    epoll_ctl (peer->server->epfd, EPOLL_CTL_DEL, peer->fd, NULL);
}

/* Never called while the peer's context is being iterated: from reap() or
 * the server's dispose. */
static void
peer_free (Peer *peer)
{
  peer_unwatch (peer);
  g_signal_handlers_disconnect_by_data (peer->conn, peer);
  punch_signal_frame_guard_disarm (peer->guard);
  g_main_context_push_thread_default (peer->shard->ctx);
  if (soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (peer->conn);
  g_object_unref (peer->guard);
  g_main_context_pop_thread_default (peer->shard->ctx);
  peer->shard->n_peers--;
  /* on the server's context, which outlives the shard's */
  if (!g_io_stream_is_closed (peer->base))
    g_io_stream_close_async (peer->base, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (peer->base);
  g_free (peer->id);
  g_free (peer->addr);
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
  g_hash_table_remove (self->ids, peer->id);
  /* this may run inside the shard's context: free it from the server's;
   * until then its socket is not watched (a readable descriptor of a dead
   * peer would wake the server again and again) */
  peer->dead = TRUE;
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

static gboolean run_busy (gpointer user_data);

static gint
by_deadline (gconstpointer a, gconstpointer b, gpointer user_data)
{
  gint64 da = ((const Shard *)a)->deadline, db = ((const Shard *)b)->deadline;

  return da < db ? -1 : da > db ? 1 : 0;
}

static gboolean on_timer (gpointer user_data);

/* One timer on the server's context, at the earliest deadline of all. */
static void
arm_timer (PunchSignalServer *self)
{
  GSequenceIter *first = g_sequence_get_begin_iter (self->timers);
  gint64 at, now;

  if (g_sequence_iter_is_end (first))
    {
      if (self->timer_source)
        g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
      return;
    }
  at = ((Shard *)g_sequence_get (first))->deadline;
  if (self->timer_source && at == self->timer_at)
    return;
  if (self->timer_source)
    g_source_destroy (self->timer_source);
  g_clear_pointer (&self->timer_source, g_source_unref);
  now = g_get_monotonic_time ();
  self->timer_at = at;
  self->timer_source = g_timeout_source_new (at > now ? (guint)((at - now + 999) / 1000) : 0);
  g_source_set_callback (self->timer_source, on_timer, self, NULL);
  g_source_attach (self->timer_source, self->context);
}

static void
shard_set_deadline (Shard *shard, gint64 deadline)
{
  PunchSignalServer *self = shard->server;

  if (shard->timer_it && deadline == shard->deadline)
    return;
  if (shard->timer_it)
    g_sequence_remove (shard->timer_it);
  shard->timer_it = NULL;
  shard->deadline = deadline;
  if (deadline > 0)
    shard->timer_it = g_sequence_insert_sorted (self->timers, shard, by_deadline, NULL);
  arm_timer (self);
}

static guint32
epoll_events (gushort events)
{
  return (events & G_IO_IN ? EPOLLIN : 0) | (events & G_IO_OUT ? EPOLLOUT : 0)
         | (events & G_IO_PRI ? EPOLLPRI : 0);
}

static void
shard_epoll (Shard *shard, int op, int fd, guint32 events)
{
  struct epoll_event ev = { .events = events, .data.ptr = shard };

  if (epoll_ctl (shard->server->epfd, op, fd, &ev) == 0)
    return;
  /* a descriptor that was closed under us left the set by itself */
  if (op == EPOLL_CTL_MOD && errno == ENOENT
      && epoll_ctl (shard->server->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
    return;
  if (op != EPOLL_CTL_DEL)
    g_warning ("cannot watch descriptor %d: %s", fd, g_strerror (errno));
}

/* Puts the descriptors the shard's context waits on (its sockets, for the
 * directions their sources want, and the context's wakeup descriptor, which
 * other threads signal when they complete a GTask there) into the server's
 * epoll set, level-triggered: exactly what a GLib poll() of that context
 * would watch. Call with the context pushed. Returns the context's timeout
 * (-1: none, 0: work is ready now). */
static gint
shard_watch (Shard *shard)
{
  gint priority, timeout = -1, n;
  GHashTableIter iter;
  gpointer key, value;

  g_main_context_prepare (shard->ctx, &priority);
  while ((n = g_main_context_query (shard->ctx, priority, &timeout, shard->pfds, shard->n_pfds))
         > shard->n_pfds)
    {
      shard->n_pfds = n;
      shard->pfds = g_renew (GPollFD, shard->pfds, n);
    }
  /* one entry per descriptor: a socket may be there twice (input, output) */
  g_hash_table_remove_all (shard->want);
  for (gint i = 0; i < n; i++)
    {
      gpointer fd = GINT_TO_POINTER (shard->pfds[i].fd);
      guint32 events = GPOINTER_TO_UINT (g_hash_table_lookup (shard->want, fd));
      events = (events ? events - 1 : 0) | epoll_events (shard->pfds[i].events);
      g_hash_table_insert (shard->want, fd, GUINT_TO_POINTER (events + 1));
    }
  /* drop or change what is watched now, then add what is new */
  g_hash_table_iter_init (&iter, shard->watched);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gpointer want = g_hash_table_lookup (shard->want, key);
      if (want == NULL)
        {
          shard_epoll (shard, EPOLL_CTL_DEL, GPOINTER_TO_INT (key), 0);
          g_hash_table_iter_remove (&iter);
        }
      else
        {
          if (want != value)
            {
              shard_epoll (shard, EPOLL_CTL_MOD, GPOINTER_TO_INT (key),
                           GPOINTER_TO_UINT (want) - 1);
              g_hash_table_iter_replace (&iter, want);
            }
          g_hash_table_remove (shard->want, key);
        }
    }
  g_hash_table_iter_init (&iter, shard->want);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      shard_epoll (shard, EPOLL_CTL_ADD, GPOINTER_TO_INT (key), GPOINTER_TO_UINT (value) - 1);
      g_hash_table_insert (shard->watched, key, value);
    }
  shard_set_deadline (shard, timeout > 0 ? g_get_monotonic_time () + (gint64)timeout * 1000 : 0);
  return timeout;
}

/* Runs the shard from an idle on the server's context, once. */
static void
shard_schedule (Shard *shard)
{
  PunchSignalServer *self = shard->server;

  if (shard->busy)
    return;
  shard->busy = TRUE;
  g_ptr_array_add (self->busy, shard);
  server_soon (self, &self->busy_source, run_busy);
}

/* Dispatches what is ready on the shard's context (sockets, timers, GTask
 * completions), then updates what epoll watches for it. */
static void
shard_run (Shard *shard)
{
  PunchSignalServer *self = shard->server;
  gboolean more;

  g_main_context_push_thread_default (shard->ctx);
  self->running = shard;
  /* bounded, so that flooding peers cannot starve the others; what is left
   * is run again from an idle */
  for (guint i = 0; i < 64 && g_main_context_iteration (shard->ctx, FALSE); i++)
    ;
  self->running = NULL;
  more = shard_watch (shard) == 0;
  g_main_context_pop_thread_default (shard->ctx);
  if (more)
    shard_schedule (shard);
}

static Shard *
shard_new (PunchSignalServer *self)
{
  Shard *shard = g_new0 (Shard, 1);

  shard->server = self;
  /* ownerless polling: a GTask completing in another thread (libsoup closes
   * streams that way) signals the wakeup descriptor that epoll watches */
  shard->ctx = g_main_context_new_with_flags (G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING);
  shard->watched = g_hash_table_new (NULL, NULL);
  shard->want = g_hash_table_new (NULL, NULL);
  g_ptr_array_add (self->shards, shard);
  return shard;
}

/* After every peer of it is freed. */
static void
shard_free (Shard *shard)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, shard->watched);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    epoll_ctl (shard->server->epfd, EPOLL_CTL_DEL, GPOINTER_TO_INT (key), NULL);
  if (shard->timer_it)
    g_sequence_remove (shard->timer_it);
  g_hash_table_unref (shard->watched);
  g_hash_table_unref (shard->want);
  g_free (shard->pfds);
  g_main_context_unref (shard->ctx);
  g_free (shard);
}

/* The least busy shard with room, or a new one. */
static Shard *
shard_pick (PunchSignalServer *self)
{
  Shard *best = NULL;

  for (guint i = 0; i < self->shards->len; i++)
    {
      Shard *shard = self->shards->pdata[i];
      if (shard->n_peers < SHARD_SIZE && (best == NULL || shard->n_peers < best->n_peers))
        best = shard;
    }
  return best ? best : shard_new (self);
}

static gboolean
on_timer (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) due = g_ptr_array_new ();
  GSequenceIter *it;

  g_clear_pointer (&self->timer_source, g_source_unref);
  while (!g_sequence_iter_is_end (it = g_sequence_get_begin_iter (self->timers)))
    {
      Shard *shard = g_sequence_get (it);
      if (shard->deadline > now + 1000)
        break;
      g_sequence_remove (it);
      shard->timer_it = NULL;
      shard->deadline = 0;
      g_ptr_array_add (due, shard);
    }
  for (guint i = 0; i < due->len; i++)
    shard_run (due->pdata[i]);
  arm_timer (self);
  return G_SOURCE_REMOVE;
}

static gboolean
run_busy (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  g_autoptr (GPtrArray) batch = self->busy;

  g_clear_pointer (&self->busy_source, g_source_unref);
  self->busy = g_ptr_array_new ();
  for (guint i = 0; i < batch->len; i++)
    ((Shard *)batch->pdata[i])->busy = FALSE;
  for (guint i = 0; i < batch->len; i++)
    shard_run (batch->pdata[i]);
  return G_SOURCE_REMOVE;
}

static gboolean
on_epoll (gint fd, GIOCondition condition, gpointer user_data)
{
  PunchSignalServer *self = user_data;
  struct epoll_event events[256];
  int n = epoll_wait (self->epfd, events, G_N_ELEMENTS (events), 0);

  /* shards live as long as the server */
  for (int i = 0; i < n; i++)
    shard_run (events[i].data.ptr);
  return G_SOURCE_CONTINUE;
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
  peer->fd = soup_server_message_get_socket (msg)
                 ? g_socket_get_fd (soup_server_message_get_socket (msg))
                 : -1;
  peer->base = soup_server_message_steal_connection (msg);
  frames = (guint64)self->config->rate * FRAMES_PER_SECOND_FACTOR + 10;
  peer->shard = shard_pick (self);
  peer->shard->n_peers++;
  g_main_context_push_thread_default (peer->shard->ctx);
  peer->guard = PUNCH_SIGNAL_FRAME_GUARD (punch_signal_frame_guard_new (
      g_io_stream_get_input_stream (peer->base), PUNCH_SIGNAL_MAX_FRAME,
      (guint)MIN (frames, G_MAXUINT), on_guard_trip, peer));
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
  g_signal_connect (peer->conn, "closing", G_CALLBACK (on_closing), peer);
  g_signal_connect (peer->conn, "pong", G_CALLBACK (on_pong), peer);
  g_signal_connect (peer->conn, "error", G_CALLBACK (on_ws_error), peer);
  g_main_context_pop_thread_default (peer->shard->ctx);
  g_hash_table_add (self->peers, peer);
  g_hash_table_insert (self->ids, peer->id, peer);

  /* runs what is already buffered, then watches the new socket */
  shard_run (peer->shard);
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
  if (self->epoll_source)
    {
      g_source_destroy (self->epoll_source);
      g_clear_pointer (&self->epoll_source, g_source_unref);
    }
  if (self->reap_source)
    {
      g_source_destroy (self->reap_source);
      g_clear_pointer (&self->reap_source, g_source_unref);
    }
  if (self->busy_source)
    {
      g_source_destroy (self->busy_source);
      g_clear_pointer (&self->busy_source, g_source_unref);
    }
  if (self->timer_source)
    {
      g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
    }
  if (self->busy)
    g_ptr_array_set_size (self->busy, 0);
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
  if (self->dead)
    g_ptr_array_set_size (self->dead, 0);
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
  g_clear_pointer (&self->busy, g_ptr_array_unref);
  g_clear_pointer (&self->shards, g_ptr_array_unref);
  g_clear_pointer (&self->timers, g_sequence_free);
  if (self->epfd >= 0)
    close (self->epfd);
  g_clear_pointer (&self->context, g_main_context_unref);
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
  self->dead = g_ptr_array_new ();
  self->busy = g_ptr_array_new ();
  self->timers = g_sequence_new (NULL);
  self->shards = g_ptr_array_new_with_free_func ((GDestroyNotify)shard_free);
  self->epfd = -1;
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
  self->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epfd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll_create1: %s",
                   g_strerror (errsv));
      return NULL;
    }
  self->epoll_source = g_unix_fd_source_new (self->epfd, G_IO_IN);
  g_source_set_callback (self->epoll_source, G_SOURCE_FUNC (on_epoll), self, NULL);
  g_source_attach (self->epoll_source, self->context);
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

  sock = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                       error);
  if (sock == NULL)
    return FALSE;
  g_socket_set_listen_backlog (sock, 4096);
  if (!g_socket_bind (sock, sa, TRUE, error) || !g_socket_listen (sock, error))
    return FALSE;
  return soup_server_listen_socket (self->soup, sock, self->tls ? SOUP_SERVER_LISTEN_HTTPS : 0,
                                    error);
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
