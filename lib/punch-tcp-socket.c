/* punch-tcp-socket.c: TCP sockets that share one local port
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-tcp-socket-private.h"
#include "punch-error.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

GSocketAddress *
punch_tcp_socket_address (const PunchStunAddress *a)
{
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_bytes (
      a->addr, a->family == 6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (ip, a->port);
}

void
punch_tcp_address_from_socket (GSocketAddress *sa, PunchStunAddress *out)
{
  GInetAddress *ip;

  memset (out, 0, sizeof *out);
  if (!G_IS_INET_SOCKET_ADDRESS (sa))
    return;
  ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  out->family = g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV6 ? 6 : 4;
  memcpy (out->addr, g_inet_address_to_bytes (ip), g_inet_address_get_native_size (ip));
  out->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
}

void
punch_tcp_socket_remote (GSocket *sock, PunchStunAddress *out)
{
  g_autoptr (GSocketAddress) sa = g_socket_get_remote_address (sock, NULL);

  memset (out, 0, sizeof *out);
  if (sa)
    punch_tcp_address_from_socket (sa, out);
}

GSocket *
punch_tcp_socket_new_bound (int family, guint16 port, PunchStunAddress *bound, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) any = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) local_error = NULL;
  PunchStunAddress a = { 0 };
  struct sockaddr_storage native;
  gsize native_len;

  g_return_val_if_fail (family == 4 || family == 6, NULL);

  sock = g_socket_new (family == 6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4,
                       G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &local_error);
  if (sock == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot make a TCP socket: %s",
                   local_error->message);
      return NULL;
    }
  g_socket_set_blocking (sock, FALSE);
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, &local_error)
      || !g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED,
                   "cannot share TCP port %u (SO_REUSEADDR, SO_REUSEPORT): %s", port,
                   local_error->message);
      return NULL;
    }
  if (family == 6)
    g_socket_set_option (sock, IPPROTO_IPV6, IPV6_V6ONLY, 1, NULL);
  g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  a.family = family;
  a.port = port;
  any = punch_tcp_socket_address (&a);
  native_len = g_socket_address_get_native_size (any);
  if (!g_socket_address_to_native (any, &native, sizeof native, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "%s", local_error->message);
      return NULL;
    }
  if (bind (g_socket_get_fd (sock), (struct sockaddr *)&native, native_len) != 0)
    {
      int saved = errno;
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot bind TCP port %u: %s", port,
                   g_strerror (saved));
      return NULL;
    }
  local = g_socket_get_local_address (sock, &local_error);
  if (local == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "%s", local_error->message);
      return NULL;
    }
  if (bound)
    punch_tcp_address_from_socket (local, bound);
  return g_steal_pointer (&sock);
}

gboolean
punch_tcp_socket_connect_start (GSocket *sock, const PunchStunAddress *dest, GError **error)
{
  g_autoptr (GSocketAddress) sa = punch_tcp_socket_address (dest);
  g_autoptr (GError) local_error = NULL;

  if (g_socket_connect (sock, sa, NULL, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}
