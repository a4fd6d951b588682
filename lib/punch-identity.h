/* punch-identity.h: this host's key pair, fingerprints and pinned peers
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"

G_BEGIN_DECLS

/**
 * PunchIdentity:
 *
 * A key pair that identifies one peer: an ECDSA P-256 private key, kept in memory or in a
 * PEM PKCS#8 file of mode 0600. It is a refcounted boxed type; the key never leaves it
 * (there is no getter for the private key, and nothing prints it).
 *
 * Its fingerprint is SHA-256 over the DER encoding of the public key's
 * SubjectPublicKeyInfo (RFC 5280, 4.1.2.7), written in the RFC 8122 form
 * `sha-256 AB:CD:…` (32 colon-separated uppercase hex pairs). It depends on the key
 * only, so it is the same across loads and across the certificates made for the key.
 *
 * Why P-256: every TLS 1.3 stack signs with it (RFC 8446 makes
 * ecdsa_secp256r1_sha256 mandatory to implement), so a peer built on another QUIC
 * library can verify it. Ed25519 also completed a pinned TLS 1.3 handshake both ways
 * between two GnuTLS 3.7.9 peers in the unit test, but it is optional in TLS 1.3.
 */
typedef struct _PunchIdentity PunchIdentity;

#define PUNCH_TYPE_IDENTITY (punch_identity_get_type ())
PUNCH_EXPORT GType punch_identity_get_type (void);

/**
 * punch_identity_new_ephemeral:
 *
 * Makes a fresh key in memory, for one session.
 *
 * Returns: (transfer full) (nullable): the identity, or %NULL with @error set
 */
PUNCH_EXPORT PunchIdentity *punch_identity_new_ephemeral (GError **error);

/**
 * punch_identity_load:
 * @path: a PEM PKCS#8 private key file (`-----BEGIN PRIVATE KEY-----`)
 * @create: make a new key at @path when there is no file
 * @created: (out) (optional): set to %TRUE when the key was created now
 *
 * Loads the key from @path. With @create and no file, makes one with mode 0600 (and
 * the parent directory with mode 0700 if it has to create it), written atomically (a
 * temporary file in the same directory, then renamed). Refuses a file that is not a
 * regular file, or that is readable or writable by group or others, with a message
 * that says how to fix it (`chmod 600 FILE`).
 *
 * Returns: (transfer full) (nullable): the identity, or %NULL with @error set
 */
PUNCH_EXPORT PunchIdentity *punch_identity_load (const char *path, gboolean create,
                                                 gboolean *created, GError **error);

/**
 * punch_identity_default_path:
 *
 * Returns: (transfer full): `$XDG_CONFIG_HOME/punch/identity.pem` (from g_get_user_config_dir())
 */
PUNCH_EXPORT char *punch_identity_default_path (void);

/**
 * punch_identity_ref:
 * @id: an identity
 *
 * Returns: (transfer full): @id, with one more reference
 */
PUNCH_EXPORT PunchIdentity *punch_identity_ref (PunchIdentity *id);
PUNCH_EXPORT void punch_identity_unref (PunchIdentity *id);

/**
 * punch_identity_get_fingerprint:
 *
 * Returns: (transfer none): the canonical fingerprint, `sha-256 AB:CD:…`
 */
PUNCH_EXPORT const char *punch_identity_get_fingerprint (PunchIdentity *id);

/**
 * punch_identity_get_path:
 *
 * Returns: (transfer none) (nullable): the key file it was loaded from, %NULL when ephemeral
 */
PUNCH_EXPORT const char *punch_identity_get_path (PunchIdentity *id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchIdentity, punch_identity_unref)

/**
 * punch_fingerprint_normalize:
 * @text: a fingerprint as a user or a peer wrote it
 *
 * Accepts the RFC 8122 form `sha-256 AB:CD:…` (algorithm name and hex digits in any
 * case), the colon-separated hex alone, or 64 bare hex digits; surrounding whitespace
 * is ignored. A pure function, safe to fuzz.
 *
 * Returns: (transfer full) (nullable): the canonical `sha-256 AB:CD:…` (uppercase), or
 * %NULL with %PUNCH_ERROR_INVALID_ARGUMENT saying what is wrong (another algorithm, the
 * wrong length, a bad character at position N)
 */
PUNCH_EXPORT char *punch_fingerprint_normalize (const char *text, GError **error);

/**
 * punch_fingerprint_equal:
 *
 * Returns: %TRUE when @a and @b are the same fingerprint in any accepted form; %FALSE
 * when they differ or either is %NULL or invalid
 */
PUNCH_EXPORT gboolean punch_fingerprint_equal (const char *a, const char *b);

/**
 * punch_known_peers_load:
 * @path: a known-peers file
 *
 * Reads one peer per line, `FINGERPRINT [name…]`, where FINGERPRINT is one of the forms
 * punch_fingerprint_normalize() accepts, written as one word or as `sha-256 HEX`. Lines
 * whose first non-blank character is `#` and blank lines are ignored. An error names the
 * file and the line.
 *
 * Returns: (transfer full) (element-type utf8) (nullable): the canonical fingerprints in
 * file order (duplicates removed), or %NULL with @error set
 */
PUNCH_EXPORT GPtrArray *punch_known_peers_load (const char *path, GError **error);

G_END_DECLS
