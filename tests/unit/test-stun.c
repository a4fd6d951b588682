/* test-stun.c: the STUN codec against the RFC 5769 test vectors, and its
 * rejection of short, garbage and tampered messages
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include "punch-stun.h"
#include "punch-error.h"

/* RFC 5769 section 2.1: sample request (short-term credentials, FINGERPRINT) */
static const guint8 rfc5769_request[] = {
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
  0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
  0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
  0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: sample IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853 */
static const guint8 rfc5769_response_v4[] = {
  0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
  0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
  0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
  0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: sample IPv6 response,
 * XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853 */
static const guint8 rfc5769_response_v6[] = {
  0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
  0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
  0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
  0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
  0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 section 2.4: sample request with long-term authentication
 * (username U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9, realm example.org) */
static const guint8 rfc5769_request_long_term[] = {
  0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
  0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88,
  0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00,
  0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
  0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73,
  0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
  0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02,
  0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

static const char short_term_password[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const guint8 rfc5769_txid[12]
    = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

/* Two answers of Debian's stund 0.97 (RFC 3489), run as
 * `stund -h 127.0.0.1 -a 127.0.0.2`: to a Binding request with the magic
 * cookie (which it echoes as part of its 16-byte transaction id), and to a
 * classic request without it. MAPPED-ADDRESS, SOURCE-ADDRESS 127.0.0.1:3478,
 * CHANGED-ADDRESS 127.0.0.2:3479, XOR-MAPPED-ADDRESS, and SERVER (0x8022)
 * "Vovida.org 0.97" with its NUL padding counted in the length. */
static const guint8 stund_response[] = {
  0x01, 0x01, 0x00, 0x44, 0x21, 0x12, 0xa4, 0x42, 0x58, 0x5c, 0xf0, 0x18, 0x9a, 0x18, 0x37,
  0x0e, 0x94, 0xf5, 0x04, 0x02, 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0xa8, 0x68, 0x7f, 0x00,
  0x00, 0x01, 0x00, 0x04, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x96, 0x7f, 0x00, 0x00, 0x01, 0x00,
  0x05, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x97, 0x7f, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x08,
  0x00, 0x01, 0x89, 0x7a, 0x5e, 0x12, 0xa4, 0x43, 0x80, 0x22, 0x00, 0x10, 0x56, 0x6f, 0x76,
  0x69, 0x64, 0x61, 0x2e, 0x6f, 0x72, 0x67, 0x20, 0x30, 0x2e, 0x39, 0x37, 0x00,
};
static const guint8 stund_classic_response[] = {
  0x01, 0x01, 0x00, 0x44, 0x01, 0x02, 0x03, 0x04, 0x1d, 0x68, 0x15, 0x4d, 0x74, 0x02, 0x3f,
  0xf9, 0x17, 0x17, 0xc5, 0x5b, 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0xaf, 0x36, 0x7f, 0x00,
  0x00, 0x01, 0x00, 0x04, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x96, 0x7f, 0x00, 0x00, 0x01, 0x00,
  0x05, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x97, 0x7f, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x08,
  0x00, 0x01, 0xae, 0x34, 0x7e, 0x02, 0x03, 0x05, 0x80, 0x22, 0x00, 0x10, 0x56, 0x6f, 0x76,
  0x69, 0x64, 0x61, 0x2e, 0x6f, 0x72, 0x67, 0x20, 0x30, 0x2e, 0x39, 0x37, 0x00,
};

typedef struct
{
  guint8 buf[PUNCH_STUN_MAX_SIZE];
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f->buf, 0, sizeof f->buf);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
}

static gboolean
bytes_equal (const PunchStunBytes *b, const char *s)
{
  return b->len == strlen (s) && memcmp (b->data, s, b->len) == 0;
}

static void
assert_address (const PunchStunAddress *a, const char *text)
{
  g_autofree char *s = punch_stun_address_to_string (a);
  g_assert_cmpstr (s, ==, text);
}

static void
test_request (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  g_assert_true (punch_stun_message_parse (rfc5769_request, sizeof rfc5769_request, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (m.method, ==, PUNCH_STUN_METHOD_BINDING);
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_REQUEST);
  g_assert_cmpmem (m.txid, 12, rfc5769_txid, 12);
  g_assert_true (m.present & PUNCH_STUN_HAS_FINGERPRINT);
  g_assert_true (m.present & PUNCH_STUN_HAS_INTEGRITY);
  g_assert_true (bytes_equal (&m.software, "STUN test client"));
  g_assert_true (bytes_equal (&m.username, "evtj:h6vY"));
  /* PRIORITY and ICE-CONTROLLED are comprehension-required and unknown here */
  g_assert_cmpuint (m.n_unknown_required, ==, 1);
  g_assert_cmphex (m.unknown_required[0], ==, 0x0024);
  g_assert_true (punch_stun_message_check_integrity (
      rfc5769_request, &m, (const guint8 *)short_term_password, strlen (short_term_password)));
  g_assert_false (
      punch_stun_message_check_integrity (rfc5769_request, &m, (const guint8 *)"wrong", 5));
}

static void
test_response_v4 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  g_assert_true (
      punch_stun_message_parse (rfc5769_response_v4, sizeof rfc5769_response_v4, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_SUCCESS);
  g_assert_cmpuint (m.method, ==, PUNCH_STUN_METHOD_BINDING);
  g_assert_true (m.present & PUNCH_STUN_HAS_XOR_MAPPED);
  assert_address (&m.xor_mapped, "192.0.2.1:32853");
  g_assert_true (bytes_equal (&m.software, "test vector"));
  g_assert_true (punch_stun_message_check_integrity (
      rfc5769_response_v4, &m, (const guint8 *)short_term_password, strlen (short_term_password)));
}

static void
test_response_v6 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  g_assert_true (
      punch_stun_message_parse (rfc5769_response_v6, sizeof rfc5769_response_v6, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_SUCCESS);
  assert_address (&m.xor_mapped, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  g_assert_true (punch_stun_message_check_integrity (
      rfc5769_response_v6, &m, (const guint8 *)short_term_password, strlen (short_term_password)));
}

static void
test_request_long_term (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;
  guint8 key[16];
  /* "マトリックス" in UTF-8, the RFC's username */
  const char *user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

  g_assert_true (punch_stun_message_parse (rfc5769_request_long_term,
                                           sizeof rfc5769_request_long_term, &m, &error));
  g_assert_no_error (error);
  g_assert_false (m.present & PUNCH_STUN_HAS_FINGERPRINT);
  g_assert_true (bytes_equal (&m.username, user));
  g_assert_true (bytes_equal (&m.realm, "example.org"));
  g_assert_true (bytes_equal (&m.nonce, "f//499k954d6OL34oL9FSTvy64sA"));
  punch_stun_long_term_key (user, "example.org", "TheMatrIX", key);
  g_assert_true (punch_stun_message_check_integrity (rfc5769_request_long_term, &m, key, 16));
  punch_stun_long_term_key (user, "example.org", "TheMatrix", key);
  g_assert_false (punch_stun_message_check_integrity (rfc5769_request_long_term, &m, key, 16));
}

static void
assert_rejected (const guint8 *data, gsize len, const char *reason)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  g_assert_false (punch_stun_message_parse (data, len, &m, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_cmpstr (punch_stun_reject_reason (error), ==, reason);
}

/* Every single-bit flip of a vector before its FINGERPRINT is rejected, and
 * a changed body with a recomputed FINGERPRINT fails MESSAGE-INTEGRITY. */
static void
test_tampered (Fixture *f, gconstpointer data)
{
  gsize n = sizeof rfc5769_response_v4;

  for (gsize bit = 0; bit < (n - 8) * 8; bit++)
    {
      PunchStunMessage m;

      memcpy (f->buf, rfc5769_response_v4, n);
      f->buf[bit / 8] ^= 1 << (bit % 8);
      g_assert_false (punch_stun_message_parse (f->buf, n, &m, NULL));
    }
  memcpy (f->buf, rfc5769_response_v4, n);
  f->buf[45] ^= 0x01;
  assert_rejected (f->buf, n, PUNCH_STUN_REJECT_FINGERPRINT);
  {
    /* a forger who recomputes FINGERPRINT is still caught by MESSAGE-INTEGRITY */
    PunchStunMessage m;
    guint32 crc = punch_stun_crc32 (f->buf, n - 8) ^ 0x5354554eu;

    f->buf[n - 4] = crc >> 24;
    f->buf[n - 3] = (crc >> 16) & 0xff;
    f->buf[n - 2] = (crc >> 8) & 0xff;
    f->buf[n - 1] = crc & 0xff;
    g_assert_true (punch_stun_message_parse (f->buf, n, &m, NULL));
    g_assert_false (punch_stun_message_check_integrity (
        f->buf, &m, (const guint8 *)short_term_password, strlen (short_term_password)));
  }
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
  static const guint8 garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  guint8 msg[64];

  assert_rejected (rfc5769_response_v4, 0, PUNCH_STUN_REJECT_SHORT);
  assert_rejected (rfc5769_response_v4, 19, PUNCH_STUN_REJECT_SHORT);
  /* the header promises more than arrived */
  assert_rejected (rfc5769_response_v4, sizeof rfc5769_response_v4 - 4, PUNCH_STUN_REJECT_SHORT);
  assert_rejected (garbage, sizeof garbage - 1, PUNCH_STUN_REJECT_NOT_STUN);

  /* no magic cookie (RFC 3489) */
  memcpy (msg, rfc5769_response_v4, 20);
  msg[2] = msg[3] = 0;
  msg[4] = 0;
  assert_rejected (msg, 20, PUNCH_STUN_REJECT_NOT_STUN);

  /* trailing bytes after the message */
  memcpy (msg, rfc5769_response_v4, 20);
  msg[2] = msg[3] = 0;
  memset (msg + 20, 0, 4);
  assert_rejected (msg, 24, PUNCH_STUN_REJECT_MALFORMED);

  /* an attribute that claims to run past the end */
  msg[3] = 8;
  memcpy (msg + 20, "\x00\x20\x00\x40\x00\x01\x00\x00", 8);
  assert_rejected (msg, 28, PUNCH_STUN_REJECT_MALFORMED);

  /* XOR-MAPPED-ADDRESS with an unknown family */
  memcpy (msg + 20, "\x00\x20\x00\x04\x00\x03\x00\x00", 8);
  assert_rejected (msg, 28, PUNCH_STUN_REJECT_MALFORMED);

  /* IPv4 family with IPv6 length */
  msg[3] = 24;
  memcpy (msg + 20, "\x00\x20\x00\x14\x00\x01\x00\x00", 8);
  memset (msg + 28, 0, 16);
  assert_rejected (msg, 44, PUNCH_STUN_REJECT_MALFORMED);

  /* a length that is not a multiple of 4 */
  msg[3] = 2;
  assert_rejected (msg, 22, PUNCH_STUN_REJECT_MALFORMED);
}

static void
test_order (Fixture *f, gconstpointer data)
{
  guint8 txid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  g_autoptr (GByteArray) b
      = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_SUCCESS, txid);

  /* an attribute after MESSAGE-INTEGRITY is refused */
  punch_stun_message_add_integrity (b, (const guint8 *)"k", 1);
  punch_stun_message_add (b, PUNCH_STUN_ATTR_SOFTWARE, "x", 1);
  assert_rejected (b->data, b->len, PUNCH_STUN_REJECT_MALFORMED);
}

/* What punch builds, punch parses back; and the RFC 5780 attributes. */
static void
test_build (Fixture *f, gconstpointer data)
{
  guint8 txid[12];
  g_autoptr (GByteArray) b = NULL;
  g_autoptr (GError) error = NULL;
  PunchStunAddress mapped, other, origin, v6;
  PunchStunMessage m;

  punch_stun_random_txid (txid);
  g_assert_true (punch_stun_address_parse ("203.0.113.101:40000", &mapped));
  g_assert_true (punch_stun_address_parse ("203.0.113.11:3479", &other));
  g_assert_true (punch_stun_address_parse ("203.0.113.10:3478", &origin));
  g_assert_true (punch_stun_address_parse ("[2001:db8::7]:5", &v6));
  g_assert_false (punch_stun_address_parse ("203.0.113.1", &v6));
  g_assert_false (punch_stun_address_parse ("host:1", &v6));
  g_assert_false (punch_stun_address_parse ("1.2.3.4:70000", &v6));
  g_assert_true (punch_stun_address_parse ("[2001:db8::7]:5", &v6));

  b = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_SUCCESS, txid);
  punch_stun_message_add_address (b, PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped, TRUE);
  punch_stun_message_add_address (b, PUNCH_STUN_ATTR_MAPPED_ADDRESS, &v6, FALSE);
  punch_stun_message_add_address (b, PUNCH_STUN_ATTR_OTHER_ADDRESS, &other, FALSE);
  punch_stun_message_add_address (b, PUNCH_STUN_ATTR_RESPONSE_ORIGIN, &origin, FALSE);
  punch_stun_message_add_u32 (b, PUNCH_STUN_ATTR_CHANGE_REQUEST,
                              PUNCH_STUN_CHANGE_IP | PUNCH_STUN_CHANGE_PORT);
  punch_stun_message_add_integrity (b, (const guint8 *)"secret", 6);
  punch_stun_message_add_fingerprint (b);

  g_assert_true (punch_stun_message_parse (b->data, b->len, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (m.txid, 12, txid, 12);
  g_assert_true (punch_stun_address_equal (&m.xor_mapped, &mapped));
  g_assert_true (punch_stun_address_equal (&m.mapped, &v6));
  g_assert_true (punch_stun_address_equal (&m.other_address, &other));
  g_assert_true (punch_stun_address_equal (&m.response_origin, &origin));
  g_assert_false (punch_stun_address_equal (&m.other_address, &origin));
  g_assert_true (punch_stun_address_same_ip (&m.response_origin, &origin));
  g_assert_cmphex (m.change_request, ==, 0x6);
  g_assert_true (punch_stun_message_check_integrity (b->data, &m, (const guint8 *)"secret", 6));

  /* an error response */
  g_clear_pointer (&b, g_byte_array_unref);
  b = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_ERROR, txid);
  punch_stun_message_add (b, PUNCH_STUN_ATTR_ERROR_CODE, "\x00\x00\x04\x14Unknown", 11);
  g_assert_true (punch_stun_message_parse (b->data, b->len, &m, &error));
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_ERROR);
  g_assert_cmpuint (m.error_code, ==, 420);
  g_assert_true (bytes_equal (&m.reason, "Unknown"));

  /* IPv6 XOR-MAPPED-ADDRESS round trip, which also XORs with the txid */
  g_clear_pointer (&b, g_byte_array_unref);
  b = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_SUCCESS, rfc5769_txid);
  g_assert_true (punch_stun_address_parse ("[2001:db8:1234:5678:11:2233:4455:6677]:32853", &v6));
  punch_stun_message_add_address (b, PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS, &v6, TRUE);
  g_assert_cmpmem (b->data + 20, 24, rfc5769_response_v6 + 36, 24);
}

static void
test_rfc3489 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *software = NULL;
  PunchStunMessage m;

  g_assert_true (punch_stun_message_parse (stund_response, sizeof stund_response, &m, &error));
  g_assert_no_error (error);
  g_assert_false (m.classic);
  g_assert_cmpuint (m.klass, ==, PUNCH_STUN_CLASS_SUCCESS);
  g_assert_cmpuint (m.method, ==, PUNCH_STUN_METHOD_BINDING);
  g_assert_true (m.present & PUNCH_STUN_HAS_MAPPED);
  assert_address (&m.mapped, "127.0.0.1:43112");
  g_assert_true (m.present & PUNCH_STUN_HAS_XOR_MAPPED);
  assert_address (&m.xor_mapped, "127.0.0.1:43112");
  g_assert_true (m.present & PUNCH_STUN_HAS_SOURCE_ADDRESS);
  assert_address (&m.source_address, "127.0.0.1:3478");
  g_assert_true (m.present & PUNCH_STUN_HAS_CHANGED_ADDRESS);
  assert_address (&m.changed_address, "127.0.0.2:3479");
  g_assert_false (m.present & PUNCH_STUN_HAS_OTHER_ADDRESS);
  g_assert_cmpuint (m.n_unknown_required, ==, 0);
  /* the padding NUL is counted in the length: not part of the text */
  g_assert_cmpuint (m.software.len, ==, 16);
  software = punch_stun_bytes_to_text (&m.software, 128);
  g_assert_cmpstr (software, ==, "Vovida.org 0.97");
}

static void
test_rfc3489_classic (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  /* no magic cookie: not STUN for the default parser */
  g_assert_false (
      punch_stun_message_parse (stund_classic_response, sizeof stund_classic_response, &m, &error));
  g_assert_cmpstr (punch_stun_reject_reason (error), ==, PUNCH_STUN_REJECT_NOT_STUN);
  g_clear_error (&error);

  g_assert_true (punch_stun_message_parse_full (
      stund_classic_response, sizeof stund_classic_response, PUNCH_STUN_PARSE_RFC3489, &m, &error));
  g_assert_no_error (error);
  g_assert_true (m.classic);
  g_assert_cmphex (m.cookie, ==, 0x01020304);
  assert_address (&m.mapped, "127.0.0.1:44854");
  /* XOR-MAPPED-ADDRESS means nothing without the cookie: ignored */
  g_assert_false (m.present & PUNCH_STUN_HAS_XOR_MAPPED);
  assert_address (&m.changed_address, "127.0.0.2:3479");
  assert_address (&m.source_address, "127.0.0.1:3478");
}

static void
test_text_attribute (Fixture *f, gconstpointer data)
{
  static const guint8 nul_padded[] = { 'a', 'b', 0, 0 };
  static const guint8 invalid[] = { 'a', 0xff, 'b' };
  static const guint8 long_text[] = { 'x', 'x', 'x', 'x', 'x', 'x' };
  PunchStunBytes b;
  g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;

  b = (PunchStunBytes){ nul_padded, sizeof nul_padded };
  t1 = punch_stun_bytes_to_text (&b, 128);
  g_assert_cmpstr (t1, ==, "ab");
  b = (PunchStunBytes){ invalid, sizeof invalid };
  t2 = punch_stun_bytes_to_text (&b, 128);
  g_assert_cmpstr (t2, ==, "a\uFFFDb");
  b = (PunchStunBytes){ long_text, sizeof long_text };
  t3 = punch_stun_bytes_to_text (&b, 4);
  g_assert_cmpstr (t3, ==, "xxxx");
  b = (PunchStunBytes){ nul_padded + 2, 2 };
  t4 = punch_stun_bytes_to_text (&b, 128);
  g_assert_cmpstr (t4, ==, "");
}

/* RFC 8489 section 6.2.2: over TCP, messages back to back, framed by their headers */
static void
test_stream_frame (Fixture *f, gconstpointer data)
{
  gsize a = sizeof rfc5769_response_v4, b = sizeof rfc5769_request;
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;

  /* two messages on the stream, arriving a byte at a time */
  memcpy (f->buf, rfc5769_response_v4, a);
  memcpy (f->buf + a, rfc5769_request, b);
  for (gsize have = 0; have < a; have++)
    {
      g_assert_cmpint (punch_stun_stream_frame (f->buf, have, &error), ==, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpint (punch_stun_stream_frame (f->buf, a, &error), ==, a);
  g_assert_cmpint (punch_stun_stream_frame (f->buf, a + b, &error), ==, a);
  g_assert_true (punch_stun_message_parse (f->buf, a, &m, &error));
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_SUCCESS);
  g_assert_cmpint (punch_stun_stream_frame (f->buf + a, b - 1, &error), ==, 0);
  g_assert_cmpint (punch_stun_stream_frame (f->buf + a, b, &error), ==, b);
  g_assert_true (punch_stun_message_parse (f->buf + a, b, &m, &error));
  g_assert_cmpint (m.klass, ==, PUNCH_STUN_CLASS_REQUEST);

  /* what is not STUN is refused as soon as it shows */
  memcpy (f->buf, "HTTP/1.1 400 Bad Request\r\n", 26);
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 1, &error), ==, -1);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_cmpstr (punch_stun_reject_reason (error), ==, PUNCH_STUN_REJECT_NOT_STUN);
  g_clear_error (&error);

  /* an RFC 3489 header (no magic cookie) cannot be framed safely on a stream */
  memcpy (f->buf, stund_classic_response, sizeof stund_classic_response);
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 7, &error), ==, 0);
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 8, &error), ==, -1);
  g_assert_cmpstr (punch_stun_reject_reason (error), ==, PUNCH_STUN_REJECT_NOT_STUN);
  g_clear_error (&error);

  /* a length that is not a multiple of 4, or past the largest message */
  memcpy (f->buf, rfc5769_request, b);
  f->buf[3] = 0x3a;
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 4, &error), ==, -1);
  g_assert_cmpstr (punch_stun_reject_reason (error), ==, PUNCH_STUN_REJECT_MALFORMED);
  g_clear_error (&error);
  f->buf[2] = 0x05;
  f->buf[3] = 0xdc; /* 1500 + 20 */
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 20, &error), ==, -1);
  g_assert_nonnull (strstr (error->message, "1520 bytes, more than 1500"));
  g_clear_error (&error);
  f->buf[2] = 0x05;
  f->buf[3] = 0xc8; /* 1480 + 20: the largest */
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 20, &error), ==, 0);
  g_assert_cmpint (punch_stun_stream_frame (f->buf, 1500, &error), ==, 1500);
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/stun/rfc5769/request", test_request);
  ADD ("/punch/stun/rfc5769/response-ipv4", test_response_v4);
  ADD ("/punch/stun/rfc5769/response-ipv6", test_response_v6);
  ADD ("/punch/stun/rfc5769/request-long-term", test_request_long_term);
  ADD ("/punch/stun/reject/tampered", test_tampered);
  ADD ("/punch/stun/reject/garbage", test_garbage);
  ADD ("/punch/stun/reject/after-integrity", test_order);
  ADD ("/punch/stun/build", test_build);
  ADD ("/punch/stun/rfc3489/stund", test_rfc3489);
  ADD ("/punch/stun/rfc3489/classic", test_rfc3489_classic);
  ADD ("/punch/stun/text-attribute", test_text_attribute);
  ADD ("/punch/stun/stream-frame", test_stream_frame);
#undef ADD
  return g_test_run ();
}
