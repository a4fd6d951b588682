/* punch-pair.c: the selected pair, and candidates between libnice and punch
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-session-private.h"

#include <string.h>
#include <nice/agent.h>

/* ---- PunchPair ---------------------------------------------------------- */

G_DEFINE_BOXED_TYPE (PunchPair, punch_pair, punch_pair_copy, punch_pair_free)

PunchPair *
punch_pair_copy (const PunchPair *pair)
{
  PunchPair *copy;

  g_return_val_if_fail (pair != NULL, NULL);
  copy = g_new0 (PunchPair, 1);
  copy->local = punch_candidate_copy (pair->local);
  copy->remote = punch_candidate_copy (pair->remote);
  copy->relayed = pair->relayed;
  return copy;
}

void
punch_pair_free (PunchPair *pair)
{
  if (pair == NULL)
    return;
  punch_candidate_free (pair->local);
  punch_candidate_free (pair->remote);
  g_free (pair);
}

char *
punch_pair_describe (const PunchPair *pair)
{
  g_return_val_if_fail (pair != NULL, NULL);
  return g_strdup_printf (
      "%s: %s %s:%u <-> %s %s:%u over %s%s", pair->relayed ? "RELAYED via TURN" : "direct",
      punch_candidate_type_to_string (pair->local->type), pair->local->address, pair->local->port,
      punch_candidate_type_to_string (pair->remote->type), pair->remote->address,
      pair->remote->port, punch_transport_to_string (pair->local->transport),
      pair->local->tcp_type == PUNCH_TCP_TYPE_SO ? " (simultaneous open)" : "");
}

/* ---- NiceCandidate <-> PunchCandidate ----------------------------------- */

PunchCandidate *
punch_candidate_from_nice (const NiceCandidate *nc)
{
  PunchCandidate *c = g_new0 (PunchCandidate, 1);
  char buf[NICE_ADDRESS_STRING_LEN];

  c->foundation = g_strdup (nc->foundation[0] ? nc->foundation : "0");
  c->component = nc->component_id;
  c->priority = nc->priority;
  nice_address_to_string (&nc->addr, buf);
  c->address = g_strdup (buf);
  c->port = nice_address_get_port (&nc->addr);
  switch (nc->type)
    {
    case NICE_CANDIDATE_TYPE_HOST: c->type = PUNCH_CANDIDATE_HOST; break;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: c->type = PUNCH_CANDIDATE_SRFLX; break;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: c->type = PUNCH_CANDIDATE_PRFLX; break;
    case NICE_CANDIDATE_TYPE_RELAYED: c->type = PUNCH_CANDIDATE_RELAY; break;
    default: c->type = PUNCH_CANDIDATE_HOST; break;
    }
  switch (nc->transport)
    {
    case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:
      c->transport = PUNCH_TRANSPORT_TCP;
      c->tcp_type = PUNCH_TCP_TYPE_ACTIVE;
      break;
    case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE:
      c->transport = PUNCH_TRANSPORT_TCP;
      c->tcp_type = PUNCH_TCP_TYPE_PASSIVE;
      break;
    case NICE_CANDIDATE_TRANSPORT_TCP_SO:
      c->transport = PUNCH_TRANSPORT_TCP;
      c->tcp_type = PUNCH_TCP_TYPE_SO;
      break;
    default: c->transport = PUNCH_TRANSPORT_UDP; break;
    }
  if (nc->type != NICE_CANDIDATE_TYPE_HOST && nice_address_is_valid (&nc->base_addr))
    {
      nice_address_to_string (&nc->base_addr, buf);
      c->related_address = g_strdup (buf);
      c->related_port = nice_address_get_port (&nc->base_addr);
    }
  return c;
}

NiceCandidate *
punch_candidate_to_nice (const PunchCandidate *c, guint stream_id)
{
  static const NiceCandidateType types[] = {
    [PUNCH_CANDIDATE_HOST] = NICE_CANDIDATE_TYPE_HOST,
    [PUNCH_CANDIDATE_SRFLX] = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE,
    [PUNCH_CANDIDATE_PRFLX] = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE,
    [PUNCH_CANDIDATE_RELAY] = NICE_CANDIDATE_TYPE_RELAYED,
  };
  NiceCandidate *nc = nice_candidate_new (types[c->type]);

  nc->stream_id = stream_id;
  nc->component_id = c->component;
  nc->priority = c->priority;
  g_strlcpy (nc->foundation, c->foundation, NICE_CANDIDATE_MAX_FOUNDATION);
  if (c->transport == PUNCH_TRANSPORT_TCP)
    nc->transport = c->tcp_type == PUNCH_TCP_TYPE_ACTIVE    ? NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE
                    : c->tcp_type == PUNCH_TCP_TYPE_PASSIVE ? NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE
                                                            : NICE_CANDIDATE_TRANSPORT_TCP_SO;
  else
    nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
  if (!nice_address_set_from_string (&nc->addr, c->address))
    {
      nice_candidate_free (nc);
      return NULL;
    }
  nice_address_set_port (&nc->addr, c->port);
  if (c->related_address && nice_address_set_from_string (&nc->base_addr, c->related_address))
    nice_address_set_port (&nc->base_addr, c->related_port);
  return nc;
}
