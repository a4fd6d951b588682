/* punch-nat-check-tcp.c: a Binding over TCP to every server
 *
 * Reachability, connect time, and the public address of that connection.
 * Each server gets a connection (GSocketClient), one request, and at most
 * PUNCH_NAT_TCP_TIMEOUT_MS (and nothing past the check's deadline). The
 * answer must be one whole STUN success or error response to that request:
 * a request sent back, or any other class, is not an answer.
 *
 * Then the TCP mapping of one local port (punch-tcp-mapping): two
 * connections from that port to the first two servers that answered, and
 * from it, whether TCP hole punching can work from here.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"
#include "punch-error.h"
#include "punch-tcp-mapping-private.h"

#include <string.h>

typedef struct
{
  PunchNatOps *phase;
  PunchNatCheckServer *server;
  GSocketConnection *conn;
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  GByteArray *request;
  guint8 buf[PUNCH_STUN_MAX_SIZE];
  gsize have;
  gint64 start;
  gboolean connected;
} Probe;

static void
probe_end (Probe *p, const char *error)
{
  PunchNatCheckServer *s = p->server;
  PunchNatOps *phase = p->phase;

  if (!phase->check->finished)
    {
      s->tcp_ok = error == NULL;
      g_free (s->tcp_error);
      s->tcp_error = g_strdup (error);
      if (error == NULL)
        phase->check->report->tcp_any = TRUE;
    }
  if (p->conn)
    g_io_stream_close (G_IO_STREAM (p->conn), NULL, NULL);
  g_clear_object (&p->conn);
  g_clear_pointer (&p->request, g_byte_array_unref);
  g_free (p);
  punch_nat_ops_done (phase);
}

static const char *
io_error (Probe *p, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return p->connected ? "no answer in time" : "the connection timed out";
  return error->message;
}

static void read_more (Probe *p);

/* Returns TRUE when the probe ended. */
static gboolean
handle_message (Probe *p, gsize len)
{
  PunchNatCheckReport *rep = p->phase->check->report;
  g_autoptr (GError) error = NULL;
  g_autofree char *why = NULL;
  PunchStunAddress mapped;
  PunchStunAnswer answer;
  PunchStunMessage m;

  if (!punch_stun_message_parse (p->buf, len, &m, &error))
    {
      punch_nat_check_count_reject (rep, error);
      probe_end (p, error->message);
      return TRUE;
    }
  answer = punch_stun_binding_answer (&m, p->txid, &mapped, &why);
  if (answer == PUNCH_STUN_ANSWER_NONE)
    {
      /* a request (ours sent back?) or an indication: not an answer */
      rep->rejected[PUNCH_NAT_CHECK_REJECT_WRONG_CLASS]++;
      memmove (p->buf, p->buf + len, p->have - len);
      p->have -= len;
      return FALSE;
    }
  if (answer == PUNCH_STUN_ANSWER_WRONG_TXID)
    rep->rejected[PUNCH_NAT_CHECK_REJECT_WRONG_TXID]++;
  else if (answer == PUNCH_STUN_ANSWER_NOT_BINDING)
    rep->rejected[PUNCH_NAT_CHECK_REJECT_MALFORMED]++;
  if (answer != PUNCH_STUN_ANSWER_SUCCESS)
    {
      probe_end (p, why);
      return TRUE;
    }
  if (mapped.family)
    p->server->tcp_mapped = mapped;
  probe_end (p, NULL);
  return TRUE;
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;
  gssize got = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (got < 0)
    {
      probe_end (p, io_error (p, error));
      return;
    }
  if (got == 0)
    {
      probe_end (p, "the server closed the connection without answering");
      return;
    }
  p->have += got;
  for (;;)
    {
      gsize need;

      if (p->have < PUNCH_STUN_HEADER_SIZE)
        break;
      need = PUNCH_STUN_HEADER_SIZE + ((p->buf[2] << 8) | p->buf[3]);
      if (need > sizeof p->buf)
        {
          probe_end (p, "the answer is too long");
          return;
        }
      if (p->have < need)
        break;
      if (handle_message (p, need))
        return;
    }
  read_more (p);
}

static void
read_more (Probe *p)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (p->conn)), p->buf + p->have,
                             sizeof p->buf - p->have, G_PRIORITY_DEFAULT, p->phase->cancel, on_read,
                             p);
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      probe_end (p, io_error (p, error));
      return;
    }
  read_more (p);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  g_autoptr (GError) error = NULL;

  p->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (p->conn == NULL)
    {
      probe_end (p, io_error (p, error));
      return;
    }
  p->connected = TRUE;
  if (!p->phase->check->finished)
    p->server->tcp_rtt_ms = (g_get_monotonic_time () - p->start) / 1000.0;
  punch_stun_random_txid (p->txid);
  p->request
      = punch_stun_message_new (PUNCH_STUN_METHOD_BINDING, PUNCH_STUN_CLASS_REQUEST, p->txid);
  punch_stun_message_add_fingerprint (p->request);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (p->conn)),
                                   p->request->data, p->request->len, G_PRIORITY_DEFAULT,
                                   p->phase->cancel, on_written, p);
}

void
punch_nat_tcp_probe_all (PunchNatCheck *check)
{
  GPtrArray *servers = check->report->servers;
  gint64 end = MIN (check->deadline, g_get_monotonic_time () + PUNCH_NAT_TCP_TIMEOUT_MS * 1000);
  PunchNatOps *phase = punch_nat_ops_new (check, end);
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  g_socket_client_set_enable_proxy (client, FALSE); /* straight to the server */

  for (guint i = 0; i < servers->len; i++)
    {
      PunchNatCheckServer *s = servers->pdata[i];
      g_autoptr (GSocketAddress) sa = NULL;
      Probe *p;

      if (!s->resolved)
        continue;
      p = g_new0 (Probe, 1);
      p->phase = phase;
      p->server = s;
      p->start = g_get_monotonic_time ();
      punch_nat_ops_add (phase);
      sa = punch_nat_socket_address (&s->addr);
      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (sa), phase->cancel, on_connected,
                                     p);
    }
  punch_nat_ops_done (phase);
}

/* ---- the TCP mapping of one port ------------------------------------------ */

static void
judge_tcp (PunchNatCheckTcp *t)
{
  const char *port = t->port_preserved ? "the port kept" : "the port changed";

  g_free (t->reason);
  if (t->n_servers == 0)
    {
      t->punching = PUNCH_PATH_UNKNOWN;
      t->reason = g_strdup ("no server answered over TCP from one shared port: whether TCP hole "
                            "punching works is unknown");
    }
  else if (t->n_servers < 2)
    {
      t->punching = PUNCH_PATH_UNKNOWN;
      t->reason = g_strdup_printf ("only one server answered over TCP (%s): whether the NAT maps "
                                   "a TCP port the same way toward every peer is unknown (ask "
                                   "two servers)",
                                   port);
    }
  else if (t->endpoint_independent)
    {
      t->punching = PUNCH_PATH_DIRECT;
      t->reason = g_strdup_printf ("the NAT maps one TCP port to the same public address and port "
                                   "toward every server (%s): TCP hole punching by simultaneous "
                                   "open can reach a peer whose NAT does the same, or an open host",
                                   port);
    }
  else
    {
      t->punching = PUNCH_PATH_RELAY;
      t->reason = g_strdup ("the NAT gives each TCP connection another public port: a peer cannot "
                            "know where to connect, so TCP hole punching fails except toward an "
                            "open host; TURN over TCP is needed");
    }
}

typedef struct
{
  PunchNatOps *phase;
} TcpMapping;

static void
on_tcp_mapping (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TcpMapping *tm = user_data;
  PunchNatCheck *check = tm->phase->check;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchTcpMapping) m = punch_tcp_mapping_discover_finish (result, &error);

  if (!check->finished)
    {
      PunchNatCheckTcp *t = &check->report->tcp;

      t->tested = TRUE;
      if (m)
        {
          t->local_port = m->local.port;
          t->mapped = m->mapped;
          t->n_servers = m->n_answered;
          t->endpoint_independent = m->behaviour == PUNCH_TCP_MAPPING_ENDPOINT_INDEPENDENT;
          t->port_preserved = m->port_preserved;
        }
      judge_tcp (t);
    }
  punch_nat_ops_done (tm->phase);
  g_free (tm);
}

void
punch_nat_tcp_mapping_start (PunchNatCheck *check)
{
  GPtrArray *servers = check->report->servers;
  PunchStunAddress addr[2];
  guint n = 0;
  gint64 end = MIN (check->deadline, g_get_monotonic_time () + PUNCH_NAT_TCP_TIMEOUT_MS * 1000);
  TcpMapping *tm;

  /* the first two servers TCP reached, of the first one's family, at other addresses */
  for (guint i = 0; i < servers->len && n < 2; i++)
    {
      PunchNatCheckServer *s = servers->pdata[i];

      if (!s->tcp_ok || (n > 0 && s->addr.family != addr[0].family)
          || (n > 0 && punch_stun_address_equal (&s->addr, &addr[0])))
        continue;
      addr[n++] = s->addr;
    }
  if (n == 0)
    {
      check->report->tcp.tested = FALSE;
      judge_tcp (&check->report->tcp);
      return;
    }
  punch_nat_check_progress (check, "tcp-mapping", n == 2 ? "two servers" : "one server");
  tm = g_new0 (TcpMapping, 1);
  tm->phase = punch_nat_ops_new (check, end);
  punch_tcp_mapping_discover_async (addr, n, 0, PUNCH_NAT_TCP_TIMEOUT_MS, tm->phase->cancel,
                                    on_tcp_mapping, tm);
}
