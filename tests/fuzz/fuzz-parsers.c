/* fuzz-parsers.c: libFuzzer target for libpunch's pure parsers
 *
 * The first byte picks the parser (candidate, ICE server URI, SDP, variant, fingerprint,
 * known-peers file); the rest is its input. Candidates include RFC 6544 TCP lines
 * (tcptype active/passive/so, the draft TCP-SO/TCP-ACT/TCP-PASS transports). Every parser must
 * either return a value or set a GError, never crash, and what parses must
 * print back to something that parses again to the same thing.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>
#include "punch-identity-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_candidate (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchCandidate) c = punch_candidate_parse (text, &error);

  g_assert ((c == NULL) == (error != NULL));
  if (c)
    {
      g_autofree char *printed = punch_candidate_to_string (c);
      const char *tcptype = strstr (printed, " tcptype ");

      /* RFC 6544: every TCP candidate, and only TCP ones, has exactly one tcptype, and only
       * an active one may have port 0 (written 9) */
      g_assert_cmpint (c->transport == PUNCH_TRANSPORT_TCP, ==, c->tcp_type != PUNCH_TCP_TYPE_NONE);
      g_assert_cmpint (tcptype != NULL, ==, c->transport == PUNCH_TRANSPORT_TCP);
      if (tcptype)
        {
          g_assert_null (strstr (tcptype + 1, " tcptype "));
          g_assert_cmpstr (tcptype + strlen (" tcptype "), ==,
                           punch_tcp_type_to_string (c->tcp_type));
        }
      if (c->port == 0)
        g_assert_cmpint (c->tcp_type, ==, PUNCH_TCP_TYPE_ACTIVE);
      g_autoptr (PunchCandidate) again = punch_candidate_parse (printed, &error);
      g_autofree char *printed2 = NULL;
      g_assert_no_error (error);
      printed2 = punch_candidate_to_string (again);
      g_assert_cmpstr (printed, ==, printed2);
    }
}

static void
check_uri (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIceServer) s = punch_ice_server_parse (text, "u", "p", &error);

  g_assert ((s == NULL) == (error != NULL));
  if (s)
    {
      g_autofree char *uri = punch_ice_server_to_uri (s);
      g_autoptr (PunchIceServer) again = punch_ice_server_parse (uri, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again->host, ==, s->host);
      g_assert_cmpuint (again->port, ==, s->port);
    }
}

static void
check_sdp (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchDescription) d = punch_description_parse_sdp (text, &error);

  g_assert ((d == NULL) == (error != NULL));
  if (d)
    {
      g_autofree char *sdp = punch_description_to_sdp (d);
      g_autoptr (PunchDescription) again = punch_description_parse_sdp (sdp, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (again->candidates->len, ==, d->candidates->len);
      g_assert_cmpstr (again->fingerprint, ==, d->fingerprint);
    }
}

static void
check_variant (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) v = g_variant_parse (NULL, text, NULL, NULL, NULL);

  if (v)
    {
      g_autoptr (PunchDescription) d = punch_description_from_variant (v, &error);
      g_assert ((d == NULL) == (error != NULL));
      if (d)
        {
          g_autoptr (GVariant) printed = punch_description_to_variant (d);
          g_autoptr (PunchDescription) again = punch_description_from_variant (printed, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (again->fingerprint, ==, d->fingerprint);
        }
    }
}

/* What normalizes is canonical, normalizes to itself and equals its source. */
static void
check_fingerprint (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *fp = punch_fingerprint_normalize (text, &error);

  g_assert ((fp == NULL) == (error != NULL));
  if (fp)
    {
      g_autofree char *again = punch_fingerprint_normalize (fp, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again, ==, fp);
      g_assert_cmpuint (strlen (fp), ==, strlen ("sha-256 ") + 32 * 3 - 1);
      g_assert_true (punch_fingerprint_equal (text, fp));
    }
  else
    g_assert_false (punch_fingerprint_equal (text, text));
}

static void
check_known_peers (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) peers = punch_known_peers_parse ((const char *)data, size, "fuzz", &error);

  g_assert ((peers == NULL) == (error != NULL));
  if (peers)
    for (guint i = 0; i < peers->len; i++)
      {
        g_autofree char *again = punch_fingerprint_normalize (peers->pdata[i], &error);
        g_assert_no_error (error);
        g_assert_cmpstr (again, ==, peers->pdata[i]);
      }
  else
    g_assert_true (g_str_has_prefix (error->message, "fuzz:"));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = NULL;

  if (size < 1 || size > 8192)
    return 0;
  text = g_strndup ((const char *)data + 1, size - 1);
  switch (data[0] % 6)
    {
    case 0: check_candidate (text); break;
    case 1: check_uri (text); break;
    case 2: check_sdp (text); break;
    case 3: check_variant (text); break;
    case 4: check_fingerprint (text); break;
    default: check_known_peers (data + 1, size - 1); break;
    }
  return 0;
}
