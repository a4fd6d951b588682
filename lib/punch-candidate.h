/* punch-candidate.h: ICE candidates as RFC 8839 `candidate:` lines
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"
#include "punch-ice-server.h"

G_BEGIN_DECLS

/**
 * PunchCandidateType:
 * @PUNCH_CANDIDATE_HOST: an address of a local interface
 * @PUNCH_CANDIDATE_SRFLX: server reflexive: our address as a STUN server saw it
 * @PUNCH_CANDIDATE_PRFLX: peer reflexive: our address as the peer saw it
 * @PUNCH_CANDIDATE_RELAY: an address allocated on a TURN server
 *
 * The `typ` of a candidate line.
 */
typedef enum
{
  PUNCH_CANDIDATE_HOST,
  PUNCH_CANDIDATE_SRFLX,
  PUNCH_CANDIDATE_PRFLX,
  PUNCH_CANDIDATE_RELAY,
} PunchCandidateType;

/**
 * PunchTcpType:
 * @PUNCH_TCP_TYPE_NONE: not a TCP candidate
 * @PUNCH_TCP_TYPE_ACTIVE: opens the connection
 * @PUNCH_TCP_TYPE_PASSIVE: accepts the connection
 * @PUNCH_TCP_TYPE_SO: simultaneous open
 *
 * The `tcptype` of a TCP candidate (RFC 6544).
 */
typedef enum
{
  PUNCH_TCP_TYPE_NONE,
  PUNCH_TCP_TYPE_ACTIVE,
  PUNCH_TCP_TYPE_PASSIVE,
  PUNCH_TCP_TYPE_SO,
} PunchTcpType;

/**
 * PunchCandidate:
 * @foundation: 1 to 32 ice-chars
 * @component: 1 to 256
 * @transport: %PUNCH_TRANSPORT_UDP or %PUNCH_TRANSPORT_TCP
 * @priority: 0 to 2^32-1
 * @address: an IPv4 or IPv6 literal
 * @port: the port; for an active TCP candidate it means nothing, and 0 is
 *   written as 9 (RFC 6544 section 4.5)
 * @type: host, srflx, prflx or relay
 * @related_address: (nullable): `raddr`
 * @related_port: `rport`, 0 when absent
 * @tcp_type: `tcptype` for TCP candidates
 */
typedef struct
{
  char *foundation;
  guint component;
  PunchTransport transport;
  guint32 priority;
  char *address;
  guint16 port;
  PunchCandidateType type;
  char *related_address;
  guint16 related_port;
  PunchTcpType tcp_type;
} PunchCandidate;

#define PUNCH_TYPE_CANDIDATE (punch_candidate_get_type ())
PUNCH_EXPORT GType punch_candidate_get_type (void);

/**
 * punch_candidate_parse:
 * @line: `candidate:…`, with or without a leading `a=`, without the line ending
 *
 * Reads RFC 8839 lines, with the RFC 6544 `tcptype` (active, passive, so)
 * that every TCP candidate needs, and the draft transports "TCP-SO",
 * "TCP-ACT" and "TCP-PASS" that libnice still reads (as TCP with that
 * tcptype). A pure function, safe to fuzz.
 *
 * Returns: (transfer full) (nullable): the candidate, or %NULL with @error set
 */
PUNCH_EXPORT PunchCandidate *punch_candidate_parse (const char *line, GError **error);

/**
 * punch_candidate_to_string:
 * @candidate: a candidate
 *
 * Returns: (transfer full): `candidate:…` without `a=`
 */
PUNCH_EXPORT char *punch_candidate_to_string (const PunchCandidate *candidate);
/**
 * punch_candidate_copy:
 * @candidate: a candidate
 *
 * Returns: (transfer full): a deep copy of @candidate
 */
PUNCH_EXPORT PunchCandidate *punch_candidate_copy (const PunchCandidate *candidate);
/**
 * punch_candidate_free:
 * @candidate: (nullable) (transfer full): a candidate
 */
PUNCH_EXPORT void punch_candidate_free (PunchCandidate *candidate);

/**
 * punch_candidate_type_to_string:
 * @type: a candidate type
 *
 * Returns: (transfer none): "host", "srflx", "prflx" or "relay" ("unknown"
 *   otherwise), the value's nick in %PUNCH_TYPE_CANDIDATE_TYPE
 */
PUNCH_EXPORT const char *punch_candidate_type_to_string (PunchCandidateType type);

/**
 * punch_tcp_type_to_string:
 * @tcp_type: a tcptype
 *
 * Returns: (transfer none): "none", "active", "passive" or "so" ("unknown"
 *   otherwise), the value's nick in %PUNCH_TYPE_TCP_TYPE and the word of the
 *   `tcptype` attribute
 */
PUNCH_EXPORT const char *punch_tcp_type_to_string (PunchTcpType tcp_type);

/**
 * punch_candidate_priority:
 * @type: the candidate's type
 * @transport: %PUNCH_TRANSPORT_UDP or %PUNCH_TRANSPORT_TCP
 * @tcp_type: the tcptype of a TCP candidate; ignored for UDP
 * @other_preference: 0 to 8191, to tell apart candidates of the same type
 *   and transport (one per interface or server), higher preferred
 * @component: the component id, 1 to 256
 *
 * The RFC 8445 section 5.1.2.1 priority, (2^24) type preference + (2^8)
 * local preference + (256 - component), with RFC 8445's type preferences
 * (host 126, prflx 110, srflx 100, relay 0), halved for TCP so that UDP
 * wins when both work, and RFC 6544 section 4.2's local preference for TCP:
 * direction-pref (host and relay: active 6, passive 4, so 2; srflx and
 * prflx: so 6, active 4, passive 2) times 2^13 plus @other_preference.
 * UDP candidates take direction-pref 7.
 *
 * Returns: the priority, or 0 when an argument is out of range
 */
PUNCH_EXPORT guint32 punch_candidate_priority (PunchCandidateType type, PunchTransport transport,
                                               PunchTcpType tcp_type, guint other_preference,
                                               guint component);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchCandidate, punch_candidate_free)

G_END_DECLS
