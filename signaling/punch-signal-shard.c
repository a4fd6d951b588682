/* punch-signal-shard.c: the shards of GMainContexts the WebSockets live on
 *
 * See the comment on PunchSignalServer's context in
 * punch-signal-server-private.h: one epoll set on the server's context says
 * which shard's context to run.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server-private.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib-unix.h>

#define SHARD_RUN_US 2000 /* at most this long in one shard at a time */
#define EPOLL_RUN_US                                                                               \
  5000                      /* at most this long over the WebSocket shards epoll (or run_busy) has \
                             */
#define SMALL_MESSAGE 2048  /* larger messages wait for their turn (peer_defer()) */
#define BACKLOG_RUN_US 1000 /* at most this long (or one message) per backlog turn */
#define BACKLOG_PRIORITY (G_PRIORITY_DEFAULT + 10)
#define HANDSHAKE_PRIORITY (G_PRIORITY_DEFAULT + 10)
#define HANDSHAKE_RUN_US 2000 /* at most this long over the handshake shards per dispatch */

/* Runs @func once, soon, on the server's context (unless *@source is
 * already pending). At the default priority, not an idle one: below the
 * epoll source, a busy server would never get to it. */
void
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
void
peer_unwatch (Peer *peer)
{
  Shard *shard = peer->shard;

  if (peer->fd >= 0 && g_hash_table_remove (shard->watched, GINT_TO_POINTER (peer->fd)))
    epoll_ctl (shard->lane->epfd, EPOLL_CTL_DEL, peer->fd, NULL);
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

  if (epoll_ctl (shard->lane->epfd, op, fd, &ev) == 0)
    return;
  /* a descriptor that was closed under us left the set by itself */
  if (op == EPOLL_CTL_MOD && errno == ENOENT
      && epoll_ctl (shard->lane->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
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

/* Runs the shard from an idle on the server's context (at its lane's
 * priority), once. */
void
shard_schedule (Shard *shard)
{
  Lane *lane = shard->lane;

  if (shard->busy)
    return;
  shard->busy = TRUE;
  g_ptr_array_add (lane->busy, shard);
  if (lane->busy_source)
    return;
  lane->busy_source = g_idle_source_new ();
  g_source_set_priority (lane->busy_source, lane->priority);
  g_source_set_callback (lane->busy_source, run_busy, lane, NULL);
  g_source_attach (lane->busy_source, shard->server->context);
}

/* ---- messages that wait for their turn ----
 *
 * libsoup 3.2 reads all that a WebSocket has buffered and emits every
 * message in it from one dispatch, and GLib dispatches every ready
 * connection of a context in one iteration: a shard where many peers sent
 * large messages (a 16 KB description costs about 2 ms to parse, check and
 * re-serialize) held the thread for 100 ms and more in one iteration, and
 * the messages of every other shard waited behind it. So a large message is
 * not handled in the dispatch that read it. It is queued on its peer, the
 * peer's input is held back (its frame guard reads nothing more, so TCP
 * pushes back on the sender instead of the server buffering for it), and
 * the queues are worked off from one source below the default priority:
 * one message per peer in turn, one shard after the other, at most
 * BACKLOG_RUN_US (or one message) per dispatch, and only in main-loop
 * iterations where no socket and no timer of the default priority is ready.
 * Small messages (candidates, bye: nearly all the traffic) of a peer with
 * nothing queued are handled at once; a peer's order is kept, because
 * anything behind a queued message is queued too. */

static gboolean run_backlog (gpointer user_data);

gboolean
peer_must_wait (Peer *peer, gsize size)
{
  return size > SMALL_MESSAGE || !g_queue_is_empty (&peer->deferred);
}

static void
shard_to_backlog (Shard *shard)
{
  PunchSignalServer *self = shard->server;

  if (shard->backlog.data == NULL)
    {
      shard->backlog.data = shard;
      g_queue_push_tail_link (&self->backlog, &shard->backlog);
    }
  if (self->backlog_source == NULL)
    {
      self->backlog_source = g_idle_source_new ();
      g_source_set_priority (self->backlog_source, BACKLOG_PRIORITY);
      g_source_set_callback (self->backlog_source, run_backlog, self, NULL);
      g_source_attach (self->backlog_source, self->context);
    }
}

void
peer_defer (Peer *peer, GBytes *bytes)
{
  g_queue_push_tail (&peer->deferred, g_bytes_ref (bytes));
  if (peer->turn.data == NULL)
    {
      peer->turn.data = peer;
      g_queue_push_tail_link (&peer->shard->waiting, &peer->turn);
    }
  punch_signal_frame_guard_hold (peer->guard, TRUE);
  shard_to_backlog (peer->shard);
}

void
peer_drop_deferred (Peer *peer)
{
  if (peer->turn.data)
    g_queue_unlink (&peer->shard->waiting, &peer->turn);
  peer->turn.data = NULL;
  g_queue_clear_full (&peer->deferred, (GDestroyNotify)g_bytes_unref);
  g_queue_init (&peer->deferred);
}

/* Handles the shard's deferred messages, one per peer in turn: at least
 * one, then until @until. */
static void
shard_handle_deferred (Shard *shard, gint64 until)
{
  PunchSignalServer *self = shard->server;
  Shard *outer = self->running;
  GList *link;

  g_main_context_push_thread_default (shard->ctx);
  self->running = shard;
  while ((link = g_queue_pop_head_link (&shard->waiting)))
    {
      Peer *peer = link->data;
      g_autoptr (GBytes) bytes = g_queue_pop_head (&peer->deferred);

      if (g_queue_is_empty (&peer->deferred))
        {
          peer->turn.data = NULL;
          /* reads again from the context's next iteration on */
          punch_signal_frame_guard_hold (peer->guard, FALSE);
        }
      else
        g_queue_push_tail_link (&shard->waiting, link);
      /* may close the peer, which drops what it still has queued */
      peer_handle_text (peer, bytes);
      if (g_get_monotonic_time () > until)
        break;
    }
  self->running = outer;
  /* sends queued output and lets released peers read on */
  if (shard_watch (shard) == 0)
    shard_schedule (shard);
  g_main_context_pop_thread_default (shard->ctx);
}

static gboolean
run_backlog (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  gint64 until = g_get_monotonic_time () + BACKLOG_RUN_US;
  GList *link;

  while ((link = g_queue_pop_head_link (&self->backlog)))
    {
      Shard *shard = link->data;

      shard->backlog.data = NULL;
      shard_handle_deferred (shard, until);
      if (!g_queue_is_empty (&shard->waiting))
        {
          shard->backlog.data = shard;
          g_queue_push_tail_link (&self->backlog, &shard->backlog);
        }
      if (g_get_monotonic_time () > until)
        break;
    }
  if (!g_queue_is_empty (&self->backlog))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->backlog_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Dispatches what is ready on the shard's context (sockets, timers, GTask
 * completions), then updates what epoll watches for it. */
void
shard_run (Shard *shard)
{
  PunchSignalServer *self = shard->server;
  gboolean more;
  gint64 until;

  g_main_context_push_thread_default (shard->ctx);
  self->running = shard;
  /* bounded in iterations and in time, so that flooding peers can starve
   * neither the other shards nor the server's own timers (the deadlines in
   * sweep()); what is left is run again from an idle */
  until = g_get_monotonic_time () + SHARD_RUN_US;
  for (guint i = 0; i < 64 && g_main_context_iteration (shard->ctx, FALSE); i++)
    if (g_get_monotonic_time () > until)
      break;
  self->running = NULL;
  more = shard_watch (shard) == 0;
  g_main_context_pop_thread_default (shard->ctx);
  if (more)
    shard_schedule (shard);
}

static Shard *
shard_new (PunchSignalServer *self, Lane *lane)
{
  Shard *shard = g_new0 (Shard, 1);

  shard->server = self;
  shard->lane = lane;
  /* libsoup keeps a server's connections in a list and walks it to remove
   * each one that closes: one SoupServer for all of them made a wave of
   * closing handshakes cost time in the square of their number */
  if (lane->handshakes)
    shard->soup = server_new_soup (self);
  /* ownerless polling: a GTask completing in another thread (libsoup closes
   * streams that way) signals the wakeup descriptor that epoll watches */
  shard->ctx = g_main_context_new_with_flags (G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING);
  shard->watched = g_hash_table_new (NULL, NULL);
  shard->want = g_hash_table_new (NULL, NULL);
  g_ptr_array_add (self->shards, shard);
  return shard;
}

/* After every peer of it is freed. */
void
shard_free (Shard *shard)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, shard->watched);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    epoll_ctl (shard->lane->epfd, EPOLL_CTL_DEL, GPOINTER_TO_INT (key), NULL);
  if (shard->timer_it)
    g_sequence_remove (shard->timer_it);
  if (shard->backlog.data)
    g_queue_unlink (&shard->server->backlog, &shard->backlog);
  g_hash_table_unref (shard->watched);
  g_hash_table_unref (shard->want);
  g_free (shard->pfds);
  if (shard->soup)
    {
      g_main_context_push_thread_default (shard->ctx);
      g_object_unref (shard->soup);
      g_main_context_pop_thread_default (shard->ctx);
    }
  g_main_context_unref (shard->ctx);
  g_free (shard);
}

/* In @lane: the shard filled last while it has room, else the least busy
 * shard with room, else a new one: a scan per shard of connections, not
 * per connection. A new shard's context needs a descriptor (its wakeup
 * eventfd), and GLib aborts when it cannot get one: look first.
 *
 * Connections start in LANE_HANDSHAKE and move to LANE_WS when they
 * upgrade (shard_move_to_ws()). The handshake lane's epoll set, run queue,
 * the listener and the handshake deadline run below the default priority:
 * thousands of connections that open, dribble headers and are closed at
 * their deadline all at once cost real time (accepting, libsoup's HTTP
 * parser, closing), and while they shared shards and one epoll set with
 * the WebSockets, the peers' messages waited behind whole waves of them
 * (p99 90-250 ms with 1,900 of them). Now they run only when no WebSocket
 * is ready, in slices of a few ms. */
Shard *
shard_pick (PunchSignalServer *self, guint lane_index)
{
  Lane *lane = &self->lanes[lane_index];
  Shard *best = NULL;
  int probe;

  if (lane->fill && lane->fill->n_peers < lane->shard_size)
    return lane->fill;
  for (guint i = 0; i < self->shards->len; i++)
    {
      Shard *shard = self->shards->pdata[i];
      if (shard->lane == lane && shard->n_peers < lane->shard_size
          && (best == NULL || shard->n_peers < best->n_peers))
        best = shard;
    }
  if (best == NULL)
    {
      probe = eventfd (0, EFD_CLOEXEC);
      if (probe < 0)
        return NULL;
      close (probe);
      best = shard_new (self, lane);
    }
  lane->fill = best;
  return best;
}

/* From the 1 s sweep: frees the handshake shards nobody is on. A wave of
 * handshakes leaves hundreds of them behind (23 KiB each: the context, its
 * eventfd, the SoupServer), and a WebSocket shard rarely empties. Nothing
 * refers to an empty shard: no connection is on it, it is neither queued
 * nor timed, and freeing it takes its descriptors out of the epoll set. */
void
server_free_idle_shards (PunchSignalServer *self)
{
  for (guint i = self->shards->len; i-- > 0;)
    {
      Shard *shard = self->shards->pdata[i];

      if (shard->lane->handshakes && shard->n_peers == 0 && shard != shard->lane->fill
          && !shard->busy && shard->timer_it == NULL && shard->backlog.data == NULL
          && g_queue_is_empty (&shard->waiting))
        g_ptr_array_remove_index_fast (self->shards, i); /* frees it */
    }
}

Shard *
shard_move_to_ws (Shard *from, int fd)
{
  Shard *to = shard_pick (from->server, LANE_WS);

  if (to == NULL || to == from)
    return from; /* no descriptor for a new shard: it stays, below the default priority */
  /* the handshake's sources are gone with the HTTP message; whatever
   * polled the socket there must not wake that shard any more */
  if (g_hash_table_remove (from->watched, GINT_TO_POINTER (fd)))
    epoll_ctl (from->lane->epfd, EPOLL_CTL_DEL, fd, NULL);
  from->n_peers--;
  to->n_peers++;
  return to;
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
    {
      Shard *shard = due->pdata[i];
      if (shard->lane->handshakes)
        shard_schedule (shard); /* at its lane's priority */
      else
        shard_run (shard);
    }
  arm_timer (self);
  return G_SOURCE_REMOVE;
}

static gboolean
run_busy (gpointer user_data)
{
  Lane *lane = user_data;
  g_autoptr (GPtrArray) batch = lane->busy;

  g_clear_pointer (&lane->busy_source, g_source_unref);
  lane->busy = g_ptr_array_new ();
  gint64 until = g_get_monotonic_time () + (lane->handshakes ? HANDSHAKE_RUN_US : EPOLL_RUN_US);

  for (guint i = 0; i < batch->len; i++)
    ((Shard *)batch->pdata[i])->busy = FALSE;
  /* as long as one epoll pass at most; the rest goes first next time */
  for (guint i = 0; i < batch->len; i++)
    if (g_get_monotonic_time () < until)
      shard_run (batch->pdata[i]);
    else
      shard_schedule (batch->pdata[i]);
  return G_SOURCE_REMOVE;
}

/* What epoll says is ready, as long as one pass at most. A shard that
 * waits in the run queue is left to it: level-triggered, epoll reports the
 * same descriptors first every time, and the shards at the end of the list
 * would wait until those at its head ran dry. */
static gboolean
on_epoll (gint fd, GIOCondition condition, gpointer user_data)
{
  Lane *lane = user_data;
  struct epoll_event events[256];
  int n = epoll_wait (lane->epfd, events, G_N_ELEMENTS (events), 0);
  gint64 until = g_get_monotonic_time () + (lane->handshakes ? HANDSHAKE_RUN_US : EPOLL_RUN_US);

  /* shards are freed only from the sweep (server_free_idle_shards()), never during a pass */
  for (int i = 0; i < n; i++)
    {
      Shard *shard = events[i].data.ptr;
      if (shard->busy)
        continue;
      if (g_get_monotonic_time () < until)
        shard_run (shard);
      else
        shard_schedule (shard);
    }
  return G_SOURCE_CONTINUE;
}

gboolean
server_lanes_init (PunchSignalServer *self, GError **error)
{
  for (guint i = 0; i < N_LANES; i++)
    {
      Lane *lane = &self->lanes[i];

      lane->server = self;
      lane->handshakes = i == LANE_HANDSHAKE;
      lane->priority = lane->handshakes ? HANDSHAKE_PRIORITY : G_PRIORITY_DEFAULT;
      lane->shard_size = lane->handshakes ? HANDSHAKE_SHARD_SIZE : SHARD_SIZE;
      lane->busy = g_ptr_array_new ();
      lane->epfd = epoll_create1 (EPOLL_CLOEXEC);
      if (lane->epfd < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll_create1: %s",
                       g_strerror (errsv));
          return FALSE;
        }
      lane->epoll_source = g_unix_fd_source_new (lane->epfd, G_IO_IN);
      g_source_set_priority (lane->epoll_source, lane->priority);
      g_source_set_callback (lane->epoll_source, G_SOURCE_FUNC (on_epoll), lane, NULL);
      g_source_attach (lane->epoll_source, self->context);
    }
  return TRUE;
}

/* Stops the lanes' sources (the shards stay until they are freed). */
void
server_lanes_clear (PunchSignalServer *self)
{
  for (guint i = 0; i < N_LANES; i++)
    {
      Lane *lane = &self->lanes[i];

      if (lane->epoll_source)
        g_source_destroy (lane->epoll_source);
      g_clear_pointer (&lane->epoll_source, g_source_unref);
      if (lane->busy_source)
        g_source_destroy (lane->busy_source);
      g_clear_pointer (&lane->busy_source, g_source_unref);
      if (lane->busy)
        g_ptr_array_set_size (lane->busy, 0);
      lane->fill = NULL;
    }
}
