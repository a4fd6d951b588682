/* punch-signal-server-config.h: everything punch-signal is configured with, in one struct
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * PunchSignalServerConfig:
 * @secret: (nullable): HMAC key for room tokens (`--secret-file`)
 * @insecure_no_auth: admit anyone to any room (`--insecure-no-auth`); for labs only
 * @room_size: most peers in one room (`--room-size`, default 2)
 * @max_connections: most connections at once, WebSockets and those still in their HTTP
 *   handshake; more are refused with a canned HTTP 503 (`--max-connections`)
 * @max_connections_per_ip: most connections at once from one IPv4 address or IPv6 /64
 *   (`--max-connections-per-ip`, default 100)
 * @handshake_timeout_s: a connection must finish its HTTP request and WebSocket upgrade
 *   this many seconds after it was accepted (`--handshake-timeout`, default 5)
 * @max_queue: most bytes waiting to be sent to one peer; a peer that lets more pile up
 *   is closed with 1008 (`--max-queue`, default 4 frames of PUNCH_SIGNAL_MAX_FRAME)
 * @turn_secret: (nullable): coturn's static-auth-secret (`--turn-secret-file`)
 * @turn_uris: (nullable): STUN/TURN URIs handed out in `welcome` (`--turn-uri`)
 * @turn_ttl: lifetime of minted TURN credentials in seconds (`--turn-ttl`)
 * @hello_timeout_s: a connection that has not joined a room after this is closed
 * @keepalive_s: interval of WebSocket pings; a peer silent for 3 intervals is closed
 * @rate: messages per second per connection (`--rate-limit`); the burst is 3 s worth
 * @max_strikes: protocol errors a connection may make before it is closed (1008)
 * @tls_certificate: (nullable): serve wss:// with this certificate and key
 * @redis_url: (nullable): share rooms with other instances through this Redis
 *   (`--redis`: `redis://[:PASSWORD@]HOST[:PORT][/DB]`, `unix:///PATH`); %NULL: alone
 * @redis_password: (nullable): overrides the URL's password (`--redis-password-file`)
 */
typedef struct
{
  GBytes *secret;
  gboolean insecure_no_auth;
  guint room_size;
  guint max_connections;
  guint max_connections_per_ip;
  guint handshake_timeout_s;
  guint64 max_queue;
  GBytes *turn_secret;
  GStrv turn_uris;
  guint turn_ttl;
  guint hello_timeout_s;
  guint keepalive_s;
  guint rate;
  guint max_strikes;
  GTlsCertificate *tls_certificate;
  char *redis_url;
  char *redis_password;
} PunchSignalServerConfig;

#define PUNCH_TYPE_SIGNAL_SERVER_CONFIG (punch_signal_server_config_get_type ())
GType punch_signal_server_config_get_type (void);

/** Returns: (transfer full): the defaults: room size 2, 10000 connections, 100 per address,
 * the handshake within 5 s, hello within 10 s, pings every 30 s, 20 messages/s, 5 strikes,
 * 256 KiB queued per peer, TURN credentials valid for 24 h */
PunchSignalServerConfig *punch_signal_server_config_new (void);
PunchSignalServerConfig *punch_signal_server_config_copy (const PunchSignalServerConfig *config);
void punch_signal_server_config_free (PunchSignalServerConfig *config);

/** Checks the config as a whole: authentication chosen, sizes non-zero, URIs parse. */
gboolean punch_signal_server_config_validate (const PunchSignalServerConfig *config,
                                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchSignalServerConfig, punch_signal_server_config_free)

G_END_DECLS
