/* punch-session-tcp.c: TCP hole punching beside the session's UDP ICE
 *
 * For networks that let only TCP out. At the first gathering the session
 * learns its NAT's TCP mapping of one local port from the first STUN or TURN
 * servers (punch-tcp-mapping.c; coturn answers STUN on TCP at its port) and
 * announces it as an RFC 6544 `tcptype so` server-reflexive candidate. When
 * the peer's `so` candidate comes, it starts one simultaneous open from that
 * port toward it (punch-tcp-punch.c), bounded in time. Both sides do that on
 * receiving the other's candidate, which lines the attempts up to about the
 * signaling latency; the retries of the punch cover the rest.
 *
 * The secure channel is the session's one QUIC connection: its packets are
 * framed on the TCP connection as RFC 4571 says (a 2-byte big-endian length,
 * then the packet), the framing RFC 6544 uses for ICE-TCP. So the TLS 1.3
 * handshake, the fingerprints and pins, the streams and datagrams are the
 * ones of the UDP path, with no second TLS stack.
 *
 * Selection: UDP is preferred when it works, TCP direct to any relay, a
 * relay is the last resort. A TCP connection that completes while a direct
 * UDP pair carries the channel is closed; one that completes while ICE has
 * no pair, or only a relayed one, becomes the path (QUIC carries on across
 * the change: it never sees addresses). While the attempt is under way
 * libnice's FAILED does not fail the session and a relayed pair waits for
 * it. Once on TCP, libnice's later pairs and FAILED are ignored; an ICE
 * restart (UDP only) is left to punch-session-restart.c, which only starts
 * one when the path falls silent.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"
#include "punch-quic-private.h"
#include "punch-tcp-mapping-private.h"
#include "punch-tcp-punch-private.h"

#include <string.h>

/* The bound on the mapping discovery: it holds gathering-done (and so the
 * end-of-candidates the peer waits for) until it is over. */
#define PUNCH_SESSION_TCP_MAPPING_MS 2000
/* How long the simultaneous open tries. */
#define PUNCH_SESSION_TCP_WINDOW_MS 5000
/* Framed packets waiting for room in the kernel's send buffer; beyond it
 * packets are dropped and QUIC recovers (its congestion control slows). */
#define PUNCH_SESSION_TCP_QUEUE_BYTES (256 * 1024)
/* Happy eyeballs: a TCP connection that completes while UDP ICE is still
 * checking waits this long for a direct UDP pair before it takes the path.
 * Not at all when libnice has failed, when UDP cannot leave this network
 * (udp_hopeless()), or when the peer has taken TCP (its empty frame). */
#define PUNCH_SESSION_TCP_UDP_GRACE_MS 1000
/* RFC 4571: a 16-bit length */
#define FRAME_MAX 65535

struct _PunchSessionTcp
{
  gboolean gathered;        /* the discovery was started (once) */
  gboolean mapping_pending; /* the discovery is under way */
  gboolean counted;         /* it holds one of self->pending_probes */
  PunchTcpMapping *mapping;
  PunchCandidate *local;  /* our `so` candidate */
  PunchCandidate *remote; /* the peer's, once it came */
  PunchStunAddress remote_addr;
  gboolean punching;
  GError *error;             /* what TCP saw when it gave no path */
  GSocketConnection *parked; /* connected, waiting out the grace for UDP */
  PunchTcpPunchStats parked_stats;
  GSource *grace_source;
  GSource *parked_source; /* the peer sends on the parked connection: it chose TCP */

  gboolean is_path;
  GSocketConnection *conn;
  GSocket *socket;
  GSource *in_source;
  GSource *out_source;
  guint8 *inbuf; /* FRAME_MAX + 2 bytes */
  gsize in_len;
  GByteArray *out;
  gsize out_off;
  gboolean send_failed;
  guint64 dropped;
};

static gboolean
address_from_ip (const char *ip, guint16 port, PunchStunAddress *out)
{
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (ip);

  memset (out, 0, sizeof *out);
  if (a == NULL)
    return FALSE;
  out->family = g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6 ? 6 : 4;
  out->port = port;
  memcpy (out->addr, g_inet_address_to_bytes (a), g_inet_address_get_native_size (a));
  return TRUE;
}

static char *
address_ip (const PunchStunAddress *a)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_bytes (
      a->addr, a->family == 6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4);
  return g_inet_address_to_string (ia);
}

static void
set_error (PunchSessionTcp *tcp, GError *error)
{
  g_clear_error (&tcp->error);
  tcp->error = error;
}

/* ---- the path: framed QUIC packets both ways -------------------------------- */

static void
close_connection (PunchSessionTcp *tcp)
{
  punch_source_clear (&tcp->in_source);
  punch_source_clear (&tcp->out_source);
  if (tcp->conn)
    g_io_stream_close (G_IO_STREAM (tcp->conn), NULL, NULL);
  g_clear_object (&tcp->socket);
  g_clear_object (&tcp->conn);
  tcp->is_path = FALSE;
}

/* The connection ended or failed while it was the path. */
static void
path_lost (PunchSession *self, const char *why)
{
  PunchSessionTcp *tcp = self->tcp;
  g_autofree char *peer = punch_stun_address_to_string (&tcp->remote_addr);

  g_info ("session %p: the TCP connection to %s ended: %s", self, peer, why);
  close_connection (tcp);
  set_error (tcp, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PEER_GONE,
                               "the TCP connection to %s ended: %s", peer, why));
  if (self->state == PUNCH_STATE_CONNECTED)
    punch_session_path_broken (self); /* an ICE restart looks for another path */
  else if (self->state == PUNCH_STATE_GATHERING || self->state == PUNCH_STATE_CHECKING)
    {
      punch_session_maybe_connected (self);
      punch_session_maybe_fail_no_path (self);
    }
}

/* Hands every whole frame in the buffer to QUIC; keeps the rest. */
static void
deliver_frames (PunchSession *self)
{
  PunchSessionTcp *tcp = self->tcp;
  gsize off = 0;

  while (tcp->in_len - off >= 2)
    {
      gsize n = ((gsize)tcp->inbuf[off] << 8) | tcp->inbuf[off + 1];
      if (tcp->in_len - off < 2 + n)
        break;
      if (n > 0 && self->quic)
        punch_quic_receive (self->quic, tcp->inbuf + off + 2, n);
      if (self->tcp == NULL || !tcp->is_path)
        return;
      off += 2 + n;
    }
  memmove (tcp->inbuf, tcp->inbuf + off, tcp->in_len - off);
  tcp->in_len -= off;
}

static gboolean
on_readable (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  PunchSession *self = user_data;
  PunchSessionTcp *tcp = self->tcp;
  gboolean keep = G_SOURCE_CONTINUE;

  g_object_ref (self);
  for (guint round = 0; round < 16 && tcp->is_path; round++)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive (sock, (char *)tcp->inbuf + tcp->in_len,
                                   FRAME_MAX + 2 - tcp->in_len, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (n <= 0)
        {
          /* the source goes with the connection: say so to the main loop */
          g_clear_pointer (&tcp->in_source, g_source_unref);
          keep = G_SOURCE_REMOVE;
          path_lost (self, n == 0 ? "closed by the peer" : error->message);
          break;
        }
      /* closed, but lingering: the QUIC close answers late packets */
      if (self->state == PUNCH_STATE_CLOSED && self->linger_source == NULL)
        {
          tcp->in_len = 0;
          continue;
        }
      tcp->in_len += n;
      deliver_frames (self);
    }
  g_object_unref (self);
  return keep;
}

static gboolean on_writable (GSocket *sock, GIOCondition condition, gpointer user_data);

static void
flush (PunchSession *self)
{
  PunchSessionTcp *tcp = self->tcp;

  while (tcp->out_off < tcp->out->len && !tcp->send_failed)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_send (tcp->socket, (const char *)tcp->out->data + tcp->out_off,
                                tcp->out->len - tcp->out_off, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (tcp->out_source == NULL)
            {
              tcp->out_source = g_socket_create_source (tcp->socket, G_IO_OUT, NULL);
              g_source_set_callback (tcp->out_source, G_SOURCE_FUNC (on_writable), self, NULL);
              g_source_attach (tcp->out_source, self->context);
            }
          break;
        }
      if (n < 0)
        {
          /* the reader sees the error too (G_IO_ERR) and ends the path */
          g_debug ("session %p: TCP send failed: %s", self, error->message);
          tcp->send_failed = TRUE;
          break;
        }
      tcp->out_off += n;
    }
  if (tcp->out_off == tcp->out->len || tcp->send_failed)
    {
      g_byte_array_set_size (tcp->out, 0);
      tcp->out_off = 0;
    }
  else if (tcp->out_off > PUNCH_SESSION_TCP_QUEUE_BYTES / 2)
    {
      g_byte_array_remove_range (tcp->out, 0, tcp->out_off);
      tcp->out_off = 0;
    }
}

static gboolean
on_writable (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  PunchSession *self = user_data;

  g_clear_pointer (&self->tcp->out_source, g_source_unref);
  flush (self);
  return G_SOURCE_REMOVE;
}

gboolean
punch_session_tcp_send (PunchSession *self, const guint8 *data, gsize len, gsize segment)
{
  PunchSessionTcp *tcp = self->tcp;

  if (tcp == NULL || !tcp->is_path)
    return FALSE;
  if (tcp->send_failed)
    return TRUE;
  for (gsize off = 0; off < len; off += segment)
    {
      gsize n = MIN (segment, len - off);
      guint8 head[2] = { (guint8)(n >> 8), (guint8)n };

      if (n > FRAME_MAX || tcp->out->len - tcp->out_off + 2 + n > PUNCH_SESSION_TCP_QUEUE_BYTES)
        {
          tcp->dropped++; /* lost, as on a full UDP buffer: QUIC recovers */
          continue;
        }
      g_byte_array_append (tcp->out, head, 2);
      g_byte_array_append (tcp->out, data + off, n);
    }
  if (tcp->out_source == NULL)
    flush (self);
  return TRUE;
}

gboolean
punch_session_tcp_is_path (PunchSession *self)
{
  return self->tcp && self->tcp->is_path;
}

/* The connection is the path from now on. */
static void
use_connection (PunchSession *self, GSocketConnection *conn, const PunchTcpPunchStats *stats)
{
  PunchSessionTcp *tcp = self->tcp;
  PunchPair *pair;
  g_autofree char *text = NULL;

  tcp->conn = conn;
  tcp->socket = g_object_ref (g_socket_connection_get_socket (conn));
  g_socket_set_blocking (tcp->socket, FALSE);
  tcp->inbuf = g_malloc (FRAME_MAX + 2);
  tcp->out = g_byte_array_new ();
  tcp->is_path = TRUE;
  tcp->in_source = g_socket_create_source (tcp->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (tcp->in_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_attach (tcp->in_source, self->context);
  /* an empty frame tells a peer still waiting for UDP (its grace) that this
   * side took TCP: the QUIC server may be here, waiting for the client */
  g_byte_array_append (tcp->out, (const guint8[]){ 0, 0 }, 2);
  flush (self);

  pair = g_new0 (PunchPair, 1);
  pair->local = punch_candidate_copy (tcp->local);
  pair->remote = punch_candidate_copy (tcp->remote);
  if (stats->peer.family)
    {
      /* an accepted connection may come from another port of the peer's IP */
      g_free (pair->remote->address);
      pair->remote->address = address_ip (&stats->peer);
      pair->remote->port = stats->peer.port;
    }
  pair->relayed = FALSE;
  punch_pair_free (self->selected);
  self->selected = pair;
  g_clear_object (&self->direct_socket);
  text = punch_pair_describe (self->selected);
  g_info ("selected path: %s", text);
  g_object_notify (G_OBJECT (self), "selected-pair");
  g_signal_emit (self, punch_session_signals[SIGNAL_SELECTED_PAIR], 0, self->selected);
  if (!self->ice_connected && self->tcp && self->tcp->is_path)
    punch_session_start_secure_channel (self);
}

/* ---- the punch ------------------------------------------------------------ */

static gboolean
udp_direct_up (PunchSession *self)
{
  return self->ice_connected && self->selected && !self->selected->relayed;
}

/* No direct UDP pair can work from here: this side sits behind a NAT (its
 * TCP mapping is another address than its own) and has no server-reflexive
 * UDP candidate, so its UDP does not leave its network (a UDP-blocked site;
 * a relay candidate through TURN-TCP does not make a direct pair). The TCP
 * mapping took a round trip more than a UDP Binding to the same servers:
 * with the punch done and still no UDP mapping, UDP is blocked. Without a
 * NAT, libnice drops a server-reflexive candidate equal to the host one, so
 * its absence says nothing: then UDP gets its grace. */
static gboolean
udp_hopeless (PunchSession *self)
{
  PunchTcpMapping *m = self->tcp->mapping;
  g_autofree char *public_ip = NULL;

  if (m == NULL)
    return FALSE;
  public_ip = address_ip (&m->mapped);
  for (guint i = 0; i < self->local_cands->len; i++)
    {
      const PunchCandidate *c = self->local_cands->pdata[i];
      if (c->transport != PUNCH_TRANSPORT_UDP)
        continue;
      if (c->type == PUNCH_CANDIDATE_SRFLX)
        return FALSE; /* UDP leaves */
      if (c->type == PUNCH_CANDIDATE_HOST && g_strcmp0 (c->address, public_ip) == 0)
        return FALSE; /* no NAT in front: no srflx to expect */
    }
  return TRUE;
}

static void
drop_connection (GSocketConnection *conn)
{
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_object_unref (conn);
}

/* Takes the parked connection, or drops it for a direct UDP pair. */
static void
settle (PunchSession *self)
{
  PunchSessionTcp *tcp = self->tcp;
  GSocketConnection *conn = g_steal_pointer (&tcp->parked);

  punch_source_clear (&tcp->grace_source);
  punch_source_clear (&tcp->parked_source);
  if (conn == NULL)
    return;
  if (self->state == PUNCH_STATE_FAILED || self->state == PUNCH_STATE_CLOSED)
    drop_connection (conn);
  else if (udp_direct_up (self))
    {
      g_info ("session %p: a direct UDP pair carries the channel: TCP connection closed", self);
      drop_connection (conn);
    }
  else
    use_connection (self, conn, &tcp->parked_stats);
}

static gboolean
on_parked_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  PunchSession *self = user_data;

  g_debug ("session %p: the peer sends over TCP: taking it now", self);
  g_clear_pointer (&self->tcp->parked_source, g_source_unref);
  settle (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_grace_over (gpointer user_data)
{
  PunchSession *self = user_data;

  g_clear_pointer (&self->tcp->grace_source, g_source_unref);
  settle (self);
  return G_SOURCE_REMOVE;
}

static void
on_punched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchSession *self = user_data;
  PunchTcpPunchStats stats = { 0 };
  g_autoptr (GError) error = NULL;
  GSocketConnection *conn = punch_tcp_punch_finish (result, &stats, &error);
  PunchSessionTcp *tcp = self->tcp;
  g_autofree char *peer = NULL;

  if (tcp == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_object (&conn);
      g_object_unref (self);
      return;
    }
  tcp->punching = FALSE;
  if (tcp->mapping)
    punch_tcp_mapping_release (tcp->mapping); /* the connections to the servers */
  peer = punch_stun_address_to_string (&tcp->remote_addr);
  if (conn == NULL)
    {
      g_info ("session %p: TCP hole punching toward %s failed: %s", self, peer, error->message);
      set_error (tcp, g_error_new (PUNCH_ERROR, error->code, "TCP hole punching toward %s: %s",
                                   peer, error->message));
      if (self->state == PUNCH_STATE_GATHERING || self->state == PUNCH_STATE_CHECKING)
        {
          punch_session_maybe_connected (self); /* a relayed pair may have waited */
          punch_session_maybe_fail_no_path (self);
        }
      g_object_unref (self);
      return;
    }
  g_info ("session %p: TCP hole punching toward %s: %s after %.1f ms, %u attempts, %u refused",
          self, peer, punch_tcp_punch_way_to_string (stats.way), stats.elapsed_ms, stats.attempts,
          stats.refused);
  tcp->parked = conn;
  tcp->parked_stats = stats;
  if (!self->ice_connected && self->nice_state != NICE_COMPONENT_STATE_FAILED
      && !udp_hopeless (self)
      && (self->state == PUNCH_STATE_GATHERING || self->state == PUNCH_STATE_CHECKING))
    {
      /* UDP ICE is still checking: give it a moment (a relayed pair found
       * meanwhile waits in punch_session_maybe_connected) */
      tcp->grace_source = punch_timeout_attach (self->context, PUNCH_SESSION_TCP_UDP_GRACE_MS,
                                                on_grace_over, self, NULL);
      /* unless the peer has taken TCP already (its handshake is waiting) */
      tcp->parked_source
          = g_socket_create_source (g_socket_connection_get_socket (conn), G_IO_IN, NULL);
      g_source_set_callback (tcp->parked_source, (GSourceFunc)(void (*) (void))on_parked_readable,
                             self, NULL);
      g_source_attach (tcp->parked_source, self->context);
    }
  else
    settle (self);
  g_object_unref (self);
}

static void
start_punch (PunchSession *self)
{
  PunchSessionTcp *tcp = self->tcp;
  g_autofree char *peer = punch_stun_address_to_string (&tcp->remote_addr);

  if (udp_direct_up (self))
    {
      g_debug ("session %p: a direct UDP pair is up: no TCP hole punching", self);
      return;
    }
  g_debug ("session %p: TCP simultaneous open from port %u toward %s", self,
           tcp->mapping->local.port, peer);
  tcp->punching = TRUE;
  punch_tcp_punch_async (tcp->mapping->local.port, &tcp->remote_addr, 0,
                         PUNCH_SESSION_TCP_WINDOW_MS, self->cancellable, on_punched,
                         g_object_ref (self));
}

static gboolean
tcp_allowed (PunchSession *self)
{
  return self->config->tcp && self->config->policy != PUNCH_POLICY_RELAY && self->quic != NULL
         && self->generation == 0;
}

void
punch_session_tcp_add_remote (PunchSession *self, const PunchCandidate *c)
{
  PunchSessionTcp *tcp;
  PunchStunAddress addr;

  /* the peer's description can come before our gathering begins */
  if (self->tcp == NULL && tcp_allowed (self))
    self->tcp = g_new0 (PunchSessionTcp, 1);
  tcp = self->tcp;

  if (tcp == NULL || c->tcp_type != PUNCH_TCP_TYPE_SO
      || (c->type != PUNCH_CANDIDATE_SRFLX && c->type != PUNCH_CANDIDATE_HOST))
    {
      g_debug ("session %p: ignoring remote TCP candidate %s:%u (%s)", self, c->address, c->port,
               tcp ? "not tcptype so" : "TCP hole punching is off");
      return;
    }
  if (tcp->remote)
    return; /* one attempt */
  if (!address_from_ip (c->address, c->port, &addr) || c->port == 0)
    return;
  g_debug ("session %p: the peer's TCP candidate %s:%u", self, c->address, c->port);
  if (tcp->mapping && tcp->mapping->local.family != addr.family)
    {
      g_debug ("session %p: remote TCP candidate %s of another family: ignored", self, c->address);
      return;
    }
  tcp->remote = punch_candidate_copy (c);
  tcp->remote_addr = addr;
  if (tcp->mapping && tcp->local)
    start_punch (self);
}

/* ---- the mapping ----------------------------------------------------------- */

static PunchCandidate *
make_candidate (const PunchTcpMapping *m)
{
  PunchCandidate *c = g_new0 (PunchCandidate, 1);
  g_autoptr (GSocketAddress) local = NULL;

  c->foundation = g_strdup ("tcpso1");
  c->component = 1;
  c->transport = PUNCH_TRANSPORT_TCP;
  c->tcp_type = PUNCH_TCP_TYPE_SO;
  c->type = PUNCH_CANDIDATE_SRFLX;
  c->priority = punch_candidate_priority (PUNCH_CANDIDATE_SRFLX, PUNCH_TRANSPORT_TCP,
                                          PUNCH_TCP_TYPE_SO, 0, 1);
  c->address = address_ip (&m->mapped);
  c->port = m->mapped.port;
  /* the local IP the connections left from (they are bound to the any address) */
  if (m->held && m->held->len > 0)
    local = g_socket_get_local_address (m->held->pdata[0], NULL);
  if (local && G_IS_INET_SOCKET_ADDRESS (local))
    c->related_address = g_inet_address_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  else
    c->related_address = address_ip (&m->local);
  c->related_port = m->local.port;
  return c;
}

/* Our `so` candidate joins the local ones (the description) and goes out. */
static void
announce (PunchSession *self)
{
  g_autofree char *line = punch_candidate_to_string (self->tcp->local);

  g_ptr_array_add (self->local_cands, punch_candidate_copy (self->tcp->local));
  g_debug ("session %p: local %s", self, line);
  g_signal_emit (self, punch_session_signals[SIGNAL_LOCAL_CANDIDATE], 0, line);
}

static void
on_mapped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchSession *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchTcpMapping) mapping = punch_tcp_mapping_discover_finish (result, &error);
  PunchSessionTcp *tcp = self->tcp;

  if (tcp == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }
  tcp->mapping_pending = FALSE;
  if (mapping == NULL)
    {
      g_info ("session %p: no TCP mapping: %s", self, error->message);
      set_error (tcp, g_error_new (PUNCH_ERROR, error->code, "no TCP mapping: %s", error->message));
    }
  else if (mapping->behaviour == PUNCH_TCP_MAPPING_ENDPOINT_DEPENDENT)
    {
      g_autofree char *text = punch_tcp_mapping_describe (mapping);
      g_info ("session %p: TCP mapping %s: a peer could not know where to connect", self, text);
      set_error (tcp, g_error_new (PUNCH_ERROR, PUNCH_ERROR_RELAY_REQUIRED,
                                   "the NAT maps TCP endpoint-dependently (%s): no TCP hole "
                                   "punching",
                                   text));
    }
  else if (self->state == PUNCH_STATE_GATHERING || self->state == PUNCH_STATE_CHECKING)
    {
      tcp->mapping = g_steal_pointer (&mapping);
      tcp->local = make_candidate (tcp->mapping);
      announce (self);
      if (self->tcp && tcp->remote && tcp->remote_addr.family != tcp->mapping->local.family)
        g_clear_pointer (&tcp->remote, punch_candidate_free);
      if (self->tcp && tcp->remote)
        start_punch (self);
    }
  if (self->tcp && tcp->counted)
    {
      tcp->counted = FALSE;
      if (self->pending_probes > 0 && --self->pending_probes == 0 && self->gathering_done)
        punch_session_finish_gathering (self);
    }
  g_object_unref (self);
}

void
punch_session_tcp_gather (PunchSession *self)
{
  PunchStunAddress servers[2];
  guint n = 0;

  if (!tcp_allowed (self))
    return;
  if (self->tcp && self->tcp->gathered)
    {
      /* gathering again on a new agent (a role change): the ICE run was
       * reset, and with it the pending probes and the local candidates */
      if (self->tcp->mapping_pending && self->tcp->counted)
        self->pending_probes++;
      if (self->tcp->local)
        announce (self);
      return;
    }
  /* coturn answers STUN over TCP at its TURN port; a turns: port speaks TLS */
  for (guint i = 0; i < self->resolved->len && n < G_N_ELEMENTS (servers); i++)
    {
      ResolvedServer *rs = self->resolved->pdata[i];
      PunchStunAddress a;
      gboolean dup = FALSE;

      if (rs->ip == NULL || rs->server->kind == PUNCH_ICE_SERVER_TURNS
          || !address_from_ip (rs->ip, rs->server->port, &a))
        continue;
      if (n > 0 && a.family != servers[0].family)
        continue;
      for (guint j = 0; j < n; j++)
        dup = dup || punch_stun_address_equal (&a, &servers[j]);
      if (!dup)
        servers[n++] = a;
    }
  if (n == 0)
    return;
  if (self->tcp == NULL)
    self->tcp = g_new0 (PunchSessionTcp, 1);
  self->tcp->gathered = TRUE;
  self->tcp->mapping_pending = TRUE;
  self->tcp->counted = TRUE;
  self->pending_probes++; /* gathering-done waits for the mapping */
  punch_tcp_mapping_discover_async (servers, n, 0, PUNCH_SESSION_TCP_MAPPING_MS, self->cancellable,
                                    on_mapped, g_object_ref (self));
}

gboolean
punch_session_tcp_holds (PunchSession *self)
{
  PunchSessionTcp *tcp = self->tcp;

  return tcp && (tcp->mapping_pending || tcp->punching || tcp->parked || tcp->is_path);
}

GError *
punch_session_tcp_explain (PunchSession *self, GError *error)
{
  PunchSessionTcp *tcp = self->tcp;
  GError *out;

  if (tcp == NULL || tcp->is_path)
    return error;
  if (tcp->error)
    out = g_error_new (error->domain, error->code, "%s; %s", error->message, tcp->error->message);
  else if (tcp->local && tcp->remote == NULL)
    out = g_error_new (error->domain, error->code,
                       "%s; TCP: the peer announced no TCP candidate (tcptype so)", error->message);
  else
    return error;
  g_error_free (error);
  return out;
}

void
punch_session_tcp_free (PunchSession *self)
{
  PunchSessionTcp *tcp = g_steal_pointer (&self->tcp);

  if (tcp == NULL)
    return;
  close_connection (tcp);
  punch_source_clear (&tcp->grace_source);
  punch_source_clear (&tcp->parked_source);
  if (tcp->parked)
    drop_connection (g_steal_pointer (&tcp->parked));
  g_clear_pointer (&tcp->mapping, punch_tcp_mapping_free);
  g_clear_pointer (&tcp->local, punch_candidate_free);
  g_clear_pointer (&tcp->remote, punch_candidate_free);
  g_clear_error (&tcp->error);
  g_free (tcp->inbuf);
  if (tcp->out)
    g_byte_array_unref (tcp->out);
  g_free (tcp);
}
