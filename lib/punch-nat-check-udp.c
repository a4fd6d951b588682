/* punch-nat-check-udp.c: STUN transactions over UDP for the NAT check
 *
 * A run sends its transactions side by side: each request at 0, 250, 750
 * and 1750 ms, given up at 2750 ms (RFC 8489 section 6.2.1 with RTO 250 ms,
 * Rc 4, Rm 4), nothing past the run's deadline. One GSocket source per
 * socket and one timer, on the check's context; the run owns itself once
 * started and frees itself after its done callback, or at once when the
 * check is cancelled.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"
#include "punch-error.h"

#include <string.h>

static const gint64 send_at_ms[PUNCH_NAT_MAX_SENDS] = { 0, 250, 750, 1750 };

/* ---- addresses and sockets ---------------------------------------------- */

GSocketAddress *
punch_nat_socket_address (const PunchStunAddress *a)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_bytes (
      a->addr, a->family == 6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (ia, a->port);
}

void
punch_nat_from_socket_address (GSocketAddress *sa, PunchStunAddress *out)
{
  GInetAddress *ia;

  memset (out, 0, sizeof *out);
  if (!G_IS_INET_SOCKET_ADDRESS (sa))
    return;
  ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  out->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
  if (g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4)
    {
      out->family = 4;
      memcpy (out->addr, g_inet_address_to_bytes (ia), 4);
    }
  else
    {
      const guint8 *b = g_inet_address_to_bytes (ia);
      static const guint8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

      if (memcmp (b, v4mapped, 12) == 0)
        {
          out->family = 4;
          memcpy (out->addr, b + 12, 4);
        }
      else
        {
          out->family = 6;
          memcpy (out->addr, b, 16);
        }
    }
}

GSocket *
punch_nat_udp_socket (int family, PunchStunAddress *bound, GError **error)
{
  GSocketFamily f = family == 6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4;
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) any = g_inet_address_new_any (f);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (any, 0);
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) local_error = NULL;

  sock = g_socket_new (f, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &local_error);
  if (sock == NULL || !g_socket_bind (sock, sa, FALSE, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot open a UDP socket: %s",
                   local_error->message);
      return NULL;
    }
  g_socket_set_blocking (sock, FALSE);
  local = g_socket_get_local_address (sock, NULL);
  if (local)
    punch_nat_from_socket_address (local, bound);
  return g_steal_pointer (&sock);
}

gboolean
punch_nat_local_ip_toward (const PunchStunAddress *dest, PunchStunAddress *out)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) sa = punch_nat_socket_address (dest);
  g_autoptr (GSocketAddress) local = NULL;

  sock = g_socket_new (g_socket_address_get_family (sa), G_SOCKET_TYPE_DATAGRAM,
                       G_SOCKET_PROTOCOL_UDP, NULL);
  /* connect() on UDP only picks the route and the source address */
  if (sock == NULL || !g_socket_connect (sock, sa, NULL, NULL))
    return FALSE;
  local = g_socket_get_local_address (sock, NULL);
  if (local == NULL)
    return FALSE;
  punch_nat_from_socket_address (local, out);
  return TRUE;
}

/* ---- transactions ------------------------------------------------------- */

struct _PunchNatTx
{
  GSocket *sock;        /* sends from here */
  GSocket *answer_sock; /* the answer must arrive here: sock, or (lifetime) another */
  GSocket *hairpin;     /* hairpin: the request itself must arrive here; else NULL */
  PunchStunAddress dest;
  PunchStunAddress expect;
  GSocketAddress *dest_sa;
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  GByteArray *request;
  guint32 change;
  guint sends;
  gint64 first_send;
  gboolean done;
  gboolean wrong_source;
  gboolean elsewhere;
  PunchCheckProbe *out;
  PunchNatCheckServer *server;
};

typedef struct
{
  PunchNatUdpRun *run;
  GSocket *sock;
  GSource *source;
} Watch;

struct _PunchNatUdpRun
{
  PunchNatCheck *check;
  GTask *task; /* a reference while started: keeps @check alive */
  gint64 deadline;
  GPtrArray *txs;     /* PunchNatTx* */
  GPtrArray *watches; /* Watch* */
  GSource *timer;
  GSource *cancel_source;
  GSource *done_source;
  PunchNatUdpDoneFunc done;
  gpointer done_data;
};

static void
tx_free (PunchNatTx *tx)
{
  g_clear_object (&tx->sock);
  g_clear_object (&tx->answer_sock);
  g_clear_object (&tx->hairpin);
  g_clear_object (&tx->dest_sa);
  g_clear_pointer (&tx->request, g_byte_array_unref);
  g_free (tx);
}

static void
watch_free (Watch *w)
{
  punch_nat_clear_source (&w->source);
  g_object_unref (w->sock);
  g_free (w);
}

PunchNatUdpRun *
punch_nat_udp_run_new (PunchNatCheck *check, gint64 deadline)
{
  PunchNatUdpRun *run = g_new0 (PunchNatUdpRun, 1);

  run->check = check;
  run->deadline = deadline;
  run->txs = g_ptr_array_new_with_free_func ((GDestroyNotify)tx_free);
  run->watches = g_ptr_array_new_with_free_func ((GDestroyNotify)watch_free);
  return run;
}

void
punch_nat_udp_run_free (PunchNatUdpRun *run)
{
  if (run == NULL)
    return;
  punch_nat_clear_source (&run->timer);
  punch_nat_clear_source (&run->cancel_source);
  punch_nat_clear_source (&run->done_source);
  g_ptr_array_unref (run->watches);
  g_ptr_array_unref (run->txs);
  g_clear_object (&run->task);
  g_free (run);
}

static void
build_request (PunchNatTx *tx, guint16 response_port)
{
  g_clear_pointer (&tx->request, g_byte_array_unref);
  tx->request
      = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST, tx->txid);
  if (tx->change)
    punch_stun_message_add_u32 (tx->request, PUNCH_STUN_ATTR_CHANGE_REQUEST, tx->change);
  if (response_port)
    {
      guint8 v[4] = { response_port >> 8, response_port & 0xff, 0, 0 };
      punch_stun_message_add (tx->request, PUNCH_STUN_ATTR_RESPONSE_PORT, v, 4);
    }
  punch_stun_message_add_fingerprint (tx->request);
}

PunchNatTx *
punch_nat_udp_run_add (PunchNatUdpRun *run, GSocket *sock, const PunchStunAddress *dest,
                       const PunchStunAddress *expect, guint32 change, PunchCheckProbe *out,
                       PunchNatCheckServer *server)
{
  PunchNatTx *tx = g_new0 (PunchNatTx, 1);

  tx->sock = g_object_ref (sock);
  tx->answer_sock = g_object_ref (sock);
  tx->dest = *dest;
  tx->expect = expect ? *expect : *dest;
  tx->dest_sa = punch_nat_socket_address (dest);
  tx->change = change;
  tx->out = out;
  tx->server = server;
  punch_stun_random_txid (tx->txid);
  build_request (tx, 0);
  memset (out, 0, sizeof *out);
  out->status = PUNCH_CHECK_PROBE_NOT_RUN;
  g_ptr_array_add (run->txs, tx);
  return tx;
}

void
punch_nat_tx_set_hairpin (PunchNatTx *tx, GSocket *listen)
{
  g_set_object (&tx->hairpin, listen);
}

void
punch_nat_tx_set_response_port (PunchNatTx *tx, guint16 port, GSocket *answer_sock)
{
  g_set_object (&tx->answer_sock, answer_sock);
  build_request (tx, port);
}

gboolean
punch_nat_tx_answered_elsewhere (const PunchNatTx *tx)
{
  return tx->elsewhere;
}

static void
tx_finish (PunchNatTx *tx, PunchCheckProbeStatus status)
{
  tx->done = TRUE;
  tx->out->status = status;
}

static void
count (PunchNatUdpRun *run, PunchNatCheckReject why)
{
  run->check->report->rejected[why]++;
}

static PunchNatTx *
find_tx (PunchNatUdpRun *run, const guint8 *txid, GSocket *sock, gboolean by_answer_sock)
{
  for (guint i = 0; i < run->txs->len; i++)
    {
      PunchNatTx *tx = run->txs->pdata[i];
      GSocket *s = by_answer_sock ? tx->answer_sock : tx->sock;

      if (tx->hairpin == NULL && s == sock && memcmp (tx->txid, txid, PUNCH_STUN_TXID_SIZE) == 0)
        return tx;
    }
  return NULL;
}

static void
note_server (PunchNatCheckServer *s, const PunchStunMessage *m)
{
  if (s == NULL)
    return;
  if (m->present & PUNCH_STUN_HAS_OTHER_ADDRESS)
    {
      s->other_address = m->other_address;
      s->family = PUNCH_STUN_FAMILY_RFC5780;
    }
  else if (m->present & PUNCH_STUN_HAS_CHANGED_ADDRESS)
    {
      s->other_address = m->changed_address;
      s->family = PUNCH_STUN_FAMILY_RFC3489;
    }
  else if (m->present & PUNCH_STUN_HAS_XOR_MAPPED)
    s->family = PUNCH_STUN_FAMILY_RFC5389;
  else
    s->family = PUNCH_STUN_FAMILY_RFC3489; /* MAPPED-ADDRESS only */
  if (m->present & PUNCH_STUN_HAS_RESPONSE_ORIGIN)
    s->response_origin = m->response_origin;
  else if (m->present & PUNCH_STUN_HAS_SOURCE_ADDRESS)
    s->response_origin = m->source_address;
  if ((m->present & PUNCH_STUN_HAS_SOFTWARE) && s->software == NULL)
    s->software = punch_stun_bytes_to_text (&m->software, 128);
}

static void
handle_datagram (PunchNatUdpRun *run, GSocket *sock, const guint8 *buf, gsize len,
                 const PunchStunAddress *from)
{
  g_autoptr (GError) error = NULL;
  PunchStunMessage m;
  PunchNatTx *tx;

  if (!punch_stun_message_parse (buf, len, &m, &error))
    {
      punch_nat_check_count_reject (run->check->report, error);
      g_debug ("rejected a datagram: %s", error->message);
      return;
    }

  if (m.klass == PUNCH_STUN_CLASS_REQUEST)
    {
      /* a hairpinned request arriving at the mapping socket */
      for (guint i = 0; i < run->txs->len; i++)
        {
          PunchNatTx *h = run->txs->pdata[i];

          if (h->hairpin == sock && memcmp (h->txid, m.txid, PUNCH_STUN_TXID_SIZE) == 0)
            {
              if (!h->done)
                {
                  h->out->source = *from;
                  h->out->rtt_ms = (g_get_monotonic_time () - h->first_send) / 1000.0;
                  tx_finish (h, PUNCH_CHECK_PROBE_ANSWERED);
                }
              return;
            }
        }
      /* our own request sent back (or anyone's): never an answer */
      count (run, find_tx (run, m.txid, sock, FALSE) ? PUNCH_NAT_CHECK_REJECT_WRONG_CLASS
                                                     : PUNCH_NAT_CHECK_REJECT_WRONG_TXID);
      return;
    }
  if (m.klass == PUNCH_STUN_CLASS_INDICATION)
    {
      count (run, PUNCH_NAT_CHECK_REJECT_WRONG_CLASS);
      return;
    }

  tx = find_tx (run, m.txid, sock, TRUE);
  if (tx == NULL)
    {
      PunchNatTx *sent = find_tx (run, m.txid, sock, FALSE);

      if (sent && !sent->done && m.klass == PUNCH_STUN_CLASS_SUCCESS)
        {
          /* the lifetime test: the server answered the sender, not RESPONSE-PORT */
          sent->elsewhere = TRUE;
          tx_finish (sent, PUNCH_CHECK_PROBE_TIMEOUT);
          return;
        }
      count (run, PUNCH_NAT_CHECK_REJECT_WRONG_TXID);
      return;
    }
  if (tx->done)
    return; /* an answer to a retransmission */
  if (!punch_stun_address_equal (from, &tx->expect))
    {
      /* forged, or a server that ignores CHANGE-REQUEST: not an answer */
      count (run, PUNCH_NAT_CHECK_REJECT_WRONG_SOURCE);
      tx->wrong_source = TRUE;
      tx->out->source = *from;
      return;
    }
  if (m.method != PUNCH_STUN_METHOD_BINDING)
    {
      count (run, PUNCH_NAT_CHECK_REJECT_MALFORMED);
      return;
    }
  if (m.n_unknown_required > 0)
    {
      /* RFC 8489 section 7.3.3: such a response fails the transaction */
      count (run, PUNCH_NAT_CHECK_REJECT_UNKNOWN_ATTRIBUTE);
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
      count (run, PUNCH_NAT_CHECK_REJECT_NO_ADDRESS);
      return;
    }
  note_server (tx->server, &m);
  tx_finish (tx, PUNCH_CHECK_PROBE_ANSWERED);
}

static void run_step (PunchNatUdpRun *run);

static gboolean
on_readable (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  Watch *w = user_data;
  PunchNatUdpRun *run = w->run;
  guint8 buf[PUNCH_STUN_MAX_SIZE + 1];

  (void)condition;
  /* bounded: a flood of datagrams cannot keep us here */
  for (int k = 0; k < 64; k++)
    {
      GSocketAddress *sa = NULL;
      PunchStunAddress from;
      gssize got = g_socket_receive_from (sock, &sa, (char *)buf, sizeof buf, NULL, NULL);

      if (got < 0)
        break; /* would block, or an ICMP error: like a loss */
      punch_nat_from_socket_address (sa, &from);
      g_clear_object (&sa);
      if (got > PUNCH_STUN_MAX_SIZE)
        {
          count (run, PUNCH_NAT_CHECK_REJECT_MALFORMED);
          continue;
        }
      handle_datagram (run, sock, buf, got, &from);
    }
  run_step (run);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_done_idle (gpointer user_data)
{
  PunchNatUdpRun *run = user_data;

  g_clear_pointer (&run->done_source, g_source_unref);
  if (run->done)
    run->done (run->done_data);
  punch_nat_udp_run_free (run);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timer (gpointer user_data)
{
  PunchNatUdpRun *run = user_data;

  g_clear_pointer (&run->timer, g_source_unref);
  run_step (run);
  return G_SOURCE_REMOVE;
}

static void
finish_run (PunchNatUdpRun *run)
{
  punch_nat_clear_source (&run->timer);
  g_ptr_array_set_size (run->watches, 0);
  if (run->done_source)
    return;
  run->done_source = g_idle_source_new ();
  g_source_set_callback (run->done_source, on_done_idle, run, NULL);
  g_source_attach (run->done_source, run->check->context);
}

/* Sends what is due, gives up what is overdue, and sleeps until the next of those. */
static void
run_step (PunchNatUdpRun *run)
{
  gint64 now = g_get_monotonic_time ();
  gint64 wake = run->deadline;
  guint pending = 0;

  if (run->done_source)
    return;
  for (guint i = 0; i < run->txs->len; i++)
    {
      PunchNatTx *tx = run->txs->pdata[i];
      gint64 next;

      if (tx->done)
        continue;
      if (tx->sends == 0)
        tx->first_send = now;
      if (now >= run->deadline)
        {
          tx_finish (tx, tx->sends == 0     ? PUNCH_CHECK_PROBE_NOT_RUN
                         : tx->wrong_source ? PUNCH_CHECK_PROBE_WRONG_SOURCE
                                            : PUNCH_CHECK_PROBE_TIMEOUT);
          continue;
        }
      if (tx->sends < PUNCH_NAT_MAX_SENDS && now >= tx->first_send + send_at_ms[tx->sends] * 1000)
        {
          /* errors (no route, ...) are like losses: the schedule goes on */
          (void)g_socket_send_to (tx->sock, tx->dest_sa, (const char *)tx->request->data,
                                  tx->request->len, NULL, NULL);
          tx->sends++;
        }
      if (now >= tx->first_send + PUNCH_NAT_GIVE_UP_MS * 1000)
        {
          tx_finish (tx,
                     tx->wrong_source ? PUNCH_CHECK_PROBE_WRONG_SOURCE : PUNCH_CHECK_PROBE_TIMEOUT);
          continue;
        }
      pending++;
      next = tx->sends < PUNCH_NAT_MAX_SENDS ? tx->first_send + send_at_ms[tx->sends] * 1000
                                             : tx->first_send + PUNCH_NAT_GIVE_UP_MS * 1000;
      wake = MIN (wake, next);
    }
  if (pending == 0)
    {
      finish_run (run);
      return;
    }
  punch_nat_clear_source (&run->timer);
  run->timer = g_timeout_source_new ((guint)MAX (0, (wake - now + 999) / 1000));
  g_source_set_callback (run->timer, on_timer, run, NULL);
  g_source_attach (run->timer, run->check->context);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  PunchNatUdpRun *run = user_data;

  (void)cancellable;
  /* the check is over: stop without calling back */
  g_clear_pointer (&run->cancel_source, g_source_unref);
  punch_nat_udp_run_free (run);
  return G_SOURCE_REMOVE;
}

static void
watch_socket (PunchNatUdpRun *run, GSocket *sock)
{
  Watch *w;

  if (sock == NULL)
    return;
  for (guint i = 0; i < run->watches->len; i++)
    if (((Watch *)run->watches->pdata[i])->sock == sock)
      return;
  w = g_new0 (Watch, 1);
  w->run = run;
  w->sock = g_object_ref (sock);
  w->source = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (w->source, G_SOURCE_FUNC (on_readable), w, NULL);
  g_source_attach (w->source, run->check->context);
  g_ptr_array_add (run->watches, w);
}

void
punch_nat_udp_run_start (PunchNatUdpRun *run, PunchNatUdpDoneFunc done, gpointer user_data)
{
  run->done = done;
  run->done_data = user_data;
  run->task = g_object_ref (run->check->task);
  for (guint i = 0; i < run->txs->len; i++)
    {
      PunchNatTx *tx = run->txs->pdata[i];

      watch_socket (run, tx->sock);
      watch_socket (run, tx->answer_sock);
      watch_socket (run, tx->hairpin);
    }
  run->cancel_source = g_cancellable_source_new (run->check->cancel);
  g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (on_cancelled), run, NULL);
  g_source_attach (run->cancel_source, run->check->context);
  run_step (run);
}
