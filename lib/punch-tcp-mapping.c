/* punch-tcp-mapping.c: the NAT's mapping of one local TCP port
 *
 * One connection per STUN server, all bound to the same local port, all
 * under way at once; each sends one Binding request (with FINGERPRINT) and
 * reads messages framed by their STUN headers until the answer to that
 * request. Everything runs on the caller's thread-default GMainContext with
 * GSocket sources; one timer bounds the whole discovery.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-tcp-mapping-private.h"
#include "punch-tcp-socket-private.h"
#include "punch-error.h"
#include "punch-stun.h"

#include <string.h>

typedef struct _Discovery Discovery;

typedef struct
{
  Discovery *d;
  guint index;
  GSocket *sock;
  GSource *source;
  gboolean connected;
  gboolean done;
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  GByteArray *request;
  gsize sent;
  guint8 buf[PUNCH_STUN_MAX_SIZE];
  gsize have;
} Probe;

struct _Discovery
{
  GTask *task; /* not a reference: the task owns this */
  GMainContext *context;
  PunchTcpMapping *mapping;
  Probe *probes;
  guint n;
  guint left;
  guint timeout_ms;
  gint64 start;
  GSource *timer;
  GSource *cancel_source;
  gboolean finished;
};

const char *
punch_tcp_mapping_behaviour_to_string (PunchTcpMappingBehaviour behaviour)
{
  switch (behaviour)
    {
    case PUNCH_TCP_MAPPING_UNKNOWN: return "unknown";
    case PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT: return "endpoint-independent";
    case PUNCH_TCP_MAPPING_ENDPOINT_DEPENDENT: return "endpoint-dependent";
    default: return "unknown";
    }
}

static void
probe_clear (gpointer data)
{
  PunchTcpMappingProbe *p = data;

  g_free (p->error);
}

static PunchTcpMapping *
mapping_new (guint n)
{
  PunchTcpMapping *m = g_new0 (PunchTcpMapping, 1);

  m->probes = g_array_sized_new (FALSE, TRUE, sizeof (PunchTcpMappingProbe), n);
  g_array_set_clear_func (m->probes, probe_clear);
  g_array_set_size (m->probes, n);
  m->held = g_ptr_array_new_with_free_func (g_object_unref);
  return m;
}

void
punch_tcp_mapping_release (PunchTcpMapping *m)
{
  g_return_if_fail (m != NULL);
  for (guint i = 0; i < m->held->len; i++)
    g_socket_close (m->held->pdata[i], NULL);
  g_ptr_array_set_size (m->held, 0);
}

void
punch_tcp_mapping_free (PunchTcpMapping *m)
{
  if (m == NULL)
    return;
  punch_tcp_mapping_release (m);
  g_ptr_array_unref (m->held);
  g_array_unref (m->probes);
  g_free (m);
}

char *
punch_tcp_mapping_describe (const PunchTcpMapping *m)
{
  g_autofree char *addr = NULL;

  g_return_val_if_fail (m != NULL, NULL);
  addr = punch_stun_address_to_string (&m->mapped);
  if (m->port_preserved)
    return g_strdup_printf ("%s (%s, port kept)", addr,
                            punch_tcp_mapping_behaviour_to_string (m->behaviour));
  return g_strdup_printf ("%s (%s, port %u became %u)", addr,
                          punch_tcp_mapping_behaviour_to_string (m->behaviour), m->local.port,
                          m->mapped.port);
}

static PunchTcpMappingProbe *
result_of (Probe *p)
{
  return &g_array_index (p->d->mapping->probes, PunchTcpMappingProbe, p->index);
}

/* ---- the end -------------------------------------------------------------- */

static void
judge (PunchTcpMapping *m)
{
  const PunchTcpMappingProbe *first = NULL;

  m->n_answered = 0;
  m->behaviour = PUNCH_TCP_MAPPING_UNKNOWN;
  for (guint i = 0; i < m->probes->len; i++)
    {
      const PunchTcpMappingProbe *p = &g_array_index (m->probes, PunchTcpMappingProbe, i);

      if (p->mapped.family == 0)
        continue;
      m->n_answered++;
      if (first == NULL)
        {
          first = p;
          m->mapped = p->mapped;
          continue;
        }
      if (!punch_stun_address_equal (&p->mapped, &first->mapped))
        m->behaviour = PUNCH_TCP_MAPPING_ENDPOINT_DEPENDENT;
      else if (m->behaviour == PUNCH_TCP_MAPPING_UNKNOWN
               && !punch_stun_address_equal (&p->server, &first->server))
        m->behaviour = PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT;
    }
  m->port_preserved = first != NULL && m->mapped.port == m->local.port;
}

static void
discovery_free (gpointer data)
{
  Discovery *d = data;

  for (guint i = 0; i < d->n; i++)
    {
      Probe *p = &d->probes[i];

      if (p->source)
        g_source_destroy (p->source);
      g_clear_pointer (&p->source, g_source_unref);
      if (p->sock)
        g_socket_close (p->sock, NULL);
      g_clear_object (&p->sock);
      g_clear_pointer (&p->request, g_byte_array_unref);
    }
  g_free (d->probes);
  if (d->timer)
    g_source_destroy (d->timer);
  g_clear_pointer (&d->timer, g_source_unref);
  if (d->cancel_source)
    g_source_destroy (d->cancel_source);
  g_clear_pointer (&d->cancel_source, g_source_unref);
  punch_tcp_mapping_free (d->mapping);
  g_main_context_unref (d->context);
  g_free (d);
}

/* Ends the discovery: @cancelled, or every probe done, or the timer. */
static void
finish (Discovery *d, gboolean cancelled)
{
  GTask *task = d->task;
  PunchTcpMapping *m = d->mapping;
  gboolean timed_out = FALSE;
  g_autoptr (GString) why = NULL;

  if (d->finished)
    return;
  d->finished = TRUE;
  g_source_destroy (d->timer);
  if (d->cancel_source)
    g_source_destroy (d->cancel_source);

  for (guint i = 0; i < d->n; i++)
    {
      Probe *p = &d->probes[i];
      PunchTcpMappingProbe *r = result_of (p);

      if (p->done)
        continue;
      p->done = TRUE;
      timed_out = TRUE;
      if (p->source)
        g_source_destroy (p->source);
      g_clear_pointer (&p->source, g_source_unref);
      g_socket_close (p->sock, NULL);
      g_clear_object (&p->sock);
      r->error = g_strdup_printf (
          p->connected ? "no answer within %u ms" : "no connection within %u ms", d->timeout_ms);
    }

  if (cancelled)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "TCP mapping discovery cancelled");
      g_object_unref (task);
      return;
    }

  judge (m);
  if (m->n_answered > 0)
    {
      d->mapping = NULL;
      g_task_return_pointer (task, m, (GDestroyNotify)punch_tcp_mapping_free);
      g_object_unref (task);
      return;
    }

  why = g_string_new (NULL);
  for (guint i = 0; i < m->probes->len; i++)
    {
      const PunchTcpMappingProbe *r = &g_array_index (m->probes, PunchTcpMappingProbe, i);
      g_autofree char *server = punch_stun_address_to_string (&r->server);

      g_string_append_printf (why, "%s%s: %s", i ? "; " : "", server, r->error);
    }
  g_task_return_new_error (
      task, PUNCH_ERROR, timed_out ? PUNCH_ERROR_TIMEOUT : PUNCH_ERROR_UNREACHABLE,
      "no STUN server answered over TCP from port %u: %s", m->local.port, why->str);
  g_object_unref (task);
}

static void
probe_end (Probe *p, const char *error)
{
  Discovery *d = p->d;

  if (p->done)
    return;
  p->done = TRUE;
  if (p->source)
    g_source_destroy (p->source);
  g_clear_pointer (&p->source, g_source_unref);
  if (error)
    {
      result_of (p)->error = g_strdup (error);
      if (p->sock)
        g_socket_close (p->sock, NULL);
      g_clear_object (&p->sock);
    }
  else
    g_ptr_array_add (d->mapping->held, g_steal_pointer (&p->sock));
  if (--d->left == 0)
    finish (d, FALSE);
}

/* ---- one probe ------------------------------------------------------------ */

static gboolean on_socket (GSocket *sock, GIOCondition condition, gpointer user_data);

static void
wait_for (Probe *p, GIOCondition condition)
{
  if (p->source)
    g_source_destroy (p->source);
  g_clear_pointer (&p->source, g_source_unref);
  p->source = g_socket_create_source (p->sock, condition, NULL);
  g_source_set_callback (p->source, G_SOURCE_FUNC (on_socket), p, NULL);
  g_source_attach (p->source, p->d->context);
}

/* Returns TRUE when the probe ended. */
static gboolean
handle_message (Probe *p, gsize len)
{
  PunchTcpMappingProbe *r = result_of (p);
  g_autoptr (GError) error = NULL;
  g_autofree char *why = NULL;
  PunchStunAddress mapped;
  PunchStunAnswer answer;
  PunchStunMessage m;

  if (!punch_stun_message_parse (p->buf, len, &m, &error))
    {
      probe_end (p, error->message);
      return TRUE;
    }
  answer = punch_stun_binding_answer (&m, p->txid, &mapped, &why);
  if (answer == PUNCH_STUN_ANSWER_NONE)
    return FALSE; /* a request or an indication (our own sent back?): not an answer */
  if (answer != PUNCH_STUN_ANSWER_SUCCESS)
    {
      probe_end (p, why);
      return TRUE;
    }
  r->mapped = mapped;
  if (mapped.family == 0)
    {
      probe_end (p, "the answer has no (XOR-)MAPPED-ADDRESS");
      return TRUE;
    }
  r->answer_ms = punch_tcp_ms_since (p->d->start);
  probe_end (p, NULL);
  return TRUE;
}

static void
receive (Probe *p)
{
  g_autoptr (GError) error = NULL;
  gssize got
      = g_socket_receive (p->sock, (char *)p->buf + p->have, sizeof p->buf - p->have, NULL, &error);

  if (got < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        probe_end (p, error->message);
      return;
    }
  if (got == 0)
    {
      probe_end (p, "the server closed the connection without answering");
      return;
    }
  p->have += got;
  for (;;)
    {
      gssize need = punch_stun_stream_frame (p->buf, p->have, &error);

      if (need < 0)
        {
          probe_end (p, error->message);
          return;
        }
      if (need == 0)
        {
          if (p->have == sizeof p->buf) /* cannot happen: frames are at most the buffer */
            probe_end (p, "the answer is too long");
          return;
        }
      if (handle_message (p, need))
        return;
      memmove (p->buf, p->buf + need, p->have - need);
      p->have -= need;
    }
}

static void
send_request (Probe *p)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_socket_send (p->sock, (const char *)p->request->data + p->sent,
                            p->request->len - p->sent, NULL, &error);

  if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        wait_for (p, G_IO_OUT);
      else
        probe_end (p, error->message);
      return;
    }
  p->sent += n;
  if (p->sent < p->request->len)
    wait_for (p, G_IO_OUT);
  else
    wait_for (p, G_IO_IN);
}

static gboolean
on_socket (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  Probe *p = user_data;
  /* the discovery may end (and be freed with the task) inside this callback */
  G_GNUC_UNUSED g_autoptr (GTask) hold = g_object_ref (p->d->task);
  g_autoptr (GError) error = NULL;

  if (!p->connected)
    {
      if (!g_socket_check_connect_result (sock, &error))
        {
          probe_end (p, error->message);
          return G_SOURCE_REMOVE;
        }
      p->connected = TRUE;
      result_of (p)->connect_ms = punch_tcp_ms_since (p->d->start);
      punch_stun_random_txid (p->txid);
      p->request
          = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST, p->txid);
      punch_stun_message_add_fingerprint (p->request);
      send_request (p); /* replaces this source */
      return G_SOURCE_REMOVE;
    }
  if (p->sent < p->request->len)
    send_request (p);
  else
    {
      receive (p);
      if (!p->done)
        return G_SOURCE_CONTINUE;
    }
  return G_SOURCE_REMOVE;
}

/* ---- start ---------------------------------------------------------------- */

static gboolean
on_timeout (gpointer user_data)
{
  finish (user_data, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  finish (user_data, TRUE);
  return G_SOURCE_REMOVE;
}

void
punch_tcp_mapping_discover_async (const PunchStunAddress *servers, guint n_servers,
                                  guint16 local_port, guint timeout_ms, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Discovery *d;
  g_autoptr (GError) error = NULL;
  int family;

  g_return_if_fail (servers != NULL && n_servers > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_tcp_mapping_discover_async);
  family = servers[0].family;
  for (guint i = 0; i < n_servers; i++)
    if (servers[i].family != family || (family != 4 && family != 6))
      {
        g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                                 "the STUN servers for a TCP mapping must all be IPv4 or all "
                                 "IPv6");
        g_object_unref (task);
        return;
      }

  d = g_new0 (Discovery, 1);
  d->task = task;
  d->context = g_main_context_ref_thread_default ();
  d->n = n_servers;
  d->left = n_servers;
  d->timeout_ms = timeout_ms ? timeout_ms : PUNCH_TCP_MAPPING_TIMEOUT_MS;
  d->start = g_get_monotonic_time ();
  d->probes = g_new0 (Probe, n_servers);
  d->mapping = mapping_new (n_servers);
  g_task_set_task_data (task, d, discovery_free);

  /* the first socket picks the port when asked for 0; the others share it */
  for (guint i = 0; i < n_servers; i++)
    {
      Probe *p = &d->probes[i];
      PunchTcpMappingProbe *r;

      p->d = d;
      p->index = i;
      r = result_of (p);
      r->server = servers[i];
      r->connect_ms = r->answer_ms = -1;
      p->sock = punch_tcp_socket_new_bound (family, i == 0 ? local_port : d->mapping->local.port,
                                            i == 0 ? &d->mapping->local : NULL, &error);
      if (p->sock == NULL)
        {
          d->finished = TRUE;
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
    }

  d->timer = g_timeout_source_new (d->timeout_ms);
  g_source_set_callback (d->timer, on_timeout, d, NULL);
  g_source_attach (d->timer, d->context);
  if (cancellable)
    {
      d->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (d->cancel_source, G_SOURCE_FUNC (on_cancelled), d, NULL);
      g_source_attach (d->cancel_source, d->context);
    }

  /* a task reference for the probes, dropped by finish() */
  g_object_ref (task);
  for (guint i = 0; i < n_servers && !d->finished; i++)
    {
      Probe *p = &d->probes[i];

      if (!punch_tcp_socket_connect_start (p->sock, &servers[i], &error))
        {
          probe_end (p, error->message);
          g_clear_error (&error);
        }
      else
        wait_for (p, G_IO_OUT);
    }
  g_object_unref (task);
}

PunchTcpMapping *
punch_tcp_mapping_discover_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_tcp_mapping_discover_async,
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
