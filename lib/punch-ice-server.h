/* punch-ice-server.h: STUN and TURN servers as RFC 7064/7065 URIs
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"

G_BEGIN_DECLS

/**
 * PunchIceServerKind:
 * @PUNCH_ICE_SERVER_STUN: `stun:`
 * @PUNCH_ICE_SERVER_TURN: `turn:`
 * @PUNCH_ICE_SERVER_TURNS: `turns:` (TURN over TLS)
 *
 * The URI scheme of a #PunchIceServer.
 */
typedef enum
{
  PUNCH_ICE_SERVER_STUN,
  PUNCH_ICE_SERVER_TURN,
  PUNCH_ICE_SERVER_TURNS,
} PunchIceServerKind;

/**
 * PunchTransport:
 * @PUNCH_TRANSPORT_UDP: UDP
 * @PUNCH_TRANSPORT_TCP: TCP
 * @PUNCH_TRANSPORT_TLS: TLS over TCP (`turns:`)
 *
 * How a server or a candidate is reached.
 */
typedef enum
{
  PUNCH_TRANSPORT_UDP,
  PUNCH_TRANSPORT_TCP,
  PUNCH_TRANSPORT_TLS,
} PunchTransport;

/**
 * PunchIceServer:
 * @kind: stun, turn or turns
 * @host: a host name or an IP literal, without brackets
 * @port: the port; the scheme's default when the URI has none
 * @transport: UDP or TCP for turn, TLS for turns, UDP for stun
 * @username: (nullable): TURN username
 * @credential: (nullable): TURN password
 *
 * A plain boxed struct, like #NiceCandidate.
 */
typedef struct
{
  PunchIceServerKind kind;
  char *host;
  guint16 port;
  PunchTransport transport;
  char *username;
  char *credential;
} PunchIceServer;

#define PUNCH_TYPE_ICE_SERVER (punch_ice_server_get_type ())
PUNCH_EXPORT GType punch_ice_server_get_type (void);

/**
 * punch_ice_server_parse:
 * @uri: `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or `turns:host[:port]`
 * @username: (nullable): TURN username
 * @credential: (nullable): TURN password
 *
 * A pure function: it does no I/O and no name resolution.
 *
 * Returns: (transfer full) (nullable): the server, or %NULL with @error set
 */
PUNCH_EXPORT PunchIceServer *punch_ice_server_parse (const char *uri, const char *username,
                                                     const char *credential, GError **error);

/**
 * punch_ice_server_to_uri:
 * @server: a server
 *
 * Returns: (transfer full): the canonical URI, without credentials
 */
PUNCH_EXPORT char *punch_ice_server_to_uri (const PunchIceServer *server);
/**
 * punch_ice_server_copy:
 * @server: a server
 *
 * Returns: (transfer full): a deep copy of @server
 */
PUNCH_EXPORT PunchIceServer *punch_ice_server_copy (const PunchIceServer *server);
/**
 * punch_ice_server_free:
 * @server: (nullable) (transfer full): a server
 */
PUNCH_EXPORT void punch_ice_server_free (PunchIceServer *server);

/**
 * punch_transport_to_string:
 * @transport: a transport
 *
 * Returns: (transfer none): "udp", "tcp" or "tls" ("unknown" otherwise), the
 *   value's nick in %PUNCH_TYPE_TRANSPORT
 */
PUNCH_EXPORT const char *punch_transport_to_string (PunchTransport transport);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchIceServer, punch_ice_server_free)

G_END_DECLS
