/* punch-session-turn.c: explain why a TURN server gave no relay candidate
 *
 * libnice gives up on a TURN server silently: a wrong password and an
 * unreachable server look the same from outside. punch asks the server once
 * itself (RFC 5766 Allocate with the long-term credential challenge of RFC
 * 5389 section 10.2) so the error can say which it was. A successful
 * allocation is released at once with a Refresh of lifetime 0.
 *
 * This is a diagnosis, not a client: responses are checked for the right
 * transaction id and shape, and their integrity is not verified.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-session-private.h"
#include "punch-error.h"

#include <string.h>

#define DIAGNOSE_TIMEOUT_MS 3000
#define UDP_RTO_MS 250
#define STUN_HEADER 20
#define STUN_MAGIC 0x2112A442u

enum
{
  STUN_ALLOCATE = 0x0003,
  STUN_REFRESH = 0x0004,
  CLASS_SUCCESS = 0x0100,
  CLASS_ERROR = 0x0110,
  ATTR_USERNAME = 0x0006,
  ATTR_MESSAGE_INTEGRITY = 0x0008,
  ATTR_ERROR_CODE = 0x0009,
  ATTR_LIFETIME = 0x000D,
  ATTR_REALM = 0x0014,
  ATTR_NONCE = 0x0015,
  ATTR_REQUESTED_TRANSPORT = 0x0019,
};

typedef struct
{
  PunchIceServer *server;
  char *uri;
  gboolean stream; /* TCP or TLS: STUN messages are framed by their length */
  GSocketConnection *conn;
  GByteArray *request;
  GByteArray *inbuf;
  guint8 readbuf[4096];
  guint8 txid[12];
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
  g_byte_array_unref (p->request);
  g_byte_array_unref (p->inbuf);
  g_free (p->realm);
  g_free (p->nonce);
  g_free (p);
}

/* ---- building requests -------------------------------------------------- */

static void
put16 (GByteArray *b, guint16 v)
{
  guint8 x[2] = { v >> 8, v & 0xff };
  g_byte_array_append (b, x, 2);
}

static void
put32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (b, x, 4);
}

static void
put_attr (GByteArray *b, guint16 type, const void *value, gsize len)
{
  static const guint8 zeros[4] = { 0 };

  put16 (b, type);
  put16 (b, len);
  g_byte_array_append (b, value, len);
  if (len % 4)
    g_byte_array_append (b, zeros, 4 - len % 4);
}

static void
set_length (GByteArray *b, gsize body)
{
  b->data[2] = body >> 8;
  b->data[3] = body & 0xff;
}

static void
build_request (Probe *p, guint16 method)
{
  GByteArray *b = p->request;
  guint8 transport[4] = { 17, 0, 0, 0 }; /* UDP */

  g_byte_array_set_size (b, 0);
  for (gsize i = 0; i < sizeof p->txid; i++)
    p->txid[i] = g_random_int_range (0, 256);
  put16 (b, method);
  put16 (b, 0);
  put32 (b, STUN_MAGIC);
  g_byte_array_append (b, p->txid, sizeof p->txid);

  if (method == STUN_ALLOCATE)
    put_attr (b, ATTR_REQUESTED_TRANSPORT, transport, 4);
  else
    {
      guint8 zero[4] = { 0 };
      put_attr (b, ATTR_LIFETIME, zero, 4);
    }

  if (p->realm && p->nonce)
    {
      g_autofree char *key_text
          = g_strdup_printf ("%s:%s:%s", p->server->username, p->realm, p->server->credential);
      guint8 key[16];
      gsize key_len = sizeof key;
      g_autoptr (GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
      g_autoptr (GHmac) hmac = NULL;
      guint8 digest[20];
      gsize digest_len = sizeof digest;

      put_attr (b, ATTR_USERNAME, p->server->username, strlen (p->server->username));
      put_attr (b, ATTR_REALM, p->realm, strlen (p->realm));
      put_attr (b, ATTR_NONCE, p->nonce, strlen (p->nonce));

      /* MESSAGE-INTEGRITY: HMAC-SHA1 with key MD5(user:realm:pass), over the
       * message with its length already counting the integrity attribute */
      g_checksum_update (md5, (const guchar *)key_text, strlen (key_text));
      g_checksum_get_digest (md5, key, &key_len);
      set_length (b, b->len - STUN_HEADER + 24);
      hmac = g_hmac_new (G_CHECKSUM_SHA1, key, key_len);
      g_hmac_update (hmac, b->data, b->len);
      g_hmac_get_digest (hmac, digest, &digest_len);
      put_attr (b, ATTR_MESSAGE_INTEGRITY, digest, digest_len);
    }
  set_length (b, b->len - STUN_HEADER);
}

/* ---- parsing responses -------------------------------------------------- */

typedef struct
{
  guint16 type;
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

  if (len < STUN_HEADER)
    return 0;
  if ((data[0] & 0xc0) != 0 || GUINT32_FROM_BE (*(guint32 *)(data + 4)) != STUN_MAGIC)
    return -1;
  body = (data[2] << 8) | data[3];
  if (body % 4 != 0)
    return -1;
  return len >= STUN_HEADER + body ? (gssize)(STUN_HEADER + body) : 0;
}

static char *
safe_string (const guint8 *v, gsize len)
{
  return g_utf8_make_valid ((const char *)v, len);
}

static gboolean
parse_response (Probe *p, const guint8 *data, gsize len, Response *r)
{
  gsize off = STUN_HEADER;

  if (memcmp (data + 8, p->txid, sizeof p->txid) != 0)
    return FALSE;
  r->type = (data[0] << 8) | data[1];
  while (off + 4 <= len)
    {
      guint16 type = (data[off] << 8) | data[off + 1];
      guint16 alen = (data[off + 2] << 8) | data[off + 3];
      const guint8 *v = data + off + 4;

      if (off + 4 + alen > len)
        return FALSE;
      if (type == ATTR_ERROR_CODE && alen >= 4)
        {
          r->error_code = (v[2] & 0x7) * 100 + v[3];
          g_free (r->reason);
          r->reason = safe_string (v + 4, alen - 4);
        }
      else if (type == ATTR_REALM && alen <= 763)
        {
          g_free (r->realm);
          r->realm = safe_string (v, alen);
        }
      else if (type == ATTR_NONCE && alen <= 763)
        {
          g_free (r->nonce);
          r->nonce = safe_string (v, alen);
        }
      off += 4 + ((alen + 3) & ~3u);
    }
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
  else if ((r.type & 0x0110) == CLASS_SUCCESS)
    {
      p->refreshing = TRUE;
      build_request (p, STUN_REFRESH);
      send_request (task);
      read_more (task);
    }
  else if ((r.type & 0x0110) != CLASS_ERROR)
    finish_error (task, PUNCH_ERROR_PROTOCOL, "unexpected STUN message type 0x%04x", r.type);
  else if ((r.error_code == 401 || r.error_code == 438) && r.realm && r.nonce && p->attempts < 2
           && !(r.error_code == 401 && p->attempts == 1))
    {
      /* the challenge (or a stale nonce): answer it with credentials */
      g_free (p->realm);
      g_free (p->nonce);
      p->realm = g_steal_pointer (&r.realm);
      p->nonce = g_steal_pointer (&r.nonce);
      p->attempts++;
      build_request (p, STUN_ALLOCATE);
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

  g_output_stream_write (g_io_stream_get_output_stream (G_IO_STREAM (p->conn)), p->request->data,
                         p->request->len, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
send_request (GTask *task)
{
  Probe *p = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  /* small and non-blocking in practice: one datagram or a few hundred bytes */
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (p->conn)),
                                  p->request->data, p->request->len, NULL, NULL, &error))
    {
      finish_error (task, PUNCH_ERROR_UNREACHABLE, "cannot send to the server: %s", error->message);
      return;
    }
  if (!p->stream)
    {
      punch_source_clear (&p->retransmit_source);
      p->retransmit_source
          = punch_timeout_attach (g_task_get_context (task), UDP_RTO_MS, on_retransmit,
                                  g_object_ref (task), g_object_unref);
    }
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
  build_request (p, STUN_ALLOCATE);
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
  p->request = g_byte_array_new ();
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
      p->conn = g_socket_connection_factory_create_connection (sock);
      build_request (p, STUN_ALLOCATE);
      send_request (task);
      read_more (task);
    }
}

gboolean
punch_session_diagnose_turn_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
