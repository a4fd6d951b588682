/* punch-nat-check-lifetime.c: how long an idle mapping lives
 *
 * Socket L asks the first server once; after a wait, socket X asks again
 * with RESPONSE-PORT (RFC 5780) set to L's public port, so the answer goes
 * to L's mapping from the address L has talked to. L hears it iff the
 * mapping (and its filter entry) outlived the silence. Waits grow 2, 5, 10,
 * 20, ... s; L is fresh for each; the waits are timers on the check's
 * context.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"

static const guint waits[] = { 2, 5, 10, 20, 40, 80, 160, 320 };

typedef struct
{
  PunchNatCheck *check;
  GTask *task; /* keeps @check alive */
  PunchNatCheckServer *first;
  gint64 end;
  gsize w;
  GSocket *l, *x;
  PunchCheckProbe pl, px;
  PunchNatTx *tx;
  GSource *timer;
  GSource *cancel_source;
} Lifetime;

static void step (Lifetime *lt);

static void
lifetime_end (Lifetime *lt, char *reason)
{
  PunchNatCheck *check = lt->check;
  PunchNatCheckReport *rep = check->report;

  punch_nat_clear_source (&lt->timer);
  punch_nat_clear_source (&lt->cancel_source);
  g_clear_object (&lt->l);
  g_clear_object (&lt->x);
  if (!check->finished)
    {
      g_free (rep->lifetime_reason);
      rep->lifetime_reason = reason;
      punch_nat_check_op_done (check);
    }
  else
    g_free (reason);
  g_object_unref (lt->task);
  g_free (lt);
}

static void
on_asked_again (gpointer user_data)
{
  Lifetime *lt = user_data;
  PunchNatCheckReport *rep = lt->check->report;
  guint wait_s = waits[lt->w];

  if (punch_nat_tx_answered_elsewhere (lt->tx))
    {
      lifetime_end (lt, g_strdup ("the first server ignores RESPONSE-PORT (RFC 5780), "
                                  "which the lifetime test needs"));
      return;
    }
  lt->tx = NULL;
  if (lt->px.status == PUNCH_CHECK_PROBE_ERROR)
    {
      lifetime_end (lt, g_strdup ("the first server refused RESPONSE-PORT (RFC 5780), "
                                  "which the lifetime test needs"));
      return;
    }
  if (lt->px.status != PUNCH_CHECK_PROBE_ANSWERED)
    {
      if (!rep->lifetime_measured)
        {
          lifetime_end (lt, g_strdup_printf ("no answer reached the mapping after %u s of "
                                             "silence: it lives shorter than that",
                                             wait_s));
          return;
        }
      rep->lifetime_max_s = wait_s;
      lifetime_end (lt, g_strdup_printf ("the mapping outlived %u s of silence but not %u s",
                                         rep->lifetime_min_s, wait_s));
      return;
    }
  rep->lifetime_measured = TRUE;
  rep->lifetime_min_s = wait_s;
  lt->w++;
  step (lt);
}

static gboolean
on_waited (gpointer user_data)
{
  Lifetime *lt = user_data;
  PunchNatCheckServer *s1 = lt->first;
  g_autoptr (PunchNatUdpRun) run = NULL;

  g_clear_pointer (&lt->timer, g_source_unref);
  run = punch_nat_udp_run_new (lt->check, g_get_monotonic_time () + PUNCH_NAT_GIVE_UP_MS * 1000);
  lt->tx = punch_nat_udp_run_add (run, lt->x, &s1->addr, NULL, 0, &lt->px, NULL);
  punch_nat_tx_set_response_port (lt->tx, lt->pl.mapped.port, lt->l);
  punch_nat_udp_run_start (g_steal_pointer (&run), on_asked_again, lt);
  return G_SOURCE_REMOVE;
}

static void
on_asked (gpointer user_data)
{
  Lifetime *lt = user_data;
  g_autofree char *detail = NULL;

  if (lt->pl.status != PUNCH_CHECK_PROBE_ANSWERED)
    {
      lifetime_end (lt, g_strdup ("the first server stopped answering"));
      return;
    }
  detail = g_strdup_printf ("%u s of silence", waits[lt->w]);
  punch_nat_check_progress (lt->check, "lifetime", detail);
  lt->timer = g_timeout_source_new_seconds (waits[lt->w]);
  g_source_set_callback (lt->timer, on_waited, lt, NULL);
  g_source_attach (lt->timer, lt->check->context);
}

static void
step (Lifetime *lt)
{
  PunchNatCheckReport *rep = lt->check->report;
  PunchStunAddress lb, xb;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchNatUdpRun) run = NULL;

  if (lt->w >= G_N_ELEMENTS (waits))
    {
      lifetime_end (
          lt, g_strdup_printf ("the mapping outlived every wait (%u s)", rep->lifetime_min_s));
      return;
    }
  if (g_get_monotonic_time () + (gint64)(waits[lt->w] + 6) * G_USEC_PER_SEC > lt->end)
    {
      lifetime_end (lt, rep->lifetime_measured
                            ? g_strdup_printf ("the mapping outlived %u s of silence; longer "
                                               "waits would pass the lifetime limit",
                                               rep->lifetime_min_s)
                            : g_strdup ("the lifetime limit is too short for the first wait"));
      return;
    }
  g_clear_object (&lt->l);
  g_clear_object (&lt->x);
  lt->l = punch_nat_udp_socket (lt->first->addr.family, &lb, &error);
  if (lt->l)
    lt->x = punch_nat_udp_socket (lt->first->addr.family, &xb, &error);
  if (lt->x == NULL)
    {
      lifetime_end (lt, g_strdup (error->message));
      return;
    }
  run = punch_nat_udp_run_new (lt->check, g_get_monotonic_time () + PUNCH_NAT_GIVE_UP_MS * 1000);
  punch_nat_udp_run_add (run, lt->l, &lt->first->addr, NULL, 0, &lt->pl, NULL);
  punch_nat_udp_run_start (g_steal_pointer (&run), on_asked, lt);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Lifetime *lt = user_data;

  (void)cancellable;
  g_clear_pointer (&lt->cancel_source, g_source_unref);
  /* a run in progress stops by itself and never calls back */
  lifetime_end (lt, NULL);
  return G_SOURCE_REMOVE;
}

void
punch_nat_lifetime_start (PunchNatCheck *check, PunchNatCheckServer *first)
{
  Lifetime *lt = g_new0 (Lifetime, 1);

  lt->check = check;
  lt->task = g_object_ref (check->task);
  lt->first = first;
  lt->end = g_get_monotonic_time () + (gint64)check->lifetime_max_s * G_USEC_PER_SEC;
  lt->cancel_source = g_cancellable_source_new (check->cancel);
  g_source_set_callback (lt->cancel_source, G_SOURCE_FUNC (on_cancelled), lt, NULL);
  g_source_attach (lt->cancel_source, check->context);
  step (lt);
}
