/* punch-session-private.h: internals shared by the session's files and tests
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <nice/agent.h>
#include "punch-session.h"

G_BEGIN_DECLS

PunchCandidate *punch_candidate_from_nice (const NiceCandidate *nc);
/** Returns: (nullable): %NULL when the address is not an IP literal */
NiceCandidate *punch_candidate_to_nice (const PunchCandidate *c, guint stream_id);

/**
 * punch_session_diagnose_turn_async:
 * Finds out why a TURN server gave no relay candidate: it tries an
 * allocation itself and reports the server's answer (for example 401 after
 * credentials: authentication failed). Succeeds when the allocation works.
 * @ip and @port are where to send: the server, or the TLS bridge for turns:.
 */
void punch_session_diagnose_turn_async (const PunchIceServer *server, const char *ip, guint16 port,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean punch_session_diagnose_turn_finish (GAsyncResult *result, GError **error);

/* Timers on a given context (the caller's thread-default one), not on the
 * global default context that g_timeout_add() and g_source_remove() use. */
static inline GSource *
punch_timeout_attach (GMainContext *context, guint ms, GSourceFunc func, gpointer data,
                      GDestroyNotify notify)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, notify);
  g_source_attach (source, context);
  return source;
}

/* Destroys and drops a source from punch_timeout_attach(); NULL is fine. */
static inline void
punch_source_clear (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

G_END_DECLS
