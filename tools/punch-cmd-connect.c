/* punch-cmd-connect.c: `punch connect`, two peers through signaling, then a pipe
 *
 * The peer joins a room on punch-signal, lets PunchSignalBinding trade the
 * ICE description and trickled candidates with the other peer of the room,
 * and once the session is connected pipes stdin to the peer and the peer to
 * stdout (punch-pipe.c). Everything else goes to stderr: progress as text,
 * or NDJSON events with --json.
 *
 * Everything after the ICE checks is QUIC with TLS 1.3 (libpunch): the peer
 * must present the key whose fingerprint it announced through signaling, and
 * with --peer / --known-peers one of the pinned keys.
 *
 * Ending (secure): the pipe is done when the peer has acknowledged every byte
 * and our end of stream at the transport level, and the peer's end has come
 * and gone to stdout. Then the session closes (telling the peer we have it
 * all) and the command exits 0: signaling plays no part. A transfer that
 * cannot be confirmed exits 1.
 *
 * Ending (--insecure-plaintext, datagrams only): each side says `bye` through
 * signaling once its stdin ended, and exits when it also has the peer's bye.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <punch.h>
#include <punch-signal.h>

#include "punch-cmd.h"
#include "punch-output.h"
#include "punch-pipe.h"

/* after our bye: the least time to wait for the peer's (else --timeout) */
#define BYE_WAIT_MIN_S 10
/* datagram mode: let the last datagrams in flight arrive */
#define DATAGRAM_LINGER_MS 300

typedef struct
{
  GMainLoop *loop;
  PunchOutput *events;
  gint64 t0;
  int exit_code;

  char *room;
  PunchSignalClient *client;
  PunchSignalBinding *binding;
  PunchSession *session;
  PunchPipe *pipe;
  gboolean reliable;
  gboolean secure;
  guint bye_wait_s;

  gboolean connected;
  gboolean pipe_done;
  gboolean sent_bye;
  gboolean peer_bye;
  guint bye_timer;
  guint linger_timer;
} Connect;

static gint64
elapsed_ms (Connect *c)
{
  return (g_get_monotonic_time () - c->t0) / 1000;
}

static void
emit_error (Connect *c, const char *code, const char *message)
{
  punch_output_error (c->events, code, message);
}

/* Ends the run: exit code, then the main loop. Only the first call counts. */
static void
finish (Connect *c, int exit_code)
{
  /* the code is set even before the loop runs (a session that fails while
   * it is made), and a later call still stops a loop that runs */
  if (c->exit_code < 0)
    c->exit_code = exit_code;
  if (g_main_loop_is_running (c->loop))
    g_main_loop_quit (c->loop);
}

static void
fail_with (Connect *c, const GError *error)
{
  const char *code
      = error->domain == PUNCH_ERROR ? punch_error_code_to_string (error->code) : "failed";

  if (c->exit_code < 0)
    emit_error (c, code, error->message);
  finish (c, PUNCH_EXIT_FAILURE);
}

static void
output_candidate (PunchOutput *out, const char *key, const char *prefix, const PunchCandidate *cand)
{
  gboolean text = prefix != NULL; /* NULL: JSON only */

  punch_output_begin_object (out, key, prefix);
  punch_output_string (out, "type", text ? "%s" : NULL,
                       punch_candidate_type_to_string (cand->type));
  punch_output_string (out, "transport", text ? " %s" : NULL,
                       punch_transport_to_string (cand->transport));
  punch_output_string (out, "address", text ? " %s" : NULL, cand->address);
  punch_output_uint (out, "port", text ? ":%" G_GUINT64_FORMAT : NULL, cand->port);
  punch_output_end_object (out, NULL);
}

static void
output_path (Connect *c, const PunchPair *pair)
{
  g_autofree char *path = punch_pair_describe (pair);

  punch_output_string (c->events, "path", "%s", path);
  output_candidate (c->events, "local", NULL, pair->local);
  output_candidate (c->events, "remote", NULL, pair->remote);
  punch_output_bool (c->events, "relayed", NULL, pair->relayed);
}

/* ---- the end ------------------------------------------------------------ */

static void
emit_done (Connect *c)
{
  punch_output_begin (c->events, "done");
  punch_output_uint (c->events, "bytes_sent", "done: sent %" G_GUINT64_FORMAT " B",
                     punch_pipe_get_bytes_sent (c->pipe));
  punch_output_uint (c->events, "bytes_received", ", received %" G_GUINT64_FORMAT " B",
                     punch_pipe_get_bytes_received (c->pipe));
  punch_output_uint (c->events, "transfer_ms", NULL,
                     (guint64)(punch_pipe_get_seconds (c->pipe) * 1000 + 0.5));
  if (!punch_output_is_json (c->events))
    {
      g_autofree char *took = g_strdup_printf (" in %.2f s", punch_pipe_get_seconds (c->pipe));
      punch_output_text (c->events, took);
    }
  if (c->secure)
    {
      PunchStats stats;

      punch_session_get_stats (c->session, &stats);
      punch_output_bool (c->events, "peer_acknowledged", "; the peer acknowledged everything: %s",
                         punch_pipe_get_acknowledged (c->pipe));
      punch_output_int (c->events, "rtt_ms", "; rtt %" G_GINT64_FORMAT " ms", stats.rtt_ms);
      punch_output_uint (c->events, "datagrams_lost", NULL, stats.datagrams_lost);
    }
  else
    punch_output_bool (c->events, "peer_bye", NULL, c->peer_bye);
  punch_output_uint (c->events, "dropped", NULL, punch_pipe_get_dropped (c->pipe));
  punch_output_int (c->events, "elapsed_ms", NULL, elapsed_ms (c));
  if (punch_session_get_selected_pair (c->session))
    {
      punch_output_begin_object (c->events, "final", "; final path: ");
      output_path (c, punch_session_get_selected_pair (c->session));
      punch_output_end_object (c->events, NULL);
    }
  punch_output_end (c->events);
}

static gboolean
on_linger_over (gpointer data)
{
  Connect *c = data;

  c->linger_timer = 0;
  emit_done (c);
  finish (c, PUNCH_EXIT_OK);
  return G_SOURCE_REMOVE;
}

static gboolean
on_bye_timeout (gpointer data)
{
  Connect *c = data;

  c->bye_timer = 0;
  emit_done (c);
  punch_output_begin (c->events, "warning");
  punch_output_uint (c->events, "seconds",
                     "the peer did not say bye within %" G_GUINT64_FORMAT " s", c->bye_wait_s);
  punch_output_string (c->events, "message", "%s", "; leaving anyway");
  punch_output_end (c->events);
  finish (c, PUNCH_EXIT_OK);
  return G_SOURCE_REMOVE;
}

/* Plaintext: done when our pipe is done and the peer has said bye. */
static void
maybe_exit (Connect *c)
{
  if (c->secure || !c->pipe_done || !c->peer_bye || c->exit_code >= 0)
    return;
  g_clear_handle_id (&c->bye_timer, g_source_remove);
  if (c->linger_timer == 0)
    c->linger_timer = g_timeout_add (DATAGRAM_LINGER_MS, on_linger_over, c);
}

static void
send_bye (Connect *c)
{
  g_autoptr (GError) error = NULL;
  const char *to = punch_signal_binding_get_remote_id (c->binding);

  if (c->sent_bye)
    return;
  c->sent_bye = TRUE;
  if (!punch_signal_client_send_bye (c->client, to, &error))
    {
      /* signaling is gone: the peer cannot hear our bye, nor we its */
      punch_output_begin (c->events, "warning");
      punch_output_string (c->events, "message", "cannot say bye: %s", error->message);
      punch_output_end (c->events);
      c->peer_bye = TRUE;
    }
}

static void
on_session_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connect *c = user_data;

  punch_session_close_finish (PUNCH_SESSION (source), result, NULL);
  finish (c, PUNCH_EXIT_OK);
}

static void
on_pipe_done (PunchPipe *pipe, const GError *error, gpointer user_data)
{
  Connect *c = user_data;

  if (error)
    {
      fail_with (c, error);
      return;
    }
  c->pipe_done = TRUE;
  send_bye (c);
  if (c->secure)
    {
      /* the peer has everything we sent (acknowledged), we have everything it
       * sent: say so, close, and leave */
      emit_done (c);
      punch_session_close_async (c->session, NULL, on_session_closed, c);
      return;
    }
  /* plaintext datagrams: no acknowledgement; the peer's bye ends it */
  if (!c->peer_bye)
    c->bye_timer = g_timeout_add_seconds (c->bye_wait_s, on_bye_timeout, c);
  maybe_exit (c);
}

/* ---- the session --------------------------------------------------------- */

static void
on_local_candidate (PunchSession *session, const char *line, Connect *c)
{
  if (c->session && session != c->session)
    return;
  g_autoptr (PunchCandidate) cand = punch_candidate_parse (line, NULL);

  if (cand == NULL)
    return;
  punch_output_begin (c->events, "candidate");
  output_candidate (c->events, "local", "gathered ", cand);
  punch_output_end (c->events);
}

static void
on_gathering_done (PunchSession *session, Connect *c)
{
  if (c->session && session != c->session)
    return;
  punch_output_begin (c->events, "gathering-done");
  punch_output_int (c->events, "elapsed_ms", "gathering done after %" G_GINT64_FORMAT " ms",
                    elapsed_ms (c));
  punch_output_end (c->events);
}

static void
start_pipe (Connect *c)
{
  g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr (GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);

  c->pipe = punch_pipe_new (c->session, c->reliable, in, out, c->events, on_pipe_done, c);
  punch_pipe_set_origin (c->pipe, c->t0);
  punch_pipe_start (c->pipe);
}

static void
output_security (Connect *c)
{
  PunchStats stats;

  punch_session_get_stats (c->session, &stats);
  punch_output_bool (c->events, "encrypted", NULL, c->secure);
  if (!c->secure)
    {
      punch_output_text (c->events, "; NOT encrypted, peer NOT authenticated");
      return;
    }
  punch_output_string (c->events, "peer_fingerprint", "; encrypted (QUIC, TLS 1.3), peer %s",
                       punch_session_get_peer_fingerprint (c->session));
  punch_output_string (c->events, "local_fingerprint", NULL,
                       punch_session_get_local_fingerprint (c->session));
  punch_output_int (c->events, "handshake_ms", " (handshake %" G_GINT64_FORMAT " ms)",
                    stats.handshake_ms);
  punch_output_int (c->events, "path_ms", NULL, stats.time_to_path_ms);
}

/* ICE may move to a better pair after connecting (a direct one that
 * answered after the relay did): say so, and loudly if it is relayed. */
static void
on_selected_pair (PunchSession *session, PunchPair *pair, Connect *c)
{
  if (c->session && session != c->session)
    return;
  if (!c->connected)
    return;
  punch_output_begin (c->events, "path-changed");
  punch_output_int (c->events, "elapsed_ms",
                    "path changed after %" G_GINT64_FORMAT " ms: ", elapsed_ms (c));
  output_path (c, pair);
  punch_output_end (c->events);
}

/* The session restarts ICE (the binding sends the new credentials): say so. */
static void
on_restart (PunchSession *session, guint generation, const char *reason, Connect *c)
{
  if (c->session && session != c->session)
    return;
  punch_output_begin (c->events, "restart");
  punch_output_int (c->events, "generation", "ICE restart %" G_GINT64_FORMAT, generation);
  punch_output_string (c->events, "reason", " (%s)", reason);
  punch_output_int (c->events, "elapsed_ms",
                    " after %" G_GINT64_FORMAT
                    " ms: looking for a new path; the data waits, nothing is lost",
                    elapsed_ms (c));
  punch_output_end (c->events);
}

static void
on_state_changed (PunchSession *session, PunchState state, Connect *c)
{
  /* a session the join replaced, or one closing after we are done */
  if ((c->session && session != c->session) || (c->session == NULL && state == PUNCH_STATE_CLOSED))
    return;
  punch_output_begin (c->events, "state");
  punch_output_string (c->events, "state", "state %s", punch_state_to_string (state));
  punch_output_int (c->events, "elapsed_ms", " (%" G_GINT64_FORMAT " ms)", elapsed_ms (c));
  punch_output_end (c->events);

  if (state == PUNCH_STATE_CONNECTED && !c->connected)
    {
      const PunchPair *pair = punch_session_get_selected_pair (session);

      c->connected = TRUE;
      punch_output_begin (c->events, "connected");
      punch_output_int (c->events, "elapsed_ms",
                        "connected after %" G_GINT64_FORMAT " ms: ", elapsed_ms (c));
      output_path (c, pair);
      punch_output_string (c->events, "mode", NULL, c->reliable ? "reliable" : "datagram");
      output_security (c);
      punch_output_end (c->events);
      if (!c->secure)
        {
          punch_output_begin (c->events, "warning");
          punch_output_string (c->events, "message", "%s",
                               "PLAINTEXT: --insecure-plaintext: anyone on the path can read this "
                               "data and inject datagrams that look like the peer's");
          punch_output_end (c->events);
        }
      if (pair->relayed)
        {
          punch_output_begin (c->events, "warning");
          punch_output_string (c->events, "message", "%s",
                               "RELAYED: every byte goes through the TURN server (ICE keeps "
                               "checking for a direct path; 'punch check' tells why this "
                               "network is hard)");
          punch_output_end (c->events);
        }
      start_pipe (c);
    }
  else if (state == PUNCH_STATE_FAILED)
    {
      const GError *error = punch_session_get_error (session);
      g_autoptr (GError) fallback = NULL;

      if (error == NULL)
        error = fallback = g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_FAILED, "session failed");
      if (c->pipe_done)
        return; /* the peer went away after we were done: not a failure */
      fail_with (c, error);
    }
  else if (state == PUNCH_STATE_CLOSED && c->connected && !c->pipe_done)
    {
      /* the peer closed: our pipe learns from the stream whether it had
       * everything (the close says so) or not */
      punch_output_begin (c->events, "peer-closed");
      punch_output_int (c->events, "elapsed_ms",
                        "the peer closed the connection after %" G_GINT64_FORMAT " ms",
                        elapsed_ms (c));
      punch_output_end (c->events);
    }
}

/* ---- signaling ------------------------------------------------------------ */

static void
on_peer_joined (PunchSignalClient *client, const char *id, Connect *c)
{
  punch_output_begin (c->events, "peer-joined");
  punch_output_string (c->events, "id", "peer %s joined the room", id);
  punch_output_end (c->events);
}

static void
on_peer_left (PunchSignalClient *client, const char *id, Connect *c)
{
  punch_output_begin (c->events, "peer-left");
  punch_output_string (c->events, "id", "peer %s left the room", id);
  punch_output_end (c->events);
  if (g_strcmp0 (id, punch_signal_binding_get_remote_id (c->binding)) == 0 && c->pipe_done)
    {
      c->peer_bye = TRUE;
      maybe_exit (c);
    }
}

static void
on_bye (PunchSignalClient *client, const char *from, Connect *c)
{
  if (g_strcmp0 (from, punch_signal_binding_get_remote_id (c->binding)) != 0)
    return;
  punch_output_begin (c->events, "peer-bye");
  punch_output_string (c->events, "id", "peer %s is done", from);
  punch_output_end (c->events);
  c->peer_bye = TRUE;
  maybe_exit (c);
}

static void
on_server_error (PunchSignalClient *client, const char *code, const char *message, Connect *c)
{
  punch_output_begin (c->events, "signal-error");
  punch_output_string (c->events, "code", "signaling server refused a message: %s", code);
  punch_output_string (c->events, "message", ": %s", message);
  punch_output_end (c->events);
}

static void
on_disconnected (PunchSignalClient *client, GError *error, gboolean will_reconnect, Connect *c)
{
  punch_output_begin (c->events, "signal-disconnected");
  punch_output_string (c->events, "message", "signaling connection lost: %s", error->message);
  punch_output_bool (c->events, "reconnecting", "; reconnecting: %s", will_reconnect);
  punch_output_end (c->events);
  if (!will_reconnect && !c->connected)
    fail_with (c, error);
}

static void
on_binding_error (PunchSignalBinding *binding, GError *error, Connect *c)
{
  fail_with (c, error);
}

static gboolean
on_unix_signal (gpointer data)
{
  Connect *c = data;

  emit_error (c, "interrupted", "interrupted");
  if (c->binding)
    send_bye (c);
  finish (c, PUNCH_EXIT_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

/* ---- setup ------------------------------------------------------------------ */

typedef struct
{
  char *signal_url;
  char *room;
  char *token;
  char **stun;
  char **turn;
  char *turn_user;
  char *turn_pass;
  gboolean relay_only;
  gboolean reliable;
  gboolean json;
  int timeout_s;
  int consent_timeout_s;
  char *ca_file;
  gboolean insecure_tls;
  char **local_addresses;
  char *identity;
  char **peers;
  char *known_peers;
  gboolean insecure_plaintext;
  gboolean no_tcp;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->signal_url);
  g_free (o->room);
  g_free (o->token);
  g_strfreev (o->stun);
  g_strfreev (o->turn);
  g_free (o->turn_user);
  g_free (o->turn_pass);
  g_free (o->ca_file);
  g_strfreev (o->local_addresses);
  g_free (o->identity);
  g_strfreev (o->peers);
  g_free (o->known_peers);
}

/* The pins from --peer and --known-peers, canonical. */
static gboolean
collect_pins (const Options *o, PunchConfig *config, GError **error)
{
  g_autoptr (GPtrArray) pins = g_ptr_array_new_with_free_func (g_free);

  for (char **p = o->peers; p && *p; p++)
    {
      char *fp = punch_fingerprint_normalize (*p, error);
      if (fp == NULL)
        {
          g_prefix_error (error, "--peer '%s': ", *p);
          return FALSE;
        }
      g_ptr_array_add (pins, fp);
    }
  if (o->known_peers)
    {
      g_autoptr (GPtrArray) known = punch_known_peers_load (o->known_peers, error);
      if (known == NULL)
        return FALSE;
      for (guint i = 0; i < known->len; i++)
        g_ptr_array_add (pins, g_strdup (known->pdata[i]));
      if (known->len == 0)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "--known-peers %s lists no peer: nobody could connect", o->known_peers);
          return FALSE;
        }
    }
  if (pins->len == 0)
    return TRUE;
  g_ptr_array_add (pins, NULL);
  g_strfreev (config->pinned_peers);
  config->pinned_peers = (GStrv)g_ptr_array_steal (pins, NULL);
  return TRUE;
}

static PunchConfig *
make_config (const Options *o, GError **error)
{
  g_autoptr (PunchConfig) config = punch_config_new ();

  for (char **s = o->stun; s && *s; s++)
    if (!punch_config_add_ice_server (config, *s, NULL, NULL, error))
      return NULL;
  for (char **t = o->turn; t && *t; t++)
    {
      if (!punch_config_add_ice_server (config, *t, o->turn_user, o->turn_pass, error))
        return NULL;
      if (o->turn_user == NULL || o->turn_pass == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "--turn %s needs --turn-user and --turn-pass (or $PUNCH_TURN_PASS)", *t);
          return NULL;
        }
    }
  config->policy = o->relay_only ? PUNCH_POLICY_RELAY : PUNCH_POLICY_ALL;
  config->mode = o->reliable ? PUNCH_MODE_RELIABLE : PUNCH_MODE_DATAGRAM;
  config->security = o->insecure_plaintext ? PUNCH_SECURITY_NONE : PUNCH_SECURITY_QUIC;
  config->tcp = !o->no_tcp;
  if (!o->insecure_plaintext)
    {
      if (o->identity)
        {
          gboolean created = FALSE;
          config->identity = punch_identity_load (o->identity, TRUE, &created, error);
          if (config->identity == NULL)
            return NULL;
          if (created)
            g_printerr ("punch connect: created identity %s (%s)\n", o->identity,
                        punch_identity_get_fingerprint (config->identity));
        }
      if (!collect_pins (o, config, error))
        return NULL;
    }
  config->connect_timeout_ms = (guint)o->timeout_s * 1000;
  if (o->consent_timeout_s > 0)
    config->consent_timeout_ms = (guint)o->consent_timeout_s * 1000;
  if (o->ca_file)
    config->tls_ca_file = g_strdup (o->ca_file); /* made absolute and checked by the caller */
  if (o->local_addresses)
    {
      for (char **a = o->local_addresses; *a; a++)
        if (!g_hostname_is_ip_address (*a))
          {
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                         "--local-address '%s' is not an IP address", *a);
            return NULL;
          }
      g_strfreev (config->local_addresses);
      config->local_addresses = g_strdupv (o->local_addresses);
    }
  return g_steal_pointer (&config);
}

static void
emit_joined (Connect *c, const PunchConfig *config)
{
  const char *const *peers = punch_signal_client_get_peers (c->client);

  punch_output_begin (c->events, "joined");
  punch_output_string (c->events, "room", "joined room '%s'", c->room);
  punch_output_string (c->events, "id", " as %s", punch_signal_client_get_id (c->client));
  punch_output_string (c->events, "role", " (%s)",
                       punch_role_to_string (punch_signal_client_get_role (c->client)));
  punch_output_uint (c->events, "peers", ", %" G_GUINT64_FORMAT " peer(s) already there",
                     g_strv_length ((char **)peers));
  punch_output_begin_array (c->events, "ice_servers", "; ICE servers:");
  for (guint i = 0; i < config->ice_servers->len; i++)
    {
      g_autofree char *uri = punch_ice_server_to_uri (g_ptr_array_index (config->ice_servers, i));
      punch_output_string (c->events, NULL, " %s", uri);
    }
  if (config->ice_servers->len == 0)
    punch_output_text (c->events, " none (host candidates only)");
  punch_output_end_array (c->events, NULL);
  punch_output_string (c->events, "policy", NULL, punch_policy_to_string (config->policy));
  punch_output_end (c->events);
}

/* Each session the join makes (an early one that gathers while joining, and
 * maybe a second one with the room's ICE servers): report it as it goes. */
static void
on_session_created (PunchSignalClient *client, PunchSession *session, Connect *c)
{
  g_signal_connect (session, "local-candidate", G_CALLBACK (on_local_candidate), c);
  g_signal_connect (session, "gathering-done", G_CALLBACK (on_gathering_done), c);
  g_signal_connect (session, "state-changed", G_CALLBACK (on_state_changed), c);
  g_signal_connect (session, "selected-pair", G_CALLBACK (on_selected_pair), c);
  g_signal_connect (session, "restart", G_CALLBACK (on_restart), c);
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connect *c = user_data;
  g_autoptr (GError) error = NULL;

  c->binding
      = punch_signal_client_join_session_finish (PUNCH_SIGNAL_CLIENT (source), result, &error);
  if (c->binding == NULL)
    {
      if (error->domain == PUNCH_ERROR && error->code == PUNCH_ERROR_UNREACHABLE)
        g_prefix_error (&error, "signaling server unreachable: ");
      fail_with (c, error);
      return;
    }
  c->session = g_object_ref (punch_signal_binding_get_session (c->binding));
  g_signal_connect (c->binding, "error", G_CALLBACK (on_binding_error), c);
  g_main_loop_quit (c->loop);
}

/* Joins the room with a session that gathers meanwhile (libpunch-signal's
 * join-session sequence: the STUN mapping and the TURN allocation then cost
 * no time of their own, docs/bench.md). Returns FALSE with c->exit_code set. */
static gboolean
set_up (Connect *c, const Options *o, PunchConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) shown = NULL;

  c->client = punch_signal_client_new (o->signal_url, &error);
  if (c->client == NULL)
    {
      emit_error (c, "usage", error->message);
      c->exit_code = PUNCH_EXIT_USAGE;
      return FALSE;
    }
  if (o->ca_file)
    punch_signal_client_set_tls_ca_file (c->client, o->ca_file);
  punch_signal_client_set_accept_invalid_certificate (c->client, o->insecure_tls);
  g_signal_connect (c->client, "peer-joined", G_CALLBACK (on_peer_joined), c);
  g_signal_connect (c->client, "peer-left", G_CALLBACK (on_peer_left), c);
  g_signal_connect (c->client, "bye", G_CALLBACK (on_bye), c);
  g_signal_connect (c->client, "server-error", G_CALLBACK (on_server_error), c);
  g_signal_connect (c->client, "disconnected", G_CALLBACK (on_disconnected), c);
  g_signal_connect (c->client, "session-created", G_CALLBACK (on_session_created), c);

  punch_signal_client_join_session_async (c->client, o->room, o->token, config, NULL, on_joined, c);
  if (c->exit_code < 0)
    g_main_loop_run (c->loop);
  if (c->binding == NULL || c->exit_code >= 0)
    {
      if (c->exit_code < 0)
        c->exit_code = PUNCH_EXIT_FAILURE;
      return FALSE;
    }
  shown = punch_config_copy (config);
  punch_signal_client_apply_to_config (c->client, shown, NULL);
  emit_joined (c, shown);
  /* it may have failed while we joined (a gathering failure, say) */
  if (punch_session_get_state (c->session) == PUNCH_STATE_FAILED)
    {
      fail_with (c, punch_session_get_error (c->session));
      return FALSE;
    }
  return TRUE;
}

/* --ca-file must name a readable file; a relative name is taken from the
 * current directory (GIO's TLS database wants an absolute path). */
static gboolean
check_ca_file (char **path, GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename (*path, NULL);
  g_autofree char *contents = NULL;
  GError *local = NULL;

  if (!g_file_get_contents (absolute, &contents, NULL, &local))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "--ca-file: %s",
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  if (strstr (contents, "-----BEGIN CERTIFICATE-----") == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "--ca-file %s holds no PEM certificate", absolute);
      return FALSE;
    }
  g_free (*path);
  *path = g_steal_pointer (&absolute);
  return TRUE;
}

static int
usage_error (GOptionContext *context, const char *message)
{
  g_printerr ("punch connect: %s\nTry 'punch connect --help'.\n", message);
  return PUNCH_EXIT_USAGE;
}

int
punch_cmd_connect (int argc, char **argv)
{
  Options o = { .timeout_s = 30 };
  Connect c = { .exit_code = -1 };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = NULL;
  int ret;
  guint sigint_id, sigterm_id;
  const GOptionEntry entries[] = {
    { "signal", 's', 0, G_OPTION_ARG_STRING, &o.signal_url, "The punch-signal server (required)",
      "ws[s]://HOST:PORT/ws" },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &o.room, "The room to meet the peer in (required)",
      "ROOM" },
    { "token", 't', 0, G_OPTION_ARG_STRING, &o.token,
      "The room token ('punch-signal token'); default: $PUNCH_TOKEN", "TOKEN" },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.stun, "A STUN server (repeatable)",
      "stun:HOST[:PORT]" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.turn,
      "A TURN server (repeatable), with --turn-user/--turn-pass",
      "turn[s]:HOST[:PORT][?transport=udp|tcp]" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &o.turn_user, "TURN username for every --turn",
      "USER" },
    { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &o.turn_pass,
      "TURN password for every --turn; default: $PUNCH_TURN_PASS", "PASS" },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &o.relay_only,
      "Use only relayed (TURN) candidates: the peer never learns our address", NULL },
    { "reliable", 0, 0, G_OPTION_ARG_NONE, &o.reliable,
      "A reliable byte stream (default: datagrams, one per read of stdin)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "NDJSON events on stderr instead of text", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &o.timeout_s,
      "Seconds to wait for the peer and a path (default 30)", "SECONDS" },
    { "consent-timeout", 0, 0, G_OPTION_ARG_INT, &o.consent_timeout_s,
      "Once connected: seconds without a word from the peer before it is taken as gone "
      "(default 30, RFC 7675); after 2.5 s of silence ICE restarts to find a new path",
      "SECONDS" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o.ca_file,
      "Trust these PEM CAs for wss:// and turns: instead of the system's", "FILE" },
    { "insecure-tls", 0, 0, G_OPTION_ARG_NONE, &o.insecure_tls,
      "Accept any wss:// certificate (labs only)", NULL },
    { "local-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.local_addresses,
      "Gather host candidates only on this address (repeatable; 127.0.0.1 must be named)", "IP" },
    { "identity", 'i', 0, G_OPTION_ARG_FILENAME, &o.identity,
      "This side's key (created, mode 0600, if missing); default: a new key for each run", "FILE" },
    { "peer", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &o.peers,
      "Accept only a peer with this key (repeatable): 'sha-256 AB:CD:…' or 64 hex digits, "
      "from 'punch identity' on the peer",
      "FINGERPRINT" },
    { "known-peers", 0, 0, G_OPTION_ARG_FILENAME, &o.known_peers,
      "Accept only peers listed in FILE (one fingerprint per line, then an optional name)",
      "FILE" },
    { "no-tcp", 0, 0, G_OPTION_ARG_NONE, &o.no_tcp,
      "No TCP hole punching (by default, with a STUN or TURN server, the TCP mapping of one "
      "port is announced and a simultaneous open tried when no direct UDP pair works)",
      NULL },
    { "insecure-plaintext", 0, 0, G_OPTION_ARG_NONE, &o.insecure_plaintext,
      "No encryption, no authentication: bare datagrams on the ICE path (for plain ICE peers "
      "and debugging; anyone on the path can read and inject)",
      NULL },
    { NULL },
  };

  c.t0 = g_get_monotonic_time ();
  context = g_option_context_new ("- connect to a peer through NATs and pipe stdin/stdout");
  g_option_context_set_help_enabled (context, TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context,
      "Joins ROOM on a punch-signal server, trades ICE candidates with the other peer of\n"
      "the room, punches a path through both NATs (or falls back, loudly, to TURN), then\n"
      "sends stdin to the peer and writes what the peer sends to stdout. Progress goes to\n"
      "stderr: states, gathered candidates, the path chosen, throughput.\n"
      "\n"
      "ICE servers come from --stun/--turn and from the signaling server's welcome\n"
      "(punch-signal --turn-uri mints TURN credentials for the room).");
  g_option_context_set_description (
      context,
      "Examples:\n"
      "  # copy a file: run one on each machine, in either order\n"
      "  punch connect --signal wss://sig.example/ws --room r1 --token \"$T\" --reliable < "
      "big.iso\n"
      "  punch connect --signal wss://sig.example/ws --room r1 --token \"$T\" --reliable > "
      "big.iso\n"
      "\n"
      "  # a chat over datagrams, relayed only (hides both addresses from the peer)\n"
      "  punch connect -s ws://127.0.0.1:8765/ws -r chat --relay-only \\\n"
      "      --turn turn:turn.example:3478 --turn-user u --turn-pass p\n"
      "\n"
      "With --json, stderr carries one JSON object per line: joined, candidate,\n"
      "gathering-done, state, peer-joined, connected {elapsed_ms, path, local, remote,\n"
      "relayed}, path-changed, warning, first-byte, progress, done {bytes_sent, bytes_received, "
      "seconds} or\n"
      "restart {generation, reason}, error {code, message}. Error codes: timeout,\n"
      "relay-required, ice-failed, authentication, unreachable, signaling, closed,\n"
      "peer-gone (the peer left or stopped answering), path-lost (the path went\n"
      "silent and ICE restarts found no other), relay-lost (the TURN server of a\n"
      "relayed path went away), no-address (no usable local address), failed.\n"
      "\n"
      "When the path goes silent (a NAT rebinding, a TURN server restart, a lost\n"
      "address) while signaling is up, both sides restart ICE and the transfer\n"
      "goes on over the new path without losing a byte ('restart' events).\n"
      "\n"
      "Security: the data travels over QUIC with TLS 1.3. Each side announces the\n"
      "fingerprint of its key through signaling and must present that key; a wrong\n"
      "key fails with error code 'authentication' before any data is delivered.\n"
      "Without pins a hostile signaling server could announce its own key and sit in\n"
      "the middle; pin the peer to stop that:\n"
      "  punch identity --identity ~/.config/punch/cam.pem     # on the camera: prints its "
      "fingerprint\n"
      "  punch connect ... --peer 'sha-256 AB:CD:…' --reliable > video   # on the viewer\n"
      "\n"
      "Both sides exit when both are done: stdin ended on each side, the peer\n"
      "acknowledged every byte and the end (done.peer_acknowledged), and the peer's\n"
      "end arrived; signaling is not needed for that.\n"
      "Exit codes: 0 done, 1 failure (the message says why), 2 usage error, 130 interrupted.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      options_clear (&o);
      return usage_error (context, error->message);
    }
  ret = -1;
  if (argc > 1)
    ret = usage_error (context, "unexpected argument; data comes from stdin");
  else if (o.signal_url == NULL)
    ret = usage_error (context, "--signal is required");
  else if (o.room == NULL || *o.room == '\0')
    ret = usage_error (context, "--room is required");
  else if (o.consent_timeout_s != 0 && (o.consent_timeout_s < 1 || o.consent_timeout_s > 3600))
    ret = usage_error (context, "--consent-timeout must be between 1 and 3600 seconds");
  else if (o.timeout_s <= 0 || o.timeout_s > 3600)
    ret = usage_error (context, "--timeout must be between 1 and 3600 seconds");
  else if ((o.turn_user != NULL || o.turn_pass != NULL) && o.turn == NULL)
    ret = usage_error (context, "--turn-user/--turn-pass need a --turn URI");
  else if (!punch_signal_name_validate (o.room, "room", &error))
    ret = usage_error (context, error->message);
  else if (o.ca_file && !check_ca_file (&o.ca_file, &error))
    ret = usage_error (context, error->message);
  else if (o.insecure_plaintext && o.reliable)
    ret = usage_error (context, "--reliable needs the secure channel: --insecure-plaintext "
                                "carries datagrams only");
  else if (o.insecure_plaintext && (o.identity || o.peers || o.known_peers))
    ret = usage_error (context, "--identity, --peer and --known-peers need the secure channel: "
                                "a plaintext path checks no key");
  if (ret < 0)
    {
      if (o.token == NULL && g_getenv ("PUNCH_TOKEN"))
        o.token = g_strdup (g_getenv ("PUNCH_TOKEN"));
      if (o.turn_pass == NULL && o.turn && g_getenv ("PUNCH_TURN_PASS"))
        o.turn_pass = g_strdup (g_getenv ("PUNCH_TURN_PASS"));
      config = make_config (&o, &error);
      if (config == NULL)
        ret = usage_error (context, error->message);
    }
  if (ret >= 0)
    {
      options_clear (&o);
      return ret;
    }

  c.loop = g_main_loop_new (NULL, FALSE);
  c.events = punch_output_new_events (stderr, o.json);
  c.room = o.room;
  c.reliable = o.reliable;
  c.secure = !o.insecure_plaintext;
  c.bye_wait_s = (guint)MAX (o.timeout_s, BYE_WAIT_MIN_S);
  sigint_id = g_unix_signal_add (SIGINT, on_unix_signal, &c);
  sigterm_id = g_unix_signal_add (SIGTERM, on_unix_signal, &c);

  if (set_up (&c, &o, config))
    g_main_loop_run (c.loop);

  /* a bye (on Ctrl-C, say) is worth a moment to leave */
  if (c.sent_bye && c.client)
    {
      GMainContext *ctx = g_main_context_default ();
      for (int i = 0; i < 10 && g_main_context_pending (ctx); i++)
        g_main_context_iteration (ctx, FALSE);
    }
  ret = c.exit_code < 0 ? PUNCH_EXIT_FAILURE : c.exit_code;
  g_clear_handle_id (&c.bye_timer, g_source_remove);
  g_clear_handle_id (&c.linger_timer, g_source_remove);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_clear_pointer (&c.pipe, punch_pipe_free);
  g_clear_object (&c.binding);
  g_clear_object (&c.session);
  if (c.client)
    punch_signal_client_close (c.client);
  g_clear_object (&c.client);
  punch_output_free (c.events);
  g_main_loop_unref (c.loop);
  options_clear (&o);
  return ret;
}
