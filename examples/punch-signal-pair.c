/* punch-signal-pair.c: one peer that meets another through punch-signal
 *
 * Run it twice with the same room, in either order (two machines, or two
 * terminals): each joins the room, gets a connected PunchSession from
 * libpunch-signal, sends its --message to the other as a datagram and
 * prints the other's message on stdout. Progress goes to stderr.
 *
 *   punch-signal --listen 127.0.0.1:8765 --insecure-no-auth &
 *   punch-signal-pair --signal ws://127.0.0.1:8765/ws --room demo --message hello &
 *   punch-signal-pair --signal ws://127.0.0.1:8765/ws --room demo --message world
 *
 * It uses only the installed API, <punch/punch.h> and <punch/punch-signal.h>:
 *
 *   cc punch-signal-pair.c $(pkg-config --cflags --libs punch-signal)
 *
 * Datagrams may be lost, so each side repeats its message every 100 ms until
 * the other acknowledges it, and answers every copy it gets with an ack.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <punch/punch.h>
#include <punch/punch-signal.h>

#define RESEND_MS 100
#define LINGER_MS 300 /* after both are done: answer the peer's last copies */

typedef struct
{
  GMainLoop *loop;
  int exit_code;
  gint64 t0;
  char *message;

  PunchSignalClient *client;
  PunchSignalBinding *binding;
  PunchSession *session; /* the one the binding holds */
  guint resend_id;
  gboolean got_message;
  gboolean got_ack;
} Peer;

static double
seconds (Peer *p)
{
  return (double)(g_get_monotonic_time () - p->t0) / G_USEC_PER_SEC;
}

static void
finish (Peer *p, int exit_code)
{
  if (p->exit_code < 0)
    p->exit_code = exit_code;
  g_main_loop_quit (p->loop);
}

static void
fail (Peer *p, const char *what, const GError *error)
{
  g_printerr ("%.3f s: %s: %s\n", seconds (p), what, error ? error->message : "failed");
  finish (p, 1);
}

/* ---- the data: MSG:<text> and ACK ---- */

static gboolean
on_linger_over (gpointer data)
{
  finish (data, 0);
  return G_SOURCE_REMOVE;
}

static void
maybe_done (Peer *p)
{
  if (!p->got_message || !p->got_ack || p->resend_id == 0)
    return;
  g_clear_handle_id (&p->resend_id, g_source_remove);
  g_timeout_add (LINGER_MS, on_linger_over, p);
}

static gboolean
send_message (gpointer data)
{
  Peer *p = data;
  g_autofree char *msg = g_strdup_printf ("MSG:%s", p->message);
  g_autoptr (GError) error = NULL;

  if (!punch_session_send (p->session, msg, strlen (msg), &error))
    g_printerr ("%.3f s: send: %s\n", seconds (p), error->message);
  return G_SOURCE_CONTINUE;
}

static void
on_datagram (PunchSession *session, GBytes *data, Peer *p)
{
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);

  if (len == 3 && memcmp (bytes, "ACK", 3) == 0)
    p->got_ack = TRUE;
  else if (len >= 4 && memcmp (bytes, "MSG:", 4) == 0)
    {
      punch_session_send (session, "ACK", 3, NULL);
      if (!p->got_message)
        {
          p->got_message = TRUE;
          printf ("%.*s\n", (int)(len - 4), bytes + 4);
          fflush (stdout);
        }
    }
  maybe_done (p);
}

/* ---- the session ---- */

static void
on_state_changed (PunchSession *session, guint state, Peer *p)
{
  g_printerr ("%.3f s: state %s\n", seconds (p), punch_state_to_string (state));
  if (session != p->session)
    return; /* an early session the join replaced */
  if (state == PUNCH_STATE_CONNECTED && p->resend_id == 0 && !p->got_ack)
    {
      const PunchPair *pair = punch_session_get_selected_pair (session);
      g_autofree char *path = punch_pair_describe (pair);

      g_printerr ("%.3f s: connected: %s\n", seconds (p), path);
      send_message (p);
      p->resend_id = g_timeout_add (RESEND_MS, send_message, p);
    }
  else if (state == PUNCH_STATE_FAILED)
    fail (p, "session failed", punch_session_get_error (session));
}

static void
on_local_candidate (PunchSession *session, const char *line, Peer *p)
{
  g_printerr ("%.3f s: gathered %s\n", seconds (p), line);
}

/* Emitted before each session the join makes starts: follow it from the
 * first candidate, gathered while the client is still joining. */
static void
on_session_created (PunchSignalClient *client, PunchSession *session, Peer *p)
{
  g_signal_connect (session, "local-candidate", G_CALLBACK (on_local_candidate), p);
  g_signal_connect (session, "state-changed", G_CALLBACK (on_state_changed), p);
}

static void
on_binding_error (PunchSignalBinding *binding, GError *error, Peer *p)
{
  fail (p, "signaling", error);
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;

  p->binding
      = punch_signal_client_join_session_finish (PUNCH_SIGNAL_CLIENT (source), result, &error);
  if (p->binding == NULL)
    {
      fail (p, "cannot join the room", error);
      return;
    }
  p->session = punch_signal_binding_get_session (p->binding);
  g_printerr ("%.3f s: joined as %s (%s)\n", seconds (p), punch_signal_client_get_id (p->client),
              punch_role_to_string (punch_signal_client_get_role (p->client)));
  g_signal_connect (p->session, "datagram", G_CALLBACK (on_datagram), p);
  g_signal_connect (p->binding, "error", G_CALLBACK (on_binding_error), p);
  /* the state so far was reported by on_state_changed(), connected from
   * `session-created`; only now can it act on it */
  if (punch_session_get_state (p->session) == PUNCH_STATE_FAILED)
    fail (p, "session failed", punch_session_get_error (p->session));
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;

  punch_session_close_finish (PUNCH_SESSION (source), result, NULL);
  g_main_loop_quit (p->loop);
}

static gboolean
on_deadline (gpointer data)
{
  Peer *p = data;

  g_printerr ("%.3f s: no exchange with a peer in time\n", seconds (p));
  finish (p, 1);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *signal_url = NULL;
  g_autofree char *room = NULL;
  g_autofree char *token = NULL;
  g_autofree char *message = NULL;
  g_auto (GStrv) local_addresses = NULL;
  int timeout_s = 20;
  const GOptionEntry entries[] = {
    { "signal", 's', 0, G_OPTION_ARG_STRING, &signal_url, "The punch-signal server (required)",
      "ws[s]://HOST:PORT/ws" },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &room, "The room to meet in (required)", "ROOM" },
    { "token", 't', 0, G_OPTION_ARG_STRING, &token, "The room token ('punch-signal token')",
      "TOKEN" },
    { "message", 'm', 0, G_OPTION_ARG_STRING, &message, "What to send (default: hello)", "TEXT" },
    { "local-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &local_addresses,
      "Gather host candidates only on this address (repeatable)", "IP" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Give up after this (default 20)", "SECONDS" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- meet a peer, trade one message");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = punch_config_new ();
  Peer p = { .exit_code = -1 };
  guint deadline;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || signal_url == NULL || room == NULL
      || timeout_s <= 0)
    {
      g_printerr ("punch-signal-pair: %s\n",
                  error ? error->message : "--signal and --room are required");
      return 2;
    }
  if (local_addresses)
    {
      g_strfreev (config->local_addresses);
      config->local_addresses = g_strdupv (local_addresses);
    }
  config->upnp = FALSE;

  p.client = punch_signal_client_new (signal_url, &error);
  if (p.client == NULL)
    {
      g_printerr ("punch-signal-pair: %s\n", error->message);
      return 2;
    }
  p.t0 = g_get_monotonic_time ();
  p.loop = g_main_loop_new (NULL, FALSE);
  p.message = message ? message : (char *)"hello";
  g_signal_connect (p.client, "session-created", G_CALLBACK (on_session_created), &p);
  punch_signal_client_join_session_async (p.client, room, token, config, NULL, on_joined, &p);
  deadline = g_timeout_add_seconds ((guint)timeout_s, on_deadline, &p);
  g_main_loop_run (p.loop);

  g_source_remove (deadline);
  g_clear_handle_id (&p.resend_id, g_source_remove);
  if (p.binding)
    {
      punch_signal_client_send_bye (p.client, punch_signal_binding_get_remote_id (p.binding), NULL);
      /* releases TURN allocations, if any, before the last unref */
      punch_session_close_async (p.session, NULL, on_closed, &p);
      g_main_loop_run (p.loop);
    }
  g_clear_object (&p.binding);
  punch_signal_client_close (p.client);
  g_clear_object (&p.client);
  g_main_loop_unref (p.loop);
  return p.exit_code < 0 ? 1 : p.exit_code;
}
