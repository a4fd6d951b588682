/* punch-ice-server.h: STUN and TURN servers as RFC 7064/7065 URIs
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"

G_BEGIN_DECLS

typedef enum
{
  PUNCH_ICE_SERVER_STUN,
  PUNCH_ICE_SERVER_TURN,
  PUNCH_ICE_SERVER_TURNS,
} PunchIceServerKind;

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

/** Returns: (transfer full): the canonical URI, without credentials */
PUNCH_EXPORT char *punch_ice_server_to_uri (const PunchIceServer *server);
PUNCH_EXPORT PunchIceServer *punch_ice_server_copy (const PunchIceServer *server);
PUNCH_EXPORT void punch_ice_server_free (PunchIceServer *server);

PUNCH_EXPORT const char *punch_transport_to_string (PunchTransport transport);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchIceServer, punch_ice_server_free)

G_END_DECLS
