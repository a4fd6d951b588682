/* punch-check.c: the probes behind `punch check`
 *
 * Phases, in this order because an address-restricted NAT opens to every
 * address the host has sent to (see docs/natlab.md):
 *
 *   1. Binding to the first server only, from five fresh sockets: F
 *      (filtering), M (mapping) and three more for the port allocation.
 *   2. From F, RFC 5780 CHANGE-REQUEST "change IP and port" and "change
 *      port", and the hairpin probe (socket H to M's public address).
 *   3. From M, the RFC 5780 mapping tests II and III and a Binding to every
 *      other server; then TCP to every server.
 *   4. An Allocate to every TURN server (libpunch's diagnosis prober).
 *   5. With --lifetime, the mapping lifetime.
 *
 * Each UDP transaction is sent at 0, 250, 750 and 1750 ms and given up at
 * 2750 ms (RFC 8489 section 6.2.1 with RTO 250 ms, Rc 4, Rm 4), and nothing
 * runs past the caller's deadline. A response counts only if it parses
 * strictly, carries the transaction id of a request sent from the socket it
 * arrived on, and comes from the address the test expects.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-check.h"
#include "punch-session-private.h"
#include "punch-tls-bridge.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define N_PORT_SOCKETS 3
#define MAX_SENDS 4
static const gint64 send_at_ms[MAX_SENDS] = { 0, 250, 750, 1750 };
#define GIVE_UP_MS 2750
#define TCP_TIMEOUT_MS 2000

const char *
punch_check_reject_to_string (PunchCheckReject r)
{
  switch (r)
    {
    case PUNCH_CHECK_REJECT_SHORT: return "short";
    case PUNCH_CHECK_REJECT_NOT_STUN: return "not-stun";
    case PUNCH_CHECK_REJECT_MALFORMED: return "malformed";
    case PUNCH_CHECK_REJECT_FINGERPRINT: return "bad-fingerprint";
    case PUNCH_CHECK_REJECT_WRONG_TXID: return "wrong-transaction-id";
    case PUNCH_CHECK_REJECT_WRONG_SOURCE: return "unexpected-source";
    case PUNCH_CHECK_REJECT_UNKNOWN_ATTRIBUTE: return "unknown-required-attribute";
    case PUNCH_CHECK_REJECT_NO_ADDRESS: return "no-mapped-address";
    case PUNCH_CHECK_REJECT_N:
    default: return "?";
    }
}

static void
server_free (PunchCheckServer *s)
{
  g_free (s->uri);
  g_free (s->resolve_error);
  g_free (s->software);
  g_free (s->tcp_error);
  g_free (s);
}

static void
turn_free (PunchCheckTurn *t)
{
  g_free (t->uri);
  g_free (t->message);
  g_free (t);
}

PunchCheckReport *
punch_check_report_new (void)
{
  PunchCheckReport *r = g_new0 (PunchCheckReport, 1);

  r->servers = g_ptr_array_new_with_free_func ((GDestroyNotify)server_free);
  r->turns = g_ptr_array_new_with_free_func ((GDestroyNotify)turn_free);
  return r;
}

void
punch_check_report_free (PunchCheckReport *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->servers);
  g_ptr_array_unref (r->turns);
  g_free (r->lifetime_reason);
  g_free (r);
}

/* ---- addresses and sockets ---------------------------------------------- */

static socklen_t
to_sockaddr (const PunchStunAddress *a, struct sockaddr_storage *ss)
{
  memset (ss, 0, sizeof *ss);
  if (a->family == 4)
    {
      struct sockaddr_in *sin = (struct sockaddr_in *)ss;
      sin->sin_family = AF_INET;
      sin->sin_port = g_htons (a->port);
      memcpy (&sin->sin_addr, a->addr, 4);
      return sizeof *sin;
    }
  else
    {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = g_htons (a->port);
      memcpy (&sin6->sin6_addr, a->addr, 16);
      return sizeof *sin6;
    }
}

static void
from_sockaddr (const struct sockaddr_storage *ss, PunchStunAddress *a)
{
  memset (a, 0, sizeof *a);
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
      a->family = 4;
      a->port = g_ntohs (sin->sin_port);
      memcpy (a->addr, &sin->sin_addr, 4);
    }
  else if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
      if (IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr))
        {
          a->family = 4;
          memcpy (a->addr, (const guint8 *)&sin6->sin6_addr + 12, 4);
        }
      else
        {
          a->family = 6;
          memcpy (a->addr, &sin6->sin6_addr, 16);
        }
      a->port = g_ntohs (sin6->sin6_port);
    }
}

static int
udp_socket (int family, PunchStunAddress *bound, GError **error)
{
  int fd = socket (family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  PunchStunAddress any = { .family = family };

  if (fd < 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot open a UDP socket: %s",
                   g_strerror (errno));
      return -1;
    }
  len = to_sockaddr (&any, &ss);
  if (bind (fd, (struct sockaddr *)&ss, len) < 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot bind a UDP socket: %s",
                   g_strerror (errno));
      close (fd);
      return -1;
    }
  len = sizeof ss;
  getsockname (fd, (struct sockaddr *)&ss, &len);
  from_sockaddr (&ss, bound);
  return fd;
}

/* The local IP the kernel would use toward @dest (no packet is sent). */
static gboolean
local_ip_toward (const PunchStunAddress *dest, PunchStunAddress *out)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int fd = socket (dest->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  len = to_sockaddr (dest, &ss);
  ok = connect (fd, (struct sockaddr *)&ss, len) == 0;
  len = sizeof ss;
  ok = ok && getsockname (fd, (struct sockaddr *)&ss, &len) == 0;
  if (ok)
    from_sockaddr (&ss, out);
  close (fd);
  return ok;
}

/* ---- UDP transactions --------------------------------------------------- */

typedef struct
{
  int fd;        /* sends from here; the answer must arrive here */
  int listen_fd; /* hairpin: the request itself must arrive here; else -1 */
  PunchStunAddress dest;
  PunchStunAddress expect; /* the answer's source */
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  GByteArray *request;
  guint sends;
  gint64 first_send;
  gboolean done;
  gboolean wrong_source;
  PunchCheckProbe *out;
  PunchCheckServer *server; /* where OTHER-ADDRESS etc. go; may be NULL */
} Tx;

static void
tx_init (Tx *tx, int fd, const PunchStunAddress *dest, const PunchStunAddress *expect,
         guint32 change, PunchCheckProbe *out, PunchCheckServer *server)
{
  memset (tx, 0, sizeof *tx);
  tx->fd = fd;
  tx->listen_fd = -1;
  tx->dest = *dest;
  tx->expect = expect ? *expect : *dest;
  tx->out = out;
  tx->server = server;
  punch_stun_random_txid (tx->txid);
  tx->request
      = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST, tx->txid);
  if (change)
    punch_stun_message_add_u32 (tx->request, PUNCH_STUN_ATTR_CHANGE_REQUEST, change);
  punch_stun_message_add_fingerprint (tx->request);
  memset (out, 0, sizeof *out);
  out->status = PUNCH_CHECK_PROBE_NOT_RUN;
}

static void
tx_clear (Tx *tx)
{
  g_clear_pointer (&tx->request, g_byte_array_unref);
}

static void
tx_finish (Tx *tx, PunchCheckProbeStatus status)
{
  tx->done = TRUE;
  tx->out->status = status;
}

static void
handle_datagram (PunchCheckReport *rep, Tx *txs, guint n, int fd, const guint8 *buf, gsize len,
                 const PunchStunAddress *from)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;
  Tx *tx = NULL;

  if (!punch_stun_message_parse (buf, len, &m, &error))
    {
      const char *why = punch_stun_reject_reason (error);
      PunchCheckReject r
          = g_str_equal (why, PUNCH_STUN_REJECT_SHORT)         ? PUNCH_CHECK_REJECT_SHORT
            : g_str_equal (why, PUNCH_STUN_REJECT_NOT_STUN)    ? PUNCH_CHECK_REJECT_NOT_STUN
            : g_str_equal (why, PUNCH_STUN_REJECT_FINGERPRINT) ? PUNCH_CHECK_REJECT_FINGERPRINT
                                                               : PUNCH_CHECK_REJECT_MALFORMED;
      rep->rejected[r]++;
      g_debug ("rejected a datagram: %s", error->message);
      return;
    }

  /* a hairpinned request arriving at the mapping socket */
  if (m.klass == PUNCH_STUN_CLASS_REQUEST)
    {
      for (guint i = 0; i < n; i++)
        if (txs[i].listen_fd == fd && memcmp (txs[i].txid, m.txid, PUNCH_STUN_TXID_SIZE) == 0)
          {
            if (!txs[i].done)
              {
                txs[i].out->source = *from;
                txs[i].out->rtt_ms = (g_get_monotonic_time () - txs[i].first_send) / 1000.0;
                tx_finish (&txs[i], PUNCH_CHECK_PROBE_ANSWERED);
              }
            return;
          }
      rep->rejected[PUNCH_CHECK_REJECT_WRONG_TXID]++;
      return;
    }

  for (guint i = 0; i < n && tx == NULL; i++)
    if (txs[i].fd == fd && txs[i].listen_fd < 0
        && memcmp (txs[i].txid, m.txid, PUNCH_STUN_TXID_SIZE) == 0)
      tx = &txs[i];
  if (tx == NULL)
    {
      rep->rejected[PUNCH_CHECK_REJECT_WRONG_TXID]++;
      return;
    }
  if (tx->done)
    return; /* an answer to a retransmission */
  if (!punch_stun_address_equal (from, &tx->expect))
    {
      /* forged, or a server that ignores CHANGE-REQUEST: not an answer */
      rep->rejected[PUNCH_CHECK_REJECT_WRONG_SOURCE]++;
      tx->wrong_source = TRUE;
      tx->out->source = *from;
      return;
    }
  if (m.method != PUNCH_STUN_METHOD_BINDING || m.klass == PUNCH_STUN_CLASS_INDICATION)
    {
      rep->rejected[PUNCH_CHECK_REJECT_MALFORMED]++;
      return;
    }
  if (m.n_unknown_required > 0)
    {
      /* RFC 8489 section 7.3.3: such a response fails the transaction */
      rep->rejected[PUNCH_CHECK_REJECT_UNKNOWN_ATTRIBUTE]++;
      return;
    }
  tx->out->source = *from;
  tx->out->rtt_ms = (g_get_monotonic_time () - tx->first_send) / 1000.0;
  if (m.klass == PUNCH_STUN_CLASS_ERROR)
    {
      tx->out->error_code = m.error_code;
      tx_finish (tx, PUNCH_CHECK_PROBE_ERROR);
      return;
    }
  if (m.present & PUNCH_STUN_HAS_XOR_MAPPED)
    tx->out->mapped = m.xor_mapped;
  else if (m.present & PUNCH_STUN_HAS_MAPPED)
    tx->out->mapped = m.mapped;
  else
    {
      rep->rejected[PUNCH_CHECK_REJECT_NO_ADDRESS]++;
      return;
    }
  if (tx->server)
    {
      if (m.present & PUNCH_STUN_HAS_OTHER_ADDRESS)
        tx->server->other_address = m.other_address;
      if (m.present & PUNCH_STUN_HAS_RESPONSE_ORIGIN)
        tx->server->response_origin = m.response_origin;
      if ((m.present & PUNCH_STUN_HAS_SOFTWARE) && tx->server->software == NULL)
        tx->server->software
            = g_utf8_make_valid ((const char *)m.software.data, MIN (m.software.len, 128));
    }
  tx_finish (tx, PUNCH_CHECK_PROBE_ANSWERED);
}

static void
drain (PunchCheckReport *rep, Tx *txs, guint n, int fd)
{
  guint8 buf[PUNCH_STUN_MAX_SIZE + 1];

  /* bounded: a flood of datagrams cannot keep us here */
  for (int k = 0; k < 64; k++)
    {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      PunchStunAddress from;
      ssize_t got = recvfrom (fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);

      if (got < 0)
        return;
      from_sockaddr (&ss, &from);
      if (got > PUNCH_STUN_MAX_SIZE)
        {
          rep->rejected[PUNCH_CHECK_REJECT_MALFORMED]++;
          continue;
        }
      handle_datagram (rep, txs, n, fd, buf, got, &from);
    }
}

/* Runs @txs side by side until each is answered or given up, or @deadline. */
static void
run_transactions (PunchCheckReport *rep, Tx *txs, guint n, gint64 deadline)
{
  struct pollfd pfds[32];

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 wake = deadline;
      guint npfd = 0, pending = 0;

      for (guint i = 0; i < n; i++)
        {
          Tx *tx = &txs[i];
          gint64 next;

          if (tx->done)
            continue;
          if (tx->sends == 0)
            tx->first_send = now;
          if (tx->sends < MAX_SENDS && now >= tx->first_send + send_at_ms[tx->sends] * 1000)
            {
              struct sockaddr_storage ss;
              socklen_t sl = to_sockaddr (&tx->dest, &ss);

              /* errors (no route, ...) are like losses: the schedule goes on */
              (void)sendto (tx->fd, tx->request->data, tx->request->len, 0, (struct sockaddr *)&ss,
                            sl);
              tx->sends++;
            }
          if (now >= tx->first_send + GIVE_UP_MS * 1000)
            {
              tx_finish (tx, tx->wrong_source ? PUNCH_CHECK_PROBE_WRONG_SOURCE
                                              : PUNCH_CHECK_PROBE_TIMEOUT);
              continue;
            }
          pending++;
          next = tx->sends < MAX_SENDS ? tx->first_send + send_at_ms[tx->sends] * 1000
                                       : tx->first_send + GIVE_UP_MS * 1000;
          wake = MIN (wake, next);
        }
      if (pending == 0 || now >= deadline)
        break;

      for (guint i = 0; i < n; i++)
        {
          int fds[2] = { txs[i].fd, txs[i].listen_fd };
          for (int k = 0; k < 2; k++)
            {
              gboolean seen = fds[k] < 0;
              for (guint j = 0; j < npfd && !seen; j++)
                seen = pfds[j].fd == fds[k];
              if (!seen && npfd < G_N_ELEMENTS (pfds))
                {
                  pfds[npfd].fd = fds[k];
                  pfds[npfd].events = POLLIN;
                  pfds[npfd].revents = 0;
                  npfd++;
                }
            }
        }
      if (poll (pfds, npfd, (int)MAX (0, (wake - now + 999) / 1000)) > 0)
        for (guint j = 0; j < npfd; j++)
          if (pfds[j].revents & POLLIN)
            drain (rep, txs, n, pfds[j].fd);
    }
  /* the deadline cut the rest short */
  for (guint i = 0; i < n; i++)
    if (!txs[i].done)
      tx_finish (&txs[i], txs[i].sends == 0     ? PUNCH_CHECK_PROBE_NOT_RUN
                          : txs[i].wrong_source ? PUNCH_CHECK_PROBE_WRONG_SOURCE
                                                : PUNCH_CHECK_PROBE_TIMEOUT);
}

/* ---- TCP ---------------------------------------------------------------- */

typedef struct
{
  int fd;
  PunchCheckServer *server;
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  gboolean connected, done;
  gint64 start;
  guint8 buf[PUNCH_STUN_MAX_SIZE];
  gsize have;
} TcpProbe;

static void
tcp_fail (TcpProbe *t, const char *why)
{
  t->done = TRUE;
  t->server->tcp_ok = FALSE;
  g_free (t->server->tcp_error);
  t->server->tcp_error = g_strdup (why);
}

static void
tcp_readable (PunchCheckReport *rep, TcpProbe *t)
{
  ssize_t got = recv (t->fd, t->buf + t->have, sizeof t->buf - t->have, 0);
  gsize need;
  PunchStunMessage m;
  g_autoptr (GError) error = NULL;

  if (got <= 0)
    {
      tcp_fail (t, got == 0 ? "the server closed the connection without answering"
                            : g_strerror (errno));
      return;
    }
  t->have += got;
  if (t->have < PUNCH_STUN_HEADER_SIZE)
    return;
  need = PUNCH_STUN_HEADER_SIZE + ((t->buf[2] << 8) | t->buf[3]);
  if (need > sizeof t->buf)
    {
      tcp_fail (t, "the answer is too long");
      return;
    }
  if (t->have < need)
    return;
  if (!punch_stun_message_parse (t->buf, need, &m, &error))
    {
      rep->rejected[PUNCH_CHECK_REJECT_MALFORMED]++;
      tcp_fail (t, error->message);
      return;
    }
  if (memcmp (m.txid, t->txid, PUNCH_STUN_TXID_SIZE) != 0)
    {
      rep->rejected[PUNCH_CHECK_REJECT_WRONG_TXID]++;
      tcp_fail (t, "the answer has another transaction id");
      return;
    }
  t->done = TRUE;
  t->server->tcp_ok = TRUE;
  rep->tcp_any = TRUE;
  if (m.present & PUNCH_STUN_HAS_XOR_MAPPED)
    t->server->tcp_mapped = m.xor_mapped;
  else if (m.present & PUNCH_STUN_HAS_MAPPED)
    t->server->tcp_mapped = m.mapped;
}

static void
tcp_probe_all (PunchCheckReport *rep, gint64 deadline)
{
  GPtrArray *servers = rep->servers;
  g_autofree TcpProbe *t = g_new0 (TcpProbe, servers->len);
  gint64 end = MIN (deadline, g_get_monotonic_time () + TCP_TIMEOUT_MS * 1000);

  for (guint i = 0; i < servers->len; i++)
    {
      PunchCheckServer *s = servers->pdata[i];
      struct sockaddr_storage ss;
      socklen_t sl;

      t[i].server = s;
      t[i].fd = -1;
      if (!s->resolved)
        {
          t[i].done = TRUE;
          continue;
        }
      t[i].fd = socket (s->addr.family == 6 ? AF_INET6 : AF_INET,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (t[i].fd < 0)
        {
          tcp_fail (&t[i], g_strerror (errno));
          continue;
        }
      sl = to_sockaddr (&s->addr, &ss);
      t[i].start = g_get_monotonic_time ();
      if (connect (t[i].fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
        tcp_fail (&t[i], g_strerror (errno));
    }

  for (;;)
    {
      struct pollfd pfds[PUNCH_CHECK_MAX_SERVERS];
      guint map[PUNCH_CHECK_MAX_SERVERS], npfd = 0;
      gint64 now = g_get_monotonic_time ();

      for (guint i = 0; i < servers->len && npfd < G_N_ELEMENTS (pfds); i++)
        if (!t[i].done)
          {
            pfds[npfd].fd = t[i].fd;
            pfds[npfd].events = t[i].connected ? POLLIN : POLLOUT;
            pfds[npfd].revents = 0;
            map[npfd++] = i;
          }
      if (npfd == 0)
        break;
      if (now >= end)
        {
          for (guint j = 0; j < npfd; j++)
            tcp_fail (&t[map[j]],
                      t[map[j]].connected ? "no answer in time" : "the connection timed out");
          break;
        }
      if (poll (pfds, npfd, (int)((end - now + 999) / 1000)) <= 0)
        continue;
      for (guint j = 0; j < npfd; j++)
        {
          TcpProbe *p = &t[map[j]];

          if (!pfds[j].revents)
            continue;
          if (!p->connected)
            {
              int err = 0;
              socklen_t el = sizeof err;
              g_autoptr (GByteArray) req = NULL;

              getsockopt (p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
              if (err != 0)
                {
                  tcp_fail (p, g_strerror (err));
                  continue;
                }
              p->connected = TRUE;
              p->server->tcp_rtt_ms = (g_get_monotonic_time () - p->start) / 1000.0;
              punch_stun_random_txid (p->txid);
              req = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST,
                                            p->txid);
              punch_stun_message_add_fingerprint (req);
              if (send (p->fd, req->data, req->len, MSG_NOSIGNAL) != (ssize_t)req->len)
                tcp_fail (p, "cannot send the request");
            }
          else
            tcp_readable (rep, p);
        }
    }
  for (guint i = 0; i < servers->len; i++)
    if (t[i].fd >= 0)
      close (t[i].fd);
}

/* ---- TURN --------------------------------------------------------------- */

typedef struct
{
  PunchCheckTurn *turn;
  PunchTlsBridge *bridge;
  guint *pending;
} TurnCtx;

static void
on_turn_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TurnCtx *ctx = user_data;
  g_autoptr (GError) error = NULL;

  if (punch_session_diagnose_turn_finish (result, &error))
    {
      ctx->turn->allocated = TRUE;
      ctx->turn->auth = "accepted";
      ctx->turn->message = g_strdup ("allocation succeeded, and was released");
    }
  else
    {
      ctx->turn->allocated = FALSE;
      if (error->domain == PUNCH_ERROR)
        ctx->turn->code = punch_error_code_to_string (error->code);
      else
        ctx->turn->code
            = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? "timeout" : "failed";
      ctx->turn->auth
          = g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION) ? "rejected"
            : g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE)  ? "not-reached"
                                                                             : "unknown";
      if (ctx->bridge && punch_tls_bridge_get_last_error (ctx->bridge))
        ctx->turn->message = g_strdup_printf (
            "%s (TLS: %s)", error->message, punch_tls_bridge_get_last_error (ctx->bridge)->message);
      else
        ctx->turn->message = g_strdup (error->message);
    }
  (*ctx->pending)--;
}

static gboolean
on_turn_deadline (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static char *
ip_string (const PunchStunAddress *a)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_bytes (
      a->addr, a->family == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
  return g_inet_address_to_string (ia);
}

static gboolean
resolve (const char *host, int family, PunchStunAddress *out, char **why)
{
  g_autoptr (GResolver) resolver = NULL;
  g_autoptr (GError) error = NULL;
  GList *list;

  if (punch_stun_address_parse (host, out))
    return TRUE;
  {
    /* an IP literal without a port */
    g_autofree char *with_port
        = strchr (host, ':') ? g_strdup_printf ("[%s]:0", host) : g_strdup_printf ("%s:0", host);
    if (punch_stun_address_parse (with_port, out))
      {
        if (family && out->family != family)
          {
            *why = g_strdup_printf ("%s is not an IPv%d address", host, family);
            return FALSE;
          }
        return TRUE;
      }
  }
  resolver = g_resolver_get_default ();
  list = g_resolver_lookup_by_name (resolver, host, NULL, &error);
  if (list == NULL)
    {
      *why = g_strdup_printf ("cannot resolve %s: %s", host, error->message);
      return FALSE;
    }
  for (GList *l = list; l; l = l->next)
    {
      GInetAddress *ia = l->data;
      int f = g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;

      if (family && f != family)
        continue;
      memset (out, 0, sizeof *out);
      out->family = f;
      memcpy (out->addr, g_inet_address_to_bytes (ia), g_inet_address_get_native_size (ia));
      g_resolver_free_addresses (list);
      return TRUE;
    }
  g_resolver_free_addresses (list);
  *why = g_strdup_printf ("%s has no IPv%d address", host, family);
  return FALSE;
}

static void
turn_probe_all (const PunchCheckConfig *cfg, PunchCheckReport *rep, gint64 deadline,
                PunchCheckProgressFunc progress, gpointer ud)
{
  /* the diagnosis prober's timers use the global default context */
  GMainContext *ctx = g_main_context_default ();
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GPtrArray) bridges
      = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_tls_bridge_free);
  g_autofree TurnCtx *tctx = g_new0 (TurnCtx, cfg->turn->len);
  guint pending = 0;
  GSource *timer;

  for (guint i = 0; i < cfg->turn->len; i++)
    {
      const PunchIceServer *s = cfg->turn->pdata[i];
      PunchCheckTurn *t = g_new0 (PunchCheckTurn, 1);
      PunchStunAddress a;
      g_autofree char *why = NULL;
      g_autofree char *ip = NULL;

      t->uri = punch_ice_server_to_uri (s);
      t->transport = s->transport;
      t->auth = "unknown";
      g_ptr_array_add (rep->turns, t);
      if (progress)
        progress ("turn", t->uri, ud);
      if (!resolve (s->host, cfg->family, &a, &why))
        {
          t->code = "unreachable";
          t->auth = "not-reached";
          t->message = g_steal_pointer (&why);
          continue;
        }
      a.port = s->port;
      ip = ip_string (&a);
      tctx[i].turn = t;
      tctx[i].pending = &pending;
      if (s->kind == PUNCH_ICE_SERVER_TURNS)
        {
          g_autoptr (GError) error = NULL;
          PunchTlsBridge *b = punch_tls_bridge_new (s->host, s->port, NULL, NULL, NULL, &error);
          if (b == NULL)
            {
              t->code = "failed";
              t->message = g_strdup (error->message);
              continue;
            }
          g_ptr_array_add (bridges, b);
          tctx[i].bridge = b;
          punch_session_diagnose_turn_async (s, "127.0.0.1", punch_tls_bridge_get_port (b), cancel,
                                             on_turn_done, &tctx[i]);
        }
      else
        punch_session_diagnose_turn_async (s, ip, s->port, cancel, on_turn_done, &tctx[i]);
      pending++;
    }
  timer = g_timeout_source_new (MAX (0, (deadline - g_get_monotonic_time ()) / 1000));
  g_source_set_callback (timer, on_turn_deadline, cancel, NULL);
  g_source_attach (timer, ctx);
  while (pending > 0)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_ptr_array_set_size (bridges, 0);
  /* let the cancelled sources and the bridges' sockets go */
  while (g_main_context_iteration (ctx, FALSE))
    ;
}

/* ---- lifetime ------------------------------------------------------------- */

/* Socket L asks the first server once; after a wait, socket X asks again
 * with RESPONSE-PORT set to L's public port, so the answer goes to L's
 * mapping from the address L has talked to. L hears it iff the mapping (and
 * its filter entry) outlived the silence. Waits double; L is fresh for each. */
static void
measure_lifetime (const PunchCheckConfig *cfg, PunchCheckReport *rep, PunchCheckServer *s1,
                  PunchCheckProgressFunc progress, gpointer ud)
{
  static const guint waits[] = { 2, 5, 10, 20, 40, 80, 160, 320 };
  gint64 end = g_get_monotonic_time () + (gint64)cfg->lifetime_max_s * G_USEC_PER_SEC;

  rep->lifetime_measured = FALSE;
  for (gsize w = 0; w < G_N_ELEMENTS (waits); w++)
    {
      PunchStunAddress lb, xb;
      g_autoptr (GError) error = NULL;
      PunchCheckProbe pl;
      Tx tl;
      int lfd, xfd;
      g_autofree char *detail = NULL;

      if (g_get_monotonic_time () + (gint64)(waits[w] + 6) * G_USEC_PER_SEC > end)
        {
          if (rep->lifetime_measured)
            rep->lifetime_reason = g_strdup_printf (
                "the mapping outlived %u s of silence; longer waits would pass --lifetime-max",
                rep->lifetime_min_s);
          break;
        }
      lfd = udp_socket (s1->addr.family, &lb, &error);
      xfd = lfd >= 0 ? udp_socket (s1->addr.family, &xb, &error) : -1;
      if (xfd < 0)
        {
          rep->lifetime_reason = g_strdup (error->message);
          if (lfd >= 0)
            close (lfd);
          return;
        }
      tx_init (&tl, lfd, &s1->addr, NULL, 0, &pl, NULL);
      run_transactions (rep, &tl, 1, g_get_monotonic_time () + GIVE_UP_MS * 1000);
      if (pl.status != PUNCH_CHECK_PROBE_ANSWERED)
        {
          rep->lifetime_reason = g_strdup ("the first server stopped answering");
          tx_clear (&tl);
          close (lfd);
          close (xfd);
          return;
        }
      detail = g_strdup_printf ("%u s of silence", waits[w]);
      if (progress)
        progress ("lifetime", detail, ud);
      g_usleep ((gulong)waits[w] * G_USEC_PER_SEC);

      /* X asks; the answer must come back to L's mapping */
      {
        g_autoptr (GByteArray) req = NULL;
        guint8 txid[PUNCH_STUN_TXID_SIZE];
        guint8 v[4] = { pl.mapped.port >> 8, pl.mapped.port & 0xff, 0, 0 };
        struct sockaddr_storage ss;
        socklen_t sl = to_sockaddr (&s1->addr, &ss);
        struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN }, { .fd = xfd, .events = POLLIN } };
        gint64 t0 = g_get_monotonic_time ();
        guint sends = 0;
        gboolean heard = FALSE, refused = FALSE, ignored = FALSE;

        punch_stun_random_txid (txid);
        req = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST, txid);
        punch_stun_message_add (req, PUNCH_STUN_ATTR_RESPONSE_PORT, v, 4);
        punch_stun_message_add_fingerprint (req);
        while (!heard && !refused && !ignored && g_get_monotonic_time () < t0 + GIVE_UP_MS * 1000)
          {
            gint64 now = g_get_monotonic_time ();
            guint8 buf[PUNCH_STUN_MAX_SIZE];
            PunchStunMessage m;

            if (sends < MAX_SENDS && now >= t0 + send_at_ms[sends] * 1000)
              {
                (void)sendto (xfd, req->data, req->len, 0, (struct sockaddr *)&ss, sl);
                sends++;
              }
            if (poll (pfd, 2, 50) <= 0)
              continue;
            for (int k = 0; k < 2; k++)
              {
                ssize_t got;
                if (!(pfd[k].revents & POLLIN))
                  continue;
                got = recv (pfd[k].fd, buf, sizeof buf, 0);
                if (got <= 0 || !punch_stun_message_parse (buf, got, &m, NULL)
                    || memcmp (m.txid, txid, PUNCH_STUN_TXID_SIZE) != 0)
                  continue;
                if (k == 0 && m.klass == PUNCH_STUN_CLASS_SUCCESS)
                  heard = TRUE;
                else if (k == 1 && m.klass == PUNCH_STUN_CLASS_SUCCESS)
                  ignored = TRUE; /* answered to X itself */
                else if (m.klass == PUNCH_STUN_CLASS_ERROR)
                  refused = TRUE; /* RESPONSE-PORT not supported */
              }
          }
        tx_clear (&tl);
        close (lfd);
        close (xfd);
        if (ignored)
          {
            rep->lifetime_reason = g_strdup ("the first server ignores RESPONSE-PORT (RFC 5780), "
                                             "which the lifetime test needs");
            return;
          }
        if (refused)
          {
            rep->lifetime_reason = g_strdup ("the first server refused RESPONSE-PORT (RFC 5780), "
                                             "which the lifetime test needs");
            return;
          }
        if (!heard)
          {
            if (!rep->lifetime_measured && w == 0)
              {
                rep->lifetime_reason = g_strdup_printf (
                    "no answer reached the mapping after %u s of silence: it lives shorter than "
                    "that",
                    waits[w]);
                return;
              }
            rep->lifetime_measured = TRUE;
            rep->lifetime_max_s = waits[w];
            rep->lifetime_reason = g_strdup_printf (
                "the mapping outlived %u s of silence but not %u s", rep->lifetime_min_s, waits[w]);
            return;
          }
        rep->lifetime_measured = TRUE;
        rep->lifetime_min_s = waits[w];
      }
    }
  if (rep->lifetime_reason == NULL)
    rep->lifetime_reason
        = g_strdup_printf ("the mapping outlived every wait (%u s)", rep->lifetime_min_s);
}

/* ---- the whole run ------------------------------------------------------ */

static PunchCheckServer *
add_server (PunchCheckReport *rep, const PunchIceServer *s, int family)
{
  PunchCheckServer *cs = g_new0 (PunchCheckServer, 1);

  cs->uri = punch_ice_server_to_uri (s);
  cs->resolved = resolve (s->host, family, &cs->addr, &cs->resolve_error);
  cs->addr.port = s->port;
  cs->udp.status = PUNCH_CHECK_PROBE_NOT_RUN;
  for (guint i = 0; i < rep->servers->len; i++)
    {
      PunchCheckServer *o = rep->servers->pdata[i];
      if (cs->resolved && o->resolved && punch_stun_address_equal (&o->addr, &cs->addr))
        {
          server_free (cs);
          return NULL; /* the same server twice */
        }
    }
  g_ptr_array_add (rep->servers, cs);
  return cs;
}

gboolean
punch_check_run (const PunchCheckConfig *cfg, PunchCheckReport *rep,
                 PunchCheckProgressFunc progress, gpointer ud, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64)cfg->timeout_ms * 1000;
  PunchCheckObservations *obs = &rep->obs;
  PunchCheckServer *s1 = NULL;
  int fds[5 + 1] = { -1, -1, -1, -1, -1, -1 }; /* F, M, P1..P3, H */
  PunchStunAddress bound[6];
  int family;
  Tx tx[PUNCH_CHECK_MAX_SERVERS + 4];
  guint ntx = 0;
  PunchCheckProbe port_probe[N_PORT_SOCKETS];
  gboolean ok = FALSE;

  memset (obs, 0, sizeof *obs);
  for (guint i = 0; i < cfg->stun->len; i++)
    add_server (rep, cfg->stun->pdata[i], cfg->family);
  for (guint i = 0; i < cfg->turn->len; i++)
    {
      const PunchIceServer *t = cfg->turn->pdata[i];
      /* a turn: server answers Binding on its UDP port too */
      if (t->kind == PUNCH_ICE_SERVER_TURN && rep->servers->len < PUNCH_CHECK_MAX_SERVERS)
        {
          g_autoptr (PunchIceServer) as_stun = punch_ice_server_copy (t);
          as_stun->kind = PUNCH_ICE_SERVER_STUN;
          as_stun->transport = PUNCH_TRANSPORT_UDP;
          add_server (rep, as_stun, cfg->family);
        }
    }
  for (guint i = 0; i < rep->servers->len && s1 == NULL; i++)
    if (((PunchCheckServer *)rep->servers->pdata[i])->resolved)
      s1 = rep->servers->pdata[i];

  if (s1 != NULL)
    {
      family = s1->addr.family;
      for (int i = 0; i < 6; i++)
        if ((fds[i] = udp_socket (family, &bound[i], error)) < 0)
          goto out;

      local_ip_toward (&s1->addr, &obs->local);
      obs->local.port = bound[1].port;

      /* phase 1: the first server only */
      if (progress)
        progress ("udp", s1->uri, ud);
      tx_init (&tx[0], fds[0], &s1->addr, NULL, 0, &obs->filt1, NULL);
      tx_init (&tx[1], fds[1], &s1->addr, NULL, 0, &s1->udp, s1);
      for (int i = 0; i < N_PORT_SOCKETS; i++)
        tx_init (&tx[2 + i], fds[2 + i], &s1->addr, NULL, 0, &port_probe[i], NULL);
      ntx = 2 + N_PORT_SOCKETS;
      run_transactions (rep, tx, ntx, deadline);
      obs->map1 = s1->udp;
      /* port samples in the order the sockets were opened: F, M, P1..P3 */
      {
        const PunchCheckProbe *samples[2 + N_PORT_SOCKETS] = { &obs->filt1, &s1->udp };
        for (int i = 0; i < N_PORT_SOCKETS; i++)
          samples[2 + i] = &port_probe[i];
        for (int i = 0; i < 2 + N_PORT_SOCKETS; i++)
          if (samples[i]->status == PUNCH_CHECK_PROBE_ANSWERED)
            {
              obs->port_local[obs->n_port_samples] = bound[i].port;
              obs->port_mapped[obs->n_port_samples] = samples[i]->mapped.port;
              obs->n_port_samples++;
            }
      }
      for (guint i = 0; i < ntx; i++)
        tx_clear (&tx[i]);
      ntx = 0;
      obs->other = s1->other_address;

      /* phase 2: filtering from F, and the hairpin probe */
      {
        gboolean other = obs->other.family == family
                         && obs->filt1.status == PUNCH_CHECK_PROBE_ANSWERED
                         && !punch_stun_address_same_ip (&obs->other, &s1->addr)
                         && obs->other.port != s1->addr.port;
        PunchStunAddress change_port = s1->addr;

        change_port.port = obs->other.port;
        if (other)
          {
            if (progress)
              progress ("filtering", "RFC 5780 CHANGE-REQUEST", ud);
            tx_init (&tx[ntx++], fds[0], &s1->addr, &obs->other,
                     PUNCH_STUN_CHANGE_IP | PUNCH_STUN_CHANGE_PORT, &obs->filt2, NULL);
            tx_init (&tx[ntx++], fds[0], &s1->addr, &change_port, PUNCH_STUN_CHANGE_PORT,
                     &obs->filt3, NULL);
          }
        if (obs->map1.status == PUNCH_CHECK_PROBE_ANSWERED)
          {
            if (progress)
              progress ("hairpin", "to this host's own public address", ud);
            tx_init (&tx[ntx], fds[5], &obs->map1.mapped, NULL, 0, &obs->hairpin, NULL);
            tx[ntx++].listen_fd = fds[1];
          }
        run_transactions (rep, tx, ntx, deadline);
        for (guint i = 0; i < ntx; i++)
          tx_clear (&tx[i]);
        ntx = 0;

        /* phase 3: mapping tests II and III, and every other server */
        if (other)
          {
            PunchStunAddress d2 = obs->other, d3 = obs->other;
            d2.port = s1->addr.port;
            if (progress)
              progress ("mapping", "RFC 5780 tests II and III", ud);
            tx_init (&tx[ntx++], fds[1], &d2, NULL, 0, &obs->map2, NULL);
            tx_init (&tx[ntx++], fds[1], &d3, NULL, 0, &obs->map3, NULL);
          }
        for (guint i = 0; i < rep->servers->len; i++)
          {
            PunchCheckServer *s = rep->servers->pdata[i];
            if (s == s1 || !s->resolved || s->addr.family != family)
              continue;
            if (progress)
              progress ("udp", s->uri, ud);
            tx_init (&tx[ntx++], fds[1], &s->addr, NULL, 0, &s->udp, s);
          }
        run_transactions (rep, tx, ntx, deadline);
        for (guint i = 0; i < ntx; i++)
          tx_clear (&tx[i]);
        ntx = 0;
      }
      /* what the mapping socket saw, server by server */
      obs->n_servers = 0;
      for (guint i = 0; i < rep->servers->len; i++)
        {
          PunchCheckServer *s = rep->servers->pdata[i];
          if (s->resolved && s->addr.family == family && obs->n_servers < PUNCH_CHECK_MAX_SERVERS)
            {
              obs->server_addr[obs->n_servers] = s->addr;
              obs->servers[obs->n_servers++] = s->udp;
            }
        }
    }

  if (rep->servers->len > 0)
    {
      if (progress)
        progress ("tcp", "every server", ud);
      tcp_probe_all (rep, deadline);
    }
  obs->udp_blocked_hint = rep->tcp_any;

  if (cfg->turn->len > 0)
    turn_probe_all (cfg, rep, deadline, progress, ud);

  if (cfg->lifetime && s1 && s1->udp.status == PUNCH_CHECK_PROBE_ANSWERED)
    measure_lifetime (cfg, rep, s1, progress, ud);
  else if (cfg->lifetime)
    rep->lifetime_reason = g_strdup ("the first server did not answer over UDP");
  ok = TRUE;

out:
  for (int i = 0; i < 6; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  rep->elapsed_ms = (g_get_monotonic_time () - start) / 1000.0;
  return ok;
}
