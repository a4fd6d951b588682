/* punch-identity-private.h: an identity's TLS side, for the secure channel (not installed)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gnutls/gnutls.h>
#include "punch-identity.h"

G_BEGIN_DECLS

/**
 * punch_identity_get_credentials:
 *
 * A self-signed X.509 certificate made in memory for the key when the identity was
 * created or loaded (its fingerprint is over the key, so it stays stable across loads),
 * together with the key, ready for TLS 1.3 on either side. The same credentials serve
 * as client and as server; the caller sets the verification itself (see
 * punch_identity_verify_peer()).
 *
 * Returns: (transfer none): owned by @id, valid while @id lives
 */
gnutls_certificate_credentials_t punch_identity_get_credentials (PunchIdentity *id);

/**
 * punch_fingerprint_of_certificate:
 * @der_cert: an X.509 certificate, DER
 *
 * Returns: (transfer full) (nullable): SHA-256 over the certificate's
 * SubjectPublicKeyInfo DER, in canonical form, or %NULL with @error set
 * (%PUNCH_ERROR_AUTHENTICATION: the certificate cannot be parsed)
 */
char *punch_fingerprint_of_certificate (const gnutls_datum_t *der_cert, GError **error);

/**
 * punch_identity_verify_peer:
 * @session: a TLS session whose handshake has received the peer's certificate (call it
 *   from a verify function, or after the handshake)
 * @allowed: (array zero-terminated=1) (nullable): the fingerprints that may connect, in
 *   any form punch_fingerprint_normalize() accepts; %NULL or empty allows any key
 * @fingerprint: (out) (optional) (transfer full): the peer's canonical fingerprint
 *
 * Checks that the peer presented exactly one certificate (X.509) and that its key's
 * fingerprint is one of @allowed. The certificate's dates, issuer and names are not
 * checked: the key is the identity.
 *
 * Returns: %TRUE when the peer is allowed; %FALSE with %PUNCH_ERROR_AUTHENTICATION and a
 * message naming the fingerprint presented and the one(s) expected otherwise
 */
gboolean punch_identity_verify_peer (gnutls_session_t session, const char *const *allowed,
                                     char **fingerprint, GError **error);

/**
 * punch_known_peers_parse:
 * @contents: (array length=len): the text of a known-peers file
 * @name: the file's name, for messages
 *
 * What punch_known_peers_load() does after reading the file. A pure function, safe to fuzz.
 *
 * Returns: (transfer full) (element-type utf8) (nullable): canonical fingerprints
 */
GPtrArray *punch_known_peers_parse (const char *contents, gsize len, const char *name,
                                    GError **error);

G_END_DECLS
