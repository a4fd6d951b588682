/* punch-session-secure.c: the session's QUIC channel over its selected pair
 *
 * The session creates a PunchQuic (punch-quic.c) with its identity and pins,
 * starts it when ICE has a working pair, feeds it what arrives on the pair,
 * and sends what it writes: batches of equal packets in one sendmsg() (UDP
 * GSO) on the pair's own socket when the local candidate is not a relay,
 * else one by one through libnice.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session.h"
#include "punch-error.h"
#include "punch-session-private.h"
#include "punch-quic-private.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <nice/agent.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* ---- the secure channel ---------------------------------------------------- */

/* Which side starts the QUIC handshake: the controlling one. With the role
 * left to ICE (auto, both sides controlling until a conflict is resolved
 * inside libnice, which does not tell), both sides compare the two ufrags. */
static gboolean
quic_is_client (PunchSession *self)
{
  if (self->role_explicit || self->config->role != PUNCH_ROLE_AUTO)
    return self->controlling;
  return g_strcmp0 (self->local_ufrag, self->remote_ufrag) < 0;
}

/* One sendmsg() for a batch of equal packets (UDP GSO) on the selected
 * pair's own socket. FALSE when that cannot be done: the caller sends them
 * one by one through libnice. */
static gboolean
send_direct (PunchSession *self, const guint8 *data, gsize len, gsize segment)
{
  struct iovec iov = { (void *)data, len };
  union
  {
    char buf[CMSG_SPACE (sizeof (guint16))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = { 0 };
  ssize_t n;

  if (self->direct_socket == NULL)
    return FALSE;
  msg.msg_name = &self->direct_addr;
  msg.msg_namelen = self->direct_addrlen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (len > segment)
    {
      struct cmsghdr *cm;
      guint16 seg = (guint16)segment;

      if (self->gso_off)
        return FALSE;
      memset (&control, 0, sizeof control);
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;
      cm = CMSG_FIRSTHDR (&msg);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN (sizeof seg);
      memcpy (CMSG_DATA (cm), &seg, sizeof seg);
    }
  n = sendmsg (g_socket_get_fd (self->direct_socket), &msg, MSG_DONTWAIT);
  if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return TRUE; /* sent, or lost in a full buffer: QUIC recovers either way */
  if (errno == EADDRNOTAVAIL || errno == ENETUNREACH || errno == EHOSTUNREACH || errno == ENETDOWN
      || errno == EPERM)
    {
      /* the address went away (or a firewall refuses): an ICE restart finds another path */
      punch_session_path_broken (self);
      return TRUE;
    }
  if (len > segment)
    {
      g_debug ("session %p: UDP GSO unavailable (%s): one packet per send", self,
               g_strerror (errno));
      self->gso_off = TRUE;
    }
  return FALSE;
}

static void
on_quic_send (gpointer user_data, const guint8 *data, gsize len, gsize segment)
{
  PunchSession *self = user_data;

  if (punch_session_tcp_send (self, data, len, segment))
    return; /* framed on the TCP path (punch-session-tcp.c) */
  if (self->path_agent == NULL)
    return;
  if (send_direct (self, data, len, segment))
    return;
  for (gsize off = 0; off < len; off += segment)
    nice_agent_send (self->path_agent, self->path_stream_id, 1, MIN (segment, len - off),
                     (const gchar *)data + off);
}

static void
on_quic_established (gpointer user_data)
{
  PunchSession *self = user_data;
  PunchQuicStats qs;

  punch_quic_get_stats (self->quic, &qs);
  self->stats.handshake_ms = qs.handshake_ms;
  g_info ("session %p: secure channel (QUIC, TLS 1.3) to peer %s after %" G_GINT64_FORMAT
          " ms of handshake",
          self, punch_quic_get_peer_fingerprint (self->quic), qs.handshake_ms);
  if (self->state != PUNCH_STATE_GATHERING && self->state != PUNCH_STATE_CHECKING)
    return;
  self->connected_time = g_get_monotonic_time ();
  self->stats.time_to_connected_ms = punch_session_elapsed_ms (self);
  punch_session_watch_path (self);
  punch_session_set_state (self, PUNCH_STATE_CONNECTED);
  if (self->state == PUNCH_STATE_CONNECTED)
    punch_session_try_direct (self);
}

static void
on_quic_closed (gpointer user_data, const GError *error)
{
  PunchSession *self = user_data;

  if (error)
    {
      punch_session_fail_with_error (self, error, ""); /* explained by on_quic_explain() */
      return;
    }
  g_info ("session %p: the peer closed the connection", self);
  punch_session_set_state (self, PUNCH_STATE_CLOSED);
}

static void
on_quic_datagram (gpointer user_data, GBytes *bytes)
{
  PunchSession *self = user_data;

  self->stats.bytes_received += g_bytes_get_size (bytes);
  self->stats.packets_received++;
  if (self->state == PUNCH_STATE_CONNECTED)
    {
      g_signal_emit (self, punch_session_signals[SIGNAL_DATAGRAM], 0, bytes);
      return;
    }
  /* 1-RTT data can overtake the end of the handshake: deliver at CONNECTED */
  if (g_queue_get_length (&self->early_datagrams) < 256)
    g_queue_push_tail (&self->early_datagrams, g_bytes_ref (bytes));
  else
    self->stats.datagrams_dropped++;
}

static void
on_quic_stream (gpointer user_data, GIOStream *stream)
{
  PunchSession *self = user_data;

  g_signal_emit (self, punch_session_signals[SIGNAL_STREAM], 0, stream);
}

static void
on_quic_writable (gpointer user_data)
{
  PunchSession *self = user_data;

  g_signal_emit (self, punch_session_signals[SIGNAL_WRITABLE], 0);
}

static GError *
on_quic_explain (gpointer user_data, const GError *error)
{
  return punch_session_explain_silence (user_data, error);
}

static const PunchQuicCallbacks quic_callbacks = {
  .explain = on_quic_explain,
  .send = on_quic_send,
  .established = on_quic_established,
  .closed = on_quic_closed,
  .datagram = on_quic_datagram,
  .stream = on_quic_stream,
  .writable = on_quic_writable,
};

void
punch_session_start_secure_channel (PunchSession *self)
{
  g_autoptr (GError) error = NULL;
  gboolean client = quic_is_client (self);

  self->ice_connected = TRUE;
  self->quic_client = client;
  self->ice_connected_time = g_get_monotonic_time ();
  self->stats.time_to_path_ms = punch_session_elapsed_ms (self);
  if (self->state == PUNCH_STATE_GATHERING)
    punch_session_set_state (self, PUNCH_STATE_CHECKING);
  g_debug ("session %p: path up after %" G_GINT64_FORMAT " ms; QUIC %s", self,
           self->stats.time_to_path_ms, client ? "client" : "server");
  if (!punch_quic_start (self->quic, client, &error))
    {
      punch_session_fail_with_error (self, error, "");
      return;
    }
  while (!g_queue_is_empty (&self->early_packets) && self->quic)
    {
      g_autoptr (GBytes) packet = g_queue_pop_head (&self->early_packets);
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);
      punch_quic_receive (self->quic, data, len);
    }
}

/* The selected pair's socket: bigger buffers (a burst at a few hundred
 * Mbit/s overflows Linux's default 208 KiB receive buffer), and, when the
 * local candidate is not a relay (TURN framing is libnice's), QUIC's batches
 * go straight to it. Best effort. */
void
punch_session_use_selected_socket (PunchSession *self)
{
  g_autoptr (GSocket) socket
      = nice_agent_get_selected_socket (self->path_agent, self->path_stream_id, 1);
  g_autoptr (GSocketAddress) remote = NULL;
  int fd, size = 4 * 1024 * 1024;

  g_clear_object (&self->direct_socket);
  if (socket == NULL)
    return;
  if (self->selected->local->type != PUNCH_CANDIDATE_RELAY
      && self->selected->local->transport == PUNCH_TRANSPORT_UDP
      && g_socket_get_socket_type (socket) == G_SOCKET_TYPE_DATAGRAM && !g_getenv ("PUNCH_NO_GSO"))
    {
      remote = g_inet_socket_address_new_from_string (self->selected->remote->address,
                                                      self->selected->remote->port);
      if (remote
          && g_socket_address_to_native (remote, &self->direct_addr, sizeof self->direct_addr,
                                         NULL))
        {
          self->direct_addrlen = g_socket_address_get_native_size (remote);
          self->direct_socket = g_object_ref (socket);
        }
    }
  fd = g_socket_get_fd (socket);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

PunchQuic *
punch_session_new_quic (PunchSession *self)
{
  return punch_quic_new (self->identity, (const char *const *)self->config->pinned_peers,
                         self->context, &quic_callbacks, self);
}
