/* test-check-classify.c: the public NAT classifier on synthetic observations
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include "punch-check-classify.h"

typedef struct
{
  PunchCheckObservations obs;
  PunchCheckResult r;
} Fixture;

static PunchStunAddress
addr (const char *text)
{
  PunchStunAddress a;

  g_assert_true (punch_stun_address_parse (text, &a));
  return a;
}

static void
answer (PunchCheckProbe *p, const char *mapped, const char *source)
{
  p->status = PUNCH_CHECK_PROBE_ANSWERED;
  p->mapped = addr (mapped);
  p->source = addr (source);
  p->rtt_ms = 1.0;
}

static void
no_answer (PunchCheckProbe *p)
{
  p->status = PUNCH_CHECK_PROBE_TIMEOUT;
}

/* A host 10.0.1.2:5000 behind NAT 203.0.113.101, one RFC 5780 server at
 * 203.0.113.10:3478 whose other address is 203.0.113.11:3479. Mapping test
 * I answered; the rest is up to each test. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->obs.local = addr ("10.0.1.2:5000");
  answer (&f->obs.map1, "203.0.113.101:5000", "203.0.113.10:3478");
  f->obs.other = addr ("203.0.113.11:3479");
  f->obs.n_servers = 1;
  f->obs.servers[0] = f->obs.map1;
  f->obs.server_addr[0] = addr ("203.0.113.10:3478");
  answer (&f->obs.filt1, "203.0.113.101:5002", "203.0.113.10:3478");
  f->obs.n_port_samples = 3;
  for (guint i = 0; i < 3; i++)
    f->obs.port_local[i] = f->obs.port_mapped[i] = 5002 + 7 * i;
  no_answer (&f->obs.hairpin);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  punch_check_result_clear (&f->r);
}

static void
eim (Fixture *f)
{
  answer (&f->obs.map2, "203.0.113.101:5000", "203.0.113.11:3478");
  answer (&f->obs.map3, "203.0.113.101:5000", "203.0.113.11:3479");
}

static void
classify (Fixture *f)
{
  punch_check_result_clear (&f->r);
  punch_check_classify (&f->obs, &f->r);
  g_test_message ("mapping %s (%s): %s", punch_nat_behaviour_to_string (f->r.mapping),
                  punch_check_method_to_string (f->r.mapping_method), f->r.mapping_reason);
  g_test_message ("filtering %s: %s", punch_nat_behaviour_to_string (f->r.filtering),
                  f->r.filtering_reason);
  g_test_message ("verdict: %s", f->r.verdict);
}

#define assert_contains(s, sub) g_assert_nonnull (strstr ((s), (sub)))

static void
test_no_nat (Fixture *f, gconstpointer data)
{
  answer (&f->obs.map1, "10.0.1.2:5000", "203.0.113.10:3478");
  answer (&f->obs.filt2, "10.0.1.2:5002", "203.0.113.11:3479");
  f->obs.hairpin.status = PUNCH_CHECK_PROBE_ANSWERED;
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_NONE);
  assert_contains (f->r.mapping_reason, "no NAT");
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_NONE);
  g_assert_cmpint (f->r.hairpin, ==, PUNCH_HAIRPIN_NOT_APPLICABLE);
  for (int k = 0; k < PUNCH_PEER_UDP_BLOCKED; k++)
    g_assert_cmpint (f->r.paths[k], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_UDP_BLOCKED], ==, PUNCH_PATH_RELAY);
  assert_contains (f->r.exposure, "any host on the internet");
}

static void
test_full_cone (Fixture *f, gconstpointer data)
{
  eim (f);
  answer (&f->obs.filt2, "203.0.113.101:5002", "203.0.113.11:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.mapping_method, ==, PUNCH_CHECK_METHOD_RFC5780);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.filtering_method, ==, PUNCH_CHECK_METHOD_RFC5780);
  g_assert_cmpint (f->r.ports, ==, PUNCH_PORTS_PRESERVING);
  g_assert_cmpint (f->r.hairpin, ==, PUNCH_HAIRPIN_NO);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_SYMMETRIC], ==, PUNCH_PATH_DIRECT);
  assert_contains (f->r.exposure, "Any host that learns your public address and port");
}

static void
test_address_restricted (Fixture *f, gconstpointer data)
{
  eim (f);
  no_answer (&f->obs.filt2);
  answer (&f->obs.filt3, "203.0.113.101:5002", "203.0.113.10:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ADDRESS_DEPENDENT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_SYMMETRIC], ==, PUNCH_PATH_DIRECT);
  assert_contains (f->r.exposure, "Only hosts at an IP address");
}

/* An RFC 3489 server (CHANGED-ADDRESS as the other address): the same tests,
 * named after their standard. */
static void
test_rfc3489_server (Fixture *f, gconstpointer data)
{
  f->obs.other_rfc3489 = TRUE;
  eim (f);
  no_answer (&f->obs.filt2);
  answer (&f->obs.filt3, "203.0.113.101:5002", "203.0.113.10:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.mapping_method, ==, PUNCH_CHECK_METHOD_RFC3489);
  g_assert_cmpstr (punch_check_method_to_string (f->r.mapping_method), ==, "rfc3489");
  assert_contains (f->r.mapping_reason, "RFC 3489: the same public address");
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ADDRESS_DEPENDENT);
  g_assert_cmpint (f->r.filtering_method, ==, PUNCH_CHECK_METHOD_RFC3489);
  assert_contains (f->r.filtering_reason, "RFC 3489: no answer from the server's other address");
  g_assert_null (strstr (f->r.filtering_reason, "5780"));
}

static void
test_port_restricted (Fixture *f, gconstpointer data)
{
  eim (f);
  no_answer (&f->obs.filt2);
  no_answer (&f->obs.filt3);
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_PORT_RESTRICTED], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_SYMMETRIC], ==, PUNCH_PATH_RELAY);
  assert_contains (f->r.verdict, "need a relay (TURN): symmetric NATs and UDP-blocked");
  assert_contains (f->r.exposure, "Only the exact address and port");
}

static void
test_symmetric (Fixture *f, gconstpointer data)
{
  answer (&f->obs.map1, "203.0.113.101:41000", "203.0.113.10:3478");
  answer (&f->obs.map2, "203.0.113.101:52000", "203.0.113.11:3478");
  answer (&f->obs.map3, "203.0.113.101:33000", "203.0.113.11:3479");
  no_answer (&f->obs.filt2);
  no_answer (&f->obs.filt3);
  f->obs.port_mapped[0] = 61000;
  f->obs.port_mapped[1] = 1200;
  f->obs.port_mapped[2] = 40111;
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT);
  g_assert_cmpint (f->r.ports, ==, PUNCH_PORTS_RANDOM);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_NO_NAT], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_FULL_CONE], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_ADDRESS_RESTRICTED], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_PORT_RESTRICTED], ==, PUNCH_PATH_RELAY);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_SYMMETRIC], ==, PUNCH_PATH_RELAY);
}

static void
test_address_dependent_mapping (Fixture *f, gconstpointer data)
{
  answer (&f->obs.map2, "203.0.113.101:6000", "203.0.113.11:3478");
  answer (&f->obs.map3, "203.0.113.101:6000", "203.0.113.11:3479");
  no_answer (&f->obs.filt2);
  answer (&f->obs.filt3, "203.0.113.101:5002", "203.0.113.10:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ADDRESS_DEPENDENT);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_ADDRESS_DEPENDENT);
}

static void
test_mapping_test3_lost (Fixture *f, gconstpointer data)
{
  answer (&f->obs.map2, "203.0.113.101:6000", "203.0.113.11:3478");
  no_answer (&f->obs.map3);
  no_answer (&f->obs.filt2);
  no_answer (&f->obs.filt3);
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_UNKNOWN);
  g_assert_true (f->r.mapping_varies);
  assert_contains (f->r.mapping_reason, "test III");
  /* treated as the worst case in the verdict */
  g_assert_cmpint (f->r.paths[PUNCH_PEER_PORT_RESTRICTED], ==, PUNCH_PATH_RELAY);
}

static void
test_udp_blocked (Fixture *f, gconstpointer data)
{
  memset (&f->obs, 0, sizeof f->obs);
  f->obs.local = addr ("10.0.1.2:5000");
  f->obs.n_servers = 1;
  f->obs.server_addr[0] = addr ("203.0.113.10:3478");
  no_answer (&f->obs.map1);
  no_answer (&f->obs.servers[0]);
  f->obs.udp_blocked_hint = TRUE;
  classify (f);
  g_assert_false (f->r.udp);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_UNKNOWN);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_UNKNOWN);
  assert_contains (f->r.mapping_reason, "UDP is blocked");
  for (int k = 0; k < PUNCH_PEER_N_KINDS; k++)
    g_assert_cmpint (f->r.paths[k], ==, PUNCH_PATH_RELAY);
  assert_contains (f->r.verdict, "No UDP");
}

/* No OTHER-ADDRESS: compare what several servers saw. */
static void
fallback (Fixture *f)
{
  memset (&f->obs.other, 0, sizeof f->obs.other);
  f->obs.n_servers = 2;
  f->obs.server_addr[1] = addr ("203.0.113.11:3478");
  memset (&f->obs.filt1, 0, sizeof f->obs.filt1);
}

static void
test_fallback_eim (Fixture *f, gconstpointer data)
{
  fallback (f);
  answer (&f->obs.servers[1], "203.0.113.101:5000", "203.0.113.11:3478");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.mapping_method, ==, PUNCH_CHECK_METHOD_COMPARISON);
  assert_contains (f->r.mapping_reason, "no RFC 5780 OTHER-ADDRESS");
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_UNKNOWN);
  g_assert_cmpint (f->r.filtering_method, ==, PUNCH_CHECK_METHOD_NONE);
  assert_contains (f->r.filtering_reason, "does not support RFC 5780");
  /* EIM, filtering unknown: direct with port-restricted peers whatever the filter */
  g_assert_cmpint (f->r.paths[PUNCH_PEER_PORT_RESTRICTED], ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (f->r.paths[PUNCH_PEER_SYMMETRIC], ==, PUNCH_PATH_UNKNOWN);
  assert_contains (f->r.exposure, "Unknown");
}

static void
test_fallback_varies (Fixture *f, gconstpointer data)
{
  fallback (f);
  answer (&f->obs.servers[1], "203.0.113.101:6000", "203.0.113.11:3478");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_UNKNOWN);
  g_assert_true (f->r.mapping_varies);
  assert_contains (f->r.mapping_reason, "no two servers share an address");

  /* a third server on the first one's address, another port */
  f->obs.n_servers = 3;
  f->obs.server_addr[2] = addr ("203.0.113.10:3479");
  answer (&f->obs.servers[2], "203.0.113.101:7000", "203.0.113.10:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT);
  g_assert_cmpint (f->r.mapping_method, ==, PUNCH_CHECK_METHOD_COMPARISON);

  answer (&f->obs.servers[2], "203.0.113.101:5000", "203.0.113.10:3479");
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ADDRESS_DEPENDENT);
}

static void
test_fallback_one_server (Fixture *f, gconstpointer data)
{
  fallback (f);
  no_answer (&f->obs.servers[1]);
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_UNKNOWN);
  g_assert_false (f->r.mapping_varies);
  assert_contains (f->r.mapping_reason, "only one server answered");
  for (int k = 0; k < PUNCH_PEER_UDP_BLOCKED; k++)
    g_assert_cmpint (f->r.paths[k], !=, PUNCH_PATH_RELAY);
}

/* RFC 5780 server, but its other address does not answer: falls back */
static void
test_other_silent_falls_back (Fixture *f, gconstpointer data)
{
  no_answer (&f->obs.map2);
  f->obs.n_servers = 2;
  f->obs.server_addr[1] = addr ("203.0.113.20:3478");
  answer (&f->obs.servers[1], "203.0.113.101:5000", "203.0.113.20:3478");
  no_answer (&f->obs.filt2);
  no_answer (&f->obs.filt3);
  classify (f);
  g_assert_cmpint (f->r.mapping, ==, PUNCH_NAT_ENDPOINT_INDEPENDENT);
  g_assert_cmpint (f->r.mapping_method, ==, PUNCH_CHECK_METHOD_COMPARISON);
  assert_contains (f->r.mapping_reason, "test II");
}

static void
test_change_request_ignored (Fixture *f, gconstpointer data)
{
  eim (f);
  f->obs.filt2.status = PUNCH_CHECK_PROBE_WRONG_SOURCE;
  f->obs.filt2.source = addr ("203.0.113.10:3478");
  no_answer (&f->obs.filt3);
  classify (f);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_UNKNOWN);
  assert_contains (f->r.filtering_reason, "does not honour CHANGE-REQUEST");
}

static void
test_change_request_refused (Fixture *f, gconstpointer data)
{
  eim (f);
  f->obs.filt2.status = PUNCH_CHECK_PROBE_ERROR;
  f->obs.filt2.error_code = 420;
  f->obs.filt3.status = PUNCH_CHECK_PROBE_ERROR;
  f->obs.filt3.error_code = 420;
  classify (f);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_UNKNOWN);
  assert_contains (f->r.filtering_reason, "error 420");
}

static void
test_filtering_test1_lost (Fixture *f, gconstpointer data)
{
  eim (f);
  no_answer (&f->obs.filt1);
  classify (f);
  g_assert_cmpint (f->r.filtering, ==, PUNCH_NAT_UNKNOWN);
  assert_contains (f->r.filtering_reason, "test I got no answer");
}

static void
test_ports (Fixture *f, gconstpointer data)
{
  eim (f);
  f->obs.port_mapped[0] = 1024;
  f->obs.port_mapped[1] = 1025;
  f->obs.port_mapped[2] = 1027;
  classify (f);
  g_assert_cmpint (f->r.ports, ==, PUNCH_PORTS_SEQUENTIAL);

  f->obs.port_mapped[2] = 1024;
  classify (f);
  g_assert_cmpint (f->r.ports, ==, PUNCH_PORTS_RANDOM);

  f->obs.n_port_samples = 2;
  classify (f);
  g_assert_cmpint (f->r.ports, ==, PUNCH_PORTS_UNKNOWN);
}

static void
test_hairpin (Fixture *f, gconstpointer data)
{
  eim (f);
  f->obs.hairpin.status = PUNCH_CHECK_PROBE_ANSWERED;
  classify (f);
  g_assert_cmpint (f->r.hairpin, ==, PUNCH_HAIRPIN_YES);
  assert_contains (f->r.exposure, "hairpinning");
  f->obs.hairpin.status = PUNCH_CHECK_PROBE_NOT_RUN;
  classify (f);
  g_assert_cmpint (f->r.hairpin, ==, PUNCH_HAIRPIN_UNKNOWN);
}

/* The same pairs as tests/lab/traversal.sh's direct_possible() */
static void
test_direct_possible (Fixture *f, gconstpointer data)
{
  const PunchNatBehaviour N = PUNCH_NAT_NONE, EI = PUNCH_NAT_ENDPOINT_INDEPENDENT,
                          AD = PUNCH_NAT_ADDRESS_DEPENDENT,
                          APD = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT, U = PUNCH_NAT_UNKNOWN;

  g_assert_cmpint (punch_check_direct_possible (N, N, APD, APD), ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (punch_check_direct_possible (EI, EI, APD, APD), ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (punch_check_direct_possible (EI, AD, APD, APD), ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (punch_check_direct_possible (EI, APD, EI, APD), ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (punch_check_direct_possible (EI, APD, APD, APD), ==, PUNCH_PATH_RELAY);
  g_assert_cmpint (punch_check_direct_possible (APD, APD, APD, APD), ==, PUNCH_PATH_RELAY);
  g_assert_cmpint (punch_check_direct_possible (AD, AD, AD, AD), ==, PUNCH_PATH_RELAY);
  g_assert_cmpint (punch_check_direct_possible (APD, APD, EI, APD), ==, PUNCH_PATH_RELAY);
  g_assert_cmpint (punch_check_direct_possible (U, U, APD, APD), ==, PUNCH_PATH_UNKNOWN);
  g_assert_cmpint (punch_check_direct_possible (EI, U, EI, APD), ==, PUNCH_PATH_DIRECT);
  g_assert_cmpint (punch_check_direct_possible (APD, U, APD, APD), ==, PUNCH_PATH_RELAY);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/check/classify/no-nat", test_no_nat);
  ADD ("/punch/check/classify/full-cone", test_full_cone);
  ADD ("/punch/check/classify/address-restricted", test_address_restricted);
  ADD ("/punch/check/classify/port-restricted", test_port_restricted);
  ADD ("/punch/check/classify/symmetric", test_symmetric);
  ADD ("/punch/check/classify/address-dependent-mapping", test_address_dependent_mapping);
  ADD ("/punch/check/classify/mapping-test3-lost", test_mapping_test3_lost);
  ADD ("/punch/check/classify/udp-blocked", test_udp_blocked);
  ADD ("/punch/check/classify/fallback/eim", test_fallback_eim);
  ADD ("/punch/check/classify/fallback/varies", test_fallback_varies);
  ADD ("/punch/check/classify/fallback/one-server", test_fallback_one_server);
  ADD ("/punch/check/classify/fallback/other-silent", test_other_silent_falls_back);
  ADD ("/punch/check/classify/filtering/change-ignored", test_change_request_ignored);
  ADD ("/punch/check/classify/filtering/change-refused", test_change_request_refused);
  ADD ("/punch/check/classify/filtering/test1-lost", test_filtering_test1_lost);
  ADD ("/punch/check/classify/ports", test_ports);
  ADD ("/punch/check/classify/rfc3489-server", test_rfc3489_server);
  ADD ("/punch/check/classify/hairpin", test_hairpin);
  ADD ("/punch/check/classify/direct-possible", test_direct_possible);
#undef ADD
  return g_test_run ();
}
