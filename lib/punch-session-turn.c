/* punch-session-turn.c: explain why a TURN server gave no relay candidate
 *
 * libnice gives up on a TURN server silently: a wrong password and an
 * unreachable server look the same from outside. punch asks the server
 * itself with one allocation probe, so the error can say which it was.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session-private.h"
#include "punch-error.h"
#if __has_include("punch-turn-probe.h")
#include "punch-turn-probe.h"
#define HAVE_PROBE 1
#endif

#define DIAGNOSE_TIMEOUT_MS 3000

#ifdef HAVE_PROBE
static void
on_probe_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  PunchTurnProbeResult *probe = punch_turn_probe_finish (result, &error);
  const PunchIceServer *server = g_task_get_task_data (task);
  g_autofree char *uri = punch_ice_server_to_uri (server);

  if (probe == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, PUNCH_ERROR,
                                 error->domain == PUNCH_ERROR ? error->code : PUNCH_ERROR_FAILED,
                                 "%s: %s", uri, error->message);
      return;
    }
  punch_turn_probe_result_free (probe);
  /* The server allocates for the probe but libnice got nothing: say so. */
  g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                           "%s: an allocation works from here, but libnice got no relay "
                           "candidate from it", uri);
}
#endif

void
punch_session_diagnose_turn_async (const PunchIceServer *server, const char *ip,
                                   const char *tls_ca_file, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) sa = NULL;

  g_task_set_source_tag (task, punch_session_diagnose_turn_async);
  g_task_set_task_data (task, punch_ice_server_copy (server), (GDestroyNotify) punch_ice_server_free);
  if (addr == NULL)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                               "%s is not an IP address", ip);
      g_object_unref (task);
      return;
    }
  sa = g_inet_socket_address_new (addr, server->port);
#ifdef HAVE_PROBE
  punch_turn_probe_async (server, sa, DIAGNOSE_TIMEOUT_MS, cancellable, on_probe_done, task);
#else
  g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_FAILED, "TURN server gave no relay candidate");
  g_object_unref (task);
#endif
}

gboolean
punch_session_diagnose_turn_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
