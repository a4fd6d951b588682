/* test-srflx.c: a server-reflexive candidate from a real coturn
 *
 * A srflx candidate only exists behind a NAT: on plain loopback the mapped
 * address equals the host candidate and libnice drops it as redundant. So
 * this test moves itself into a private network namespace (root only; the
 * namespace dies with the process, nothing to clean up) and puts a kernel
 * SNAT rule on its loopback: packets to the STUN port leave as 127.0.0.9.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <punch.h>

#include "punch-test-util.h"

static gboolean
run (const char *cmdline)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_command_line_sync (cmdline, NULL, &err, &status, &error)
      || !g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("'%s' failed: %s %s", cmdline, error ? error->message : "", err ? err : "");
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GPtrArray *lines;
  gboolean done;
} Gathered;

static void
on_candidate (PunchSession *s, const char *line, gpointer user_data)
{
  g_ptr_array_add (((Gathered *)user_data)->lines, g_strdup (line));
}

static void
on_done (PunchSession *s, gpointer user_data)
{
  ((Gathered *)user_data)->done = TRUE;
}

static gboolean
is_done (gpointer data)
{
  return ((Gathered *)data)->done;
}

static void
test_srflx (void)
{
  PunchTestCoturn *coturn;
  g_autoptr (PunchConfig) config = punch_config_new ();
  g_autoptr (PunchSession) s = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL, *rule = NULL;
  Gathered g = { g_ptr_array_new_with_free_func (g_free), FALSE };
  gboolean found = FALSE;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root for a private network namespace with a NAT rule");
      goto out;
    }
  if (unshare (CLONE_NEWNET) != 0)
    {
      g_test_skip ("unshare(CLONE_NEWNET) is not permitted here");
      goto out;
    }
  g_assert_true (run ("ip link set lo up"));
  coturn = punch_test_coturn_start (NULL);
  if (coturn == NULL)
    goto out;
  rule = g_strdup_printf ("iptables -t nat -A POSTROUTING -o lo -p udp -s 127.0.0.1 -d 127.0.0.1 "
                          "--dport %u -j SNAT --to-source 127.0.0.9",
                          coturn->port);
  g_assert_true (run (rule));

  uri = g_strdup_printf ("stun:127.0.0.1:%u", coturn->port);
  g_assert_true (punch_config_add_ice_server (config, uri, NULL, NULL, &error));
  config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  config->ipv6 = FALSE;
  s = punch_session_new (config, &error);
  g_assert_no_error (error);
  g_signal_connect (s, "local-candidate", G_CALLBACK (on_candidate), &g);
  g_signal_connect (s, "gathering-done", G_CALLBACK (on_done), &g);
  g_assert_true (punch_session_start (s, &error));
  g_assert_true (punch_test_wait (is_done, &g, 5000));

  for (guint i = 0; i < g.lines->len; i++)
    {
      g_autoptr (PunchCandidate) c = punch_candidate_parse (g.lines->pdata[i], &error);
      g_assert_no_error (error);
      g_test_message ("gathered %s", (char *)g.lines->pdata[i]);
      if (c->type == PUNCH_CANDIDATE_SRFLX && c->transport == PUNCH_TRANSPORT_UDP)
        {
          g_assert_cmpstr (c->address, ==, "127.0.0.9");
          g_assert_cmpstr (c->related_address, ==, "127.0.0.1");
          found = TRUE;
        }
    }
  g_assert_true (found);
  g_clear_object (&s);
  punch_test_spin (50);
  punch_test_coturn_stop (coturn);
out:
  g_ptr_array_unref (g.lines);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch/turn/srflx-behind-nat", test_srflx);
  return g_test_run ();
}
