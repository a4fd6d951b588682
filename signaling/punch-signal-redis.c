/* punch-signal-redis.c: room membership in Redis, messages between instances over pub/sub
 *
 * Keys (see docs/cluster.md):
 *   punch:room:<room>    list of "<peer> <instance>", oldest first
 *   punch:peer:<peer>    "<instance> <room>": makes peer ids unique in the cluster
 *   punch:inst:<inst>    hash peer -> room: what to remove when <inst> dies
 *   punch:alive:<inst>   the heartbeat, set every second with a 4 s expiry
 *   punch:instances      set of instances that have registered
 * Channel punch:to:<inst> carries, one message each:
 *   "J\n<room>\n<peer>\n<instance>"     a peer joined elsewhere
 *   "L\n<room>\n<peer>"                 a peer left (or its instance died)
 *   "M\n<room>\n<to|*>\n<from>\n<json>" a message from <from>, stamped already
 *
 * Every change of membership is one Lua script, so it is atomic however many
 * instances race: join (size check + id check + add + tell the others),
 * leave, reap (remove the peers of instances whose heartbeat expired) and
 * restore (put back our peers after Redis lost them). The scripts publish
 * the J/L notices themselves, so no notice is lost between a change and its
 * announcement, and pub/sub keeps them in order with later messages.
 *
 * Two hiredis connections (commands; the subscription), both attached to
 * the server's GMainContext with hiredis' GLib adapter. When either fails,
 * both are dropped, every pending call is answered (joins: unavailable,
 * sends: reported to the sender), leaves wait in a queue, and a reconnect
 * follows with backoff (100 ms doubling to 5 s, ±25 %).
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-redis.h"

#include <poll.h>
#include <punch.h>
#include <string.h>

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define HEARTBEAT_MS 1000
#define ALIVE_TTL_MS 4000
#define REPLY_DEADLINE_US (5 * G_USEC_PER_SEC)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RESTORE_CHUNK 200

/* ---- the scripts ---- */

/* shared by leave, reap: removes ARGV peer of instance from room, tells the
 * other instances of the room (all but `quiet`) */
#define LUA_LEAVE_FN                                                                         \
  "local function leave(room, peer, inst, quiet)\n"                                          \
  "  if redis.call('GET', 'punch:peer:' .. peer) ~= inst .. ' ' .. room then return 0 end\n" \
  "  local rkey = 'punch:room:' .. room\n"                                                   \
  "  redis.call('LREM', rkey, 0, peer .. ' ' .. inst)\n"                                     \
  "  redis.call('DEL', 'punch:peer:' .. peer)\n"                                             \
  "  redis.call('HDEL', 'punch:inst:' .. inst, peer)\n"                                      \
  "  local told = {}\n"                                                                      \
  "  if quiet then told[quiet] = true end\n"                                                 \
  "  for _, m in ipairs(redis.call('LRANGE', rkey, 0, -1)) do\n"                             \
  "    local i = string.match(m, ' (.+)$')\n"                                                \
  "    if not told[i] then\n"                                                                \
  "      told[i] = true\n"                                                                   \
  "      redis.call('PUBLISH', 'punch:to:' .. i, 'L\\n' .. room .. '\\n' .. peer)\n"         \
  "    end\n"                                                                                \
  "  end\n"                                                                                  \
  "  return 1\n"                                                                             \
  "end\n"

/* adds peer of inst to room, tells the other instances of the room */
#define LUA_ADD_FN                                                       \
  "local function add(room, peer, inst, members)\n"                      \
  "  redis.call('RPUSH', 'punch:room:' .. room, peer .. ' ' .. inst)\n"  \
  "  redis.call('SET', 'punch:peer:' .. peer, inst .. ' ' .. room)\n"    \
  "  redis.call('HSET', 'punch:inst:' .. inst, peer, room)\n"            \
  "  local told = {[inst] = true}\n"                                     \
  "  for _, m in ipairs(members) do\n"                                   \
  "    local i = string.match(m, ' (.+)$')\n"                            \
  "    if not told[i] then\n"                                            \
  "      told[i] = true\n"                                               \
  "      redis.call('PUBLISH', 'punch:to:' .. i,\n"                      \
  "                 'J\\n' .. room .. '\\n' .. peer .. '\\n' .. inst)\n" \
  "    end\n"                                                            \
  "  end\n"                                                              \
  "end\n"

enum
{
  SCRIPT_JOIN,
  SCRIPT_LEAVE,
  SCRIPT_REAP,
  SCRIPT_HEARTBEAT,
  SCRIPT_RESTORE,
  N_SCRIPTS
};

static const char *const scripts[N_SCRIPTS] = {
  /* join: ARGV room, peer, instance, size -> {'ok', members} | {'full', n} | {'taken'} */
  [SCRIPT_JOIN]
  = LUA_ADD_FN "local room, peer, inst, size = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
               "if redis.call('EXISTS', 'punch:peer:' .. peer) == 1 then return {'taken'} end\n"
               "local members = redis.call('LRANGE', 'punch:room:' .. room, 0, -1)\n"
               "if #members >= size then return {'full', #members} end\n"
               "add(room, peer, inst, members)\n"
               "return {'ok', members}\n",
  /* leave: ARGV room, peer, instance -> 1 | 0 (was not there) */
  [SCRIPT_LEAVE] = LUA_LEAVE_FN "return leave(ARGV[1], ARGV[2], ARGV[3], ARGV[3])\n",
  /* reap: -> {instance, peers removed, ...} of the instances found dead */
  [SCRIPT_REAP]
  = LUA_LEAVE_FN "local out = {}\n"
                 "for _, i in ipairs(redis.call('SMEMBERS', 'punch:instances')) do\n"
                 "  if redis.call('EXISTS', 'punch:alive:' .. i) == 0 then\n"
                 "    local peers = redis.call('HGETALL', 'punch:inst:' .. i)\n"
                 "    local n = 0\n"
                 "    for k = 1, #peers, 2 do n = n + leave(peers[k + 1], peers[k], i, i) end\n"
                 "    redis.call('DEL', 'punch:inst:' .. i)\n"
                 "    redis.call('SREM', 'punch:instances', i)\n"
                 "    table.insert(out, i)\n"
                 "    table.insert(out, n)\n"
                 "  end\n"
                 "end\n"
                 "return out\n",
  /* heartbeat: ARGV instance, ttl ms -> 1 if it was still alive, 0 if not */
  [SCRIPT_HEARTBEAT] = "local had = redis.call('EXISTS', 'punch:alive:' .. ARGV[1])\n"
                       "redis.call('SET', 'punch:alive:' .. ARGV[1], '1', 'PX', ARGV[2])\n"
                       "redis.call('SADD', 'punch:instances', ARGV[1])\n"
                       "return had\n",
  /* restore: ARGV instance, size, room, peer, room, peer... -> {room, peer...} not restored */
  [SCRIPT_RESTORE]
  = LUA_ADD_FN "local inst, size, lost = ARGV[1], tonumber(ARGV[2]), {}\n"
               "for k = 3, #ARGV, 2 do\n"
               "  local room, peer = ARGV[k], ARGV[k + 1]\n"
               "  local cur = redis.call('GET', 'punch:peer:' .. peer)\n"
               "  if cur ~= inst .. ' ' .. room then\n"
               "    local members = redis.call('LRANGE', 'punch:room:' .. room, 0, -1)\n"
               "    if cur or #members >= size then\n"
               "      table.insert(lost, room)\n"
               "      table.insert(lost, peer)\n"
               "    else\n"
               "      add(room, peer, inst, members)\n"
               "    end\n"
               "  end\n"
               "end\n"
               "return lost\n",
};

/* ---- the store ---- */

typedef struct _RedisStore RedisStore;

typedef struct
{
  RedisStore *store;
  redisAsyncContext *ac;
} Conn;

typedef enum
{
  STATE_DOWN,
  STATE_CONNECTING,
  STATE_UP,
} State;

struct _RedisStore
{
  PunchSignalRoomStore parent;

  PunchSignalRedisAddress *address;
  char *where; /* for the log: host:port or the socket */
  GMainContext *context;
  Conn cmd, sub;
  State state;
  guint steps; /* replies of the connection sequence still awaited */
  gboolean subscribed;
  gboolean was_up; /* it has been up before: a reconnect restores and resyncs */
  char *channel;
  char *sha[N_SCRIPTS];
  guint room_size; /* of the last join, for restore */

  guint backoff_ms;
  guint failures; /* attempts that failed since it was last up */
  GSource *retry_source;
  GSource *tick_source;
  gint64 last_tick;
  guint pending;        /* replies awaited on cmd */
  gint64 last_progress; /* the last reply on cmd, or when it was asked for */
  gint64 down_since;
  gint64 resync_at; /* when to compare our rooms with Redis, 0: not due */

  GHashTable *members; /* peer -> room: our peers, as Redis must have them */
  GQueue leaves;       /* Leave*: to tell Redis once it is back */
};

typedef struct
{
  char *room;
  char *peer;
} Leave;

typedef void (*ReplyFunc) (RedisStore *store, redisReply *reply, gpointer data);

typedef struct
{
  RedisStore *store;
  ReplyFunc func;
  gpointer data;
} Call;

static void store_down (RedisStore *store, const char *reason);
static void store_connect (RedisStore *store);

static void
leave_free (Leave *leave)
{
  g_free (leave->room);
  g_free (leave->peer);
  g_free (leave);
}

static void
queue_leave (RedisStore *store, const char *room, const char *peer)
{
  Leave *leave = g_new0 (Leave, 1);

  leave->room = g_strdup (room);
  leave->peer = g_strdup (peer);
  g_queue_push_tail (&store->leaves, leave);
}

static void
on_reply (redisAsyncContext *ac, void *reply, void *privdata)
{
  Call *call = privdata;
  RedisStore *store = call->store;

  if (ac == store->cmd.ac)
    {
      store->pending--;
      if (reply)
        store->last_progress = g_get_monotonic_time ();
    }
  call->func (store, reply, call->data);
  g_free (call);
}

/* Sends a command on the command connection; FALSE (and @func never
 * called) when there is none. */
static gboolean
store_command (RedisStore *store, ReplyFunc func, gpointer data, int argc, const char **argv)
{
  g_autofree size_t *lens = g_new (size_t, argc);
  Call *call;

  if (store->cmd.ac == NULL)
    return FALSE;
  for (int i = 0; i < argc; i++)
    lens[i] = strlen (argv[i]);
  call = g_new0 (Call, 1);
  call->store = store;
  call->func = func;
  call->data = data;
  if (redisAsyncCommandArgv (store->cmd.ac, on_reply, call, argc, argv, lens) != REDIS_OK)
    {
      g_free (call);
      return FALSE;
    }
  if (store->pending++ == 0)
    store->last_progress = g_get_monotonic_time ();
  return TRUE;
}

/* EVALSHA of one of the scripts, with no keys declared: the scripts name
 * their keys themselves, so the data must live on one Redis (a primary,
 * with replicas or Sentinel), not a Redis Cluster of many shards. */
static gboolean
store_eval (RedisStore *store, int script, ReplyFunc func, gpointer data, int argc,
            const char **argv)
{
  g_autofree const char **full = g_new (const char *, argc + 3);

  full[0] = "EVALSHA";
  full[1] = store->sha[script];
  full[2] = "0";
  if (argc > 0)
    memcpy (full + 3, argv, sizeof (char *) * argc);
  return store_command (store, func, data, argc + 3, full);
}

static gboolean
reply_is_error (redisReply *reply)
{
  return reply == NULL || reply->type == REDIS_REPLY_ERROR;
}

/* A script or command failed in a way a reconnect may fix (NOSCRIPT after a
 * SCRIPT FLUSH, a replica that became read-only...): log it and start over. */
static void
reply_failed (RedisStore *store, redisReply *reply, const char *what)
{
  g_autofree char *reason = NULL;

  if (reply == NULL)
    return; /* the connection is going; store_down() says so */
  reason = g_strdup_printf ("%s failed: %s", what, reply->str);
  store_down (store, reason);
}

/* ---- the connection sequence ---- */

static void
store_set_up (RedisStore *store)
{
  store->state = STATE_UP;
  store->backoff_ms = 0;
  store->failures = 0;
  if (store->down_since)
    g_message ("redis: connected to %s again after %.1f s (instance %s)", store->where,
               (double)(g_get_monotonic_time () - store->down_since) / G_USEC_PER_SEC,
               store->parent.instance);
  else
    g_message ("redis: connected to %s (instance %s)", store->where, store->parent.instance);
  store->down_since = 0;
  /* the others restore their peers too: compare once they had the time */
  if (store->was_up && g_hash_table_size (store->members) > 0)
    store->resync_at = g_get_monotonic_time () + (ALIVE_TTL_MS + HEARTBEAT_MS) * 1000;
  store->was_up = TRUE;
}

static void
check_up (RedisStore *store)
{
  if (store->state == STATE_CONNECTING && store->steps == 0 && store->subscribed)
    store_set_up (store);
}

static void
on_step (RedisStore *store, redisReply *reply, gpointer data)
{
  const char *what = data;

  if (store->state != STATE_CONNECTING)
    return;
  if (reply_is_error (reply))
    {
      reply_failed (store, reply, what);
      return;
    }
  store->steps--;
  check_up (store);
}

static void
on_restored (RedisStore *store, redisReply *reply, gpointer data)
{
  if (reply_is_error (reply))
    {
      if (store->state == STATE_CONNECTING)
        reply_failed (store, reply, "restoring the rooms");
      return;
    }
  for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
    {
      const char *room = reply->element[i]->str, *peer = reply->element[i + 1]->str;

      g_message ("redis: peer %s lost its place in room %s while Redis was unreachable", peer,
                 room);
      g_hash_table_remove (store->members, peer);
      store->parent.events.lost (store->parent.user_data, room, peer);
    }
  if (store->state == STATE_CONNECTING)
    {
      store->steps--;
      check_up (store);
    }
}

/* Puts our peers back where Redis lost them (a restart, or we were taken
 * for dead), in chunks. */
static void
store_restore (RedisStore *store, gboolean step)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer peer, room;

  g_hash_table_iter_init (&iter, store->members);
  while (TRUE)
    {
      gboolean more = g_hash_table_iter_next (&iter, &peer, &room);

      if (argv->len == 0)
        {
          g_ptr_array_add (argv, g_strdup (store->parent.instance));
          g_ptr_array_add (argv, g_strdup_printf ("%u", MAX (store->room_size, 2)));
        }
      if (more)
        {
          g_ptr_array_add (argv, g_strdup (room));
          g_ptr_array_add (argv, g_strdup (peer));
        }
      if ((!more && argv->len > 2) || argv->len >= 2 + 2 * RESTORE_CHUNK)
        {
          if (store_eval (store, SCRIPT_RESTORE, on_restored, NULL, (int)argv->len,
                          (const char **)argv->pdata)
              && step)
            store->steps++;
          g_ptr_array_set_size (argv, 0);
        }
      if (!more)
        break;
    }
}

static void
on_leave_done (RedisStore *store, redisReply *reply, gpointer data)
{
  Leave *leave = data;

  if (reply == NULL)
    {
      /* not known to have happened: again once Redis is back */
      g_queue_push_tail (&store->leaves, leave);
      return;
    }
  if (reply->type == REDIS_REPLY_ERROR)
    g_message ("redis: removing peer %s from room %s failed: %s", leave->peer, leave->room,
               reply->str);
  leave_free (leave);
}

static void
store_send_leave (RedisStore *store, Leave *leave)
{
  const char *argv[] = { leave->room, leave->peer, store->parent.instance };

  if (!store_eval (store, SCRIPT_LEAVE, on_leave_done, leave, G_N_ELEMENTS (argv), argv))
    g_queue_push_tail (&store->leaves, leave);
}

static void
on_heartbeat (RedisStore *store, redisReply *reply, gpointer data)
{
  gboolean step = GPOINTER_TO_INT (data);

  if (reply_is_error (reply))
    {
      if (step)
        on_step (store, reply, "the heartbeat");
      return;
    }
  /* our heartbeat had expired, and the others may have removed our peers */
  if (!step && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0
      && g_hash_table_size (store->members) > 0)
    {
      g_message ("redis: this instance was taken for dead; putting its %u peers back",
                 g_hash_table_size (store->members));
      store_restore (store, FALSE);
      store->resync_at = g_get_monotonic_time () + (ALIVE_TTL_MS + HEARTBEAT_MS) * 1000;
    }
  if (step)
    on_step (store, reply, "the heartbeat");
}

static void
store_heartbeat (RedisStore *store, gboolean step)
{
  g_autofree char *ttl = g_strdup_printf ("%d", ALIVE_TTL_MS);
  const char *argv[] = { store->parent.instance, ttl };

  if (store_eval (store, SCRIPT_HEARTBEAT, on_heartbeat, GINT_TO_POINTER (step),
                  G_N_ELEMENTS (argv), argv)
      && step)
    store->steps++;
}

static void
on_reaped (RedisStore *store, redisReply *reply, gpointer data)
{
  if (reply_is_error (reply))
    {
      reply_failed (store, reply, "removing the peers of dead instances");
      return;
    }
  for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
    g_message ("redis: instance %s stopped sending heartbeats; removed its %lld peers",
               reply->element[i]->str, reply->element[i + 1]->integer);
}

static void
on_members (RedisStore *store, redisReply *reply, gpointer data)
{
  g_autofree char *room = data;
  g_autoptr (GPtrArray) members = NULL;

  if (reply_is_error (reply) || reply->type != REDIS_REPLY_ARRAY)
    return;
  members = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_signal_member_free);
  for (size_t i = 0; i < reply->elements; i++)
    {
      const char *entry = reply->element[i]->str;
      const char *space = entry ? strchr (entry, ' ') : NULL;
      PunchSignalMember *m;

      if (space == NULL)
        continue;
      m = g_new0 (PunchSignalMember, 1);
      m->id = g_strndup (entry, (gsize)(space - entry));
      m->instance = g_strdup (space + 1);
      g_ptr_array_add (members, m);
    }
  store->parent.events.members (store->parent.user_data, room, members);
}

/* After an outage: what Redis has of each of our rooms, for the room code
 * to tell our peers who came and went meanwhile. */
static void
store_resync (RedisStore *store)
{
  g_autoptr (GHashTable) rooms = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer room;

  g_hash_table_iter_init (&iter, store->members);
  while (g_hash_table_iter_next (&iter, NULL, &room))
    g_hash_table_add (rooms, room);
  g_hash_table_iter_init (&iter, rooms);
  while (g_hash_table_iter_next (&iter, &room, NULL))
    {
      g_autofree char *key = g_strconcat ("punch:room:", room, NULL);
      const char *argv[] = { "LRANGE", key, "0", "-1" };

      store_command (store, on_members, g_strdup (room), G_N_ELEMENTS (argv), argv);
    }
}

static gboolean
cmd_readable (RedisStore *store)
{
  struct pollfd pfd = { .fd = store->cmd.ac->c.fd, .events = POLLIN };

  return poll (&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static gboolean
on_tick (gpointer user_data)
{
  RedisStore *store = user_data;
  gint64 now = g_get_monotonic_time ();
  gboolean stalled = store->last_tick && now - store->last_tick > 3 * HEARTBEAT_MS * 1000;

  store->last_tick = now;
  /* this process did not run for a while (stopped, swapped, a debugger):
   * Redis' replies may be waiting unread; the deadline starts again */
  if (stalled)
    store->last_progress = now;
  if (store->state != STATE_DOWN && store->pending > 0
      && now - store->last_progress > REPLY_DEADLINE_US)
    {
      /* before giving up: what the main loop has not dispatched yet */
      if (cmd_readable (store))
        redisAsyncHandleRead (store->cmd.ac);
      if (store->state == STATE_DOWN)
        return G_SOURCE_CONTINUE;
      if (g_get_monotonic_time () - store->last_progress > REPLY_DEADLINE_US)
        {
          store_down (store, "no reply within 5 s");
          return G_SOURCE_CONTINUE;
        }
    }
  if (store->state == STATE_CONNECTING && !store->subscribed
      && now - store->last_progress > REPLY_DEADLINE_US)
    {
      store_down (store, "not subscribed within 5 s");
      return G_SOURCE_CONTINUE;
    }
  if (store->state != STATE_UP)
    return G_SOURCE_CONTINUE;
  store_heartbeat (store, FALSE);
  store_eval (store, SCRIPT_REAP, on_reaped, NULL, 0, NULL);
  if (store->resync_at && now >= store->resync_at)
    {
      store->resync_at = 0;
      store_resync (store);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- pub/sub: what the others send us ---- */

static void
handle_notice (RedisStore *store, const char *data, size_t len)
{
  const PunchSignalRoomStoreEvents *ev = &store->parent.events;
  g_autofree char *text = g_strndup (data, len);
  g_auto (GStrv) f = g_strsplit (text, "\n", 5);
  guint n = g_strv_length (f);

  if (n == 4 && strcmp (f[0], "J") == 0)
    ev->peer_joined (store->parent.user_data, f[1], f[2], f[3]);
  else if (n == 3 && strcmp (f[0], "L") == 0)
    ev->peer_left (store->parent.user_data, f[1], f[2]);
  else if (n == 5 && strcmp (f[0], "M") == 0)
    ev->deliver (store->parent.user_data, f[1], strcmp (f[2], "*") == 0 ? NULL : f[2], f[3], f[4]);
  else
    g_message ("redis: ignored a malformed notice on %s", store->channel);
}

static void
on_subscription (redisAsyncContext *ac, void *r, void *privdata)
{
  RedisStore *store = privdata;
  redisReply *reply = r;
  const char *kind;

  if (reply == NULL || ac != store->sub.ac)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
      || reply->element[0]->type != REDIS_REPLY_STRING)
    {
      if (reply->type == REDIS_REPLY_ERROR)
        reply_failed (store, reply, "SUBSCRIBE");
      return;
    }
  kind = reply->element[0]->str;
  if (strcmp (kind, "subscribe") == 0)
    {
      store->subscribed = TRUE;
      check_up (store);
    }
  else if (strcmp (kind, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING)
    handle_notice (store, reply->element[2]->str, reply->element[2]->len);
}

/* ---- connections ---- */

/* hiredis calls this as it frees a context (whoever started it): the
 * adapter's cleanup, then forget the events of the poll that is being
 * dispatched (the adapter's dispatch would otherwise read with the freed
 * context after a failed write), then drop the source. */
static void
conn_cleanup (gpointer data)
{
  RedisSource *source = data;

  redis_source_cleanup (data);
  source->poll_fd.revents = 0;
  g_source_destroy ((GSource *)source);
  g_source_unref ((GSource *)source);
}

static void
on_connect (const redisAsyncContext *ac, int status)
{
  Conn *conn = ac->data;
  g_autofree char *reason = NULL;

  if (conn->ac != ac || status == REDIS_OK)
    return;
  /* hiredis frees it after this */
  reason = g_strdup (ac->errstr[0] ? ac->errstr : "cannot connect");
  conn->ac = NULL;
  store_down (conn->store, reason);
}

static void
on_disconnect (const redisAsyncContext *ac, int status)
{
  Conn *conn = ac->data;
  g_autofree char *reason = NULL;

  if (conn->ac != ac)
    return; /* we dropped it */
  reason = g_strdup (status == REDIS_OK ? "the connection was closed"
                     : ac->errstr[0]    ? ac->errstr
                                        : "the connection failed");
  conn->ac = NULL;
  store_down (conn->store, reason);
}

static gboolean
conn_open (RedisStore *store, Conn *conn, GError **error)
{
  const PunchSignalRedisAddress *a = store->address;
  redisAsyncContext *ac;
  GSource *source;

  conn->store = store;
  ac = a->path ? redisAsyncConnectUnix (a->path) : redisAsyncConnect (a->host, a->port);
  if (ac == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "out of memory");
      return FALSE;
    }
  if (ac->err)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE, ac->errstr);
      redisAsyncFree (ac);
      return FALSE;
    }
  if (a->path == NULL)
    redisEnableKeepAlive (&ac->c);
  ac->data = conn;
  source = redis_source_new (ac);
  ac->ev.cleanup = conn_cleanup;
  g_source_attach (source, store->context);
  conn->ac = ac;
  /* after the adapter: this is what first asks for the socket's writability */
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  return TRUE;
}

static void
conn_close (Conn *conn)
{
  redisAsyncContext *ac = conn->ac;

  if (ac == NULL)
    return;
  conn->ac = NULL;
  /* answers every pending callback with NULL, now or (inside a callback)
   * right after it */
  redisAsyncFree (ac);
}

static void
auth_argv (RedisStore *store, const char **argv, int *argc)
{
  *argc = 0;
  argv[(*argc)++] = "AUTH";
  if (store->address->user)
    argv[(*argc)++] = store->address->user;
  argv[(*argc)++] = store->address->password;
}

static void
store_connect (RedisStore *store)
{
  g_autoptr (GError) error = NULL;
  const char *argv[4];
  int argc;

  store->state = STATE_CONNECTING;
  store->steps = 0;
  store->subscribed = FALSE;
  store->pending = 0;
  store->last_progress = g_get_monotonic_time ();
  if (!conn_open (store, &store->cmd, &error) || !conn_open (store, &store->sub, &error))
    {
      store_down (store, error->message);
      return;
    }
  /* queued before the connection is up; hiredis sends them in this order */
  if (store->address->password)
    {
      auth_argv (store, argv, &argc);
      if (store_command (store, on_step, (gpointer) "AUTH", argc, argv))
        store->steps++;
      {
        Call *call = g_new0 (Call, 1);
        size_t lens[3];

        call->store = store;
        call->func = on_step;
        call->data = (gpointer) "AUTH";
        for (int i = 0; i < argc; i++)
          lens[i] = strlen (argv[i]);
        if (redisAsyncCommandArgv (store->sub.ac, on_reply, call, argc, argv, lens) == REDIS_OK)
          store->steps++;
        else
          g_free (call);
      }
    }
  if (store->address->db)
    {
      g_autofree char *db = g_strdup_printf ("%u", store->address->db);
      const char *select[] = { "SELECT", db };

      if (store_command (store, on_step, (gpointer) "SELECT", 2, select))
        store->steps++;
    }
  for (int i = 0; i < N_SCRIPTS; i++)
    {
      const char *load[] = { "SCRIPT", "LOAD", scripts[i] };

      if (store_command (store, on_step, (gpointer) "SCRIPT LOAD", 3, load))
        store->steps++;
    }
  store_heartbeat (store, TRUE);
  while (!g_queue_is_empty (&store->leaves))
    {
      Leave *leave = g_queue_pop_head (&store->leaves);
      const char *args[] = { leave->room, leave->peer, store->parent.instance };

      if (!store_eval (store, SCRIPT_LEAVE, on_leave_done, leave, 3, args))
        {
          g_queue_push_head (&store->leaves, leave);
          break;
        }
    }
  store_restore (store, TRUE);
  {
    const char *subscribe[] = { "SUBSCRIBE", store->channel };
    size_t lens[] = { strlen (subscribe[0]), strlen (subscribe[1]) };

    redisAsyncCommandArgv (store->sub.ac, on_subscription, store, 2, subscribe, lens);
  }
}

static gboolean
on_retry (gpointer user_data)
{
  RedisStore *store = user_data;

  g_clear_pointer (&store->retry_source, g_source_unref);
  store_connect (store);
  return G_SOURCE_REMOVE;
}

/* Drops both connections (answering every pending call), and tries again
 * after the backoff. */
static void
store_down (RedisStore *store, const char *reason)
{
  guint delay;

  if (store->state == STATE_DOWN)
    return;
  if (store->state == STATE_UP)
    store->down_since = g_get_monotonic_time ();
  store->state = STATE_DOWN;
  store->resync_at = 0;
  store->backoff_ms
      = store->backoff_ms ? MIN (store->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
  delay = (guint)g_random_int_range ((gint32)(store->backoff_ms * 3 / 4),
                                     (gint32)(store->backoff_ms * 5 / 4) + 1);
  if (store->failures++ == 0)
    g_message ("redis: %s unreachable: %s; joins fail with \"unavailable\" until it is back, "
               "rooms on this instance alone keep working; retrying in %u ms",
               store->where, reason, delay);
  else
    g_message ("redis: %s still unreachable: %s; retrying in %u ms", store->where, reason, delay);
  conn_close (&store->cmd);
  conn_close (&store->sub);
  store->pending = 0;
  store->subscribed = FALSE;
  store->retry_source = g_timeout_source_new (delay);
  g_source_set_callback (store->retry_source, on_retry, store, NULL);
  g_source_attach (store->retry_source, store->context);
}

/* ---- the interface ---- */

typedef struct
{
  char *room;
  char *peer;
  PunchSignalJoinFunc done;
  gpointer user_data;
} JoinCall;

static void
on_joined (RedisStore *store, redisReply *reply, gpointer data)
{
  JoinCall *join = data;
  const char *status;

  if (reply_is_error (reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
    {
      /* it may have happened before the connection went: undo it to be sure */
      if (reply == NULL)
        queue_leave (store, join->room, join->peer);
      else
        g_message ("redis: join of peer %s to room %s failed: %s", join->peer, join->room,
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
      join->done (PUNCH_SIGNAL_STORE_UNAVAILABLE, NULL, 0, join->user_data);
      if (reply && reply->type == REDIS_REPLY_ERROR)
        reply_failed (store, reply, "the join script");
    }
  else if (strcmp (status = reply->element[0]->str, "ok") == 0 && reply->elements == 2)
    {
      g_autoptr (GPtrArray) members
          = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_signal_member_free);
      redisReply *list = reply->element[1];

      for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
        {
          const char *entry = list->element[i]->str;
          const char *space = entry ? strchr (entry, ' ') : NULL;
          PunchSignalMember *m;

          if (space == NULL)
            continue;
          m = g_new0 (PunchSignalMember, 1);
          m->id = g_strndup (entry, (gsize)(space - entry));
          m->instance = g_strdup (space + 1);
          g_ptr_array_add (members, m);
        }
      g_hash_table_insert (store->members, g_strdup (join->peer), g_strdup (join->room));
      join->done (PUNCH_SIGNAL_STORE_OK, members, 0, join->user_data);
    }
  else if (strcmp (status, "full") == 0 && reply->elements == 2)
    join->done (PUNCH_SIGNAL_STORE_FULL, NULL, (guint)reply->element[1]->integer, join->user_data);
  else
    join->done (PUNCH_SIGNAL_STORE_TAKEN, NULL, 0, join->user_data);
  g_free (join->room);
  g_free (join->peer);
  g_free (join);
}

static void
redis_join (PunchSignalRoomStore *base, const char *room, const char *peer, guint n_local,
            guint room_size, PunchSignalJoinFunc done, gpointer user_data)
{
  RedisStore *store = (RedisStore *)base;
  g_autofree char *size = g_strdup_printf ("%u", room_size);
  const char *argv[] = { room, peer, base->instance, size };
  JoinCall *join;

  store->room_size = room_size;
  if (store->state != STATE_UP)
    {
      done (PUNCH_SIGNAL_STORE_UNAVAILABLE, NULL, 0, user_data);
      return;
    }
  join = g_new0 (JoinCall, 1);
  join->room = g_strdup (room);
  join->peer = g_strdup (peer);
  join->done = done;
  join->user_data = user_data;
  if (!store_eval (store, SCRIPT_JOIN, on_joined, join, G_N_ELEMENTS (argv), argv))
    {
      g_free (join->room);
      g_free (join->peer);
      g_free (join);
      done (PUNCH_SIGNAL_STORE_UNAVAILABLE, NULL, 0, user_data);
    }
}

static void
redis_leave (PunchSignalRoomStore *base, const char *room, const char *peer)
{
  RedisStore *store = (RedisStore *)base;
  Leave *leave = g_new0 (Leave, 1);

  g_hash_table_remove (store->members, peer);
  leave->room = g_strdup (room);
  leave->peer = g_strdup (peer);
  if (store->state == STATE_DOWN)
    g_queue_push_tail (&store->leaves, leave);
  else
    store_send_leave (store, leave);
}

typedef struct
{
  PunchSignalSendFunc done;
  gpointer user_data;
} SendCall;

static void
on_published (RedisStore *store, redisReply *reply, gpointer data)
{
  SendCall *send = data;
  gboolean ok = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;

  /* 0 receivers: that instance is gone (its peers leave once it is reaped) */
  send->done (ok ? PUNCH_SIGNAL_STORE_OK : PUNCH_SIGNAL_STORE_UNAVAILABLE, send->user_data);
  g_free (send);
}

static void
redis_send (PunchSignalRoomStore *base, const char *instance, const char *room, const char *to,
            const char *from, const char *json, PunchSignalSendFunc done, gpointer user_data)
{
  RedisStore *store = (RedisStore *)base;
  g_autofree char *channel = g_strconcat ("punch:to:", instance, NULL);
  g_autofree char *notice = g_strjoin ("\n", "M", room, to ? to : "*", from, json, NULL);
  const char *argv[] = { "PUBLISH", channel, notice };
  SendCall *send;

  if (store->state != STATE_UP)
    {
      done (PUNCH_SIGNAL_STORE_UNAVAILABLE, user_data);
      return;
    }
  send = g_new0 (SendCall, 1);
  send->done = done;
  send->user_data = user_data;
  if (!store_command (store, on_published, send, G_N_ELEMENTS (argv), argv))
    {
      g_free (send);
      done (PUNCH_SIGNAL_STORE_UNAVAILABLE, user_data);
    }
}

static void
redis_describe (PunchSignalRoomStore *base, GString *json)
{
  RedisStore *store = (RedisStore *)base;

  g_string_append_printf (json, ",\"instance\":\"%s\",\"redis\":\"%s\"", base->instance,
                          store->state == STATE_UP ? "up" : "down");
}

static void
redis_free (PunchSignalRoomStore *base)
{
  RedisStore *store = (RedisStore *)base;

  if (store->tick_source)
    g_source_destroy (store->tick_source);
  g_clear_pointer (&store->tick_source, g_source_unref);
  if (store->retry_source)
    g_source_destroy (store->retry_source);
  g_clear_pointer (&store->retry_source, g_source_unref);
  store->state = STATE_DOWN;
  conn_close (&store->cmd);
  conn_close (&store->sub);
  g_queue_clear_full (&store->leaves, (GDestroyNotify)leave_free);
  g_hash_table_unref (store->members);
  for (int i = 0; i < N_SCRIPTS; i++)
    g_free (store->sha[i]);
  g_free (store->channel);
  g_free (store->where);
  punch_signal_redis_address_free (store->address);
  g_main_context_unref (store->context);
  g_free (base->instance);
  g_free (store);
}

static const PunchSignalRoomStoreFuncs redis_funcs = {
  .join = redis_join,
  .leave = redis_leave,
  .send = redis_send,
  .describe = redis_describe,
  .free = redis_free,
};

PunchSignalRoomStore *
punch_signal_redis_store_new (const PunchSignalRedisAddress *address, GMainContext *context,
                              const PunchSignalRoomStoreEvents *events, gpointer user_data)
{
  RedisStore *store = g_new0 (RedisStore, 1);

  g_return_val_if_fail (address != NULL && events != NULL, NULL);
  store->parent.funcs = &redis_funcs;
  store->parent.shared = TRUE;
  store->parent.instance = g_strdup_printf ("%08x%04x", g_random_int (), g_random_int () >> 16);
  store->parent.events = *events;
  store->parent.user_data = user_data;
  store->address = punch_signal_redis_address_copy (address);
  store->where = punch_signal_redis_address_to_string (address);
  store->context = g_main_context_ref (context);
  store->channel = g_strconcat ("punch:to:", store->parent.instance, NULL);
  store->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&store->leaves);
  for (int i = 0; i < N_SCRIPTS; i++)
    store->sha[i] = g_compute_checksum_for_string (G_CHECKSUM_SHA1, scripts[i], -1);
  store->tick_source = g_timeout_source_new (HEARTBEAT_MS);
  g_source_set_callback (store->tick_source, on_tick, store, NULL);
  g_source_attach (store->tick_source, context);
  store_connect (store);
  return &store->parent;
}
