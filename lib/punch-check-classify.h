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

typedef enum
{
  PUNCH_CHECK_PROBE_NOT_RUN,
  PUNCH_CHECK_PROBE_ANSWERED,     /* a valid success response from the expected address */
  PUNCH_CHECK_PROBE_TIMEOUT,      /* nothing valid arrived */
  PUNCH_CHECK_PROBE_WRONG_SOURCE, /* answers came, but only from an unexpected address */
  PUNCH_CHECK_PROBE_ERROR,        /* an error response (error_code) */
} PunchCheckProbeStatus;

/** One STUN transaction as `punch check` saw it. */
typedef struct
{
  PunchCheckProbeStatus status;
  PunchStunAddress mapped; /* ANSWERED: the reflexive address */
  PunchStunAddress source; /* ANSWERED / WRONG_SOURCE: where the answer came from */
  guint error_code;        /* ERROR */
  double rtt_ms;           /* ANSWERED: from the first send to the answer */
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

typedef enum
{
  PUNCH_NAT_UNKNOWN,
  PUNCH_NAT_NONE, /* no NAT (mapping) / nothing filters (filtering) */
  PUNCH_NAT_ENDPOINT_INDEPENDENT,
  PUNCH_NAT_ADDRESS_DEPENDENT,
  PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT,
} PunchNatBehaviour;

typedef enum
{
  PUNCH_CHECK_METHOD_NONE,
  PUNCH_CHECK_METHOD_RFC5780,    /* OTHER-ADDRESS / CHANGE-REQUEST of one server */
  PUNCH_CHECK_METHOD_COMPARISON, /* the mappings that several servers saw */
  PUNCH_CHECK_METHOD_RFC3489,    /* CHANGED-ADDRESS / CHANGE-REQUEST of one classic server */
} PunchCheckMethod;

typedef enum
{
  PUNCH_PORTS_UNKNOWN,
  PUNCH_PORTS_PRESERVING,
  PUNCH_PORTS_SEQUENTIAL,
  PUNCH_PORTS_RANDOM,
} PunchPortAllocation;

typedef enum
{
  PUNCH_HAIRPIN_UNKNOWN,
  PUNCH_HAIRPIN_YES,
  PUNCH_HAIRPIN_NO,
  PUNCH_HAIRPIN_NOT_APPLICABLE, /* no NAT */
} PunchHairpin;

typedef enum
{
  PUNCH_PATH_UNKNOWN,
  PUNCH_PATH_DIRECT,
  PUNCH_PATH_RELAY,
} PunchPath;

/* The kinds of peer the verdict covers, in order. */
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

typedef struct
{
  gboolean udp; /* some server answered over UDP */
  PunchNatBehaviour mapping;
  PunchCheckMethod mapping_method;
  gboolean mapping_varies; /* UNKNOWN, but known to change with the destination */
  char *mapping_reason;
  PunchNatBehaviour filtering;
  PunchCheckMethod filtering_method;
  char *filtering_reason;
  PunchPortAllocation ports;
  char *ports_reason;
  PunchHairpin hairpin;
  char *hairpin_reason;
  PunchPath paths[PUNCH_PEER_N_KINDS];
  char *verdict;  /* one sentence */
  char *exposure; /* plain words */
} PunchCheckResult;

/**
 * punch_check_classify:
 * @obs: what the tests saw
 * @result: (out caller-allocates): filled in; its strings are owned by it:
 *   free them with punch_check_result_clear()
 */
PUNCH_EXPORT void punch_check_classify (const PunchCheckObservations *obs,
                                        PunchCheckResult *result);
/** Frees the strings of @result (not @result itself). */
PUNCH_EXPORT void punch_check_result_clear (PunchCheckResult *result);

/**
 * punch_check_direct_possible:
 * Whether two sites with these behaviours can reach each other directly
 * over UDP by hole punching (each sends to the other's server-reflexive
 * address; replies go to where packets came from, as ICE does).
 * UNKNOWN in, UNKNOWN out.
 */
PUNCH_EXPORT PunchPath punch_check_direct_possible (PunchNatBehaviour map_a,
                                                    PunchNatBehaviour filt_a,
                                                    PunchNatBehaviour map_b,
                                                    PunchNatBehaviour filt_b);

/* The names below are static strings, (transfer none), as JSON uses them. */
PUNCH_EXPORT const char *punch_nat_behaviour_to_string (PunchNatBehaviour b);
PUNCH_EXPORT const char *punch_check_method_to_string (PunchCheckMethod m);
PUNCH_EXPORT const char *punch_port_allocation_to_string (PunchPortAllocation p);
PUNCH_EXPORT const char *punch_hairpin_to_string (PunchHairpin h);
PUNCH_EXPORT const char *punch_path_to_string (PunchPath p);
/** "no NAT", "full cone", ... */
PUNCH_EXPORT const char *punch_peer_kind_to_string (PunchPeerKind k);
/** "no-nat", "full-cone", ... for JSON */
PUNCH_EXPORT const char *punch_peer_kind_to_key (PunchPeerKind k);

G_END_DECLS
