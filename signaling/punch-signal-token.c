/* punch-signal-token.c: room tokens and TURN REST credentials (HMAC)
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-token.h"
#include "punch-signal-message.h"

#include <string.h>

#define MAX_TOKEN 512

GBytes *
punch_signal_secret_load (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  while (len > 0 && g_ascii_isspace (contents[len - 1]))
    len--;
  if (len == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the secret file %s is empty; put a long random string in it, for example "
                   "with: head -c 32 /dev/urandom | base64 > %s",
                   path, path);
      return NULL;
    }
  return g_bytes_new (contents, len);
}

/* base64url without padding (RFC 4648 section 5) */
static char *
base64url (const guint8 *data, gsize len)
{
  char *s = g_base64_encode (data, len);

  for (char *p = s; *p; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }
  return s;
}

static char *
mac_for (GBytes *secret, const char *payload)
{
  gsize key_len;
  const guint8 *key = g_bytes_get_data (secret, &key_len);
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  g_hmac_update (hmac, (const guchar *)payload, (gssize)strlen (payload));
  g_hmac_get_digest (hmac, digest, &digest_len);
  return base64url (digest, digest_len);
}

char *
punch_signal_token_new (GBytes *secret, const char *room, gint64 expiry)
{
  g_autofree char *payload = NULL;
  g_autofree char *mac = NULL;

  g_return_val_if_fail (secret != NULL && room != NULL, NULL);
  payload = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expiry, room);
  mac = mac_for (secret, payload);
  return g_strconcat (payload, ":", mac, NULL);
}

static gboolean
equal_constant_time (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guint8 diff = 0;

  if (la != lb) /* the MAC's length is public */
    return FALSE;
  for (gsize i = 0; i < la; i++)
    diff |= (guint8)(a[i] ^ b[i]);
  return diff == 0;
}

static gboolean
refuse (const char **wire_code, const char *code, GError **error, const char *message)
{
  if (wire_code)
    *wire_code = code;
  g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION, message);
  return FALSE;
}

gboolean
punch_signal_token_verify (GBytes *secret, const char *token, const char *room, gint64 now,
                           const char **wire_code, GError **error)
{
  const char *last_colon, *first_colon;
  g_autofree char *payload = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *token_room = NULL;
  guint64 expiry;
  const char *p;

  g_return_val_if_fail (secret != NULL && room != NULL, FALSE);

  if (wire_code)
    *wire_code = NULL;
  if (token == NULL || *token == '\0')
    return refuse (wire_code, "bad-token", error, "this server needs a room token");
  if (strnlen (token, MAX_TOKEN + 1) > MAX_TOKEN)
    return refuse (wire_code, "bad-token", error, "the token is too long");
  last_colon = strrchr (token, ':');
  first_colon = strchr (token, ':');
  if (last_colon == NULL || last_colon == first_colon)
    return refuse (wire_code, "bad-token", error,
                   "the token is malformed; expected <expiry>:<room>:<mac>");

  payload = g_strndup (token, (gsize)(last_colon - token));
  expected = mac_for (secret, payload);
  if (!equal_constant_time (expected, last_colon + 1))
    return refuse (wire_code, "bad-token", error,
                   "the token's signature does not match (made with another secret?)");

  /* from here on the token is genuine */
  for (p = token; p < first_colon; p++)
    if (!g_ascii_isdigit (*p))
      break;
  if (p != first_colon || first_colon == token || first_colon - token > 19)
    return refuse (wire_code, "bad-token", error, "the token's expiry is not a number");
  expiry = g_ascii_strtoull (token, NULL, 10);
  token_room = g_strndup (first_colon + 1, (gsize)(last_colon - first_colon - 1));
  if (strcmp (token_room, room) != 0)
    return refuse (wire_code, "wrong-room", error, "the token is for another room");
  if (expiry > G_MAXINT64 || (gint64)expiry <= now)
    return refuse (wire_code, "token-expired", error, "the token has expired; ask for a new one");
  return TRUE;
}

char *
punch_signal_turn_credentials (GBytes *secret, const char *user, gint64 expiry, char **password)
{
  gsize key_len;
  const guint8 *key;
  g_autoptr (GHmac) hmac = NULL;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  char *username;

  g_return_val_if_fail (secret != NULL && user != NULL && password != NULL, NULL);
  key = g_bytes_get_data (secret, &key_len);
  username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expiry, user);
  hmac = g_hmac_new (G_CHECKSUM_SHA1, key, key_len);
  g_hmac_update (hmac, (const guchar *)username, (gssize)strlen (username));
  g_hmac_get_digest (hmac, digest, &digest_len);
  *password = g_base64_encode (digest, digest_len);
  return username;
}
