/* punch-signal-server-config.c
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-server-config.h"

#include <punch.h>
#include <string.h>
#ifdef PUNCH_SIGNAL_HAVE_REDIS
#include "punch-signal-redis-address.h"
#endif

#include "punch-signal-message.h"

G_DEFINE_BOXED_TYPE (PunchSignalServerConfig, punch_signal_server_config,
                     punch_signal_server_config_copy, punch_signal_server_config_free)

PunchSignalServerConfig *
punch_signal_server_config_new (void)
{
  PunchSignalServerConfig *config = g_new0 (PunchSignalServerConfig, 1);

  config->room_size = 2;
  config->max_connections = 10000;
  config->max_connections_per_ip = 100;
  config->handshake_timeout_s = 5;
  config->max_queue = 4 * PUNCH_SIGNAL_MAX_FRAME;
  config->turn_ttl = 24 * 3600;
  config->hello_timeout_s = 10;
  config->keepalive_s = 30;
  config->rate = 20;
  config->max_strikes = 5;
  return config;
}

PunchSignalServerConfig *
punch_signal_server_config_copy (const PunchSignalServerConfig *config)
{
  PunchSignalServerConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);
  copy = g_new0 (PunchSignalServerConfig, 1);
  *copy = *config;
  copy->secret = config->secret ? g_bytes_ref (config->secret) : NULL;
  copy->turn_secret = config->turn_secret ? g_bytes_ref (config->turn_secret) : NULL;
  copy->turn_uris = g_strdupv (config->turn_uris);
  copy->tls_certificate = config->tls_certificate ? g_object_ref (config->tls_certificate) : NULL;
  copy->redis_url = g_strdup (config->redis_url);
  copy->redis_password = g_strdup (config->redis_password);
  return copy;
}

void
punch_signal_server_config_free (PunchSignalServerConfig *config)
{
  if (config == NULL)
    return;
  g_clear_pointer (&config->secret, g_bytes_unref);
  g_clear_pointer (&config->turn_secret, g_bytes_unref);
  g_strfreev (config->turn_uris);
  g_clear_object (&config->tls_certificate);
  g_free (config->redis_url);
  if (config->redis_password)
    explicit_bzero (config->redis_password, strlen (config->redis_password));
  g_free (config->redis_password);
  g_free (config);
}

gboolean
punch_signal_server_config_validate (const PunchSignalServerConfig *config, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  if (config->secret == NULL && !config->insecure_no_auth)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "no room authentication: give --secret-file FILE, or "
                           "--insecure-no-auth for a lab where anyone may join any room");
      return FALSE;
    }
  if (config->room_size < 2 || config->room_size > 256)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "the room size must be between 2 and 256");
      return FALSE;
    }
  if (config->max_connections == 0 || config->max_connections_per_ip == 0 || config->rate == 0
      || config->max_strikes == 0 || config->hello_timeout_s == 0
      || config->handshake_timeout_s == 0 || config->keepalive_s == 0 || config->turn_ttl == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "connection limits, rate limit, strikes, timeouts and the TURN "
                           "lifetime must all be greater than zero");
      return FALSE;
    }
  if (config->max_queue < PUNCH_SIGNAL_MAX_FRAME + 14)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the queue limit must hold at least one frame of the largest size "
                   "(%u bytes)",
                   PUNCH_SIGNAL_MAX_FRAME + 14);
      return FALSE;
    }
  for (guint i = 0; config->turn_uris && config->turn_uris[i]; i++)
    {
      g_autoptr (PunchIceServer) s
          = punch_ice_server_parse (config->turn_uris[i], NULL, NULL, error);
      if (s == NULL)
        return FALSE;
      if (s->kind != PUNCH_ICE_SERVER_STUN && config->turn_secret == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "%s is a TURN server: give --turn-secret-file so punch-signal can mint "
                       "credentials for it",
                       config->turn_uris[i]);
          return FALSE;
        }
    }
  if (config->redis_url)
    {
#ifdef PUNCH_SIGNAL_HAVE_REDIS
      g_autoptr (PunchSignalRedisAddress) address
          = punch_signal_redis_address_parse (config->redis_url, error);
      if (address == NULL)
        return FALSE;
#else
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "--redis: this punch-signal was built without hiredis "
                           "(meson setup -Dredis=enabled, with libhiredis-dev installed)");
      return FALSE;
#endif
    }
  if (config->turn_secret && (config->turn_uris == NULL || config->turn_uris[0] == NULL))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "--turn-secret-file needs at least one --turn-uri");
      return FALSE;
    }
  return TRUE;
}
