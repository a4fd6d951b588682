/* test-signal-token.c: room tokens, TURN REST credentials and secret files
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <glib/gstdio.h>
#include <punch-signal.h>

#include "punch-test-util.h"

#define SECRET "correct horse battery staple"
/* python3: base64.urlsafe_b64encode(hmac.new(SECRET, b"1700000000:demo", sha256).digest()) */
#define KNOWN_TOKEN "1700000000:demo:aM0CVT5vk_zH9IZyKIxkRxAzFPizDdHDs9ucxigxq6A"
#define NOW 1600000000

typedef struct
{
  GBytes *secret;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->secret = g_bytes_new_static (SECRET, strlen (SECRET));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_bytes_unref (f->secret);
}

static void
test_known_answer (Fixture *f, gconstpointer data)
{
  g_autofree char *token = punch_signal_token_new (f->secret, "demo", 1700000000);

  g_assert_cmpstr (token, ==, KNOWN_TOKEN);
  g_assert_null (strchr (token, '='));
}

static void
test_accepts (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *code = "unset";

  g_assert_true (punch_signal_token_verify (f->secret, KNOWN_TOKEN, "demo", NOW, &code, &error));
  g_assert_no_error (error);
  g_assert_null (code);
}

typedef struct
{
  const char *token;
  const char *room;
  gint64 now;
  const char *code;
  const char *message_part;
} Refusal;

static const Refusal refusals[] = {
  { NULL, "demo", NOW, "bad-token", "needs a room token" },
  { "", "demo", NOW, "bad-token", "needs a room token" },
  { "garbage", "demo", NOW, "bad-token", "malformed" },
  { "1700000000:demo", "demo", NOW, "bad-token", "malformed" },
  /* one character of the MAC changed */
  { "1700000000:demo:bM0CVT5vk_zH9IZyKIxkRxAzFPizDdHDs9ucxigxq6A", "demo", NOW, "bad-token",
    "signature" },
  /* the MAC truncated */
  { "1700000000:demo:aM0CVT5vk_zH9IZyKIxkRxAzFPizDdHDs9ucxigxq6", "demo", NOW, "bad-token",
    "signature" },
  /* the expiry pushed back, the MAC kept */
  { "1900000000:demo:aM0CVT5vk_zH9IZyKIxkRxAzFPizDdHDs9ucxigxq6A", "demo", NOW, "bad-token",
    "signature" },
  /* the room changed, the MAC kept */
  { "1700000000:other:aM0CVT5vk_zH9IZyKIxkRxAzFPizDdHDs9ucxigxq6A", "other", NOW, "bad-token",
    "signature" },
  /* a genuine token for another room */
  { KNOWN_TOKEN, "other", NOW, "wrong-room", "another room" },
  /* a genuine token, expired */
  { KNOWN_TOKEN, "demo", 1700000000, "token-expired", "expired" },
  { KNOWN_TOKEN, "demo", 1800000000, "token-expired", "expired" },
};

static void
test_refuses (Fixture *f, gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (refusals); i++)
    {
      const Refusal *r = &refusals[i];
      g_autoptr (GError) error = NULL;
      const char *code = NULL;

      g_test_message ("token %s for room %s", r->token ? r->token : "(null)", r->room);
      g_assert_false (
          punch_signal_token_verify (f->secret, r->token, r->room, r->now, &code, &error));
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION);
      g_assert_cmpstr (code, ==, r->code);
      g_assert_nonnull (strstr (error->message, r->message_part));
    }
}

static void
test_other_secret (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) other = g_bytes_new_static ("another secret", 14);
  g_autofree char *token = punch_signal_token_new (other, "demo", NOW + 60);
  g_autoptr (GError) error = NULL;
  const char *code = NULL;

  g_assert_false (punch_signal_token_verify (f->secret, token, "demo", NOW, &code, &error));
  g_assert_cmpstr (code, ==, "bad-token");
  g_clear_error (&error);
  g_assert_true (punch_signal_token_verify (other, token, "demo", NOW, NULL, &error));
  g_assert_no_error (error);
}

static void
test_too_long (Fixture *f, gconstpointer data)
{
  g_autofree char *room = g_strnfill (600, 'a');
  g_autofree char *token = punch_signal_token_new (f->secret, room, NOW + 60);
  g_autoptr (GError) error = NULL;
  const char *code = NULL;

  g_assert_false (punch_signal_token_verify (f->secret, token, room, NOW, &code, &error));
  g_assert_cmpstr (code, ==, "bad-token");
  g_assert_nonnull (strstr (error->message, "too long"));
}

static void
test_turn_credentials (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) secret = g_bytes_new_static ("turnsecret", 10);
  g_autofree char *password = NULL;
  g_autofree char *username
      = punch_signal_turn_credentials (secret, "peer1", 1700000000, &password);

  /* python3: base64.b64encode(hmac.new(b"turnsecret", b"1700000000:peer1", sha1).digest()) */
  g_assert_cmpstr (username, ==, "1700000000:peer1");
  g_assert_cmpstr (password, ==, "KyYURFY8qQR9RJdIZL1mBJJgd48=");
}

static void
test_secret_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("punch-signal-token-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "secret", NULL);
  g_autoptr (GBytes) secret = NULL;
  gsize len;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, SECRET "\n", -1, &error));
  secret = punch_signal_secret_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (secret, &len), g_bytes_get_size (secret), SECRET,
                   strlen (SECRET));

  g_assert_true (g_file_set_contents (path, " \n", -1, &error));
  g_clear_pointer (&secret, g_bytes_unref);
  secret = punch_signal_secret_load (path, &error);
  g_assert_null (secret);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  g_unlink (path);
  g_assert_null (punch_signal_secret_load (path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  punch_test_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/signal/token/known-answer", test_known_answer);
  ADD ("/punch/signal/token/accepts", test_accepts);
  ADD ("/punch/signal/token/refuses", test_refuses);
  ADD ("/punch/signal/token/other-secret", test_other_secret);
  ADD ("/punch/signal/token/too-long", test_too_long);
  ADD ("/punch/signal/turn-credentials", test_turn_credentials);
  ADD ("/punch/signal/secret-file", test_secret_file);
#undef ADD
  return g_test_run ();
}
