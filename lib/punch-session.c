/* punch-session.c: one ICE session over a libnice agent
 *
 * What punch adds to raw libnice:
 * - URIs with host names (resolved here; libnice takes IP literals only);
 * - TURN over real TLS through a loopback bridge (punch-tls-bridge.c);
 * - defaults that connect fast: aggressive nomination with UDP-only ICE (a
 *   TCP candidate would force regular nomination), trickle ICE, no UPnP, no
 *   separate STUN request when a UDP TURN server gives the mapped address;
 * - consent freshness (RFC 7675) on by default;
 * - the data travels over QUIC (punch-quic.c) with TLS 1.3, both keys checked
 *   against the fingerprints traded through signaling: the session is
 *   CONNECTED only once the peer has proved its key;
 * - an overall deadline, and errors that say why a session failed;
 * - a loud log line when the path is relayed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"
#include "punch-tls-bridge.h"
#include "punch-quic-private.h"
#include "punch-enum-types.h"

#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#include <nice/agent.h>
#include <nice/interfaces.h>

/* libnice timers, tuned toward the protocol floor (docs/bench.md measures them).
 *
 * Ta paces every check and gathering request (libnice: 20 ms). Each pair waits
 * its turn, so with a few pairs the first useful check goes out tens of ms
 * late. RFC 8445 section 14.2 allows Ta down to 5 ms; a session has a handful
 * of pairs, so 5 ms is still a trickle of packets. */
#define PUNCH_TIMER_TA_MS 5
/* The first retransmission of a gathering request (STUN Binding, TURN
 * Allocate): libnice waits 500 ms, then 1 s, then 1 s more before giving up,
 * so a site without UDP (or a lost request) holds gathering-done, and the
 * end-of-candidates the peer waits for, for 2.2 s. 200 ms is still four
 * times the longest RTT the lab uses; the later retransmissions double it. */
#define PUNCH_STUN_INITIAL_TIMEOUT_MS 200
/* How long libnice waits, once no check is left in progress, before it
 * reports FAILED (libnice: 5 s). punch only believes that FAILED once both
 * sides have all their candidates (see on_component_state_changed). */
#define PUNCH_IDLE_TIMEOUT_MS 1000

guint punch_session_signals[N_SIGNALS];

enum
{
  PROP_0,
  PROP_STATE,
  PROP_SELECTED_PAIR,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE (PunchSession, punch_session, G_TYPE_OBJECT)

static void
resolved_server_free (ResolvedServer *rs)
{
  g_free (rs->ip);
  g_clear_error (&rs->error);
  g_free (rs);
}

const char *
punch_state_to_string (PunchState state)
{
  switch (state)
    {
    case PUNCH_STATE_NEW: return "new";
    case PUNCH_STATE_GATHERING: return "gathering";
    case PUNCH_STATE_CHECKING: return "checking";
    case PUNCH_STATE_CONNECTED: return "connected";
    case PUNCH_STATE_FAILED: return "failed";
    case PUNCH_STATE_CLOSED: return "closed";
    default: return "unknown";
    }
}

/* ---- state -------------------------------------------------------------- */

gint64
punch_session_elapsed_ms (PunchSession *self)
{
  return self->start_time ? (g_get_monotonic_time () - self->start_time) / 1000 : 0;
}

static void
destroy_source (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

/* A connect task's cancellation, on the session's context. */
static gboolean
on_connect_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  PunchSession *self = g_task_get_source_object (task);
  GList *link = g_list_find (self->connect_tasks, task);

  if (link)
    {
      self->connect_tasks = g_list_delete_link (self->connect_tasks, link);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static void
complete_connect_tasks (PunchSession *self)
{
  GList *tasks = g_steal_pointer (&self->connect_tasks);

  for (GList *l = tasks; l; l = l->next)
    {
      GTask *task = l->data;
      if (g_task_return_error_if_cancelled (task))
        ;
      else if (self->state == PUNCH_STATE_CONNECTED)
        g_task_return_boolean (task, TRUE);
      else if (self->error)
        g_task_return_error (task, g_error_copy (self->error));
      else
        g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_CLOSED,
                                 "the session was closed before it connected");
      g_object_unref (task);
    }
  g_list_free (tasks);
}

void
punch_session_set_state (PunchSession *self, PunchState state)
{
  if (self->state == state)
    return;
  /* FAILED and CLOSED are final, except that closing a failed session is allowed */
  if (self->state == PUNCH_STATE_CLOSED
      || (self->state == PUNCH_STATE_FAILED && state != PUNCH_STATE_CLOSED))
    return;

  g_debug ("session %p: %s -> %s after %" G_GINT64_FORMAT " ms", self,
           punch_state_to_string (self->state), punch_state_to_string (state),
           punch_session_elapsed_ms (self));
  self->state = state;

  if (state == PUNCH_STATE_CONNECTED || state == PUNCH_STATE_FAILED || state == PUNCH_STATE_CLOSED)
    punch_source_clear (&self->deadline_source);

  g_object_ref (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
  g_signal_emit (self, punch_session_signals[SIGNAL_STATE_CHANGED], 0, state);
  if (state == PUNCH_STATE_CONNECTED || state == PUNCH_STATE_FAILED || state == PUNCH_STATE_CLOSED)
    complete_connect_tasks (self);
  /* datagrams the peer sent as soon as it was connected, before we were:
   * deliver them now that the application listens */
  while (!g_queue_is_empty (&self->early_datagrams))
    {
      g_autoptr (GBytes) bytes = g_queue_pop_head (&self->early_datagrams);
      if (self->state == PUNCH_STATE_CONNECTED)
        g_signal_emit (self, punch_session_signals[SIGNAL_DATAGRAM], 0, bytes);
    }
  g_object_unref (self);
}

/* Fails the session with @code and a formatted message. */
static void fail (PunchSession *self, PunchErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
fail (PunchSession *self, PunchErrorCode code, const char *fmt, ...)
{
  va_list ap;

  if (self->state == PUNCH_STATE_FAILED || self->state == PUNCH_STATE_CLOSED)
    return;
  va_start (ap, fmt);
  g_clear_error (&self->error);
  self->error = g_error_new_valist (PUNCH_ERROR, code, fmt, ap);
  va_end (ap);
  g_info ("session %p failed: %s", self, self->error->message);
  if (self->quic)
    punch_quic_abort (self->quic, self->error);
  punch_session_set_state (self, PUNCH_STATE_FAILED);
}

void
punch_session_fail_with_error (PunchSession *self, const GError *error, const char *prefix)
{
  fail (self, error->domain == PUNCH_ERROR ? (PunchErrorCode)error->code : PUNCH_ERROR_FAILED,
        "%s%s", prefix, error->message);
}

GError *
punch_session_describe_no_path (PunchSession *self, gboolean timed_out)
{
  g_autofree char *when
      = timed_out ? g_strdup_printf (" within %u s", self->config->connect_timeout_ms / 1000)
                  : g_strdup ("");

  if (self->no_address_error)
    return g_error_copy (self->no_address_error);
  if (!self->remote_credentials_set || self->n_remote_cands == 0)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_TIMEOUT,
                        "no connection%s: the peer's credentials or candidates never arrived "
                        "(is the other side running and is signaling working?)",
                        when);
  if (self->turn_error)
    return g_error_new (
        PUNCH_ERROR,
        self->turn_error->code == PUNCH_ERROR_AUTHENTICATION ? PUNCH_ERROR_AUTHENTICATION
                                                             : PUNCH_ERROR_RELAY_REQUIRED,
        "no direct path worked%s and the relay was unusable: %s", when, self->turn_error->message);
  if (self->n_local_relay == 0 && self->n_remote_relay == 0)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_RELAY_REQUIRED,
                        "no direct path worked%s (%u local, %u remote candidates tried) and "
                        "neither side has a TURN relay: these two networks need a relay "
                        "(configure a turn: server), unless the peer's ICE credentials do not "
                        "match",
                        when, self->local_cands->len, self->n_remote_cands);
  if (timed_out)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_TIMEOUT,
                        "ICE did not find a working path within %u s (%u local, %u remote "
                        "candidates)",
                        self->config->connect_timeout_ms / 1000, self->local_cands->len,
                        self->n_remote_cands);
  return g_error_new (PUNCH_ERROR, PUNCH_ERROR_ICE_FAILED,
                      "every candidate pair failed (%u local, %u remote candidates, relay "
                      "included): the peer did not answer, or its ICE credentials do not match",
                      self->local_cands->len, self->n_remote_cands);
}

/* Why ICE found no path, in words a person can act on. */
static void
fail_no_path (PunchSession *self, gboolean timed_out)
{
  g_autoptr (GError) error
      = punch_session_tcp_explain (self, punch_session_describe_no_path (self, timed_out));

  punch_session_fail_with_error (self, error, "");
}

/* libnice said FAILED: believe it once no candidate can come any more */
void
punch_session_maybe_fail_no_path (PunchSession *self)
{
  if (self->nice_state != NICE_COMPONENT_STATE_FAILED)
    return;
  if (self->restarting && self->state == PUNCH_STATE_CONNECTED)
    {
      if (self->remote_eoc && self->gathering_done && self->pending_probes == 0)
        punch_session_restart_failed (self);
      return;
    }
  if (self->state != PUNCH_STATE_GATHERING && self->state != PUNCH_STATE_CHECKING)
    return;
  if (punch_session_tcp_holds (self))
    return; /* UDP failed; TCP may still connect (punch-session-tcp.c) */
  if (!self->remote_eoc || !self->gathering_done || self->pending_probes > 0)
    {
      g_debug ("session %p: libnice reports FAILED, but candidates may still come "
               "(remote end-of-candidates %s, gathering %s): waiting",
               self, self->remote_eoc ? "yes" : "no", self->gathering_done ? "done" : "on");
      return;
    }
  fail_no_path (self, FALSE);
}

static gboolean
on_deadline (gpointer user_data)
{
  PunchSession *self = user_data;

  g_clear_pointer (&self->deadline_source, g_source_unref);
  fail_no_path (self, TRUE);
  return G_SOURCE_REMOVE;
}

/* ---- libnice callbacks --------------------------------------------------- */

static void
update_selected_pair (PunchSession *self)
{
  NiceCandidate *lc = NULL, *rc = NULL;
  g_autoptr (PunchPair) pair = NULL;

  if (punch_session_tcp_is_path (self))
    return; /* TCP carries the channel; libnice's pairs no longer count */
  if (!nice_agent_get_selected_pair (self->agent, self->stream_id, 1, &lc, &rc))
    return;
  if (self->restarting && !self->restart_in_place)
    punch_session_finish_restart (self);

  pair = g_new0 (PunchPair, 1);
  pair->local = punch_candidate_from_nice (lc);
  pair->remote = punch_candidate_from_nice (rc);
  pair->relayed
      = pair->local->type == PUNCH_CANDIDATE_RELAY || pair->remote->type == PUNCH_CANDIDATE_RELAY;

  if (self->selected && pair->relayed == self->selected->relayed
      && g_strcmp0 (pair->local->address, self->selected->local->address) == 0
      && pair->local->port == self->selected->local->port
      && g_strcmp0 (pair->remote->address, self->selected->remote->address) == 0
      && pair->remote->port == self->selected->remote->port)
    return;

  punch_pair_free (self->selected);
  self->selected = g_steal_pointer (&pair);
  if (self->quic)
    punch_session_use_selected_socket (self);
  {
    g_autofree char *text = punch_pair_describe (self->selected);
    if (self->selected->relayed && self->config->policy == PUNCH_POLICY_ALL)
      g_message ("%s (traffic goes through the TURN server; no direct path has answered yet)",
                 text);
    else
      g_info ("selected path: %s", text);
  }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SELECTED_PAIR]);
  g_signal_emit (self, punch_session_signals[SIGNAL_SELECTED_PAIR], 0, self->selected);
}

void
punch_session_maybe_connected (PunchSession *self)
{
  if (self->state != PUNCH_STATE_GATHERING && self->state != PUNCH_STATE_CHECKING)
    return;
  if (self->nice_state != NICE_COMPONENT_STATE_CONNECTED
      && self->nice_state != NICE_COMPONENT_STATE_READY)
    return;
  update_selected_pair (self);
  if (self->selected == NULL)
    return;
  if (self->selected->relayed && punch_session_tcp_holds (self))
    return; /* a direct TCP path may still come: the relay waits for it */
  if (self->quic)
    {
      /* the path is up: the secure handshake decides when we are connected */
      if (!self->ice_connected)
        punch_session_start_secure_channel (self);
      return;
    }
  self->connected_time = g_get_monotonic_time ();
  self->stats.time_to_connected_ms = punch_session_elapsed_ms (self);
  punch_session_set_state (self, PUNCH_STATE_CONNECTED);
}

static void
on_component_state_changed (NiceAgent *agent, guint stream_id, guint component_id, guint state,
                            gpointer user_data)
{
  PunchSession *self = user_data;

  if (agent != self->agent)
    {
      /* the agent of the path an ICE restart is replacing */
      g_debug ("session %p: libnice component %s on the path being replaced", self,
               nice_component_state_to_string (state));
      return;
    }
  g_debug ("session %p: libnice component %s", self, nice_component_state_to_string (state));
  self->nice_state = state;
  switch (state)
    {
    case NICE_COMPONENT_STATE_CONNECTING:
      if (self->state == PUNCH_STATE_GATHERING)
        punch_session_set_state (self, PUNCH_STATE_CHECKING);
      break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      if (self->state == PUNCH_STATE_CONNECTED)
        update_selected_pair (self);
      else
        punch_session_maybe_connected (self);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      if (punch_session_tcp_is_path (self))
        break; /* UDP failed, TCP carries */
      if (self->state == PUNCH_STATE_CONNECTED && self->restarting)
        punch_session_maybe_fail_no_path (self);
      else if (self->state == PUNCH_STATE_CONNECTED && self->quic)
        punch_session_path_failed (self); /* ICE restart if it can */
      else if (self->state == PUNCH_STATE_CONNECTED)
        fail (self, PUNCH_ERROR_PEER_GONE,
              self->config->consent_freshness
                  ? "the peer stopped answering (consent lost, RFC 7675): the path is closed"
                  : "the path to the peer failed");
      else
        {
          /* With trickle ICE, every pair known so far may have failed while
           * candidates are still on their way (a peer's TURN relay comes
           * late); libnice checks those when they arrive and can still
           * connect. So a FAILED only counts once both sides are done. */
          punch_session_maybe_fail_no_path (self);
        }
      break;
    default: break;
    }
}

static void
on_new_selected_pair (NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *lcand,
                      NiceCandidate *rcand, gpointer user_data)
{
  PunchSession *self = user_data;

  if (agent != self->agent)
    return;
  /* an in-place restart's run nominated its pair (maybe the same addresses) */
  if (self->restarting && self->restart_in_place)
    punch_session_finish_restart (self);
  if (self->state == PUNCH_STATE_CONNECTED)
    update_selected_pair (self);
  else
    punch_session_maybe_connected (self);
}

static void
on_new_candidate (NiceAgent *agent, NiceCandidate *nc, gpointer user_data)
{
  PunchSession *self = user_data;
  PunchCandidate *c;
  g_autofree char *line = NULL;

  if (agent != self->agent)
    return;
  c = punch_candidate_from_nice (nc);
  line = punch_candidate_to_string (c);

  g_ptr_array_add (self->local_cands, c);
  if (c->type == PUNCH_CANDIDATE_RELAY)
    self->n_local_relay++;
  g_debug ("session %p: local %s", self, line);
  g_signal_emit (self, punch_session_signals[SIGNAL_LOCAL_CANDIDATE], 0, line);
}

void
punch_session_finish_gathering (PunchSession *self)
{
  if (self->state == PUNCH_STATE_FAILED || self->state == PUNCH_STATE_CLOSED)
    return;
  if (self->config->policy == PUNCH_POLICY_RELAY && self->n_local_relay == 0)
    {
      /* libnice never reports FAILED here (FACTS.md), so punch does */
      if (self->turn_error)
        fail (self,
              self->turn_error->domain == PUNCH_ERROR ? (PunchErrorCode)self->turn_error->code
                                                      : PUNCH_ERROR_FAILED,
              "relay-only policy, but no TURN server gave a relay candidate: %s",
              self->turn_error->message);
      else
        fail (self, PUNCH_ERROR_RELAY_REQUIRED,
              "relay-only policy, but no TURN server gave a relay candidate");
      return;
    }
  g_debug ("session %p: gathering done after %" G_GINT64_FORMAT " ms, %u candidates", self,
           punch_session_elapsed_ms (self), self->local_cands->len);
  g_object_ref (self);
  g_signal_emit (self, punch_session_signals[SIGNAL_GATHERING_DONE], 0);
  punch_session_maybe_fail_no_path (self);
  g_object_unref (self);
}

typedef struct
{
  PunchSession *self;
  ResolvedServer *rs;
  guint generation;
} Diagnosis;

static void
on_turn_diagnosed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Diagnosis *d = user_data;
  PunchSession *self = d->self;
  g_autoptr (GError) error = NULL;

  if (!punch_session_diagnose_turn_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          || d->generation != self->generation)
        goto out;
      /* for turns:, the TLS handshake's own error says more */
      if (d->rs->bridge && punch_tls_bridge_get_last_error (d->rs->bridge))
        {
          g_autofree char *uri = punch_ice_server_to_uri (d->rs->server);
          g_clear_error (&error);
          g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE, "%s: TLS failed: %s", uri,
                       punch_tls_bridge_get_last_error (d->rs->bridge)->message);
        }
      if (self->turn_error == NULL)
        self->turn_error = g_error_copy (error);
      g_message ("TURN: %s", error->message);
    }
  if (d->generation == self->generation && --self->pending_probes == 0)
    punch_session_finish_gathering (self);
out:
  g_object_unref (self);
  g_free (d);
}

static void
on_gathering_done (NiceAgent *agent, guint stream_id, gpointer user_data)
{
  PunchSession *self = user_data;

  if (agent != self->agent)
    return;
  self->gathering_done = TRUE;

  /* A TURN server that gave no relay candidate: find out why before going on. */
  if (self->n_local_relay == 0)
    for (guint i = 0; i < self->resolved->len; i++)
      {
        ResolvedServer *rs = self->resolved->pdata[i];
        if (rs->server->kind == PUNCH_ICE_SERVER_STUN || rs->ip == NULL)
          continue;
        {
          Diagnosis *d = g_new0 (Diagnosis, 1);
          d->self = g_object_ref (self);
          d->rs = rs;
          d->generation = self->generation;
          self->pending_probes++;
          punch_session_diagnose_turn_async (rs->server, rs->bridge ? "127.0.0.1" : rs->ip,
                                             rs->bridge ? punch_tls_bridge_get_port (rs->bridge)
                                                        : rs->server->port,
                                             self->cancellable, on_turn_diagnosed, d);
        }
      }
  if (self->pending_probes == 0)
    punch_session_finish_gathering (self);
}

static void
on_new_remote_candidate (NiceAgent *agent, NiceCandidate *nc, gpointer user_data)
{
  PunchSession *self = user_data;

  if (nc->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
    g_debug ("session %p: learned a peer-reflexive candidate", self);
}

static void
on_recv (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
         gpointer user_data)
{
  PunchSession *self = user_data;
  g_autoptr (GBytes) bytes = NULL;

  if (self->quic)
    {
      /* closed, but lingering: the QUIC close answers late packets */
      if (self->state == PUNCH_STATE_CLOSED && self->linger_source == NULL)
        return;
      if (self->ice_connected)
        punch_quic_receive (self->quic, (const guint8 *)buf, len);
      else if (g_queue_get_length (&self->early_packets) < 64)
        g_queue_push_tail (&self->early_packets, g_bytes_new (buf, len));
      return;
    }
  if (self->state == PUNCH_STATE_CLOSED)
    return;
  self->stats.bytes_received += len;
  self->stats.packets_received++;
  bytes = g_bytes_new (buf, len);
  /* The peer may be connected (and send) a moment before we are: keep what
   * comes before CONNECTED (a few) and deliver it then (set_state). */
  if (self->state == PUNCH_STATE_GATHERING || self->state == PUNCH_STATE_CHECKING)
    {
      if (g_queue_get_length (&self->early_datagrams) < 64)
        g_queue_push_tail (&self->early_datagrams, g_steal_pointer (&bytes));
      return;
    }
  g_signal_emit (self, punch_session_signals[SIGNAL_DATAGRAM], 0, bytes);
}

/* ---- GObject ------------------------------------------------------------ */

static void
punch_session_init (PunchSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->resolved = g_ptr_array_new_with_free_func ((GDestroyNotify)resolved_server_free);
  self->bridges = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_tls_bridge_free);
  self->path_bridges = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_tls_bridge_free);
  self->local_cands = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_candidate_free);
  self->stats.rtt_ms = -1;
  self->stats.last_restart_ms = -1;
  self->stats.time_to_connected_ms = -1;
}

/* Lets both agents go (the path's and, during an ICE restart, the new one). */
static void
shutdown_agents (PunchSession *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_clear_object (&self->direct_socket);
  punch_source_clear (&self->liveness_source);
  if (self->path_agent && self->path_agent != self->agent)
    punch_session_retire_agent (self, g_steal_pointer (&self->path_agent), self->path_stream_id);
  g_clear_object (&self->path_agent);
  g_ptr_array_set_size (self->path_bridges, 0);
  if (self->agent == NULL)
    {
      if (callback)
        callback (G_OBJECT (self), NULL, user_data);
      return;
    }
  g_signal_handlers_disconnect_by_data (self->agent, self);
  if (self->stream_id)
    nice_agent_attach_recv (self->agent, self->stream_id, 1, self->context, NULL, NULL);
  /* frees TURN allocations; the agent goes when the close completes */
  nice_agent_close_async (self->agent, callback, user_data);
  g_clear_object (&self->agent);
  g_ptr_array_set_size (self->bridges, 0);
}

static void
punch_session_dispose (GObject *object)
{
  PunchSession *self = PUNCH_SESSION (object);

  g_cancellable_cancel (self->cancellable);
  punch_source_clear (&self->deadline_source);
  shutdown_agents (self, NULL, NULL);
  punch_source_clear (&self->linger_source);
  g_clear_object (&self->direct_socket);
  punch_session_tcp_free (self);
  g_clear_pointer (&self->quic, punch_quic_free);
  G_OBJECT_CLASS (punch_session_parent_class)->dispose (object);
}

static void
punch_session_finalize (GObject *object)
{
  PunchSession *self = PUNCH_SESSION (object);

  g_assert (self->connect_tasks == NULL);
  g_ptr_array_unref (self->resolved);
  g_ptr_array_unref (self->bridges);
  g_ptr_array_unref (self->path_bridges);
  g_ptr_array_unref (self->local_cands);
  g_queue_clear_full (&self->early_datagrams, (GDestroyNotify)g_bytes_unref);
  g_queue_clear_full (&self->early_packets, (GDestroyNotify)g_bytes_unref);
  g_clear_pointer (&self->identity, punch_identity_unref);
  g_free (self->remote_ufrag);
  g_free (self->remote_pwd);
  g_free (self->restart_reason);
  g_free (self->remote_fingerprint);
  punch_pair_free (self->selected);
  g_clear_error (&self->error);
  g_clear_error (&self->turn_error);
  g_clear_error (&self->no_address_error);
  g_clear_error (&self->restart_error);
  g_clear_error (&self->last_turn_error);
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  g_clear_object (&self->cancellable);
  punch_config_free (self->config);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (punch_session_parent_class)->finalize (object);
}

static void
punch_session_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchSession *self = PUNCH_SESSION (object);

  switch (prop_id)
    {
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_SELECTED_PAIR:
      g_value_set_boxed (value, punch_session_get_selected_pair (self));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_session_class_init (PunchSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_session_dispose;
  object_class->finalize = punch_session_finalize;
  object_class->get_property = punch_session_get_property;

  props[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, PUNCH_TYPE_STATE, PUNCH_STATE_NEW,
                                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_SELECTED_PAIR] = g_param_spec_boxed ("selected-pair", NULL, NULL, PUNCH_TYPE_PAIR,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  punch_session_signals[SIGNAL_LOCAL_CANDIDATE]
      = g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  punch_session_signals[SIGNAL_GATHERING_DONE]
      = g_signal_new ("gathering-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
  punch_session_signals[SIGNAL_STATE_CHANGED]
      = g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PUNCH_TYPE_STATE);
  punch_session_signals[SIGNAL_SELECTED_PAIR]
      = g_signal_new ("selected-pair", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PUNCH_TYPE_PAIR | G_SIGNAL_TYPE_STATIC_SCOPE);
  punch_session_signals[SIGNAL_DATAGRAM]
      = g_signal_new ("datagram", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_BYTES);
  punch_session_signals[SIGNAL_STREAM]
      = g_signal_new ("stream", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_IO_STREAM);
  punch_session_signals[SIGNAL_WRITABLE]
      = g_signal_new ("writable", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 0);
  punch_session_signals[SIGNAL_RESTART]
      = g_signal_new ("restart", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
}

/* ---- construction and start --------------------------------------------- */

/* A new libnice agent for the session (the first, or one for an ICE restart
 * or a role change) in self->agent, with the session's settings and role.
 * With @ufrag and @pwd it keeps those local credentials; else libnice makes
 * new ones. */
gboolean
punch_session_make_agent (PunchSession *self, const char *ufrag, const char *pwd, GError **error)
{
  const PunchConfig *config = self->config;
  NiceAgentOption flags = NICE_AGENT_OPTION_ICE_TRICKLE;

  /* A secure session's consent is QUIC's: packets only the peer can make
   * (punch-session-restart.c). libnice's own checks would revoke it after
   * 10 s of lost checks, where RFC 7675 says 30 s. */
  if (config->consent_freshness && self->quic == NULL)
    flags |= NICE_AGENT_OPTION_CONSENT_FRESHNESS;

  g_assert (self->agent == NULL);
  self->agent = nice_agent_new_full (self->context, NICE_COMPATIBILITY_RFC5245, flags);
  g_object_set (self->agent, "controlling-mode", self->controlling, "ice-tcp",
                FALSE, /* a TCP candidate would force slow regular nomination */
                "ice-udp", TRUE, "upnp", config->upnp, "force-relay",
                config->policy == PUNCH_POLICY_RELAY, "stun-pacing-timer", PUNCH_TIMER_TA_MS,
                "stun-initial-timeout", PUNCH_STUN_INITIAL_TIMEOUT_MS, "idle-timeout",
                PUNCH_IDLE_TIMEOUT_MS, NULL);

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  if (self->stream_id == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                           "libnice could not add a stream");
      return FALSE;
    }
  nice_agent_set_stream_name (self->agent, self->stream_id, "application");
  if (config->port_min)
    nice_agent_set_port_range (self->agent, self->stream_id, 1, config->port_min, config->port_max);
  if (ufrag && pwd)
    nice_agent_set_local_credentials (self->agent, self->stream_id, ufrag, pwd);
  else
    {
      g_free (self->local_ufrag);
      g_free (self->local_pwd);
      nice_agent_get_local_credentials (self->agent, self->stream_id, &self->local_ufrag,
                                        &self->local_pwd);
    }

  g_signal_connect (self->agent, "component-state-changed", G_CALLBACK (on_component_state_changed),
                    self);
  g_signal_connect (self->agent, "new-selected-pair-full", G_CALLBACK (on_new_selected_pair), self);
  g_signal_connect (self->agent, "new-candidate-full", G_CALLBACK (on_new_candidate), self);
  g_signal_connect (self->agent, "candidate-gathering-done", G_CALLBACK (on_gathering_done), self);
  g_signal_connect (self->agent, "new-remote-candidate-full", G_CALLBACK (on_new_remote_candidate),
                    self);

  nice_agent_attach_recv (self->agent, self->stream_id, 1, self->context, on_recv, self);
  if (self->path_agent == NULL)
    {
      self->path_agent = g_object_ref (self->agent);
      self->path_stream_id = self->stream_id;
    }
  return TRUE;
}

/* Lets an agent go: no more callbacks, its TURN allocations freed, the
 * object gone once libnice has closed it. */
void
punch_session_retire_agent (PunchSession *self, NiceAgent *agent, guint stream_id)
{
  g_signal_handlers_disconnect_by_data (agent, self);
  if (stream_id)
    nice_agent_attach_recv (agent, stream_id, 1, self->context, NULL, NULL);
  nice_agent_close_async (agent, NULL, NULL);
  g_object_unref (agent);
}

/* What one ICE run (the first, or an ICE restart's) knows, back to nothing. */
void
punch_session_reset_ice_run (PunchSession *self)
{
  g_ptr_array_set_size (self->local_cands, 0);
  self->n_local_relay = 0;
  self->n_remote_cands = 0;
  self->n_remote_relay = 0;
  self->gathering_done = FALSE;
  self->gathering_started = FALSE;
  self->remote_credentials_set = FALSE;
  self->remote_eoc = FALSE;
  self->pending_probes = 0;
  self->n_turn_usable = 0;
  self->n_turn_failed = 0;
  self->nice_state = NICE_COMPONENT_STATE_DISCONNECTED;
  g_clear_error (&self->turn_error);
  g_clear_error (&self->no_address_error);
  for (guint i = 0; i < self->resolved->len; i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      rs->bridge = NULL; /* the bridges stay with the agent that uses them */
      if (rs->ip)
        g_clear_error (&rs->error);
    }
}

PunchSession *
punch_session_new (const PunchConfig *config, GError **error)
{
  g_autoptr (PunchSession) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!punch_config_validate (config, error))
    return NULL;

  self = g_object_new (PUNCH_TYPE_SESSION, NULL);
  self->config = punch_config_copy (config);
  self->controlling = config->role != PUNCH_ROLE_CONTROLLED;
  if (config->security == PUNCH_SECURITY_QUIC)
    {
      self->identity = config->identity ? punch_identity_ref (config->identity)
                                        : punch_identity_new_ephemeral (error);
      if (self->identity == NULL)
        return NULL;
      self->quic = punch_session_new_quic (self);
    }
  else
    g_message ("WARNING: insecure plaintext session: anyone on the path can read, forge and "
               "inject this session's datagrams (PUNCH_SECURITY_NONE)");
  if (self->quic)
    punch_quic_set_idle_timeout (self->quic, config->consent_timeout_ms);

  if (!punch_session_make_agent (self, NULL, NULL, error))
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
punch_session_address_wanted (const PunchConfig *config, const char *ip)
{
  gboolean v6 = strchr (ip, ':') != NULL;

  if (v6 && !config->ipv6)
    return FALSE;
  if (!v6 && !config->ipv4)
    return FALSE;
  return TRUE;
}

static void
on_bridge_failed (PunchTlsBridge *bridge, const GError *error, gpointer user_data)
{
  PunchSession *self = user_data;

  for (guint i = 0; i < self->resolved->len; i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      g_autofree char *uri = NULL;

      if (rs->bridge != bridge || rs->error)
        continue;
      uri = punch_ice_server_to_uri (rs->server);
      g_set_error (&rs->error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE, "%s: TLS failed: %s", uri,
                   error->message);
      if (self->turn_error == NULL)
        self->turn_error = g_error_copy (rs->error);
      self->n_turn_failed++;
    }
  /* libnice retries TURN over TCP for seconds; with no relay left, stop now */
  if (self->config->policy == PUNCH_POLICY_RELAY && self->n_local_relay == 0
      && self->n_turn_failed == self->n_turn_usable && self->state == PUNCH_STATE_GATHERING)
    fail (self, (PunchErrorCode)self->turn_error->code,
          "relay-only policy, but no TURN server gave a relay candidate: %s",
          self->turn_error->message);
}

static gboolean
configure_servers (PunchSession *self, GError **error)
{
  gboolean have_udp_turn = FALSE, stun_set = FALSE;

  for (guint i = 0; i < self->resolved->len; i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      if (rs->ip && rs->server->kind == PUNCH_ICE_SERVER_TURN
          && rs->server->transport == PUNCH_TRANSPORT_UDP)
        have_udp_turn = TRUE;
    }

  for (guint i = 0; i < self->resolved->len; i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      PunchIceServer *s = rs->server;

      if (rs->ip == NULL)
        continue;
      if (s->kind == PUNCH_ICE_SERVER_STUN)
        {
          /* libnice takes one STUN server. A UDP TURN server's Allocate
           * response already carries the mapped address, and a separate
           * request to coturn delays gathering by 2 s in libnice 0.1.21. */
          if (stun_set || have_udp_turn || self->config->policy == PUNCH_POLICY_RELAY)
            continue;
          g_object_set (self->agent, "stun-server", rs->ip, "stun-server-port", (guint)s->port,
                        NULL);
          stun_set = TRUE;
        }
      else if (s->kind == PUNCH_ICE_SERVER_TURN)
        {
          self->n_turn_usable++;
          nice_agent_set_relay_info (
              self->agent, self->stream_id, 1, rs->ip, s->port, s->username, s->credential,
              s->transport == PUNCH_TRANSPORT_TCP ? NICE_RELAY_TYPE_TURN_TCP
                                                  : NICE_RELAY_TYPE_TURN_UDP);
        }
      else
        {
          PunchTlsBridge *bridge = punch_tls_bridge_new (
              s->host, s->port, self->config->tls_ca_file, on_bridge_failed, self, error);
          if (bridge == NULL)
            return FALSE;
          g_ptr_array_add (self->bridges, bridge);
          rs->bridge = bridge;
          self->n_turn_usable++;
          nice_agent_set_relay_info (self->agent, self->stream_id, 1, "127.0.0.1",
                                     punch_tls_bridge_get_port (bridge), s->username, s->credential,
                                     NICE_RELAY_TYPE_TURN_TCP);
        }
    }
  return TRUE;
}

void
punch_session_begin_gathering (PunchSession *self)
{
  g_autoptr (GError) error = NULL;
  guint usable_turn = 0, turn = 0;

  for (guint i = 0; i < self->resolved->len; i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      if (rs->server->kind == PUNCH_ICE_SERVER_STUN)
        continue;
      turn++;
      if (rs->ip)
        usable_turn++;
      else if (self->turn_error == NULL)
        self->turn_error = g_error_copy (rs->error);
    }
  if (self->config->policy == PUNCH_POLICY_RELAY && turn > 0 && usable_turn == 0)
    {
      punch_session_fail_with_error (self, self->turn_error,
                                     "relay-only policy, but no TURN server is usable: ");
      return;
    }

  self->gathering_started = TRUE;
  if (!punch_session_add_local_addresses (self))
    {
      if (self->state == PUNCH_STATE_CONNECTED)
        punch_session_restart_failed (self); /* the path's own agent may still carry */
      else
        punch_session_fail_with_error (self, self->no_address_error, "");
      return;
    }
  if (!configure_servers (self, &error))
    {
      punch_session_fail_with_error (self, error, "");
      return;
    }
  punch_session_tcp_gather (self); /* the first time only */
  if (!nice_agent_gather_candidates (self->agent, self->stream_id))
    {
      if (self->state == PUNCH_STATE_CONNECTED)
        {
          punch_session_restart_failed (self);
          return;
        }
      fail (self, PUNCH_ERROR_FAILED,
            "libnice could not gather candidates (no usable local address, or the port range "
            "%u-%u is exhausted)",
            self->config->port_min, self->config->port_max);
      return;
    }
}

typedef struct
{
  PunchSession *self;
  ResolvedServer *rs;
} ResolveData;

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ResolveData *data = user_data;
  PunchSession *self = data->self;
  ResolvedServer *rs = data->rs;
  g_autoptr (GError) error = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  g_free (data);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }
  for (GList *l = addrs; l && rs->ip == NULL; l = l->next)
    {
      g_autofree char *ip = g_inet_address_to_string (l->data);
      if (punch_session_address_wanted (self->config, ip))
        rs->ip = g_steal_pointer (&ip);
    }
  g_resolver_free_addresses (addrs);
  if (rs->ip == NULL)
    {
      g_set_error (&rs->error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE, "cannot resolve %s: %s",
                   rs->server->host, error ? error->message : "no address of an enabled family");
      g_warning ("%s", rs->error->message);
    }
  if (--self->pending_resolves == 0 && self->state == PUNCH_STATE_GATHERING)
    punch_session_begin_gathering (self);
  g_object_unref (self);
}

gboolean
punch_session_start (PunchSession *self, GError **error)
{
  g_autoptr (GResolver) resolver = NULL;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (self->state != PUNCH_STATE_NEW)
    {
      g_set_error (error, PUNCH_ERROR,
                   self->state == PUNCH_STATE_CLOSED ? PUNCH_ERROR_CLOSED : PUNCH_ERROR_FAILED,
                   "the session was already started (state %s)",
                   punch_state_to_string (self->state));
      return FALSE;
    }
  self->start_time = g_get_monotonic_time ();
  self->deadline_source = punch_timeout_attach (self->context, self->config->connect_timeout_ms,
                                                on_deadline, self, NULL);
  g_source_set_name (self->deadline_source, "[punch] connect deadline");
  punch_session_set_state (self, PUNCH_STATE_GATHERING);

  for (guint i = 0; i < self->config->ice_servers->len; i++)
    {
      ResolvedServer *rs = g_new0 (ResolvedServer, 1);
      rs->server = self->config->ice_servers->pdata[i];
      g_ptr_array_add (self->resolved, rs);
      if (g_hostname_is_ip_address (rs->server->host))
        {
          if (punch_session_address_wanted (self->config, rs->server->host))
            rs->ip = g_strdup (rs->server->host);
          else
            g_set_error (&rs->error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE,
                         "%s is of an address family that is switched off", rs->server->host);
          continue;
        }
      {
        ResolveData *data = g_new0 (ResolveData, 1);
        if (resolver == NULL)
          resolver = g_resolver_get_default ();
        data->self = g_object_ref (self);
        data->rs = rs;
        self->pending_resolves++;
        g_resolver_lookup_by_name_async (resolver, rs->server->host, self->cancellable, on_resolved,
                                         data);
      }
    }
  if (self->pending_resolves == 0)
    punch_session_begin_gathering (self);
  return TRUE;
}

/* ---- accessors ---------------------------------------------------------- */

const char *
punch_session_get_local_ufrag (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->local_ufrag;
}

const char *
punch_session_get_local_pwd (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->local_pwd;
}

gboolean
punch_session_is_controlling (PunchSession *self)
{
  gboolean controlling = FALSE;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);
  if (self->agent)
    g_object_get (self->agent, "controlling-mode", &controlling, NULL);
  return controlling;
}

gboolean
punch_session_set_role (PunchSession *self, PunchRole role, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (role == PUNCH_ROLE_AUTO)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "a session's role is controlling or controlled, not auto");
      return FALSE;
    }
  if (!punch_session_check_open (self, error))
    return FALSE;
  if (self->remote_credentials_set || self->agent == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "the ICE role can only change before the peer's credentials are set");
      return FALSE;
    }
  self->role_explicit = TRUE;
  self->config->role = role;
  if (self->controlling == (role == PUNCH_ROLE_CONTROLLING))
    return TRUE;
  self->controlling = role == PUNCH_ROLE_CONTROLLING;
  if (!self->gathering_started)
    {
      g_object_set (self->agent, "controlling-mode", self->controlling, NULL);
      return TRUE;
    }
  /* libnice keeps the role an agent had when it started gathering (FACTS.md)
   * and would put the old one on the wire: gather again on a new agent with
   * the same credentials. Candidates announced so far are void. */
  g_debug ("session %p: role %s after gathering began: gathering again", self,
           self->controlling ? "controlling" : "controlled");
  g_clear_object (&self->direct_socket);
  if (self->path_agent == self->agent)
    g_clear_object (&self->path_agent);
  punch_session_retire_agent (self, g_steal_pointer (&self->agent), self->stream_id);
  g_ptr_array_set_size (self->bridges, 0);
  punch_session_reset_ice_run (self);
  if (!punch_session_make_agent (self, self->local_ufrag, self->local_pwd, &local_error))
    {
      punch_session_fail_with_error (self, local_error, "");
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (self->pending_resolves == 0)
    punch_session_begin_gathering (self);
  return TRUE;
}

PunchDescription *
punch_session_get_local_description (PunchSession *self)
{
  PunchDescription *desc;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  desc = punch_description_new (self->local_ufrag, self->local_pwd);
  for (guint i = 0; i < self->local_cands->len; i++)
    g_ptr_array_add (desc->candidates, punch_candidate_copy (self->local_cands->pdata[i]));
  desc->end_of_candidates = self->gathering_done && self->pending_probes == 0;
  if (self->identity)
    desc->fingerprint = g_strdup (punch_identity_get_fingerprint (self->identity));
  return desc;
}

PunchState
punch_session_get_state (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), PUNCH_STATE_FAILED);
  return self->state;
}

const GError *
punch_session_get_error (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->error;
}

const PunchPair *
punch_session_get_selected_pair (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->state == PUNCH_STATE_CONNECTED ? self->selected : NULL;
}

void
punch_session_get_stats (PunchSession *self, PunchStats *stats)
{
  g_return_if_fail (PUNCH_IS_SESSION (self));
  g_return_if_fail (stats != NULL);
  *stats = self->stats;
  if (self->quic)
    {
      PunchQuicStats qs;
      PunchQuicStream *stream = PUNCH_QUIC_STREAM (punch_quic_get_default_stream (self->quic));

      punch_quic_get_stats (self->quic, &qs);
      stats->rtt_ms = qs.rtt_ms;
      stats->handshake_ms = qs.handshake_ms;
      stats->datagrams_lost = qs.datagrams_lost;
      stats->stream_bytes_sent = punch_quic_stream_get_bytes_written (stream);
      stats->stream_bytes_received = punch_quic_stream_get_bytes_read (stream);
    }
}

GIOStream *
punch_session_get_io_stream (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->quic ? punch_quic_get_default_stream (self->quic) : NULL;
}

GIOStream *
punch_session_open_stream (PunchSession *self, GError **error)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);

  if (self->quic == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "streams need the secure channel (PUNCH_SECURITY_QUIC)");
      return NULL;
    }
  if (self->state != PUNCH_STATE_CONNECTED)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED, "not connected (state %s)",
                   punch_state_to_string (self->state));
      return NULL;
    }
  return punch_quic_open_stream (self->quic, error);
}

PunchSecurity
punch_session_get_security (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), PUNCH_SECURITY_QUIC);
  return self->config->security;
}

const char *
punch_session_get_local_fingerprint (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->identity ? punch_identity_get_fingerprint (self->identity) : NULL;
}

const char *
punch_session_get_peer_fingerprint (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), NULL);
  return self->quic ? punch_quic_get_peer_fingerprint (self->quic) : NULL;
}

gsize
punch_session_get_max_datagram_size (PunchSession *self)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), 0);
  if (self->state != PUNCH_STATE_CONNECTED)
    return 0;
  /* plaintext: one UDP datagram on the pair (TURN adds its own header) */
  return self->quic ? punch_quic_get_max_datagram_size (self->quic) : 1200;
}

/* ---- data --------------------------------------------------------------- */

gboolean
punch_session_send (PunchSession *self, const void *data, gsize len, GError **error)
{
  int sent;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (self->state != PUNCH_STATE_CONNECTED)
    {
      if (!punch_session_check_open (self, error))
        return FALSE;
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "not connected yet (state %s)",
                   punch_state_to_string (self->state));
      return FALSE;
    }
  if (self->quic)
    {
      if (!punch_quic_send_datagram (self->quic, data, len, error))
        return FALSE;
      self->stats.bytes_sent += len;
      self->stats.packets_sent++;
      return TRUE;
    }
  if (len > 65535)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "a datagram is at most 65535 bytes, not %" G_GSIZE_FORMAT, len);
      return FALSE;
    }
  sent = nice_agent_send (self->agent, self->stream_id, 1, len, data);
  if (sent < 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                           "the datagram could not be sent on the selected path");
      return FALSE;
    }
  self->stats.bytes_sent += len;
  self->stats.packets_sent++;
  return TRUE;
}

/* ---- connect and close -------------------------------------------------- */

void
punch_session_connect_async (PunchSession *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PUNCH_IS_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_session_connect_async);
  if (self->state == PUNCH_STATE_NEW && !punch_session_start (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  switch (self->state)
    {
    case PUNCH_STATE_CONNECTED: g_task_return_boolean (task, TRUE); break;
    case PUNCH_STATE_FAILED:
    case PUNCH_STATE_CLOSED:
      if (self->error)
        g_task_return_error (task, g_error_copy (self->error));
      else
        g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the session is closed");
      break;
    default:
      if (cancellable)
        {
          /* cancelled: the task returns at once (on our context), not at the deadline */
          GSource *cancel = g_cancellable_source_new (cancellable);
          g_source_set_callback (cancel, (GSourceFunc)(void (*) (void))on_connect_cancelled, task,
                                 NULL);
          g_source_attach (cancel, self->context);
          /* goes with the task: no callback after the task is gone */
          g_task_set_task_data (task, cancel, (GDestroyNotify)destroy_source);
        }
      self->connect_tasks = g_list_append (self->connect_tasks, g_steal_pointer (&task));
      break;
    }
}

gboolean
punch_session_connect_finish (PunchSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_agent_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
close_agent (PunchSession *self, GTask *task)
{
  if (self->quic)
    punch_quic_close (self->quic, 1, "closed");
  shutdown_agents (self, on_agent_closed, task);
}

static gboolean
on_linger_over (gpointer user_data)
{
  GTask *task = user_data;
  PunchSession *self = g_task_get_source_object (task);

  g_clear_pointer (&self->linger_source, g_source_unref);
  close_agent (self, task);
  return G_SOURCE_REMOVE;
}

void
punch_session_close_async (PunchSession *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (PUNCH_IS_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_session_close_async);
  if (self->linger_source)
    {
      /* already closing */
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  g_cancellable_cancel (self->cancellable);
  if (self->quic && self->linger_source == NULL && self->agent
      && punch_quic_has_connection (self->quic))
    {
      /* Code 0 is a normal close; code 1 says a stream the peer was
       * writing is abandoned before its end (the peer's session fails).
       * Then keep the path a moment, so that a late packet still gets our
       * CONNECTION_CLOSE (RFC 9000 section 10.2). */
      gboolean done = punch_quic_all_received (self->quic);
      guint linger = punch_quic_get_linger_ms (self->quic);

      punch_quic_close (self->quic, done ? 0 : 1, done ? NULL : "closed by the application");
      punch_session_set_state (self, PUNCH_STATE_CLOSED);
      self->linger_source
          = punch_timeout_attach (self->context, linger, on_linger_over, task, NULL);
      return;
    }
  punch_session_set_state (self, PUNCH_STATE_CLOSED);
  close_agent (self, task);
}

gboolean
punch_session_close_finish (PunchSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
