/* punch-stun.c: a small, strict STUN codec
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-stun.h"
#include "punch-error.h"

#include <string.h>
#include <gio/gio.h>

#define FINGERPRINT_XOR 0x5354554eu
#define INTEGRITY_SIZE 20

/* ---- addresses ---------------------------------------------------------- */

gboolean
punch_stun_address_same_ip (const PunchStunAddress *a, const PunchStunAddress *b)
{
  if (a->family != b->family || a->family == 0)
    return FALSE;
  return memcmp (a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

gboolean
punch_stun_address_equal (const PunchStunAddress *a, const PunchStunAddress *b)
{
  return punch_stun_address_same_ip (a, b) && a->port == b->port;
}

char *
punch_stun_address_to_string (const PunchStunAddress *a)
{
  g_autoptr (GInetAddress) ia = NULL;
  g_autofree char *ip = NULL;

  if (a->family != 4 && a->family != 6)
    return g_strdup ("-");
  ia = g_inet_address_new_from_bytes (a->addr,
                                      a->family == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
  ip = g_inet_address_to_string (ia);
  if (a->family == 6)
    return g_strdup_printf ("[%s]:%u", ip, a->port);
  return g_strdup_printf ("%s:%u", ip, a->port);
}

gboolean
punch_stun_address_parse (const char *text, PunchStunAddress *a)
{
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port;
  char *end = NULL;
  g_autoptr (GInetAddress) ia = NULL;

  memset (a, 0, sizeof *a);
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      if (close == NULL || close[1] != ':')
        return FALSE;
      host = g_strndup (text + 1, close - text - 1);
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL)
        return FALSE;
      host = g_strndup (text, colon - text);
    }
  if (colon[1] == '\0')
    return FALSE;
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || port > 65535)
    return FALSE;
  ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    return FALSE;
  a->family = g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
  memcpy (a->addr, g_inet_address_to_bytes (ia), g_inet_address_get_native_size (ia));
  a->port = (guint16)port;
  return TRUE;
}

/* ---- checksums ---------------------------------------------------------- */

guint32
punch_stun_crc32 (const guint8 *data, gsize len)
{
  static guint32 table[256];
  static gsize init = 0;
  guint32 crc = 0xffffffffu;

  if (g_once_init_enter (&init))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;
          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&init, 1);
    }
  for (gsize i = 0; i < len; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

void
punch_stun_long_term_key (const char *username, const char *realm, const char *password,
                          guint8 key[16])
{
  g_autoptr (GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  gsize len = 16;

  g_checksum_update (md5, (const guchar *)username, strlen (username));
  g_checksum_update (md5, (const guchar *)":", 1);
  g_checksum_update (md5, (const guchar *)realm, strlen (realm));
  g_checksum_update (md5, (const guchar *)":", 1);
  g_checksum_update (md5, (const guchar *)password, strlen (password));
  g_checksum_get_digest (md5, key, &len);
}

void
punch_stun_random_txid (guint8 txid[PUNCH_STUN_TXID_SIZE])
{
  for (int i = 0; i < PUNCH_STUN_TXID_SIZE; i += 4)
    {
      guint32 r = g_random_int ();
      memcpy (txid + i, &r, 4);
    }
}

/* HMAC-SHA1 over @data[0..@end) with the header's length replaced by @length */
static void
hmac_sha1 (const guint8 *data, gsize end, guint16 length, const guint8 *key, gsize key_len,
           guint8 digest[INTEGRITY_SIZE])
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, key, key_len);
  guint8 len_be[2] = { length >> 8, length & 0xff };
  gsize dlen = INTEGRITY_SIZE;

  g_hmac_update (hmac, data, 2);
  g_hmac_update (hmac, len_be, 2);
  g_hmac_update (hmac, data + 4, end - 4);
  g_hmac_get_digest (hmac, digest, &dlen);
}

/* ---- parsing ------------------------------------------------------------ */

static gboolean reject (GError **error, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
reject (GError **error, const char *reason, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "%s: %s", reason, msg);
  return FALSE;
}

const char *
punch_stun_reject_reason (const GError *error)
{
  static const char *const reasons[]
      = { PUNCH_STUN_REJECT_SHORT, PUNCH_STUN_REJECT_NOT_STUN, PUNCH_STUN_REJECT_MALFORMED,
          PUNCH_STUN_REJECT_FINGERPRINT };

  if (error == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    {
      gsize n = strlen (reasons[i]);
      if (strncmp (error->message, reasons[i], n) == 0 && error->message[n] == ':')
        return reasons[i];
    }
  return PUNCH_STUN_REJECT_MALFORMED;
}

static guint16
get16 (const guint8 *p)
{
  return (guint16)((p[0] << 8) | p[1]);
}

static guint32
get32 (const guint8 *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static gboolean
parse_address (const guint8 *v, gsize len, gboolean xor, const guint8 *txid, PunchStunAddress *a,
               guint16 type, GError **error)
{
  static const guint8 cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };

  if (len < 4)
    return reject (error, PUNCH_STUN_REJECT_MALFORMED, "address attribute 0x%04x too short", type);
  memset (a, 0, sizeof *a);
  a->port = get16 (v + 2);
  if (xor)
    a->port ^= PUNCH_STUN_MAGIC_COOKIE >> 16;
  if (v[1] == 0x01 && len == 8)
    {
      a->family = 4;
      for (int i = 0; i < 4; i++)
        a->addr[i] = v[4 + i] ^ (xor? cookie[i] : 0);
    }
  else if (v[1] == 0x02 && len == 20)
    {
      a->family = 6;
      for (int i = 0; i < 16; i++)
        a->addr[i] = v[4 + i] ^ (xor? (i < 4 ? cookie[i] : txid[i - 4]) : 0);
    }
  else
    return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                   "address attribute 0x%04x has family %u and length %" G_GSIZE_FORMAT, type, v[1],
                   len);
  return TRUE;
}

gssize
punch_stun_stream_frame (const guint8 *data, gsize len, GError **error)
{
  gsize body;

  if (len >= 1 && (data[0] & 0xc0) != 0)
    return reject (error, PUNCH_STUN_REJECT_NOT_STUN, "no STUN header on the stream"), -1;
  if (len >= 8 && get32 (data + 4) != PUNCH_STUN_MAGIC_COOKIE)
    return reject (error, PUNCH_STUN_REJECT_NOT_STUN, "no STUN magic cookie on the stream"), -1;
  if (len < 4)
    return 0;
  body = get16 (data + 2);
  if (body % 4 != 0)
    return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                   "length %" G_GSIZE_FORMAT " is not a multiple of 4", body),
           -1;
  if (PUNCH_STUN_HEADER_SIZE + body > PUNCH_STUN_MAX_SIZE)
    return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                   "a message of %" G_GSIZE_FORMAT " bytes, more than %d",
                   PUNCH_STUN_HEADER_SIZE + body, PUNCH_STUN_MAX_SIZE),
           -1;
  if (len < PUNCH_STUN_HEADER_SIZE + body)
    return 0;
  return (gssize)(PUNCH_STUN_HEADER_SIZE + body);
}

gboolean
punch_stun_message_parse (const guint8 *data, gsize len, PunchStunMessage *msg, GError **error)
{
  return punch_stun_message_parse_full (data, len, PUNCH_STUN_PARSE_DEFAULT, msg, error);
}

gboolean
punch_stun_message_parse_full (const guint8 *data, gsize len, PunchStunParseFlags flags,
                               PunchStunMessage *msg, GError **error)
{
  guint16 type;
  gsize body, off;
  gboolean after_integrity = FALSE;

  memset (msg, 0, sizeof *msg);
  if (len < PUNCH_STUN_HEADER_SIZE)
    return reject (error, PUNCH_STUN_REJECT_SHORT, "%" G_GSIZE_FORMAT " bytes, less than a header",
                   len);
  if ((data[0] & 0xc0) != 0)
    return reject (error, PUNCH_STUN_REJECT_NOT_STUN, "no STUN header");
  msg->cookie = get32 (data + 4);
  msg->classic = msg->cookie != PUNCH_STUN_MAGIC_COOKIE;
  if (msg->classic && !(flags & PUNCH_STUN_PARSE_RFC3489))
    return reject (error, PUNCH_STUN_REJECT_NOT_STUN, "no STUN magic cookie");
  body = get16 (data + 2);
  if (body % 4 != 0)
    return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                   "length %" G_GSIZE_FORMAT " is not a multiple of 4", body);
  if (PUNCH_STUN_HEADER_SIZE + body > len)
    return reject (error, PUNCH_STUN_REJECT_SHORT,
                   "header says %" G_GSIZE_FORMAT " bytes, got %" G_GSIZE_FORMAT,
                   PUNCH_STUN_HEADER_SIZE + body, len);
  if (PUNCH_STUN_HEADER_SIZE + body < len)
    return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                   "%" G_GSIZE_FORMAT " bytes after the message",
                   len - PUNCH_STUN_HEADER_SIZE - body);

  type = get16 (data);
  msg->method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  msg->klass = ((type & 0x0010) >> 4) | ((type & 0x0100) >> 7);
  memcpy (msg->txid, data + 8, PUNCH_STUN_TXID_SIZE);
  msg->length = len;

  for (off = PUNCH_STUN_HEADER_SIZE; off < len;)
    {
      guint16 atype, alen;
      gsize padded;
      const guint8 *v;

      if (len - off < 4)
        return reject (error, PUNCH_STUN_REJECT_MALFORMED, "truncated attribute header");
      atype = get16 (data + off);
      alen = get16 (data + off + 2);
      padded = (alen + 3u) & ~3u;
      v = data + off + 4;
      if (padded > len - off - 4)
        return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                       "attribute 0x%04x (%u bytes) runs past the end", atype, alen);
      if (msg->present & PUNCH_STUN_HAS_FINGERPRINT)
        return reject (error, PUNCH_STUN_REJECT_MALFORMED, "attribute 0x%04x after FINGERPRINT",
                       atype);
      if (after_integrity && atype != PUNCH_STUN_ATTR_FINGERPRINT
          && atype != PUNCH_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
        return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                       "attribute 0x%04x after MESSAGE-INTEGRITY", atype);

      switch (atype)
        {
        case PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS:
          if (msg->classic)
            break; /* XOR with a cookie the message does not have: meaningless */
          G_GNUC_FALLTHROUGH;
        case PUNCH_STUN_ATTR_MAPPED_ADDRESS:
        case PUNCH_STUN_ATTR_OTHER_ADDRESS:
        case PUNCH_STUN_ATTR_RESPONSE_ORIGIN:
        case PUNCH_STUN_ATTR_SOURCE_ADDRESS:
        case PUNCH_STUN_ATTR_CHANGED_ADDRESS:
          {
            guint32 bit;
            PunchStunAddress *a;
            PunchStunAddress tmp;

            switch (atype)
              {
              case PUNCH_STUN_ATTR_MAPPED_ADDRESS:
                bit = PUNCH_STUN_HAS_MAPPED;
                a = &msg->mapped;
                break;
              case PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS:
                bit = PUNCH_STUN_HAS_XOR_MAPPED;
                a = &msg->xor_mapped;
                break;
              case PUNCH_STUN_ATTR_OTHER_ADDRESS:
                bit = PUNCH_STUN_HAS_OTHER_ADDRESS;
                a = &msg->other_address;
                break;
              case PUNCH_STUN_ATTR_RESPONSE_ORIGIN:
                bit = PUNCH_STUN_HAS_RESPONSE_ORIGIN;
                a = &msg->response_origin;
                break;
              case PUNCH_STUN_ATTR_SOURCE_ADDRESS:
                bit = PUNCH_STUN_HAS_SOURCE_ADDRESS;
                a = &msg->source_address;
                break;
              default:
                bit = PUNCH_STUN_HAS_CHANGED_ADDRESS;
                a = &msg->changed_address;
                break;
              }

            if (!parse_address (v, alen, atype == PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS, msg->txid,
                                &tmp, atype, error))
              return FALSE;
            if (!(msg->present & bit))
              {
                *a = tmp;
                msg->present |= bit;
              }
            break;
          }
        case PUNCH_STUN_ATTR_CHANGE_REQUEST:
          if (alen != 4)
            return reject (error, PUNCH_STUN_REJECT_MALFORMED, "CHANGE-REQUEST of %u bytes", alen);
          if (!(msg->present & PUNCH_STUN_HAS_CHANGE_REQUEST))
            msg->change_request = get32 (v);
          msg->present |= PUNCH_STUN_HAS_CHANGE_REQUEST;
          break;
        case PUNCH_STUN_ATTR_ERROR_CODE:
          if (alen < 4 || alen > 4 + 763)
            return reject (error, PUNCH_STUN_REJECT_MALFORMED, "ERROR-CODE of %u bytes", alen);
          if ((v[2] & 0x7) < 3 || (v[2] & 0x7) > 6 || v[3] > 99)
            return reject (error, PUNCH_STUN_REJECT_MALFORMED, "ERROR-CODE class %u number %u",
                           v[2] & 0x7, v[3]);
          if (!(msg->present & PUNCH_STUN_HAS_ERROR_CODE))
            {
              msg->error_code = (v[2] & 0x7) * 100 + v[3];
              msg->reason.data = v + 4;
              msg->reason.len = alen - 4;
            }
          msg->present |= PUNCH_STUN_HAS_ERROR_CODE;
          break;
        case PUNCH_STUN_ATTR_SOFTWARE:
        case PUNCH_STUN_ATTR_USERNAME:
        case PUNCH_STUN_ATTR_REALM:
        case PUNCH_STUN_ATTR_NONCE:
          {
            guint32 bit = atype == PUNCH_STUN_ATTR_SOFTWARE   ? PUNCH_STUN_HAS_SOFTWARE
                          : atype == PUNCH_STUN_ATTR_USERNAME ? PUNCH_STUN_HAS_USERNAME
                          : atype == PUNCH_STUN_ATTR_REALM    ? PUNCH_STUN_HAS_REALM
                                                              : PUNCH_STUN_HAS_NONCE;
            PunchStunBytes *b = atype == PUNCH_STUN_ATTR_SOFTWARE   ? &msg->software
                                : atype == PUNCH_STUN_ATTR_USERNAME ? &msg->username
                                : atype == PUNCH_STUN_ATTR_REALM    ? &msg->realm
                                                                    : &msg->nonce;
            if (alen > 763)
              return reject (error, PUNCH_STUN_REJECT_MALFORMED,
                             "text attribute 0x%04x of %u bytes", atype, alen);
            if (!(msg->present & bit))
              {
                b->data = v;
                b->len = alen;
              }
            msg->present |= bit;
            break;
          }
        case PUNCH_STUN_ATTR_MESSAGE_INTEGRITY:
          if (alen != INTEGRITY_SIZE)
            return reject (error, PUNCH_STUN_REJECT_MALFORMED, "MESSAGE-INTEGRITY of %u bytes",
                           alen);
          msg->integrity_offset = off;
          msg->present |= PUNCH_STUN_HAS_INTEGRITY;
          after_integrity = TRUE;
          break;
        case PUNCH_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
          /* not verified by punch; only FINGERPRINT may follow it */
          after_integrity = TRUE;
          break;
        case PUNCH_STUN_ATTR_FINGERPRINT:
          {
            guint32 want;

            if (alen != 4)
              return reject (error, PUNCH_STUN_REJECT_MALFORMED, "FINGERPRINT of %u bytes", alen);
            if (off + 8 != len)
              return reject (error, PUNCH_STUN_REJECT_MALFORMED, "FINGERPRINT is not last");
            want = punch_stun_crc32 (data, off) ^ FINGERPRINT_XOR;
            if (get32 (v) != want)
              return reject (error, PUNCH_STUN_REJECT_FINGERPRINT,
                             "FINGERPRINT 0x%08x, the message's CRC gives 0x%08x", get32 (v), want);
            msg->present |= PUNCH_STUN_HAS_FINGERPRINT;
            break;
          }
        case PUNCH_STUN_ATTR_UNKNOWN_ATTRIBUTES:
        case PUNCH_STUN_ATTR_USERHASH:
        case PUNCH_STUN_ATTR_PADDING:
        case PUNCH_STUN_ATTR_RESPONSE_PORT: break; /* known, not needed */
        default:
          if (atype < 0x8000 && msg->n_unknown_required < G_N_ELEMENTS (msg->unknown_required))
            msg->unknown_required[msg->n_unknown_required++] = atype;
          break;
        }
      off += 4 + padded;
    }
  return TRUE;
}

PunchStunAnswer
punch_stun_binding_answer (const PunchStunMessage *m, const guint8 *txid, PunchStunAddress *mapped,
                           char **why)
{
  memset (mapped, 0, sizeof *mapped);
  *why = NULL;
  if (m->klass != PUNCH_STUN_CLASS_SUCCESS && m->klass != PUNCH_STUN_CLASS_ERROR)
    return PUNCH_STUN_ANSWER_NONE;
  if (memcmp (m->txid, txid, PUNCH_STUN_TXID_SIZE) != 0)
    {
      *why = g_strdup ("the answer has another transaction id");
      return PUNCH_STUN_ANSWER_WRONG_TXID;
    }
  if (m->method != PUNCH_STUN_METHOD_BINDING)
    {
      *why = g_strdup ("the answer is not a Binding response");
      return PUNCH_STUN_ANSWER_NOT_BINDING;
    }
  if (m->klass == PUNCH_STUN_CLASS_ERROR)
    {
      g_autofree char *reason = punch_stun_bytes_to_text (&m->reason, 128);
      *why = g_strdup_printf ("error response %u %s", m->error_code, reason);
      return PUNCH_STUN_ANSWER_ERROR;
    }
  if (m->present & PUNCH_STUN_HAS_XOR_MAPPED)
    *mapped = m->xor_mapped;
  else if (m->present & PUNCH_STUN_HAS_MAPPED)
    *mapped = m->mapped;
  return PUNCH_STUN_ANSWER_SUCCESS;
}

char *
punch_stun_bytes_to_text (const PunchStunBytes *bytes, gsize max_bytes)
{
  gsize len = MIN (bytes->len, max_bytes);

  while (len > 0 && bytes->data[len - 1] == '\0')
    len--;
  if (len == 0)
    return g_strdup ("");
  return g_utf8_make_valid ((const char *)bytes->data, len);
}

gboolean
punch_stun_message_check_integrity (const guint8 *data, const PunchStunMessage *msg,
                                    const guint8 *key, gsize key_len)
{
  guint8 digest[INTEGRITY_SIZE];
  gsize off = msg->integrity_offset;

  if (!(msg->present & PUNCH_STUN_HAS_INTEGRITY) || off < PUNCH_STUN_HEADER_SIZE
      || off + 4 + INTEGRITY_SIZE > msg->length)
    return FALSE;
  hmac_sha1 (data, off, (guint16)(off + 4 + INTEGRITY_SIZE - PUNCH_STUN_HEADER_SIZE), key, key_len,
             digest);
  /* a MAC comparison that does not stop at the first difference */
  {
    guint8 diff = 0;
    for (int i = 0; i < INTEGRITY_SIZE; i++)
      diff |= digest[i] ^ data[off + 4 + i];
    return diff == 0;
  }
}

/* ---- building ----------------------------------------------------------- */

static void
put16 (GByteArray *b, guint16 v)
{
  guint8 x[2] = { v >> 8, v & 0xff };
  g_byte_array_append (b, x, 2);
}

static void
set_length (GByteArray *b, gsize body)
{
  b->data[2] = (body >> 8) & 0xff;
  b->data[3] = body & 0xff;
}

GByteArray *
punch_stun_message_new (guint16 method, PunchStunClass klass,
                        const guint8 txid[PUNCH_STUN_TXID_SIZE])
{
  GByteArray *b = g_byte_array_sized_new (PUNCH_STUN_HEADER_SIZE);
  guint16 type = (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2)
                 | ((klass & 1) << 4) | ((klass & 2) << 7);
  guint8 cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };

  put16 (b, type);
  put16 (b, 0);
  g_byte_array_append (b, cookie, 4);
  g_byte_array_append (b, txid, PUNCH_STUN_TXID_SIZE);
  return b;
}

void
punch_stun_message_add (GByteArray *msg, guint16 type, const void *value, gsize len)
{
  static const guint8 zeros[4] = { 0 };

  g_return_if_fail (len <= 0xffff);
  put16 (msg, type);
  put16 (msg, (guint16)len);
  if (len)
    g_byte_array_append (msg, value, len);
  if (len % 4)
    g_byte_array_append (msg, zeros, 4 - len % 4);
  set_length (msg, msg->len - PUNCH_STUN_HEADER_SIZE);
}

void
punch_stun_message_add_u32 (GByteArray *msg, guint16 type, guint32 value)
{
  guint8 v[4] = { value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff };

  punch_stun_message_add (msg, type, v, 4);
}

void
punch_stun_message_add_address (GByteArray *msg, guint16 type, const PunchStunAddress *a,
                                gboolean xor)
{
  guint8 v[20] = { 0 };
  gsize alen = a->family == 4 ? 4 : 16;
  guint16 port = a->port;

  g_return_if_fail (a->family == 4 || a->family == 6);
  v[1] = a->family == 4 ? 0x01 : 0x02;
  if (xor)
    port ^= PUNCH_STUN_MAGIC_COOKIE >> 16;
  v[2] = port >> 8;
  v[3] = port & 0xff;
  for (gsize i = 0; i < alen; i++)
    /* the cookie and the transaction id are bytes 4..19 of the header */
    v[4 + i] = a->addr[i] ^ (xor? msg->data[4 + i] : 0);
  punch_stun_message_add (msg, type, v, 4 + alen);
}

void
punch_stun_message_add_integrity (GByteArray *msg, const guint8 *key, gsize key_len)
{
  guint8 digest[INTEGRITY_SIZE];
  gsize end = msg->len;

  hmac_sha1 (msg->data, end, (guint16)(end + 4 + INTEGRITY_SIZE - PUNCH_STUN_HEADER_SIZE), key,
             key_len, digest);
  punch_stun_message_add (msg, PUNCH_STUN_ATTR_MESSAGE_INTEGRITY, digest, INTEGRITY_SIZE);
}

void
punch_stun_message_add_fingerprint (GByteArray *msg)
{
  guint32 crc;

  /* the CRC covers the header with its length already counting FINGERPRINT */
  set_length (msg, msg->len + 8 - PUNCH_STUN_HEADER_SIZE);
  crc = punch_stun_crc32 (msg->data, msg->len) ^ FINGERPRINT_XOR;
  punch_stun_message_add_u32 (msg, PUNCH_STUN_ATTR_FINGERPRINT, crc);
}
