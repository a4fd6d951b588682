/* punch-signal-binding.c: a PunchSession wired to a room through PunchSignalClient
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-binding.h"

#include <string.h>

struct _PunchSignalBinding
{
  GObject parent;

  PunchSignalClient *client;
  PunchSession *session;

  char *remote_id;
  gboolean remote_gone;
  gboolean description_sent; /* to remote_id */
  gboolean gathered;
  gboolean got_description; /* from remote_id */

  char *remote_ufrag; /* set on the session */
  char *remote_pwd;
  GPtrArray *pending; /* candidate lines that came before the credentials */
  gboolean pending_eoc;
  GHashTable *seen; /* remote candidate lines already given to the session */
};

enum
{
  SIGNAL_REMOTE_LEFT,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PunchSignalBinding, punch_signal_binding, G_TYPE_OBJECT)

static void
report (PunchSignalBinding *self, const GError *error)
{
  g_debug ("signal binding: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

/* ---- toward the peer ---- */

static void
send_description (PunchSignalBinding *self)
{
  g_autoptr (PunchDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  /* while the client reconnects nothing can go out; `reconnected` sends the
   * description again, with everything gathered meanwhile */
  if (!punch_signal_client_is_joined (self->client))
    return;
  desc = punch_session_get_local_description (self->session);
  /* the session knows whether gathering is over (it may have been before we were bound) */
  desc->end_of_candidates = desc->end_of_candidates || self->gathered;
  if (!punch_signal_client_send_description (self->client, self->remote_id, desc, &error))
    {
      report (self, error);
      return;
    }
  self->description_sent = TRUE;
}

/* A candidate or end-of-candidates goes out by itself only after our
 * description did (which carries what came before), to a peer still here,
 * while the client is joined (a reconnection sends the description again). */
static gboolean
can_trickle (PunchSignalBinding *self)
{
  return self->description_sent && !self->remote_gone
         && punch_signal_client_is_joined (self->client);
}

static void
adopt (PunchSignalBinding *self, const char *id)
{
  char *copy = g_strdup (id); /* @id may be self->remote_id itself */

  g_free (self->remote_id);
  self->remote_id = copy;
  self->remote_gone = FALSE;
  self->description_sent = FALSE;
  self->got_description = FALSE;
  send_description (self);
}

static void
on_local_candidate (PunchSession *session, const char *line, gpointer data)
{
  PunchSignalBinding *self = data;
  g_autoptr (GError) error = NULL;

  /* before the description goes out, the description itself will carry it */
  if (!can_trickle (self))
    return;
  if (!punch_signal_client_send_candidate (self->client, self->remote_id, line, &error))
    report (self, error);
}

static void
on_gathering_done (PunchSession *session, gpointer data)
{
  PunchSignalBinding *self = data;
  g_autoptr (GError) error = NULL;

  self->gathered = TRUE;
  if (!can_trickle (self))
    return;
  if (!punch_signal_client_send_end_of_candidates (self->client, self->remote_id, &error))
    report (self, error);
}

/* ---- from the peer ---- */

static gboolean
from_remote (PunchSignalBinding *self, const char *from)
{
  if (self->remote_id == NULL || self->remote_gone)
    {
      adopt (self, from);
      return TRUE;
    }
  return strcmp (from, self->remote_id) == 0;
}

static void
add_candidate (PunchSignalBinding *self, const char *line)
{
  g_autoptr (GError) error = NULL;

  if (g_hash_table_contains (self->seen, line))
    return;
  g_hash_table_add (self->seen, g_strdup (line));
  if (!punch_session_add_remote_candidate (self->session, line, &error))
    report (self, error);
}

static void
on_description (PunchSignalClient *client, const char *from, PunchDescription *desc, gpointer data)
{
  PunchSignalBinding *self = data;
  g_autoptr (GError) error = NULL;
  gboolean bound = self->remote_id != NULL && !self->remote_gone;
  gboolean first;

  if (!from_remote (self, from))
    return;
  /* Our description may have gone out before the peer was listening (it
   * joins, then binds): answer its first description with ours, once. */
  first = !self->got_description;
  self->got_description = TRUE;
  if (first && bound)
    send_description (self);

  /* the key the peer must present in the secure handshake */
  if (punch_session_get_security (self->session) == PUNCH_SECURITY_QUIC)
    {
      if (desc->fingerprint == NULL)
        error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                             "peer %s announced no key fingerprint, so it cannot be "
                             "authenticated: it is a plaintext peer (--insecure-plaintext) or an "
                             "old punch",
                             from);
      if (error || !punch_session_set_remote_fingerprint (self->session, desc->fingerprint, &error))
        {
          report (self, error);
          return;
        }
    }
  if (self->remote_ufrag == NULL)
    {
      if (!punch_session_set_remote_credentials (self->session, desc->ufrag, desc->pwd, &error))
        {
          report (self, error);
          return;
        }
      self->remote_ufrag = g_strdup (desc->ufrag);
      self->remote_pwd = g_strdup (desc->pwd);
    }
  else if (strcmp (self->remote_ufrag, desc->ufrag) != 0
           || strcmp (self->remote_pwd, desc->pwd) != 0)
    {
      /* The peer restarted ICE (new credentials, same key): a connected
       * session follows, restarting its side too; one still connecting
       * cannot (its checks and handshake are with the old run). */
      if (punch_session_get_state (self->session) != PUNCH_STATE_CONNECTED
          || punch_session_get_security (self->session) != PUNCH_SECURITY_QUIC)
        {
          error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_SIGNALING,
                               "peer %s sent new ICE credentials before this session was "
                               "connected (it restarted its session); this session cannot "
                               "follow: start a new one",
                               from);
          report (self, error);
          return;
        }
      g_autofree char *ours = g_strdup (punch_session_get_local_ufrag (self->session));

      g_debug ("signal binding: peer %s restarted ICE", from);
      g_hash_table_remove_all (self->seen);
      if (!punch_session_set_remote_credentials (self->session, desc->ufrag, desc->pwd, &error))
        {
          report (self, error);
          return;
        }
      /* The session restarted to follow (and `restart` sent our new
       * credentials), or took these for a restart of its own: then answer
       * anyway, the peer may never have had ours (they may have gone out
       * while its signaling connection was dead). */
      if (g_strcmp0 (ours, punch_session_get_local_ufrag (self->session)) == 0)
        send_description (self);
      g_free (self->remote_ufrag);
      g_free (self->remote_pwd);
      self->remote_ufrag = g_strdup (desc->ufrag);
      self->remote_pwd = g_strdup (desc->pwd);
    }
  for (guint i = 0; i < desc->candidates->len; i++)
    {
      g_autofree char *line = punch_candidate_to_string (desc->candidates->pdata[i]);
      add_candidate (self, line);
    }
  for (guint i = 0; i < self->pending->len; i++)
    add_candidate (self, self->pending->pdata[i]);
  g_ptr_array_set_size (self->pending, 0);
  if (desc->end_of_candidates || self->pending_eoc)
    punch_session_set_remote_end_of_candidates (self->session);
  self->pending_eoc = FALSE;
}

static void
on_candidate (PunchSignalClient *client, const char *from, const char *line, gpointer data)
{
  PunchSignalBinding *self = data;

  if (!from_remote (self, from))
    return;
  if (self->remote_ufrag == NULL)
    {
      if (self->pending->len < 256)
        g_ptr_array_add (self->pending, g_strdup (line));
      return;
    }
  add_candidate (self, line);
}

static void
on_end_of_candidates (PunchSignalClient *client, const char *from, gpointer data)
{
  PunchSignalBinding *self = data;

  if (!from_remote (self, from))
    return;
  if (self->remote_ufrag == NULL)
    self->pending_eoc = TRUE;
  else
    punch_session_set_remote_end_of_candidates (self->session);
}

/* The session restarted ICE: the peer needs the new credentials. */
static void
on_restart (PunchSession *session, guint generation, const char *reason, gpointer data)
{
  PunchSignalBinding *self = data;

  self->gathered = FALSE;
  /* the path went silent or the address changed: the signaling connection
   * may be as dead as the path, and the restart needs it */
  if (g_strcmp0 (reason, "path-silent") == 0 || g_strcmp0 (reason, "network-changed") == 0
      || g_strcmp0 (reason, "path-failed") == 0)
    punch_signal_client_check_alive (self->client);
  if (self->remote_id == NULL || self->remote_gone)
    return;
  send_description (self);
}

static void
remote_gone (PunchSignalBinding *self, const char *id)
{
  if (self->remote_id == NULL || self->remote_gone || strcmp (id, self->remote_id) != 0)
    return;
  self->remote_gone = TRUE;
  punch_session_peer_left (self->session);
  g_signal_emit (self, signals[SIGNAL_REMOTE_LEFT], 0, id);
}

static void
on_bye (PunchSignalClient *client, const char *from, gpointer data)
{
  remote_gone (data, from);
}

static void
on_peer_left (PunchSignalClient *client, const char *id, gpointer data)
{
  remote_gone (data, id);
}

static void
on_peer_joined (PunchSignalClient *client, const char *id, gpointer data)
{
  PunchSignalBinding *self = data;

  if (self->remote_id == NULL || self->remote_gone)
    adopt (self, id);
}

/* We came back with a new id: tell the peer again who we are. */
static void
on_reconnected (PunchSignalClient *client, gpointer data)
{
  PunchSignalBinding *self = data;
  const char *const *peers = punch_signal_client_get_peers (client);

  if (peers[0] == NULL)
    return;
  if (self->remote_id && g_strv_contains (peers, self->remote_id))
    adopt (self, self->remote_id);
  else
    adopt (self, peers[0]);
}

/* ---- the object ---- */

static void
punch_signal_binding_dispose (GObject *object)
{
  PunchSignalBinding *self = PUNCH_SIGNAL_BINDING (object);

  if (self->client)
    g_signal_handlers_disconnect_by_data (self->client, self);
  if (self->session)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->client);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (punch_signal_binding_parent_class)->dispose (object);
}

static void
punch_signal_binding_finalize (GObject *object)
{
  PunchSignalBinding *self = PUNCH_SIGNAL_BINDING (object);

  g_free (self->remote_id);
  g_free (self->remote_ufrag);
  g_free (self->remote_pwd);
  g_ptr_array_unref (self->pending);
  g_hash_table_unref (self->seen);
  G_OBJECT_CLASS (punch_signal_binding_parent_class)->finalize (object);
}

static void
punch_signal_binding_class_init (PunchSignalBindingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_signal_binding_dispose;
  object_class->finalize = punch_signal_binding_finalize;

  signals[SIGNAL_REMOTE_LEFT]
      = g_signal_new ("remote-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
punch_signal_binding_init (PunchSignalBinding *self)
{
  self->pending = g_ptr_array_new_with_free_func (g_free);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

PunchSignalBinding *
punch_signal_binding_new (PunchSignalClient *client, PunchSession *session)
{
  PunchSignalBinding *self;
  const char *const *peers;

  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (client), NULL);
  g_return_val_if_fail (PUNCH_IS_SESSION (session), NULL);

  self = g_object_new (PUNCH_TYPE_SIGNAL_BINDING, NULL);
  self->client = g_object_ref (client);
  self->session = g_object_ref (session);

  g_signal_connect (session, "local-candidate", G_CALLBACK (on_local_candidate), self);
  g_signal_connect (session, "gathering-done", G_CALLBACK (on_gathering_done), self);
  g_signal_connect (session, "restart", G_CALLBACK (on_restart), self);
  g_signal_connect (client, "description", G_CALLBACK (on_description), self);
  g_signal_connect (client, "candidate", G_CALLBACK (on_candidate), self);
  g_signal_connect (client, "end-of-candidates", G_CALLBACK (on_end_of_candidates), self);
  g_signal_connect (client, "bye", G_CALLBACK (on_bye), self);
  g_signal_connect (client, "peer-joined", G_CALLBACK (on_peer_joined), self);
  g_signal_connect (client, "peer-left", G_CALLBACK (on_peer_left), self);
  g_signal_connect (client, "reconnected", G_CALLBACK (on_reconnected), self);

  peers = punch_signal_client_get_peers (client);
  if (peers[0] != NULL)
    adopt (self, peers[0]);
  return self;
}

const char *
punch_signal_binding_get_remote_id (PunchSignalBinding *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_BINDING (self), NULL);
  return self->remote_id;
}

PunchSession *
punch_signal_binding_get_session (PunchSignalBinding *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_BINDING (self), NULL);
  return self->session;
}

PunchSignalClient *
punch_signal_binding_get_client (PunchSignalBinding *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_BINDING (self), NULL);
  return self->client;
}
