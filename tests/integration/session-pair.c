/* session-pair.c
 *
 * SPDX-License-Identifier: MIT
 */
#include "session-pair.h"
#include "punch-test-util.h"

#include <string.h>

static void
forward_candidate (PunchSession *from, const char *line, gpointer user_data)
{
  SessionPair *pair = user_data;
  PunchSession *to = from == pair->a ? pair->b : pair->a;
  g_autoptr (GError) error = NULL;
  g_autofree char *rewritten = NULL;

  g_ptr_array_add (from == pair->a ? pair->a_candidates : pair->b_candidates, g_strdup (line));

  if (to == NULL) /* a test dropped it: a vanished peer */
    return;
  if (pair->rewrite)
    {
      rewritten = pair->rewrite (from, line, pair->rewrite_data);
      if (rewritten == NULL)
        return;
      line = rewritten;
    }
  if (!punch_session_add_remote_candidate (to, line, &error))
    g_error ("candidate %s rejected: %s", line, error->message);
}

/* An ICE restart: the new credentials go to the other side, as signaling
 * would carry them; its new candidates follow through forward_candidate(). */
static void
forward_restart (PunchSession *from, guint generation, const char *reason, gpointer user_data)
{
  SessionPair *pair = user_data;
  PunchSession *to = from == pair->a ? pair->b : pair->a;
  g_autoptr (GError) error = NULL;

  if (from == pair->a)
    pair->a_restarts++;
  else
    pair->b_restarts++;
  if (to == NULL)
    return;
  if (!punch_session_set_remote_credentials (to, punch_session_get_local_ufrag (from),
                                             punch_session_get_local_pwd (from), &error))
    g_error ("restart credentials rejected: %s", error->message);
}

static void
forward_eoc (PunchSession *from, gpointer user_data)
{
  SessionPair *pair = user_data;

  if (from == pair->a)
    {
      pair->a_gathered = TRUE;
      if (pair->b)
        punch_session_set_remote_end_of_candidates (pair->b);
    }
  else
    {
      pair->b_gathered = TRUE;
      if (pair->a)
        punch_session_set_remote_end_of_candidates (pair->a);
    }
}

void
session_pair_init (SessionPair *pair, const PunchConfig *config)
{
  session_pair_init_full (pair, config, config, NULL, NULL);
}

void
session_pair_init_full (SessionPair *pair, const PunchConfig *config_a, const PunchConfig *config_b,
                        const char *a_expects, const char *b_expects)
{
  g_autoptr (PunchConfig) ca = punch_config_copy (config_a);
  g_autoptr (PunchConfig) cb = punch_config_copy (config_b);
  g_autoptr (GError) error = NULL;

  memset (pair, 0, sizeof *pair);
  ca->role = PUNCH_ROLE_CONTROLLING;
  cb->role = PUNCH_ROLE_CONTROLLED;
  pair->a = punch_session_new (ca, &error);
  g_assert_no_error (error);
  pair->b = punch_session_new (cb, &error);
  g_assert_no_error (error);
  pair->a_candidates = g_ptr_array_new_with_free_func (g_free);
  pair->b_candidates = g_ptr_array_new_with_free_func (g_free);

  g_signal_connect (pair->a, "local-candidate", G_CALLBACK (forward_candidate), pair);
  g_signal_connect (pair->b, "local-candidate", G_CALLBACK (forward_candidate), pair);
  g_signal_connect (pair->a, "gathering-done", G_CALLBACK (forward_eoc), pair);
  g_signal_connect (pair->b, "gathering-done", G_CALLBACK (forward_eoc), pair);
  g_signal_connect (pair->a, "restart", G_CALLBACK (forward_restart), pair);
  g_signal_connect (pair->b, "restart", G_CALLBACK (forward_restart), pair);

  g_assert_true (
      punch_session_set_remote_credentials (pair->a, punch_session_get_local_ufrag (pair->b),
                                            punch_session_get_local_pwd (pair->b), &error));
  g_assert_no_error (error);
  g_assert_true (
      punch_session_set_remote_credentials (pair->b, punch_session_get_local_ufrag (pair->a),
                                            punch_session_get_local_pwd (pair->a), &error));
  g_assert_no_error (error);
  /* what signaling carries in the description: each side's key fingerprint */
  if (punch_session_get_security (pair->a) == PUNCH_SECURITY_QUIC)
    {
      g_assert_true (punch_session_set_remote_fingerprint (
          pair->a, a_expects ? a_expects : punch_session_get_local_fingerprint (pair->b), &error));
      g_assert_no_error (error);
      g_assert_true (punch_session_set_remote_fingerprint (
          pair->b, b_expects ? b_expects : punch_session_get_local_fingerprint (pair->a), &error));
      g_assert_no_error (error);
    }
}

void
session_pair_start (SessionPair *pair)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_session_start (pair->a, &error));
  g_assert_no_error (error);
  g_assert_true (punch_session_start (pair->b, &error));
  g_assert_no_error (error);
}

static gboolean
both_settled (gpointer data)
{
  SessionPair *pair = data;
  PunchState a = punch_session_get_state (pair->a), b = punch_session_get_state (pair->b);

  return (a == PUNCH_STATE_CONNECTED || a == PUNCH_STATE_FAILED)
         && (b == PUNCH_STATE_CONNECTED || b == PUNCH_STATE_FAILED);
}

void
session_pair_wait_connected (SessionPair *pair, guint timeout_ms)
{
  punch_test_wait (both_settled, pair, timeout_ms);
  for (int i = 0; i < 2; i++)
    {
      PunchSession *s = i == 0 ? pair->a : pair->b;
      const GError *e = punch_session_get_error (s);
      if (punch_session_get_state (s) != PUNCH_STATE_CONNECTED)
        g_error ("session %c is %s, not connected: %s", 'a' + i,
                 punch_state_to_string (punch_session_get_state (s)),
                 e ? e->message : "(no error)");
    }
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SessionPair *pair = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_session_close_finish (PUNCH_SESSION (source), result, &error));
  g_assert_no_error (error);
  pair->close_pending--;
}

static gboolean
closed (gpointer data)
{
  return ((SessionPair *)data)->close_pending == 0;
}

void
session_pair_clear (SessionPair *pair)
{
  PunchSession *sessions[] = { pair->a, pair->b };

  /* either may be gone already (a test can drop one to play a vanished peer) */
  pair->close_pending = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (sessions); i++)
    if (sessions[i])
      {
        pair->close_pending++;
        punch_session_close_async (sessions[i], NULL, on_closed, pair);
      }
  g_assert_true (punch_test_wait (closed, pair, 5000));
  for (gsize i = 0; i < G_N_ELEMENTS (sessions); i++)
    if (sessions[i])
      g_assert_cmpint (punch_session_get_state (sessions[i]), ==, PUNCH_STATE_CLOSED);
  g_clear_object (&pair->a);
  g_clear_object (&pair->b);
  g_clear_pointer (&pair->a_candidates, g_ptr_array_unref);
  g_clear_pointer (&pair->b_candidates, g_ptr_array_unref);
  /* let libnice finish closing its sockets and TURN refreshes */
  punch_test_spin (50);
}
