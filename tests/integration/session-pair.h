/* session-pair.h: two PunchSessions wired to each other in one process
 *
 * The "signaling" is direct: each local candidate is handed to the other
 * session as soon as it is gathered (trickle), then end-of-candidates; an
 * ICE restart's new credentials likewise.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <punch.h>

typedef struct
{
  PunchSession *a; /* controlling */
  PunchSession *b; /* controlled */
  gboolean a_gathered;
  gboolean b_gathered;
  GPtrArray *a_candidates; /* lines, as gathered */
  GPtrArray *b_candidates;
  guint a_restarts; /* `restart` signals seen */
  guint b_restarts;
  gboolean closed;
  guint close_pending;
  /* (optional, set after init) what signaling carries of a candidate line:
   * a new line, or NULL to drop it (a network where that path cannot work) */
  char *(*rewrite) (PunchSession *from, const char *line, gpointer data);
  gpointer rewrite_data;
} SessionPair;

/* Creates both sessions from @config (roles set here) and wires them. */
void session_pair_init (SessionPair *pair, const PunchConfig *config);
/* The same with a config each, and (when not NULL) the fingerprint each side
 * is told the other announced, instead of the real one. */
void session_pair_init_full (SessionPair *pair, const PunchConfig *config_a,
                             const PunchConfig *config_b, const char *a_expects,
                             const char *b_expects);
void session_pair_start (SessionPair *pair);
/* Waits until both are connected; fails the test with their errors otherwise. */
void session_pair_wait_connected (SessionPair *pair, guint timeout_ms);
/* Closes both asynchronously, waits for it, and frees them. */
void session_pair_clear (SessionPair *pair);
