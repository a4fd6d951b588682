/* punch-tcp-punch.c: a TCP connection through two NATs by simultaneous open
 *
 * One listening socket and at most one connect attempt at a time, all bound
 * to the same local port: two sockets cannot connect from one port to the
 * same peer at once (the four-tuple would be taken), so an attempt that gets
 * no answer is closed (a socket in SYN-SENT goes without sending anything)
 * and made again. A tick every interval starts the next attempt; a deadline
 * ends the whole thing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-tcp-punch-private.h"
#include "punch-tcp-socket-private.h"
#include "punch-error.h"

#include <string.h>

typedef struct
{
  GTask *task; /* not a reference: the task owns this */
  GMainContext *context;
  PunchStunAddress peer;
  guint interval_ms, window_ms;
  gint64 start;
  GSocket *listener;
  GSource *listen_source;
  GSocket *attempt;
  GSource *attempt_source;
  gint64 attempt_start;
  GSource *tick;
  GSource *deadline;
  GSource *cancel_source;
  PunchTcpPunchStats stats;
  char *last_error;
  gboolean finished;
} Punch;

const char *
punch_tcp_punch_way_to_string (PunchTcpPunchWay way)
{
  switch (way)
    {
    case PUNCH_TCP_PUNCH_NONE: return "none";
    case PUNCH_TCP_PUNCH_CONNECTED: return "connected";
    case PUNCH_TCP_PUNCH_ACCEPTED: return "accepted";
    default: return "unknown";
    }
}

static void
drop_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
drop_attempt (Punch *p)
{
  drop_source (&p->attempt_source);
  if (p->attempt)
    g_socket_close (p->attempt, NULL);
  g_clear_object (&p->attempt);
}

/* Everything but the stats; safe to call twice. */
static void
stop (Punch *p)
{
  p->finished = TRUE;
  drop_attempt (p);
  drop_source (&p->listen_source);
  if (p->listener)
    g_socket_close (p->listener, NULL);
  g_clear_object (&p->listener);
  drop_source (&p->tick);
  drop_source (&p->deadline);
  drop_source (&p->cancel_source);
}

static void
punch_free (gpointer data)
{
  Punch *p = data;

  stop (p);
  g_free (p->last_error);
  g_main_context_unref (p->context);
  g_free (p);
}

/* The end: @sock is the connection (stolen), or NULL with @error (stolen). */
static void
end (Punch *p, GSocket *sock, PunchTcpPunchWay way, GError *error)
{
  GTask *task = p->task;

  if (p->finished)
    {
      g_clear_object (&sock);
      g_clear_error (&error);
      return;
    }
  if (sock == p->attempt)
    {
      /* the winner (@sock is a reference of its own): keep it out of drop_attempt() */
      drop_source (&p->attempt_source);
      g_clear_object (&p->attempt);
    }
  stop (p);
  p->stats.elapsed_ms = punch_tcp_ms_since (p->start);
  if (sock)
    {
      p->stats.way = way;
      punch_tcp_socket_remote (sock, &p->stats.peer);
      g_task_return_pointer (task, g_socket_connection_factory_create_connection (sock),
                             g_object_unref);
      g_object_unref (sock);
    }
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean on_attempt (GSocket *sock, GIOCondition condition, gpointer user_data);

static void
attempt_failed (Punch *p, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    p->stats.refused++;
  else
    p->stats.failed++;
  g_free (p->last_error);
  p->last_error = g_strdup (error->message);
  drop_attempt (p);
}

static void
attempt_start (Punch *p)
{
  g_autoptr (GError) error = NULL;

  drop_attempt (p);
  p->attempt = punch_tcp_socket_new_bound (p->peer.family, p->stats.local.port, NULL, &error);
  if (p->attempt == NULL)
    {
      p->stats.failed++;
      g_free (p->last_error);
      p->last_error = g_strdup (error->message);
      return;
    }
  p->stats.attempts++;
  p->attempt_start = g_get_monotonic_time ();
  if (!punch_tcp_socket_connect_start (p->attempt, &p->peer, &error))
    {
      attempt_failed (p, error);
      return;
    }
  p->attempt_source = g_socket_create_source (p->attempt, G_IO_OUT, NULL);
  g_source_set_callback (p->attempt_source, G_SOURCE_FUNC (on_attempt), p, NULL);
  g_source_attach (p->attempt_source, p->context);
}

static gboolean
on_attempt (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  Punch *p = user_data;
  g_autoptr (GError) error = NULL;

  if (g_socket_check_connect_result (sock, &error))
    {
      end (p, g_object_ref (sock), PUNCH_TCP_PUNCH_CONNECTED, NULL);
      return G_SOURCE_REMOVE;
    }
  attempt_failed (p, error); /* the next tick tries again */
  return G_SOURCE_REMOVE;
}

static gboolean
on_tick (gpointer user_data)
{
  Punch *p = user_data;
  gint64 resend_us = (gint64)p->interval_ms * PUNCH_TCP_PUNCH_RESEND_INTERVALS * 1000;

  if (p->attempt == NULL || g_get_monotonic_time () - p->attempt_start >= resend_us)
    attempt_start (p);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_accept (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  Punch *p = user_data;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) conn = g_socket_accept (sock, NULL, &error);
      PunchStunAddress from;

      if (conn == NULL)
        break; /* would block, or an aborted connection: keep listening */
      punch_tcp_socket_remote (conn, &from);
      if (punch_stun_address_same_ip (&from, &p->peer))
        {
          end (p, g_steal_pointer (&conn), PUNCH_TCP_PUNCH_ACCEPTED, NULL);
          return G_SOURCE_REMOVE;
        }
      p->stats.strays++;
      g_socket_close (conn, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  Punch *p = user_data;
  g_autofree char *peer = punch_stun_address_to_string (&p->peer);
  guint answered = p->stats.refused + p->stats.failed;
  gboolean all_refused = p->stats.attempts > 0 && answered >= p->stats.attempts;

  end (p, NULL, PUNCH_TCP_PUNCH_NONE,
       g_error_new (PUNCH_ERROR, all_refused ? PUNCH_ERROR_UNREACHABLE : PUNCH_ERROR_TIMEOUT,
                    "no TCP connection with %s from port %u within %u ms: %u attempts, %u "
                    "refused (RST), %u failed otherwise%s%s",
                    peer, p->stats.local.port, p->window_ms, p->stats.attempts, p->stats.refused,
                    p->stats.failed, p->last_error ? "; last error: " : "",
                    p->last_error ? p->last_error : ""));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  end (user_data, NULL, PUNCH_TCP_PUNCH_NONE,
       g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "TCP hole punching cancelled"));
  return G_SOURCE_REMOVE;
}

static GSource *
attach_timeout (Punch *p, guint ms, GSourceFunc func)
{
  GSource *s = g_timeout_source_new (ms);

  g_source_set_callback (s, func, p, NULL);
  g_source_attach (s, p->context);
  return s;
}

void
punch_tcp_punch_async (guint16 local_port, const PunchStunAddress *peer, guint interval_ms,
                       guint window_ms, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  GTask *task;
  Punch *p;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (local_port != 0);
  g_return_if_fail (peer != NULL && (peer->family == 4 || peer->family == 6) && peer->port != 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_tcp_punch_async);
  p = g_new0 (Punch, 1);
  p->task = task;
  p->context = g_main_context_ref_thread_default ();
  p->peer = *peer;
  p->interval_ms = interval_ms ? interval_ms : PUNCH_TCP_PUNCH_INTERVAL_MS;
  p->window_ms = window_ms ? window_ms : PUNCH_TCP_PUNCH_WINDOW_MS;
  p->start = g_get_monotonic_time ();
  g_task_set_task_data (task, p, punch_free);

  p->listener = punch_tcp_socket_new_bound (peer->family, local_port, &p->stats.local, &error);
  if (p->listener == NULL || !g_socket_listen (p->listener, &error))
    {
      if (error->domain != PUNCH_ERROR)
        {
          g_autoptr (GError) e = g_steal_pointer (&error);
          g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot listen on TCP port %u: %s",
                       local_port, e->message);
        }
      p->finished = TRUE;
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  p->listen_source = g_socket_create_source (p->listener, G_IO_IN, NULL);
  g_source_set_callback (p->listen_source, G_SOURCE_FUNC (on_accept), p, NULL);
  g_source_attach (p->listen_source, p->context);

  p->deadline = attach_timeout (p, p->window_ms, on_deadline);
  p->tick = attach_timeout (p, p->interval_ms, on_tick);
  if (cancellable)
    {
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancel_source, G_SOURCE_FUNC (on_cancelled), p, NULL);
      g_source_attach (p->cancel_source, p->context);
    }
  attempt_start (p); /* the first SYN now; it cannot end the task */
}

GSocketConnection *
punch_tcp_punch_finish (GAsyncResult *result, PunchTcpPunchStats *stats, GError **error)
{
  Punch *p;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_tcp_punch_async, NULL);
  p = g_task_get_task_data (G_TASK (result));
  if (stats)
    *stats = p->stats;
  return g_task_propagate_pointer (G_TASK (result), error);
}
