/* punch-nat-check-report.c: the NAT check's report, its names, the default servers
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"

#include <string.h>

/* Well-known public STUN servers of several operators (docs/check.md). The
 * first one is the one the RFC 5780 tests use: stun.stunprotocol.org runs
 * STUNTMAN, an RFC 5780 server on two addresses. */
static const char *const builtin_servers[] = {
  "stun:stun.stunprotocol.org:3478", /* STUNTMAN: RFC 5780 */
  "stun:stun.l.google.com:19302",    /* Google: RFC 5389, one address */
  "stun:stun.cloudflare.com:3478",   /* Cloudflare: RFC 5389 */
  "stun:stun.sipgate.net:3478",      /* sipgate: RFC 3489 CHANGED-ADDRESS */
  NULL,
};

GStrv
punch_nat_check_default_servers (const char **origin)
{
  const char *env = g_getenv ("PUNCH_DEFAULT_STUN");

  if (env && *env)
    {
      g_auto (GStrv) parts = g_strsplit_set (env, ", \t\n", -1);
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

      for (char **p = parts; *p; p++)
        if (**p)
          g_strv_builder_add (b, *p);
      if (origin)
        *origin = "PUNCH_DEFAULT_STUN";
      return g_strv_builder_end (b);
    }
  if (origin)
    *origin = "built-in";
  return g_strdupv ((char **)builtin_servers);
}

const char *
punch_stun_family_to_string (PunchStunFamily family)
{
  switch (family)
    {
    case PUNCH_STUN_FAMILY_RFC3489: return "rfc3489";
    case PUNCH_STUN_FAMILY_RFC5389: return "rfc5389";
    case PUNCH_STUN_FAMILY_RFC5780: return "rfc5780";
    case PUNCH_STUN_FAMILY_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_nat_check_reject_to_string (PunchNatCheckReject r)
{
  switch (r)
    {
    case PUNCH_NAT_CHECK_REJECT_SHORT: return "short";
    case PUNCH_NAT_CHECK_REJECT_NOT_STUN: return "not-stun";
    case PUNCH_NAT_CHECK_REJECT_MALFORMED: return "malformed";
    case PUNCH_NAT_CHECK_REJECT_FINGERPRINT: return "bad-fingerprint";
    case PUNCH_NAT_CHECK_REJECT_WRONG_TXID: return "wrong-transaction-id";
    case PUNCH_NAT_CHECK_REJECT_WRONG_SOURCE: return "unexpected-source";
    case PUNCH_NAT_CHECK_REJECT_UNKNOWN_ATTRIBUTE: return "unknown-required-attribute";
    case PUNCH_NAT_CHECK_REJECT_NO_ADDRESS: return "no-mapped-address";
    case PUNCH_NAT_CHECK_REJECT_WRONG_CLASS: return "wrong-class";
    case PUNCH_NAT_CHECK_REJECT_N:
    default: return "?";
    }
}

void
punch_nat_check_count_reject (PunchNatCheckReport *report, const GError *parse_error)
{
  const char *why = punch_stun_reject_reason (parse_error);

  report->rejected[g_str_equal (why, PUNCH_STUN_REJECT_SHORT)      ? PUNCH_NAT_CHECK_REJECT_SHORT
                   : g_str_equal (why, PUNCH_STUN_REJECT_NOT_STUN) ? PUNCH_NAT_CHECK_REJECT_NOT_STUN
                   : g_str_equal (why, PUNCH_STUN_REJECT_FINGERPRINT)
                       ? PUNCH_NAT_CHECK_REJECT_FINGERPRINT
                       : PUNCH_NAT_CHECK_REJECT_MALFORMED]++;
}

void
punch_nat_check_server_free (PunchNatCheckServer *s)
{
  if (s == NULL)
    return;
  g_free (s->uri);
  g_free (s->resolve_error);
  g_free (s->software);
  g_free (s->tcp_error);
  g_free (s);
}

void
punch_nat_check_turn_free (PunchNatCheckTurn *t)
{
  if (t == NULL)
    return;
  g_free (t->uri);
  g_free (t->message);
  g_free (t);
}

PunchNatCheckReport *
punch_nat_check_report_new (void)
{
  PunchNatCheckReport *r = g_new0 (PunchNatCheckReport, 1);

  r->servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_nat_check_server_free);
  r->turns = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_nat_check_turn_free);
  return r;
}

void
punch_nat_check_report_free (PunchNatCheckReport *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->servers);
  g_ptr_array_unref (r->turns);
  punch_check_result_clear (&r->result);
  g_free (r->tcp.reason);
  g_free (r->lifetime_reason);
  g_free (r);
}

PunchNatCheckReport *
punch_nat_check_report_copy (const PunchNatCheckReport *src)
{
  PunchNatCheckReport *r;
  PunchCheckResult *d;

  g_return_val_if_fail (src != NULL, NULL);
  r = punch_nat_check_report_new ();
  for (guint i = 0; i < src->servers->len; i++)
    {
      const PunchNatCheckServer *s = src->servers->pdata[i];
      PunchNatCheckServer *c = g_memdup2 (s, sizeof *s);

      c->uri = g_strdup (s->uri);
      c->resolve_error = g_strdup (s->resolve_error);
      c->software = g_strdup (s->software);
      c->tcp_error = g_strdup (s->tcp_error);
      g_ptr_array_add (r->servers, c);
    }
  for (guint i = 0; i < src->turns->len; i++)
    {
      const PunchNatCheckTurn *t = src->turns->pdata[i];
      PunchNatCheckTurn *c = g_memdup2 (t, sizeof *t);

      c->uri = g_strdup (t->uri);
      c->message = g_strdup (t->message);
      g_ptr_array_add (r->turns, c);
    }
  r->obs = src->obs;
  r->result = src->result;
  d = &r->result;
  d->mapping_reason = g_strdup (src->result.mapping_reason);
  d->filtering_reason = g_strdup (src->result.filtering_reason);
  d->ports_reason = g_strdup (src->result.ports_reason);
  d->hairpin_reason = g_strdup (src->result.hairpin_reason);
  d->verdict = g_strdup (src->result.verdict);
  d->exposure = g_strdup (src->result.exposure);
  memcpy (r->rejected, src->rejected, sizeof r->rejected);
  r->tcp_any = src->tcp_any;
  r->tcp = src->tcp;
  r->tcp.reason = g_strdup (src->tcp.reason);
  r->lifetime_tested = src->lifetime_tested;
  r->lifetime_measured = src->lifetime_measured;
  r->lifetime_min_s = src->lifetime_min_s;
  r->lifetime_max_s = src->lifetime_max_s;
  r->lifetime_reason = g_strdup (src->lifetime_reason);
  r->elapsed_ms = src->elapsed_ms;
  return r;
}

G_DEFINE_BOXED_TYPE (PunchNatCheckReport, punch_nat_check_report, punch_nat_check_report_copy,
                     punch_nat_check_report_free)

gboolean
punch_nat_check_report_reachable (const PunchNatCheckReport *rep, char **why)
{
  GString *s;
  guint rejected = 0;

  g_return_val_if_fail (rep != NULL, FALSE);
  if (rep->result.udp || rep->tcp_any)
    return TRUE;
  for (guint i = 0; i < rep->turns->len; i++)
    if (((PunchNatCheckTurn *)rep->turns->pdata[i])->allocated)
      return TRUE;
  if (why == NULL)
    return FALSE;
  s = g_string_new ("no server could be reached:");
  for (guint i = 0; i < rep->servers->len; i++)
    {
      const PunchNatCheckServer *sv = rep->servers->pdata[i];

      g_string_append_printf (s, "%s %s: ", i ? ";" : "", sv->uri);
      if (!sv->resolved)
        g_string_append (s, sv->resolve_error);
      else
        g_string_append_printf (s, "UDP %s, TCP %s",
                                sv->udp.status == PUNCH_CHECK_PROBE_WRONG_SOURCE
                                    ? "answers came only from an unexpected address"
                                : sv->udp.status == PUNCH_CHECK_PROBE_NOT_RUN
                                    ? "not tried (time ran out)"
                                    : "no valid answer",
                                sv->tcp_error ? sv->tcp_error : "failed");
    }
  for (guint i = 0; i < rep->turns->len; i++)
    g_string_append_printf (s, "; %s", ((PunchNatCheckTurn *)rep->turns->pdata[i])->message);
  for (int i = 0; i < PUNCH_NAT_CHECK_REJECT_N; i++)
    rejected += rep->rejected[i];
  if (rejected)
    {
      g_string_append_printf (s, "; %u datagrams were rejected (", rejected);
      for (int i = 0, n = 0; i < PUNCH_NAT_CHECK_REJECT_N; i++)
        if (rep->rejected[i])
          g_string_append_printf (s, "%s%s %u", n++ ? ", " : "",
                                  punch_nat_check_reject_to_string (i), rep->rejected[i]);
      g_string_append (s, ")");
    }
  *why = g_string_free (s, FALSE);
  return FALSE;
}
