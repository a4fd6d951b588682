/* punch-session-remote.c: what the peer tells the session (credentials,
 * fingerprint, candidates, end of candidates), checked before libnice sees it
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"
#include "punch-quic-private.h"

#include <string.h>
#include <nice/agent.h>

/* ---- remote side -------------------------------------------------------- */

gboolean
punch_session_check_open (PunchSession *self, GError **error)
{
  if (self->state == PUNCH_STATE_CLOSED || self->agent == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the session is closed");
      return FALSE;
    }
  if (self->state == PUNCH_STATE_FAILED)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the session has failed: %s",
                   self->error ? self->error->message : "unknown reason");
      return FALSE;
    }
  return TRUE;
}

gboolean
punch_session_set_remote_credentials (PunchSession *self, const char *ufrag, const char *pwd,
                                      GError **error)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (!punch_session_check_open (self, error))
    return FALSE;
  if (!punch_ice_credentials_validate (ufrag, pwd, error))
    return FALSE;
  if (g_strcmp0 (ufrag, self->local_ufrag) == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "the remote ICE credentials are this session's own: "
                           "the description was echoed back to its sender");
      return FALSE;
    }
  if (self->state == PUNCH_STATE_CONNECTED && self->quic && self->remote_credentials_set
      && g_strcmp0 (ufrag, self->remote_ufrag) == 0 && g_strcmp0 (pwd, self->remote_pwd) == 0)
    return TRUE; /* the same again */
  if (self->state == PUNCH_STATE_CONNECTED && self->quic && self->remote_credentials_set)
    {
      /* New credentials from a connected peer: it restarted ICE (RFC 8445
       * section 9). Restart ours, unless our own restart is looking for a
       * path: then these replace what the peer sent for it (both sides
       * restarted at once, or the peer tried again). */
      if (!self->restarting || self->restart_error)
        punch_session_follow_peer_restart (self);
      if (self->state != PUNCH_STATE_CONNECTED || self->agent == NULL)
        return punch_session_check_open (self, error);
    }
  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, ufrag, pwd))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "libnice refused the remote ICE credentials");
      return FALSE;
    }
  self->remote_credentials_set = TRUE;
  if (self->restarting)
    self->restart_answered = TRUE;
  g_free (self->remote_ufrag);
  self->remote_ufrag = g_strdup (ufrag);
  g_free (self->remote_pwd);
  self->remote_pwd = g_strdup (pwd);
  return TRUE;
}

gboolean
punch_session_set_remote_fingerprint (PunchSession *self, const char *fingerprint, GError **error)
{
  g_autofree char *canonical = NULL;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (self->quic == NULL)
    return TRUE; /* a plaintext session checks no key */
  canonical = punch_fingerprint_normalize (fingerprint, error);
  if (canonical == NULL)
    {
      g_prefix_error (error, "the peer's fingerprint: ");
      return FALSE;
    }
  if (self->remote_fingerprint && !punch_fingerprint_equal (self->remote_fingerprint, canonical))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer announced fingerprint %s, then %s: refused", self->remote_fingerprint,
                   canonical);
      return FALSE;
    }
  g_free (self->remote_fingerprint);
  self->remote_fingerprint = g_steal_pointer (&canonical);
  punch_quic_set_expected_fingerprint (self->quic, self->remote_fingerprint);
  return TRUE;
}

static gboolean
add_remote_candidate (PunchSession *self, const PunchCandidate *c, GError **error)
{
  NiceCandidate *nc;
  GSList list = { 0 };
  int added;

  if (c->component != 1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "candidate for component %u, but a punch session has only component 1",
                   c->component);
      return FALSE;
    }
  if (!punch_session_address_wanted (self->config, c->address))
    {
      g_debug ("session %p: ignoring remote candidate %s (address family off)", self, c->address);
      return TRUE;
    }
  if (c->transport == PUNCH_TRANSPORT_TCP)
    {
      punch_session_tcp_add_remote (self, c); /* not libnice's: punch-session-tcp.c */
      return TRUE;
    }
  nc = punch_candidate_to_nice (c, self->stream_id);
  if (nc == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the candidate address %s is not usable", c->address);
      return FALSE;
    }
  list.data = nc;
  added = nice_agent_set_remote_candidates (self->agent, self->stream_id, 1, &list);
  nice_candidate_free (nc);
  if (added < 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                           "libnice refused the remote candidate");
      return FALSE;
    }
  self->n_remote_cands++;
  if (c->type == PUNCH_CANDIDATE_RELAY)
    self->n_remote_relay++;
  return TRUE;
}

gboolean
punch_session_add_remote_candidate (PunchSession *self, const char *line, GError **error)
{
  g_autoptr (PunchCandidate) c = NULL;

  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);

  if (!punch_session_check_open (self, error))
    return FALSE;
  c = punch_candidate_parse (line, error);
  if (c == NULL)
    return FALSE;
  return add_remote_candidate (self, c, error);
}

void
punch_session_set_remote_end_of_candidates (PunchSession *self)
{
  g_return_if_fail (PUNCH_IS_SESSION (self));

  if (self->remote_eoc || self->agent == NULL)
    return;
  self->remote_eoc = TRUE;
  nice_agent_peer_candidate_gathering_done (self->agent, self->stream_id);
  punch_session_maybe_fail_no_path (self);
}

gboolean
punch_session_set_remote_description (PunchSession *self, const PunchDescription *desc,
                                      GError **error)
{
  g_return_val_if_fail (PUNCH_IS_SESSION (self), FALSE);
  g_return_val_if_fail (desc != NULL, FALSE);

  if (self->quic && desc->fingerprint == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                           "the peer's description carries no fingerprint, so its key cannot be "
                           "checked: it is a plaintext ICE peer (talk to it with "
                           "PUNCH_SECURITY_NONE, --insecure-plaintext) or an old punch");
      return FALSE;
    }
  if (desc->fingerprint && !punch_session_set_remote_fingerprint (self, desc->fingerprint, error))
    return FALSE;
  if (!punch_session_set_remote_credentials (self, desc->ufrag, desc->pwd, error))
    return FALSE;
  for (guint i = 0; i < desc->candidates->len; i++)
    if (!add_remote_candidate (self, desc->candidates->pdata[i], error))
      return FALSE;
  if (desc->end_of_candidates)
    punch_session_set_remote_end_of_candidates (self);
  return TRUE;
}
