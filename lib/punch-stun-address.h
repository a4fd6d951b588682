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

/**
 * punch_stun_address_equal:
 * @a: an address
 * @b: another address
 *
 * Returns: %TRUE when @a and @b are the same IP and port; %FALSE when they
 *   differ or either has no family
 */
PUNCH_EXPORT gboolean punch_stun_address_equal (const PunchStunAddress *a,
                                                const PunchStunAddress *b);
/**
 * punch_stun_address_same_ip:
 * @a: an address
 * @b: another address
 *
 * Returns: %TRUE when @a and @b have the same family and IP, whatever their
 *   ports; %FALSE when they differ or either has no family
 */
PUNCH_EXPORT gboolean punch_stun_address_same_ip (const PunchStunAddress *a,
                                                  const PunchStunAddress *b);
/**
 * punch_stun_address_to_string:
 * @a: an address
 *
 * Returns: (transfer full): "192.0.2.1:3478" or "[2001:db8::1]:3478"; "-"
 *   when @a has no family
 */
PUNCH_EXPORT char *punch_stun_address_to_string (const PunchStunAddress *a);
/**
 * punch_stun_address_parse:
 * @text: "IP:PORT" or "[IPv6]:PORT", with a port from 0 to 65535
 * @a: (out caller-allocates): the address; zeroed when @text is not one
 *
 * Returns: %TRUE when @text is an address, otherwise %FALSE
 */
PUNCH_EXPORT gboolean punch_stun_address_parse (const char *text, PunchStunAddress *a);

G_END_DECLS
