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

/**
 * PunchPolicy:
 * @PUNCH_POLICY_ALL: host, srflx and relay candidates
 * @PUNCH_POLICY_RELAY: relay only, like WebRTC's iceTransportPolicy "relay"
 *
 * Which candidates a session may use.
 */
typedef enum
{
  PUNCH_POLICY_ALL,
  PUNCH_POLICY_RELAY,
} PunchPolicy;

/**
 * PunchRole:
 * @PUNCH_ROLE_AUTO: controlling; a role conflict is resolved by the ICE tie-breaker
 * @PUNCH_ROLE_CONTROLLING: the controlling agent (it nominates)
 * @PUNCH_ROLE_CONTROLLED: the controlled agent
 *
 * The ICE role.
 */
typedef enum
{
  PUNCH_ROLE_AUTO,
  PUNCH_ROLE_CONTROLLING,
  PUNCH_ROLE_CONTROLLED,
} PunchRole;

/**
 * PunchMode:
 * @PUNCH_MODE_DATAGRAM: the application mostly sends datagrams
 * @PUNCH_MODE_RELIABLE: the application mostly sends a byte stream (the
 *   default QUIC stream, punch_session_get_io_stream())
 *
 * What the application carries. A secure session offers both datagrams and
 * streams whatever the mode; %PUNCH_SECURITY_NONE carries datagrams only.
 */
typedef enum
{
  PUNCH_MODE_DATAGRAM,
  PUNCH_MODE_RELIABLE,
} PunchMode;

/**
 * PunchSecurity:
 * @PUNCH_SECURITY_QUIC: QUIC with TLS 1.3 over the ICE pair, both keys checked
 *   against the announced fingerprints (the default)
 * @PUNCH_SECURITY_NONE: bare datagrams on the ICE pair: readable and forgeable
 *   by anyone on the path; for plain ICE peers and debugging only
 *
 * How the data after the ICE checks is protected.
 */
typedef enum
{
  PUNCH_SECURITY_QUIC,
  PUNCH_SECURITY_NONE,
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
 * @consent_timeout_ms: how long a connected session waits without any
 *   authenticated packet from the peer before it declares the peer gone
 *   (RFC 7675: 30 s, the default). Secure sessions count QUIC packets, which
 *   only the peer can make; a path that answers some of them stays up. With
 *   %PUNCH_SECURITY_NONE libnice's own consent checks decide (10 s, fixed).
 * @local_addresses: (nullable): gather host candidates only on these IP literals
 *   (the loopback address is used only when listed here)
 * @upnp: ask a UPnP IGD for port mappings (slows gathering)
 * @tls_ca_file: (nullable): PEM file of CAs trusted for `turns:` servers,
 *   instead of the system's trust store
 * @tcp: TCP hole punching beside UDP ICE (default %TRUE): the NAT's TCP
 *   mapping of one port, learnt from the first STUN or TURN server over TCP,
 *   announced as a `tcptype so` candidate, and a simultaneous open toward
 *   the peer's; used when no direct UDP pair works, before any relay. Off
 *   with %PUNCH_POLICY_RELAY and with %PUNCH_SECURITY_NONE (no plaintext TCP
 *   path).
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
  guint consent_timeout_ms;
  GStrv local_addresses;
  gboolean upnp;
  char *tls_ca_file;
  gboolean tcp;
} PunchConfig;

#define PUNCH_TYPE_CONFIG (punch_config_get_type ())
PUNCH_EXPORT GType punch_config_get_type (void);

/**
 * punch_config_new:
 *
 * Returns: (transfer full): a config with punch's defaults
 */
PUNCH_EXPORT PunchConfig *punch_config_new (void);
/**
 * punch_config_copy:
 * @config: a config
 *
 * Returns: (transfer full): a deep copy of @config
 */
PUNCH_EXPORT PunchConfig *punch_config_copy (const PunchConfig *config);
/**
 * punch_config_free:
 * @config: (nullable) (transfer full): a config
 */
PUNCH_EXPORT void punch_config_free (PunchConfig *config);

/**
 * punch_config_add_ice_server:
 * @config: a config
 * @uri: a `stun:`, `turn:` or `turns:` URI (see punch_ice_server_parse())
 * @username: (nullable): TURN username
 * @credential: (nullable): TURN password
 * @error: return location for a #GError
 *
 * Parses @uri and appends the server.
 *
 * Returns: %TRUE when appended, otherwise %FALSE with @error set
 */
PUNCH_EXPORT gboolean punch_config_add_ice_server (PunchConfig *config, const char *uri,
                                                   const char *username, const char *credential,
                                                   GError **error);

/**
 * punch_config_validate:
 * @config: a config
 * @error: return location for a #GError
 *
 * Checks the config as a whole: port range, address families, relay policy without TURN.
 *
 * Returns: %TRUE when a session can be made from @config, otherwise %FALSE
 *   with @error set (%PUNCH_ERROR_INVALID_ARGUMENT)
 */
PUNCH_EXPORT gboolean punch_config_validate (const PunchConfig *config, GError **error);

/**
 * punch_policy_from_string:
 * @str: "all" or "relay"
 * @out: (out): the policy
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @str names a policy, otherwise %FALSE with @error set
 */
PUNCH_EXPORT gboolean punch_policy_from_string (const char *str, PunchPolicy *out, GError **error);
/**
 * punch_mode_from_string:
 * @str: "datagram" or "reliable"
 * @out: (out): the mode
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @str names a mode, otherwise %FALSE with @error set
 */
PUNCH_EXPORT gboolean punch_mode_from_string (const char *str, PunchMode *out, GError **error);
/**
 * punch_role_from_string:
 * @str: "auto", "controlling" or "controlled"
 * @out: (out): the role
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @str names a role, otherwise %FALSE with @error set
 */
PUNCH_EXPORT gboolean punch_role_from_string (const char *str, PunchRole *out, GError **error);
/**
 * punch_policy_to_string:
 * @policy: a policy
 *
 * Returns: (transfer none): its name ("unknown" for no policy), the value's
 *   nick in %PUNCH_TYPE_POLICY
 */
PUNCH_EXPORT const char *punch_policy_to_string (PunchPolicy policy);
/**
 * punch_mode_to_string:
 * @mode: a mode
 *
 * Returns: (transfer none): its name ("unknown" for no mode), the value's
 *   nick in %PUNCH_TYPE_MODE
 */
PUNCH_EXPORT const char *punch_mode_to_string (PunchMode mode);
/**
 * punch_role_to_string:
 * @role: a role
 *
 * Returns: (transfer none): its name ("unknown" for no role), the value's
 *   nick in %PUNCH_TYPE_ROLE
 */
PUNCH_EXPORT const char *punch_role_to_string (PunchRole role);
/**
 * punch_security_from_string:
 * @str: "quic" or "none"
 * @out: (out): the security
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set (%PUNCH_ERROR_INVALID_ARGUMENT)
 */
PUNCH_EXPORT gboolean punch_security_from_string (const char *str, PunchSecurity *out,
                                                  GError **error);
/**
 * punch_security_to_string:
 * @security: a security
 *
 * Returns: (transfer none): its name, the value's nick in %PUNCH_TYPE_SECURITY
 */
PUNCH_EXPORT const char *punch_security_to_string (PunchSecurity security);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchConfig, punch_config_free)

G_END_DECLS
