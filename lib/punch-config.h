/* punch-config.h: everything a session is configured with, in one struct
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"
#include "punch-ice-server.h"
#include "punch-identity.h"

G_BEGIN_DECLS

typedef enum
{
  PUNCH_POLICY_ALL,   /* host, srflx and relay candidates */
  PUNCH_POLICY_RELAY, /* relay only, like WebRTC's iceTransportPolicy "relay" */
} PunchPolicy;

typedef enum
{
  PUNCH_ROLE_AUTO, /* controlling; a role conflict is resolved by the ICE tie-breaker */
  PUNCH_ROLE_CONTROLLING,
  PUNCH_ROLE_CONTROLLED,
} PunchRole;

typedef enum
{
  PUNCH_MODE_DATAGRAM, /* what an application mostly sends: datagrams */
  PUNCH_MODE_RELIABLE, /* what an application mostly sends: a byte stream */
} PunchMode;

typedef enum
{
  PUNCH_SECURITY_QUIC, /* QUIC with TLS 1.3 over the ICE pair, both keys checked (the default) */
  PUNCH_SECURITY_NONE, /* raw datagrams on the ICE pair: readable and forgeable by anyone on the
                        * path; for plain ICE peers and debugging only */
} PunchSecurity;

/**
 * PunchConfig:
 * @ice_servers: (element-type PunchIceServer): STUN and TURN servers
 * @policy: which candidates may be used
 * @role: the ICE role
 * @mode: datagram or reliable; with %PUNCH_SECURITY_QUIC both datagrams and
 *   streams are always available, the mode only says which punch connect pipes
 * @security: %PUNCH_SECURITY_QUIC (default) or, loudly, %PUNCH_SECURITY_NONE
 *   (datagram mode only)
 * @identity: (nullable): this side's key (see punch_identity_load()); %NULL
 *   makes a fresh one for the session
 * @pinned_peers: (nullable): fingerprints the peer's key must be one of; with
 *   pins a fingerprint swapped by the signaling server is refused
 * @port_min: lowest local port, 0 for any
 * @port_max: highest local port, 0 for any
 * @ipv4: gather IPv4 candidates
 * @ipv6: gather IPv6 candidates
 * @connect_timeout_ms: from start to connected; the session fails after it
 * @consent_freshness: RFC 7675 consent checks; the path closes when the peer stops answering
 * @local_addresses: (nullable): gather host candidates only on these IP literals
 *   (the loopback address is used only when listed here)
 * @upnp: ask a UPnP IGD for port mappings (slows gathering)
 * @tls_ca_file: (nullable): PEM file of CAs trusted for `turns:` servers,
 *   instead of the system's trust store
 *
 * Copied at construction: changing it afterwards does not affect a session.
 */
typedef struct
{
  GPtrArray *ice_servers;
  PunchPolicy policy;
  PunchRole role;
  PunchMode mode;
  PunchSecurity security;
  PunchIdentity *identity;
  GStrv pinned_peers;
  guint16 port_min;
  guint16 port_max;
  gboolean ipv4;
  gboolean ipv6;
  guint connect_timeout_ms;
  gboolean consent_freshness;
  GStrv local_addresses;
  gboolean upnp;
  char *tls_ca_file;
} PunchConfig;

#define PUNCH_TYPE_CONFIG (punch_config_get_type ())
PUNCH_EXPORT GType punch_config_get_type (void);

/** Returns: (transfer full): a config with punch's defaults */
PUNCH_EXPORT PunchConfig *punch_config_new (void);
PUNCH_EXPORT PunchConfig *punch_config_copy (const PunchConfig *config);
PUNCH_EXPORT void punch_config_free (PunchConfig *config);

/** Parses @uri (see punch_ice_server_parse()) and appends the server. */
PUNCH_EXPORT gboolean punch_config_add_ice_server (PunchConfig *config, const char *uri,
                                                   const char *username, const char *credential,
                                                   GError **error);

/** Checks the config as a whole: port range, address families, relay policy without TURN. */
PUNCH_EXPORT gboolean punch_config_validate (const PunchConfig *config, GError **error);

PUNCH_EXPORT gboolean punch_policy_from_string (const char *str, PunchPolicy *out, GError **error);
PUNCH_EXPORT gboolean punch_mode_from_string (const char *str, PunchMode *out, GError **error);
PUNCH_EXPORT gboolean punch_role_from_string (const char *str, PunchRole *out, GError **error);
PUNCH_EXPORT const char *punch_policy_to_string (PunchPolicy policy);
PUNCH_EXPORT const char *punch_mode_to_string (PunchMode mode);
PUNCH_EXPORT const char *punch_role_to_string (PunchRole role);
PUNCH_EXPORT gboolean punch_security_from_string (const char *str, PunchSecurity *out,
                                                  GError **error);
PUNCH_EXPORT const char *punch_security_to_string (PunchSecurity security);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchConfig, punch_config_free)

G_END_DECLS
