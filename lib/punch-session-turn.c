/* punch-session-turn.c: explain why a TURN server gave no relay candidate
 *
 * libnice gives up on a TURN server silently: a wrong password and an
 * unreachable server look the same from outside. punch asks the server once
 * itself (RFC 5766 Allocate with the long-term credential challenge of RFC
 * 5389 section 10.2) so the error can say which it was. A successful
 * allocation is released at once with a Refresh of lifetime 0.
 *
 * This is a diagnosis, not a client: responses are parsed by the strict
 * codec (punch-stun.c) and checked for the transaction id, the method and
 * the class; their integrity is not verified.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session-private.h"
#include "punch-error.h"
#include "punch-stun.h"

#include <string.h>

#define DIAGNOSE_TIMEOUT_MS 3000
#define UDP_RTO_MS 250

typedef struct
{
  PunchIceServer *server;
  char *uri;
  gboolean stream; /* TCP or TLS: STUN messages are framed by their length */
  GSocketConnection *conn;
  GByteArray *request;
  GByteArray *inbuf;
  guint8 readbuf[4096];
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  char *realm;
  char *nonce;
  guint attempts; /* Allocate requests sent with credentials */
  gboolean refreshing;
  GSource *retransmit_source;
  GSource *deadline_source;
} Probe;

static void
probe_free (Probe *p)
{
  punch_source_clear (&p->retransmit_source);
  punch_source_clear (&p->deadline_source);
  punch_ice_server_free (p->server);
  g_free (p->uri);
  g_clear_object (&p->conn);
  g_clear_pointer (&p->request, g_byte_array_unref);
  g_byte_array_unref (p->inbuf);
  g_free (p->realm);
  g_free (p->nonce);
  g_free (p);
}

/* ---- building requests -------------------------------------------------- */

static void
build_request (Probe *p, guint16 method)
{
  static const guint8 udp[4] = { 17, 0, 0, 0 }; /* REQUESTED-TRANSPORT: UDP */

  g_clear_pointer (&p->request, g_byte_array_unref);
  punch_stun_random_txid (p->txid);
  p->request = punch_stun_message_new (method, PUNCH_STUN_CLASS_REQUEST, p->txid);
  if (method == PUNCH_STUN_METHOD_ALLOCATE)
    punch_stun_message_add (p->request, PUNCH_STUN_ATTR_REQUESTED_TRANSPORT, udp, 4);
  else
    punch_stun_message_add_u32 (p->request, PUNCH_STUN_ATTR_LIFETIME, 0);
  if (p->realm && p->nonce)
    {
      guint8 key[16];
      const char *user = p->server->username;

      punch_stun_message_add (p->request, PUNCH_STUN_ATTR_USERNAME, user, strlen (user));
      punch_stun_message_add (p->request, PUNCH_STUN_ATTR_REALM, p->realm, strlen (p->realm));
      punch_stun_message_add (p->request, PUNCH_STUN_ATTR_NONCE, p->nonce, strlen (p->nonce));
      /* MESSAGE-INTEGRITY with the long-term key MD5(user:realm:pass) */
      punch_stun_long_term_key (user, p->realm, p->server->credential, key);
      punch_stun_message_add_integrity (p->request, key, sizeof key);
    }
}

/* ---- parsing responses -------------------------------------------------- */

typedef struct
{
  PunchStunClass klass;
  guint error_code;
  char *reason;
  char *realm;
  char *nonce;
} Response;

static void
response_clear (Response *r)
{
  g_free (r->reason);
  g_free (r->realm);
  g_free (r->nonce);
}

/* Returns the length of a complete message at the start of @data, 0 if more
 * bytes are needed, -1 if it is not STUN. */
static gssize
message_length (const guint8 *data, gsize len)
{
  gsize body;

  if (len < PUNCH_STUN_HEADER_SIZE)
    return 0;
  if ((data[0] & 0xc0) != 0 || GUINT32_FROM_BE (*(guint32 *)(data + 4)) != PUNCH_STUN_MAGIC_COOKIE)
    return -1;
  body = (data[2] << 8) | data[3];
  if (body % 4 != 0 || PUNCH_STUN_HEADER_SIZE + body > PUNCH_STUN_MAX_SIZE * 4)
    return -1;
  return len >= PUNCH_STUN_HEADER_SIZE + body ? (gssize)(PUNCH_STUN_HEADER_SIZE + body) : 0;
}

/* FALSE when it is not the answer to the request in flight: not STUN, another
 * transaction, another method, or not a response (a request sent back). */
static gboolean
parse_response (Probe *p, const guint8 *data, gsize len, Response *r)
{
  PunchStunMessage m;
  guint16 method = p->refreshing ? PUNCH_STUN_METHOD_REFRESH : PUNCH_STUN_METHOD_ALLOCATE;
  g_autoptr (GError) error = NULL;

  if (!punch_stun_message_parse (data, len, &m, &error))
    {
      g_debug ("%s: ignored an answer: %s", p->uri, error->message);
      return FALSE;
    }
  if (memcmp (m.txid, p->txid, sizeof p->txid) != 0 || m.method != method
      || (m.klass != PUNCH_STUN_CLASS_SUCCESS && m.klass != PUNCH_STUN_CLASS_ERROR))
    return FALSE;
  r->klass = m.klass;
  if (m.present & PUNCH_STUN_HAS_ERROR_CODE)
    {
      r->error_code = m.error_code;
      r->reason = punch_stun_bytes_to_text (&m.reason, 763);
    }
  if (m.present & PUNCH_STUN_HAS_REALM)
    r->realm = punch_stun_bytes_to_text (&m.realm, 763);
  if (m.present & PUNCH_STUN_HAS_NONCE)
    r->nonce = punch_stun_bytes_to_text (&m.nonce, 763);
  return TRUE;
}

/* ---- the exchange ------------------------------------------------------- */

static void send_request (GTask *task);
static void read_more (GTask *task);

static void finish_error (GTask *task, PunchErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
finish_error (GTask *task, PunchErrorCode code, const char *fmt, ...)
{
  Probe *p = g_task_get_task_data (task);
  va_list ap;
  g_autofree char *msg = NULL;

  if (g_task_get_completed (task) || g_task_had_error (task))
    return;
  punch_source_clear (&p->retransmit_source);
  punch_source_clear (&p->deadline_source);
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_task_return_new_error (task, PUNCH_ERROR, code, "%s: %s", p->uri, msg);
}

/* TURN REST usernames are "<unix-expiry>:<name>": say so when it has passed */
static char *
rest_expiry_hint (const char *username)
{
  const char *colon = strchr (username, ':');
  guint64 expiry;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (colon == NULL || colon == username || colon - username > 12)
    return g_strdup ("");
  for (const char *c = username; c < colon; c++)
    if (!g_ascii_isdigit (*c))
      return g_strdup ("");
  expiry = g_ascii_strtoull (username, NULL, 10);
  if ((gint64)expiry >= now)
    return g_strdup ("");
  return g_strdup_printf ("; it is a TURN REST username that expired %" G_GINT64_FORMAT
                          " s ago: fetch fresh credentials",
                          now - (gint64)expiry);
}

static void
handle_response (GTask *task, const guint8 *data, gsize len)
{
  Probe *p = g_task_get_task_data (task);
  Response r = { 0 };

  if (!parse_response (p, data, len, &r))
    {
      response_clear (&r);
      read_more (task); /* not ours: keep listening */
      return;
    }
  punch_source_clear (&p->retransmit_source);

  if (p->refreshing)
    {
      /* released or not, the diagnosis is the same: credentials work */
      punch_source_clear (&p->deadline_source);
      g_task_return_boolean (task, TRUE);
    }
  else if (r.klass == PUNCH_STUN_CLASS_SUCCESS)
    {
      p->refreshing = TRUE;
      build_request (p, PUNCH_STUN_METHOD_REFRESH);
      send_request (task);
      read_more (task);
    }
  else if ((r.error_code == 401 || r.error_code == 438) && r.realm && r.nonce && p->attempts < 2
           && !(r.error_code == 401 && p->attempts == 1))
    {
      /* the challenge (or a stale nonce): answer it with credentials */
      g_free (p->realm);
      g_free (p->nonce);
      p->realm = g_steal_pointer (&r.realm);
      p->nonce = g_steal_pointer (&r.nonce);
      p->attempts++;
      build_request (p, PUNCH_STUN_METHOD_ALLOCATE);
      send_request (task);
      read_more (task);
    }
  else if (r.error_code == 401)
    {
      g_autofree char *hint = rest_expiry_hint (p->server->username);
      finish_error (task, PUNCH_ERROR_AUTHENTICATION,
                    "authentication failed: the TURN server rejected username \"%s\" or its "
                    "password (401 %s)%s",
                    p->server->username, r.reason ? r.reason : "Unauthorized", hint);
    }
  else if (r.error_code == 486)
    finish_error (task, PUNCH_ERROR_FAILED,
                  "the TURN server refused: allocation quota reached (486 %s)",
                  r.reason ? r.reason : "");
  else
    finish_error (task, PUNCH_ERROR_FAILED, "the TURN server refused the allocation (%u %s)",
                  r.error_code, r.reason ? r.reason : "");
  response_clear (&r);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  gssize mlen;

  if (g_task_get_completed (task) || g_task_had_error (task))
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      punch_source_clear (&p->retransmit_source);
      punch_source_clear (&p->deadline_source);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n <= 0)
    {
      if (p->server->kind == PUNCH_ICE_SERVER_TURNS)
        finish_error (task, PUNCH_ERROR_UNREACHABLE, "the TLS connection to the server failed");
      else if (n < 0 && !p->stream)
        {
          /* ICMP port unreachable shows up as ECONNREFUSED on connected UDP */
          finish_error (task, PUNCH_ERROR_UNREACHABLE, "no TURN server answers there (%s)",
                        error->message);
        }
      else
        finish_error (task, PUNCH_ERROR_UNREACHABLE, "the server closed the connection%s%s",
                      error ? ": " : "", error ? error->message : "");
      return;
    }
  if (!p->stream)
    g_byte_array_set_size (p->inbuf, 0);
  g_byte_array_append (p->inbuf, p->readbuf, n);
  mlen = message_length (p->inbuf->data, p->inbuf->len);
  if (mlen < 0)
    {
      finish_error (task, PUNCH_ERROR_PROTOCOL, "the server's answer is not STUN");
      return;
    }
  if (mlen == 0)
    {
      read_more (task);
      return;
    }
  {
    g_autoptr (GByteArray) msg = g_byte_array_new ();
    g_byte_array_append (msg, p->inbuf->data, mlen);
    g_byte_array_remove_range (p->inbuf, 0, mlen);
    handle_response (task, msg->data, msg->len);
  }
}

static void
read_more (GTask *task)
{
  Probe *p = g_task_get_task_data (task);

  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (p->conn)), p->readbuf,
                             sizeof p->readbuf, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                             on_read, g_object_ref (task));
}

static gboolean
on_retransmit (gpointer user_data)
{
  GTask *task = user_data;
  Probe *p = g_task_get_task_data (task);

  /* a failed send is like a loss: the schedule and the deadline go on */
  (void)g_socket_send (g_socket_connection_get_socket (p->conn), (const char *)p->request->data,
                       p->request->len, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the pending read reports the cancellation */
  finish_error (task, PUNCH_ERROR_UNREACHABLE, "cannot send to the server: %s", error->message);
}

static void
send_request (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (p->stream)
    {
      /* TCP or the TLS bridge: the request may be written in pieces */
      g_output_stream_write_all_async (
          g_io_stream_get_output_stream (G_IO_STREAM (p->conn)), p->request->data, p->request->len,
          G_PRIORITY_DEFAULT, g_task_get_cancellable (task), on_written, g_object_ref (task));
      return;
    }
  /* one datagram on a non-blocking socket: never waits */
  if (g_socket_send (g_socket_connection_get_socket (p->conn), (const char *)p->request->data,
                     p->request->len, NULL, &error)
          < 0
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      finish_error (task, PUNCH_ERROR_UNREACHABLE, "cannot send to the server: %s", error->message);
      return;
    }
  punch_source_clear (&p->retransmit_source);
  p->retransmit_source = punch_timeout_attach (g_task_get_context (task), UDP_RTO_MS, on_retransmit,
                                               g_object_ref (task), g_object_unref);
}

static gboolean
on_deadline (gpointer user_data)
{
  GTask *task = user_data;
  Probe *p = g_task_get_task_data (task);

  g_clear_pointer (&p->deadline_source, g_source_unref);
  finish_error (task, PUNCH_ERROR_UNREACHABLE, "no answer from the TURN server within %u ms",
                DIAGNOSE_TIMEOUT_MS);
  return G_SOURCE_REMOVE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  p->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (p->conn == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        finish_error (task, PUNCH_ERROR_UNREACHABLE, "cannot connect over TCP: %s", error->message);
      return;
    }
  build_request (p, PUNCH_STUN_METHOD_ALLOCATE);
  send_request (task);
  read_more (task);
}

void
punch_session_diagnose_turn_async (const PunchIceServer *server, const char *ip, guint16 port,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Probe *p = g_new0 (Probe, 1);
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) sa = NULL;

  g_task_set_source_tag (task, punch_session_diagnose_turn_async);
  p->server = punch_ice_server_copy (server);
  p->uri = punch_ice_server_to_uri (server);
  p->stream = server->transport != PUNCH_TRANSPORT_UDP;
  p->inbuf = g_byte_array_new ();
  g_task_set_task_data (task, p, (GDestroyNotify)probe_free);

  if (addr == NULL)
    {
      finish_error (task, PUNCH_ERROR_INVALID_ARGUMENT, "%s is not an IP address", ip);
      return;
    }
  sa = g_inet_socket_address_new (addr, port);
  /* the deadline and the retransmission timer hold a reference each and
   * are removed when the task returns, which breaks the cycle */
  p->deadline_source = punch_timeout_attach (g_task_get_context (task), DIAGNOSE_TIMEOUT_MS,
                                             on_deadline, g_object_ref (task), g_object_unref);

  if (p->stream)
    {
      g_autoptr (GSocketClient) client = g_socket_client_new ();
      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (sa), cancellable, on_connected,
                                     g_object_ref (task));
    }
  else
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) sock = g_socket_new (
          g_socket_address_get_family (sa), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      if (sock == NULL || !g_socket_connect (sock, sa, NULL, &error))
        {
          finish_error (task, PUNCH_ERROR_UNREACHABLE, "cannot open a UDP socket: %s",
                        error->message);
          return;
        }
      g_socket_set_blocking (sock, FALSE);
      p->conn = g_socket_connection_factory_create_connection (sock);
      build_request (p, PUNCH_STUN_METHOD_ALLOCATE);
      send_request (task);
      read_more (task);
    }
}

gboolean
punch_session_diagnose_turn_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
