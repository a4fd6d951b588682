/* test-nat-check.c: punch_nat_check_async() against a real coturn on
 * loopback, on a private main context (the global default context is never
 * iterated), cancelled, and with the default server list
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>
#include "punch-test-util.h"

typedef struct
{
  GMainContext *context;
  PunchTestCoturn *coturn;
  PunchConfig *config;
  PunchNatCheckReport *report;
  GError *error;
  gboolean done;
  guint progress_calls;
  gboolean progress_freed;
  gboolean saw_udp_step;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->config = punch_config_new ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->report, punch_nat_check_report_free);
  g_clear_error (&f->error);
  g_clear_pointer (&f->config, punch_config_free);
  if (f->coturn)
    punch_test_coturn_stop (f->coturn);
  /* let cancelled operations and sockets go */
  punch_test_spin (50);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static void
on_progress (const char *step, const char *detail, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (g_main_context_is_owner (f->context));
  f->progress_calls++;
  if (g_str_equal (step, "udp"))
    f->saw_udp_step = TRUE;
}

static void
on_progress_freed (gpointer user_data)
{
  Fixture *f = user_data;
  f->progress_freed = TRUE;
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (g_main_context_is_owner (f->context));
  f->report = punch_nat_check_finish (result, &f->error);
  f->done = TRUE;
}

static gboolean
is_done (gpointer user_data)
{
  return ((Fixture *)user_data)->done;
}

static void
test_coturn (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *stun = NULL, *turn = NULL, *turn_tcp = NULL;
  g_autoptr (PunchNatCheckReport) copy = NULL;
  const PunchNatCheckServer *s;
  const PunchNatCheckTurn *t;

  f->coturn = punch_test_coturn_start (NULL);
  if (f->coturn == NULL)
    return;
  /* a name (GResolver, from /etc/hosts), and IPv4 only: coturn listens on 127.0.0.1 */
  stun = g_strdup_printf ("stun:localhost:%u", f->coturn->port);
  f->config->ipv6 = FALSE;
  turn = g_strdup_printf ("turn:127.0.0.1:%u?transport=udp", f->coturn->port);
  g_assert_true (punch_config_add_ice_server (f->config, stun, NULL, NULL, &error));
  g_assert_true (
      punch_config_add_ice_server (f->config, turn, f->coturn->user, f->coturn->pass, &error));
  /* over TCP with a wrong password: the diagnosis's stream path, and a rejection */
  turn_tcp = g_strdup_printf ("turn:127.0.0.1:%u?transport=tcp", f->coturn->port);
  g_assert_true (
      punch_config_add_ice_server (f->config, turn_tcp, f->coturn->user, "wrong", &error));
  g_assert_no_error (error);

  punch_nat_check_async (f->config, 8000, 0, on_progress, f, on_progress_freed, NULL, on_done, f);
  /* only the private context is iterated: nothing may wait on the global one */
  g_assert_true (punch_test_wait (is_done, f, 12000));
  g_assert_no_error (f->error);
  g_assert_nonnull (f->report);
  g_assert_true (f->saw_udp_step);
  g_assert_cmpuint (f->progress_calls, >=, 3);
  punch_test_spin (10);
  g_assert_true (f->progress_freed);

  /* the same coturn three times (stun:localhost, turn: twice) is asked once */
  g_assert_cmpuint (f->report->servers->len, ==, 1);
  s = f->report->servers->pdata[0];
  g_assert_true (s->resolved);
  g_assert_cmpuint (s->addr.family, ==, 4);
  g_assert_cmpint (s->udp.status, ==, PUNCH_CHECK_PROBE_ANSWERED);
  /* coturn on one address: RFC 5389 without RFC 5780 */
  g_assert_cmpint (s->family, ==, PUNCH_STUN_FAMILY_RFC5389);
  g_assert_cmpuint (s->other_address.family, ==, 0);
  g_assert_true (s->tcp_ok);
  g_assert_nonnull (s->software);
  g_assert_true (g_str_has_prefix (s->software, "Coturn"));

  g_assert_true (f->report->result.udp);
  g_assert_cmpint (f->report->result.mapping, ==, PUNCH_NAT_NONE);
  g_assert_cmpint (f->report->result.filtering, ==, PUNCH_NAT_UNKNOWN);
  g_assert_nonnull (strstr (f->report->result.filtering_reason, "does not support RFC 5780"));
  g_assert_cmpint (f->report->result.hairpin, ==, PUNCH_HAIRPIN_NOT_APPLICABLE);

  g_assert_cmpuint (f->report->turns->len, ==, 2);
  t = f->report->turns->pdata[0];
  g_assert_true (t->allocated);
  g_assert_cmpstr (t->auth, ==, "accepted");
  t = f->report->turns->pdata[1];
  g_assert_cmpint (t->transport, ==, PUNCH_TRANSPORT_TCP);
  g_assert_false (t->allocated);
  g_assert_cmpstr (t->auth, ==, "rejected");
  g_assert_cmpstr (t->code, ==, "authentication");
  g_assert_nonnull (strstr (t->message, "401"));
  g_assert_true (punch_nat_check_report_reachable (f->report, NULL));

  /* the boxed copy is deep */
  copy = g_boxed_copy (PUNCH_TYPE_NAT_CHECK_REPORT, f->report);
  g_assert_cmpuint (copy->servers->len, ==, 1);
  g_assert_true (((PunchNatCheckServer *)copy->servers->pdata[0])->software != s->software);
  g_assert_cmpstr (((PunchNatCheckServer *)copy->servers->pdata[0])->software, ==, s->software);
  g_assert_cmpstr (copy->result.verdict, ==, f->report->result.verdict);

  /* TCP from one shared port: one server only, so the mapping cannot be judged */
  g_assert_true (f->report->tcp.tested);
  g_assert_cmpuint (f->report->tcp.n_servers, ==, 1);
  g_assert_cmpuint (f->report->tcp.mapped.family, ==, 4);
  g_assert_cmpuint (f->report->tcp.mapped.port, ==, f->report->tcp.local_port);
  g_assert_true (f->report->tcp.port_preserved);
  g_assert_cmpint (f->report->tcp.punching, ==, PUNCH_PATH_UNKNOWN);
  g_assert_nonnull (strstr (f->report->tcp.reason, "only one server answered over TCP"));
  g_assert_true (copy->tcp.reason != f->report->tcp.reason);
  g_assert_cmpstr (copy->tcp.reason, ==, f->report->tcp.reason);
}

/* Two coturns: loopback maps a TCP port the same way toward both, so TCP hole punching can
 * work "from here". */
static void
test_tcp_mapping (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchTestCoturn *second;
  const PunchNatCheckTcp *t;

  f->coturn = punch_test_coturn_start (NULL);
  if (f->coturn == NULL)
    return;
  second = punch_test_coturn_start (NULL);
  if (second == NULL)
    return;
  f->config->ipv6 = FALSE;
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *stun = g_strdup_printf ("stun:127.0.0.1:%u", (i ? second : f->coturn)->port);
      g_assert_true (punch_config_add_ice_server (f->config, stun, NULL, NULL, &error));
    }
  punch_nat_check_async (f->config, 8000, 0, on_progress, f, on_progress_freed, NULL, on_done, f);
  g_assert_true (punch_test_wait (is_done, f, 12000));
  punch_test_coturn_stop (second);
  g_assert_no_error (f->error);
  t = &f->report->tcp;
  g_assert_true (t->tested);
  g_assert_cmpuint (t->n_servers, ==, 2);
  g_assert_true (t->endpoint_independent);
  g_assert_true (t->port_preserved);
  g_assert_cmpint (t->punching, ==, PUNCH_PATH_DIRECT);
  g_assert_nonnull (strstr (t->reason, "same public address and port toward every server"));
}

static gboolean
cancel_now (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *stun = NULL, *turn = NULL;
  guint16 port = punch_test_free_port ();
  GSource *timer;
  gint64 start;

  /* nothing answers there: without the cancel the check takes 2.8 s (UDP
   * retransmissions until 2.75 s; TCP and the TURN diagnosis are refused) */
  stun = g_strdup_printf ("stun:127.0.0.1:%u", port);
  turn = g_strdup_printf ("turn:127.0.0.1:%u?transport=udp", port);
  g_assert_true (punch_config_add_ice_server (f->config, stun, NULL, NULL, &error));
  g_assert_true (punch_config_add_ice_server (f->config, turn, "u", "p", &error));
  start = g_get_monotonic_time ();
  punch_nat_check_async (f->config, 10000, 0, NULL, NULL, NULL, cancel, on_done, f);
  timer = g_timeout_source_new (200);
  g_source_set_callback (timer, cancel_now, cancel, NULL);
  g_source_attach (timer, f->context);
  g_source_unref (timer);
  g_assert_true (punch_test_wait (is_done, f, 5000));
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (f->report);
  /* ended at the cancel, not at a deadline (with room for valgrind) */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2000 * 1000);
}

static void
test_no_server (Fixture *f, gconstpointer data)
{
  punch_nat_check_async (f->config, 1000, 0, NULL, NULL, NULL, NULL, on_done, f);
  g_assert_true (punch_test_wait (is_done, f, 2000));
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
}

static void
test_defaults (Fixture *f, gconstpointer data)
{
  g_auto (GStrv) builtin = NULL, from_env = NULL;
  g_autoptr (GHashTable) operators = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *origin = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("PUNCH_DEFAULT_STUN"));

  g_unsetenv ("PUNCH_DEFAULT_STUN");
  builtin = punch_nat_check_default_servers (&origin);
  g_assert_cmpstr (origin, ==, "built-in");
  g_assert_cmpuint (g_strv_length (builtin), >=, 3);
  g_assert_cmpuint (g_strv_length (builtin), <=, PUNCH_NAT_CHECK_MAX_SERVERS);
  for (char **u = builtin; *u; u++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchIceServer) s = punch_ice_server_parse (*u, NULL, NULL, &error);
      const char *dot;

      g_assert_no_error (error);
      g_assert_cmpint (s->kind, ==, PUNCH_ICE_SERVER_STUN);
      /* the operator: the last two labels of the name */
      dot = g_strrstr_len (s->host, strrchr (s->host, '.') - s->host, ".");
      g_hash_table_add (operators, g_strdup (dot ? dot + 1 : s->host));
    }
  g_assert_cmpuint (g_hash_table_size (operators), >=, 3);

  g_setenv ("PUNCH_DEFAULT_STUN", "stun:192.0.2.1, stun:192.0.2.2:3479", TRUE);
  from_env = punch_nat_check_default_servers (&origin);
  g_assert_cmpstr (origin, ==, "PUNCH_DEFAULT_STUN");
  g_assert_cmpuint (g_strv_length (from_env), ==, 2);
  g_assert_cmpstr (from_env[0], ==, "stun:192.0.2.1");
  g_assert_cmpstr (from_env[1], ==, "stun:192.0.2.2:3479");
  if (saved)
    g_setenv ("PUNCH_DEFAULT_STUN", saved, TRUE);
  else
    g_unsetenv ("PUNCH_DEFAULT_STUN");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/nat-check/coturn-private-context", test_coturn);
  ADD ("/punch/nat-check/tcp-mapping", test_tcp_mapping);
  ADD ("/punch/nat-check/cancel", test_cancel);
  ADD ("/punch/nat-check/no-server", test_no_server);
  ADD ("/punch/nat-check/defaults", test_defaults);
#undef ADD
  return g_test_run ();
}
