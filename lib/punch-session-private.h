/* punch-session-private.h: internals shared by the session's files and tests
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <nice/agent.h>
#include "punch-session.h"
#include <sys/socket.h>

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

/* ---- the session's insides, shared by punch-session*.c ------------------- */

typedef struct _PunchQuic PunchQuic;
typedef struct _PunchTlsBridge PunchTlsBridge;
typedef struct _PunchSessionTcp PunchSessionTcp;

/* A configured STUN/TURN server and the address it resolved to. */
typedef struct
{
  PunchIceServer *server; /* borrowed from config */
  char *ip;               /* NULL when resolution failed */
  GError *error;
  PunchTlsBridge *bridge; /* turns: only; owned by self->bridges */
} ResolvedServer;

struct _PunchSession
{
  GObject parent_instance;

  PunchConfig *config;
  GMainContext *context;
  NiceAgent *agent;
  guint stream_id;
  gboolean controlling;
  char *local_ufrag;
  char *local_pwd;

  PunchState state;
  GError *error;
  gint64 start_time;
  gint64 connected_time;
  GSource *deadline_source;
  GCancellable *cancellable; /* resolution, probes */

  guint pending_resolves;
  GPtrArray *resolved;    /* ResolvedServer, in config order */
  GPtrArray *bridges;     /* PunchTlsBridge, of self->agent */
  GPtrArray *local_cands; /* PunchCandidate */
  guint n_local_relay;
  guint n_remote_cands;
  guint n_remote_relay;
  gboolean gathering_done;
  gboolean gathering_started;
  gboolean remote_credentials_set;
  gboolean remote_eoc;
  GQueue early_datagrams; /* GBytes that arrived before CONNECTED */
  GQueue early_packets;   /* QUIC packets that arrived before the path was up */
  guint pending_probes;
  guint n_turn_usable;      /* TURN servers handed to libnice */
  guint n_turn_failed;      /* of those, known to have failed */
  GError *turn_error;       /* why a TURN server gave no relay candidate */
  GError *no_address_error; /* why there was no local address to gather on */

  NiceComponentState nice_state;
  PunchPair *selected;
  PunchStats stats;

  /* the secure channel (NULL with PUNCH_SECURITY_NONE) */
  PunchQuic *quic;
  PunchIdentity *identity;
  char *remote_ufrag;
  char *remote_pwd;
  char *remote_fingerprint;
  gboolean role_explicit;
  gboolean ice_connected;
  gint64 ice_connected_time;
  GSource *linger_source;
  GSocket *direct_socket; /* the selected pair's socket, when QUIC may send on it */
  struct sockaddr_storage direct_addr;
  socklen_t direct_addrlen;
  gboolean gso_off;

  GList *connect_tasks; /* GTask, waiting for connected or failed */

  /* ICE restarts (punch-session-restart.c). self->agent is the current ICE
   * run; path_agent is the one whose selected pair carries the packets: the
   * same object, except while a restart looks for a new path. */
  NiceAgent *path_agent;
  guint path_stream_id;
  GPtrArray *path_bridges;   /* PunchTlsBridge of path_agent, when not self->agent's */
  guint generation;          /* ICE runs after the first */
  gboolean restarting;       /* self->agent is checking; path_agent still carries */
  gboolean restart_in_place; /* ...on the same agent and sockets (path_agent == agent) */
  gboolean upgrade_tried;    /* the one in-place restart toward a direct path */
  gboolean quic_client;      /* this side began the QUIC handshake */
  gboolean restart_answered; /* the peer sent credentials for the current run */
  gint64 restart_time;       /* when the last restart began, monotonic µs */
  gint64 path_time;          /* when the current path was selected */
  GError *restart_error;     /* why the last restart found no path */
  GError *last_turn_error;   /* a TURN server's failure seen by an earlier ICE run */
  char *restart_reason;
  gboolean path_was_relayed;
  gboolean peer_left;   /* signaling saw the peer leave */
  gboolean path_broken; /* sending failed: the local address went away */
  GSource *liveness_source;

  PunchSessionTcp *tcp; /* TCP hole punching (punch-session-tcp.c); NULL when off */
};

enum
{
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_STATE_CHANGED,
  SIGNAL_SELECTED_PAIR,
  SIGNAL_DATAGRAM,
  SIGNAL_STREAM,
  SIGNAL_WRITABLE,
  SIGNAL_RESTART,
  N_SIGNALS
};

extern guint punch_session_signals[N_SIGNALS];

gint64 punch_session_elapsed_ms (PunchSession *self);
void punch_session_set_state (PunchSession *self, PunchState state);
void punch_session_fail_with_error (PunchSession *self, const GError *error, const char *prefix);
/* FALSE with @error set when the session is closed or failed */
gboolean punch_session_check_open (PunchSession *self, GError **error);
/* the address family of @ip is switched on in @config */
gboolean punch_session_address_wanted (const PunchConfig *config, const char *ip);
/* libnice may have given up although candidates can still come: believe it
 * only once both sides are done (punch-session.c) */
void punch_session_maybe_fail_no_path (PunchSession *self);

/* punch-session.c */
/* gathering is over (libnice's and every probe): gathering-done */
void punch_session_finish_gathering (PunchSession *self);
/* ICE has a pair (or TCP has a connection): start the secure channel on it */
void punch_session_maybe_connected (PunchSession *self);
/* punch-session-addresses.c: the host addresses for libnice; FALSE with
 * self->no_address_error when there is none */
gboolean punch_session_add_local_addresses (PunchSession *self);

/* punch-session-tcp.c: TCP hole punching beside ICE */
/* At the first gathering: the TCP mapping of one port, then a `so` candidate */
void punch_session_tcp_gather (PunchSession *self);
/* A remote TCP candidate: `tcptype so` ones are punched toward (the first one) */
void punch_session_tcp_add_remote (PunchSession *self, const PunchCandidate *c);
/* A TCP attempt is under way or carries the channel: libnice's FAILED does
 * not end the session and a relayed pair waits */
gboolean punch_session_tcp_holds (PunchSession *self);
gboolean punch_session_tcp_is_path (PunchSession *self);
/* QUIC's packets, framed (RFC 4571) on the TCP path; FALSE when it is not the path */
gboolean punch_session_tcp_send (PunchSession *self, const guint8 *data, gsize len, gsize segment);
/* Returns: (transfer full): @error (taken) with what TCP saw added */
GError *punch_session_tcp_explain (PunchSession *self, GError *error);
void punch_session_tcp_free (PunchSession *self);

/* punch-session.c: the agents */
gboolean punch_session_make_agent (PunchSession *self, const char *ufrag, const char *pwd,
                                   GError **error);
void punch_session_retire_agent (PunchSession *self, NiceAgent *agent, guint stream_id);
void punch_session_reset_ice_run (PunchSession *self);
void punch_session_begin_gathering (PunchSession *self);
/* Returns: (transfer full): why the current ICE run found no path */
GError *punch_session_describe_no_path (PunchSession *self, gboolean timed_out);

/* punch-session-restart.c: keeping a connected session's path */
/* Starts an ICE restart: a new agent with new credentials, gathering; the
 * path's agent carries on meanwhile. @force: even if one began moments ago. */
void punch_session_restart_ice (PunchSession *self, const char *reason, gboolean force);
/* The peer sent new credentials while connected: restart to follow it (in
 * place, keeping sockets and NAT mappings, while our path is healthy). */
void punch_session_follow_peer_restart (PunchSession *self);
/* The restart's agent has a selected pair: it carries from now on. */
void punch_session_finish_restart (PunchSession *self);
/* The restart's ICE run found no path (every pair failed, or no address). */
void punch_session_restart_failed (PunchSession *self);
/* libnice says the path's pair failed */
void punch_session_path_failed (PunchSession *self);
/* A send on the path's socket failed for want of a route or an address. */
void punch_session_path_broken (PunchSession *self);
/* CONNECTED over a relay while both sides have other candidates: one
 * in-place restart checks the direct pairs again at once */
void punch_session_try_direct (PunchSession *self);
/* CONNECTED: start watching the path */
void punch_session_watch_path (PunchSession *self);
/* Rewrites why the secure channel ended (no answer for the consent timeout)
 * into what the restarts learned. Returns: (transfer full) */
GError *punch_session_explain_silence (PunchSession *self, const GError *error);

/* punch-session-secure.c: the QUIC channel over the selected pair */
PunchQuic *punch_session_new_quic (PunchSession *self);
void punch_session_start_secure_channel (PunchSession *self);
void punch_session_use_selected_socket (PunchSession *self);

G_END_DECLS
