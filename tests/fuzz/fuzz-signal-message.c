/* fuzz-signal-message.c: libFuzzer target for punch-signal's message parser and tokens
 *
 * The input is one WebSocket text frame, as a client could send it. The
 * parser must return a message or set an error with a wire code, never crash;
 * a message that parses must serialize to JSON that parses again to the same
 * JSON. Tokens: whatever the input, verification must answer without crashing
 * and only accept a token that the secret made.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch-signal.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_message (const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  const char *code = NULL;
  g_autoptr (PunchSignalMessage) msg = punch_signal_message_parse (text, len, &code, &error);

  g_assert ((msg == NULL) == (error != NULL));
  g_assert ((msg == NULL) == (code != NULL));
  if (msg)
    {
      g_autofree char *json = punch_signal_message_to_json (msg);
      g_autoptr (PunchSignalMessage) again
          = punch_signal_message_parse (json, strlen (json), NULL, &error);
      g_autofree char *json2 = NULL;
      g_autoptr (PunchSignalMessage) copy = punch_signal_message_copy (msg);
      g_autofree char *json3 = punch_signal_message_to_json (copy);

      g_assert_no_error (error);
      json2 = punch_signal_message_to_json (again);
      g_assert_cmpstr (json, ==, json2);
      g_assert_cmpstr (json, ==, json3);
    }
}

static void
check_token (const char *text)
{
  static GBytes *secret;
  g_autoptr (GError) error = NULL;
  const char *code = NULL;
  const char *colon = strchr (text, '\n');
  g_autofree char *room = colon ? g_strndup (text, (gsize)(colon - text)) : g_strdup ("room");
  const char *token = colon ? colon + 1 : text;
  gboolean ok;

  if (secret == NULL)
    secret = g_bytes_new_static ("fuzz-secret", 11);
  ok = punch_signal_token_verify (secret, token, room, 1000, &code, &error);
  g_assert (ok == (error == NULL));
  g_assert (ok == (code == NULL));
  if (ok)
    {
      /* only a token the secret made can pass: it must be reproducible */
      g_autofree char *made
          = punch_signal_token_new (secret, room, g_ascii_strtoll (token, NULL, 10));
      g_assert_cmpstr (made, ==, token);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = NULL;

  if (size > PUNCH_SIGNAL_MAX_FRAME + 16)
    return 0;
  /* a leading 0x01 picks the token verifier; anything else is a frame */
  if (size > 0 && data[0] == 0x01)
    {
      text = g_strndup ((const char *)data + 1, size - 1);
      check_token (text);
      return 0;
    }
  check_message ((const char *)data, size);
  return 0;
}
