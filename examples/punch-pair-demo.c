/* punch-pair-demo.c: two punch sessions in one process, connected and talking
 *
 * The smallest complete use of libpunch, and the loopback demo that
 * scripts/demo.sh runs. Each session's candidates are handed to the other
 * as soon as they are gathered (trickle ICE); a real application carries them
 * over a signaling channel instead (see punch-signal).
 *
 *   punch-pair-demo [--turn URI --turn-user U --turn-pass P] [--relay-only]
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <punch.h>

#define TOTAL (4 * 1024 * 1024)
#define CHUNK 1200

typedef struct
{
  PunchSession *peer[2];
  GMainLoop *loop;
  guint64 sent;
  guint64 received;
  gint64 t0;
  gint64 t1;
  int exit_code;
} Demo;

static const char *const names[] = { "alice", "bob" };

static int
index_of (Demo *d, PunchSession *s)
{
  return s == d->peer[0] ? 0 : 1;
}

static void
on_candidate (PunchSession *s, const char *line, Demo *d)
{
  int i = index_of (d, s);
  g_autoptr (GError) error = NULL;

  printf ("%-5s gathered  %s\n", names[i], line);
  if (!punch_session_add_remote_candidate (d->peer[1 - i], line, &error))
    g_printerr ("%s rejected a candidate: %s\n", names[1 - i], error->message);
}

static void
on_gathering_done (PunchSession *s, Demo *d)
{
  int i = index_of (d, s);

  printf ("%-5s end-of-candidates\n", names[i]);
  punch_session_set_remote_end_of_candidates (d->peer[1 - i]);
}

static void send_datagrams (Demo *d);

static void
on_state (PunchSession *s, PunchState state, Demo *d)
{
  int i = index_of (d, s);

  printf ("%-5s state     %s\n", names[i], punch_state_to_string (state));
  if (state == PUNCH_STATE_FAILED)
    {
      printf ("%-5s error     %s\n", names[i], punch_session_get_error (s)->message);
      d->exit_code = 1;
      g_main_loop_quit (d->loop);
    }
  else if (state == PUNCH_STATE_CONNECTED && i == 0)
    {
      PunchStats stats;
      g_autofree char *path = punch_pair_describe (punch_session_get_selected_pair (s));
      punch_session_get_stats (s, &stats);
      printf ("%-5s path      %s\n", names[i], path);
      printf ("%-5s connected after %" G_GINT64_FORMAT " ms\n", names[i],
              stats.time_to_connected_ms);
    }
  if (punch_session_get_state (d->peer[0]) == PUNCH_STATE_CONNECTED
      && punch_session_get_state (d->peer[1]) == PUNCH_STATE_CONNECTED && d->t0 == 0)
    send_datagrams (d);
}

static void
on_datagram (PunchSession *s, GBytes *bytes, Demo *d)
{
  d->received += g_bytes_get_size (bytes);
}

static gboolean
finish (gpointer data)
{
  Demo *d = data;

  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
send_some (gpointer data)
{
  Demo *d = data;
  guint8 buf[CHUNK];

  /* paced by time: 16 datagrams a millisecond, about 19 MB/s */
  for (int i = 0; i < 16 && d->sent < TOTAL; i++)
    {
      gsize n = MIN (CHUNK, TOTAL - d->sent);
      memset (buf, (int)(d->sent / CHUNK), sizeof buf);
      if (!punch_session_send (d->peer[0], buf, n, NULL))
        break;
      d->sent += n;
    }
  if (d->sent < TOTAL)
    return G_SOURCE_CONTINUE;
  d->t1 = g_get_monotonic_time ();
  /* datagrams may be lost: wait a moment for stragglers, then report */
  g_timeout_add (500, finish, d);
  return G_SOURCE_REMOVE;
}

static void
send_datagrams (Demo *d)
{
  d->t0 = g_get_monotonic_time ();
  printf ("alice     sending %d MiB of datagrams to bob\n", TOTAL >> 20);
  g_timeout_add (1, send_some, d);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- connect two punch sessions in one process");
  g_autofree char *turn = NULL, *user = NULL, *pass = NULL;
  gboolean relay_only = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_new ();
  Demo d = { 0 };
  GOptionEntry entries[]
      = { { "turn", 0, 0, G_OPTION_ARG_STRING, &turn, "TURN server, e.g. turn:127.0.0.1:3478",
            "URI" },
          { "turn-user", 0, 0, G_OPTION_ARG_STRING, &user, "TURN username", "U" },
          { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &pass, "TURN password", "P" },
          { "relay-only", 0, 0, G_OPTION_ARG_NONE, &relay_only, "use relay candidates only", NULL },
          { NULL } };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  /* 1. one config for both: loopback only, optional TURN */
  config->local_addresses = g_strsplit ("127.0.0.1", ",", -1);
  config->ipv6 = FALSE;
  config->connect_timeout_ms = 10000;
  if (turn && !punch_config_add_ice_server (config, turn, user, pass, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (relay_only)
    config->policy = PUNCH_POLICY_RELAY;

  /* 2. two sessions, one controlling */
  d.loop = g_main_loop_new (NULL, FALSE);
  for (int i = 0; i < 2; i++)
    {
      config->role = i == 0 ? PUNCH_ROLE_CONTROLLING : PUNCH_ROLE_CONTROLLED;
      d.peer[i] = punch_session_new (config, &error);
      if (d.peer[i] == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 2;
        }
      g_signal_connect (d.peer[i], "local-candidate", G_CALLBACK (on_candidate), &d);
      g_signal_connect (d.peer[i], "gathering-done", G_CALLBACK (on_gathering_done), &d);
      g_signal_connect (d.peer[i], "state-changed", G_CALLBACK (on_state), &d);
    }
  g_signal_connect (d.peer[1], "datagram", G_CALLBACK (on_datagram), &d);

  /* 3. exchange credentials and key fingerprints (what signaling carries
   * first, in each side's description), then start */
  for (int i = 0; i < 2; i++)
    {
      g_autoptr (PunchDescription) desc = punch_session_get_local_description (d.peer[1 - i]);
      if (!punch_session_set_remote_description (d.peer[i], desc, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
    }
  for (int i = 0; i < 2; i++)
    if (!punch_session_start (d.peer[i], &error))
      {
        g_printerr ("%s\n", error->message);
        return 1;
      }

  g_main_loop_run (d.loop);
  if (d.exit_code == 0)
    {
      double secs = (d.t1 - d.t0) / 1e6;
      printf ("bob       received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
              " bytes (%.2f%% lost), sent in %.3f s\n",
              d.received, d.sent, 100.0 * (d.sent - d.received) / d.sent, secs);
    }
  for (int i = 0; i < 2; i++)
    g_object_unref (d.peer[i]);
  g_main_loop_unref (d.loop);
  return d.exit_code;
}
