/* punch-check-classify.h: NAT behaviour from observed STUN answers
 *
 * A pure function: the NAT check (punch-nat-check.h) fills a
 * PunchCheckObservations with what each test saw, and punch_check_classify()
 * turns it into RFC 4787 / RFC 5780 terms, each with a reason, plus a verdict
 * (which peers can be reached directly) and the exposure (who can send to a
 * mapped port). No I/O: an application can feed it its own observations, and
 * the unit tests feed it synthetic ones.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-export.h"
#include "punch-stun-address.h"

G_BEGIN_DECLS

#define PUNCH_CHECK_MAX_SERVERS 8
#define PUNCH_CHECK_MAX_PORT_SAMPLES 8

/**
 * PunchCheckProbeStatus:
 * @PUNCH_CHECK_PROBE_NOT_RUN: the transaction was not sent
 * @PUNCH_CHECK_PROBE_ANSWERED: a valid success response from the expected
 *   address
 * @PUNCH_CHECK_PROBE_TIMEOUT: nothing valid arrived
 * @PUNCH_CHECK_PROBE_WRONG_SOURCE: answers came, but only from an unexpected
 *   address
 * @PUNCH_CHECK_PROBE_ERROR: an error response (see PunchCheckProbe.error_code)
 *
 * How one STUN transaction ended; %PUNCH_TYPE_CHECK_PROBE_STATUS is its GType.
 */
typedef enum
{
  PUNCH_CHECK_PROBE_NOT_RUN,
  PUNCH_CHECK_PROBE_ANSWERED,
  PUNCH_CHECK_PROBE_TIMEOUT,
  PUNCH_CHECK_PROBE_WRONG_SOURCE,
  PUNCH_CHECK_PROBE_ERROR,
} PunchCheckProbeStatus;

/**
 * PunchCheckProbe:
 * @status: how the transaction ended
 * @mapped: %PUNCH_CHECK_PROBE_ANSWERED: the reflexive address
 * @source: %PUNCH_CHECK_PROBE_ANSWERED, %PUNCH_CHECK_PROBE_WRONG_SOURCE,
 *   %PUNCH_CHECK_PROBE_ERROR: where the answer came from
 * @error_code: %PUNCH_CHECK_PROBE_ERROR: the STUN error code
 * @rtt_ms: %PUNCH_CHECK_PROBE_ANSWERED, %PUNCH_CHECK_PROBE_ERROR: from the
 *   first send to the answer
 *
 * One STUN transaction as `punch check` saw it.
 */
typedef struct
{
  PunchCheckProbeStatus status;
  PunchStunAddress mapped;
  PunchStunAddress source;
  guint error_code;
  double rtt_ms;
} PunchCheckProbe;

/**
 * PunchCheckObservations:
 * @local: the local address of the mapping socket (IP the kernel uses toward
 *   the first server, port of the socket)
 * @map1, @map2, @map3: RFC 5780 mapping tests I, II (to the other IP, the
 *   primary port) and III (to the other IP and port), all from one socket
 * @other: OTHER-ADDRESS (RFC 5780) or CHANGED-ADDRESS (RFC 3489) from test I,
 *   when the server sent one
 * @other_rfc3489: @other is an RFC 3489 CHANGED-ADDRESS (the tests are the
 *   same; the reasons name the standard)
 * @filt1, @filt2, @filt3: RFC 5780 filtering tests I, II (CHANGE-REQUEST
 *   change IP and port) and III (change port), from a second socket that
 *   has talked to nothing else
 * @servers: Binding from the mapping socket to each configured server
 *   (index 0 is the first server, the same transaction as @map1)
 * @server_addr: where each of @servers was sent
 * @port_local, @port_mapped: local and mapped ports of fresh sockets opened
 *   one after the other, each asking the first server once
 * @hairpin: a Binding request from another socket to the mapping socket's
 *   public address; ANSWERED when the mapping socket received it
 * @udp_blocked_hint: TCP reached a server although UDP did not
 */
typedef struct
{
  PunchStunAddress local;
  PunchCheckProbe map1, map2, map3;
  PunchStunAddress other;
  gboolean other_rfc3489;
  PunchCheckProbe filt1, filt2, filt3;
  guint n_servers;
  PunchCheckProbe servers[PUNCH_CHECK_MAX_SERVERS];
  PunchStunAddress server_addr[PUNCH_CHECK_MAX_SERVERS];
  guint n_port_samples;
  guint16 port_local[PUNCH_CHECK_MAX_PORT_SAMPLES];
  guint16 port_mapped[PUNCH_CHECK_MAX_PORT_SAMPLES];
  PunchCheckProbe hairpin;
  gboolean udp_blocked_hint;
} PunchCheckObservations;

/**
 * PunchNatBehaviour:
 * @PUNCH_NAT_UNKNOWN: the tests could not tell
 * @PUNCH_NAT_NONE: no NAT (mapping) / nothing filters (filtering)
 * @PUNCH_NAT_ENDPOINT_INDEPENDENT: RFC 4787 endpoint-independent
 * @PUNCH_NAT_ADDRESS_DEPENDENT: RFC 4787 address-dependent
 * @PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT: RFC 4787 address and port-dependent
 *
 * A NAT's mapping or filtering behaviour, in RFC 4787 terms;
 * %PUNCH_TYPE_NAT_BEHAVIOUR is its GType.
 */
typedef enum
{
  PUNCH_NAT_UNKNOWN,
  PUNCH_NAT_NONE,
  PUNCH_NAT_ENDPOINT_INDEPENDENT,
  PUNCH_NAT_ADDRESS_DEPENDENT,
  PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT,
} PunchNatBehaviour;

/**
 * PunchCheckMethod:
 * @PUNCH_CHECK_METHOD_NONE: no method applied
 * @PUNCH_CHECK_METHOD_RFC5780: OTHER-ADDRESS / CHANGE-REQUEST of one server
 * @PUNCH_CHECK_METHOD_COMPARISON: the mappings that several servers saw
 * @PUNCH_CHECK_METHOD_RFC3489: CHANGED-ADDRESS / CHANGE-REQUEST of one
 *   classic server
 *
 * How a behaviour was found; %PUNCH_TYPE_CHECK_METHOD is its GType.
 */
typedef enum
{
  PUNCH_CHECK_METHOD_NONE,
  PUNCH_CHECK_METHOD_RFC5780,
  PUNCH_CHECK_METHOD_COMPARISON,
  PUNCH_CHECK_METHOD_RFC3489,
} PunchCheckMethod;

/**
 * PunchPortAllocation:
 * @PUNCH_PORTS_UNKNOWN: fewer than 3 fresh sockets were mapped
 * @PUNCH_PORTS_PRESERVING: the public port is the local port (no NAT, or
 *   all fresh sockets but at most one kept theirs)
 * @PUNCH_PORTS_SEQUENTIAL: each fresh socket's public port is 1 to 4 above
 *   the one before
 * @PUNCH_PORTS_RANDOM: the public ports follow neither pattern
 *
 * How the NAT picks the public port of a new mapping;
 * %PUNCH_TYPE_PORT_ALLOCATION is its GType.
 */
typedef enum
{
  PUNCH_PORTS_UNKNOWN,
  PUNCH_PORTS_PRESERVING,
  PUNCH_PORTS_SEQUENTIAL,
  PUNCH_PORTS_RANDOM,
} PunchPortAllocation;

/**
 * PunchHairpin:
 * @PUNCH_HAIRPIN_UNKNOWN: the tests could not tell
 * @PUNCH_HAIRPIN_YES: a packet sent from this host to its own public
 *   address (the mapping socket's) arrived there
 * @PUNCH_HAIRPIN_NO: that packet never arrived
 * @PUNCH_HAIRPIN_NOT_APPLICABLE: there is no NAT
 *
 * Whether the NAT hairpins; %PUNCH_TYPE_HAIRPIN is its GType.
 */
typedef enum
{
  PUNCH_HAIRPIN_UNKNOWN,
  PUNCH_HAIRPIN_YES,
  PUNCH_HAIRPIN_NO,
  PUNCH_HAIRPIN_NOT_APPLICABLE,
} PunchHairpin;

/**
 * PunchPath:
 * @PUNCH_PATH_UNKNOWN: depends on what the tests could not tell
 * @PUNCH_PATH_DIRECT: hole punching reaches the peer directly over UDP
 * @PUNCH_PATH_RELAY: only a relay (TURN) reaches the peer
 *
 * How a kind of peer can be reached; %PUNCH_TYPE_PATH is its GType.
 */
typedef enum
{
  PUNCH_PATH_UNKNOWN,
  PUNCH_PATH_DIRECT,
  PUNCH_PATH_RELAY,
} PunchPath;

/**
 * PunchPeerKind:
 * @PUNCH_PEER_NO_NAT: a peer without NAT
 * @PUNCH_PEER_FULL_CONE: endpoint-independent mapping and filtering
 * @PUNCH_PEER_ADDRESS_RESTRICTED: endpoint-independent mapping,
 *   address-dependent filtering
 * @PUNCH_PEER_PORT_RESTRICTED: endpoint-independent mapping, address and
 *   port-dependent filtering
 * @PUNCH_PEER_SYMMETRIC: address and port-dependent mapping
 * @PUNCH_PEER_UDP_BLOCKED: a network that lets no UDP out
 * @PUNCH_PEER_N_KINDS: the number of kinds, not a kind
 *
 * The kinds of peer the verdict covers, in order (the index of
 * PunchCheckResult.paths); %PUNCH_TYPE_PEER_KIND is its GType.
 */
typedef enum
{
  PUNCH_PEER_NO_NAT,
  PUNCH_PEER_FULL_CONE,
  PUNCH_PEER_ADDRESS_RESTRICTED,
  PUNCH_PEER_PORT_RESTRICTED,
  PUNCH_PEER_SYMMETRIC,
  PUNCH_PEER_UDP_BLOCKED,
  PUNCH_PEER_N_KINDS,
} PunchPeerKind;

/**
 * PunchCheckResult:
 * @udp: some server answered over UDP
 * @mapping: the mapping behaviour
 * @mapping_method: how @mapping was found
 * @mapping_varies: @mapping is %PUNCH_NAT_UNKNOWN, but the mapping is known
 *   to change with the destination
 * @mapping_reason: why @mapping, in words
 * @filtering: the filtering behaviour
 * @filtering_method: how @filtering was found
 * @filtering_reason: why @filtering, in words
 * @ports: the port allocation
 * @ports_reason: why @ports, in words
 * @hairpin: whether the NAT hairpins
 * @hairpin_reason: why @hairpin, in words
 * @paths: for each PunchPeerKind, how a peer of that kind can be reached
 * @verdict: one sentence: which peers can be reached directly
 * @exposure: in plain words, who can send to a mapped port
 *
 * What punch_check_classify() makes of the observations. Its strings are its
 * own: free them with punch_check_result_clear().
 */
typedef struct
{
  gboolean udp;
  PunchNatBehaviour mapping;
  PunchCheckMethod mapping_method;
  gboolean mapping_varies;
  char *mapping_reason;
  PunchNatBehaviour filtering;
  PunchCheckMethod filtering_method;
  char *filtering_reason;
  PunchPortAllocation ports;
  char *ports_reason;
  PunchHairpin hairpin;
  char *hairpin_reason;
  PunchPath paths[PUNCH_PEER_N_KINDS];
  char *verdict;
  char *exposure;
} PunchCheckResult;

/**
 * punch_check_classify:
 * @obs: what the tests saw
 * @result: (out caller-allocates): filled in; its strings are owned by it:
 *   free them with punch_check_result_clear()
 *
 * Classifies @obs. No I/O. @result is overwritten without being freed: clear
 * it first if it holds an earlier result.
 */
PUNCH_EXPORT void punch_check_classify (const PunchCheckObservations *obs,
                                        PunchCheckResult *result);
/**
 * punch_check_result_clear:
 * @result: a result filled by punch_check_classify()
 *
 * Frees the strings of @result (not @result itself) and zeroes it.
 */
PUNCH_EXPORT void punch_check_result_clear (PunchCheckResult *result);

/**
 * punch_check_direct_possible:
 * @map_a: site A's mapping behaviour
 * @filt_a: site A's filtering behaviour
 * @map_b: site B's mapping behaviour
 * @filt_b: site B's filtering behaviour
 *
 * Whether two sites with these behaviours can reach each other directly
 * over UDP by hole punching (each sends to the other's server-reflexive
 * address; replies go to where packets came from, as ICE does). An input
 * that is %PUNCH_NAT_UNKNOWN is tried as every known behaviour.
 *
 * Returns: %PUNCH_PATH_DIRECT or %PUNCH_PATH_RELAY; %PUNCH_PATH_UNKNOWN when
 *   the answer depends on an unknown input
 */
PUNCH_EXPORT PunchPath punch_check_direct_possible (PunchNatBehaviour map_a,
                                                    PunchNatBehaviour filt_a,
                                                    PunchNatBehaviour map_b,
                                                    PunchNatBehaviour filt_b);

/**
 * punch_nat_behaviour_to_string:
 * @b: a behaviour
 *
 * Returns: (transfer none): its name as JSON uses it, e.g.
 *   "endpoint-independent" ("unknown" for no behaviour), the value's nick in
 *   %PUNCH_TYPE_NAT_BEHAVIOUR
 */
PUNCH_EXPORT const char *punch_nat_behaviour_to_string (PunchNatBehaviour b);
/**
 * punch_check_method_to_string:
 * @m: a method
 *
 * Returns: (transfer none): its name as JSON uses it, e.g. "rfc5780" ("none"
 *   for no method), the value's nick in %PUNCH_TYPE_CHECK_METHOD
 */
PUNCH_EXPORT const char *punch_check_method_to_string (PunchCheckMethod m);
/**
 * punch_port_allocation_to_string:
 * @p: a port allocation
 *
 * Returns: (transfer none): its name as JSON uses it, e.g. "preserving"
 *   ("unknown" for no allocation), the value's nick in
 *   %PUNCH_TYPE_PORT_ALLOCATION
 */
PUNCH_EXPORT const char *punch_port_allocation_to_string (PunchPortAllocation p);
/**
 * punch_hairpin_to_string:
 * @h: a hairpin finding
 *
 * Returns: (transfer none): its name as JSON uses it: "yes", "no",
 *   "not-applicable" or "unknown" (also for no finding), the value's nick in
 *   %PUNCH_TYPE_HAIRPIN
 */
PUNCH_EXPORT const char *punch_hairpin_to_string (PunchHairpin h);
/**
 * punch_path_to_string:
 * @p: a path
 *
 * Returns: (transfer none): its name as JSON uses it: "direct", "relay" or
 *   "unknown" (also for no path), the value's nick in %PUNCH_TYPE_PATH
 */
PUNCH_EXPORT const char *punch_path_to_string (PunchPath p);
/**
 * punch_peer_kind_to_string:
 * @k: a kind of peer
 *
 * Returns: (transfer none): the kind in words, plural, as the verdict names
 *   it: "peers without NAT", "full-cone NATs", ..., "UDP-blocked networks";
 *   "?" for no kind
 */
PUNCH_EXPORT const char *punch_peer_kind_to_string (PunchPeerKind k);
/**
 * punch_peer_kind_to_key:
 * @k: a kind of peer
 *
 * Returns: (transfer none): the kind as a JSON key: "no-nat", "full-cone",
 *   ..., "udp-blocked"; "?" for no kind (%PUNCH_PEER_N_KINDS included)
 */
PUNCH_EXPORT const char *punch_peer_kind_to_key (PunchPeerKind k);

G_END_DECLS
