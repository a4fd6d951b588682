/* punch-quic-private.h: the secure channel over an ICE pair (QUIC, ngtcp2 + GnuTLS)
 *
 * PunchQuic is one QUIC connection whose packets travel as datagrams on
 * whatever path the owner gives it (the selected ICE pair). It never sees an
 * address: ngtcp2 is handed one fixed, made-up path, so when ICE moves to
 * another pair the connection simply carries on (no migration, no new
 * handshake). TLS 1.3 authenticates both ends with their PunchIdentity; the
 * peer must present the key whose fingerprint it announced through signaling
 * (and, with pins, one of the pinned keys).
 *
 * PunchQuicStream is one QUIC bidirectional stream as a pollable GIOStream.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>
#include <ngtcp2/ngtcp2.h>

#include "punch-identity.h"

G_BEGIN_DECLS

typedef struct _PunchQuic PunchQuic;

typedef struct
{
  /* QUIC packets for the path, @len bytes: packets of @segment bytes each,
   * the last one possibly shorter (one packet when @len <= @segment). They
   * may be lost; QUIC recovers. */
  void (*send) (gpointer user_data, const guint8 *data, gsize len, gsize segment);
  /* the handshake completed and the peer proved the key it announced */
  void (*established) (gpointer user_data);
  /* the connection is over: @error is NULL when the peer closed it cleanly */
  void (*closed) (gpointer user_data, const GError *error);
  void (*datagram) (gpointer user_data, GBytes *data);
  /* the peer opened a stream (transfer none: ref it to keep it) */
  void (*stream) (gpointer user_data, GIOStream *stream);
  /* the datagram queue has room again after punch_quic_send_datagram() said WOULD_BLOCK */
  void (*writable) (gpointer user_data);
  /* (optional) why the connection ended, in the owner's words: returns a
   * new error for @error (e.g. the idle timeout) */
  GError *(*explain) (gpointer user_data, const GError *error);
} PunchQuicCallbacks;

typedef struct
{
  gint64 rtt_ms; /* smoothed, -1 before the first sample */
  guint64 cwnd;  /* congestion window, bytes */
  guint64 bytes_in_flight;
  guint64 packets_sent;
  guint64 packets_received;
  guint64 datagrams_lost;  /* sent, never acknowledged: the network lost them */
  guint64 packets_dropped; /* received and thrown away: undecryptable, forged, or stale */
  gint64 handshake_ms;     /* from start to established, -1 before */
  guint max_udp_payload;
} PunchQuicStats;

/**
 * punch_quic_new:
 * @identity: this side's key
 * @pins: (nullable): the fingerprints the peer's key must be one of, besides
 *   matching the announced one
 *
 * The default stream exists from here on; writes to it wait for the handshake.
 */
PunchQuic *punch_quic_new (PunchIdentity *identity, const char *const *pins, GMainContext *context,
                           const PunchQuicCallbacks *callbacks, gpointer user_data);
void punch_quic_free (PunchQuic *q);

/* The fingerprint the peer announced (canonical). Must be set before the
 * handshake reaches the peer's certificate, else the handshake fails. */
void punch_quic_set_expected_fingerprint (PunchQuic *q, const char *fingerprint);
/* Once the path is up. @client: sends the first flight; else accepts the
 * client's when it comes (packets before this are dropped). */
gboolean punch_quic_start (PunchQuic *q, gboolean client, GError **error);
/* One datagram that came in on the path. */
void punch_quic_receive (PunchQuic *q, const guint8 *data, gsize len);
gboolean punch_quic_is_established (PunchQuic *q);
/* How long without an authenticated packet before the connection is over
 * (QUIC's idle timeout, the session's consent timeout); before start. */
void punch_quic_set_idle_timeout (PunchQuic *q, guint ms);
/* When the last packet that only the peer could have made came (monotonic
 * µs; 0 before the first). */
gint64 punch_quic_get_last_receive_time (PunchQuic *q);
/* Returns: (transfer none) (nullable): the verified peer fingerprint once established */
const char *punch_quic_get_peer_fingerprint (PunchQuic *q);

/* Returns: (transfer none): stream 0, opened by the client, known to both sides from the start */
GIOStream *punch_quic_get_default_stream (PunchQuic *q);
/* Returns: (transfer full) (nullable): a new bidirectional stream; the peer learns of it at once */
GIOStream *punch_quic_open_stream (PunchQuic *q, GError **error);

/* Queues one DATAGRAM frame. Fails with PUNCH_ERROR_WOULD_BLOCK when the
 * queue is full (then `writable` follows), PUNCH_ERROR_INVALID_ARGUMENT when
 * larger than punch_quic_get_max_datagram_size(). */
gboolean punch_quic_send_datagram (PunchQuic *q, const void *data, gsize len, GError **error);
/* The largest datagram payload the path and the peer allow now (0 before established). */
gsize punch_quic_get_max_datagram_size (PunchQuic *q);

/* Closes the connection: CONNECTION_CLOSE with application code 0 (done) or
 * another code; then the connection answers any late packet with the close
 * for a while, until punch_quic_free(). */
void punch_quic_close (PunchQuic *q, guint64 app_error_code, const char *reason);
void punch_quic_get_stats (PunchQuic *q, PunchQuicStats *stats);
/* The path is gone (the session failed): fail every stream with @error, send nothing. */
void punch_quic_abort (PunchQuic *q, const GError *error);
/* %FALSE when a stream the peer wrote on has not ended (no FIN yet): closing
 * then abandons it, and says so (code 1 instead of 0). */
gboolean punch_quic_all_received (PunchQuic *q);
/* the connection sent or received a packet at all (worth lingering after close) */
gboolean punch_quic_has_connection (PunchQuic *q);
/* how long to keep answering late packets with our CONNECTION_CLOSE, in ms */
guint punch_quic_get_linger_ms (PunchQuic *q);

/* ---- between PunchQuic and its streams ---------------------------------- */

#define PUNCH_TYPE_QUIC_STREAM (punch_quic_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchQuicStream, punch_quic_stream, PUNCH, QUIC_STREAM, GIOStream)

PunchQuicStream *punch_quic_stream_new (PunchQuic *owner, gint64 id);
gint64 punch_quic_stream_get_id (PunchQuicStream *s);
void punch_quic_stream_set_id (PunchQuicStream *s, gint64 id);
/* data from the peer, in order; @fin: the peer's end of stream */
void punch_quic_stream_receive (PunchQuicStream *s, const guint8 *data, gsize len, gboolean fin);
/* the peer acknowledged the stream data up to @offset */
void punch_quic_stream_acked (PunchQuicStream *s, guint64 offset);
/* ngtcp2 closed the stream: everything sent was acknowledged, FIN included */
void punch_quic_stream_closed (PunchQuicStream *s);
/* the stream or the connection failed: pending and later operations get @error */
void punch_quic_stream_fail (PunchQuicStream *s, const GError *error);
/* the peer closed the connection cleanly, saying it has everything it wanted */
void punch_quic_stream_peer_done (PunchQuicStream *s);
/* the connection is gone: no more calls into the owner */
void punch_quic_stream_detach (PunchQuicStream *s);
/* ngtcp2 closed the stream cleanly and the owner lets it go: what arrived
 * stays readable, no more calls into the owner */
void punch_quic_stream_forget (PunchQuicStream *s);

/* The writer: unsent data as vectors (at most @max), and whether FIN goes after them. */
gsize punch_quic_stream_peek (PunchQuicStream *s, ngtcp2_vec *vec, gsize max, gboolean *fin);
gboolean punch_quic_stream_wants_write (PunchQuicStream *s);
/* a stream we opened: a zero-length STREAM frame tells the peer at once */
void punch_quic_stream_announce (PunchQuicStream *s);
/* @n bytes (and FIN if @fin) went into a packet */
void punch_quic_stream_sent (PunchQuicStream *s, gsize n, gboolean fin);
/* the peer started sending on it, and its end has not come */
gboolean punch_quic_stream_is_half_received (PunchQuicStream *s);
guint64 punch_quic_stream_get_bytes_read (PunchQuicStream *s);
guint64 punch_quic_stream_get_bytes_written (PunchQuicStream *s);

/* Called by streams. */
void punch_quic_schedule_write (PunchQuic *q, PunchQuicStream *s);
void punch_quic_consumed (PunchQuic *q, PunchQuicStream *s, gsize n);
void punch_quic_stop_reading (PunchQuic *q, PunchQuicStream *s);

G_END_DECLS
