/* fuzz-stun.c: libFuzzer target for punch's STUN codec
 *
 * Every input must either parse or be rejected with a reason, never crash or
 * read out of bounds. What parses is checked for consistency: the addresses
 * print, MESSAGE-INTEGRITY can be checked, and a message rebuilt from the
 * decoded addresses parses again to the same addresses. RFC 3489 parsing
 * (no magic cookie) and the text attributes are exercised too.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include "punch-stun.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_address (GByteArray *b, guint16 type, const PunchStunAddress *a, gboolean xor)
{
  g_autofree char *text = punch_stun_address_to_string (a);
  PunchStunAddress back;

  g_assert_true (punch_stun_address_parse (text, &back));
  g_assert_true (punch_stun_address_equal (a, &back));
  punch_stun_message_add_address (b, type, a, xor);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  PunchStunMessage m, again;
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) b = NULL;

  if (size > PUNCH_STUN_MAX_SIZE * 2)
    return 0;
  if (punch_stun_message_parse_full (data, size, PUNCH_STUN_PARSE_RFC3489, &m, NULL))
    {
      g_autofree char *software = punch_stun_bytes_to_text (&m.software, 128);

      g_assert_true (g_utf8_validate (software, -1, NULL));
      g_assert_true (strlen (software) <= 128 * 3);
      if (m.classic)
        g_assert_false (m.present & PUNCH_STUN_HAS_XOR_MAPPED);
      if (m.present & PUNCH_STUN_HAS_CHANGED_ADDRESS)
        g_assert_true (m.changed_address.family == 4 || m.changed_address.family == 6);
    }
  if (!punch_stun_message_parse (data, size, &m, &error))
    {
      g_assert_nonnull (error);
      g_assert_nonnull (punch_stun_reject_reason (error));
      return 0;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (m.length, ==, size);
  (void)punch_stun_message_check_integrity (data, &m, (const guint8 *)"key", 3);
  if (m.present & PUNCH_STUN_HAS_ERROR_CODE)
    g_assert_true (m.error_code >= 300 && m.error_code <= 699);
  g_assert_true (m.reason.len == 0 || m.reason.data + m.reason.len <= data + size);
  g_assert_true (m.software.len == 0 || m.software.data + m.software.len <= data + size);

  b = punch_stun_message_new (m.method, m.klass, m.txid);
  if (m.present & PUNCH_STUN_HAS_XOR_MAPPED)
    check_address (b, PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS, &m.xor_mapped, TRUE);
  if (m.present & PUNCH_STUN_HAS_OTHER_ADDRESS)
    check_address (b, PUNCH_STUN_ATTR_OTHER_ADDRESS, &m.other_address, FALSE);
  punch_stun_message_add_fingerprint (b);
  g_assert_true (punch_stun_message_parse (b->data, b->len, &again, NULL));
  g_assert_cmpuint (again.method, ==, m.method);
  g_assert_cmpint (again.klass, ==, m.klass);
  if (m.present & PUNCH_STUN_HAS_XOR_MAPPED)
    g_assert_true (punch_stun_address_equal (&again.xor_mapped, &m.xor_mapped));
  if (m.present & PUNCH_STUN_HAS_OTHER_ADDRESS)
    g_assert_true (punch_stun_address_equal (&again.other_address, &m.other_address));
  return 0;
}
