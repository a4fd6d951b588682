/* punch-fingerprint.c: RFC 8122 fingerprints and the known-peers file
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-identity-private.h"
#include "punch-error.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#define SHA256_LEN 32
#define MAX_FINGERPRINT_TEXT 256
#define MAX_KNOWN_PEERS_FILE (1024 * 1024)

/* A printable form of the byte at @p for an error message. */
static char *
describe_char (const char *p)
{
  guchar c = (guchar)*p;

  if (c == ' ')
    return g_strdup ("a space");
  if (g_ascii_isgraph (c))
    return g_strdup_printf ("'%c'", c);
  return g_strdup_printf ("byte 0x%02X", c);
}

static gboolean fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "invalid fingerprint: %s", msg);
  return FALSE;
}

/* Parses the hex part, text[start..end), into @out. Positions in messages count from 1
 * in the whole @text, as the user typed it. */
static gboolean
parse_hex (const char *text, gsize start, gsize end, guint8 *out, GError **error)
{
  gboolean colons = memchr (text + start, ':', end - start) != NULL;
  gsize nbytes = 0, digits = 0;
  guint8 cur = 0;

  for (gsize i = start; i < end; i++)
    {
      char c = text[i];

      if (colons && c == ':')
        {
          if (digits != 2)
            return fail (error,
                         "%s at position %" G_GSIZE_FORMAT " (each byte is two hex digits "
                         "between colons, as in AB:CD:…)",
                         digits == 0 ? "an empty byte" : "a single hex digit", i + 1);
          digits = 0;
          continue;
        }
      if (!g_ascii_isxdigit (c))
        {
          g_autofree char *what = describe_char (text + i);
          return fail (error,
                       "bad character %s at position %" G_GSIZE_FORMAT " (expected a hex digit%s)",
                       what, i + 1, colons ? " or ':'" : "");
        }
      if (colons && digits == 2)
        return fail (error, "a third hex digit without ':' at position %" G_GSIZE_FORMAT, i + 1);
      cur = (guint8)(cur << 4 | g_ascii_xdigit_value (c));
      digits++;
      if (digits == 2)
        {
          if (nbytes < SHA256_LEN)
            out[nbytes] = cur;
          nbytes++;
          cur = 0;
          if (!colons)
            digits = 0;
        }
    }
  if (colons)
    {
      if (digits != 2)
        return fail (error, "%s at the end (each byte is two hex digits)",
                     digits == 0 ? "a trailing ':'" : "a single hex digit");
      if (nbytes != SHA256_LEN)
        return fail (error,
                     "%" G_GSIZE_FORMAT " bytes; a sha-256 fingerprint has 32 (AB:CD:… "
                     "with 32 pairs)",
                     nbytes);
    }
  else if (end - start != 2 * SHA256_LEN)
    return fail (error, "%" G_GSIZE_FORMAT " hex digits; a sha-256 fingerprint has 64",
                 end - start);
  return TRUE;
}

/* A first word that is neither hex nor colon-separated hex names an algorithm, and the
 * hex follows as the second word. */
static gboolean
looks_like_algorithm (const char *word)
{
  for (const char *p = word; *p; p++)
    if (!g_ascii_isxdigit (*p) && *p != ':')
      return TRUE;
  return FALSE;
}

char *
punch_fingerprint_normalize (const char *text, GError **error)
{
  guint8 digest[SHA256_LEN];
  gsize len, start, end, hex_start;
  GString *s;

  g_return_val_if_fail (text != NULL, NULL);

  len = strnlen (text, MAX_FINGERPRINT_TEXT + 1);
  if (len > MAX_FINGERPRINT_TEXT)
    {
      fail (error, "longer than %d characters", MAX_FINGERPRINT_TEXT);
      return NULL;
    }
  start = 0;
  end = len;
  while (start < end && g_ascii_isspace (text[start]))
    start++;
  while (end > start && g_ascii_isspace (text[end - 1]))
    end--;
  if (start == end)
    {
      fail (error, "it is empty (expected \"sha-256 AB:CD:…\" or 64 hex digits)");
      return NULL;
    }

  if (end - start == strlen ("sha-256") && g_ascii_strncasecmp (text + start, "sha-256", 7) == 0)
    {
      fail (error, "nothing after \"sha-256\" (expected its 32 bytes as AB:CD:…)");
      return NULL;
    }

  /* "ALGORITHM HEX": the first word is the hash function (RFC 8122 hash-func) */
  hex_start = start;
  for (gsize i = start; i < end; i++)
    if (g_ascii_isspace (text[i]))
      {
        gsize alg_len = i - start;
        g_autofree char *first = g_strndup (text + start, alg_len);

        if (!looks_like_algorithm (first))
          break; /* hex with a blank inside: parse_hex() points at it */
        if (alg_len != strlen ("sha-256")
            || g_ascii_strncasecmp (text + start, "sha-256", alg_len) != 0)
          {
            fail (error, "the algorithm is \"%s\"; punch uses sha-256 only", first);
            return NULL;
          }
        hex_start = i;
        while (hex_start < end && g_ascii_isspace (text[hex_start]))
          hex_start++;
        break;
      }
  if (!parse_hex (text, hex_start, end, digest, error))
    return NULL;

  s = g_string_sized_new (8 + SHA256_LEN * 3);
  g_string_append (s, "sha-256 ");
  for (guint i = 0; i < SHA256_LEN; i++)
    g_string_append_printf (s, i ? ":%02X" : "%02X", digest[i]);
  return g_string_free (s, FALSE);
}

gboolean
punch_fingerprint_equal (const char *a, const char *b)
{
  g_autofree char *na = NULL;
  g_autofree char *nb = NULL;

  if (a == NULL || b == NULL)
    return FALSE;
  na = punch_fingerprint_normalize (a, NULL);
  nb = punch_fingerprint_normalize (b, NULL);
  return na != NULL && nb != NULL && strcmp (na, nb) == 0;
}

GPtrArray *
punch_known_peers_parse (const char *contents, gsize len, const char *name, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) peers = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *copy = NULL;
  g_autoptr (GHashTable) seen = NULL;

  g_return_val_if_fail (contents != NULL || len == 0, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (len > MAX_KNOWN_PEERS_FILE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s: too large for a known-peers file (at most %d bytes)", name,
                   MAX_KNOWN_PEERS_FILE);
      return NULL;
    }
  if (len > 0 && memchr (contents, '\0', len) != NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s: a known-peers file is text, and this one holds a NUL byte", name);
      return NULL;
    }

  copy = g_strndup (contents, len);
  peers = g_ptr_array_new_with_free_func (g_free);
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  lines = g_strsplit (copy, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto (GStrv) words = NULL;
      g_autofree char *fp_text = NULL;
      char *fp;
      char *line = g_strstrip (lines[i]);
      guint nwords = 0;

      if (*line == '\0' || *line == '#')
        continue;
      words = g_strsplit_set (line, " \t", -1);
      /* drop the empty words that runs of blanks leave */
      for (guint r = 0; words[r]; r++)
        if (*words[r] != '\0')
          words[nwords++] = words[r];
        else
          g_free (words[r]);
      words[nwords] = NULL;

      if (nwords >= 2 && looks_like_algorithm (words[0]))
        fp_text = g_strconcat (words[0], " ", words[1], NULL);
      else
        fp_text = g_strdup (words[0]);
      fp = punch_fingerprint_normalize (fp_text, &local);
      if (fp == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "%s:%u: %s", name, i + 1,
                       local->message);
          return NULL;
        }
      if (g_hash_table_contains (seen, fp))
        {
          g_free (fp);
          continue;
        }
      g_hash_table_add (seen, fp);
      g_ptr_array_add (peers, fp);
    }
  return g_steal_pointer (&peers);
}

GPtrArray *
punch_known_peers_load (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local = NULL;
  gsize len = 0;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > MAX_KNOWN_PEERS_FILE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "%s: too large for a known-peers file (at most %d bytes)", path,
                   MAX_KNOWN_PEERS_FILE);
      return NULL;
    }
  if (!g_file_get_contents (path, &contents, &len, &local))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot read the known-peers file: %s",
                   local->message);
      return NULL;
    }
  return punch_known_peers_parse (contents, len, path, error);
}
