/* test-signal-common.h: a real punch-signal process for one test
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include <punch-signal.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *proc;
  char *dir;         /* scratch: secret file, log */
  char *secret_file; /* NULL with --insecure-no-auth */
  GBytes *secret;
  char *log; /* its stderr */
  char *url; /* as printed on its stdout */
  guint16 port;
} SignalServer;

/**
 * signal_server_start:
 * @secret: (nullable): the room secret; %NULL runs with --insecure-no-auth
 * @listen: (nullable): HOST:PORT, "127.0.0.1:0" when %NULL
 * @extra: (nullable): more arguments, %NULL-terminated
 *
 * Runs $PUNCH_BUILD_DIR/signaling/punch-signal and waits for "listening on URL".
 */
SignalServer *signal_server_start (const char *secret, const char *listen,
                                   const char *const *extra);
/* Starts the same server again on the same port (after signal_server_kill). */
void signal_server_restart (SignalServer *s, const char *const *extra);
/* SIGTERM, waits for it to exit, and checks the exit status is 0. */
void signal_server_kill (SignalServer *s);
/* Kills it if running, removes the scratch dir. */
void signal_server_stop (SignalServer *s);
/* The log so far. */
char *signal_server_log (SignalServer *s);
/* A token for @room valid for @ttl seconds (negative: already expired). */
char *signal_server_token (SignalServer *s, const char *room, gint64 ttl);

/* Joins @client to @room and waits; returns the error (or NULL). */
GError *signal_join (PunchSignalClient *client, const char *room, const char *token);

G_END_DECLS
