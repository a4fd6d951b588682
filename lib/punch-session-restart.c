/* punch-session-restart.c: a connected session keeps its path, or finds another
 *
 * A secure session hears from its peer at least every second or so (QUIC
 * acknowledgements, and a PING after 1 s without traffic). When nothing that
 * only the peer can make has come for PATH_SILENT_MS, or a send fails because
 * the local address went away, the path is taken as gone and the session
 * restarts ICE (RFC 8445 section 9): a new libnice agent with new
 * credentials gathers afresh (new TURN allocations, today's host addresses),
 * the `restart` signal asks the application to send the new credentials
 * through signaling, and the peer restarts its side when they arrive
 * (punch_session_set_remote_credentials()). The old agent keeps carrying
 * packets meanwhile; the QUIC connection above does not notice the change of
 * path, so no byte is lost and no second handshake is made.
 *
 * Consent (RFC 7675) is the QUIC connection's idle timeout: 30 s without an
 * authenticated packet, whatever libnice's checks see. A path that loses
 * most packets but answers some stays up.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"
#include "punch-quic-private.h"

/* no authenticated packet for this long: the path is taken as gone */
#define PATH_SILENT_MS 2500
/* a restart that found nothing (yet) is replaced by a new one after this */
#define RESTART_RETRY_MS 5000
/* signaling saw the peer leave, and its path is this silent: it is gone */
#define PEER_LEFT_SILENT_MS 2000
#define LIVENESS_TICK_MS 250

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

/* An ICE restart needs someone to carry the new credentials to the peer. */
static gboolean
can_restart (PunchSession *self)
{
  return self->quic && self->state == PUNCH_STATE_CONNECTED && !self->peer_left
         && g_signal_has_handler_pending (self, punch_session_signals[SIGNAL_RESTART], 0, TRUE);
}

static gint64
last_heard_us (PunchSession *self)
{
  gint64 t = MAX (self->path_time, self->connected_time);

  if (self->quic)
    t = MAX (t, punch_quic_get_last_receive_time (self->quic));
  return t;
}

static gboolean
on_liveness (gpointer user_data)
{
  PunchSession *self = user_data;
  gint64 now = now_us ();
  gint64 silent_ms = (now - last_heard_us (self)) / 1000;

  if (self->state != PUNCH_STATE_CONNECTED)
    {
      g_clear_pointer (&self->liveness_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  if (self->peer_left && silent_ms >= PEER_LEFT_SILENT_MS)
    {
      g_autoptr (GError) error
          = g_error_new (PUNCH_ERROR, PUNCH_ERROR_PEER_GONE,
                         "the peer is gone: signaling saw it leave, and nothing has come from it "
                         "for %" G_GINT64_FORMAT " ms",
                         silent_ms);
      g_clear_pointer (&self->liveness_source, g_source_unref);
      punch_session_fail_with_error (self, error, "");
      return G_SOURCE_REMOVE;
    }
  if (!self->path_broken && silent_ms < PATH_SILENT_MS)
    return G_SOURCE_CONTINUE;
  if (!can_restart (self))
    return G_SOURCE_CONTINUE; /* the consent timeout decides */
  if (!self->restarting)
    punch_session_restart_ice (self, self->path_broken ? "network-changed" : "path-silent", FALSE);
  else if (now - self->restart_time >= RESTART_RETRY_MS * 1000
           && (!self->restart_answered || self->restart_error))
    /* a run the peer never answered, or one that found nothing: again. A
     * run with the peer's credentials that is still checking goes on. */
    punch_session_restart_ice (self, self->restart_reason, TRUE);
  return G_SOURCE_CONTINUE;
}

/* Connected through a relay while both sides have other candidates: the
 * direct checks may have failed only because they crossed the NATs too early
 * (one side's first check reaches the other's NAT before that NAT has sent
 * anything toward it, and libnice retries only after 500 ms). By now each
 * NAT has sent toward the other: one in-place restart, on the same sockets,
 * checks the direct pairs again at once. */
static void restart_in_place (PunchSession *self, const char *reason);

void
punch_session_try_direct (PunchSession *self)
{
  /* only the QUIC client: connected, it knows the server is connected too
   * (the server's handshake completed first), so the peer can follow */
  if (self->upgrade_tried || !self->quic_client || self->selected == NULL
      || !self->selected->relayed || self->config->policy == PUNCH_POLICY_RELAY
      || !can_restart (self) || self->local_cands->len <= self->n_local_relay
      || self->n_remote_cands <= self->n_remote_relay)
    return;
  self->upgrade_tried = TRUE;
  restart_in_place (self, "direct-upgrade");
}

void
punch_session_watch_path (PunchSession *self)
{
  self->path_time = now_us ();
  if (self->quic == NULL || self->liveness_source)
    return;
  self->liveness_source
      = punch_timeout_attach (self->context, LIVENESS_TICK_MS, on_liveness, self, NULL);
  g_source_set_name (self->liveness_source, "[punch] path liveness");
}

/* The bookkeeping of a new ICE run. */
static void
begin_run (PunchSession *self, char *reason, gboolean in_place)
{
  self->generation++;
  self->restarting = TRUE;
  self->restart_in_place = in_place;
  self->restart_answered = FALSE;
  self->restart_time = now_us ();
  g_free (self->restart_reason);
  self->restart_reason = reason;
  g_clear_error (&self->restart_error);
  self->stats.restarts++;
}

/* A restart on the same agent (nice_agent_restart_stream()): new
 * credentials, the same sockets and so the same NAT mappings and the holes
 * they already opened; the selected pair carries until the new run
 * nominates one. For a path that works (to follow a peer's restart, or to
 * try once more for a direct path): a dead one needs fresh candidates. */
static void
restart_in_place (PunchSession *self, const char *reason)
{
  g_assert (self->agent == self->path_agent);
  if (!nice_agent_restart_stream (self->agent, self->stream_id))
    {
      punch_session_restart_ice (self, reason, TRUE);
      return;
    }
  g_free (self->local_ufrag);
  g_free (self->local_pwd);
  nice_agent_get_local_credentials (self->agent, self->stream_id, &self->local_ufrag,
                                    &self->local_pwd);
  begin_run (self, g_strdup (reason), TRUE);
  /* the peer's side starts again; ours (candidates, gathering) stays */
  self->remote_credentials_set = FALSE;
  self->remote_eoc = FALSE;
  self->n_remote_cands = 0;
  self->n_remote_relay = 0;
  g_message ("ICE restart %u (%s): new credentials on the same sockets; the current path stays "
             "in use until the new checks nominate one",
             self->generation, self->restart_reason);
  g_object_ref (self);
  g_signal_emit (self, punch_session_signals[SIGNAL_RESTART], 0, self->generation,
                 self->restart_reason);
  g_object_unref (self);
}

void
punch_session_follow_peer_restart (PunchSession *self)
{
  gint64 silent_ms = (now_us () - last_heard_us (self)) / 1000;

  if (!self->restarting && !self->path_broken && silent_ms < PATH_SILENT_MS / 2)
    restart_in_place (self, "peer-restarted");
  else
    punch_session_restart_ice (self, "peer-restarted", TRUE);
}

void
punch_session_restart_ice (PunchSession *self, const char *reason, gboolean force)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *why = g_strdup (reason);

  if (self->quic == NULL || self->state != PUNCH_STATE_CONNECTED)
    return;
  if (self->restarting && !force && now_us () - self->restart_time < RESTART_RETRY_MS * 1000)
    return;

  if (self->restarting && !self->restart_in_place)
    {
      /* the last restart's agent found nothing: a new one replaces it */
      punch_session_retire_agent (self, g_steal_pointer (&self->agent), self->stream_id);
      g_ptr_array_set_size (self->bridges, 0);
    }
  else
    {
      /* the current agent carries the path: it stays, as path_agent */
      GPtrArray *empty = self->path_bridges;

      g_assert (self->path_agent == self->agent);
      g_clear_object (&self->agent);
      self->path_bridges = self->bridges;
      self->bridges = empty;
      self->path_was_relayed = self->selected && self->selected->relayed;
    }
  begin_run (self, g_steal_pointer (&why), FALSE);
  /* what TURN said stays known across runs: the error may come before the
   * new run has asked the server again */
  if (self->turn_error)
    {
      g_clear_error (&self->last_turn_error);
      self->last_turn_error = g_error_copy (self->turn_error);
    }
  punch_session_reset_ice_run (self);

  if (!punch_session_make_agent (self, NULL, NULL, &error))
    {
      punch_session_fail_with_error (self, error, "ICE restart: ");
      return;
    }
  g_message ("ICE restart %u (%s): gathering afresh with new credentials; the current path stays "
             "in use until a new one answers",
             self->generation, self->restart_reason);
  g_object_ref (self);
  g_signal_emit (self, punch_session_signals[SIGNAL_RESTART], 0, self->generation,
                 self->restart_reason);
  if (self->state == PUNCH_STATE_CONNECTED && self->agent)
    punch_session_begin_gathering (self);
  g_object_unref (self);
}

void
punch_session_finish_restart (PunchSession *self)
{
  NiceAgent *old;

  if (!self->restarting)
    return;
  g_info ("ICE restart %u (%s): a new path answered after %" G_GINT64_FORMAT " ms",
          self->generation, self->restart_reason, (now_us () - self->restart_time) / 1000);
  self->stats.last_restart_ms = (now_us () - self->restart_time) / 1000;
  if (self->restart_in_place)
    {
      self->restarting = FALSE;
      self->restart_in_place = FALSE;
      self->path_time = now_us ();
      g_clear_error (&self->restart_error);
      return;
    }
  g_clear_object (&self->direct_socket);
  old = g_steal_pointer (&self->path_agent);
  punch_session_retire_agent (self, old, self->path_stream_id);
  g_ptr_array_set_size (self->path_bridges, 0);
  self->path_agent = g_object_ref (self->agent);
  self->path_stream_id = self->stream_id;
  self->restarting = FALSE;
  self->path_broken = FALSE;
  self->path_time = now_us ();
  g_clear_error (&self->restart_error);
  /* the caller announces the new pair, even one with the old addresses */
  g_clear_pointer (&self->selected, punch_pair_free);
}

void
punch_session_restart_failed (PunchSession *self)
{
  if (!self->restarting || self->restart_error)
    return;
  self->restart_error = punch_session_describe_no_path (self, FALSE);
  g_message ("ICE restart %u found no path: %s (tried again in %u s while the path stays silent)",
             self->generation, self->restart_error->message, RESTART_RETRY_MS / 1000);
}

void
punch_session_path_failed (PunchSession *self)
{
  /* Without consent checks (secure sessions), libnice gives up on a pair
   * when TURN refreshes fail: believe QUIC, which hears from the peer or not. */
  g_info ("session %p: libnice reports the path failed", self);
  if (can_restart (self))
    punch_session_restart_ice (self, "path-failed", FALSE);
}

void
punch_session_path_broken (PunchSession *self)
{
  if (!self->path_broken)
    g_info ("session %p: sending on the path failed (the local address or route is gone)", self);
  self->path_broken = TRUE;
}

GError *
punch_session_explain_silence (PunchSession *self, const GError *error)
{
  guint s = self->config->consent_timeout_ms / 1000;

  if (error->domain != PUNCH_ERROR || error->code != PUNCH_ERROR_PEER_GONE)
    return g_error_copy (error);
  if (self->peer_left)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_PEER_GONE,
                        "the peer is gone: signaling saw it leave, and nothing came from it for "
                        "%u s",
                        s);
  if (self->generation == 0)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_PEER_GONE,
                        "%s: the peer is gone or every path to it is down%s", error->message,
                        can_restart (self) ? ""
                                           : " (no ICE restart was possible: nothing carries "
                                             "new credentials to the peer)");
  if (!self->restart_answered)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_PEER_GONE,
                        "%s, and the peer never answered the ICE restart through signaling: it "
                        "is gone",
                        error->message);
  if (self->restart_error && self->restart_error->code == PUNCH_ERROR_NO_ADDRESS)
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESS, "the path went silent and %s",
                        self->restart_error->message);
  if (self->path_was_relayed && (self->turn_error || self->last_turn_error))
    return g_error_new (PUNCH_ERROR, PUNCH_ERROR_RELAY_LOST,
                        "the path went through a TURN relay that stopped answering, and %u ICE "
                        "restarts found no other path: %s",
                        self->generation,
                        (self->turn_error ? self->turn_error : self->last_turn_error)->message);
  return g_error_new (
      PUNCH_ERROR, PUNCH_ERROR_PATH_LOST,
      "the path went silent for %u s and %u ICE restarts found no new one: %s", s, self->generation,
      self->restart_error ? self->restart_error->message : "no candidate pair answered in time");
}

/* ---- public -------------------------------------------------------------- */

gboolean
punch_session_restart (PunchSession *self, GError **error)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (!punch_session_check_open (self, error))
    return FALSE;
  if (self->quic == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "an ICE restart needs a secure session: a plaintext session's data "
                           "would not survive the change of path");
      return FALSE;
    }
  if (self->state != PUNCH_STATE_CONNECTED)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "an ICE restart is for a connected session (this one is %s)",
                   punch_state_to_string (self->state));
      return FALSE;
    }
  punch_session_restart_ice (self, "requested", TRUE);
  return TRUE;
}

void
punch_session_peer_left (PunchSession *self)
{
  g_return_if_fail (PUNCH_IS_SESSION (self));

  if (self->peer_left)
    return;
  self->peer_left = TRUE;
  g_info ("session %p: signaling says the peer left", self);
}
