/* punch-nat-check.c: the NAT check, phase by phase
 *
 * Phases, in this order because an address-restricted NAT opens to every
 * address the host has sent to (see docs/natlab.md):
 *
 *   0. Resolve every server name (GResolver, asynchronously).
 *   1. Binding to the first server only, from five fresh sockets: F
 *      (filtering), M (mapping) and three more for the port allocation.
 *   2. From F, CHANGE-REQUEST "change IP and port" and "change port" (RFC
 *      5780, or RFC 3489 toward a classic server's CHANGED-ADDRESS), and the
 *      hairpin probe (socket H to M's public address).
 *   3. From M, the mapping tests II and III and a Binding to every other
 *      server; then TCP to every server, then the TCP mapping of one port
 *      toward two of them (punch-tcp-mapping.c: can TCP hole punching work?).
 *   4. An Allocate to every TURN server (libpunch's diagnosis prober).
 *   5. Optionally, the mapping lifetime.
 *
 * Then the classifier (punch-check-classify.c) turns the observations into
 * the verdict. Everything is a source on the caller's thread-default
 * context; see punch-nat-check-private.h for the files.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"
#include "punch-error.h"

#include <string.h>

#define DEFAULT_TIMEOUT_MS 15000
#define N_PORT_SOCKETS 3
enum
{
  SOCK_F,
  SOCK_M,
  SOCK_P1,
  SOCK_H = SOCK_P1 + N_PORT_SOCKETS,
  N_SOCKS
};

typedef struct
{
  PunchNatCheck base;
  GSource *user_cancel_source;
  PunchNatCheckServer *s1;
  GSocket *socks[N_SOCKS];
  PunchStunAddress bound[N_SOCKS];
  PunchCheckProbe port_probe[N_PORT_SOCKETS];
  gboolean other_usable;
} Check;

static void
check_free (Check *c)
{
  PunchNatCheck *check = &c->base;

  punch_nat_clear_source (&c->user_cancel_source);
  for (int i = 0; i < N_SOCKS; i++)
    g_clear_object (&c->socks[i]);
  g_clear_object (&check->cancel);
  g_clear_pointer (&check->report, punch_nat_check_report_free);
  g_clear_pointer (&check->stun, g_ptr_array_unref);
  g_clear_pointer (&check->turn, g_ptr_array_unref);
  g_free (check->tls_ca_file);
  if (check->progress_destroy)
    check->progress_destroy (check->progress_data);
  g_main_context_unref (check->context);
  g_free (c);
}

void
punch_nat_check_progress (PunchNatCheck *check, const char *step, const char *detail)
{
  if (check->progress && !check->finished)
    check->progress (step, detail, check->progress_data);
}

void
punch_nat_check_op_done (PunchNatCheck *check)
{
  g_return_if_fail (check->pending > 0);
  if (--check->pending == 0 && !check->finished && check->phase_done)
    {
      void (*next) (gpointer) = check->phase_done;

      check->phase_done = NULL;
      next (check);
    }
}

static gboolean
on_ops_timeout (gpointer user_data)
{
  PunchNatOps *ops = user_data;

  g_clear_pointer (&ops->timer, g_source_unref);
  g_cancellable_cancel (ops->cancel);
  return G_SOURCE_REMOVE;
}

static gboolean
on_ops_check_cancelled (GCancellable *cancellable, gpointer user_data)
{
  PunchNatOps *ops = user_data;

  (void)cancellable;
  g_clear_pointer (&ops->check_cancel_source, g_source_unref);
  g_cancellable_cancel (ops->cancel);
  return G_SOURCE_REMOVE;
}

PunchNatOps *
punch_nat_ops_new (PunchNatCheck *check, gint64 end)
{
  PunchNatOps *ops = g_new0 (PunchNatOps, 1);
  gint64 ms = (end - g_get_monotonic_time () + 999) / 1000;

  ops->check = check;
  ops->task = g_object_ref (check->task);
  ops->cancel = g_cancellable_new ();
  ops->left = 1;
  check->pending++;
  ops->timer = g_timeout_source_new ((guint)CLAMP (ms, 0, G_MAXINT));
  g_source_set_callback (ops->timer, on_ops_timeout, ops, NULL);
  g_source_attach (ops->timer, check->context);
  ops->check_cancel_source = g_cancellable_source_new (check->cancel);
  g_source_set_callback (ops->check_cancel_source, G_SOURCE_FUNC (on_ops_check_cancelled), ops,
                         NULL);
  g_source_attach (ops->check_cancel_source, check->context);
  return ops;
}

void
punch_nat_ops_add (PunchNatOps *ops)
{
  ops->left++;
}

void
punch_nat_ops_done (PunchNatOps *ops)
{
  PunchNatCheck *check = ops->check;
  GTask *task = ops->task;

  if (--ops->left > 0)
    return;
  punch_nat_clear_source (&ops->timer);
  punch_nat_clear_source (&ops->check_cancel_source);
  g_object_unref (ops->cancel);
  g_free (ops);
  if (!check->finished)
    punch_nat_check_op_done (check);
  g_object_unref (task); /* may free the check */
}

/* Runs @start with one extra pending count, so that @next runs once, after
 * @start's operations are all done, even when it started none. */
static void
run_ops (PunchNatCheck *check, void (*start) (PunchNatCheck *), void (*next) (gpointer))
{
  check->phase_done = next;
  check->pending++;
  g_main_context_push_thread_default (check->context);
  start (check);
  g_main_context_pop_thread_default (check->context);
  punch_nat_check_op_done (check);
}

static void
finish_error (Check *c, GError *error)
{
  PunchNatCheck *check = &c->base;
  GTask *task = check->task;

  if (check->finished)
    {
      g_error_free (error);
      return;
    }
  check->finished = TRUE;
  g_cancellable_cancel (check->cancel);
  g_task_return_error (task, error);
  g_object_unref (task); /* the reference the check's phases held */
}

static void
finish_ok (Check *c)
{
  PunchNatCheck *check = &c->base;
  PunchNatCheckReport *rep = check->report;
  GTask *task = check->task;

  if (check->finished)
    return;
  check->finished = TRUE;
  punch_check_classify (&rep->obs, &rep->result);
  rep->elapsed_ms = (g_get_monotonic_time () - check->start) / 1000.0;
  g_cancellable_cancel (check->cancel);
  g_task_return_pointer (task, g_steal_pointer (&check->report),
                         (GDestroyNotify)punch_nat_check_report_free);
  g_object_unref (task);
}

static gboolean
on_user_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Check *c = user_data;
  GError *error = NULL;

  g_clear_pointer (&c->user_cancel_source, g_source_unref);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  finish_error (c, error);
  return G_SOURCE_REMOVE;
}

/* ---- 5: lifetime, and the end --------------------------------------------- */

static void
on_all_done (gpointer data)
{
  finish_ok (data);
}

static void
start_lifetime (PunchNatCheck *check)
{
  Check *c = (Check *)check;

  check->report->lifetime_tested = TRUE;
  if (c->s1 && c->s1->udp.status == PUNCH_CHECK_PROBE_ANSWERED)
    {
      check->pending++;
      punch_nat_lifetime_start (check, c->s1);
    }
  else
    check->report->lifetime_reason = g_strdup ("the first server did not answer over UDP");
}

static void
phase_turn_done (gpointer data)
{
  PunchNatCheck *check = data;

  if (check->lifetime_max_s > 0)
    run_ops (check, start_lifetime, on_all_done);
  else
    finish_ok ((Check *)check);
}

/* ---- 3b, 4: TCP, TURN -------------------------------------------------------- */

static void
phase_tcp_mapping_done (gpointer data)
{
  run_ops (data, punch_nat_turn_probe_all, phase_turn_done);
}

static void
phase_tcp_done (gpointer data)
{
  PunchNatCheck *check = data;

  check->report->obs.udp_blocked_hint = check->report->tcp_any;
  run_ops (check, punch_nat_tcp_mapping_start, phase_tcp_mapping_done);
}

static void
start_tcp (PunchNatCheck *check)
{
  if (check->report->servers->len > 0)
    {
      punch_nat_check_progress (check, "tcp", "every server");
      punch_nat_tcp_probe_all (check);
    }
}

static void
phase_udp_over (Check *c)
{
  run_ops (&c->base, start_tcp, phase_tcp_done);
}

/* ---- 3: mapping tests II and III, every other server -------------------------- */

static void
phase3_done (gpointer data)
{
  Check *c = data;
  PunchNatCheckReport *rep = c->base.report;
  PunchCheckObservations *obs = &rep->obs;

  if (c->base.finished)
    return;
  /* what the mapping socket saw, server by server */
  obs->n_servers = 0;
  for (guint i = 0; i < rep->servers->len; i++)
    {
      PunchNatCheckServer *s = rep->servers->pdata[i];

      if (s->resolved && s->addr.family == c->s1->addr.family
          && obs->n_servers < PUNCH_CHECK_MAX_SERVERS)
        {
          obs->server_addr[obs->n_servers] = s->addr;
          obs->servers[obs->n_servers++] = s->udp;
        }
    }
  phase_udp_over (c);
}

static void
phase2_done (gpointer data)
{
  Check *c = data;
  PunchNatCheck *check = &c->base;
  PunchNatCheckReport *rep = check->report;
  PunchCheckObservations *obs = &rep->obs;
  g_autoptr (PunchNatUdpRun) run = NULL;

  if (check->finished)
    return;
  run = punch_nat_udp_run_new (check, check->deadline);
  if (c->other_usable)
    {
      PunchStunAddress d2 = obs->other, d3 = obs->other;

      d2.port = c->s1->addr.port;
      punch_nat_check_progress (check, "mapping",
                                obs->other_rfc3489 ? "RFC 3489 tests II and III"
                                                   : "RFC 5780 tests II and III");
      punch_nat_udp_run_add (run, c->socks[SOCK_M], &d2, NULL, 0, &obs->map2, NULL);
      punch_nat_udp_run_add (run, c->socks[SOCK_M], &d3, NULL, 0, &obs->map3, NULL);
    }
  for (guint i = 0; i < rep->servers->len; i++)
    {
      PunchNatCheckServer *s = rep->servers->pdata[i];

      if (s == c->s1 || !s->resolved || s->addr.family != c->s1->addr.family)
        continue;
      punch_nat_check_progress (check, "udp", s->uri);
      punch_nat_udp_run_add (run, c->socks[SOCK_M], &s->addr, NULL, 0, &s->udp, s);
    }
  punch_nat_udp_run_start (g_steal_pointer (&run), phase3_done, c);
}

/* ---- 2: filtering and hairpinning --------------------------------------------- */

static void
phase1_done (gpointer data)
{
  Check *c = data;
  PunchNatCheck *check = &c->base;
  PunchCheckObservations *obs = &check->report->obs;
  PunchNatCheckServer *s1 = c->s1;
  const PunchCheckProbe *samples[2 + N_PORT_SOCKETS] = { &obs->filt1, &s1->udp };
  g_autoptr (PunchNatUdpRun) run = NULL;

  if (check->finished)
    return;
  obs->map1 = s1->udp;
  /* port samples in the order the sockets were opened: F, M, P1..P3 */
  for (int i = 0; i < N_PORT_SOCKETS; i++)
    samples[2 + i] = &c->port_probe[i];
  for (int i = 0; i < 2 + N_PORT_SOCKETS; i++)
    if (samples[i]->status == PUNCH_CHECK_PROBE_ANSWERED)
      {
        obs->port_local[obs->n_port_samples] = c->bound[i].port;
        obs->port_mapped[obs->n_port_samples] = samples[i]->mapped.port;
        obs->n_port_samples++;
      }
  obs->other = s1->other_address;
  obs->other_rfc3489 = s1->family == PUNCH_STUN_FAMILY_RFC3489;
  c->other_usable
      = obs->other.family == s1->addr.family && obs->filt1.status == PUNCH_CHECK_PROBE_ANSWERED
        && !punch_stun_address_same_ip (&obs->other, &s1->addr) && obs->other.port != s1->addr.port;

  run = punch_nat_udp_run_new (check, check->deadline);
  if (c->other_usable)
    {
      PunchStunAddress change_port = s1->addr;

      change_port.port = obs->other.port;
      punch_nat_check_progress (check, "filtering",
                                obs->other_rfc3489 ? "RFC 3489 CHANGE-REQUEST"
                                                   : "RFC 5780 CHANGE-REQUEST");
      punch_nat_udp_run_add (run, c->socks[SOCK_F], &s1->addr, &obs->other,
                             PUNCH_STUN_CHANGE_IP | PUNCH_STUN_CHANGE_PORT, &obs->filt2, NULL);
      punch_nat_udp_run_add (run, c->socks[SOCK_F], &s1->addr, &change_port, PUNCH_STUN_CHANGE_PORT,
                             &obs->filt3, NULL);
    }
  if (obs->map1.status == PUNCH_CHECK_PROBE_ANSWERED)
    {
      PunchNatTx *tx;

      punch_nat_check_progress (check, "hairpin", "to this host's own public address");
      tx = punch_nat_udp_run_add (run, c->socks[SOCK_H], &obs->map1.mapped, NULL, 0, &obs->hairpin,
                                  NULL);
      punch_nat_tx_set_hairpin (tx, c->socks[SOCK_M]);
    }
  punch_nat_udp_run_start (g_steal_pointer (&run), phase2_done, c);
}

/* ---- 1: the first server only -------------------------------------------------- */

static void
phase1 (Check *c)
{
  PunchNatCheck *check = &c->base;
  PunchCheckObservations *obs = &check->report->obs;
  PunchNatCheckServer *s1 = c->s1;
  g_autoptr (PunchNatUdpRun) run = NULL;
  GError *error = NULL;

  for (int i = 0; i < N_SOCKS; i++)
    if ((c->socks[i] = punch_nat_udp_socket (s1->addr.family, &c->bound[i], &error)) == NULL)
      {
        finish_error (c, error);
        return;
      }
  punch_nat_local_ip_toward (&s1->addr, &obs->local);
  obs->local.port = c->bound[SOCK_M].port;

  punch_nat_check_progress (check, "udp", s1->uri);
  run = punch_nat_udp_run_new (check, check->deadline);
  punch_nat_udp_run_add (run, c->socks[SOCK_F], &s1->addr, NULL, 0, &obs->filt1, NULL);
  punch_nat_udp_run_add (run, c->socks[SOCK_M], &s1->addr, NULL, 0, &s1->udp, s1);
  for (int i = 0; i < N_PORT_SOCKETS; i++)
    punch_nat_udp_run_add (run, c->socks[SOCK_P1 + i], &s1->addr, NULL, 0, &c->port_probe[i], NULL);
  punch_nat_udp_run_start (g_steal_pointer (&run), phase1_done, c);
}

/* ---- 0: names --------------------------------------------------------------- */

typedef struct
{
  Check *c;
  PunchNatCheckServer *server;
} Resolve;

static gboolean
pick_address (GList *list, int family, PunchStunAddress *out)
{
  for (GList *l = list; l; l = l->next)
    {
      GInetAddress *ia = l->data;
      int f = g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;

      if (family && f != family)
        continue;
      out->family = f;
      memcpy (out->addr, g_inet_address_to_bytes (ia), g_inet_address_get_native_size (ia));
      return TRUE;
    }
  return FALSE;
}

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Resolve *r = user_data;
  PunchNatCheck *check = &r->c->base;
  g_autoptr (GError) error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  GTask *task = check->task; /* the reference taken for this lookup */

  if (!check->finished)
    {
      PunchNatCheckServer *s = r->server;
      guint16 port = s->addr.port;

      if (list == NULL)
        s->resolve_error = g_strdup_printf ("cannot resolve %s: %s", s->uri, error->message);
      else if (!pick_address (list, check->family, &s->addr))
        s->resolve_error = g_strdup_printf ("%s has no IPv%d address", s->uri, check->family);
      else
        s->resolved = TRUE;
      s->addr.port = port;
      punch_nat_check_op_done (check);
    }
  g_resolver_free_addresses (list);
  g_free (r);
  g_object_unref (task); /* may free the check */
}

static void
start_resolve (PunchNatCheck *check)
{
  Check *c = (Check *)check;
  g_autoptr (GResolver) resolver = g_resolver_get_default ();

  for (guint i = 0; i < check->stun->len; i++)
    {
      const PunchIceServer *is = check->stun->pdata[i];
      PunchNatCheckServer *s = g_new0 (PunchNatCheckServer, 1);
      g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (is->host);

      s->uri = punch_ice_server_to_uri (is);
      s->udp.status = PUNCH_CHECK_PROBE_NOT_RUN;
      s->addr.port = is->port;
      g_ptr_array_add (check->report->servers, s);
      if (literal)
        {
          GList one = { .data = literal };

          if (pick_address (&one, check->family, &s->addr))
            s->resolved = TRUE;
          else
            s->resolve_error
                = g_strdup_printf ("%s is not an IPv%d address", is->host, check->family);
          continue;
        }
      {
        Resolve *r = g_new0 (Resolve, 1);

        r->c = c;
        r->server = s;
        check->pending++;
        g_object_ref (check->task);
        punch_nat_check_progress (check, "resolve", is->host);
        g_resolver_lookup_by_name_async (resolver, is->host, check->cancel, on_resolved, r);
      }
    }
}

static void
phase_resolve_done (gpointer data)
{
  Check *c = data;
  GPtrArray *servers = c->base.report->servers;

  /* the same server twice (by address) is asked once */
  for (guint i = 0; i < servers->len; i++)
    {
      PunchNatCheckServer *s = servers->pdata[i];
      gboolean dup = FALSE;

      for (guint j = 0; j < i && s->resolved && !dup; j++)
        {
          PunchNatCheckServer *o = servers->pdata[j];
          dup = o->resolved && punch_stun_address_equal (&o->addr, &s->addr);
        }
      if (dup)
        g_ptr_array_remove_index (servers, i--);
    }
  for (guint i = 0; i < servers->len && c->s1 == NULL; i++)
    if (((PunchNatCheckServer *)servers->pdata[i])->resolved)
      c->s1 = servers->pdata[i];
  if (c->s1)
    phase1 (c);
  else
    phase_udp_over (c);
}

/* ---- the API ---------------------------------------------------------------- */

static gboolean
split_servers (PunchNatCheck *check, const PunchConfig *config, GError **error)
{
  check->stun = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  check->turn = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  for (guint i = 0; config->ice_servers && i < config->ice_servers->len; i++)
    {
      const PunchIceServer *s = config->ice_servers->pdata[i];

      if (s->kind == PUNCH_ICE_SERVER_STUN)
        g_ptr_array_add (check->stun, punch_ice_server_copy (s));
      else
        g_ptr_array_add (check->turn, punch_ice_server_copy (s));
    }
  if (check->stun->len + check->turn->len == 0)
    return g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                        "no STUN or TURN server to ask"),
           FALSE;
  if (check->stun->len + check->turn->len > PUNCH_NAT_CHECK_MAX_SERVERS)
    return g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                        "at most %d servers, not %u", PUNCH_NAT_CHECK_MAX_SERVERS,
                        check->stun->len + check->turn->len),
           FALSE;
  /* a turn: server answers Binding on its UDP port too */
  for (guint i = 0; i < check->turn->len; i++)
    {
      const PunchIceServer *t = check->turn->pdata[i];

      if (t->kind == PUNCH_ICE_SERVER_TURN)
        {
          PunchIceServer *as_stun = punch_ice_server_copy (t);

          as_stun->kind = PUNCH_ICE_SERVER_STUN;
          as_stun->transport = PUNCH_TRANSPORT_UDP;
          g_ptr_array_add (check->stun, as_stun);
        }
    }
  if (!config->ipv4 && !config->ipv6)
    return g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                        "neither IPv4 nor IPv6 is allowed"),
           FALSE;
  check->family = config->ipv4 && config->ipv6 ? 0 : config->ipv4 ? 4 : 6;
  return TRUE;
}

void
punch_nat_check_async (const PunchConfig *config, guint timeout_ms, guint lifetime_max_s,
                       PunchNatCheckProgressFunc progress, gpointer progress_data,
                       GDestroyNotify progress_destroy, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Check *c;
  PunchNatCheck *check;
  GError *error = NULL;

  g_return_if_fail (config != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_nat_check_async);
  c = g_new0 (Check, 1);
  check = &c->base;
  check->task = task;
  check->context = g_main_context_ref_thread_default ();
  check->cancel = g_cancellable_new ();
  check->report = punch_nat_check_report_new ();
  check->tls_ca_file = g_strdup (config->tls_ca_file);
  check->start = g_get_monotonic_time ();
  check->deadline = check->start + (gint64)(timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS) * 1000;
  check->lifetime_max_s = lifetime_max_s;
  check->progress = progress;
  check->progress_data = progress_data;
  check->progress_destroy = progress_destroy;
  g_task_set_task_data (task, c, (GDestroyNotify)check_free);

  g_object_ref (task); /* held by the phases until the check returns */
  if (!split_servers (check, config, &error))
    {
      finish_error (c, error);
      return;
    }
  if (cancellable)
    {
      c->user_cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (c->user_cancel_source, G_SOURCE_FUNC (on_user_cancelled), c, NULL);
      g_source_attach (c->user_cancel_source, check->context);
    }
  run_ops (check, start_resolve, phase_resolve_done);
}

PunchNatCheckReport *
punch_nat_check_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, punch_nat_check_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
