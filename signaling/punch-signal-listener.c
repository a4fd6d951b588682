/* punch-signal-listener.c: accepting connections for punch-signal
 *
 * The server owns its listening sockets instead of letting SoupServer
 * accept: libsoup's listener has no limit, no deadline, and puts every
 * connection on one main context; and when accept() fails with EMFILE it
 * logs the error and never accepts again.
 *
 * Here each connection is accepted with accept4(), counted, and refused at
 * once, with a canned 503 and without reading its request, when the server
 * is at --max-connections or its address at --max-connections-per-ip. An
 * admitted connection is handed to its handshake shard's SoupServer with
 * that shard's context as the thread-default one, so its HTTP handshake runs
 * there (the WebSocket it becomes moves to a WebSocket shard), and it must
 * have upgraded --handshake-timeout seconds after it was accepted, or it is
 * shut down. Accepting and the deadline run below the default priority, in
 * batches, like the handshake shards (see shard_pick()).
 *
 * Out of descriptors (EMFILE, ENFILE), the listener stops watching its
 * socket and tries again after a back-off of 50 ms doubling to 500 ms, so
 * that it neither spins nor gives up; /healthz says "degraded" until
 * DEGRADED_US after the last time it happened. Refusals, expired handshakes
 * and descriptor exhaustion are logged at most once per LOG_INTERVAL_US.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* accept4 */
#include "punch-signal-server-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#define ACCEPT_BATCH 16 /* per wakeup, so one listener cannot hold the server long */
#define EXPIRE_BATCH 16 /* handshakes shut down per wakeup: each is read and closed soon after */
/* below the WebSockets: see shard_pick() */
#define LISTENER_PRIORITY (G_PRIORITY_DEFAULT + 10)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 500
#define SEND_BUFFER (64 * 1024)
#define DEGRADED_US (10 * G_USEC_PER_SEC)
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

struct _Listener
{
  PunchSignalServer *server;
  GSocket *socket;
  GSource *source; /* readable: connections to accept; NULL while backing off */
  GSource *resume;
  guint backoff_ms;
};

static GQuark
conn_quark (void)
{
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_static_string ("punch-signal-conn");
  return quark;
}

/* ---- logging, at most once per interval ---- */

void
server_log_counters (PunchSignalServer *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->log_refused + self->log_expired + self->log_exhausted == 0
      || now - self->log_at < LOG_INTERVAL_US)
    return;
  if (self->log_refused)
    g_message ("refused %" G_GUINT64_FORMAT " connections (limits: %u in all, %u per address; "
               "%u open now)",
               self->log_refused, self->config->max_connections,
               self->config->max_connections_per_ip, g_hash_table_size (self->conns));
  if (self->log_expired)
    g_message ("closed %" G_GUINT64_FORMAT " connections that did not finish the WebSocket "
               "handshake within %u s",
               self->log_expired, self->config->handshake_timeout_s);
  if (self->log_exhausted)
    g_message ("out of file descriptors (%s) %" G_GUINT64_FORMAT " times: not accepting for a "
               "moment; %u connections open (ulimit -n, --max-connections)",
               self->exhausted_reason, self->log_exhausted, g_hash_table_size (self->conns));
  self->log_refused = self->log_expired = self->log_exhausted = 0;
  self->log_at = now;
}

const char *
server_degraded (PunchSignalServer *self, gint64 *ago_us)
{
  gint64 now = g_get_monotonic_time ();

  if (self->exhausted_at == 0 || now - self->exhausted_at > DEGRADED_US)
    return NULL;
  if (ago_us)
    *ago_us = now - self->exhausted_at;
  return self->exhausted_reason;
}

/* ---- the life of a Conn ---- */

static void
conn_free (Conn *conn)
{
  g_object_set_qdata (G_OBJECT (conn->remote), conn_quark (), NULL);
  g_object_unref (conn->remote);
  g_free (conn->key);
  g_free (conn);
}

static void
conn_release (Conn *conn)
{
  PunchSignalServer *self = conn->server;
  gpointer count;

  if (!conn->upgraded && conn->link.data)
    g_queue_unlink (&self->handshakes, &conn->link);
  count = g_hash_table_lookup (self->per_addr, conn->key);
  if (GPOINTER_TO_UINT (count) <= 1)
    g_hash_table_remove (self->per_addr, conn->key);
  else
    g_hash_table_insert (self->per_addr, g_strdup (conn->key),
                         GUINT_TO_POINTER (GPOINTER_TO_UINT (count) - 1));
  conn->shard->n_peers--;
  self->trimmed_conns++;
  g_hash_table_remove (self->conns, conn); /* frees it */
}

static gboolean
release_all (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  g_autoptr (GPtrArray) batch = g_ptr_array_new ();

  g_mutex_lock (&self->released_lock);
  g_clear_pointer (&self->released_source, g_source_unref);
  g_ptr_array_extend_and_steal (batch, g_steal_pointer (&self->released));
  self->released = g_ptr_array_new ();
  g_mutex_unlock (&self->released_lock);
  for (guint i = 0; i < batch->len; i++)
    conn_release (batch->pdata[i]);
  return G_SOURCE_REMOVE;
}

/* The GSocket is finalized, its descriptor closed. That may happen in a
 * GTask's thread (a TLS close), so the Conn is released on the server's
 * context. */
static void
on_socket_gone (gpointer data, GObject *where_the_object_was)
{
  Conn *conn = data;
  PunchSignalServer *self = conn->server;

  g_mutex_lock (&self->released_lock);
  g_atomic_pointer_set (&conn->socket, NULL);
  g_ptr_array_add (self->released, conn);
  if (self->released_source == NULL)
    {
      self->released_source = g_idle_source_new ();
      g_source_set_priority (self->released_source, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->released_source, release_all, self, NULL);
      g_source_attach (self->released_source, self->context);
    }
  g_mutex_unlock (&self->released_lock);
}

Conn *
server_conn_upgraded (PunchSignalServer *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  Conn *conn = remote ? g_object_get_qdata (G_OBJECT (remote), conn_quark ()) : NULL;

  if (conn == NULL || conn->upgraded)
    return conn;
  conn->upgraded = TRUE;
  if (conn->link.data)
    g_queue_unlink (&self->handshakes, &conn->link);
  conn->link.data = NULL;
  return conn;
}

/* ---- the handshake deadline ---- */

static void arm_handshake_timer (PunchSignalServer *self);

static gboolean
on_handshake_timer (gpointer user_data)
{
  PunchSignalServer *self = user_data;
  gint64 limit
      = g_get_monotonic_time () - (gint64)self->config->handshake_timeout_s * G_USEC_PER_SEC;
  GList *head;
  guint n = 0;

  g_clear_pointer (&self->handshake_source, g_source_unref);
  while ((head = g_queue_peek_head_link (&self->handshakes)))
    {
      Conn *conn = head->data;

      if (conn->accepted_at > limit || n++ == EXPIRE_BATCH)
        break;
      g_queue_unlink (&self->handshakes, head);
      conn->link.data = NULL;
      /* shut down, not closed: libsoup still owns the descriptor; it reads
       * the end of the stream and lets the connection go */
      if (g_atomic_pointer_get (&conn->socket))
        g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
      self->expired++;
      self->log_expired++;
      g_debug ("addr=%s: no WebSocket upgrade within %u s; closed", conn->key,
               self->config->handshake_timeout_s);
    }
  server_log_counters (self);
  arm_handshake_timer (self);
  return G_SOURCE_REMOVE;
}

static void
arm_handshake_timer (PunchSignalServer *self)
{
  Conn *head = g_queue_peek_head (&self->handshakes);
  gint64 at, now = g_get_monotonic_time ();

  if (head == NULL || self->handshake_source)
    return;
  at = head->accepted_at + (gint64)self->config->handshake_timeout_s * G_USEC_PER_SEC;
  self->handshake_source = g_timeout_source_new (at > now ? (guint)((at - now + 999) / 1000) : 0);
  g_source_set_priority (self->handshake_source, LISTENER_PRIORITY);
  g_source_set_callback (self->handshake_source, on_handshake_timer, self, NULL);
  g_source_attach (self->handshake_source, self->context);
}

/* ---- accepting ---- */

/* One key per IPv4 address, per IPv6 /64 (what one subscriber usually
 * gets), and IPv4-mapped IPv6 addresses count as IPv4. */
static char *
address_key (const struct sockaddr_storage *ss)
{
  char text[INET6_ADDRSTRLEN + 4];

  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
      inet_ntop (AF_INET, &sin->sin_addr, text, sizeof text);
      return g_strdup (text);
    }
  if (ss->ss_family == AF_INET6)
    {
      struct in6_addr a = ((const struct sockaddr_in6 *)ss)->sin6_addr;
      if (IN6_IS_ADDR_V4MAPPED (&a))
        {
          inet_ntop (AF_INET, &a.s6_addr[12], text, sizeof text);
          return g_strdup (text);
        }
      memset (&a.s6_addr[8], 0, 8);
      inet_ntop (AF_INET6, &a, text, sizeof text);
      return g_strconcat (text, "/64", NULL);
    }
  return g_strdup ("?");
}

/* A canned answer, without reading the request: then the descriptor goes. */
static void
refuse (PunchSignalServer *self, int fd, const char *why)
{
  char response[256];
  char scratch[1024];
  int n;

  n = g_snprintf (response, sizeof response,
                  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s",
                  strlen (why), why);
  /* what already arrived is dropped, not parsed: a close with unread input
   * would reset the connection before the client reads the 503 */
  for (int i = 0; i < 16 && recv (fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0; i++)
    ;
  if (send (fd, response, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    g_debug ("refusing a connection: %s", g_strerror (errno));
  close (fd);
  self->log_refused++;
  server_log_counters (self);
}

static void
admit (Listener *l, int fd, const struct sockaddr_storage *ss)
{
  PunchSignalServer *self = l->server;
  g_autofree char *key = address_key (ss);
  guint from_addr = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_addr, key));
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketConnection) sc = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  Shard *shard;
  Conn *conn;

  if (self->shutting_down || g_hash_table_size (self->conns) >= self->config->max_connections)
    {
      self->refused_full++;
      refuse (self, fd, "punch-signal: too many connections, try again later\n");
      return;
    }
  if (from_addr >= self->config->max_connections_per_ip)
    {
      self->refused_addr++;
      refuse (self, fd, "punch-signal: too many connections from your address\n");
      return;
    }
  shard = shard_pick (self, LANE_HANDSHAKE);
  if (shard == NULL) /* no descriptor for a new shard's context */
    {
      self->refused_full++;
      self->exhausted_at = g_get_monotonic_time ();
      self->exhausted_reason = g_strerror (EMFILE);
      self->exhausted_count++;
      self->log_exhausted++;
      refuse (self, fd, "punch-signal: out of resources, try again later\n");
      return;
    }
  sock = g_socket_new_from_fd (fd, &error);
  if (sock == NULL)
    {
      g_debug ("accepted socket: %s", error->message);
      close (fd);
      return;
    }
  g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  /* a fixed kernel send buffer (Linux doubles it: 128 KiB) instead of one
   * that grows to tcp_wmem's 4 MiB for a peer that does not read: signaling
   * needs little, and --max-queue then bounds what such a peer costs */
  g_socket_set_option (sock, SOL_SOCKET, SO_SNDBUF, SEND_BUFFER, NULL);
  sc = g_socket_connection_factory_create_connection (sock);
  local = g_socket_get_local_address (sock, NULL);
  if (self->tls)
    {
      stream = G_IO_STREAM (
          g_tls_server_connection_new (G_IO_STREAM (sc), self->config->tls_certificate, &error));
      if (stream == NULL)
        {
          g_warning ("cannot start TLS on a connection: %s", error->message);
          return; /* sock closes it */
        }
      g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (stream), FALSE);
    }
  else
    stream = G_IO_STREAM (g_object_ref (sc));
  if (local == NULL)
    local = g_socket_address_new_from_native ((gpointer)ss, sizeof *ss); /* never used for much */

  conn = g_new0 (Conn, 1);
  conn->server = self;
  conn->socket = sock;
  conn->fd = fd;
  conn->key = g_steal_pointer (&key);
  conn->shard = shard;
  conn->accepted_at = g_get_monotonic_time ();
  conn->remote = g_socket_address_new_from_native ((gpointer)ss, sizeof *ss);
  g_object_set_qdata (G_OBJECT (conn->remote), conn_quark (), conn);
  conn->link.data = conn;
  g_queue_push_tail_link (&self->handshakes, &conn->link);
  g_hash_table_add (self->conns, conn);
  g_hash_table_insert (self->per_addr, g_strdup (conn->key), GUINT_TO_POINTER (from_addr + 1));
  shard->n_peers++;
  g_object_weak_ref (G_OBJECT (sock), on_socket_gone, conn);
  arm_handshake_timer (self);

  /* libsoup attaches the connection's sources to the thread-default context */
  g_main_context_push_thread_default (shard->ctx);
  soup_server_accept_iostream (shard->soup, stream, local, conn->remote, NULL);
  g_main_context_pop_thread_default (shard->ctx);
  /* run once after this batch of accepts, not once per connection */
  shard_schedule (shard);
}

static gboolean on_listener_ready (gint fd, GIOCondition condition, gpointer user_data);

static void
listener_watch (Listener *l)
{
  l->source = g_unix_fd_source_new (g_socket_get_fd (l->socket), G_IO_IN);
  g_source_set_priority (l->source, LISTENER_PRIORITY);
  g_source_set_callback (l->source, G_SOURCE_FUNC (on_listener_ready), l, NULL);
  g_source_attach (l->source, l->server->context);
}

static gboolean
on_resume (gpointer user_data)
{
  Listener *l = user_data;

  g_clear_pointer (&l->resume, g_source_unref);
  listener_watch (l);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors: stop watching the listening socket (level-triggered,
 * it would wake us at once, forever) and look again after a back-off. */
static void
back_off (Listener *l, int errsv)
{
  PunchSignalServer *self = l->server;

  self->exhausted_at = g_get_monotonic_time ();
  self->exhausted_reason = g_strerror (errsv);
  self->exhausted_count++;
  self->log_exhausted++;
  server_log_counters (self);
  l->backoff_ms = l->backoff_ms ? MIN (l->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
  g_source_destroy (l->source);
  g_clear_pointer (&l->source, g_source_unref);
  l->resume = g_timeout_source_new (l->backoff_ms);
  g_source_set_priority (l->resume, LISTENER_PRIORITY);
  g_source_set_callback (l->resume, on_resume, l, NULL);
  g_source_attach (l->resume, self->context);
}

static gboolean
on_listener_ready (gint fd, GIOCondition condition, gpointer user_data)
{
  Listener *l = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      struct sockaddr_storage ss = { 0 };
      socklen_t len = sizeof ss;
      int cfd = accept4 (fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (cfd >= 0)
        {
          l->backoff_ms = 0;
          admit (l, cfd, &ss);
          continue;
        }
      switch (errno)
        {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
          return G_SOURCE_CONTINUE;
        case EINTR:
        case ECONNABORTED:
        case EPROTO: continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          back_off (l, errno);
          return G_SOURCE_CONTINUE; /* the source is destroyed already */
        default:
          g_warning ("accept: %s", g_strerror (errno));
          back_off (l, errno);
          return G_SOURCE_CONTINUE;
        }
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the listeners ---- */

static void
listener_free (Listener *l)
{
  if (l->source)
    g_source_destroy (l->source);
  g_clear_pointer (&l->source, g_source_unref);
  if (l->resume)
    g_source_destroy (l->resume);
  g_clear_pointer (&l->resume, g_source_unref);
  g_socket_close (l->socket, NULL);
  g_object_unref (l->socket);
  g_free (l);
}

void
server_listeners_init (PunchSignalServer *self)
{
  self->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify)listener_free);
  self->conns = g_hash_table_new_full (NULL, NULL, (GDestroyNotify)conn_free, NULL);
  self->per_addr = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->handshakes);
  g_mutex_init (&self->released_lock);
  self->released = g_ptr_array_new ();
}

gboolean
server_listen_socket (PunchSignalServer *self, GSocket *socket, GError **error)
{
  Listener *l = g_new0 (Listener, 1);

  l->server = self;
  l->socket = g_object_ref (socket);
  g_ptr_array_add (self->listeners, l);
  listener_watch (l);
  return TRUE;
}

GSocketAddress *
server_first_listener_address (PunchSignalServer *self)
{
  if (self->listeners == NULL || self->listeners->len == 0)
    return NULL;
  return g_socket_get_local_address (((Listener *)self->listeners->pdata[0])->socket, NULL);
}

void
server_listeners_stop (PunchSignalServer *self)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = self->listeners->pdata[i];
      if (l->source)
        g_source_destroy (l->source);
      g_clear_pointer (&l->source, g_source_unref);
      if (l->resume)
        g_source_destroy (l->resume);
      g_clear_pointer (&l->resume, g_source_unref);
    }
}

/* In dispose, after SoupServer let go of its connections and the peers are
 * freed: what is left are sockets still being closed somewhere. */
void
server_listeners_clear (PunchSignalServer *self)
{
  GHashTableIter iter;
  Conn *conn;

  if (self->listeners == NULL)
    return;
  g_ptr_array_set_size (self->listeners, 0);
  if (self->handshake_source)
    g_source_destroy (self->handshake_source);
  g_clear_pointer (&self->handshake_source, g_source_unref);
  g_mutex_lock (&self->released_lock);
  if (self->released_source)
    g_source_destroy (self->released_source);
  g_clear_pointer (&self->released_source, g_source_unref);
  /* released but not counted down yet: their socket is NULL already */
  g_ptr_array_set_size (self->released, 0);
  g_mutex_unlock (&self->released_lock);
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *)&conn, NULL))
    if (conn->socket)
      g_object_weak_unref (G_OBJECT (conn->socket), on_socket_gone, conn);
  g_queue_init (&self->handshakes);
  g_hash_table_remove_all (self->conns);
  g_hash_table_remove_all (self->per_addr);
}
