/* test-candidate.c: RFC 8839 candidate lines and descriptions
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <nice/agent.h>
#include <punch.h>

static const char *const round_trips[] = {
  "candidate:1 1 UDP 2130706431 10.0.1.2 54321 typ host",
  "candidate:2 1 UDP 1694498815 203.0.113.101 40000 typ srflx raddr 10.0.1.2 rport 54321",
  "candidate:3 1 UDP 16777215 203.0.113.10 49152 typ relay raddr 203.0.113.101 rport 40000",
  "candidate:4 1 UDP 1862270975 198.51.100.9 6000 typ prflx raddr 10.0.0.1 rport 6000",
  "candidate:abc+/XYZ 1 UDP 2130706431 2001:db8::5 9 typ host",
  "candidate:5 1 TCP 2105458943 10.0.1.2 9 typ host tcptype active",
  "candidate:6 2 TCP 2105458942 10.0.1.2 44444 typ host tcptype passive",
  "candidate:7 256 UDP 4294967295 127.0.0.1 65535 typ host",
  /* RFC 6544: a NAT's TCP mapping, for simultaneous open, and the other two tcptypes */
  "candidate:8 1 TCP 851443967 203.0.113.101 40000 typ srflx raddr 10.0.1.2 rport 40000 "
  "tcptype so",
  "candidate:9 1 TCP 847249663 203.0.113.101 9 typ srflx raddr 10.0.1.2 rport 9 tcptype active",
  "candidate:10 1 TCP 843055359 203.0.113.101 40001 typ srflx raddr 10.0.1.2 rport 40001 "
  "tcptype passive",
  "candidate:11 1 TCP 1015023359 2001:db8::5 40000 typ host tcptype so",
};

static void
test_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (round_trips); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchCandidate) c = punch_candidate_parse (round_trips[i], &error);
      g_autofree char *text = NULL;
      g_autofree char *with_a = g_strconcat ("a=", round_trips[i], NULL);
      g_autoptr (PunchCandidate) c2 = NULL;

      g_assert_no_error (error);
      text = punch_candidate_to_string (c);
      g_assert_cmpstr (text, ==, round_trips[i]);
      c2 = punch_candidate_parse (with_a, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (c2->address, ==, c->address);
    }
}

static void
test_fields (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchCandidate) c = punch_candidate_parse (
      "candidate:842163049 1 udp 1677729535 203.0.113.101 61665 typ srflx raddr 10.0.1.2 "
      "rport 61665 generation 0 ufrag EsAw network-cost 999",
      &error);

  g_assert_no_error (error);
  g_assert_cmpstr (c->foundation, ==, "842163049");
  g_assert_cmpuint (c->component, ==, 1);
  g_assert_cmpint (c->transport, ==, PUNCH_TRANSPORT_UDP);
  g_assert_cmpuint (c->priority, ==, 1677729535);
  g_assert_cmpstr (c->address, ==, "203.0.113.101");
  g_assert_cmpuint (c->port, ==, 61665);
  g_assert_cmpint (c->type, ==, PUNCH_CANDIDATE_SRFLX);
  g_assert_cmpstr (c->related_address, ==, "10.0.1.2");
  g_assert_cmpuint (c->related_port, ==, 61665);
}

static void
test_tcp (void)
{
  static const struct
  {
    const char *in, *out;
    PunchTcpType tcp_type;
  } cases[] = {
    /* the draft transports libnice still reads become TCP + tcptype */
    { "candidate:1 1 TCP-SO 1 203.0.113.5 4000 typ srflx raddr 10.0.0.1 rport 4000",
      "candidate:1 1 TCP 1 203.0.113.5 4000 typ srflx raddr 10.0.0.1 rport 4000 tcptype so",
      PUNCH_TCP_TYPE_SO },
    { "candidate:1 1 tcp-act 1 10.0.0.1 9 typ host",
      "candidate:1 1 TCP 1 10.0.0.1 9 typ host "
      "tcptype active",
      PUNCH_TCP_TYPE_ACTIVE },
    { "candidate:1 1 TCP-PASS 1 10.0.0.1 5 typ host tcptype passive",
      "candidate:1 1 TCP 1 10.0.0.1 5 typ host tcptype passive", PUNCH_TCP_TYPE_PASSIVE },
    /* an active candidate's port 0 is written as the discard port, 9 (RFC 6544 4.5) */
    { "candidate:1 1 TCP 1 10.0.0.1 0 typ srflx raddr 10.0.0.2 rport 0 tcptype active",
      "candidate:1 1 TCP 1 10.0.0.1 9 typ srflx raddr 10.0.0.2 rport 9 tcptype active",
      PUNCH_TCP_TYPE_ACTIVE },
    /* tcptype before raddr, lower case transport, other attributes ignored */
    { "candidate:1 1 tcp 1 10.0.0.1 5 typ srflx tcptype so generation 0 raddr 10.0.0.2 rport 6",
      "candidate:1 1 TCP 1 10.0.0.1 5 typ srflx raddr 10.0.0.2 rport 6 tcptype so",
      PUNCH_TCP_TYPE_SO },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchCandidate) c = punch_candidate_parse (cases[i].in, &error);
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      g_assert_cmpint (c->transport, ==, PUNCH_TRANSPORT_TCP);
      g_assert_cmpint (c->tcp_type, ==, cases[i].tcp_type);
      text = punch_candidate_to_string (c);
      g_assert_cmpstr (text, ==, cases[i].out);
    }
  g_assert_cmpstr (punch_tcp_type_to_string (PUNCH_TCP_TYPE_SO), ==, "so");
  g_assert_cmpstr (punch_tcp_type_to_string (PUNCH_TCP_TYPE_ACTIVE), ==, "active");
  g_assert_cmpstr (punch_tcp_type_to_string (PUNCH_TCP_TYPE_PASSIVE), ==, "passive");
  g_assert_cmpstr (punch_tcp_type_to_string (PUNCH_TCP_TYPE_NONE), ==, "none");
}

static void
test_priority (void)
{
  guint32 udp_host = punch_candidate_priority (PUNCH_CANDIDATE_HOST, PUNCH_TRANSPORT_UDP,
                                               PUNCH_TCP_TYPE_NONE, 0, 1);
  guint32 udp_srflx = punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_UDP,
                                                PUNCH_TCP_TYPE_NONE, 0, 1);
  guint32 udp_relay = punch_candidate_priority (PUNCH_CANDIDATE_RELAY, PUNCH_TRANSPORT_UDP,
                                                PUNCH_TCP_TYPE_NONE, 0, 1);
  guint32 so = punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                         PUNCH_TCP_TYPE_SO, 0, 1);
  guint32 act = punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                          PUNCH_TCP_TYPE_ACTIVE, 0, 1);
  guint32 pass = punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                           PUNCH_TCP_TYPE_PASSIVE, 0, 1);
  guint32 host_act = punch_candidate_priority (PUNCH_CANDIDATE_HOST, PUNCH_TRANSPORT_TCP,
                                               PUNCH_TCP_TYPE_ACTIVE, 0, 1);
  guint32 host_so = punch_candidate_priority (PUNCH_CANDIDATE_HOST, PUNCH_TRANSPORT_TCP,
                                              PUNCH_TCP_TYPE_SO, 0, 1);

  /* the formula, worked by hand: srflx TCP so = 50 << 24 | (6 << 13) << 8 | 255 */
  g_assert_cmpuint (so, ==, (50u << 24) + ((6u << 13) << 8) + 255);
  g_assert_cmpuint (so, ==, 851443967u);
  g_assert_cmpuint (act, ==, 847249663u);
  g_assert_cmpuint (pass, ==, 843055359u);
  g_assert_cmpuint (udp_host, ==, (126u << 24) + ((7u << 13) << 8) + 255);
  /* UDP first, then a punched TCP path, then any relay */
  g_assert_cmpuint (udp_srflx, >, so);
  g_assert_cmpuint (so, >, act);
  g_assert_cmpuint (act, >, pass);
  g_assert_cmpuint (so, >, udp_relay);
  g_assert_cmpuint (host_act, >, host_so);
  /* the component and the other preference break ties */
  g_assert_cmpuint (punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                              PUNCH_TCP_TYPE_SO, 1, 1),
                    ==, so + 256);
  g_assert_cmpuint (punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                              PUNCH_TCP_TYPE_SO, 0, 2),
                    ==, so - 1);
}

/* libnice 0.1.21 reads what punch writes and punch reads what libnice writes */
static void
test_libnice_interop (void)
{
  g_autoptr (GObject) agent_obj = G_OBJECT (nice_agent_new (NULL, NICE_COMPATIBILITY_RFC5245));
  NiceAgent *agent = NICE_AGENT (agent_obj);
  static const struct
  {
    NiceCandidateType type;
    NiceCandidateTransport transport;
    const char *addr, *base;
    guint16 port, base_port;
    PunchCandidateType punch_type;
    PunchTcpType tcp_type;
  } cases[] = {
    { NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE, NICE_CANDIDATE_TRANSPORT_TCP_SO, "203.0.113.101",
      "10.0.1.2", 40000, 40000, PUNCH_CANDIDATE_SRFLX, PUNCH_TCP_TYPE_SO },
    { NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE, NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE, "203.0.113.101",
      "10.0.1.2", 0, 0, PUNCH_CANDIDATE_SRFLX, PUNCH_TCP_TYPE_ACTIVE },
    { NICE_CANDIDATE_TYPE_HOST, NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE, "10.0.1.2", NULL, 5000, 0,
      PUNCH_CANDIDATE_HOST, PUNCH_TCP_TYPE_PASSIVE },
    { NICE_CANDIDATE_TYPE_HOST, NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE, "2001:db8::7", NULL, 0, 0,
      PUNCH_CANDIDATE_HOST, PUNCH_TCP_TYPE_ACTIVE },
    { NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE, NICE_CANDIDATE_TRANSPORT_UDP, "203.0.113.101",
      "10.0.1.2", 41000, 41001, PUNCH_CANDIDATE_SRFLX, PUNCH_TCP_TYPE_NONE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      NiceCandidate *nc = nice_candidate_new (cases[i].type);
      g_autoptr (GError) error = NULL;
      g_autofree char *nice_line = NULL;
      g_autoptr (PunchCandidate) c = NULL;
      g_autofree char *ours = NULL;
      g_autofree char *ours_a = NULL;
      NiceCandidate *back;
      char buf[NICE_ADDRESS_STRING_LEN];
      /* an active candidate's port means nothing; both sides write it as 9 */
      guint16 port = cases[i].port ? cases[i].port : 9;

      nc->transport = cases[i].transport;
      nc->component_id = 1;
      nc->priority = punch_candidate_priority (
          cases[i].punch_type,
          cases[i].tcp_type == PUNCH_TCP_TYPE_NONE ? PUNCH_TRANSPORT_UDP : PUNCH_TRANSPORT_TCP,
          cases[i].tcp_type, 0, 1);
      g_strlcpy (nc->foundation, "7", sizeof nc->foundation);
      g_assert_true (nice_address_set_from_string (&nc->addr, cases[i].addr));
      nice_address_set_port (&nc->addr, cases[i].port);
      if (cases[i].base)
        {
          g_assert_true (nice_address_set_from_string (&nc->base_addr, cases[i].base));
          nice_address_set_port (&nc->base_addr, cases[i].base_port);
        }

      /* libnice -> punch */
      nice_line = nice_agent_generate_local_candidate_sdp (agent, nc);
      c = punch_candidate_parse (nice_line, &error);
      g_assert_no_error (error);
      g_assert_cmpint (c->type, ==, cases[i].punch_type);
      g_assert_cmpint (c->tcp_type, ==, cases[i].tcp_type);
      g_assert_cmpstr (c->address, ==, cases[i].addr);
      g_assert_cmpuint (c->port, ==, port);
      g_assert_cmpuint (c->priority, ==, nc->priority);
      g_assert_cmpstr (c->related_address, ==, cases[i].base);
      if (cases[i].base)
        g_assert_cmpuint (c->related_port, ==, cases[i].base_port ? cases[i].base_port : 9);
      /* punch writes the same line libnice writes */
      ours = punch_candidate_to_string (c);
      ours_a = g_strconcat ("a=", ours, NULL);
      g_assert_cmpstr (ours_a, ==, nice_line);

      /* punch -> libnice */
      back = nice_agent_parse_remote_candidate_sdp (agent, 1, ours_a);
      g_assert_nonnull (back);
      g_assert_cmpint (back->type, ==, cases[i].type);
      g_assert_cmpint (back->transport, ==, cases[i].transport);
      nice_address_to_string (&back->addr, buf);
      g_assert_cmpstr (buf, ==, cases[i].addr);
      g_assert_cmpuint (nice_address_get_port (&back->addr), ==, port);
      g_assert_cmpuint (back->priority, ==, nc->priority);
      if (cases[i].base)
        {
          nice_address_to_string (&back->base_addr, buf);
          g_assert_cmpstr (buf, ==, cases[i].base);
        }
      nice_candidate_free (back);
      nice_candidate_free (nc);
    }
}

typedef struct
{
  const char *line;
  const char *message_part;
} Bad;

static const Bad bad[] = {
  { "", "must start with" },
  { "foo", "must start with" },
  { "candidate:", "fields" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ", "fields" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 type host", "expected \"typ\"" },
  { "candidate:1  1 UDP 1 10.0.0.1 1 typ host", "empty field" },
  { "candidate:1\t1 UDP 1 10.0.0.1 1 typ host", "control characters" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ host\r\n", "control characters" },
  { "candidate:1-2 1 UDP 1 10.0.0.1 1 typ host", "foundation" },
  { "candidate:123456789012345678901234567890123 1 UDP 1 10.0.0.1 1 typ host", "longer than 32" },
  { "candidate:1 0 UDP 1 10.0.0.1 1 typ host", "component" },
  { "candidate:1 257 UDP 1 10.0.0.1 1 typ host", "component" },
  { "candidate:1 1 SCTP 1 10.0.0.1 1 typ host", "unknown transport \"SCTP\"" },
  { "candidate:1 1 UDP 4294967296 10.0.0.1 1 typ host", "priority" },
  { "candidate:1 1 UDP -1 10.0.0.1 1 typ host", "priority" },
  { "candidate:1 1 UDP 1 10.0.0.256 1 typ host", "not an IPv4 or IPv6" },
  { "candidate:1 1 UDP 1 host.example 1 typ host", "not an IPv4 or IPv6" },
  { "candidate:1 1 UDP 1 4f3c2a.local 1 typ host", "mDNS" },
  { "candidate:1 1 UDP 1 10.0.0.1 65536 typ host", "port" },
  { "candidate:1 1 UDP 1 10.0.0.1 0 typ host", "port 0" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ bogus", "unknown candidate type" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx raddr", "has no value" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx raddr nope rport 1", "raddr" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2 rport x", "rport" },
  { "candidate:1 1 TCP 1 10.0.0.1 1 typ host", "needs a tcptype" },
  { "candidate:1 1 TCP 1 10.0.0.1 1 typ host tcptype sideways", "unknown tcptype" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ host tcptype active", "only for TCP" },
  { "candidate:1 1 TCP 1 10.0.0.1 1 typ host tcptype so tcptype passive", "contradicts" },
  { "candidate:1 1 TCP-SO 1 10.0.0.1 1 typ host tcptype active", "contradicts the earlier so" },
  { "candidate:1 1 TCP 1 10.0.0.1 0 typ srflx tcptype so", "port 0" },
  { "candidate:1 1 TCP-FOO 1 10.0.0.1 1 typ host", "unknown transport" },
  { "candidate:1 1 UDP 1 10.0.0.1 1 typ host \xff\xfe", "UTF-8" },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchCandidate) c = punch_candidate_parse (bad[i].line, &error);

      g_assert_null (c);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, "malformed candidate: "));
      if (strstr (error->message, bad[i].message_part) == NULL)
        g_error ("\"%s\": message \"%s\" lacks \"%s\"", bad[i].line, error->message,
                 bad[i].message_part);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *huge = g_strnfill (5000, 'a');
    g_autofree char *line = g_strconcat ("candidate:", huge, NULL);
    g_assert_null (punch_candidate_parse (line, &error));
    g_assert_nonnull (strstr (error->message, "longer than"));
  }
}

static PunchDescription *
make_description (void)
{
  PunchDescription *d = punch_description_new ("F7gI", "x9cml/YzichV2+XlhiMu8g");

  for (gsize i = 0; i < 3; i++)
    g_ptr_array_add (d->candidates, punch_candidate_parse (round_trips[i], NULL));
  d->end_of_candidates = TRUE;
  return d;
}

static void
assert_same (const PunchDescription *a, const PunchDescription *b)
{
  g_assert_cmpstr (a->ufrag, ==, b->ufrag);
  g_assert_cmpstr (a->pwd, ==, b->pwd);
  g_assert_cmpuint (a->candidates->len, ==, b->candidates->len);
  g_assert_cmpint (a->end_of_candidates, ==, b->end_of_candidates);
  g_assert_cmpstr (a->fingerprint, ==, b->fingerprint);
  for (guint i = 0; i < a->candidates->len; i++)
    {
      g_autofree char *x = punch_candidate_to_string (a->candidates->pdata[i]);
      g_autofree char *y = punch_candidate_to_string (b->candidates->pdata[i]);
      g_assert_cmpstr (x, ==, y);
    }
}

static void
test_description_round_trip (void)
{
  g_autoptr (PunchDescription) d = make_description ();
  g_autoptr (GError) error = NULL;
  g_autofree char *sdp = punch_description_to_sdp (d);
  g_autoptr (PunchDescription) from_sdp = punch_description_parse_sdp (sdp, &error);
  g_autoptr (GVariant) v = NULL;
  g_autoptr (PunchDescription) from_variant = NULL;
  g_autofree char *printed = NULL;
  g_autoptr (GVariant) reparsed = NULL;
  g_autoptr (PunchDescription) from_text = NULL;

  g_assert_no_error (error);
  assert_same (d, from_sdp);
  g_assert_true (g_str_has_suffix (sdp, "a=end-of-candidates\r\n"));

  v = punch_description_to_variant (d);
  from_variant = punch_description_from_variant (v, &error);
  g_assert_no_error (error);
  assert_same (d, from_variant);

  /* through GVariant's text form, as a signaling channel might carry it */
  printed = g_variant_print (v, TRUE);
  reparsed = g_variant_parse (NULL, printed, NULL, NULL, &error);
  g_assert_no_error (error);
  from_text = punch_description_from_variant (reparsed, &error);
  g_assert_no_error (error);
  assert_same (d, from_text);
}

#define FP_CANON                                                                           \
  "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:C2:0C:57:" \
  "0E:88:CE:2C:4C:3A"
#define FP_LOWER "SHA-256 4aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a"

static void
test_description_fingerprint (void)
{
  g_autoptr (PunchDescription) d = make_description ();
  g_autoptr (PunchDescription) copy = NULL;
  g_autoptr (PunchDescription) plain = NULL;
  g_autoptr (PunchDescription) from_sdp = NULL;
  g_autoptr (PunchDescription) from_variant = NULL;
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *sdp = NULL;
  g_autofree char *plain_sdp = NULL;

  /* absent: no line, no key, NULL after parsing */
  plain_sdp = punch_description_to_sdp (d);
  g_assert_null (strstr (plain_sdp, "fingerprint"));
  v = punch_description_to_variant (d);
  g_assert_false (g_variant_lookup (v, "fingerprint", "&s", NULL));
  g_clear_pointer (&v, g_variant_unref);
  plain = punch_description_parse_sdp (plain_sdp, &error);
  g_assert_no_error (error);
  g_assert_null (plain->fingerprint);

  d->fingerprint = g_strdup (FP_CANON);
  copy = punch_description_copy (d);
  g_assert_cmpstr (copy->fingerprint, ==, FP_CANON);

  sdp = punch_description_to_sdp (d);
  g_assert_nonnull (strstr (sdp, "\r\na=fingerprint:" FP_CANON "\r\n"));
  from_sdp = punch_description_parse_sdp (sdp, &error);
  g_assert_no_error (error);
  assert_same (d, from_sdp);

  v = punch_description_to_variant (d);
  from_variant = punch_description_from_variant (v, &error);
  g_assert_no_error (error);
  assert_same (d, from_variant);

  /* another form on the wire is stored canonical, from both parsers */
  {
    g_autoptr (PunchDescription) x = punch_description_parse_sdp (
        "a=ice-ufrag:abcd\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=fingerprint:" FP_LOWER "\r\n",
        &error);
    g_autoptr (GVariant) vv = g_variant_parse (
        G_VARIANT_TYPE_VARDICT,
        "{'ufrag': <'abcd'>, 'pwd': <'x9cml/YzichV2+XlhiMu8g'>, 'fingerprint': <'" FP_LOWER "'>}",
        NULL, NULL, NULL);
    g_autoptr (PunchDescription) y = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (x->fingerprint, ==, FP_CANON);
    y = punch_description_from_variant (vv, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (y->fingerprint, ==, FP_CANON);
  }
}

static void
test_description_fingerprint_bad (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchDescription) d = NULL;

  d = punch_description_parse_sdp ("a=ice-ufrag:abcd\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
                                   "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:"
                                   "49:6B:19:E5:7C:AB\r\n",
                                   &error);
  g_assert_null (d);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "line 3: invalid fingerprint: the algorithm is \"sha-1\"; punch uses sha-256 "
                   "only");
  g_clear_error (&error);

  d = punch_description_parse_sdp ("a=ice-ufrag:abcd\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
                                   "a=fingerprint:" FP_CANON "\r\na=fingerprint:" FP_CANON "\r\n",
                                   &error);
  g_assert_null (d);
  g_assert_true (g_str_has_prefix (error->message, "line 4: a second a=fingerprint line"));
  g_clear_error (&error);

  d = punch_description_parse_sdp ("a=ice-ufrag:abcd\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
                                   "a=fingerprint:sha-256 4A:AD\r\n",
                                   &error);
  g_assert_null (d);
  g_assert_true (g_str_has_prefix (error->message, "line 3: invalid fingerprint: 2 bytes"));
  g_clear_error (&error);

  {
    g_autoptr (GVariant) v = g_variant_parse (
        G_VARIANT_TYPE_VARDICT,
        "{'ufrag': <'abcd'>, 'pwd': <'x9cml/YzichV2+XlhiMu8g'>, 'fingerprint': <'sha-256 zz'>}",
        NULL, NULL, NULL);
    d = punch_description_from_variant (v, &error);
    g_assert_null (d);
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "bad character 'z' at position 9"));
    g_clear_error (&error);
  }
  {
    g_autoptr (GVariant) v = g_variant_parse (
        G_VARIANT_TYPE_VARDICT,
        "{'ufrag': <'abcd'>, 'pwd': <'x9cml/YzichV2+XlhiMu8g'>, 'fingerprint': <42>}", NULL, NULL,
        NULL);
    d = punch_description_from_variant (v, &error);
    g_assert_null (d);
    g_assert_nonnull (strstr (error->message, "\"fingerprint\" must be a string"));
    g_clear_error (&error);
  }
}

static void
test_description_bad (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchDescription) d = NULL;

  d = punch_description_parse_sdp ("a=ice-ufrag:abc\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n",
                                   &error);
  g_assert_null (d);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "username fragment"));
  g_clear_error (&error);

  d = punch_description_parse_sdp ("a=ice-ufrag:abcd\r\na=ice-pwd:short\r\n", &error);
  g_assert_null (d);
  g_assert_nonnull (strstr (error->message, "ICE password"));
  g_clear_error (&error);

  d = punch_description_parse_sdp ("a=ice-ufrag:abcd\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
                                   "a=candidate:1 1 UDP 1 10.0.0.1 1 typ nope\r\n",
                                   &error);
  g_assert_null (d);
  g_assert_true (g_str_has_prefix (error->message, "line 3: malformed candidate"));
  g_clear_error (&error);

  {
    g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_string ("nope"));
    d = punch_description_from_variant (v, &error);
    g_assert_null (d);
    g_assert_nonnull (strstr (error->message, "dictionary"));
    g_clear_error (&error);
  }
  {
    g_autoptr (GVariant) v = g_variant_parse (
        G_VARIANT_TYPE_VARDICT,
        "{'ufrag': <'abcd'>, 'pwd': <'x9cml/YzichV2+XlhiMu8g'>, 'candidates': <[1, 2]>}", NULL,
        NULL, NULL);
    d = punch_description_from_variant (v, &error);
    g_assert_null (d);
    g_assert_nonnull (strstr (error->message, "array of candidate strings"));
    g_clear_error (&error);
  }
  g_assert_false (punch_ice_credentials_validate ("ab d", "x9cml/YzichV2+XlhiMu8g", &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch/candidate/round-trip", test_round_trip);
  g_test_add_func ("/punch/candidate/fields", test_fields);
  g_test_add_func ("/punch/candidate/bad", test_bad);
  g_test_add_func ("/punch/candidate/tcp", test_tcp);
  g_test_add_func ("/punch/candidate/priority", test_priority);
  g_test_add_func ("/punch/candidate/libnice-interop", test_libnice_interop);
  g_test_add_func ("/punch/description/round-trip", test_description_round_trip);
  g_test_add_func ("/punch/description/bad", test_description_bad);
  g_test_add_func ("/punch/description/fingerprint", test_description_fingerprint);
  g_test_add_func ("/punch/description/fingerprint-bad", test_description_fingerprint_bad);
  return g_test_run ();
}
