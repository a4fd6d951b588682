/* punch-tls-bridge.c: a loopback TCP listener spliced to a TLS connection
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-tls-bridge.h"
#include "punch-error.h"

struct _PunchTlsBridge
{
  GSocketService *service;
  GSocketClient *client;
  GTlsDatabase *database;
  GCancellable *cancellable;
  char *host;
  guint16 port;
  guint16 local_port;
  GError *last_error;
  PunchTlsBridgeFailedFunc failed;
  gpointer user_data;
};

typedef struct
{
  PunchTlsBridge *bridge;
  GSocketConnection *local;
} Pending;

static void
on_client_event (GSocketClient *client, GSocketClientEvent event, GSocketConnectable *connectable,
                 GIOStream *connection, gpointer user_data)
{
  PunchTlsBridge *bridge = user_data;

  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && bridge->database)
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), bridge->database);
}

static void
on_upstream_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) upstream
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (upstream == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_message ("turns: TLS connection to %s:%u failed: %s", pending->bridge->host,
                     pending->bridge->port, error->message);
          g_clear_error (&pending->bridge->last_error);
          pending->bridge->last_error = g_error_copy (error);
          if (pending->bridge->failed)
            pending->bridge->failed (pending->bridge, error, pending->bridge->user_data);
        }
      g_io_stream_close (G_IO_STREAM (pending->local), NULL, NULL);
    }
  else
    {
      g_debug ("turns: TLS to %s:%u established", pending->bridge->host, pending->bridge->port);
      /* Each side closes the other when it ends; the splice holds its own refs. */
      g_io_stream_splice_async (G_IO_STREAM (pending->local), G_IO_STREAM (upstream),
                                G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                                G_PRIORITY_DEFAULT, pending->bridge->cancellable, NULL, NULL);
    }
  g_object_unref (pending->local);
  g_free (pending);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             gpointer user_data)
{
  PunchTlsBridge *bridge = user_data;
  Pending *pending = g_new0 (Pending, 1);

  pending->bridge = bridge;
  pending->local = g_object_ref (connection);
  g_socket_client_connect_to_host_async (bridge->client, bridge->host, bridge->port,
                                         bridge->cancellable, on_upstream_connected, pending);
  return TRUE;
}

PunchTlsBridge *
punch_tls_bridge_new (const char *host, guint16 port, const char *ca_file,
                      PunchTlsBridgeFailedFunc failed, gpointer user_data, GError **error)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) got = NULL;
  PunchTlsBridge *bridge = g_new0 (PunchTlsBridge, 1);

  bridge->host = g_strdup (host);
  bridge->port = port;
  bridge->failed = failed;
  bridge->user_data = user_data;
  bridge->cancellable = g_cancellable_new ();
  bridge->client = g_socket_client_new ();
  g_socket_client_set_tls (bridge->client, TRUE);
  g_socket_client_set_timeout (bridge->client, 10);
  if (ca_file)
    {
      bridge->database = g_tls_file_database_new (ca_file, error);
      if (bridge->database == NULL)
        {
          g_prefix_error (error, "cannot load the TLS CA file %s: ", ca_file);
          punch_tls_bridge_free (bridge);
          return NULL;
        }
    }
  g_signal_connect (bridge->client, "event", G_CALLBACK (on_client_event), bridge);

  bridge->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (bridge->service), want,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &got,
                                      error))
    {
      g_prefix_error (error, "cannot listen on loopback for the turns: bridge: ");
      punch_tls_bridge_free (bridge);
      return NULL;
    }
  bridge->local_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
  g_signal_connect (bridge->service, "incoming", G_CALLBACK (on_incoming), bridge);
  g_socket_service_start (bridge->service);
  return bridge;
}

guint16
punch_tls_bridge_get_port (PunchTlsBridge *bridge)
{
  return bridge->local_port;
}

const GError *
punch_tls_bridge_get_last_error (PunchTlsBridge *bridge)
{
  return bridge->last_error;
}

void
punch_tls_bridge_free (PunchTlsBridge *bridge)
{
  if (bridge == NULL)
    return;
  g_cancellable_cancel (bridge->cancellable);
  if (bridge->service)
    {
      g_socket_service_stop (bridge->service);
      g_socket_listener_close (G_SOCKET_LISTENER (bridge->service));
      g_signal_handlers_disconnect_by_data (bridge->service, bridge);
      g_object_unref (bridge->service);
    }
  if (bridge->client)
    {
      g_signal_handlers_disconnect_by_data (bridge->client, bridge);
      g_object_unref (bridge->client);
    }
  g_clear_object (&bridge->database);
  g_clear_object (&bridge->cancellable);
  g_clear_error (&bridge->last_error);
  g_free (bridge->host);
  g_free (bridge);
}
