/* punch-check.h: the probes behind `punch check`
 *
 * Sends the RFC 5780 tests, the server comparisons, the hairpin and port
 * allocation probes, TCP and TURN checks, and collects what came back into a
 * PunchCheckObservations for the (pure) classifier in
 * lib/punch-check-classify.c. Blocking, with one poll() loop per phase: a
 * command-line diagnosis, bounded by the caller's timeout.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <punch.h>
#include "punch-stun.h"
#include "punch-check-classify.h"

G_BEGIN_DECLS

typedef struct
{
  GPtrArray *stun;  /* PunchIceServer*: stun: URIs */
  GPtrArray *turn;  /* PunchIceServer*: turn:/turns: URIs with credentials */
  guint timeout_ms; /* everything but --lifetime */
  int family;       /* 0 (any), 4 or 6 */
  gboolean lifetime;
  guint lifetime_max_s;
} PunchCheckConfig;

/** One server that answers Binding requests (a stun: URI, or a turn: one). */
typedef struct
{
  char *uri;
  gboolean resolved;
  char *resolve_error;
  PunchStunAddress addr;
  PunchCheckProbe udp; /* Binding from the mapping socket */
  PunchStunAddress other_address;
  PunchStunAddress response_origin;
  char *software;
  gboolean tcp_ok;
  PunchStunAddress tcp_mapped;
  double tcp_rtt_ms;
  char *tcp_error;
} PunchCheckServer;

typedef struct
{
  char *uri;
  PunchTransport transport;
  gboolean allocated;
  const char *auth; /* "accepted", "rejected", "not-reached" or "unknown" */
  const char *code; /* punch_error_code_to_string(), NULL on success */
  char *message;
} PunchCheckTurn;

/* Why datagrams were dropped, counted over the whole run. */
typedef enum
{
  PUNCH_CHECK_REJECT_SHORT,
  PUNCH_CHECK_REJECT_NOT_STUN,
  PUNCH_CHECK_REJECT_MALFORMED,
  PUNCH_CHECK_REJECT_FINGERPRINT,
  PUNCH_CHECK_REJECT_WRONG_TXID,
  PUNCH_CHECK_REJECT_WRONG_SOURCE,
  PUNCH_CHECK_REJECT_UNKNOWN_ATTRIBUTE,
  PUNCH_CHECK_REJECT_NO_ADDRESS,
  PUNCH_CHECK_REJECT_N,
} PunchCheckReject;

const char *punch_check_reject_to_string (PunchCheckReject r);

typedef struct
{
  GPtrArray *servers; /* PunchCheckServer* */
  GPtrArray *turns;   /* PunchCheckTurn* */
  PunchCheckObservations obs;
  guint rejected[PUNCH_CHECK_REJECT_N];
  gboolean tcp_any;
  /* --lifetime: the mapping survived @lifetime_min_s of silence, and did
   * not survive @lifetime_max_s (0: it outlived every wait) */
  gboolean lifetime_measured;
  guint lifetime_min_s;
  guint lifetime_max_s;
  char *lifetime_reason;
  double elapsed_ms;
} PunchCheckReport;

/** Called for each step, for a progress display. */
typedef void (*PunchCheckProgressFunc) (const char *step, const char *detail, gpointer user_data);

PunchCheckReport *punch_check_report_new (void);
void punch_check_report_free (PunchCheckReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchCheckReport, punch_check_report_free)

/**
 * punch_check_run:
 * Runs every probe for @config into @report. Fails only for local trouble
 * (no socket); unreachable servers are part of the report.
 */
gboolean punch_check_run (const PunchCheckConfig *config, PunchCheckReport *report,
                          PunchCheckProgressFunc progress, gpointer user_data, GError **error);

G_END_DECLS
