/* punch-signal-server-private.h: what the server's files share
 *
 * punch-signal-server.c: setup, the listener, the HTTP side, the life of a
 *   connection (upgrade, sending, closing, deadlines)
 * punch-signal-shard.c: the epoll shards of GMainContexts the WebSockets run on
 * punch-signal-room.c: rooms, membership, and what peers say inside a room
 * punch-signal-listener.c: accepting: the limits, the handshake deadline, and
 *   running out of descriptors
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch-signal-server.h"
#include "punch-signal-frame-guard.h"
#include "punch-signal-message.h"
#include "punch-signal-output-meter.h"
#include "punch-signal-room-store.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define RATE_WINDOW_US (10 * G_USEC_PER_SEC)
#define FRAMES_PER_SECOND_FACTOR 5 /* frames (incl. pings) allowed per allowed message */

typedef struct _Room Room;
typedef struct _Peer Peer;
typedef struct _Shard Shard;
typedef struct _Conn Conn;
typedef struct _Listener Listener;
typedef struct _Lane Lane;

/* A class of shards, with an epoll set and a run queue of its own: the
 * WebSockets (LANE_WS, at the default priority) and the connections still
 * in their HTTP handshake (LANE_HANDSHAKE, below it). See shard_pick(). */
enum
{
  LANE_WS,
  LANE_HANDSHAKE,
  N_LANES
};

struct _Lane
{
  PunchSignalServer *server;
  gboolean handshakes;
  gint priority;
  guint shard_size;
  int epfd;
  GSource *epoll_source;
  Shard *fill;     /* the shard shard_pick() gave out last */
  GPtrArray *busy; /* Shard*: to run again soon (see shard_schedule()) */
  GSource *busy_source;
};

struct _PunchSignalServer
{
  GObject parent;

  PunchSignalServerConfig *config;
  gboolean tls;
  GHashTable *peers;           /* Peer* -> Peer*, owned */
  GHashTable *ids;             /* id -> Peer*, every connection */
  GHashTable *rooms;           /* name -> Room*, owned */
  PunchSignalRoomStore *store; /* where membership lives: this process, or Redis */
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
  Lane lanes[N_LANES];
  GPtrArray *shards; /* Shard*, owned */
  GPtrArray *dead;   /* Peer*: closed, freed by reap() on the server's context */
  GSource *reap_source;
  GPtrArray *slow; /* ids (owned) of peers closed for their queue, dropped by drop_slow() */
  GSource *slow_source;
  Shard *running;          /* the shard whose context shard_run() is dispatching */
  GQueue backlog;          /* Shard* with deferred messages (see peer_defer()) */
  GSource *backlog_source; /* handles them, below the default priority */
  GSequence *timers;       /* Shard*, by deadline: the next timer of each context */
  GSource *timer_source;
  gint64 timer_at;

  /* Accepting (punch-signal-listener.c). Every accepted socket is a Conn
   * until its GSocket is finalized, whether it is still in its HTTP
   * handshake or a WebSocket by now: the limits count descriptors. */
  GPtrArray *listeners; /* Listener*, owned */
  GHashTable *conns;    /* Conn* set, owned */
  GHashTable *per_addr; /* address key (char*) -> count */
  GQueue handshakes;    /* Conn*, by accept time: not upgraded yet */
  GSource *handshake_source;
  GMutex released_lock; /* a GSocket may be finalized in another thread */
  GPtrArray *released;  /* Conn*: their socket is gone; under released_lock */
  GSource *released_source;
  gint64 exhausted_at; /* the last EMFILE/ENFILE (monotonic µs), 0 for never */
  const char *exhausted_reason;
  guint64 exhausted_count;
  guint64 refused_full, refused_addr, expired;     /* totals, for /healthz */
  guint64 log_refused, log_expired, log_exhausted; /* since the last log line */
  gint64 log_at;
  guint64 trimmed_bytes; /* queued bytes freed since the last malloc_trim() */
  guint trimmed_conns;
};

#define SHARD_SIZE 64           /* WebSockets on one shard */
#define HANDSHAKE_SHARD_SIZE 16 /* handshakes: one iteration may close them all at once */
/* how long a client may take to answer our close frame (see sweep()) */
#define CLOSE_WAIT_US (3 * G_USEC_PER_SEC)

struct _Shard
{
  PunchSignalServer *server;
  Lane *lane;
  SoupServer *soup; /* LANE_HANDSHAKE: the HTTP side of its connections */
  GMainContext *ctx;
  guint n_peers;       /* connections on it, in their handshake or WebSockets */
  GHashTable *watched; /* fd -> epoll events + 1: what the epoll set has of ctx */
  GHashTable *want;    /* scratch for shard_watch() */
  GPollFD *pfds;       /* scratch for g_main_context_query() */
  gint n_pfds;
  gboolean busy;   /* in lane->busy */
  gint64 deadline; /* ctx's next timer (monotonic µs), 0 for none */
  GSequenceIter *timer_it;
  GQueue waiting; /* Peer* (their turn link) with messages deferred, in turn */
  GList backlog;  /* in server->backlog while it may have some */
};

struct _Room
{
  char *name;
  GPtrArray *peers;   /* Peer*, not owned, in order of joining */
  GPtrArray *waiting; /* Peer*: joining, the store has not answered yet */
  GHashTable *remote; /* id -> instance: members on other instances (--redis) */
};

struct _Peer
{
  PunchSignalServer *server;
  SoupWebsocketConnection *conn;
  GIOStream *base; /* the stolen HTTP connection */
  PunchSignalFrameGuard *guard;
  char *id;
  char *addr;
  char *resume; /* the secret of its welcome: a new connection may take its place */
  Room *room;
  Room *joining;   /* the room it asked to join, until the store answers */
  GPtrArray *held; /* Held*: what happened in @joining meanwhile */

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

  GQueue deferred; /* GBytes*: its messages waiting for their turn (peer_defer()) */
  GList turn;      /* in shard->waiting while it has some */

  PunchSignalOutputMeter *meter; /* what left for the socket */
  guint64 handed;                /* frame bytes handed to libsoup */
  gboolean slow;                 /* closed for its queue */
};

struct _Conn
{
  PunchSignalServer *server;
  GSocket *socket; /* not owned: a weak reference */
  GSocketAddress *remote;
  int fd;
  char *key; /* in server->per_addr */
  Shard *shard;
  gint64 accepted_at;
  GList link; /* in server->handshakes while in its handshake */
  gboolean upgraded;
};

/* punch-signal-server.c */
G_GNUC_INTERNAL void peer_poke (Peer *peer);
G_GNUC_INTERNAL gboolean peer_send_text (Peer *peer, const char *json);
/* Sends @json to @to from @from; when @to's queue is over the limit, closes
 * @to and tells @from. */
G_GNUC_INTERNAL void peer_relay (Peer *from, Peer *to, const char *json);
G_GNUC_INTERNAL void peer_send (Peer *peer, const PunchSignalMessage *msg);
G_GNUC_INTERNAL void peer_close (Peer *peer, gushort code, const char *reason);
/* Sends an `error`, logs it, and counts a strike when @strike. */
G_GNUC_INTERNAL void peer_error (Peer *peer, gboolean strike, const char *code, const char *format,
                                 ...) G_GNUC_PRINTF (4, 5);

G_GNUC_INTERNAL char *server_new_peer_id (PunchSignalServer *self);
/* (transfer full): a SoupServer with the server's handlers, for a shard */
G_GNUC_INTERNAL SoupServer *server_new_soup (PunchSignalServer *self);

/* punch-signal-shard.c */
G_GNUC_INTERNAL void server_soon (PunchSignalServer *self, GSource **source, GSourceFunc func);
G_GNUC_INTERNAL void peer_unwatch (Peer *peer);
G_GNUC_INTERNAL void shard_schedule (Shard *shard);
G_GNUC_INTERNAL void shard_run (Shard *shard);
G_GNUC_INTERNAL void shard_free (Shard *shard);
/* (nullable): NULL when there is no descriptor for a new shard's context */
G_GNUC_INTERNAL Shard *shard_pick (PunchSignalServer *self, guint lane);
/* Moves the upgraded connection on @fd from @from to a WebSocket shard (or
 * leaves it where it is when there is none); returns where it is now. */
G_GNUC_INTERNAL Shard *shard_move_to_ws (Shard *from, int fd);
G_GNUC_INTERNAL void server_free_idle_shards (PunchSignalServer *self);
G_GNUC_INTERNAL gboolean server_lanes_init (PunchSignalServer *self, GError **error);
G_GNUC_INTERNAL void server_lanes_clear (PunchSignalServer *self);
/* TRUE when a message of @size bytes that just arrived must wait: see peer_defer() */
G_GNUC_INTERNAL gboolean peer_must_wait (Peer *peer, gsize size);
G_GNUC_INTERNAL void peer_defer (Peer *peer, GBytes *bytes);
/* Forgets what was deferred (the peer is going away). */
G_GNUC_INTERNAL void peer_drop_deferred (Peer *peer);

/* punch-signal-listener.c */
G_GNUC_INTERNAL void server_listeners_init (PunchSignalServer *self);
G_GNUC_INTERNAL gboolean server_listen_socket (PunchSignalServer *self, GSocket *socket,
                                               GError **error);
G_GNUC_INTERNAL void server_listeners_stop (PunchSignalServer *self);
G_GNUC_INTERNAL void server_listeners_clear (PunchSignalServer *self);
/* (transfer full) (nullable) */
G_GNUC_INTERNAL GSocketAddress *server_first_listener_address (PunchSignalServer *self);
/* the Conn a request came on, marked upgraded: no handshake deadline from now on */
G_GNUC_INTERNAL Conn *server_conn_upgraded (PunchSignalServer *self, SoupServerMessage *msg);
/* (nullable): why the server is degraded now, NULL when it is not */
G_GNUC_INTERNAL const char *server_degraded (PunchSignalServer *self, gint64 *ago_us);
G_GNUC_INTERNAL void server_log_counters (PunchSignalServer *self);

/* punch-signal-room.c */
G_GNUC_INTERNAL void room_free (Room *room);
/* what the room store calls when other instances act */
G_GNUC_INTERNAL extern const PunchSignalRoomStoreEvents room_store_events;
G_GNUC_INTERNAL void peer_leave (Peer *peer);
G_GNUC_INTERNAL void peer_on_message (SoupWebsocketConnection *conn, gint type, GBytes *bytes,
                                      gpointer user_data);
/* Parses and acts on a text message already counted against the peer's rate. */
G_GNUC_INTERNAL void peer_handle_text (Peer *peer, GBytes *bytes);

G_END_DECLS
