/* lab-peer.c: one libpunch peer for the NAT lab's traversal tests
 *
 * Two of these run in two lab namespaces, behind two kernel NATs. They meet
 * through a directory both can see (namespaces share the filesystem): each
 * writes its description (SDP attribute lines) to DIR/NAME.sdp once gathering
 * is done and polls for the other's. This tests libpunch's traversal; the
 * signaling service is tested on its own.
 *
 * Once connected, the controlling peer sends 64 datagrams and the other echoes
 * them; the peer prints one JSON line with what happened and exits 0, or 1
 * with the error.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <punch.h>

#define PINGS 64

typedef struct
{
  PunchSession *session;
  GMainLoop *loop;
  char *dir;
  char *name;
  char *peer;
  gboolean controlling;
  gboolean have_remote;
  guint poll_source;
  gint64 t0;
  gint64 connected_ms;
  gboolean verbose;
  guint echoes;
  int exit_code;
  char *error;
} Peer;

static gboolean
quit_later (gpointer data)
{
  g_main_loop_quit (((Peer *)data)->loop);
  return G_SOURCE_REMOVE;
}

static void
write_description (Peer *p)
{
  g_autoptr (PunchDescription) desc = punch_session_get_local_description (p->session);
  g_autofree char *sdp = punch_description_to_sdp (desc);
  g_autofree char *tmp = g_strdup_printf ("%s/%s.sdp.tmp", p->dir, p->name);
  g_autofree char *path = g_strdup_printf ("%s/%s.sdp", p->dir, p->name);

  g_file_set_contents (tmp, sdp, -1, NULL);
  g_rename (tmp, path); /* atomic: the peer never reads half a file */
}

static gboolean
poll_remote (gpointer data)
{
  Peer *p = data;
  g_autofree char *path = g_strdup_printf ("%s/%s.sdp", p->dir, p->peer);
  g_autofree char *sdp = NULL;
  g_autoptr (PunchDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &sdp, NULL, NULL))
    return G_SOURCE_CONTINUE;
  desc = punch_description_parse_sdp (sdp, &error);
  if (desc == NULL || !punch_session_set_remote_description (p->session, desc, &error))
    {
      p->error = g_strdup (error->message);
      p->exit_code = 1;
      g_main_loop_quit (p->loop);
    }
  p->poll_source = 0;
  return G_SOURCE_REMOVE;
}

static void say (Peer *p, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
say (Peer *p, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *text = NULL;

  if (!p->verbose)
    return;
  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("%-5s %6.0f ms  %s\n", p->name, (g_get_monotonic_time () - p->t0) / 1000.0, text);
}

static void
on_candidate (PunchSession *s, const char *line, Peer *p)
{
  say (p, "gathered  %s", line);
}

static void
on_gathering_done (PunchSession *s, Peer *p)
{
  say (p, "gathering done; description written for %s", p->peer);
  write_description (p);
}

static void
on_datagram (PunchSession *s, GBytes *bytes, Peer *p)
{
  if (p->controlling)
    {
      if (++p->echoes == PINGS)
        {
          say (p, "all %d datagrams came back from %s", PINGS, p->peer);
          g_main_loop_quit (p->loop);
        }
    }
  else
    {
      gsize len;
      const void *data = g_bytes_get_data (bytes, &len);
      punch_session_send (s, data, len, NULL);
      if (++p->echoes == PINGS)
        g_timeout_add (300, quit_later, p); /* let the last echo leave */
    }
}

static gboolean
send_pings (gpointer data)
{
  Peer *p = data;
  static guint sent;
  char buf[64];

  if (punch_session_get_state (p->session) != PUNCH_STATE_CONNECTED)
    return G_SOURCE_REMOVE;
  g_snprintf (buf, sizeof buf, "ping %u", sent);
  punch_session_send (p->session, buf, strlen (buf), NULL);
  return ++sent < PINGS * 4 && p->echoes < PINGS ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
on_state (PunchSession *s, PunchState state, Peer *p)
{
  say (p, "state     %s", punch_state_to_string (state));
  if (state == PUNCH_STATE_CONNECTED)
    {
      g_autofree char *path = punch_pair_describe (punch_session_get_selected_pair (s));
      say (p, "path      %s", path);
      p->connected_ms = (g_get_monotonic_time () - p->t0) / 1000;
      if (p->controlling)
        g_timeout_add (10, send_pings, p);
    }
  else if (state == PUNCH_STATE_FAILED)
    {
      const GError *e = punch_session_get_error (s);
      p->error = g_strdup_printf ("%s: %s", punch_error_code_to_string (e->code), e->message);
      p->exit_code = 1;
      g_main_loop_quit (p->loop);
    }
}

static void
print_candidate (GString *json, const char *key, const PunchCandidate *c)
{
  g_string_append_printf (
      json, "\"%s\":{\"type\":\"%s\",\"transport\":\"%s\",\"address\":\"%s\",\"port\":%u}", key,
      punch_candidate_type_to_string (c->type), punch_transport_to_string (c->transport),
      c->address, c->port);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- a libpunch peer for the NAT lab");
  g_autofree char *dir = NULL, *name = NULL, *peer = NULL, *stun = NULL, *turn = NULL;
  g_autofree char *user = NULL, *pass = NULL;
  gboolean controlling = FALSE, relay_only = FALSE;
  int timeout = 20;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_new ();
  g_autoptr (GString) json = g_string_new (NULL);
  Peer p = { 0 };
  GOptionEntry entries[]
      = { { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "meeting directory", "DIR" },
          { "name", 0, 0, G_OPTION_ARG_STRING, &name, "this peer's name", "NAME" },
          { "peer", 0, 0, G_OPTION_ARG_STRING, &peer, "the other peer's name", "NAME" },
          { "controlling", 0, 0, G_OPTION_ARG_NONE, &controlling, "take the controlling role",
            NULL },
          { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN URI", "URI" },
          { "turn", 0, 0, G_OPTION_ARG_STRING, &turn, "TURN URI", "URI" },
          { "turn-user", 0, 0, G_OPTION_ARG_STRING, &user, "TURN username", "U" },
          { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &pass, "TURN password", "P" },
          { "relay-only", 0, 0, G_OPTION_ARG_NONE, &relay_only, "relay candidates only", NULL },
          { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "seconds to connect (default 20)", "S" },
          { "verbose", 'v', 0, G_OPTION_ARG_NONE, &p.verbose, "print progress on stderr", NULL },
          { NULL } };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !dir || !name || !peer)
    {
      g_printerr ("%s\n", error ? error->message : "--dir, --name and --peer are required");
      return 2;
    }
  if ((stun && !punch_config_add_ice_server (config, stun, NULL, NULL, &error))
      || (turn && !punch_config_add_ice_server (config, turn, user, pass, &error)))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  config->policy = relay_only ? PUNCH_POLICY_RELAY : PUNCH_POLICY_ALL;
  config->role = controlling ? PUNCH_ROLE_CONTROLLING : PUNCH_ROLE_CONTROLLED;
  config->connect_timeout_ms = timeout * 1000;

  p.dir = dir;
  p.name = name;
  p.peer = peer;
  p.controlling = controlling;
  p.loop = g_main_loop_new (NULL, FALSE);
  p.t0 = g_get_monotonic_time ();
  p.session = punch_session_new (config, &error);
  if (p.session == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  g_signal_connect (p.session, "local-candidate", G_CALLBACK (on_candidate), &p);
  g_signal_connect (p.session, "gathering-done", G_CALLBACK (on_gathering_done), &p);
  g_signal_connect (p.session, "state-changed", G_CALLBACK (on_state), &p);
  g_signal_connect (p.session, "datagram", G_CALLBACK (on_datagram), &p);
  if (!punch_session_start (p.session, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  p.poll_source = g_timeout_add (20, poll_remote, &p);
  g_timeout_add_seconds (timeout + 5, quit_later, &p); /* a last resort */
  g_main_loop_run (p.loop);

  g_string_append_printf (json, "{\"name\":\"%s\",\"connected\":%s", name,
                          p.connected_ms > 0 && p.exit_code == 0 ? "true" : "false");
  if (p.connected_ms > 0)
    {
      const PunchPair *pair = punch_session_get_selected_pair (p.session);
      g_string_append_printf (json, ",\"elapsed_ms\":%" G_GINT64_FORMAT ",\"echoes\":%u",
                              p.connected_ms, p.echoes);
      if (pair)
        {
          g_string_append (json, ",");
          print_candidate (json, "local", pair->local);
          g_string_append (json, ",");
          print_candidate (json, "remote", pair->remote);
          g_string_append_printf (json, ",\"relayed\":%s", pair->relayed ? "true" : "false");
        }
    }
  if (p.error)
    {
      g_autofree char *escaped = g_strescape (p.error, NULL);
      g_string_append_printf (json, ",\"error\":\"%s\"", escaped);
    }
  g_string_append (json, "}");
  printf ("%s\n", json->str);
  if (p.exit_code == 0 && p.echoes < PINGS)
    p.exit_code = 1;
  g_clear_handle_id (&p.poll_source, g_source_remove);
  g_object_unref (p.session);
  g_main_loop_unref (p.loop);
  g_free (p.error);
  return p.exit_code;
}
