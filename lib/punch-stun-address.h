/* punch-stun-address.h: an IP transport address, as STUN carries it
 *
 * The address type of the NAT check's report (punch-nat-check.h) and of the
 * classifier (punch-check-classify.h). Plain data: copy it with `=`.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-export.h"

G_BEGIN_DECLS

/**
 * PunchStunAddress:
 * @family: 0 (none), 4 or 6
 * @port: the port, in host byte order
 * @addr: the address in network byte order; IPv4 in the first 4 bytes
 *
 * An IPv4 or IPv6 transport address.
 */
typedef struct
{
  guint8 family;
  guint16 port;
  guint8 addr[16];
} PunchStunAddress;

/** Returns: whether @a and @b are the same IP and port */
PUNCH_EXPORT gboolean punch_stun_address_equal (const PunchStunAddress *a,
                                                const PunchStunAddress *b);
/** Returns: whether @a and @b have the same IP (ports aside) */
PUNCH_EXPORT gboolean punch_stun_address_same_ip (const PunchStunAddress *a,
                                                  const PunchStunAddress *b);
/**
 * punch_stun_address_to_string:
 * Returns: (transfer full): "192.0.2.1:3478" or "[2001:db8::1]:3478"; "-" when @a has no family
 */
PUNCH_EXPORT char *punch_stun_address_to_string (const PunchStunAddress *a);
/** Parses "IP:PORT" or "[IPv6]:PORT" into @a; returns %FALSE if it is not one */
PUNCH_EXPORT gboolean punch_stun_address_parse (const char *text, PunchStunAddress *a);

G_END_DECLS
