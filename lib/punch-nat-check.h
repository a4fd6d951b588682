/* punch-nat-check.h: what the network in front of this host does to UDP
 *
 * punch_nat_check_async() asks the STUN and TURN servers of a PunchConfig
 * the questions of RFC 5780 (or of RFC 3489, with a classic server) and
 * returns one PunchNatCheckReport: reachability over UDP and TCP, mapping,
 * filtering, port allocation, hairpinning, optionally the mapping lifetime,
 * TURN allocation outcomes, and the classifier's verdict and exposure
 * (punch-check-classify.h). `punch check` is a thin renderer of it.
 *
 * It runs on the caller's thread-default GMainContext (GSocket sources and
 * timers, GResolver's asynchronous lookups): nothing blocks, no thread of
 * its own. Cancelling the GCancellable ends it at once with
 * G_IO_ERROR_CANCELLED.
 *
 *   punch_nat_check_async (config, NULL, NULL, NULL, cancellable, on_done, app);
 *   ...
 *   g_autoptr (PunchNatCheckReport) report = punch_nat_check_finish (result, &error);
 *   if (report->result.paths[PUNCH_PEER_SYMMETRIC] == PUNCH_PATH_RELAY) ...
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-export.h"
#include "punch-config.h"
#include "punch-stun-address.h"
#include "punch-check-classify.h"

G_BEGIN_DECLS

/* At most this many servers are asked (PUNCH_CHECK_MAX_SERVERS). */
#define PUNCH_NAT_CHECK_MAX_SERVERS PUNCH_CHECK_MAX_SERVERS

/**
 * PunchStunFamily:
 * @PUNCH_STUN_FAMILY_UNKNOWN: it did not answer over UDP
 * @PUNCH_STUN_FAMILY_RFC3489: classic STUN: CHANGED-ADDRESS, or MAPPED-ADDRESS
 *   only (Vovida's stund, many long-lived public servers)
 * @PUNCH_STUN_FAMILY_RFC5389: RFC 5389 / 8489 without NAT behaviour discovery
 *   (XOR-MAPPED-ADDRESS, no second address: mapping only by comparison)
 * @PUNCH_STUN_FAMILY_RFC5780: RFC 5780 NAT behaviour discovery (OTHER-ADDRESS)
 *
 * Which kind of STUN server answered, judged from its first Binding answer.
 */
typedef enum
{
  PUNCH_STUN_FAMILY_UNKNOWN,
  PUNCH_STUN_FAMILY_RFC3489,
  PUNCH_STUN_FAMILY_RFC5389,
  PUNCH_STUN_FAMILY_RFC5780,
} PunchStunFamily;

/**
 * punch_stun_family_to_string:
 * @family: a family
 *
 * Returns: (transfer none): "unknown" (also for no family), "rfc3489",
 *   "rfc5389" or "rfc5780", the value's nick in %PUNCH_TYPE_STUN_FAMILY
 */
PUNCH_EXPORT const char *punch_stun_family_to_string (PunchStunFamily family);

/**
 * PunchNatCheckServer:
 * @uri: the server as a stun: URI (a turn: server is asked for Binding too)
 * @resolved: its name resolved; else @resolve_error says why
 * @addr: where it was asked
 * @family: which kind of STUN server it is
 * @udp: the Binding from the mapping socket
 * @other_address: its second address: RFC 5780 OTHER-ADDRESS or RFC 3489
 *   CHANGED-ADDRESS (family 0 when it sent none)
 * @response_origin: RFC 5780 RESPONSE-ORIGIN or RFC 3489 SOURCE-ADDRESS
 * @software: (nullable): its SOFTWARE (RFC 3489: SERVER) attribute, valid
 *   UTF-8, as sent: escape it before showing it (punch_text_escape())
 * @tcp_ok: a Binding over TCP was answered
 * @tcp_mapped: the TCP connection's public address
 * @tcp_rtt_ms: the TCP connect time
 * @tcp_error: (nullable): why TCP failed
 */
typedef struct
{
  char *uri;
  gboolean resolved;
  char *resolve_error;
  PunchStunAddress addr;
  PunchStunFamily family;
  PunchCheckProbe udp;
  PunchStunAddress other_address;
  PunchStunAddress response_origin;
  char *software;
  gboolean tcp_ok;
  PunchStunAddress tcp_mapped;
  double tcp_rtt_ms;
  char *tcp_error;
} PunchNatCheckServer;

/**
 * PunchNatCheckTurn:
 * @uri: the TURN server
 * @transport: how it was reached
 * @allocated: an allocation succeeded (and was released at once)
 * @auth: "accepted", "rejected", "not-reached" or "unknown"
 * @code: (nullable): punch_error_code_to_string() of the failure, "timeout"
 *   or "failed"; %NULL on success
 * @message: what the server answered, in words (contains server text:
 *   escape it before showing it)
 */
typedef struct
{
  char *uri;
  PunchTransport transport;
  gboolean allocated;
  const char *auth;
  const char *code;
  char *message;
} PunchNatCheckTurn;

/**
 * PunchNatCheckReject:
 * @PUNCH_NAT_CHECK_REJECT_SHORT: shorter than a STUN header, or than its
 *   header says
 * @PUNCH_NAT_CHECK_REJECT_NOT_STUN: not a STUN message
 * @PUNCH_NAT_CHECK_REJECT_MALFORMED: a STUN message that does not parse, is
 *   too large, or is not a Binding answer
 * @PUNCH_NAT_CHECK_REJECT_FINGERPRINT: its FINGERPRINT does not match
 * @PUNCH_NAT_CHECK_REJECT_WRONG_TXID: its transaction ID is none of the
 *   check's transactions under way
 * @PUNCH_NAT_CHECK_REJECT_WRONG_SOURCE: it came from an unexpected address
 * @PUNCH_NAT_CHECK_REJECT_UNKNOWN_ATTRIBUTE: it has a comprehension-required
 *   attribute this codec does not know (RFC 8489 section 7.3.3)
 * @PUNCH_NAT_CHECK_REJECT_NO_ADDRESS: a success response without a mapped
 *   address
 * @PUNCH_NAT_CHECK_REJECT_WRONG_CLASS: a request or indication where an
 *   answer belongs
 * @PUNCH_NAT_CHECK_REJECT_N: the number of reasons, not a reason
 *
 * Why a datagram or a TCP answer was not taken as an answer. Counted over
 * the whole run in PunchNatCheckReport.rejected.
 */
typedef enum
{
  PUNCH_NAT_CHECK_REJECT_SHORT,
  PUNCH_NAT_CHECK_REJECT_NOT_STUN,
  PUNCH_NAT_CHECK_REJECT_MALFORMED,
  PUNCH_NAT_CHECK_REJECT_FINGERPRINT,
  PUNCH_NAT_CHECK_REJECT_WRONG_TXID,
  PUNCH_NAT_CHECK_REJECT_WRONG_SOURCE,
  PUNCH_NAT_CHECK_REJECT_UNKNOWN_ATTRIBUTE,
  PUNCH_NAT_CHECK_REJECT_NO_ADDRESS,
  PUNCH_NAT_CHECK_REJECT_WRONG_CLASS,
  PUNCH_NAT_CHECK_REJECT_N,
} PunchNatCheckReject;

/**
 * punch_nat_check_reject_to_string:
 * @reject: a reason
 *
 * Returns: (transfer none): its name as JSON uses it: "short", "not-stun",
 *   "malformed", "bad-fingerprint", "wrong-transaction-id",
 *   "unexpected-source", "unknown-required-attribute", "no-mapped-address"
 *   or "wrong-class"; "?" for no reason. Several differ from the value nicks
 *   in %PUNCH_TYPE_NAT_CHECK_REJECT.
 */
PUNCH_EXPORT const char *punch_nat_check_reject_to_string (PunchNatCheckReject reject);

/**
 * PunchNatCheckTcp:
 * @tested: the TCP mapping test ran: some server answered a Binding over TCP
 * @local_port: the one local port the test's connections shared
 * @mapped: the public address of that port (the first answer); family 0
 *   when no server answered from it
 * @n_servers: servers that answered from that port (0 to 2)
 * @endpoint_independent: two servers saw the same public address and port
 * @port_preserved: the NAT kept the local port
 * @punching: whether TCP hole punching (simultaneous open) can work from
 *   here: %PUNCH_PATH_DIRECT toward a peer whose NAT maps TCP the same way,
 *   or an open host; %PUNCH_PATH_RELAY when every connection gets another
 *   public port (only an open peer then, or TURN over TCP);
 *   %PUNCH_PATH_UNKNOWN when fewer than two servers answered
 * @reason: (nullable): the TCP verdict in one sentence
 *
 * The NAT's TCP mapping, as TCP hole punching needs it: two connections from
 * one local port (SO_REUSEPORT) to two servers, a Binding over TCP on each.
 */
typedef struct
{
  gboolean tested;
  guint16 local_port;
  PunchStunAddress mapped;
  guint n_servers;
  gboolean endpoint_independent;
  gboolean port_preserved;
  PunchPath punching;
  char *reason;
} PunchNatCheckTcp;

/**
 * PunchNatCheckReport:
 * @servers: (element-type PunchNatCheckServer): every STUN server asked, in
 *   order; the first resolved one is the one the RFC 5780 tests use
 * @turns: (element-type PunchNatCheckTurn): every TURN server
 * @obs: what the tests saw (the classifier's input)
 * @result: the classification of @obs: mapping, filtering, port allocation,
 *   hairpinning, verdict and exposure
 * @rejected: answers not taken, by PunchNatCheckReject
 * @tcp_any: TCP reached some server
 * @tcp: the TCP mapping of one local port, and whether TCP hole punching
 *   can work from here
 * @lifetime_tested: the lifetime test was asked for
 * @lifetime_measured: the mapping survived @lifetime_min_s of silence, and
 *   (when @lifetime_max_s is not 0) not @lifetime_max_s
 * @lifetime_reason: (nullable): what the lifetime test found, in words
 * @elapsed_ms: how long the check took
 *
 * The whole answer of punch_nat_check_async(). A boxed type.
 */
typedef struct
{
  GPtrArray *servers;
  GPtrArray *turns;
  PunchCheckObservations obs;
  PunchCheckResult result;
  guint rejected[PUNCH_NAT_CHECK_REJECT_N];
  gboolean tcp_any;
  PunchNatCheckTcp tcp;
  gboolean lifetime_tested;
  gboolean lifetime_measured;
  guint lifetime_min_s;
  guint lifetime_max_s;
  char *lifetime_reason;
  double elapsed_ms;
} PunchNatCheckReport;

#define PUNCH_TYPE_NAT_CHECK_REPORT (punch_nat_check_report_get_type ())
PUNCH_EXPORT GType punch_nat_check_report_get_type (void);
/**
 * punch_nat_check_report_copy:
 * @report: a report
 *
 * Returns: (transfer full): a deep copy of @report
 */
PUNCH_EXPORT PunchNatCheckReport *punch_nat_check_report_copy (const PunchNatCheckReport *report);
/**
 * punch_nat_check_report_free:
 * @report: (nullable) (transfer full): a report
 */
PUNCH_EXPORT void punch_nat_check_report_free (PunchNatCheckReport *report);

/**
 * punch_nat_check_report_reachable:
 * @report: a report
 * @why: (out) (optional) (transfer full): when nothing answered, a message
 *   naming each server and why; left untouched otherwise
 *
 * Returns: %TRUE when anything answered: UDP, TCP or a TURN allocation
 */
PUNCH_EXPORT gboolean punch_nat_check_report_reachable (const PunchNatCheckReport *report,
                                                        char **why);

/**
 * PunchNatCheckProgressFunc:
 * @step: "resolve", "udp", "filtering", "hairpin", "mapping", "tcp", "tcp-mapping", "turn"
 *   or "lifetime"
 * @detail: what is being asked (a URI, or the test's name)
 *
 * Called on the check's context as each step starts.
 */
typedef void (*PunchNatCheckProgressFunc) (const char *step, const char *detail,
                                           gpointer user_data);

/**
 * punch_nat_check_async:
 * @config: the servers (PunchConfig.ice_servers: stun:, turn: and turns:
 *   URIs), the address families (@ipv4, @ipv6: only these, when one of them
 *   is %FALSE) and the CA file for turns: (@tls_ca_file); nothing else of it
 *   is used. Copied.
 * @timeout_ms: everything but the lifetime test ends within this; 0 for
 *   15 s
 * @lifetime_max_s: 0 to skip the lifetime test, else spend at most this
 *   long on it (it waits 2, 5, 10, 20, ... s)
 * @progress: (nullable) (scope notified): called as each step starts
 * @progress_data: (closure progress): for @progress
 * @progress_destroy: (nullable): frees @progress_data when the check is done
 * @cancellable: (nullable): ends the check with G_IO_ERROR_CANCELLED
 * @callback: called on the thread-default context when the check is done
 * @user_data: for @callback
 *
 * Runs every probe. Fails only for local trouble (PUNCH_ERROR_INVALID_ARGUMENT:
 * no server, more than PUNCH_NAT_CHECK_MAX_SERVERS, no address family;
 * PUNCH_ERROR_FAILED: no socket) or cancellation: unreachable servers are
 * findings, in the report (see punch_nat_check_report_reachable()).
 */
PUNCH_EXPORT void punch_nat_check_async (const PunchConfig *config, guint timeout_ms,
                                         guint lifetime_max_s, PunchNatCheckProgressFunc progress,
                                         gpointer progress_data, GDestroyNotify progress_destroy,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data);

/**
 * punch_nat_check_finish:
 * @result: the #GAsyncResult given to the callback of punch_nat_check_async()
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the report, or %NULL with @error set
 */
PUNCH_EXPORT PunchNatCheckReport *punch_nat_check_finish (GAsyncResult *result, GError **error);

/**
 * punch_nat_check_default_servers:
 * @origin: (out) (optional) (transfer none): "PUNCH_DEFAULT_STUN" or "built-in"
 *
 * The STUN servers to ask when the user names none: the URIs in the
 * environment variable PUNCH_DEFAULT_STUN (separated by commas or spaces)
 * when it is set and not empty, else a built-in list of well-known public
 * servers of several operators (see docs/check.md), the first of which
 * speaks RFC 5780, so that filtering can be tested.
 *
 * Returns: (transfer full) (array zero-terminated=1): stun: URIs
 */
PUNCH_EXPORT GStrv punch_nat_check_default_servers (const char **origin);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNatCheckReport, punch_nat_check_report_free)

G_END_DECLS
