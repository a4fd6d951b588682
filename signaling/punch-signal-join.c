/* punch-signal-join.c: join a room and get a bound session, gathering while joining
 *
 * The sequence punch_signal_client_join_session_async() documents: make and
 * start the session from the caller's config first, join the room meanwhile,
 * then set the role the room decided on the session that is already
 * gathering and bind it. Only if `welcome` brings ICE servers (which a
 * gathering session cannot take) is a second session made, once joined.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-client.h"
#include "punch-signal-binding.h"

typedef struct
{
  PunchConfig *config;
  PunchSession *early; /* gathering while we join; NULL if it could not be made */
} JoinSession;

static void
join_session_free (JoinSession *js)
{
  if (js->early)
    punch_session_close_async (js->early, NULL, NULL, NULL);
  g_clear_object (&js->early);
  punch_config_free (js->config);
  g_free (js);
}

/* Makes a session from @config, lets `session-created` handlers see it, starts it. */
static PunchSession *
make_session (PunchSignalClient *client, const PunchConfig *config, GError **error)
{
  g_autoptr (PunchSession) session = punch_session_new (config, error);

  if (session == NULL)
    return NULL;
  g_signal_emit_by_name (client, "session-created", session);
  if (!punch_session_start (session, error))
    {
      punch_session_close_async (session, NULL, NULL, NULL);
      return NULL;
    }
  return g_steal_pointer (&session);
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchSignalClient *client = PUNCH_SIGNAL_CLIENT (source);
  g_autoptr (GTask) task = user_data;
  JoinSession *js = g_task_get_task_data (task);
  g_autoptr (PunchConfig) config = NULL;
  g_autoptr (PunchSession) session = NULL;
  g_autoptr (GError) error = NULL;

  if (!punch_signal_client_join_finish (client, result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  config = punch_config_copy (js->config);
  if (!punch_signal_client_apply_to_config (client, config, &error)
      || !punch_config_validate (config, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* what failed while joining (no usable address, say) would fail again */
  if (js->early && punch_session_get_state (js->early) == PUNCH_STATE_FAILED
      && punch_session_get_error (js->early))
    {
      g_task_return_error (task, g_error_copy (punch_session_get_error (js->early)));
      return;
    }
  if (js->early && punch_signal_client_get_ice_servers (client)->len == 0
      && punch_session_set_role (js->early, config->role, NULL))
    session = g_steal_pointer (&js->early);
  else
    {
      if (js->early)
        {
          g_debug ("the room's ICE servers need a new session; closing the early one");
          punch_session_close_async (js->early, NULL, NULL, NULL);
          g_clear_object (&js->early);
        }
      session = make_session (client, config, &error);
      if (session == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  g_task_return_pointer (task, punch_signal_binding_new (client, session), g_object_unref);
}

void
punch_signal_client_join_session_async (PunchSignalClient *self, const char *room,
                                        const char *token, const PunchConfig *config,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  JoinSession *js;

  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));
  g_return_if_fail (room != NULL);
  g_return_if_fail (config != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_signal_client_join_session_async);
  js = g_new0 (JoinSession, 1);
  js->config = punch_config_copy (config);
  g_task_set_task_data (task, js, (GDestroyNotify)join_session_free);

  /* Gather while joining: the STUN mappings and TURN allocations then cost
   * no time of their own (docs/bench.md). The role is set once joined. */
  if (!punch_signal_client_is_joined (self))
    {
      js->early = make_session (self, js->config, &error);
      if (js->early == NULL)
        g_debug ("no session before joining (%s); one is made once joined", error->message);
    }
  punch_signal_client_join_async (self, room, token, cancellable, on_joined,
                                  g_steal_pointer (&task));
}

PunchSignalBinding *
punch_signal_client_join_session_finish (PunchSignalClient *self, GAsyncResult *result,
                                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (
      g_task_get_source_tag (G_TASK (result)) == punch_signal_client_join_session_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
