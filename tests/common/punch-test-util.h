/* punch-test-util.h: helpers shared by punch's test suites
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef gboolean (*PunchTestCondition) (gpointer user_data);

/**
 * punch_test_wait:
 * Iterates the thread-default main context until @cond returns %TRUE or
 * @timeout_ms passes. Returns whether the condition became true.
 */
gboolean punch_test_wait (PunchTestCondition cond, gpointer user_data, guint timeout_ms);

/** Iterates the thread-default context for @ms milliseconds. */
void punch_test_spin (guint ms);

/** A local port that was free a moment ago (TCP and UDP). */
guint16 punch_test_free_port (void);

/** A real coturn (`turnserver`) started on 127.0.0.1 for one test. */
typedef struct
{
  GSubprocess *proc;
  char *dir;
  guint16 port;
  char *user;
  char *pass;
  char *secret;     /* non-NULL in REST (use-auth-secret) mode */
  guint16 tls_port; /* non-zero when started with a certificate */
} PunchTestCoturn;

/**
 * punch_test_coturn_start:
 * @secret: (nullable): start in TURN REST mode with this static secret;
 *   otherwise a long-term user "punch" / "hunter2-punch" is configured
 *
 * Skips the current test (g_test_skip) and returns %NULL when `turnserver`
 * is not installed. Fails the test if it does not come up within 10 s.
 */
PunchTestCoturn *punch_test_coturn_start (const char *secret);

/**
 * punch_test_coturn_start_tls:
 * As punch_test_coturn_start(), and also serves TURN over TLS on @tls_port
 * with the given PEM certificate and key.
 */
PunchTestCoturn *punch_test_coturn_start_tls (const char *cert_file, const char *key_file);

/**
 * punch_test_make_certificate:
 * Makes a self-signed certificate for "localhost" and 127.0.0.1 with
 * certtool (gnutls-bin) in @dir. Skips the test and returns %FALSE when
 * certtool is missing.
 */
gboolean punch_test_make_certificate (const char *dir, char **cert_file, char **key_file);
/** Stops the server it started (by its own PID) and removes its directory. */
void punch_test_coturn_stop (PunchTestCoturn *coturn);

/** Removes @dir and the plain files in it (not recursive). */
void punch_test_remove_dir (const char *dir);

G_END_DECLS
