/* punch-quic.c: one QUIC connection (ngtcp2 + GnuTLS) over an ICE pair
 *
 * Packets go out through callbacks->send and come in through
 * punch_quic_receive(); one GSource on the owner's context drives ngtcp2's
 * timers (loss detection, ACK delay, pacing, idle) and the writer.
 *
 * The settings, and why (docs/libpunch.md has the measurements):
 * - CUBIC congestion control with ngtcp2's pacing and loss recovery;
 * - flow-control windows that start at 4 MiB per stream (8 MiB for the
 *   connection) and grow, by ngtcp2's auto-tuning, up to 16 MiB per stream
 *   and 24 MiB for the connection: a 200 ms path at 500 Mbit/s holds 12.5 MB;
 * - datagram frames (RFC 9221) up to 65535 bytes, the path permitting;
 * - the consent timeout (30 s unless the session says otherwise) as QUIC's
 *   idle timeout, with a PING after 1 s without traffic, so that a live path
 *   is heard from at least every second or so: the session takes a silence
 *   of a few seconds as a sign that the path is gone (ICE restart).
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-quic-private.h"
#include "punch-error.h"
#include "punch-identity-private.h"

#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <gnutls/crypto.h>

#define ALPN "punch/1"
#define SCID_LEN 16
#define STREAM_WINDOW (4 * 1024 * 1024)
#define CONN_WINDOW (8 * 1024 * 1024)
#define MAX_STREAM_WINDOW (16 * 1024 * 1024)
#define MAX_CONN_WINDOW (24 * 1024 * 1024)
#define KEEPALIVE_MS 1000
/* how fresh the last authenticated receive time has to be (see receive()) */
#define RX_MARK_EVERY_US (50 * 1000)
/* a heartbeat byte after this many packets of datagrams (see quic_write()) */
#define HEARTBEAT_EVERY 2
/* queued datagrams before punch_quic_send_datagram() says WOULD_BLOCK */
#define DGRAM_QUEUE_MAX 512
#define MAX_VECS 16
/* the largest UDP payload we try (PMTUD probes up to it); the ICE path may be
 * relayed, where TURN adds its own header */
#define MAX_UDP_PAYLOAD 1452
/* answer late packets with our CONNECTION_CLOSE at most this often */
#define CLOSE_RESEND_US (100 * 1000)
/* packets handed to the owner in one send (UDP GSO allows 64) */
#define BATCH_MAX 32

struct _PunchQuic
{
  gboolean started;
  gboolean client;
  PunchIdentity *identity;
  GStrv pins;
  char *expected;
  char *peer_fingerprint;
  GMainContext *context;
  PunchQuicCallbacks cb;
  gpointer user_data;

  ngtcp2_conn *conn;
  gnutls_session_t tls;
  ngtcp2_crypto_conn_ref conn_ref;
  struct sockaddr_in local_addr, remote_addr; /* a fixed made-up path: never used to send */
  ngtcp2_path path;
  GSource *source; /* timers and the writer */
  gboolean write_pending;

  GHashTable *streams; /* stream id -> PunchQuicStream (owned) */
  PunchQuicStream *default_stream;
  GQueue active; /* PunchQuicStream wanting to write (borrowed from streams/default) */
  GQueue dgrams; /* GBytes */
  gboolean dgram_blocked;
  guint64 dgram_next_id;

  gboolean established;
  gboolean closing; /* we sent CONNECTION_CLOSE */
  gboolean over;    /* closed: callbacks.closed was called */
  guint8 *batch;    /* BATCH_MAX packets for one send */
  guint8 *close_pkt;
  gsize close_pkt_len;
  gint64 close_sent_us;
  GError *auth_error; /* why the peer's key was refused */
  guint depth;        /* inside on_source() or punch_quic_receive(): frees wait */
  gboolean free_pending;

  gint64 start_us;
  gint64 last_auth_rx_us; /* the last packet that only the peer could have made */
  gint64 heartbeat_id;    /* our unidirectional stream, -1 before it is open */
  guint dgram_pkts;       /* datagram packets since the last heartbeat byte */
  guint64 rx_events;      /* frames from the peer that reached a callback */
  guint idle_timeout_ms;
  PunchQuicStats stats;
};

static void quic_write (PunchQuic *q);
static void really_free (PunchQuic *q);
static void fail (PunchQuic *q, PunchErrorCode code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static ngtcp2_tstamp
now_ns (void)
{
  return (ngtcp2_tstamp)g_get_monotonic_time () * 1000;
}

/* ---- the driving source --------------------------------------------------- */

static void
rearm (PunchQuic *q)
{
  ngtcp2_tstamp expiry;
  gint64 ready;

  if (q->source == NULL)
    return;
  if (q->write_pending)
    {
      g_source_set_ready_time (q->source, 0);
      return;
    }
  if (q->conn == NULL || q->closing || q->over)
    {
      g_source_set_ready_time (q->source, -1);
      return;
    }
  expiry = ngtcp2_conn_get_expiry (q->conn);
  if (expiry == UINT64_MAX)
    ready = -1;
  else
    ready = (gint64)((expiry + 999) / 1000);
  g_source_set_ready_time (q->source, ready);
}

/* Entry points that may call the owner back, which may free us: the free
 * waits until the outermost one returns. */
static void
enter (PunchQuic *q)
{
  q->depth++;
}

static void
leave (PunchQuic *q)
{
  if (--q->depth == 0 && q->free_pending)
    really_free (q);
}

static void
drive (PunchQuic *q)
{
  if (q->conn && !q->closing && !q->over)
    {
      ngtcp2_tstamp ts = now_ns ();
      ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry (q->conn);
      if (expiry <= ts)
        {
          int rv;
          rv = ngtcp2_conn_handle_expiry (q->conn, ts);
          if (rv == NGTCP2_ERR_IDLE_CLOSE)
            {
              fail (q, PUNCH_ERROR_PEER_GONE,
                    "nothing authenticated came from the peer for %u s (consent expired)",
                    q->idle_timeout_ms / 1000);
              return;
            }
          if (rv != 0)
            {
              fail (q, PUNCH_ERROR_PROTOCOL, "QUIC timer handling failed: %s",
                    ngtcp2_strerror (rv));
              return;
            }
        }
      q->write_pending = TRUE;
    }
  quic_write (q);
}

static gboolean
on_source (gpointer user_data)
{
  PunchQuic *q = user_data;

  enter (q);
  drive (q);
  leave (q);
  return G_SOURCE_CONTINUE;
}

static void
request_write (PunchQuic *q)
{
  q->write_pending = TRUE;
  rearm (q);
}

/* ---- ending ----------------------------------------------------------------- */

static void
streams_fail (PunchQuic *q, const GError *error)
{
  GHashTableIter iter;
  gpointer value;

  punch_quic_stream_fail (q->default_stream, error);
  g_hash_table_iter_init (&iter, q->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    punch_quic_stream_fail (value, error);
}

static void
send_close_packet (PunchQuic *q)
{
  if (q->close_pkt_len == 0)
    return;
  q->close_sent_us = g_get_monotonic_time ();
  q->cb.send (q->user_data, q->close_pkt, q->close_pkt_len, q->close_pkt_len);
}

/* Writes our CONNECTION_CLOSE (once) and sends it. */
static void
write_close (PunchQuic *q, const ngtcp2_connection_close_error *ccerr)
{
  ngtcp2_path_storage ps;
  ngtcp2_ssize n;

  if (q->closing || q->conn == NULL || ngtcp2_conn_is_in_draining_period (q->conn))
    return;
  q->closing = TRUE;
  q->close_pkt = g_malloc (MAX_UDP_PAYLOAD);
  ngtcp2_path_storage_zero (&ps);
  n = ngtcp2_conn_write_connection_close (q->conn, &ps.path, NULL, q->close_pkt, MAX_UDP_PAYLOAD,
                                          ccerr, now_ns ());
  if (n > 0)
    {
      q->close_pkt_len = (gsize)n;
      send_close_packet (q);
    }
}

static void
end (PunchQuic *q, const GError *error)
{
  g_autoptr (GError) closed = NULL;
  g_autoptr (GError) why = NULL;

  if (q->over)
    return;
  q->over = TRUE;
  /* the owner may know better why (what ICE restarts found): streams and
   * owner get the same words */
  if (error)
    why = q->cb.explain ? q->cb.explain (q->user_data, error) : g_error_copy (error);
  closed = why ? g_error_copy (why)
               : g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_CLOSED,
                                      "the peer closed the connection");
  streams_fail (q, closed);
  rearm (q);
  q->cb.closed (q->user_data, why);
}

static void
fail (PunchQuic *q, PunchErrorCode code, const char *fmt, ...)
{
  g_autoptr (GError) error = NULL;
  ngtcp2_connection_close_error ccerr;
  va_list ap;

  if (q->over)
    return;
  va_start (ap, fmt);
  error = g_error_new_valist (PUNCH_ERROR, code, fmt, ap);
  va_end (ap);
  ngtcp2_connection_close_error_default (&ccerr);
  if (q->conn && ngtcp2_conn_get_tls_alert (q->conn))
    ngtcp2_connection_close_error_set_transport_error_tls_alert (
        &ccerr, ngtcp2_conn_get_tls_alert (q->conn), NULL, 0);
  else
    ngtcp2_connection_close_error_set_transport_error (&ccerr, NGTCP2_INTERNAL_ERROR, NULL, 0);
  write_close (q, &ccerr);
  end (q, error);
}

/* The peer sent CONNECTION_CLOSE: say why, in words. */
static void
on_peer_closed (PunchQuic *q)
{
  ngtcp2_connection_close_error ccerr;
  g_autofree char *reason = NULL;

  ngtcp2_conn_get_connection_close_error (q->conn, &ccerr);
  if (ccerr.reasonlen)
    reason = g_strndup ((const char *)ccerr.reason, ccerr.reasonlen);
  if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION && ccerr.error_code == 0)
    {
      /* the peer is done and has everything it wanted */
      GHashTableIter iter;
      gpointer value;

      punch_quic_stream_peer_done (q->default_stream);
      g_hash_table_iter_init (&iter, q->streams);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        punch_quic_stream_peer_done (value);
      end (q, NULL);
      return;
    }
  if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT
      && (ccerr.error_code & ~(guint64)0xff) == NGTCP2_CRYPTO_ERROR)
    {
      fail (q, PUNCH_ERROR_AUTHENTICATION,
            "the peer refused the secure handshake (TLS alert %u%s%s): it did not accept our "
            "key, or expected another fingerprint",
            (guint)(ccerr.error_code & 0xff), reason ? ": " : "", reason ? reason : "");
      return;
    }
  if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION)
    fail (q, PUNCH_ERROR_CLOSED,
          "the peer closed the connection before the end (code %" G_GUINT64_FORMAT "%s%s)",
          ccerr.error_code, reason ? ": " : "", reason ? reason : "");
  else
    fail (q, PUNCH_ERROR_PROTOCOL,
          "the peer closed the connection with QUIC error 0x%" G_GINT64_MODIFIER "x%s%s",
          ccerr.error_code, reason ? ": " : "", reason ? reason : "");
}

/* ---- ngtcp2 callbacks ---------------------------------------------------- */

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  PunchQuic *q = ref->user_data;
  return q->conn;
}

static void
rand_cb (uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
  gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen);
}

static int
get_new_connection_id (ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                       void *user_data)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0
      || gnutls_rnd (GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  return 0;
}

static void
established (PunchQuic *q)
{
  q->established = TRUE;
  q->stats.handshake_ms = (g_get_monotonic_time () - q->start_us) / 1000;
  q->cb.established (q->user_data);
}

static int
handshake_completed (ngtcp2_conn *conn, void *user_data)
{
  PunchQuic *q = user_data;

  q->rx_events++;
  if (q->peer_fingerprint == NULL)
    return NGTCP2_ERR_CALLBACK_FAILURE; /* cannot happen: the verify callback ran */
  if (q->client)
    {
      /* Data may flow now, but in TLS 1.3 the client finishes before the
       * server has checked the client's key: established waits for the
       * server's HANDSHAKE_DONE (handshake_confirmed). */
      gint64 id;
      int rv = ngtcp2_conn_open_bidi_stream (conn, &id, q->default_stream);
      if (rv != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
      punch_quic_stream_set_id (q->default_stream, id);
      punch_quic_stream_announce (q->default_stream);
      punch_quic_schedule_write (q, q->default_stream);
      return 0;
    }
  established (q);
  return 0;
}

static int
handshake_confirmed (ngtcp2_conn *conn, void *user_data)
{
  PunchQuic *q = user_data;

  if (q->client)
    established (q);
  return 0;
}

static PunchQuicStream *
stream_of (PunchQuic *q, gint64 id, void *stream_user_data)
{
  if (stream_user_data)
    return stream_user_data;
  if (id == punch_quic_stream_get_id (q->default_stream))
    return q->default_stream;
  return g_hash_table_lookup (q->streams, &id);
}

static int
stream_open (ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
  PunchQuic *q = user_data;
  PunchQuicStream *s;

  q->rx_events++;
  if (!ngtcp2_is_bidi_stream (stream_id))
    return 0; /* the peer's heartbeat stream (see tick_stream_byte()): punch's own */
  g_debug ("quic %p: the peer opened stream %" G_GINT64_FORMAT, q, stream_id);
  if (!q->client && stream_id == 0)
    {
      /* the client's first stream (0) is the default one */
      punch_quic_stream_set_id (q->default_stream, stream_id);
      ngtcp2_conn_set_stream_user_data (conn, stream_id, q->default_stream);
      punch_quic_schedule_write (q, q->default_stream);
      return 0;
    }
  s = punch_quic_stream_new (q, stream_id);
  g_hash_table_insert (q->streams, g_memdup2 (&stream_id, sizeof stream_id), s);
  ngtcp2_conn_set_stream_user_data (conn, stream_id, s);
  q->cb.stream (q->user_data, G_IO_STREAM (s));
  return 0;
}

static int
recv_stream_data (ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                  const uint8_t *data, size_t datalen, void *user_data, void *stream_user_data)
{
  PunchQuic *q = user_data;
  PunchQuicStream *s = stream_of (q, stream_id, stream_user_data);

  q->rx_events++;
  if (!ngtcp2_is_bidi_stream (stream_id))
    {
      /* heartbeat bytes: dropped, and their credit given back */
      ngtcp2_conn_extend_max_stream_offset (conn, stream_id, datalen);
      ngtcp2_conn_extend_max_offset (conn, datalen);
      return 0;
    }
  if (s == NULL)
    return 0;
  punch_quic_stream_receive (s, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  return 0;
}

static int
acked_stream_data_offset (ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
                          void *user_data, void *stream_user_data)
{
  PunchQuic *q = user_data;
  PunchQuicStream *s = stream_of (q, stream_id, stream_user_data);

  q->rx_events++;
  if (s)
    punch_quic_stream_acked (s, offset + datalen);
  return 0;
}

/* The peer ended a stream abnormally: its operations fail with @what. */
static int
fail_stream (PunchQuic *q, gint64 stream_id, void *stream_user_data, const char *what,
             guint64 app_error_code)
{
  PunchQuicStream *s = stream_of (q, stream_id, stream_user_data);
  g_autoptr (GError) error = NULL;

  if (s == NULL)
    return 0;
  error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the peer %s (code %" G_GUINT64_FORMAT ")",
                       what, app_error_code);
  punch_quic_stream_fail (s, error);
  return 0;
}

static int
stream_reset (ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size, uint64_t app_error_code,
              void *user_data, void *stream_user_data)
{
  return fail_stream (user_data, stream_id, stream_user_data, "abandoned its side of the stream",
                      app_error_code);
}

static int
stream_stop_sending (ngtcp2_conn *conn, int64_t stream_id, uint64_t app_error_code, void *user_data,
                     void *stream_user_data)
{
  return fail_stream (user_data, stream_id, stream_user_data, "stopped reading the stream",
                      app_error_code);
}

static int
stream_close (ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
              void *user_data, void *stream_user_data)
{
  PunchQuic *q = user_data;
  PunchQuicStream *s = stream_of (q, stream_id, stream_user_data);

  if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) && app_error_code != 0)
    fail_stream (q, stream_id, stream_user_data, "reset the stream", app_error_code);
  else if (s)
    punch_quic_stream_closed (s);
  /* ngtcp2 is done with it: the peer may open another in its place, and
   * the application's reference (if any) keeps what arrived readable */
  if (!ngtcp2_conn_is_local_stream (conn, stream_id))
    ngtcp2_conn_extend_max_streams_bidi (conn, 1);
  if (s && s != q->default_stream)
    {
      g_queue_remove (&q->active, s);
      punch_quic_stream_forget (s);
      g_hash_table_remove (q->streams, &stream_id);
    }
  return 0;
}

static int
extend_max_stream_data (ngtcp2_conn *conn, int64_t stream_id, uint64_t max_data, void *user_data,
                        void *stream_user_data)
{
  PunchQuic *q = user_data;
  PunchQuicStream *s = stream_of (q, stream_id, stream_user_data);

  q->rx_events++;
  if (s)
    punch_quic_schedule_write (q, s);
  return 0;
}

static int
recv_datagram (ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen,
               void *user_data)
{
  PunchQuic *q = user_data;
  g_autoptr (GBytes) bytes = g_bytes_new (data, datalen);

  q->rx_events++;
  q->cb.datagram (q->user_data, bytes);
  return 0;
}

static int
lost_datagram (ngtcp2_conn *conn, uint64_t dgram_id, void *user_data)
{
  PunchQuic *q = user_data;

  q->stats.datagrams_lost++;
  return 0;
}

static const ngtcp2_callbacks callbacks_template = {
  .client_initial = ngtcp2_crypto_client_initial_cb,
  .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
  .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
  .handshake_completed = handshake_completed,
  .encrypt = ngtcp2_crypto_encrypt_cb,
  .decrypt = ngtcp2_crypto_decrypt_cb,
  .hp_mask = ngtcp2_crypto_hp_mask_cb,
  .recv_stream_data = recv_stream_data,
  .acked_stream_data_offset = acked_stream_data_offset,
  .stream_open = stream_open,
  .stream_close = stream_close,
  .recv_retry = ngtcp2_crypto_recv_retry_cb,
  .rand = rand_cb,
  .get_new_connection_id = get_new_connection_id,
  .update_key = ngtcp2_crypto_update_key_cb,
  .stream_reset = stream_reset,
  .extend_max_stream_data = extend_max_stream_data,
  .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
  .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
  .recv_datagram = recv_datagram,
  .lost_datagram = lost_datagram,
  .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
  .stream_stop_sending = stream_stop_sending,
  .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
  .handshake_confirmed = handshake_confirmed,
};

/* ---- TLS: who the peer is ------------------------------------------------ */

static gboolean
pinned (PunchQuic *q, const char *fingerprint)
{
  for (char **p = q->pins; p && *p; p++)
    if (punch_fingerprint_equal (*p, fingerprint))
      return TRUE;
  return FALSE;
}

/* GnuTLS calls this with the peer's certificate, before the handshake can
 * complete: the one place where the peer proves who it is. */
static int
verify_peer (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  PunchQuic *q = ref->user_data;
  const gnutls_datum_t *certs;
  unsigned int n = 0;
  g_autofree char *fingerprint = NULL;
  g_autoptr (GError) error = NULL;

  g_clear_error (&q->auth_error);
  certs = gnutls_certificate_get_peers (session, &n);
  if (certs == NULL || n == 0)
    {
      g_set_error_literal (&q->auth_error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                           "the peer presented no key in the secure handshake");
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  fingerprint = punch_fingerprint_of_certificate (&certs[0], &error);
  if (fingerprint == NULL)
    {
      g_set_error (&q->auth_error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer's certificate is unreadable: %s", error->message);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  if (q->expected == NULL)
    {
      g_set_error (&q->auth_error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer presented key %s but announced no fingerprint through signaling, so "
                   "it cannot be checked",
                   fingerprint);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  if (!punch_fingerprint_equal (fingerprint, q->expected))
    {
      g_set_error (&q->auth_error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer presented key %s, not the %s it announced through signaling: "
                   "someone is in the middle, or the announcement was altered",
                   fingerprint, q->expected);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  if (q->pins && !pinned (q, fingerprint))
    {
      g_set_error (&q->auth_error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION,
                   "the peer's key %s is not one of the %u pinned peers: refused (the signaling "
                   "server may have swapped it)",
                   fingerprint, g_strv_length (q->pins));
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  g_free (q->peer_fingerprint);
  q->peer_fingerprint = g_steal_pointer (&fingerprint);
  return 0;
}

static gboolean
setup_tls (PunchQuic *q, GError **error)
{
  static const gnutls_datum_t alpn = { (unsigned char *)ALPN, sizeof ALPN - 1 };
  unsigned int flags = q->client ? GNUTLS_CLIENT : GNUTLS_SERVER;
  int rv;

#ifdef GNUTLS_NO_END_OF_EARLY_DATA
  flags |= GNUTLS_NO_END_OF_EARLY_DATA;
#endif
  rv = gnutls_init (&q->tls, flags);
  if (rv == 0)
    rv = gnutls_priority_set_direct (
        q->tls, "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE", NULL);
  if (rv == 0)
    rv = q->client ? ngtcp2_crypto_gnutls_configure_client_session (q->tls)
                   : ngtcp2_crypto_gnutls_configure_server_session (q->tls);
  if (rv == 0)
    rv = gnutls_credentials_set (q->tls, GNUTLS_CRD_CERTIFICATE,
                                 punch_identity_get_credentials (q->identity));
  if (rv == 0)
    rv = gnutls_alpn_set_protocols (q->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rv != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot set up TLS 1.3: %s",
                   gnutls_strerror (rv));
      return FALSE;
    }
  if (!q->client)
    gnutls_certificate_server_set_request (q->tls, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_function (q->tls, verify_peer);
  q->conn_ref.get_conn = get_conn;
  q->conn_ref.user_data = q;
  gnutls_session_set_ptr (q->tls, &q->conn_ref);
  return TRUE;
}

/* ---- the connection ------------------------------------------------------- */

static void log_printf (void *user_data, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
log_printf (void *user_data, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fprintf (stderr, "quic %p: ", user_data);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

/* CUBIC unless PUNCH_QUIC_CC names another (for measurements: docs/bench.md) */
static ngtcp2_cc_algo
cc_algo (void)
{
  const char *name = g_getenv ("PUNCH_QUIC_CC");

  if (g_strcmp0 (name, "reno") == 0)
    return NGTCP2_CC_ALGO_RENO;
  if (g_strcmp0 (name, "bbr") == 0)
    return NGTCP2_CC_ALGO_BBR;
  if (g_strcmp0 (name, "bbr2") == 0)
    return NGTCP2_CC_ALGO_BBR2;
  return NGTCP2_CC_ALGO_CUBIC;
}

static void
init_settings (ngtcp2_settings *settings, ngtcp2_transport_params *params, guint idle_timeout_ms)
{
  ngtcp2_settings_default (settings);
  settings->initial_ts = now_ns ();
  settings->cc_algo = cc_algo ();
  settings->max_tx_udp_payload_size = MAX_UDP_PAYLOAD;
  settings->max_window = MAX_CONN_WINDOW;
  settings->max_stream_window = MAX_STREAM_WINDOW;
  settings->handshake_timeout = 10 * NGTCP2_SECONDS;
  if (g_getenv ("PUNCH_QUIC_ACK_THRESH"))
    settings->ack_thresh = (size_t)g_ascii_strtoull (g_getenv ("PUNCH_QUIC_ACK_THRESH"), NULL, 10);
  if (g_getenv ("PUNCH_QUIC_DEBUG"))
    settings->log_printf = log_printf;

  ngtcp2_transport_params_default (params);
  params->initial_max_stream_data_bidi_local = STREAM_WINDOW;
  params->initial_max_stream_data_bidi_remote = STREAM_WINDOW;
  /* one unidirectional stream each way, punch's own: the heartbeat */
  params->initial_max_stream_data_uni = 64 * 1024;
  params->initial_max_data = CONN_WINDOW;
  params->initial_max_streams_bidi = 100;
  params->initial_max_streams_uni = 1;
  params->max_idle_timeout = (ngtcp2_duration)idle_timeout_ms * NGTCP2_MILLISECONDS;
  params->max_datagram_frame_size = 65535;
  params->active_connection_id_limit = 4;
}

static void
random_cid (ngtcp2_cid *cid, gsize len)
{
  cid->datalen = len;
  gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, len);
}

static gboolean
create_client (PunchQuic *q, GError **error)
{
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  int rv;

  init_settings (&settings, &params, q->idle_timeout_ms);
  random_cid (&dcid, 18);
  random_cid (&scid, SCID_LEN);
  rv = ngtcp2_conn_client_new (&q->conn, &dcid, &scid, &q->path, NGTCP2_PROTO_VER_V1,
                               &callbacks_template, &settings, &params, NULL, q);
  if (rv != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot create the QUIC client: %s",
                   ngtcp2_strerror (rv));
      return FALSE;
    }
  ngtcp2_conn_set_tls_native_handle (q->conn, q->tls);
  ngtcp2_conn_set_keep_alive_timeout (q->conn, KEEPALIVE_MS * NGTCP2_MILLISECONDS);
  return TRUE;
}

/* The server's connection starts with the client's first Initial packet. */
static gboolean
create_server (PunchQuic *q, const guint8 *data, gsize len)
{
  ngtcp2_pkt_hd hd;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  int rv;

  if (ngtcp2_accept (&hd, data, len) != 0)
    return FALSE;
  q->start_us = g_get_monotonic_time (); /* the handshake starts with the client's Initial */
  init_settings (&settings, &params, q->idle_timeout_ms);
  params.original_dcid = hd.dcid;
  random_cid (&scid, SCID_LEN);
  rv = ngtcp2_conn_server_new (&q->conn, &hd.scid, &scid, &q->path, hd.version, &callbacks_template,
                               &settings, &params, NULL, q);
  if (rv != 0)
    {
      g_warning ("cannot create the QUIC server side: %s", ngtcp2_strerror (rv));
      return FALSE;
    }
  ngtcp2_conn_set_tls_native_handle (q->conn, q->tls);
  ngtcp2_conn_set_keep_alive_timeout (q->conn, KEEPALIVE_MS * NGTCP2_MILLISECONDS);
  return TRUE;
}

static gboolean
driver_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs driver_funcs = { NULL, NULL, driver_dispatch, NULL, NULL, NULL };

PunchQuic *
punch_quic_new (PunchIdentity *identity, const char *const *pins, GMainContext *context,
                const PunchQuicCallbacks *callbacks, gpointer user_data)
{
  PunchQuic *q = g_new0 (PunchQuic, 1);

  q->identity = punch_identity_ref (identity);
  q->pins = pins && *pins ? g_strdupv ((char **)pins) : NULL;
  q->context = g_main_context_ref (context);
  q->cb = *callbacks;
  q->user_data = user_data;
  q->batch = g_malloc (BATCH_MAX * MAX_UDP_PAYLOAD);
  q->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  q->default_stream = punch_quic_stream_new (q, -1);
  q->stats.rtt_ms = -1;
  q->stats.handshake_ms = -1;
  q->idle_timeout_ms = 30000;
  q->heartbeat_id = -1;
  g_queue_init (&q->active);
  g_queue_init (&q->dgrams);

  /* ngtcp2 wants a path; it is a label only, the ICE pair carries the packets */
  q->local_addr.sin_family = AF_INET;
  q->local_addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  q->local_addr.sin_port = htons (1);
  q->remote_addr = q->local_addr;
  q->remote_addr.sin_port = htons (2);
  q->path.local.addr = (ngtcp2_sockaddr *)&q->local_addr;
  q->path.local.addrlen = sizeof q->local_addr;
  q->path.remote.addr = (ngtcp2_sockaddr *)&q->remote_addr;
  q->path.remote.addrlen = sizeof q->remote_addr;

  /* driven by its ready time alone (a timeout source would reset it) */
  q->source = g_source_new (&driver_funcs, sizeof (GSource));
  g_source_set_ready_time (q->source, -1);
  g_source_set_name (q->source, "[punch] quic");
  g_source_set_callback (q->source, on_source, q, NULL);
  g_source_attach (q->source, context);
  return q;
}

void
punch_quic_set_expected_fingerprint (PunchQuic *q, const char *fingerprint)
{
  g_free (q->expected);
  q->expected = g_strdup (fingerprint);
}

gboolean
punch_quic_start (PunchQuic *q, gboolean client, GError **error)
{
  g_return_val_if_fail (!q->started, FALSE);

  q->started = TRUE;
  q->client = client;
  q->start_us = g_get_monotonic_time ();
  if (!setup_tls (q, error))
    return FALSE;
  if (!q->client)
    return TRUE;
  if (!create_client (q, error))
    return FALSE;
  request_write (q);
  return TRUE;
}

static void receive (PunchQuic *q, const guint8 *data, gsize len);

void
punch_quic_receive (PunchQuic *q, const guint8 *data, gsize len)
{
  enter (q);
  receive (q, data, len);
  leave (q);
}

typedef struct
{
  guint64 events;
  ngtcp2_tstamp expiry;
  guint64 bytes_in_flight;
  ngtcp2_duration latest_rtt;
  ngtcp2_tstamp loss_detection_timer;
} RxMark;

static void
rx_mark (PunchQuic *q, RxMark *m)
{
  ngtcp2_conn_stat cstat;

  memset (m, 0, sizeof *m);
  m->events = q->rx_events;
  if (q->conn == NULL)
    return;
  ngtcp2_conn_get_conn_stat (q->conn, &cstat);
  m->expiry = ngtcp2_conn_get_expiry (q->conn);
  m->bytes_in_flight = cstat.bytes_in_flight;
  m->latest_rtt = cstat.latest_rtt;
  m->loss_detection_timer = cstat.loss_detection_timer;
}

static void
receive (PunchQuic *q, const guint8 *data, gsize len)
{
  ngtcp2_pkt_info pi = { 0 };
  int rv;

  q->stats.packets_received++;
  if (q->over || q->closing)
    {
      if (q->closing && g_get_monotonic_time () - q->close_sent_us >= CLOSE_RESEND_US)
        send_close_packet (q);
      return;
    }
  if (q->conn == NULL)
    {
      if (!q->started || q->client || !create_server (q, data, len))
        {
          q->stats.packets_dropped++;
          return;
        }
    }
  {
    /* A forged, altered or replayed packet is dropped with 0 and changes
     * nothing. One that only the peer can have made either carries a frame
     * (a callback counts it), asks for an ACK (the ACK timer moves the
     * expiry) or acknowledges ours (bytes in flight, RTT, loss timer). */
    RxMark before, after;
    gint64 now = g_get_monotonic_time ();
    /* the session asks about seconds: while packets flow, a mark every
     * 50 ms is plenty, and the others are spared two stat copies */
    gboolean mark = now - q->last_auth_rx_us >= RX_MARK_EVERY_US;

    if (mark)
      rx_mark (q, &before);
    rv = ngtcp2_conn_read_pkt (q->conn, &q->path, &pi, data, len, now_ns ());
    if (mark)
      {
        rx_mark (q, &after);
        if (rv == 0 && memcmp (&before, &after, sizeof before) != 0)
          q->last_auth_rx_us = now;
      }
  }
  if (rv == 0)
    {
      request_write (q);
      return;
    }
  if (rv == NGTCP2_ERR_DRAINING)
    on_peer_closed (q);
  else if (rv == NGTCP2_ERR_CRYPTO && q->auth_error)
    {
      g_autoptr (GError) auth = g_steal_pointer (&q->auth_error);
      fail (q, PUNCH_ERROR_AUTHENTICATION, "%s", auth->message);
    }
  else if (rv == NGTCP2_ERR_CRYPTO)
    fail (q, PUNCH_ERROR_AUTHENTICATION, "the secure handshake failed (TLS alert %u)",
          ngtcp2_conn_get_tls_alert (q->conn));
  else if (rv == NGTCP2_ERR_DROP_CONN)
    end (q, NULL);
  else
    fail (q, PUNCH_ERROR_PROTOCOL, "a QUIC packet from the peer broke the connection: %s",
          ngtcp2_strerror (rv));
}

void
punch_quic_set_idle_timeout (PunchQuic *q, guint ms)
{
  q->idle_timeout_ms = ms;
}

gint64
punch_quic_get_last_receive_time (PunchQuic *q)
{
  return q->last_auth_rx_us;
}

gboolean
punch_quic_is_established (PunchQuic *q)
{
  return q->established && !q->over;
}

const char *
punch_quic_get_peer_fingerprint (PunchQuic *q)
{
  return q->established ? q->peer_fingerprint : NULL;
}

GIOStream *
punch_quic_get_default_stream (PunchQuic *q)
{
  return G_IO_STREAM (q->default_stream);
}

GIOStream *
punch_quic_open_stream (PunchQuic *q, GError **error)
{
  PunchQuicStream *s;
  gint64 id;
  int rv;

  if (!punch_quic_is_established (q))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED,
                           "streams open once the secure channel is established");
      return NULL;
    }
  s = punch_quic_stream_new (q, -1);
  rv = ngtcp2_conn_open_bidi_stream (q->conn, &id, s);
  if (rv != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_FAILED, "cannot open a stream: %s",
                   rv == NGTCP2_ERR_STREAM_ID_BLOCKED ? "the peer allows no more streams now"
                                                      : ngtcp2_strerror (rv));
      g_object_unref (s);
      return NULL;
    }
  punch_quic_stream_set_id (s, id);
  punch_quic_stream_announce (s);
  g_hash_table_insert (q->streams, g_memdup2 (&id, sizeof id), g_object_ref (s));
  punch_quic_schedule_write (q, s);
  return G_IO_STREAM (s);
}

gsize
punch_quic_get_max_datagram_size (PunchQuic *q)
{
  const ngtcp2_transport_params *remote;
  gsize path, overhead;

  if (!punch_quic_is_established (q))
    return 0;
  remote = ngtcp2_conn_get_remote_transport_params (q->conn);
  if (remote == NULL || remote->max_datagram_frame_size == 0)
    return 0;
  /* short header (1 + DCID + up to 4 bytes of packet number), AEAD tag,
   * DATAGRAM frame type and a length of up to 2 bytes */
  path = ngtcp2_conn_get_path_max_tx_udp_payload_size (q->conn);
  overhead = 1 + ngtcp2_conn_get_dcid (q->conn)->datalen + 4 + 16 + 1 + 2;
  if (path <= overhead)
    return 0;
  return MIN (path - overhead, remote->max_datagram_frame_size - 3);
}

gboolean
punch_quic_send_datagram (PunchQuic *q, const void *data, gsize len, GError **error)
{
  gsize max = punch_quic_get_max_datagram_size (q);

  if (!punch_quic_is_established (q))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_CLOSED,
                           q->over ? "the connection is closed" : "not connected yet");
      return FALSE;
    }
  if (len > max)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "a datagram of %" G_GSIZE_FORMAT " bytes is larger than the %" G_GSIZE_FORMAT
                   " bytes this path carries in one packet",
                   len, max);
      return FALSE;
    }
  if (g_queue_get_length (&q->dgrams) >= DGRAM_QUEUE_MAX)
    {
      q->dgram_blocked = TRUE;
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_WOULD_BLOCK,
                           "the datagram queue is full: wait for `writable`");
      return FALSE;
    }
  g_queue_push_tail (&q->dgrams, g_bytes_new (data, len));
  request_write (q);
  return TRUE;
}

void
punch_quic_close (PunchQuic *q, guint64 app_error_code, const char *reason)
{
  ngtcp2_connection_close_error ccerr;
  g_autoptr (GError) error = NULL;

  if (q->over || q->closing)
    return;
  if (q->conn == NULL)
    {
      q->over = TRUE;
      return;
    }
  ngtcp2_connection_close_error_set_application_error (
      &ccerr, app_error_code, (const uint8_t *)reason, reason ? strlen (reason) : 0);
  write_close (q, &ccerr);
  q->over = TRUE;
  error = g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_CLOSED, "the connection was closed");
  streams_fail (q, error);
  rearm (q);
}

void
punch_quic_abort (PunchQuic *q, const GError *error)
{
  if (q->over)
    return;
  q->over = TRUE;
  streams_fail (q, error);
  rearm (q);
}

gboolean
punch_quic_all_received (PunchQuic *q)
{
  GHashTableIter iter;
  gpointer value;

  if (punch_quic_stream_is_half_received (q->default_stream))
    return FALSE;
  g_hash_table_iter_init (&iter, q->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (punch_quic_stream_is_half_received (value))
      return FALSE;
  return TRUE;
}

gboolean
punch_quic_has_connection (PunchQuic *q)
{
  return q->conn != NULL;
}

guint
punch_quic_get_linger_ms (PunchQuic *q)
{
  if (q->conn == NULL)
    return 0;
  /* RFC 9000 section 10.2: three times the PTO */
  return (guint)CLAMP (3 * ngtcp2_conn_get_pto (q->conn) / NGTCP2_MILLISECONDS, 50, 2000);
}

void
punch_quic_get_stats (PunchQuic *q, PunchQuicStats *stats)
{
  *stats = q->stats;
  if (q->conn)
    {
      ngtcp2_conn_stat cstat;
      ngtcp2_conn_get_conn_stat (q->conn, &cstat);
      if (cstat.first_rtt_sample_ts != UINT64_MAX && cstat.first_rtt_sample_ts != 0)
        stats->rtt_ms = (gint64)(cstat.smoothed_rtt / NGTCP2_MILLISECONDS);
      stats->cwnd = cstat.cwnd;
      stats->bytes_in_flight = cstat.bytes_in_flight;
      stats->max_udp_payload = (guint)ngtcp2_conn_get_path_max_tx_udp_payload_size (q->conn);
    }
}

void
punch_quic_free (PunchQuic *q)
{
  if (q == NULL)
    return;
  if (q->depth)
    {
      q->free_pending = TRUE;
      return;
    }
  really_free (q);
}

static void
really_free (PunchQuic *q)
{
  GHashTableIter iter;
  gpointer value;
  if (q->source)
    {
      g_source_destroy (q->source);
      g_clear_pointer (&q->source, g_source_unref);
    }
  punch_quic_stream_detach (q->default_stream);
  g_clear_object (&q->default_stream);
  g_hash_table_iter_init (&iter, q->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    punch_quic_stream_detach (value);
  g_hash_table_unref (q->streams);
  g_queue_clear (&q->active);
  g_queue_clear_full (&q->dgrams, (GDestroyNotify)g_bytes_unref);
  if (q->conn)
    ngtcp2_conn_del (q->conn);
  if (q->tls)
    gnutls_deinit (q->tls);
  g_free (q->close_pkt);
  g_free (q->batch);
  g_clear_error (&q->auth_error);
  g_free (q->expected);
  g_free (q->peer_fingerprint);
  g_strfreev (q->pins);
  punch_identity_unref (q->identity);
  g_main_context_unref (q->context);
  g_free (q);
}

/* ---- between streams and the connection ---------------------------------------- */

void
punch_quic_schedule_write (PunchQuic *q, PunchQuicStream *s)
{
  if (s && punch_quic_stream_wants_write (s) && g_queue_find (&q->active, s) == NULL)
    g_queue_push_tail (&q->active, s);
  request_write (q);
}

void
punch_quic_consumed (PunchQuic *q, PunchQuicStream *s, gsize n)
{
  gint64 id = punch_quic_stream_get_id (s);

  if (q->conn == NULL || q->over || id < 0)
    return;
  ngtcp2_conn_extend_max_stream_offset (q->conn, id, n);
  ngtcp2_conn_extend_max_offset (q->conn, n);
  request_write (q);
}

void
punch_quic_stop_reading (PunchQuic *q, PunchQuicStream *s)
{
  gint64 id = punch_quic_stream_get_id (s);

  if (q->conn == NULL || q->over || id < 0)
    return;
  ngtcp2_conn_shutdown_stream_read (q->conn, id, 1);
  request_write (q);
}

/* ---- the writer ------------------------------------------------------------ */

/* Our heartbeat stream, opened on first use. */
static gboolean
heartbeat_ready (PunchQuic *q)
{
  if (q->heartbeat_id < 0)
    {
      int64_t id;
      if (ngtcp2_conn_open_uni_stream (q->conn, &id, NULL) != 0)
        return FALSE;
      q->heartbeat_id = id;
    }
  return TRUE;
}

static gboolean
write_one (PunchQuic *q, guint8 *buf, gsize buflen, ngtcp2_tstamp ts, gsize *out_len)
{
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;

  ngtcp2_path_storage_zero (&ps);
  for (;;)
    {
      ngtcp2_ssize nwrite, ndatalen = -1;
      PunchQuicStream *s = NULL;

      if (q->established && !g_queue_is_empty (&q->dgrams) && q->dgram_pkts >= HEARTBEAT_EVERY
          && heartbeat_ready (q))
        {
          /* ngtcp2 0.12 does not arm its probe timer for packets that carry
           * only DATAGRAM frames: when the last of them are lost and the
           * window is full, nothing is ever declared lost and the
           * connection stalls for good. One byte on our own stream, which
           * is retransmittable, rides along now and then and keeps the
           * timer armed. */
          static const guint8 beat = 0;
          ngtcp2_vec vec = { (uint8_t *)&beat, 1 };

          nwrite = ngtcp2_conn_writev_stream (q->conn, &ps.path, &pi, buf, buflen, &ndatalen,
                                              NGTCP2_WRITE_STREAM_FLAG_MORE, q->heartbeat_id, &vec,
                                              1, ts);
          if (ndatalen > 0 || nwrite < 0)
            q->dgram_pkts = 0; /* sent, or cannot be: not again at once */
          if (nwrite == NGTCP2_ERR_WRITE_MORE)
            continue;
          if (nwrite == NGTCP2_ERR_STREAM_DATA_BLOCKED)
            continue;
        }
      else if (q->established && !g_queue_is_empty (&q->dgrams))
        {
          GBytes *head = g_queue_peek_head (&q->dgrams);
          ngtcp2_vec vec;
          int accepted = 0;
          gsize len;

          vec.base = (uint8_t *)g_bytes_get_data (head, &len);
          vec.len = len;
          nwrite = ngtcp2_conn_writev_datagram (q->conn, &ps.path, &pi, buf, buflen, &accepted,
                                                NGTCP2_WRITE_DATAGRAM_FLAG_MORE, q->dgram_next_id,
                                                &vec, 1, ts);
          if (accepted)
            {
              q->dgram_next_id++;
              q->dgram_pkts++;
              g_bytes_unref (g_queue_pop_head (&q->dgrams));
            }
          if (nwrite == NGTCP2_ERR_WRITE_MORE)
            continue;
          if (nwrite == NGTCP2_ERR_INVALID_ARGUMENT)
            {
              /* larger than the path allows now (it shrank): cannot go */
              g_bytes_unref (g_queue_pop_head (&q->dgrams));
              q->stats.datagrams_lost++;
              continue;
            }
        }
      else if ((s = g_queue_peek_head (&q->active)) != NULL)
        {
          ngtcp2_vec vec[MAX_VECS];
          gboolean fin = FALSE;
          gsize nvec = punch_quic_stream_peek (s, vec, MAX_VECS, &fin), total = 0;
          guint32 flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);

          for (gsize i = 0; i < nvec; i++)
            total += vec[i].len;
          if (!punch_quic_stream_wants_write (s))
            {
              g_queue_pop_head (&q->active);
              continue;
            }
          nwrite = ngtcp2_conn_writev_stream (q->conn, &ps.path, &pi, buf, buflen, &ndatalen, flags,
                                              punch_quic_stream_get_id (s), vec, nvec, ts);
          if (ndatalen >= 0)
            punch_quic_stream_sent (s, (gsize)ndatalen, fin && (gsize)ndatalen == total);
          if (!punch_quic_stream_wants_write (s))
            g_queue_remove (&q->active, s);
          if (nwrite == NGTCP2_ERR_WRITE_MORE)
            continue;
          if (nwrite == NGTCP2_ERR_STREAM_DATA_BLOCKED || nwrite == NGTCP2_ERR_STREAM_SHUT_WR
              || nwrite == NGTCP2_ERR_STREAM_NOT_FOUND)
            {
              /* flow control (extend_max_stream_data brings it back) or gone */
              g_queue_remove (&q->active, s);
              continue;
            }
          if (nwrite > 0 && ndatalen > 0 && g_queue_remove (&q->active, s))
            g_queue_push_tail (&q->active, s); /* round robin among streams with data */
        }
      else
        {
          nwrite = ngtcp2_conn_writev_stream (q->conn, &ps.path, &pi, buf, buflen, NULL,
                                              NGTCP2_WRITE_STREAM_FLAG_NONE, -1, NULL, 0, ts);
          if (nwrite == NGTCP2_ERR_WRITE_MORE)
            continue;
        }

      if (nwrite < 0)
        {
          fail (q, PUNCH_ERROR_PROTOCOL, "QUIC could not write a packet: %s",
                ngtcp2_strerror ((int)nwrite));
          return FALSE;
        }
      *out_len = (gsize)nwrite;
      return TRUE;
    }
}

/* Packets of one size go out together: the owner can hand them to the
 * kernel in one call (UDP GSO), which cuts the sender's system time. */
static void
flush_batch (PunchQuic *q, gsize *off, gsize *nseg, gsize seg)
{
  if (*off)
    q->cb.send (q->user_data, q->batch, *off, seg);
  *off = 0;
  *nseg = 0;
}

static void
quic_write (PunchQuic *q)
{
  ngtcp2_tstamp ts;
  gsize max_pkts, sent = 0, off = 0, nseg = 0, seg = 0;
  gboolean was_blocked = q->dgram_blocked;

  q->write_pending = FALSE;
  if (q->conn == NULL || q->closing || q->over)
    {
      rearm (q);
      return;
    }
  ts = now_ns ();
  max_pkts = MAX (1, ngtcp2_conn_get_send_quantum (q->conn) / MAX_UDP_PAYLOAD);
  while (sent < max_pkts)
    {
      gsize len = 0;
      if (!write_one (q, q->batch + off, MAX_UDP_PAYLOAD, ts, &len) || len == 0)
        break;
      q->stats.packets_sent++;
      sent++;
      if (nseg > 0 && len > seg)
        {
          /* larger than the batch's packets: it starts the next batch */
          gsize start = off;
          flush_batch (q, &off, &nseg, seg);
          memmove (q->batch, q->batch + start, len);
        }
      if (nseg == 0)
        seg = len;
      off += len;
      nseg++;
      if (len < seg || nseg == BATCH_MAX)
        flush_batch (q, &off, &nseg, seg);
    }
  if (!q->over)
    flush_batch (q, &off, &nseg, seg);
  /* Pacing starts with the first RTT sample: before it, ngtcp2 paces by
   * its initial RTT guess (333 ms), which held the client's Finished back
   * for about 20 ms (until a PTO) on every handshake. */
  if (!q->over && ngtcp2_conn_get_handshake_completed (q->conn))
    ngtcp2_conn_update_pkt_tx_time (q->conn, ts);
  /* The send quantum is used up, but there may be more: come back at once;
   * ngtcp2 writes nothing while pacing says wait, and then the expiry says
   * when. */
  if (sent == max_pkts)
    q->write_pending = TRUE;

  if (was_blocked && g_queue_get_length (&q->dgrams) < DGRAM_QUEUE_MAX / 2 && !q->over)
    {
      q->dgram_blocked = FALSE;
      q->cb.writable (q->user_data);
    }
  rearm (q);
}
