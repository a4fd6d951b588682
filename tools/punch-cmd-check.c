/* punch-cmd-check.c: `punch check`, what this network does to UDP
 *
 * Parses the options, runs libpunch's NAT check (punch_nat_check_async(),
 * lib/punch-nat-check.h) on a main loop, and prints its report, as text or
 * as one JSON document, from one field list (punch-output.h). Progress goes
 * to stderr. See docs/check.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>
#include <punch.h>

#include "punch-cmd.h"
#include "punch-output.h"

#define DEFAULT_TIMEOUT_S 15
#define DEFAULT_LIFETIME_MAX_S 120

static const char check_description[]
    = "Finds out what the network in front of this host does to UDP, with STUN\n"
      "(RFC 8489) and the NAT behaviour tests of RFC 5780:\n"
      "  reachability     UDP and TCP to each server, the public address each sees, RTT\n"
      "  mapping          endpoint-independent, address-dependent or\n"
      "                   address-and-port-dependent (or none: no NAT)\n"
      "  filtering        the same three, with RFC 5780 CHANGE-REQUEST\n"
      "  port allocation  preserving, sequential or random\n"
      "  hairpinning      whether this host reaches itself through its public address\n"
      "  TURN             whether an allocation succeeds, and the authentication outcome\n"
      "  verdict          which kinds of peer are reachable directly, which need a relay\n"
      "  exposure         who can send to a port your NAT has mapped\n"
      "\n"
      "Every kind of STUN server works; the report names each one's family:\n"
      "  rfc5780  OTHER-ADDRESS and CHANGE-REQUEST (coturn on two IP addresses)\n"
      "  rfc3489  classic STUN: CHANGED-ADDRESS and CHANGE-REQUEST (stund)\n"
      "  rfc5389  one address only (RFC 5389/8489): mapping by comparing servers,\n"
      "           filtering unknown\n"
      "Mapping and filtering use the first server's second address when it has one;\n"
      "otherwise the mappings seen by the servers are compared, and the report says\n"
      "which method it used. A turn: server is also asked for Binding on its UDP port.\n"
      "\n"
      "Without --stun or --turn, a built-in list of public STUN servers is used\n"
      "(stun.stunprotocol.org, stun.l.google.com, stun.cloudflare.com, stun.sipgate.net;\n"
      "see docs/check.md), and the report says so. PUNCH_DEFAULT_STUN (URIs\n"
      "separated by commas or spaces) replaces that list.\n"
      "\n"
      "--turn-user and --turn-pass pair with --turn in order; one of each applies\n"
      "to every --turn.\n"
      "\n"
      "Examples:\n"
      "  punch check\n"
      "  punch check --stun stun:stun.example.org\n"
      "  punch check --stun stun:203.0.113.10 --stun stun:203.0.113.11:3478 --json\n"
      "  punch check --stun stun:stun.example.org \\\n"
      "      --turn 'turn:turn.example.org?transport=tcp' --turn-user alice --turn-pass s3cret\n"
      "  punch check --stun stun:stun.example.org --lifetime --lifetime-max 60\n"
      "\n"
      "Output: a text report on stdout, or one JSON document with --json (schema in\n"
      "docs/check.md). Progress goes to stderr (NDJSON events with --json).\n"
      "\n"
      "Text output shows every string a server sent with control characters escaped.\n"
      "\n"
      "Exit codes: 0 the check ran (whatever it found), 1 no server could be reached\n"
      "(the message says why), 2 usage error, 130 interrupted.\n";

typedef struct
{
  GMainLoop *loop;
  GCancellable *cancel;
  PunchNatCheckReport *report;
  GError *error;
  gboolean interrupted;
} RunCtx;

static void
on_progress (const char *step, const char *detail, gpointer user_data)
{
  PunchOutput *progress = user_data;

  punch_output_begin (progress, "progress");
  punch_output_string (progress, "step", "punch check: %s", step);
  punch_output_string (progress, "detail", " %s", detail);
  punch_output_end (progress);
}

static void
on_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RunCtx *run = user_data;

  (void)source;
  run->report = punch_nat_check_finish (result, &run->error);
  g_main_loop_quit (run->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  RunCtx *run = user_data;

  run->interrupted = TRUE;
  g_cancellable_cancel (run->cancel);
  return G_SOURCE_CONTINUE;
}

static const char *
probe_status (const PunchCheckProbe *p)
{
  switch (p->status)
    {
    case PUNCH_CHECK_PROBE_ANSWERED: return "answered";
    case PUNCH_CHECK_PROBE_TIMEOUT: return "no-answer";
    case PUNCH_CHECK_PROBE_WRONG_SOURCE: return "wrong-source";
    case PUNCH_CHECK_PROBE_ERROR: return "error";
    case PUNCH_CHECK_PROBE_NOT_RUN:
    default: return "not-run";
    }
}

static void
output_address (PunchOutput *out, const char *key, const char *fmt, const PunchStunAddress *a)
{
  g_autofree char *s = NULL;

  if (a->family == 0)
    return;
  s = punch_stun_address_to_string (a);
  punch_output_string (out, key, fmt, s);
}

static void
render_servers (PunchOutput *out, const PunchNatCheckReport *rep)
{
  punch_output_begin_array (out, "servers", NULL);
  for (guint i = 0; i < rep->servers->len; i++)
    {
      const PunchNatCheckServer *s = rep->servers->pdata[i];

      punch_output_begin_object (out, NULL, NULL);
      punch_output_string (out, "uri", "  %s", s->uri);
      if (!s->resolved)
        {
          punch_output_string (out, "error", ": %s\n", s->resolve_error);
          punch_output_end_object (out, NULL);
          continue;
        }
      output_address (out, "address", " (%s", &s->addr);
      punch_output_string (out, "family", ", %s)\n", punch_stun_family_to_string (s->family));
      punch_output_begin_object (out, "udp", "    UDP: ");
      punch_output_string (out, "status", "%s", probe_status (&s->udp));
      if (s->udp.status == PUNCH_CHECK_PROBE_ANSWERED)
        {
          output_address (out, "mapped", ", public address %s", &s->udp.mapped);
          punch_output_uint (out, "rtt_us", ", rtt %" G_GUINT64_FORMAT " us",
                             (guint64)(s->udp.rtt_ms * 1000));
        }
      else if (s->udp.status == PUNCH_CHECK_PROBE_ERROR)
        punch_output_uint (out, "error_code", " %" G_GUINT64_FORMAT, s->udp.error_code);
      else if (s->udp.status == PUNCH_CHECK_PROBE_WRONG_SOURCE)
        output_address (out, "source", " (answers came from %s)", &s->udp.source);
      output_address (out, "other_address", ", other address %s", &s->other_address);
      output_address (out, "response_origin", NULL, &s->response_origin);
      if (s->software)
        punch_output_string (out, "software", ", software \"%s\"", s->software);
      punch_output_end_object (out, "\n");
      punch_output_begin_object (out, "tcp", "    TCP: ");
      punch_output_bool (out, "reachable", "%s", s->tcp_ok);
      if (s->tcp_ok)
        {
          punch_output_uint (out, "connect_us", ", connect %" G_GUINT64_FORMAT " us",
                             (guint64)(s->tcp_rtt_ms * 1000));
          output_address (out, "mapped", ", public address %s", &s->tcp_mapped);
        }
      else if (s->tcp_error)
        punch_output_string (out, "error", " (%s)", s->tcp_error);
      punch_output_end_object (out, "\n");
      punch_output_end_object (out, NULL);
    }
  punch_output_end_array (out, NULL);
}

static void
render_nat (PunchOutput *out, const PunchCheckResult *r)
{
  punch_output_begin_object (out, "nat", "\nNAT\n");
  punch_output_string (out, "mapping", "  mapping:         %s",
                       punch_nat_behaviour_to_string (r->mapping));
  punch_output_string (out, "mapping_method", " (method: %s)",
                       punch_check_method_to_string (r->mapping_method));
  punch_output_string (out, "mapping_reason", "\n                   %s\n", r->mapping_reason);
  if (r->mapping == PUNCH_NAT_UNKNOWN)
    punch_output_bool (out, "mapping_varies", NULL, r->mapping_varies);
  punch_output_string (out, "filtering", "  filtering:       %s",
                       punch_nat_behaviour_to_string (r->filtering));
  punch_output_string (out, "filtering_method", " (method: %s)",
                       punch_check_method_to_string (r->filtering_method));
  punch_output_string (out, "filtering_reason", "\n                   %s\n", r->filtering_reason);
  punch_output_end_object (out, NULL);

  punch_output_begin_object (out, "port_allocation", NULL);
  punch_output_string (out, "behaviour", "  port allocation: %s",
                       punch_port_allocation_to_string (r->ports));
  punch_output_string (out, "reason", "\n                   %s\n", r->ports_reason);
  punch_output_end_object (out, NULL);

  punch_output_begin_object (out, "hairpinning", NULL);
  punch_output_string (out, "result", "  hairpinning:     %s",
                       punch_hairpin_to_string (r->hairpin));
  punch_output_string (out, "reason", "\n                   %s\n", r->hairpin_reason);
  punch_output_end_object (out, NULL);
}

static void
render_lifetime (PunchOutput *out, const PunchNatCheckReport *rep)
{
  punch_output_begin_object (out, "lifetime", "  mapping lifetime: ");
  punch_output_bool (out, "measured", NULL, rep->lifetime_measured);
  if (!rep->lifetime_tested)
    punch_output_text (out, "not measured (add --lifetime)\n");
  else
    {
      if (rep->lifetime_measured)
        {
          punch_output_uint (out, "at_least_s", "at least %" G_GUINT64_FORMAT " s",
                             rep->lifetime_min_s);
          if (rep->lifetime_max_s)
            punch_output_uint (out, "less_than_s", ", less than %" G_GUINT64_FORMAT " s",
                               rep->lifetime_max_s);
          else
            punch_output_text (out, " (longer waits not tried)");
        }
      else
        punch_output_text (out, "unknown");
      punch_output_string (out, "reason", "\n                   %s\n", rep->lifetime_reason);
    }
  punch_output_end_object (out, NULL);
}

static void
render_turn (PunchOutput *out, const PunchNatCheckReport *rep)
{
  punch_output_begin_array (out, "turn", rep->turns->len ? "\nTURN\n" : NULL);
  for (guint i = 0; i < rep->turns->len; i++)
    {
      const PunchNatCheckTurn *t = rep->turns->pdata[i];

      punch_output_begin_object (out, NULL, NULL);
      punch_output_string (out, "uri", "  %s\n", t->uri);
      punch_output_string (out, "transport",
                           "    over %s: ", punch_transport_to_string (t->transport));
      punch_output_bool (out, "allocation", "allocation %s", t->allocated);
      punch_output_string (out, "auth", ", authentication %s", t->auth);
      if (t->code)
        punch_output_string (out, "code", NULL, t->code);
      punch_output_string (out, "message", "\n    %s\n", t->message);
      punch_output_end_object (out, NULL);
    }
  punch_output_end_array (out, NULL);
}

static void
render_verdict (PunchOutput *out, const PunchCheckResult *r, const PunchNatCheckTcp *tcp)
{
  punch_output_begin_object (out, "verdict", "\nVerdict\n");
  punch_output_string (out, "summary", "  %s\n", r->verdict);
  punch_output_string (out, "tcp_punching", NULL, punch_path_to_string (tcp->punching));
  punch_output_text (out, "  TCP hole punching (for networks without UDP): ");
  punch_output_text (out, tcp->punching == PUNCH_PATH_DIRECT  ? "can work\n"
                          : tcp->punching == PUNCH_PATH_RELAY ? "cannot work (only toward an open "
                                                                "host)\n"
                                                              : "unknown\n");
  punch_output_begin_array (out, "peers", NULL);
  for (int k = 0; k < PUNCH_PEER_N_KINDS; k++)
    {
      punch_output_begin_object (out, NULL, NULL);
      punch_output_string (out, "peer", NULL, punch_peer_kind_to_key (k));
      punch_output_text (out, "    ");
      punch_output_text (out, punch_peer_kind_to_string (k));
      punch_output_string (out, "path", ": %s\n", punch_path_to_string (r->paths[k]));
      punch_output_end_object (out, NULL);
    }
  punch_output_end_array (out, NULL);
  punch_output_end_object (out, NULL);
  punch_output_string (out, "exposure", "\nExposure\n  %s\n", r->exposure);
}

static void
render_tcp (PunchOutput *out, const PunchNatCheckReport *rep)
{
  const PunchNatCheckTcp *t = &rep->tcp;

  punch_output_begin_object (out, "tcp_mapping", "\nTCP hole punching\n");
  punch_output_bool (out, "tested", NULL, t->tested);
  if (t->tested && t->mapped.family)
    {
      punch_output_uint (out, "local_port", "  local TCP port %" G_GUINT64_FORMAT, t->local_port);
      output_address (out, "mapped", " is %s outside", &t->mapped);
      punch_output_uint (out, "servers", " (%" G_GUINT64_FORMAT " servers asked from it)\n",
                         t->n_servers);
      punch_output_bool (out, "endpoint_independent", "  the same toward every server: %s\n",
                         t->endpoint_independent);
      punch_output_bool (out, "port_preserved", "  port preserved: %s\n", t->port_preserved);
    }
  punch_output_string (out, "punching", NULL, punch_path_to_string (t->punching));
  if (t->reason)
    punch_output_string (out, "reason", "  %s\n", t->reason);
  punch_output_end_object (out, NULL);
}

static void
render_rejected (PunchOutput *out, const PunchNatCheckReport *rep)
{
  guint total = 0;

  for (int i = 0; i < PUNCH_NAT_CHECK_REJECT_N; i++)
    total += rep->rejected[i];
  punch_output_begin_object (out, "rejected", total ? "\nRejected datagrams: " : NULL);
  punch_output_uint (out, "total", total ? "%" G_GUINT64_FORMAT : NULL, total);
  for (int i = 0; i < PUNCH_NAT_CHECK_REJECT_N; i++)
    if (rep->rejected[i])
      {
        g_autofree char *fmt
            = g_strdup_printf (", %s %%" G_GUINT64_FORMAT, punch_nat_check_reject_to_string (i));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        punch_output_uint (out, punch_nat_check_reject_to_string (i), fmt, rep->rejected[i]);
#pragma GCC diagnostic pop
      }
  punch_output_end_object (out, total ? "\n" : NULL);
}

static int usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "punch check: %s\nRun 'punch check --help' for the options.\n", msg);
  return PUNCH_EXIT_USAGE;
}

/* Adds @uri (a --stun or default server) to @config; FALSE with a usage message. */
static gboolean
add_stun (PunchConfig *config, const char *uri, const char *what, char **message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIceServer) s = punch_ice_server_parse (uri, NULL, NULL, &error);

  if (s == NULL)
    {
      *message = g_strdup_printf ("%s: %s", what, error->message);
      return FALSE;
    }
  if (s->kind != PUNCH_ICE_SERVER_STUN)
    {
      *message = g_strdup_printf ("%s wants a stun: URI, not \"%s\" (use --turn)", what, uri);
      return FALSE;
    }
  g_ptr_array_add (config->ice_servers, g_steal_pointer (&s));
  return TRUE;
}

static void
render (PunchOutput *out, const PunchNatCheckReport *rep, const char *defaults, gboolean json)
{
  const PunchCheckResult *res = &rep->result;
  g_autofree char *failure = NULL;

  punch_output_begin (out, "check");
  if (defaults)
    punch_output_string (out, "default_servers",
                         "No --stun given: asked the default servers (%s list; see "
                         "docs/check.md)\n\n",
                         defaults);
  punch_output_text (out, "Reachability\n");
  punch_output_bool (out, "udp", "  UDP works:       %s\n", res->udp);
  punch_output_bool (out, "tcp", "  TCP reaches a server: %s\n", rep->tcp_any);
  if (res->udp)
    output_address (out, "public_address", "  public address:  %s\n", &rep->obs.map1.mapped);
  output_address (out, "local_address", "  local address:   %s\n", &rep->obs.local);
  render_servers (out, rep);
  render_nat (out, res);
  render_lifetime (out, rep);
  render_turn (out, rep);
  render_tcp (out, rep);
  render_verdict (out, res, &rep->tcp);
  render_rejected (out, rep);
  punch_output_uint (out, "elapsed_ms", "\nChecked in %" G_GUINT64_FORMAT " ms.",
                     (guint64)rep->elapsed_ms);
  if (!punch_nat_check_report_reachable (rep, &failure) && json)
    punch_output_error (out, "unreachable", failure);
  punch_output_end (out);
}

int
punch_cmd_check (int argc, char **argv)
{
  g_auto (GStrv) stun = NULL, turn = NULL, turn_user = NULL, turn_pass = NULL;
  gboolean json = FALSE, ipv4 = FALSE, ipv6 = FALSE, lifetime = FALSE;
  int timeout_s = DEFAULT_TIMEOUT_S, lifetime_max = DEFAULT_LIFETIME_MAX_S;
  GOptionEntry entries[]
      = { { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &stun,
            "A STUN server (repeatable; default: the built-in list)", "URI" },
          { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn, "A TURN server (repeatable)", "URI" },
          { "turn-user", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_user, "TURN username", "U" },
          { "turn-pass", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_pass, "TURN password", "P" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL },
          { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
            "Give up after this long, --lifetime aside (default 15)", "SECONDS" },
          { "ipv4", '4', 0, G_OPTION_ARG_NONE, &ipv4, "IPv4 only", NULL },
          { "ipv6", '6', 0, G_OPTION_ARG_NONE, &ipv6, "IPv6 only", NULL },
          { "lifetime", 0, 0, G_OPTION_ARG_NONE, &lifetime,
            "Also estimate how long an idle mapping lives (slow)", NULL },
          { "lifetime-max", 0, 0, G_OPTION_ARG_INT, &lifetime_max,
            "Spend at most this long on --lifetime (default 120)", "SECONDS" },
          { NULL } };
  g_autoptr (GOptionContext) octx = g_option_context_new ("- test this network's NAT and firewall");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_new ();
  g_autoptr (PunchOutput) progress = NULL;
  g_autoptr (PunchOutput) out = NULL;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *failure = NULL;
  g_autofree char *message = NULL;
  const char *defaults = NULL;
  RunCtx run = { 0 };
  guint n_turn;
  GSource *sigint, *sigterm;

  g_set_prgname ("punch check");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_description (octx, check_description);
  g_option_context_set_help_enabled (octx, TRUE);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return usage_error ("%s", error->message);
  if (argc > 1)
    return usage_error ("unexpected argument '%s' (servers are given with --stun and --turn)",
                        argv[1]);
  if (ipv4 && ipv6)
    return usage_error ("--ipv4 and --ipv6 exclude each other");
  if (timeout_s < 1 || timeout_s > 600)
    return usage_error ("--timeout must be 1 to 600 seconds, not %d", timeout_s);
  if (lifetime_max < 10 || lifetime_max > 3600)
    return usage_error ("--lifetime-max must be 10 to 3600 seconds, not %d", lifetime_max);

  for (char **u = stun; u && *u; u++)
    if (!add_stun (config, *u, "--stun", &message))
      return usage_error ("%s", message);
  n_turn = turn ? g_strv_length (turn) : 0;
  if (turn_user && g_strv_length (turn_user) != 1 && g_strv_length (turn_user) != n_turn)
    return usage_error ("give one --turn-user for all --turn servers, or one for each (%u)",
                        n_turn);
  if (turn_pass && g_strv_length (turn_pass) != 1 && g_strv_length (turn_pass) != n_turn)
    return usage_error ("give one --turn-pass for all --turn servers, or one for each (%u)",
                        n_turn);
  if (n_turn && (!turn_user || !turn_pass))
    return usage_error ("--turn needs --turn-user and --turn-pass");
  if (!n_turn && (turn_user || turn_pass))
    return usage_error ("--turn-user and --turn-pass need a --turn server");
  for (guint i = 0; i < n_turn; i++)
    {
      const char *user = turn_user[g_strv_length (turn_user) == 1 ? 0 : i];
      const char *pass = turn_pass[g_strv_length (turn_pass) == 1 ? 0 : i];
      g_autoptr (PunchIceServer) s = punch_ice_server_parse (turn[i], user, pass, &error);

      if (s == NULL)
        return usage_error ("--turn: %s", error->message);
      if (s->kind == PUNCH_ICE_SERVER_STUN)
        return usage_error ("--turn wants a turn: or turns: URI, not \"%s\" (use --stun)", turn[i]);
      g_ptr_array_add (config->ice_servers, g_steal_pointer (&s));
    }
  if (config->ice_servers->len == 0)
    {
      g_auto (GStrv) list = punch_nat_check_default_servers (&defaults);

      for (char **u = list; *u && config->ice_servers->len < PUNCH_NAT_CHECK_MAX_SERVERS; u++)
        if (!add_stun (config, *u, defaults, &message))
          return usage_error ("%s", message);
      if (config->ice_servers->len == 0)
        return usage_error ("PUNCH_DEFAULT_STUN names no server");
    }
  if (config->ice_servers->len > PUNCH_NAT_CHECK_MAX_SERVERS)
    return usage_error ("at most %d servers", PUNCH_NAT_CHECK_MAX_SERVERS);
  config->ipv4 = !ipv6;
  config->ipv6 = !ipv4;

  progress = punch_output_new_events (stderr, json);
  if (defaults)
    {
      g_autofree char *joined = NULL;
      GString *list = g_string_new (NULL);

      for (guint i = 0; i < config->ice_servers->len; i++)
        {
          g_autofree char *uri = punch_ice_server_to_uri (config->ice_servers->pdata[i]);
          g_string_append_printf (list, "%s%s", i ? " " : "", uri);
        }
      joined = g_string_free (list, FALSE);
      on_progress ("defaults", joined, progress);
    }

  /* the check runs on a private context, iterated here */
  g_main_context_push_thread_default (context);
  loop = g_main_loop_new (context, FALSE);
  run.loop = loop;
  run.cancel = cancel;
  sigint = g_unix_signal_source_new (SIGINT);
  sigterm = g_unix_signal_source_new (SIGTERM);
  g_source_set_callback (sigint, on_signal, &run, NULL);
  g_source_set_callback (sigterm, on_signal, &run, NULL);
  g_source_attach (sigint, context);
  g_source_attach (sigterm, context);
  punch_nat_check_async (config, (guint)timeout_s * 1000, lifetime ? (guint)lifetime_max : 0,
                         on_progress, progress, NULL, cancel, on_checked, &run);
  g_main_loop_run (loop);
  g_source_destroy (sigint);
  g_source_destroy (sigterm);
  g_source_unref (sigint);
  g_source_unref (sigterm);
  g_main_context_pop_thread_default (context);

  if (run.interrupted)
    {
      g_clear_error (&run.error);
      g_clear_pointer (&run.report, punch_nat_check_report_free);
      fprintf (stderr, "punch check: interrupted\n");
      return PUNCH_EXIT_INTERRUPTED;
    }
  if (run.report == NULL)
    {
      punch_output_error (progress, "failed", run.error->message);
      g_clear_error (&run.error);
      return PUNCH_EXIT_FAILURE;
    }

  out = punch_output_new_document (stdout, json);
  render (out, run.report, defaults, json);
  if (!punch_nat_check_report_reachable (run.report, &failure))
    {
      if (!json)
        {
          g_autofree char *safe = punch_text_escape (failure);
          fprintf (stderr, "punch check: %s\n", safe);
        }
      punch_nat_check_report_free (run.report);
      return PUNCH_EXIT_FAILURE;
    }
  punch_nat_check_report_free (run.report);
  return PUNCH_EXIT_OK;
}
