/* nice-baseline.c: the connect benchmark's baseline, raw libnice with its defaults
 *
 * What an application gets from libnice 0.1.21 when it follows libnice's own
 * examples (examples/sdp-example.c): nice_agent_new() in RFC 5245 mode with
 * every property at its default (ice-tcp and ice-udp on, UPnP on, regular
 * libnice timers; nomination is aggressive unless a TCP candidate forces
 * regular nomination, which with ice-tcp on it does); the STUN server
 * ("stun-server"/"stun-server-port") and TURN (nice_agent_set_relay_info())
 * when given. Like sdp-example it does not trickle: it gathers every
 * candidate, then sends its credentials and candidates in one message, and
 * hands the peer's to libnice in one nice_agent_set_remote_candidates() call.
 *
 * Signaling goes through the same punch-signal server as `punch connect`
 * (PunchSignalClient, a `description` message with end-of-candidates), so
 * both tools pay the same signaling path, delays included. The candidate
 * lines are libnice's own SDP (nice_agent_generate_local_candidate_sdp() /
 * nice_agent_parse_remote_candidate_sdp()); punch-signal only carries them.
 * The only property set is "controlling-mode", which ICE needs (the peer that
 * was in the room first is controlled, as in punch connect).
 *
 * Gathering starts at once, in parallel with joining the room (punch connect
 * joins first): that can only favour the baseline.
 *
 * When the component is connected (CONNECTED or READY with a selected pair,
 * punch's own definition), it sends a small datagram, again every 100 ms
 * (10 times at most); it exits 500 ms after the first datagram from the peer.
 * On stderr, NDJSON events with the same names and fields as `punch connect
 * --json`: joined, gathering-done, connected {elapsed_ms, local, remote,
 * relayed}, first-byte {elapsed_ms}, error {code, message}; elapsed_ms counts
 * from the start of main().
 *
 *   nice-baseline --signal ws://IP:PORT/ws --room R --token T
 *                 [--stun IP:PORT] [--turn IP:PORT:udp|tcp --turn-user U --turn-pass P]
 *                 [--timeout S]
 *
 * Built only by tests/bench/meson.build; not installed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nice/agent.h>
#include <punch.h>

#include "punch-signal-client.h"

typedef struct
{
  GMainLoop *loop;
  gint64 t0;
  int exit_code;
  PunchSignalClient *client;
  NiceAgent *agent;
  guint stream_id;
  gboolean joined, gathered, sent_desc, connected, got_byte, remote_set;
  char *peer_id;
  guint send_timer, sends, linger_timer;
} Baseline;

static gint64
elapsed_ms (Baseline *b)
{
  return (g_get_monotonic_time () - b->t0) / 1000;
}

/* one NDJSON event on stderr; @fields is a JSON object body or "" */
static void event (Baseline *b, const char *name, const char *fields_fmt, ...) G_GNUC_PRINTF (3, 4);

static void
event (Baseline *b, const char *name, const char *fields_fmt, ...)
{
  va_list ap;
  g_autofree char *fields = NULL;

  va_start (ap, fields_fmt);
  fields = g_strdup_vprintf (fields_fmt, ap);
  va_end (ap);
  fprintf (stderr, "{\"event\":\"%s\",\"data\":{%s}}\n", name, fields);
  fflush (stderr);
}

static void
finish (Baseline *b, int code, const char *err_code, const char *message)
{
  if (b->exit_code >= 0)
    return;
  b->exit_code = code;
  if (err_code)
    {
      g_autofree char *esc = g_strescape (message, NULL);
      event (b, "error", "\"code\":\"%s\",\"message\":\"%s\"", err_code, esc);
    }
  g_main_loop_quit (b->loop);
}

static const char *
type_name (NiceCandidateType t)
{
  switch (t)
    {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    default: return "?";
    }
}

static char *
cand_json (const NiceCandidate *c)
{
  char ip[NICE_ADDRESS_STRING_LEN];

  nice_address_to_string (&c->addr, ip);
  return g_strdup_printf ("{\"type\":\"%s\",\"transport\":\"%s\",\"address\":\"%s\",\"port\":%u}",
                          type_name (c->type),
                          c->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp", ip,
                          nice_address_get_port (&c->addr));
}

/* ---- data ------------------------------------------------------------------ */

static gboolean
on_send_timer (gpointer data)
{
  Baseline *b = data;
  static const char payload[] = "x";

  nice_agent_send (b->agent, b->stream_id, 1, sizeof payload - 1, payload);
  if (++b->sends >= 10)
    {
      b->send_timer = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_linger_done (gpointer data)
{
  Baseline *b = data;

  b->linger_timer = 0;
  finish (b, 0, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
on_recv (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
         gpointer data)
{
  Baseline *b = data;

  if (b->got_byte || len == 0)
    return;
  b->got_byte = TRUE;
  event (b, "first-byte", "\"elapsed_ms\":%" G_GINT64_FORMAT, elapsed_ms (b));
  b->linger_timer = g_timeout_add (500, on_linger_done, b);
}

static void
maybe_connected (Baseline *b, guint state)
{
  NiceCandidate *lc = NULL, *rc = NULL;
  g_autofree char *ljson = NULL, *rjson = NULL;

  if (b->connected
      || (state != NICE_COMPONENT_STATE_CONNECTED && state != NICE_COMPONENT_STATE_READY))
    return;
  if (!nice_agent_get_selected_pair (b->agent, b->stream_id, 1, &lc, &rc))
    return;
  b->connected = TRUE;
  ljson = cand_json (lc);
  rjson = cand_json (rc);
  event (b, "connected",
         "\"elapsed_ms\":%" G_GINT64_FORMAT ",\"local\":%s,\"remote\":%s,\"relayed\":%s",
         elapsed_ms (b), ljson, rjson,
         lc->type == NICE_CANDIDATE_TYPE_RELAYED || rc->type == NICE_CANDIDATE_TYPE_RELAYED
             ? "true"
             : "false");
  on_send_timer (b);
  b->send_timer = g_timeout_add (100, on_send_timer, b);
}

static void
on_state (NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
  Baseline *b = data;

  event (b, "state", "\"state\":\"%s\",\"elapsed_ms\":%" G_GINT64_FORMAT,
         nice_component_state_to_string (state), elapsed_ms (b));
  if (state == NICE_COMPONENT_STATE_FAILED && !b->connected)
    finish (b, 1, "ice-failed", "libnice reported FAILED");
  maybe_connected (b, state);
}

static void
on_selected_pair (NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *lc,
                  NiceCandidate *rc, gpointer data)
{
  Baseline *b = data;

  maybe_connected (b, nice_agent_get_component_state (agent, stream_id, 1));
}

/* ---- signaling ------------------------------------------------------------- */

/* Our credentials and every candidate, once gathered and once there is a peer. */
static void
maybe_send_description (Baseline *b)
{
  g_autoptr (PunchDescription) desc = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *ufrag = NULL, *pwd = NULL;
  GSList *cands;

  if (b->sent_desc || !b->joined || !b->gathered || b->peer_id == NULL)
    return;
  nice_agent_get_local_credentials (b->agent, b->stream_id, &ufrag, &pwd);
  desc = punch_description_new (ufrag, pwd);
  cands = nice_agent_get_local_candidates (b->agent, b->stream_id, 1);
  for (GSList *l = cands; l; l = l->next)
    {
      g_autofree char *sdp = nice_agent_generate_local_candidate_sdp (b->agent, l->data);
      /* "a=candidate:..." -> the RFC 8839 "candidate:..." line punch-signal carries */
      PunchCandidate *pc
          = punch_candidate_parse (g_str_has_prefix (sdp, "a=") ? sdp + 2 : sdp, NULL);
      if (pc)
        g_ptr_array_add (desc->candidates, pc);
      else
        g_printerr ("nice-baseline: cannot carry candidate '%s'\n", sdp);
    }
  g_slist_free_full (cands, (GDestroyNotify)nice_candidate_free);
  desc->end_of_candidates = TRUE;
  if (!punch_signal_client_send_description (b->client, b->peer_id, desc, &error))
    {
      finish (b, 1, "signaling", error->message);
      return;
    }
  b->sent_desc = TRUE;
}

static void
on_description (PunchSignalClient *client, const char *from, PunchDescription *desc, Baseline *b)
{
  GSList *list = NULL;

  if (b->remote_set)
    return;
  b->remote_set = TRUE;
  if (b->peer_id == NULL)
    b->peer_id = g_strdup (from);
  if (!nice_agent_set_remote_credentials (b->agent, b->stream_id, desc->ufrag, desc->pwd))
    {
      finish (b, 1, "invalid-argument", "libnice refused the remote credentials");
      return;
    }
  for (guint i = 0; i < desc->candidates->len; i++)
    {
      g_autofree char *line = punch_candidate_to_string (desc->candidates->pdata[i]);
      g_autofree char *sdp = g_strconcat ("a=", line, NULL);
      NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp (b->agent, b->stream_id, sdp);
      if (nc)
        list = g_slist_append (list, nc);
    }
  nice_agent_set_remote_candidates (b->agent, b->stream_id, 1, list);
  g_slist_free_full (list, (GDestroyNotify)nice_candidate_free);
  maybe_send_description (b);
}

static void
on_peer_joined (PunchSignalClient *client, const char *id, Baseline *b)
{
  if (b->peer_id == NULL)
    b->peer_id = g_strdup (id);
  maybe_send_description (b);
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer data)
{
  Baseline *b = data;
  g_autoptr (GError) error = NULL;
  const char *const *peers;

  if (!punch_signal_client_join_finish (PUNCH_SIGNAL_CLIENT (source), result, &error))
    {
      finish (b, 1, "signaling", error->message);
      return;
    }
  b->joined = TRUE;
  peers = punch_signal_client_get_peers (b->client);
  /* the newcomer controls, as in punch connect */
  g_object_set (b->agent, "controlling-mode",
                punch_signal_client_get_role (b->client) == PUNCH_ROLE_CONTROLLING, NULL);
  event (b, "joined", "\"role\":\"%s\",\"peers\":%u,\"elapsed_ms\":%" G_GINT64_FORMAT,
         punch_role_to_string (punch_signal_client_get_role (b->client)),
         g_strv_length ((char **)peers), elapsed_ms (b));
  if (peers[0] && b->peer_id == NULL)
    b->peer_id = g_strdup (peers[0]);
  maybe_send_description (b);
}

static void
on_gathering_done (NiceAgent *agent, guint stream_id, gpointer data)
{
  Baseline *b = data;

  b->gathered = TRUE;
  event (b, "gathering-done", "\"elapsed_ms\":%" G_GINT64_FORMAT, elapsed_ms (b));
  maybe_send_description (b);
}

static gboolean
on_timeout (gpointer data)
{
  Baseline *b = data;

  finish (b, 1, "timeout", b->connected ? "no data from the peer" : "no connection");
  return G_SOURCE_REMOVE;
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_main_loop_quit (data);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* "IP:PORT" or "IP:PORT:TRANSPORT" */
static gboolean
split_server (const char *s, char **ip, guint *port, gboolean *tcp)
{
  g_auto (GStrv) parts = g_strsplit (s, ":", 3);
  guint64 p;

  if (g_strv_length (parts) < 2 || !g_hostname_is_ip_address (parts[0])
      || !g_ascii_string_to_unsigned (parts[1], 10, 1, 65535, &p, NULL))
    return FALSE;
  *ip = g_strdup (parts[0]);
  *port = (guint)p;
  if (tcp)
    *tcp = parts[2] && g_str_equal (parts[2], "tcp");
  return TRUE;
}

int
main (int argc, char **argv)
{
  Baseline b = { .exit_code = -1 };
  g_autofree char *signal = NULL, *room = NULL, *token = NULL, *stun = NULL, *turn = NULL;
  g_autofree char *turn_user = NULL, *turn_pass = NULL;
  int timeout_s = 10;
  const GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &signal, "punch-signal URL", "URL" },
    { "room", 0, 0, G_OPTION_ARG_STRING, &room, "room", "ROOM" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token, "room token", "T" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN server", "IP:PORT" },
    { "turn", 0, 0, G_OPTION_ARG_STRING, &turn, "TURN server", "IP:PORT:udp|tcp" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &turn_user, "TURN user", "U" },
    { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &turn_pass, "TURN password", "P" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "seconds (default 10)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- raw libnice baseline for bench-connect");
  g_autoptr (GError) error = NULL;
  g_autofree char *ip = NULL;
  guint port = 0;
  gboolean tcp = FALSE;

  b.t0 = g_get_monotonic_time ();
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || signal == NULL || room == NULL
      || timeout_s <= 0)
    {
      g_printerr ("nice-baseline: %s\n",
                  error ? error->message : "--signal and --room are required");
      return 2;
    }

  b.loop = g_main_loop_new (NULL, FALSE);
  b.agent = nice_agent_new (g_main_context_default (), NICE_COMPATIBILITY_RFC5245);
  b.stream_id = nice_agent_add_stream (b.agent, 1);
  if (stun)
    {
      if (!split_server (stun, &ip, &port, NULL))
        {
          g_printerr ("nice-baseline: bad --stun '%s'\n", stun);
          return 2;
        }
      g_object_set (b.agent, "stun-server", ip, "stun-server-port", port, NULL);
      g_clear_pointer (&ip, g_free);
    }
  if (turn)
    {
      if (!split_server (turn, &ip, &port, &tcp) || !turn_user || !turn_pass)
        {
          g_printerr ("nice-baseline: bad --turn '%s' (and --turn-user/--turn-pass)\n", turn);
          return 2;
        }
      nice_agent_set_relay_info (b.agent, b.stream_id, 1, ip, port, turn_user, turn_pass,
                                 tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP);
    }
  g_signal_connect (b.agent, "candidate-gathering-done", G_CALLBACK (on_gathering_done), &b);
  g_signal_connect (b.agent, "component-state-changed", G_CALLBACK (on_state), &b);
  g_signal_connect (b.agent, "new-selected-pair-full", G_CALLBACK (on_selected_pair), &b);
  nice_agent_attach_recv (b.agent, b.stream_id, 1, g_main_context_default (), on_recv, &b);

  b.client = punch_signal_client_new (signal, &error);
  if (b.client == NULL)
    {
      g_printerr ("nice-baseline: %s\n", error->message);
      return 2;
    }
  punch_signal_client_set_reconnect (b.client, FALSE);
  g_signal_connect (b.client, "description", G_CALLBACK (on_description), &b);
  g_signal_connect (b.client, "peer-joined", G_CALLBACK (on_peer_joined), &b);

  if (!nice_agent_gather_candidates (b.agent, b.stream_id))
    {
      g_printerr ("nice-baseline: libnice could not gather candidates\n");
      return 1;
    }
  punch_signal_client_join_async (b.client, room, token, NULL, on_joined, &b);
  g_timeout_add_seconds ((guint)timeout_s, on_timeout, &b);
  g_main_loop_run (b.loop);

  g_clear_handle_id (&b.send_timer, g_source_remove);
  g_clear_handle_id (&b.linger_timer, g_source_remove);
  punch_signal_client_close (b.client);
  nice_agent_attach_recv (b.agent, b.stream_id, 1, g_main_context_default (), NULL, NULL);
  nice_agent_close_async (b.agent, on_closed, b.loop);
  g_timeout_add (2000, quit_loop, b.loop); /* do not hang on a TURN server that went away */
  g_main_loop_run (b.loop);
  g_object_unref (b.agent);
  g_object_unref (b.client);
  g_main_loop_unref (b.loop);
  g_free (b.peer_id);
  return b.exit_code;
}
