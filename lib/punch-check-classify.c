/* punch-check-classify.c: NAT behaviour from observed STUN answers
 *
 * RFC 4787 terms, tested as RFC 5780 section 4 describes; when the server has
 * no OTHER-ADDRESS, mapping is judged by comparing what several servers saw.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-check-classify.h"

#include <string.h>

const char *
punch_nat_behaviour_to_string (PunchNatBehaviour b)
{
  switch (b)
    {
    case PUNCH_NAT_NONE: return "none";
    case PUNCH_NAT_ENDPOINT_INDEPENDENT: return "endpoint-independent";
    case PUNCH_NAT_ADDRESS_DEPENDENT: return "address-dependent";
    case PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT: return "address-and-port-dependent";
    case PUNCH_NAT_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_check_method_to_string (PunchCheckMethod m)
{
  switch (m)
    {
    case PUNCH_CHECK_METHOD_RFC5780: return "rfc5780";
    case PUNCH_CHECK_METHOD_COMPARISON: return "comparison";
    case PUNCH_CHECK_METHOD_RFC3489: return "rfc3489";
    case PUNCH_CHECK_METHOD_NONE:
    default: return "none";
    }
}

const char *
punch_port_allocation_to_string (PunchPortAllocation p)
{
  switch (p)
    {
    case PUNCH_PORTS_PRESERVING: return "preserving";
    case PUNCH_PORTS_SEQUENTIAL: return "sequential";
    case PUNCH_PORTS_RANDOM: return "random";
    case PUNCH_PORTS_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_hairpin_to_string (PunchHairpin h)
{
  switch (h)
    {
    case PUNCH_HAIRPIN_YES: return "yes";
    case PUNCH_HAIRPIN_NO: return "no";
    case PUNCH_HAIRPIN_NOT_APPLICABLE: return "not-applicable";
    case PUNCH_HAIRPIN_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_path_to_string (PunchPath p)
{
  switch (p)
    {
    case PUNCH_PATH_DIRECT: return "direct";
    case PUNCH_PATH_RELAY: return "relay";
    case PUNCH_PATH_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_peer_kind_to_string (PunchPeerKind k)
{
  switch (k)
    {
    case PUNCH_PEER_NO_NAT: return "peers without NAT";
    case PUNCH_PEER_FULL_CONE: return "full-cone NATs";
    case PUNCH_PEER_ADDRESS_RESTRICTED: return "address-restricted NATs";
    case PUNCH_PEER_PORT_RESTRICTED: return "port-restricted NATs";
    case PUNCH_PEER_SYMMETRIC: return "symmetric NATs";
    case PUNCH_PEER_UDP_BLOCKED: return "UDP-blocked networks";
    case PUNCH_PEER_N_KINDS:
    default: return "?";
    }
}

const char *
punch_peer_kind_to_key (PunchPeerKind k)
{
  switch (k)
    {
    case PUNCH_PEER_NO_NAT: return "no-nat";
    case PUNCH_PEER_FULL_CONE: return "full-cone";
    case PUNCH_PEER_ADDRESS_RESTRICTED: return "address-restricted";
    case PUNCH_PEER_PORT_RESTRICTED: return "port-restricted";
    case PUNCH_PEER_SYMMETRIC: return "symmetric";
    case PUNCH_PEER_UDP_BLOCKED: return "udp-blocked";
    case PUNCH_PEER_N_KINDS:
    default: return "?";
    }
}

void
punch_check_result_clear (PunchCheckResult *r)
{
  g_free (r->mapping_reason);
  g_free (r->filtering_reason);
  g_free (r->ports_reason);
  g_free (r->hairpin_reason);
  g_free (r->verdict);
  g_free (r->exposure);
  memset (r, 0, sizeof *r);
}

static gboolean
answered (const PunchCheckProbe *p)
{
  return p->status == PUNCH_CHECK_PROBE_ANSWERED;
}

static const char *
probe_failure (const PunchCheckProbe *p)
{
  switch (p->status)
    {
    case PUNCH_CHECK_PROBE_NOT_RUN: return "was not run (time ran out)";
    case PUNCH_CHECK_PROBE_TIMEOUT: return "got no answer";
    case PUNCH_CHECK_PROBE_WRONG_SOURCE: return "was answered only from an unexpected address";
    case PUNCH_CHECK_PROBE_ERROR: return "got an error response";
    case PUNCH_CHECK_PROBE_ANSWERED:
    default: return "was answered";
    }
}

static char *
addr_str (const PunchStunAddress *a)
{
  return punch_stun_address_to_string (a);
}

/* ---- mapping ------------------------------------------------------------ */

static void
mapping_by_comparison (const PunchCheckObservations *obs, PunchCheckResult *r, const char *why)
{
  gboolean dip_same = FALSE, dip_diff = FALSE, sip_same = FALSE, sip_diff = FALSE;
  guint n = 0;

  r->mapping_method = PUNCH_CHECK_METHOD_COMPARISON;
  for (guint i = 0; i < obs->n_servers; i++)
    {
      if (!answered (&obs->servers[i]))
        continue;
      n++;
      for (guint j = i + 1; j < obs->n_servers; j++)
        {
          gboolean same_map, same_ip;

          if (!answered (&obs->servers[j])
              || punch_stun_address_equal (&obs->server_addr[i], &obs->server_addr[j]))
            continue;
          same_map = punch_stun_address_equal (&obs->servers[i].mapped, &obs->servers[j].mapped);
          same_ip = punch_stun_address_same_ip (&obs->server_addr[i], &obs->server_addr[j]);
          if (same_ip)
            *(same_map ? &sip_same : &sip_diff) = TRUE;
          else
            *(same_map ? &dip_same : &dip_diff) = TRUE;
        }
    }

  if (!dip_same && !dip_diff && !sip_same && !sip_diff)
    {
      r->mapping = PUNCH_NAT_UNKNOWN;
      r->mapping_reason = g_strdup_printf (
          "%s, and %s: comparing mappings needs answers from two different servers "
          "(or one server with RFC 5780 OTHER-ADDRESS)",
          why, n == 1 ? "only one server answered" : "no two servers answered");
      return;
    }
  if (dip_diff)
    {
      if (sip_diff)
        {
          r->mapping = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
          r->mapping_reason = g_strdup_printf (
              "%s; compared mappings: they differ between servers on different addresses and "
              "also between two ports of one address",
              why);
        }
      else if (sip_same)
        {
          r->mapping = PUNCH_NAT_ADDRESS_DEPENDENT;
          r->mapping_reason = g_strdup_printf (
              "%s; compared mappings: they differ between server addresses but not between two "
              "ports of one address",
              why);
        }
      else
        {
          r->mapping = PUNCH_NAT_UNKNOWN;
          r->mapping_varies = TRUE;
          r->mapping_reason = g_strdup_printf (
              "%s; compared mappings: the public address changes with the server's address, so "
              "the mapping is address-dependent or address-and-port-dependent; no two servers "
              "share an address, so which of the two is not known",
              why);
        }
      return;
    }
  if (dip_same && !sip_diff)
    {
      r->mapping = PUNCH_NAT_ENDPOINT_INDEPENDENT;
      r->mapping_reason = g_strdup_printf (
          "%s; compared mappings: %u servers on different addresses saw the same public address",
          why, n);
      return;
    }
  if (dip_same && sip_diff)
    {
      r->mapping = PUNCH_NAT_UNKNOWN;
      r->mapping_varies = TRUE;
      r->mapping_reason = g_strdup_printf (
          "%s; compared mappings: inconsistent (the same toward different addresses, different "
          "toward two ports of one address)",
          why);
      return;
    }
  if (sip_diff)
    {
      r->mapping = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
      r->mapping_reason = g_strdup_printf (
          "%s; compared mappings: two ports of one server address saw different public addresses",
          why);
      return;
    }
  r->mapping = PUNCH_NAT_UNKNOWN;
  r->mapping_reason = g_strdup_printf (
      "%s; compared mappings: the servers that answered share one IP address and saw the same "
      "public address, which does not tell endpoint-independent from address-dependent",
      why);
}

static gboolean
other_usable (const PunchCheckObservations *obs)
{
  const PunchStunAddress *o = &obs->other;
  const PunchStunAddress *p = &obs->map1.source;

  return o->family != 0 && o->family == p->family && !punch_stun_address_same_ip (o, p)
         && o->port != p->port;
}

/* The standard whose tests ran: RFC 3489 servers have the same two
 * addresses (CHANGED-ADDRESS) and honour the same CHANGE-REQUEST. */
static const char *
std_name (const PunchCheckObservations *obs)
{
  return obs->other_rfc3489 ? "RFC 3489" : "RFC 5780";
}

static PunchCheckMethod
std_method (const PunchCheckObservations *obs)
{
  return obs->other_rfc3489 ? PUNCH_CHECK_METHOD_RFC3489 : PUNCH_CHECK_METHOD_RFC5780;
}

static void
classify_mapping (const PunchCheckObservations *obs, PunchCheckResult *r)
{
  g_autofree char *m1 = addr_str (&obs->map1.mapped);
  const char *std = std_name (obs);

  if (answered (&obs->map1) && punch_stun_address_equal (&obs->map1.mapped, &obs->local))
    {
      r->mapping = PUNCH_NAT_NONE;
      r->mapping_method = other_usable (obs) ? std_method (obs) : PUNCH_CHECK_METHOD_COMPARISON;
      r->mapping_reason
          = g_strdup_printf ("the server sees this host's own address %s: there is no NAT", m1);
      return;
    }
  if (!answered (&obs->map1))
    {
      mapping_by_comparison (obs, r, "the first server did not answer");
      return;
    }
  if (!other_usable (obs))
    {
      mapping_by_comparison (obs, r,
                             obs->other.family ? "the first server's other address is not usable "
                                                 "(same address or port as its primary)"
                                               : "the first server has no RFC 5780 OTHER-ADDRESS "
                                                 "(nor RFC 3489 CHANGED-ADDRESS)");
      return;
    }
  if (!answered (&obs->map2))
    {
      g_autofree char *why = g_strdup_printf ("the server's other address (%s test II) %s", std,
                                              probe_failure (&obs->map2));
      mapping_by_comparison (obs, r, why);
      return;
    }

  r->mapping_method = std_method (obs);
  {
    g_autofree char *m2 = addr_str (&obs->map2.mapped);
    g_autofree char *m3 = addr_str (&obs->map3.mapped);

    if (punch_stun_address_equal (&obs->map1.mapped, &obs->map2.mapped))
      {
        r->mapping = PUNCH_NAT_ENDPOINT_INDEPENDENT;
        r->mapping_reason = g_strdup_printf (
            "%s: the same public address %s toward the server's primary and other IP address", std,
            m1);
      }
    else if (!answered (&obs->map3))
      {
        r->mapping = PUNCH_NAT_UNKNOWN;
        r->mapping_varies = TRUE;
        r->mapping_reason = g_strdup_printf (
            "%s: the public address changes with the server's address (%s, then %s), and "
            "test III (other address and port) %s",
            std, m1, m2, probe_failure (&obs->map3));
      }
    else if (punch_stun_address_equal (&obs->map2.mapped, &obs->map3.mapped))
      {
        r->mapping = PUNCH_NAT_ADDRESS_DEPENDENT;
        r->mapping_reason = g_strdup_printf (
            "%s: a new public address toward the other IP (%s, then %s), the same toward "
            "its other port",
            std, m1, m2);
      }
    else
      {
        r->mapping = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
        r->mapping_reason = g_strdup_printf (
            "%s: a new public address toward every server address and port (%s, %s, %s)", std, m1,
            m2, m3);
      }
  }
}

/* ---- filtering ---------------------------------------------------------- */

static void
classify_filtering (const PunchCheckObservations *obs, PunchCheckResult *r)
{
  const PunchCheckProbe *f2 = &obs->filt2, *f3 = &obs->filt3;
  const char *std = std_name (obs);

  if (!other_usable (obs))
    {
      r->filtering_method = PUNCH_CHECK_METHOD_NONE;
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason = g_strdup (
          answered (&obs->map1)
              ? "the first server does not support RFC 5780 (no usable OTHER-ADDRESS, nor an RFC "
                "3489 CHANGED-ADDRESS), and filtering can only be tested with CHANGE-REQUEST "
                "toward a server's second address"
              : "the first server did not answer, and filtering is tested with its RFC 5780 "
                "CHANGE-REQUEST");
      return;
    }
  r->filtering_method = std_method (obs);
  if (!answered (&obs->filt1))
    {
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason
          = g_strdup_printf ("%s filtering test I %s", std, probe_failure (&obs->filt1));
      return;
    }
  if (answered (f2))
    {
      gboolean no_nat = punch_stun_address_equal (&obs->map1.mapped, &obs->local);

      r->filtering = no_nat ? PUNCH_NAT_NONE : PUNCH_NAT_ENDPOINT_INDEPENDENT;
      r->filtering_reason = g_strdup_printf (
          no_nat ? "%s: an answer from the server's other address and port arrived, and "
                   "there is no NAT: nothing filters"
                 : "%s: an answer from the server's other address and port (CHANGE-REQUEST "
                   "change IP and port) arrived",
          std);
      return;
    }
  if (f2->status == PUNCH_CHECK_PROBE_WRONG_SOURCE || f3->status == PUNCH_CHECK_PROBE_WRONG_SOURCE)
    {
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason = g_strdup (
          "the server answered CHANGE-REQUEST from an address it was not asked to use: it "
          "does not honour CHANGE-REQUEST, so its answers say nothing about filtering");
      return;
    }
  if (f2->status == PUNCH_CHECK_PROBE_ERROR || f3->status == PUNCH_CHECK_PROBE_ERROR)
    {
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason = g_strdup_printf (
          "the server refused CHANGE-REQUEST (error %u)",
          f2->status == PUNCH_CHECK_PROBE_ERROR ? f2->error_code : f3->error_code);
      return;
    }
  if (f2->status != PUNCH_CHECK_PROBE_TIMEOUT)
    {
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason = g_strdup_printf ("%s filtering test II %s", std, probe_failure (f2));
      return;
    }
  if (answered (f3))
    {
      r->filtering = PUNCH_NAT_ADDRESS_DEPENDENT;
      r->filtering_reason = g_strdup_printf (
          "%s: no answer from the server's other address, but one from its primary "
          "address and other port (CHANGE-REQUEST change port)",
          std);
    }
  else if (f3->status == PUNCH_CHECK_PROBE_TIMEOUT)
    {
      r->filtering = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
      r->filtering_reason = g_strdup_printf (
          "%s: only answers from the exact address and port that was asked arrived; "
          "none from the server's other address, none from its other port",
          std);
    }
  else
    {
      r->filtering = PUNCH_NAT_UNKNOWN;
      r->filtering_reason = g_strdup_printf ("%s filtering test III %s", std, probe_failure (f3));
    }
}

/* ---- port allocation, hairpinning ----------------------------------------- */

static void
classify_ports (const PunchCheckObservations *obs, PunchCheckResult *r)
{
  guint n = obs->n_port_samples, kept = 0;
  gboolean sequential = TRUE;

  if (r->mapping == PUNCH_NAT_NONE)
    {
      r->ports = PUNCH_PORTS_PRESERVING;
      r->ports_reason = g_strdup ("no NAT: the public ports are the host's own");
      return;
    }
  if (n < 3)
    {
      r->ports = PUNCH_PORTS_UNKNOWN;
      r->ports_reason = g_strdup_printf ("needs 3 mappings of fresh sockets, got %u", n);
      return;
    }
  for (guint i = 0; i < n; i++)
    {
      if (obs->port_mapped[i] == obs->port_local[i])
        kept++;
      if (i > 0)
        {
          guint16 d = (guint16)(obs->port_mapped[i] - obs->port_mapped[i - 1]);
          if (d == 0 || d > 4)
            sequential = FALSE;
        }
    }
  if (kept >= n - 1)
    {
      r->ports = PUNCH_PORTS_PRESERVING;
      r->ports_reason = g_strdup_printf (
          "%u of %u fresh sockets kept their local port as the public port", kept, n);
    }
  else if (sequential)
    {
      r->ports = PUNCH_PORTS_SEQUENTIAL;
      r->ports_reason = g_strdup_printf (
          "%u fresh sockets got public ports %u..%u, each a little above the one before", n,
          obs->port_mapped[0], obs->port_mapped[n - 1]);
    }
  else
    {
      r->ports = PUNCH_PORTS_RANDOM;
      r->ports_reason = g_strdup_printf (
          "%u fresh sockets got unrelated public ports (%u of them kept the local port)", n, kept);
    }
}

static void
classify_hairpin (const PunchCheckObservations *obs, PunchCheckResult *r)
{
  if (r->mapping == PUNCH_NAT_NONE)
    {
      r->hairpin = PUNCH_HAIRPIN_NOT_APPLICABLE;
      r->hairpin_reason = g_strdup ("no NAT: the public address is this host's own");
      return;
    }
  switch (obs->hairpin.status)
    {
    case PUNCH_CHECK_PROBE_ANSWERED:
      r->hairpin = PUNCH_HAIRPIN_YES;
      r->hairpin_reason = g_strdup ("a packet sent to this host's own public address came back "
                                    "to it through the NAT");
      break;
    case PUNCH_CHECK_PROBE_TIMEOUT:
      r->hairpin = PUNCH_HAIRPIN_NO;
      r->hairpin_reason = g_strdup ("a packet sent to this host's own public address never "
                                    "arrived: hosts behind this NAT cannot reach each other "
                                    "through their public addresses");
      break;
    default:
      r->hairpin = PUNCH_HAIRPIN_UNKNOWN;
      r->hairpin_reason = g_strdup_printf ("the hairpin test %s", probe_failure (&obs->hairpin));
      break;
    }
}

/* ---- verdict ------------------------------------------------------------ */

static gboolean
ei (PunchNatBehaviour m)
{
  return m == PUNCH_NAT_NONE || m == PUNCH_NAT_ENDPOINT_INDEPENDENT;
}

static gboolean
open_to_address (PunchNatBehaviour f)
{
  return f == PUNCH_NAT_NONE || f == PUNCH_NAT_ENDPOINT_INDEPENDENT
         || f == PUNCH_NAT_ADDRESS_DEPENDENT;
}

static gboolean
direct_known (PunchNatBehaviour ma, PunchNatBehaviour fa, PunchNatBehaviour mb,
              PunchNatBehaviour fb)
{
  /* A's packet to B's reflexive address reaches B when B's mapping does not
   * depend on the destination and B's filter lets A's actual mapping in; B's
   * reply then comes from that same reflexive address, which A's filter
   * allows, since A sent there. */
  gboolean a_to_b = ei (mb) && (open_to_address (fb) || ei (ma));
  gboolean b_to_a = ei (ma) && (open_to_address (fa) || ei (mb));
  return a_to_b || b_to_a;
}

static const PunchNatBehaviour all_behaviours[]
    = { PUNCH_NAT_NONE, PUNCH_NAT_ENDPOINT_INDEPENDENT, PUNCH_NAT_ADDRESS_DEPENDENT,
        PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT };

PunchPath
punch_check_direct_possible (PunchNatBehaviour map_a, PunchNatBehaviour filt_a,
                             PunchNatBehaviour map_b, PunchNatBehaviour filt_b)
{
  gboolean seen_yes = FALSE, seen_no = FALSE;
  const PunchNatBehaviour in[4] = { map_a, filt_a, map_b, filt_b };

  /* try every value an UNKNOWN could stand for: a sure answer is one that
   * does not depend on them */
  for (guint combo = 0; combo < 256; combo++)
    {
      PunchNatBehaviour v[4];
      gboolean skip = FALSE;

      for (int k = 0; k < 4; k++)
        {
          guint pick = (combo >> (2 * k)) & 3;
          if (in[k] == PUNCH_NAT_UNKNOWN)
            v[k] = all_behaviours[pick];
          else if (pick != 0)
            skip = TRUE;
          else
            v[k] = in[k];
        }
      if (skip)
        continue;
      if (direct_known (v[0], v[1], v[2], v[3]))
        seen_yes = TRUE;
      else
        seen_no = TRUE;
    }
  if (seen_yes && seen_no)
    return PUNCH_PATH_UNKNOWN;
  return seen_yes ? PUNCH_PATH_DIRECT : PUNCH_PATH_RELAY;
}

static void
peer_behaviour (PunchPeerKind k, PunchNatBehaviour *m, PunchNatBehaviour *f)
{
  switch (k)
    {
    case PUNCH_PEER_NO_NAT:
      *m = PUNCH_NAT_NONE;
      *f = PUNCH_NAT_NONE;
      break;
    case PUNCH_PEER_FULL_CONE:
      *m = PUNCH_NAT_ENDPOINT_INDEPENDENT;
      *f = PUNCH_NAT_ENDPOINT_INDEPENDENT;
      break;
    case PUNCH_PEER_ADDRESS_RESTRICTED:
      *m = PUNCH_NAT_ENDPOINT_INDEPENDENT;
      *f = PUNCH_NAT_ADDRESS_DEPENDENT;
      break;
    case PUNCH_PEER_PORT_RESTRICTED:
      *m = PUNCH_NAT_ENDPOINT_INDEPENDENT;
      *f = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
      break;
    case PUNCH_PEER_SYMMETRIC:
    case PUNCH_PEER_UDP_BLOCKED:
    case PUNCH_PEER_N_KINDS:
    default:
      *m = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
      *f = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;
      break;
    }
}

static void
append_list (GString *s, const char *head, GPtrArray *items)
{
  if (items->len == 0)
    return;
  if (s->len)
    g_string_append (s, " ");
  g_string_append (s, head);
  g_string_append_c (s, ' ');
  for (guint i = 0; i < items->len; i++)
    g_string_append_printf (s, "%s%s",
                            i == 0                ? ""
                            : i + 1 == items->len ? " and "
                                                  : ", ",
                            (const char *)items->pdata[i]);
  g_string_append (s, ".");
}

static void
classify_verdict (PunchCheckResult *r)
{
  g_autoptr (GPtrArray) direct = g_ptr_array_new ();
  g_autoptr (GPtrArray) relay = g_ptr_array_new ();
  g_autoptr (GPtrArray) unknown = g_ptr_array_new ();
  GString *s = g_string_new (NULL);
  PunchNatBehaviour my_map = r->mapping;

  /* unknown but known to change with the destination: as bad as it gets */
  if (my_map == PUNCH_NAT_UNKNOWN && r->mapping_varies)
    my_map = PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT;

  for (int k = 0; k < PUNCH_PEER_N_KINDS; k++)
    {
      PunchNatBehaviour pm, pf;

      if (!r->udp || k == PUNCH_PEER_UDP_BLOCKED)
        r->paths[k] = PUNCH_PATH_RELAY;
      else
        {
          peer_behaviour (k, &pm, &pf);
          r->paths[k] = punch_check_direct_possible (my_map, r->filtering, pm, pf);
        }
      g_ptr_array_add (r->paths[k] == PUNCH_PATH_DIRECT  ? direct
                       : r->paths[k] == PUNCH_PATH_RELAY ? relay
                                                         : unknown,
                       (gpointer)punch_peer_kind_to_string (k));
    }
  if (!r->udp)
    g_string_append (s, "No UDP gets out: every peer needs a relay (TURN over TCP or TLS).");
  else
    {
      append_list (s, "Direct connections work with", direct);
      append_list (s, "These need a relay (TURN):", relay);
      append_list (s, "Not known (a behaviour could not be measured):", unknown);
    }
  r->verdict = g_string_free (s, FALSE);
}

static void
classify_exposure (PunchCheckResult *r)
{
  GString *s = g_string_new (NULL);

  if (!r->udp)
    g_string_append (s, "No UDP answer came back from outside, so nothing can be said about who "
                        "can send UDP to this device; a firewall blocks UDP here.");
  else
    switch (r->filtering)
      {
      case PUNCH_NAT_NONE:
        g_string_append (s, "This device has a public address and nothing in front of it "
                            "filters UDP: any host on the internet can send to any UDP port it "
                            "listens on.");
        break;
      case PUNCH_NAT_ENDPOINT_INDEPENDENT:
        g_string_append (s, "Any host that learns your public address and port can reach this "
                            "device through that port, for as long as the mapping lives, "
                            "whether or not this device ever sent anything to it.");
        break;
      case PUNCH_NAT_ADDRESS_DEPENDENT:
        g_string_append (s, "Only hosts at an IP address that this port has already sent to can "
                            "reach it through its mapping, from any of their ports.");
        break;
      case PUNCH_NAT_ADDRESS_AND_PORT_DEPENDENT:
        g_string_append (s, "Only the exact address and port that this port has sent to can "
                            "reach it through its mapping; everything else is dropped.");
        break;
      case PUNCH_NAT_UNKNOWN:
      default:
        g_string_append (s, "Unknown: filtering could not be tested, so assume that any host "
                            "that learns your public address and port may be able to reach "
                            "this device.");
        break;
      }
  if (r->udp && (r->mapping == PUNCH_NAT_ENDPOINT_INDEPENDENT || r->mapping == PUNCH_NAT_NONE))
    g_string_append (s, " The public address and port stay the same whatever the destination, "
                        "so every peer and server you talk to learns the same one.");
  if (r->hairpin == PUNCH_HAIRPIN_YES)
    g_string_append (s, " Hosts behind the same NAT can also reach you through your public "
                        "address (hairpinning).");
  r->exposure = g_string_free (s, FALSE);
}

/* ---- the whole ---------------------------------------------------------- */

void
punch_check_classify (const PunchCheckObservations *obs, PunchCheckResult *r)
{
  memset (r, 0, sizeof *r);

  r->udp = answered (&obs->map1);
  for (guint i = 0; i < obs->n_servers; i++)
    r->udp = r->udp || answered (&obs->servers[i]);

  if (!r->udp)
    {
      const char *why = obs->udp_blocked_hint
                            ? "no server answered over UDP, while TCP reached one: UDP is blocked"
                            : "no server answered over UDP";
      r->mapping = r->filtering = PUNCH_NAT_UNKNOWN;
      r->mapping_reason = g_strdup (why);
      r->filtering_reason = g_strdup (why);
      r->ports = PUNCH_PORTS_UNKNOWN;
      r->ports_reason = g_strdup (why);
      r->hairpin = PUNCH_HAIRPIN_UNKNOWN;
      r->hairpin_reason = g_strdup (why);
    }
  else
    {
      classify_mapping (obs, r);
      classify_filtering (obs, r);
      classify_ports (obs, r);
      classify_hairpin (obs, r);
    }
  classify_verdict (r);
  classify_exposure (r);
}
