/* punch-tcp-mapping-private.h: the NAT's mapping of one local TCP port (private)
 *
 * The first step of TCP hole punching: from one local port, a STUN Binding
 * request over TCP (RFC 8489 section 6.2.2) to each STUN server, on
 * connections side by side that all share that port (SO_REUSEPORT). Each
 * answer says which public address and port the NAT gave that connection.
 * With two servers, the same public address and port toward both means an
 * endpoint-independent TCP mapping (RFC 5382 REQ-1): the address a peer must
 * connect to for a simultaneous open (punch-tcp-punch-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include "punch-stun-address.h"

G_BEGIN_DECLS

/* The default bound on the whole discovery. */
#define PUNCH_TCP_MAPPING_TIMEOUT_MS 3000

/**
 * PunchTcpMappingBehaviour:
 * @PUNCH_TCP_MAPPING_UNKNOWN: fewer than two servers answered, or they share
 *   an address and port
 * @PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT: the same public address and port
 *   toward every server that answered
 * @PUNCH_TCP_MAPPING_ENDPOINT_DEPENDENT: another public port (or address)
 *   toward another server: a peer cannot know which one to connect to
 */
typedef enum
{
  PUNCH_TCP_MAPPING_UNKNOWN,
  PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT,
  PUNCH_TCP_MAPPING_ENDPOINT_DEPENDENT,
} PunchTcpMappingBehaviour;

/** Returns: (transfer none): "unknown", "endpoint-independent" or "endpoint-dependent" */
const char *punch_tcp_mapping_behaviour_to_string (PunchTcpMappingBehaviour behaviour);

/**
 * PunchTcpMappingProbe:
 * @server: the STUN server asked
 * @mapped: the public address it saw (XOR-MAPPED-ADDRESS, else
 *   MAPPED-ADDRESS); family 0 when it did not answer
 * @connect_ms: time to the connection, -1 when none
 * @answer_ms: time from the start to the answer, -1 when none
 * @error: (nullable): why there is no answer
 */
typedef struct
{
  PunchStunAddress server;
  PunchStunAddress mapped;
  double connect_ms;
  double answer_ms;
  char *error;
} PunchTcpMappingProbe;

/**
 * PunchTcpMapping:
 * @local: the local address every connection was bound to: the any address
 *   of the servers' family and the chosen port
 * @mapped: the public address and port of the first server (in the order
 *   given) that answered
 * @probes: (element-type PunchTcpMappingProbe): one per server, in order
 * @n_answered: how many servers answered
 * @behaviour: whether the mapping is the same toward every server
 * @port_preserved: the NAT kept the local port (@mapped's port is @local's)
 *
 * The result of punch_tcp_mapping_discover_async(). While it is alive it
 * keeps the answered connections open, so a NAT that drops a mapping with
 * its last connection keeps it for the punch; punch_tcp_mapping_release()
 * closes them early.
 */
typedef struct
{
  PunchStunAddress local;
  PunchStunAddress mapped;
  GArray *probes;
  guint n_answered;
  PunchTcpMappingBehaviour behaviour;
  gboolean port_preserved;
  /*< private >*/
  GPtrArray *held; /* GSocket*: the answered connections */
} PunchTcpMapping;

/**
 * punch_tcp_mapping_discover_async:
 * @servers: (array length=n_servers): STUN servers that answer over TCP, all
 *   of one address family
 * @n_servers: 1 or more
 * @local_port: the local port to map; 0 lets the kernel pick one (read it
 *   from the result's @local)
 * @timeout_ms: the bound on the whole discovery; 0 for
 *   %PUNCH_TCP_MAPPING_TIMEOUT_MS
 * @cancellable: (nullable): cancels it
 * @callback: called on the thread-default main context of the caller
 * @user_data: for @callback
 *
 * Connects to every server at once from @local_port, sends each a Binding
 * request with a FINGERPRINT, and takes each server's first whole success
 * or error response with the request's transaction id. Servers that do not
 * answer within @timeout_ms are given up.
 */
void punch_tcp_mapping_discover_async (const PunchStunAddress *servers, guint n_servers,
                                       guint16 local_port, guint timeout_ms,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);

/**
 * punch_tcp_mapping_discover_finish:
 *
 * Returns: (transfer full) (nullable): the mapping when at least one server
 *   answered; otherwise %NULL with @error: PUNCH_ERROR_TIMEOUT when none
 *   answered in time, PUNCH_ERROR_UNREACHABLE when every server refused or
 *   failed (the message names each server and why), PUNCH_ERROR_FAILED when
 *   the port cannot be bound, PUNCH_ERROR_INVALID_ARGUMENT for servers of
 *   mixed families, G_IO_ERROR_CANCELLED when cancelled
 */
PunchTcpMapping *punch_tcp_mapping_discover_finish (GAsyncResult *result, GError **error);

/** Closes the connections the mapping keeps open (the mapping's data stay). */
void punch_tcp_mapping_release (PunchTcpMapping *mapping);
/** Releases and frees @mapping; %NULL is fine. */
void punch_tcp_mapping_free (PunchTcpMapping *mapping);

/** Returns: (transfer full): a one-line summary: "203.0.113.101:40000 (endpoint-independent, port
 * kept)" */
char *punch_tcp_mapping_describe (const PunchTcpMapping *mapping);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchTcpMapping, punch_tcp_mapping_free)

G_END_DECLS
