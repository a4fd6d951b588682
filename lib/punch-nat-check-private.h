/* punch-nat-check-private.h: the parts of the NAT check, shared between its files
 *
 *   punch-nat-check.c           the public entry point: phases in order, the GTask
 *   punch-nat-check-report.c    the boxed report, names, default servers
 *   punch-nat-check-udp.c       STUN transactions over UDP: GSocket sources, retransmissions
 *   punch-nat-check-tcp.c       a Binding over TCP to every server
 *   punch-nat-check-turn.c      an Allocate to every TURN server (the session's diagnosis)
 *   punch-nat-check-lifetime.c  how long an idle mapping lives
 *
 * Everything runs on one GMainContext, the caller's thread-default one.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch-nat-check.h"
#include "punch-stun.h"

G_BEGIN_DECLS

/* RFC 8489 section 6.2.1 with RTO 250 ms, Rc 4, Rm 4 */
#define PUNCH_NAT_MAX_SENDS 4
#define PUNCH_NAT_GIVE_UP_MS 2750
#define PUNCH_NAT_TCP_TIMEOUT_MS 2000

/* The running check: the GTask's data. */
typedef struct
{
  GTask *task; /* not a reference: the task owns this */
  GMainContext *context;
  GCancellable *cancel; /* cancelled when the check ends, for whatever is still running */
  PunchNatCheckReport *report;
  GPtrArray *stun; /* PunchIceServer*, stun: (and turn: servers asked for Binding) */
  GPtrArray *turn; /* PunchIceServer*, turn: and turns: */
  int family;      /* 0 (any), 4 or 6 */
  char *tls_ca_file;
  gint64 start, deadline;
  guint lifetime_max_s;
  PunchNatCheckProgressFunc progress;
  gpointer progress_data;
  GDestroyNotify progress_destroy;
  gboolean finished;
  guint pending; /* asynchronous operations the current phase waits for */
  void (*phase_done) (gpointer check);
} PunchNatCheck;

void punch_nat_check_progress (PunchNatCheck *check, const char *step, const char *detail);

/* Destroys and drops a source; NULL is fine. */
static inline void
punch_nat_clear_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* A group of asynchronous operations of one phase (the TCP probes, the
 * TURN probes), counted as one pending operation of the check. @cancel is
 * cancelled at @end (monotonic time) and when the check ends; the group
 * keeps the check alive, and calls punch_nat_check_op_done() when its last
 * operation is done, unless the check has ended. */
typedef struct
{
  PunchNatCheck *check;
  GTask *task;
  GCancellable *cancel;
  GSource *timer;
  GSource *check_cancel_source;
  guint left;
} PunchNatOps;

/* Returns a group holding one operation: drop it with punch_nat_ops_done()
 * once every operation has been started. */
PunchNatOps *punch_nat_ops_new (PunchNatCheck *check, gint64 end);
void punch_nat_ops_add (PunchNatOps *ops);
void punch_nat_ops_done (PunchNatOps *ops);
/* One of the current phase's operations is done; the last one runs phase_done. */
void punch_nat_check_op_done (PunchNatCheck *check);

/* ---- addresses and sockets (punch-nat-check-udp.c) ---------------------- */

GSocketAddress *punch_nat_socket_address (const PunchStunAddress *a);
void punch_nat_from_socket_address (GSocketAddress *sa, PunchStunAddress *out);
/** A non-blocking UDP socket bound to the any address of @family (4 or 6). */
GSocket *punch_nat_udp_socket (int family, PunchStunAddress *bound, GError **error);
/** The local IP the kernel would use toward @dest; no packet is sent. */
gboolean punch_nat_local_ip_toward (const PunchStunAddress *dest, PunchStunAddress *out);

/* ---- UDP transactions (punch-nat-check-udp.c) ---------------------------- */

typedef struct _PunchNatTx PunchNatTx;
typedef struct _PunchNatUdpRun PunchNatUdpRun;
typedef void (*PunchNatUdpDoneFunc) (gpointer user_data);

/* Transactions run side by side until each is answered or given up, or
 * @deadline (monotonic time) passes. A response counts only if it parses
 * strictly, is a success or error response (never a request or indication),
 * carries the transaction id of a request sent from the socket it arrived
 * on, and comes from the address the test expects. */
PunchNatUdpRun *punch_nat_udp_run_new (PunchNatCheck *check, gint64 deadline);
/**
 * @expect: (nullable): where the answer must come from; @dest when %NULL
 * @server: (nullable): where OTHER-ADDRESS, SOFTWARE, the family go
 */
PunchNatTx *punch_nat_udp_run_add (PunchNatUdpRun *run, GSocket *sock, const PunchStunAddress *dest,
                                   const PunchStunAddress *expect, guint32 change,
                                   PunchCheckProbe *out, PunchNatCheckServer *server);
/* Hairpinning: the request itself must arrive at @listen. */
void punch_nat_tx_set_hairpin (PunchNatTx *tx, GSocket *listen);
/* Lifetime: RESPONSE-PORT @port, and the answer must arrive at @answer_sock. */
void punch_nat_tx_set_response_port (PunchNatTx *tx, guint16 port, GSocket *answer_sock);
/* An answer arrived at the sending socket instead of the answer socket. */
gboolean punch_nat_tx_answered_elsewhere (const PunchNatTx *tx);
/* Starts; @done runs from an idle callback once everything is answered or given up. */
void punch_nat_udp_run_start (PunchNatUdpRun *run, PunchNatUdpDoneFunc done, gpointer user_data);
void punch_nat_udp_run_free (PunchNatUdpRun *run);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNatUdpRun, punch_nat_udp_run_free)

/* ---- the other probes ----------------------------------------------------- */

/* Each starts its operations, counting them in check->pending. */
void punch_nat_tcp_probe_all (PunchNatCheck *check);
/* The TCP mapping of one port toward the first two servers TCP reached (report->tcp). */
void punch_nat_tcp_mapping_start (PunchNatCheck *check);
void punch_nat_turn_probe_all (PunchNatCheck *check);
/* Calls punch_nat_check_op_done() once when the lifetime test is over. */
void punch_nat_lifetime_start (PunchNatCheck *check, PunchNatCheckServer *first);

/* ---- the report (punch-nat-check-report.c) ------------------------------- */

PunchNatCheckReport *punch_nat_check_report_new (void);
void punch_nat_check_server_free (PunchNatCheckServer *server);
void punch_nat_check_turn_free (PunchNatCheckTurn *turn);
void punch_nat_check_count_reject (PunchNatCheckReport *report, const GError *parse_error);

G_END_DECLS
