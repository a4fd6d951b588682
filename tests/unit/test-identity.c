/* test-identity.c: keys, key files, fingerprints, known peers, and a TLS 1.3 handshake that
 * pins them
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <punch.h>
#include "punch-identity-private.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("punch-identity-XXXXXX", &error);
  g_assert_no_error (error);
}

/* Removes the files the tests make, up to two levels down. */
static void
remove_tree (const char *path)
{
  GDir *d;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_unlink (path);
      return;
    }
  d = g_dir_open (path, 0, NULL);
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  remove_tree (f->dir);
  g_free (f->dir);
}

static void
write_file (const char *path, const char *contents, int mode)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static void
assert_canonical (const char *fp)
{
  g_autofree char *again = punch_fingerprint_normalize (fp, NULL);

  g_assert_nonnull (fp);
  g_assert_cmpuint (strlen (fp), ==, strlen ("sha-256 ") + 32 * 3 - 1);
  g_assert_true (g_str_has_prefix (fp, "sha-256 "));
  g_assert_cmpstr (again, ==, fp);
}

static void
test_ephemeral (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) a = punch_identity_new_ephemeral (&error);
  g_autoptr (PunchIdentity) b = NULL;
  PunchIdentity *ref;

  g_assert_no_error (error);
  b = punch_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  assert_canonical (punch_identity_get_fingerprint (a));
  g_assert_cmpstr (punch_identity_get_fingerprint (a), !=, punch_identity_get_fingerprint (b));
  g_assert_null (punch_identity_get_path (a));
  g_assert_nonnull (punch_identity_get_credentials (a));

  ref = punch_identity_ref (a);
  g_assert_true (ref == a);
  punch_identity_unref (ref);

  /* the boxed type copies by reference */
  {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, PUNCH_TYPE_IDENTITY);
    g_value_set_boxed (&v, a);
    g_assert_true (g_value_get_boxed (&v) == a);
    g_value_unset (&v);
  }
}

static void
test_create_load (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *parent = g_build_filename (f->dir, "config", "punch", NULL);
  g_autofree char *path = g_build_filename (parent, "identity.pem", NULL);
  g_autoptr (PunchIdentity) made = NULL;
  g_autoptr (PunchIdentity) loaded = NULL;
  g_autofree char *pem = NULL;
  gboolean created = FALSE;
  struct stat st;
  GDir *d;
  const char *name;
  guint files = 0;

  /* without @create a missing file is an error */
  g_assert_null (punch_identity_load (path, FALSE, &created, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "No such file"));
  g_assert_false (created);
  g_clear_error (&error);
  g_assert_false (g_file_test (parent, G_FILE_TEST_EXISTS));

  made = punch_identity_load (path, TRUE, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpstr (punch_identity_get_path (made), ==, path);
  assert_canonical (punch_identity_get_fingerprint (made));

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (parent, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);

  /* PEM PKCS#8, and the temporary file is gone */
  g_assert_true (g_file_get_contents (path, &pem, NULL, NULL));
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_nonnull (strstr (pem, "-----END PRIVATE KEY-----"));
  d = g_dir_open (parent, 0, NULL);
  while ((name = g_dir_read_name (d)))
    {
      g_assert_cmpstr (name, ==, "identity.pem");
      files++;
    }
  g_dir_close (d);
  g_assert_cmpuint (files, ==, 1);

  /* loading again gives the same key, even with @create */
  loaded = punch_identity_load (path, TRUE, &created, &error);
  g_assert_no_error (error);
  g_assert_false (created);
  g_assert_cmpstr (punch_identity_get_fingerprint (loaded), ==,
                   punch_identity_get_fingerprint (made));
  g_clear_pointer (&loaded, punch_identity_unref);
  loaded = punch_identity_load (path, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_identity_get_fingerprint (loaded), ==,
                   punch_identity_get_fingerprint (made));
}

typedef struct
{
  const char *path;
  char *fingerprint;
  gboolean created;
  char *error;
} RaceArg;

static gpointer
race_thread (gpointer data)
{
  RaceArg *a = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) id = punch_identity_load (a->path, TRUE, &a->created, &error);

  if (id)
    a->fingerprint = g_strdup (punch_identity_get_fingerprint (id));
  else
    a->error = g_strdup (error->message);
  return NULL;
}

/* Processes that start at once all end up with the key that is on disk, and only one of
 * them made it: a later one never replaces the file. */
static void
test_create_race (Fixture *f, gconstpointer data)
{
  for (guint round = 0; round < 10; round++)
    {
      g_autofree char *name = g_strdup_printf ("race-%u.pem", round);
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      RaceArg args[4] = { { 0 } };
      GThread *threads[G_N_ELEMENTS (args)];
      g_autoptr (PunchIdentity) on_disk = NULL;
      g_autoptr (GError) error = NULL;
      guint created = 0;

      for (guint i = 0; i < G_N_ELEMENTS (args); i++)
        {
          args[i].path = path;
          threads[i] = g_thread_new ("race", race_thread, &args[i]);
        }
      for (guint i = 0; i < G_N_ELEMENTS (args); i++)
        g_thread_join (threads[i]);
      on_disk = punch_identity_load (path, FALSE, NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < G_N_ELEMENTS (args); i++)
        {
          g_assert_null (args[i].error);
          g_assert_cmpstr (args[i].fingerprint, ==, punch_identity_get_fingerprint (on_disk));
          created += args[i].created;
          g_free (args[i].fingerprint);
        }
      g_assert_cmpuint (created, ==, 1);
    }
}

static void
test_default_path (void)
{
  g_autofree char *path = punch_identity_default_path ();
  g_autofree char *expected
      = g_build_filename (g_get_user_config_dir (), "punch", "identity.pem", NULL);

  g_assert_cmpstr (path, ==, expected);
}

static char *
certificate_fingerprint (PunchIdentity *id)
{
  g_autoptr (GError) error = NULL;
  gnutls_datum_t der = { NULL, 0 };
  char *fp;

  g_assert_cmpint (gnutls_certificate_get_crt_raw (punch_identity_get_credentials (id), 0, 0, &der),
                   ==, 0);
  fp = punch_fingerprint_of_certificate (&der, &error);
  g_assert_no_error (error);
  return fp;
}

static void
test_certificate_fingerprint (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "id.pem", NULL);
  g_autoptr (PunchIdentity) made = punch_identity_load (path, TRUE, NULL, &error);
  g_autoptr (PunchIdentity) loaded = NULL;
  g_autofree char *fp1 = NULL;
  g_autofree char *fp2 = NULL;
  gnutls_datum_t junk = { (unsigned char *)"not a certificate", 17 };

  g_assert_no_error (error);
  fp1 = certificate_fingerprint (made);
  g_assert_cmpstr (fp1, ==, punch_identity_get_fingerprint (made));

  /* a new certificate is made at each load, with the same key fingerprint */
  loaded = punch_identity_load (path, FALSE, NULL, &error);
  g_assert_no_error (error);
  fp2 = certificate_fingerprint (loaded);
  g_assert_cmpstr (fp2, ==, fp1);

  g_assert_null (punch_fingerprint_of_certificate (&junk, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
}

static gboolean
run_openssl (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  int status = -1;

  if (!g_spawn_sync (NULL, (char **)argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error))
    return FALSE;
  return g_spawn_check_wait_status (status, NULL);
}

/* The fingerprint agrees with OpenSSL's view of the same key: SHA-256 over the DER
 * SubjectPublicKeyInfo, computed without GnuTLS. Keys made by OpenSSL load too. */
static void
test_openssl_agrees (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ours = g_build_filename (f->dir, "ours.pem", NULL);
  g_autofree char *theirs = g_build_filename (f->dir, "theirs.pem", NULL);
  g_autofree char *p384 = g_build_filename (f->dir, "p384.pem", NULL);
  g_autofree char *spki = g_build_filename (f->dir, "spki.der", NULL);
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  const char *keys[] = { ours, theirs };

  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed");
      return;
    }
  {
    g_autoptr (PunchIdentity) id = punch_identity_load (ours, TRUE, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (id);
  }
  {
    const char *argv[]
        = { "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out",    theirs,    NULL };
    g_assert_true (run_openssl (argv));
    g_assert_cmpint (g_chmod (theirs, 0600), ==, 0);
  }
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *argv[]
          = { "openssl", "pkey", "-in", keys[i], "-pubout", "-outform", "DER", "-out", spki, NULL };
      g_autofree char *der = NULL;
      gsize len = 0;
      g_autofree char *hex = NULL;
      g_autofree char *expected = NULL;
      g_autoptr (PunchIdentity) id = NULL;

      g_assert_true (run_openssl (argv));
      g_assert_true (g_file_get_contents (spki, &der, &len, NULL));
      hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)der, len);
      expected = punch_fingerprint_normalize (hex, &error);
      g_assert_no_error (error);
      id = punch_identity_load (keys[i], FALSE, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (punch_identity_get_fingerprint (id), ==, expected);
    }

  /* another curve is refused, by name */
  {
    const char *argv[]
        = { "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
            "-out",    p384,      NULL };
    g_assert_true (run_openssl (argv));
    g_assert_cmpint (g_chmod (p384, 0600), ==, 0);
    g_assert_null (punch_identity_load (p384, FALSE, NULL, &error));
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "SECP384R1"));
    g_assert_nonnull (strstr (error->message, "ECDSA P-256"));
  }
}

static void
test_refuse (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "id.pem", NULL);
  g_autofree char *fifo = g_build_filename (f->dir, "fifo.pem", NULL);
  g_autofree char *junk = g_build_filename (f->dir, "junk.pem", NULL);
  static const int modes[] = { 0644, 0640, 0604, 0602, 0620, 0660, 0666, 0610 };

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchIdentity) id = punch_identity_load (path, TRUE, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (id);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *mode = g_strdup_printf ("mode is %04o", modes[i]);
      gboolean created = TRUE;

      g_assert_cmpint (g_chmod (path, modes[i]), ==, 0);
      /* refused with @create too: it is never replaced */
      g_assert_null (punch_identity_load (path, TRUE, &created, &error));
      g_assert_false (created);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, mode));
      g_assert_nonnull (strstr (error->message, "chmod 600"));
      g_assert_nonnull (strstr (error->message, path));
    }
  g_assert_cmpint (g_chmod (path, 0400), ==, 0);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchIdentity) id = punch_identity_load (path, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (id);
  }

  /* not a regular file: a directory, and a FIFO (which must not block the open) */
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (punch_identity_load (f->dir, TRUE, NULL, &error));
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "not a regular file"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_null (punch_identity_load (fifo, FALSE, NULL, &error));
    g_assert_nonnull (strstr (error->message, "not a regular file"));
  }

  /* not a key, or an encrypted one */
  {
    g_autoptr (GError) error = NULL;
    write_file (junk, "hello\n", 0600);
    g_assert_null (punch_identity_load (junk, TRUE, NULL, &error));
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "not an unencrypted PEM PKCS#8 private key"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *big = g_strnfill (70 * 1024, 'A');
    write_file (junk, big, 0600);
    g_assert_null (punch_identity_load (junk, FALSE, NULL, &error));
    g_assert_nonnull (strstr (error->message, "too large for a key file"));
  }
}

typedef struct
{
  const char *text;
  const char *message_part; /* NULL: valid */
} FingerprintCase;

#define HEX_LOWER "4aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a"
#define HEX_COLON                                                                                 \
  "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:C2:0C:57:0E:88:CE:2C:4C:" \
  "3A"
#define CANON "sha-256 " HEX_COLON

static const FingerprintCase fingerprint_cases[] = {
  { CANON, NULL },
  { "SHA-256 " HEX_COLON, NULL },
  { "Sha-256 " HEX_LOWER, NULL },
  { "sha-256\t \t4a:ad:b9:b1:3f:82:18:3b:54:02:12:df:3e:5d:49:6b:19:e5:7c:ab:3c:22:af:c2:0c:57:0e:"
    "88:ce:2c:4c:3a",
    NULL },
  { HEX_COLON, NULL },
  { HEX_LOWER, NULL },
  { "  " HEX_LOWER " \n", NULL },
  { "", "it is empty" },
  { "   ", "it is empty" },
  { "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
    "the algorithm is \"sha-1\"; punch uses sha-256 only" },
  { "sha-512 " HEX_COLON, "the algorithm is \"sha-512\"" },
  { "sha256 " HEX_COLON, "the algorithm is \"sha256\"" },
  { "sha-256", "nothing after \"sha-256\"" },
  { "SHA-256 ", "nothing after \"sha-256\"" },
  { HEX_LOWER "00", "66 hex digits; a sha-256 fingerprint has 64" },
  { "4aadb9b13f", "10 hex digits; a sha-256 fingerprint has 64" },
  { "4aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3", "63 hex digits" },
  { "4A:AD:B9", "3 bytes; a sha-256 fingerprint has 32" },
  { HEX_COLON ":00", "33 bytes" },
  { "sha-256 "
    "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:C2:0C:57:0E:88:CE:"
    "2C:4C:3G",
    "bad character 'G' at position 103 (expected a hex digit or ':')" },
  { "4aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3x",
    "bad character 'x' at position 64 (expected a hex digit)" },
  { "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:C2:0C:57:0E:88:CE:2C:4C:"
    "3A:",
    "a trailing ':' at the end" },
  { "4A::AD", "an empty byte at position 4" },
  { "4:AD", "a single hex digit at position 2" },
  { "4AD:B9", "a third hex digit without ':' at position 3" },
  { "4A:AD B9", "bad character a space at position 6" },
  { "4a\xc3\xa9", "bad character byte 0xC3 at position 3" },
};

static void
test_normalize (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fingerprint_cases); i++)
    {
      const FingerprintCase *c = &fingerprint_cases[i];
      g_autoptr (GError) error = NULL;
      g_autofree char *fp = punch_fingerprint_normalize (c->text, &error);

      if (c->message_part == NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (fp, ==, CANON);
          continue;
        }
      g_assert_null (fp);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, "invalid fingerprint: "));
      if (strstr (error->message, c->message_part) == NULL)
        g_error ("\"%s\": message \"%s\" lacks \"%s\"", c->text, error->message, c->message_part);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *huge = g_strnfill (100000, 'a');
    g_assert_null (punch_fingerprint_normalize (huge, &error));
    g_assert_nonnull (strstr (error->message, "longer than 256 characters"));
  }
}

static void
test_equal (void)
{
  g_assert_true (punch_fingerprint_equal (CANON, HEX_LOWER));
  g_assert_true (punch_fingerprint_equal ("SHA-256 " HEX_LOWER, HEX_COLON));
  g_assert_false (punch_fingerprint_equal (CANON, "sha-256 " HEX_COLON ":00"));
  g_assert_false (punch_fingerprint_equal (
      CANON, "5aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a"));
  g_assert_false (punch_fingerprint_equal ("nonsense", "nonsense"));
  g_assert_false (punch_fingerprint_equal (CANON, NULL));
  g_assert_false (punch_fingerprint_equal (NULL, NULL));
}

static void
test_known_peers (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "known-peers", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) peers = NULL;
  g_autofree char *expected = NULL;

  write_file (path,
              "# peers allowed to connect\n"
              "\n" CANON " laptop\n"
              "   # an indented comment\n"
              "sha-256 5aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a  the "
              "camera  in the hall\r\n"
              "\t" HEX_LOWER "\tlaptop again (a duplicate)\n"
              "6aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a\n"
              "SHA-256\t7A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:C2:0C:"
              "57:0E:88:CE:2C:4C:3A\n"
              "   \n",
              0644);
  peers = punch_known_peers_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (peers->len, ==, 4);
  g_assert_cmpstr (peers->pdata[0], ==, CANON);
  expected = punch_fingerprint_normalize (
      "5aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a", NULL);
  g_assert_cmpstr (peers->pdata[1], ==, expected);
  g_assert_true (g_str_has_prefix (peers->pdata[2], "sha-256 6A:AD:B9"));
  g_assert_true (g_str_has_prefix (peers->pdata[3], "sha-256 7A:AD:B9"));
  g_clear_pointer (&peers, g_ptr_array_unref);

  /* an empty file (comments only) is an empty list, not an error */
  write_file (path, "# nobody yet\n", 0600);
  peers = punch_known_peers_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (peers->len, ==, 0);
}

static void
test_known_peers_bad (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *contents;
    const char *message_part;
  } bad[] = {
    { "# one\n" CANON " ok\n4A:AD:B9 short\n", ":3: invalid fingerprint: 3 bytes" },
    { "\n\n\nsha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB laptop\n",
      ":4: invalid fingerprint: the algorithm is \"sha-1\"" },
    { "laptop " CANON "\n", ":1: invalid fingerprint: the algorithm is \"laptop\"" },
    { CANON "\n" HEX_LOWER "zz\n", ":2: invalid fingerprint: bad character 'z' at position 65" },
    { "ok\0no", "holds a NUL byte" },
  };
  g_autofree char *path = g_build_filename (f->dir, "known-peers", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *prefix = g_strconcat (path, ":", NULL);
      gsize len = strlen (bad[i].contents);

      if (i == G_N_ELEMENTS (bad) - 1)
        len = 5; /* the NUL case */
      g_assert_true (g_file_set_contents (path, bad[i].contents, len, NULL));
      g_assert_null (punch_known_peers_load (path, &error));
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      if (strstr (error->message, bad[i].message_part) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": message \"%s\" lacks \"%s\"", i, error->message,
                 bad[i].message_part);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (punch_known_peers_load (missing, &error));
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, missing));
  }
}

/* A TLS 1.3 handshake over a socketpair between two identities, each requiring the other's
 * certificate and checking its fingerprint in a verify function. */

typedef struct
{
  gnutls_session_t session;
  int fd;
  const char *allowed[3];
  gboolean finished;
  int ret;
  GError *error; /* from the verify function */
  char *peer_fingerprint;
} Side;

static int
verify_cb (gnutls_session_t session)
{
  Side *side = gnutls_session_get_ptr (session);

  g_clear_error (&side->error);
  g_clear_pointer (&side->peer_fingerprint, g_free);
  if (!punch_identity_verify_peer (session, side->allowed, &side->peer_fingerprint, &side->error))
    return GNUTLS_E_CERTIFICATE_ERROR;
  return 0;
}

static void
side_init (Side *side, int fd, gboolean server, gnutls_certificate_credentials_t creds,
           const char *allowed, const char *also_allowed)
{
  memset (side, 0, sizeof *side);
  side->fd = fd;
  side->allowed[0] = allowed;
  side->allowed[1] = allowed ? also_allowed : NULL;
  g_assert_cmpint (
      gnutls_init (&side->session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK), ==,
      0);
  g_assert_cmpint (
      gnutls_priority_set_direct (side->session, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (side->session, GNUTLS_CRD_CERTIFICATE, creds), ==, 0);
  if (server)
    gnutls_certificate_server_set_request (side->session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_ptr (side->session, side);
  gnutls_session_set_verify_function (side->session, verify_cb);
  gnutls_transport_set_int (side->session, fd);
}

static void
side_clear (Side *side)
{
  gnutls_deinit (side->session);
  close (side->fd);
  g_clear_error (&side->error);
  g_free (side->peer_fingerprint);
}

static void
wait_readable (Side *sides, guint n)
{
  struct pollfd pfd[2];

  for (guint i = 0; i < n; i++)
    pfd[i] = (struct pollfd){ .fd = sides[i].fd, .events = POLLIN };
  poll (pfd, n, 100);
}

/* Runs both handshakes to their end. A side that fails sends its alert and shuts its end,
 * so the other side hears of it rather than waiting. */
static void
handshake (Side *sides)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!(sides[0].finished && sides[1].finished))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      for (guint i = 0; i < 2; i++)
        {
          Side *s = &sides[i];

          if (s->finished)
            continue;
          s->ret = gnutls_handshake (s->session);
          if (s->ret == GNUTLS_E_SUCCESS)
            s->finished = TRUE;
          else if (gnutls_error_is_fatal (s->ret))
            {
              s->finished = TRUE;
              gnutls_alert_send_appropriate (s->session, s->ret);
              shutdown (s->fd, SHUT_RDWR);
            }
        }
      if (!(sides[0].finished && sides[1].finished))
        wait_readable (sides, 2);
    }
}

/* Reads what @from sent on an established session; returns gnutls' result. */
static gssize
transfer (Side *from, Side *to, const char *msg, char *buf, gsize size)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gssize n;

  if (from->ret == 0)
    {
      do
        n = gnutls_record_send (from->session, msg, strlen (msg));
      while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
      g_assert_cmpint (n, ==, strlen (msg));
    }
  for (;;)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      n = gnutls_record_recv (to->session, buf, size);
      if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
        return n;
      wait_readable (to, 1);
    }
}

typedef enum
{
  PIN_BOTH_RIGHT,
  PIN_CLIENT_WRONG, /* the client expects another server key */
  PIN_SERVER_WRONG, /* the server expects another client key */
  CLIENT_NO_CERTIFICATE,
  SERVER_PINS_TWO, /* the server allows a stranger or the client */
  CLIENT_UNPINNED, /* the client takes any key and learns which */
} HandshakeCase;

static void
test_handshake (Fixture *f, gconstpointer data)
{
  HandshakeCase which = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) server_id = punch_identity_new_ephemeral (&error);
  g_autoptr (PunchIdentity) client_id = punch_identity_new_ephemeral (&error);
  g_autoptr (PunchIdentity) stranger = punch_identity_new_ephemeral (&error);
  const char *server_fp = punch_identity_get_fingerprint (server_id);
  const char *client_fp = punch_identity_get_fingerprint (client_id);
  const char *wrong = punch_identity_get_fingerprint (stranger);
  gnutls_certificate_credentials_t anonymous = NULL;
  Side sides[2];
  Side *server = &sides[0], *client = &sides[1];
  int sv[2];
  char buf[64];
  gssize n;

  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), ==, 0);
  gnutls_certificate_allocate_credentials (&anonymous);

  side_init (server, sv[0], TRUE, punch_identity_get_credentials (server_id),
             which == PIN_SERVER_WRONG || which == SERVER_PINS_TWO ? wrong : client_fp,
             which == SERVER_PINS_TWO ? client_fp : NULL);
  side_init (client, sv[1], FALSE,
             which == CLIENT_NO_CERTIFICATE ? anonymous
                                            : punch_identity_get_credentials (client_id),
             which == PIN_CLIENT_WRONG  ? wrong
             : which == CLIENT_UNPINNED ? NULL
                                        : server_fp,
             NULL);
  handshake (sides);

  switch (which)
    {
    case PIN_BOTH_RIGHT:
    case SERVER_PINS_TWO:
    case CLIENT_UNPINNED:
      g_assert_cmpint (server->ret, ==, 0);
      g_assert_cmpint (client->ret, ==, 0);
      g_assert_no_error (server->error);
      g_assert_no_error (client->error);
      g_assert_cmpint (gnutls_protocol_get_version (client->session), ==, GNUTLS_TLS1_3);
      g_assert_cmpstr (server->peer_fingerprint, ==, client_fp);
      g_assert_cmpstr (client->peer_fingerprint, ==, server_fp);
      n = transfer (client, server, "hello from the client", buf, sizeof buf);
      g_assert_cmpint (n, ==, strlen ("hello from the client"));
      g_assert_cmpmem (buf, n, "hello from the client", n);
      n = transfer (server, client, "hello from the server", buf, sizeof buf);
      g_assert_cmpint (n, ==, strlen ("hello from the server"));
      break;

    case PIN_CLIENT_WRONG:
      /* the client refuses the server's key during the handshake */
      g_assert_cmpint (client->ret, ==, GNUTLS_E_CERTIFICATE_ERROR);
      g_assert_error (client->error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
      g_assert_nonnull (strstr (client->error->message, server_fp));
      g_assert_nonnull (strstr (client->error->message, wrong));
      g_assert_cmpint (server->ret, <, 0);
      break;

    case PIN_SERVER_WRONG:
      /* In TLS 1.3 the client's handshake ends before the server has read the client's
       * certificate; the server's refusal reaches the client as an alert, not as data. */
      g_assert_cmpint (server->ret, ==, GNUTLS_E_CERTIFICATE_ERROR);
      g_assert_error (server->error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
      g_assert_nonnull (strstr (server->error->message, client_fp));
      g_assert_nonnull (strstr (server->error->message, wrong));
      n = transfer (server, client, "", buf, sizeof buf);
      g_assert_cmpint (n, <, 0);
      g_assert_true (gnutls_error_is_fatal (n));
      break;

    case CLIENT_NO_CERTIFICATE:
      g_assert_cmpint (server->ret, <, 0);
      g_assert_null (server->peer_fingerprint);
      n = transfer (server, client, "", buf, sizeof buf);
      g_assert_cmpint (n, <, 0);
      break;
    }

  side_clear (server);
  side_clear (client);
  gnutls_certificate_free_credentials (anonymous);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch/identity/ephemeral", test_ephemeral);
  g_test_add_func ("/punch/identity/default-path", test_default_path);
  g_test_add ("/punch/identity/create-load", Fixture, NULL, fixture_setup, test_create_load,
              fixture_teardown);
  g_test_add ("/punch/identity/certificate-fingerprint", Fixture, NULL, fixture_setup,
              test_certificate_fingerprint, fixture_teardown);
  g_test_add ("/punch/identity/openssl-agrees", Fixture, NULL, fixture_setup, test_openssl_agrees,
              fixture_teardown);
  g_test_add ("/punch/identity/refuse", Fixture, NULL, fixture_setup, test_refuse,
              fixture_teardown);
  g_test_add_func ("/punch/fingerprint/normalize", test_normalize);
  g_test_add_func ("/punch/fingerprint/equal", test_equal);
  g_test_add ("/punch/known-peers/parse", Fixture, NULL, fixture_setup, test_known_peers,
              fixture_teardown);
  g_test_add ("/punch/known-peers/bad", Fixture, NULL, fixture_setup, test_known_peers_bad,
              fixture_teardown);
  g_test_add ("/punch/identity/handshake/pinned", Fixture, GINT_TO_POINTER (PIN_BOTH_RIGHT),
              fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/punch/identity/handshake/client-pin-wrong", Fixture,
              GINT_TO_POINTER (PIN_CLIENT_WRONG), fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/punch/identity/handshake/server-pin-wrong", Fixture,
              GINT_TO_POINTER (PIN_SERVER_WRONG), fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/punch/identity/handshake/client-without-certificate", Fixture,
              GINT_TO_POINTER (CLIENT_NO_CERTIFICATE), fixture_setup, test_handshake,
              fixture_teardown);
  g_test_add ("/punch/identity/handshake/one-of-two-pins", Fixture,
              GINT_TO_POINTER (SERVER_PINS_TWO), fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/punch/identity/handshake/unpinned", Fixture, GINT_TO_POINTER (CLIENT_UNPINNED),
              fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/punch/identity/create-race", Fixture, NULL, fixture_setup, test_create_race,
              fixture_teardown);
  return g_test_run ();
}
