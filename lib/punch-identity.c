/* punch-identity.c: an ECDSA P-256 key, its self-signed certificate and its fingerprint
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* renameat2 */
#include "punch-identity-private.h"
#include "punch-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* A PEM P-256 key is about 240 bytes; anything much larger is not ours. */
#define MAX_KEY_FILE (64 * 1024)
#define SHA256_LEN 32

struct _PunchIdentity
{
  gatomicrefcount ref;
  char *path; /* nullable: ephemeral */
  char *fingerprint;
  gnutls_certificate_credentials_t creds;
};

G_DEFINE_BOXED_TYPE (PunchIdentity, punch_identity, punch_identity_ref, punch_identity_unref)

static void
set_gnutls_error (GError **error, int code, int ret, const char *what)
{
  g_set_error (error, PUNCH_ERROR, code, "%s: %s", what, gnutls_strerror (ret));
}

/* "sha-256 AB:CD:…" from 32 raw bytes */
static char *
format_fingerprint (const guint8 *digest)
{
  GString *s = g_string_sized_new (8 + SHA256_LEN * 3);

  g_string_append (s, "sha-256 ");
  for (guint i = 0; i < SHA256_LEN; i++)
    g_string_append_printf (s, i ? ":%02X" : "%02X", digest[i]);
  return g_string_free (s, FALSE);
}

static char *
fingerprint_of_pubkey (gnutls_pubkey_t pub, GError **error)
{
  gnutls_datum_t spki = { NULL, 0 };
  guint8 digest[SHA256_LEN];
  int ret;

  ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &spki);
  if (ret < 0)
    {
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot export the public key");
      return NULL;
    }
  ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, spki.data, spki.size, digest);
  gnutls_free (spki.data);
  if (ret < 0)
    {
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot hash the public key");
      return NULL;
    }
  return format_fingerprint (digest);
}

static char *
fingerprint_of_crt (gnutls_x509_crt_t crt, GError **error)
{
  gnutls_pubkey_t pub = NULL;
  char *fp = NULL;
  int ret;

  gnutls_pubkey_init (&pub);
  ret = gnutls_pubkey_import_x509 (pub, crt, 0);
  if (ret < 0)
    set_gnutls_error (error, PUNCH_ERROR_AUTHENTICATION, ret,
                      "the certificate's public key cannot be read");
  else
    fp = fingerprint_of_pubkey (pub, error);
  gnutls_pubkey_deinit (pub);
  return fp;
}

char *
punch_fingerprint_of_certificate (const gnutls_datum_t *der_cert, GError **error)
{
  gnutls_x509_crt_t crt = NULL;
  char *fp = NULL;
  int ret;

  g_return_val_if_fail (der_cert != NULL, NULL);

  gnutls_x509_crt_init (&crt);
  ret = gnutls_x509_crt_import (crt, der_cert, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    set_gnutls_error (error, PUNCH_ERROR_AUTHENTICATION, ret,
                      "the peer's certificate cannot be parsed");
  else
    fp = fingerprint_of_crt (crt, error);
  gnutls_x509_crt_deinit (crt);
  return fp;
}

/* The key must be what punch makes: ECDSA on P-256. */
static gboolean
check_key_type (gnutls_x509_privkey_t key, const char *where, GError **error)
{
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  int pk = gnutls_x509_privkey_get_pk_algorithm2 (key, NULL);

  if (pk == GNUTLS_PK_ECDSA)
    gnutls_x509_privkey_export_ecc_raw (key, &curve, NULL, NULL, NULL);
  if (pk != GNUTLS_PK_ECDSA || curve != GNUTLS_ECC_CURVE_SECP256R1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s: the key is %s%s%s; punch identities are ECDSA P-256 keys "
                   "(move the file away and punch makes a new one)",
                   where, pk > 0 ? gnutls_pk_get_name (pk) : "of an unknown type",
                   pk == GNUTLS_PK_ECDSA ? " on " : "",
                   pk == GNUTLS_PK_ECDSA ? gnutls_ecc_curve_get_name (curve) : "");
      return FALSE;
    }
  return TRUE;
}

/* Builds the identity around @key: a self-signed certificate, the credentials and the
 * fingerprint. @key stays owned by the caller (GnuTLS copies it into the credentials). */
static PunchIdentity *
identity_new_from_key (gnutls_x509_privkey_t key, const char *path, GError **error)
{
  g_autoptr (PunchIdentity) id = NULL;
  gnutls_x509_crt_t crt = NULL;
  guint8 serial[16];
  time_t now = time (NULL);
  int ret;

  gnutls_x509_crt_init (&crt);
  if (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial) < 0)
    memset (serial, 0x5a, sizeof serial);
  serial[0] &= 0x7f; /* a positive INTEGER */
  serial[0] |= 0x01; /* and no leading zero octet */
  if ((ret = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (ret = gnutls_x509_crt_set_activation_time (crt, now - 24 * 3600)) < 0
      || (ret = gnutls_x509_crt_set_expiration_time (crt, GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION))
             < 0
      || (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "punch", 5)) < 0
      || (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0
      || (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0
      || (ret = gnutls_x509_crt_set_key (crt, key)) < 0
      || (ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
    {
      gnutls_x509_crt_deinit (crt);
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot make the identity's certificate");
      return NULL;
    }

  id = g_new0 (PunchIdentity, 1);
  g_atomic_ref_count_init (&id->ref);
  id->path = g_strdup (path);
  id->fingerprint = fingerprint_of_crt (crt, error);
  if (id->fingerprint == NULL)
    {
      gnutls_x509_crt_deinit (crt);
      return NULL;
    }
  gnutls_certificate_allocate_credentials (&id->creds);
  ret = gnutls_certificate_set_x509_key (id->creds, &crt, 1, key);
  gnutls_x509_crt_deinit (crt);
  if (ret < 0)
    {
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot set up the TLS credentials");
      return NULL;
    }
  return g_steal_pointer (&id);
}

static gnutls_x509_privkey_t
generate_key (GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  int ret;

  gnutls_x509_privkey_init (&key);
  ret = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (key);
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot generate a key");
      return NULL;
    }
  return key;
}

PunchIdentity *
punch_identity_new_ephemeral (GError **error)
{
  gnutls_x509_privkey_t key = generate_key (error);
  PunchIdentity *id;

  if (key == NULL)
    return NULL;
  id = identity_new_from_key (key, NULL, error);
  gnutls_x509_privkey_deinit (key);
  return id;
}

/* Zeroes and frees a buffer that held key material. */
static void
wipe_free (char *buf, gsize len)
{
  if (buf == NULL)
    return;
  gnutls_memset (buf, 0, len);
  g_free (buf);
}

static PunchIdentity *
identity_from_pem (const char *pem, gsize len, const char *path, GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t data = { (unsigned char *)pem, (unsigned int)len };
  PunchIdentity *id = NULL;
  int ret;

  gnutls_x509_privkey_init (&key);
  ret = gnutls_x509_privkey_import_pkcs8 (key, &data, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
  if (ret < 0)
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                 "%s: not an unencrypted PEM PKCS#8 private key "
                 "(\"-----BEGIN PRIVATE KEY-----\"): %s",
                 path, gnutls_strerror (ret));
  else if (check_key_type (key, path, error))
    id = identity_new_from_key (key, path, error);
  gnutls_x509_privkey_deinit (key);
  return id;
}

/* Reads the key file through one descriptor, so the checks and the read see the same file. */
static PunchIdentity *
identity_read (int fd, const char *path, GError **error)
{
  struct stat st;
  char *buf;
  gsize len = 0;
  PunchIdentity *id;

  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                   "%s is not a regular file; an identity is a key file of mode 0600", path);
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                   "%s holds a private key but its mode is %04o, so other users can %s it; "
                   "punch refuses to use it (run `chmod 600 %s`, and make a new key if "
                   "someone else may have read it)",
                   path, (unsigned)(st.st_mode & 07777),
                   (st.st_mode & 066) == 0 ? "reach"
                   : (st.st_mode & 044)    ? "read"
                                           : "write",
                   path);
      return NULL;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                   "%s belongs to user id %u, not to this user (%u); punch refuses a key "
                   "file someone else owns",
                   path, (unsigned)st.st_uid, (unsigned)geteuid ());
      return NULL;
    }
  if (st.st_size > MAX_KEY_FILE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s is %lld bytes, too large for a key file", path, (long long)st.st_size);
      return NULL;
    }

  buf = g_malloc (MAX_KEY_FILE + 1);
  for (;;)
    {
      gssize n = read (fd, buf + len, MAX_KEY_FILE + 1 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          wipe_free (buf, MAX_KEY_FILE + 1);
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
          return NULL;
        }
      if (n == 0 || len + n > MAX_KEY_FILE)
        {
          len += n;
          break;
        }
      len += n;
    }
  if (len > MAX_KEY_FILE)
    {
      wipe_free (buf, MAX_KEY_FILE + 1);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s is too large for a key file", path);
      return NULL;
    }
  id = identity_from_pem (buf, len, path, error);
  wipe_free (buf, MAX_KEY_FILE + 1);
  return id;
}

static gboolean
write_all (int fd, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

/* Makes a new key at @path: a temporary file made with O_EXCL and mode 0600 in the same
 * directory, written and synced, then renamed into place without replacing a file that
 * appeared meanwhile. Returns the new identity, or NULL with *raced set when another
 * process created the file first (the caller loads that one instead). */
static PunchIdentity *
identity_create (const char *path, gboolean *raced, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = NULL;
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t pem = { NULL, 0 };
  PunchIdentity *id = NULL;
  int fd, ret, saved;

  *raced = FALSE;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR) && g_mkdir_with_parents (dir, 0700) < 0)
    {
      saved = errno;
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot create the directory %s: %s",
                   dir, g_strerror (saved));
      return NULL;
    }

  key = generate_key (error);
  if (key == NULL)
    return NULL;
  ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem);
  if (ret < 0)
    {
      set_gnutls_error (error, PUNCH_ERROR_FAILED, ret, "cannot encode the key");
      goto out;
    }

  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600); /* O_CREAT | O_EXCL */
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot create a key file in %s: %s",
                   dir, g_strerror (saved));
      goto out;
    }
  if (!write_all (fd, pem.data, pem.size) || fsync (fd) < 0)
    {
      saved = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot write %s: %s", tmp,
                   g_strerror (saved ? saved : EIO));
      goto out;
    }
  close (fd);

  ret = renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
  if (ret < 0 && (errno == EINVAL || errno == ENOSYS))
    ret = link (tmp, path) < 0 ? -1 : g_unlink (tmp); /* a file system without NOREPLACE */
  if (ret < 0)
    {
      saved = errno;
      g_unlink (tmp);
      if (saved == EEXIST)
        *raced = TRUE;
      else
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot create %s: %s", path,
                     g_strerror (saved));
      goto out;
    }
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd); /* the rename itself survives a crash */
      close (fd);
    }
  id = identity_new_from_key (key, path, error);

out:
  if (pem.data)
    {
      gnutls_memset (pem.data, 0, pem.size);
      gnutls_free (pem.data);
    }
  gnutls_x509_privkey_deinit (key);
  return id;
}

PunchIdentity *
punch_identity_load (const char *path, gboolean create, gboolean *created, GError **error)
{
  g_return_val_if_fail (path != NULL && *path != '\0', NULL);

  if (created)
    *created = FALSE;
  for (int attempt = 0; attempt < 2; attempt++)
    {
      /* O_NONBLOCK: a FIFO must not block us before fstat() refuses it. */
      int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      PunchIdentity *id;
      gboolean raced;

      if (fd >= 0)
        {
          id = identity_read (fd, path, error);
          close (fd);
          return id;
        }
      if (errno != ENOENT || !create)
        {
          int saved = errno;
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot open the key file %s: %s",
                       path, g_strerror (saved));
          return NULL;
        }
      id = identity_create (path, &raced, error);
      if (id != NULL)
        {
          if (created)
            *created = TRUE;
          return id;
        }
      if (!raced)
        return NULL;
      /* another process created it first: load that one */
    }
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot open the key file %s", path);
  return NULL;
}

char *
punch_identity_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "punch", "identity.pem", NULL);
}

PunchIdentity *
punch_identity_ref (PunchIdentity *id)
{
  g_return_val_if_fail (id != NULL, NULL);
  g_atomic_ref_count_inc (&id->ref);
  return id;
}

void
punch_identity_unref (PunchIdentity *id)
{
  if (id == NULL || !g_atomic_ref_count_dec (&id->ref))
    return;
  if (id->creds)
    gnutls_certificate_free_credentials (id->creds);
  g_free (id->fingerprint);
  g_free (id->path);
  g_free (id);
}

const char *
punch_identity_get_fingerprint (PunchIdentity *id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->fingerprint;
}

const char *
punch_identity_get_path (PunchIdentity *id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->path;
}

gnutls_certificate_credentials_t
punch_identity_get_credentials (PunchIdentity *id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->creds;
}

gboolean
punch_identity_verify_peer (gnutls_session_t session, const char *const *allowed,
                            char **fingerprint, GError **error)
{
  const gnutls_datum_t *certs;
  unsigned int n = 0;
  g_autofree char *fp = NULL;

  g_return_val_if_fail (session != NULL, FALSE);

  if (gnutls_certificate_type_get2 (session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                           "the peer's credential is not an X.509 certificate");
      return FALSE;
    }
  certs = gnutls_certificate_get_peers (session, &n);
  if (certs == NULL || n == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                           "the peer presented no certificate, so its key is unknown");
      return FALSE;
    }
  if (n != 1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer presented %u certificates; a punch peer presents exactly one", n);
      return FALSE;
    }
  fp = punch_fingerprint_of_certificate (&certs[0], error);
  if (fp == NULL)
    return FALSE;

  if (allowed != NULL && allowed[0] != NULL)
    {
      gboolean ok = FALSE;

      for (guint i = 0; allowed[i] && !ok; i++)
        ok = punch_fingerprint_equal (fp, allowed[i]);
      if (!ok)
        {
          g_autofree char *expected = NULL;

          if (allowed[1] == NULL)
            expected = g_strdup_printf ("the expected %s", allowed[0]);
          else
            expected = g_strdup_printf ("any of the %u pinned fingerprints",
                                        g_strv_length ((char **)allowed));
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                       "the peer's key has fingerprint %s, not %s: refusing the connection "
                       "(someone may be in the middle, or the peer has a new key)",
                       fp, expected);
          return FALSE;
        }
    }
  if (fingerprint)
    *fingerprint = g_steal_pointer (&fp);
  return TRUE;
}
