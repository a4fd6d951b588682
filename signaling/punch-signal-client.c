/* punch-signal-client.c: a peer's connection to punch-signal
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-client.h"

#include <string.h>
#include <libsoup/soup.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define KEEPALIVE_S 15

typedef enum
{
  STATE_IDLE,
  STATE_CONNECTING,
  STATE_JOINING,
  STATE_JOINED,
  STATE_WAITING, /* to reconnect */
} State;

struct _PunchSignalClient
{
  GObject parent;

  char *url;
  char *ca_file;
  gboolean accept_invalid;
  gboolean reconnect;

  SoupSession *session;
  SoupWebsocketConnection *conn;
  GCancellable *cancellable;      /* our own operations; cancelled by close */
  GTask *join_task;               /* the caller's join, until welcome */
  GCancellable *join_cancellable; /* the caller's */
  gulong join_cancel_id;
  State state;
  char *room;
  char *token;

  char *id;
  GPtrArray *peers; /* char*, NULL-terminated */
  GPtrArray *ice_servers;
  PunchRole role;

  GMainContext *context; /* the creator's thread-default: every source goes there */
  guint backoff_ms;
  GSource *retry_source;
  GSource *keepalive_source;
  gint64 last_seen;
  char *resume;          /* the welcome's secret: a rejoin comes back as the same peer */
  GSource *probe_source; /* punch_signal_client_check_alive() */
  gint64 probe_start;
};

enum
{
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_DESCRIPTION,
  SIGNAL_CANDIDATE,
  SIGNAL_END_OF_CANDIDATES,
  SIGNAL_BYE,
  SIGNAL_MESSAGE,
  SIGNAL_SERVER_ERROR,
  SIGNAL_DISCONNECTED,
  SIGNAL_RECONNECTED,
  SIGNAL_SESSION_CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PunchSignalClient, punch_signal_client, G_TYPE_OBJECT)

static void connect_now (PunchSignalClient *self);

/* ---- sources, on the client's context (not the global default) ---- */

/* Attaches @source (consumed) to the client's context; returns it, unowned. */
static GSource *
attach (PunchSignalClient *self, GSource *source, GSourceFunc func, gpointer data,
        GDestroyNotify notify)
{
  g_source_set_callback (source, func, data, notify);
  g_source_attach (source, self->context);
  return source;
}

/* Stops a source we hold (g_source_remove() would look in the global context). */
static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* ---- connection ---- */

static void
drop_connection (PunchSignalClient *self, gushort code)
{
  clear_source (&self->keepalive_source);
  clear_source (&self->probe_source);
  if (self->conn == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->conn, self);
  if (soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->conn, code, NULL);
  g_clear_object (&self->conn);
}

static void
join_done (PunchSignalClient *self)
{
  if (self->join_cancellable)
    g_cancellable_disconnect (self->join_cancellable, self->join_cancel_id);
  self->join_cancel_id = 0;
  g_clear_object (&self->join_cancellable);
}

static void
fail_join (PunchSignalClient *self, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->join_task);

  join_done (self);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  self->state = STATE_IDLE;
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_NORMAL);
  if (task)
    g_task_return_error (task, error);
  else
    g_error_free (error);
}

static gboolean
retry_cb (gpointer data)
{
  PunchSignalClient *self = data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* After losing a joined connection, or failing to get it back. */
static void
schedule_reconnect (PunchSignalClient *self)
{
  guint delay;

  self->state = STATE_WAITING;
  self->backoff_ms = self->backoff_ms ? MIN (self->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
  /* ±25 % jitter, so many clients of one restarted server do not come back at once */
  delay = self->backoff_ms * 3 / 4 + g_random_int_range (0, (gint32)self->backoff_ms / 2 + 1);
  g_debug ("reconnecting to %s in %u ms", self->url, delay);
  clear_source (&self->retry_source);
  self->retry_source = attach (self, g_timeout_source_new (delay), retry_cb, self, NULL);
}

static void
lost (PunchSignalClient *self, GError *error, gboolean may_retry)
{
  gboolean retry = may_retry && self->reconnect;

  drop_connection (self, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_clear_pointer (&self->id, g_free);
  g_ptr_array_set_size (self->peers, 0);
  g_ptr_array_add (self->peers, NULL);
  self->state = STATE_IDLE;
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error, retry);
  if (retry)
    schedule_reconnect (self);
}

static gboolean
keepalive_cb (gpointer data)
{
  PunchSignalClient *self = data;

  if (g_get_monotonic_time () - self->last_seen > 3 * KEEPALIVE_S * G_USEC_PER_SEC)
    {
      g_autoptr (GError) error
          = g_error_new (PUNCH_ERROR, PUNCH_ERROR_SIGNALING,
                         "the signaling server %s stopped answering", self->url);
      g_clear_pointer (&self->keepalive_source, g_source_unref);
      lost (self, error, TRUE);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
peers_remove (PunchSignalClient *self, const char *id)
{
  for (guint i = 0; i + 1 < self->peers->len; i++)
    if (strcmp (self->peers->pdata[i], id) == 0)
      {
        g_ptr_array_remove_index (self->peers, i);
        return;
      }
}

static void
handle_welcome (PunchSignalClient *self, PunchSignalMessage *msg)
{
  gboolean first = self->role == PUNCH_ROLE_AUTO;

  g_free (self->id);
  self->id = g_strdup (msg->id);
  g_free (self->resume);
  self->resume = g_strdup (msg->resume);
  g_ptr_array_set_size (self->peers, 0);
  for (guint i = 0; msg->peers && msg->peers[i]; i++)
    g_ptr_array_add (self->peers, g_strdup (msg->peers[i]));
  g_ptr_array_add (self->peers, NULL);
  g_ptr_array_set_size (self->ice_servers, 0);
  for (guint i = 0; msg->ice_servers && i < msg->ice_servers->len; i++)
    g_ptr_array_add (self->ice_servers, punch_ice_server_copy (msg->ice_servers->pdata[i]));
  if (first)
    self->role = self->peers->len > 1 ? PUNCH_ROLE_CONTROLLING : PUNCH_ROLE_CONTROLLED;
  self->state = STATE_JOINED;
  self->backoff_ms = 0;

  if (self->join_task)
    {
      g_autoptr (GTask) task = g_steal_pointer (&self->join_task);
      join_done (self);
      g_task_return_boolean (task, TRUE);
    }
  else
    g_signal_emit (self, signals[SIGNAL_RECONNECTED], 0);
}

static void
handle_refusal (PunchSignalClient *self, PunchSignalMessage *msg)
{
  gboolean auth = g_str_equal (msg->code, "bad-token") || g_str_equal (msg->code, "token-expired")
                  || g_str_equal (msg->code, "wrong-room");
  GError *error
      = g_error_new (PUNCH_ERROR, auth ? PUNCH_ERROR_AUTHENTICATION : PUNCH_ERROR_SIGNALING,
                     "the signaling server refused to let us join room \"%s\": %s (%s)", self->room,
                     msg->message, msg->code);

  if (self->join_task)
    fail_join (self, error);
  else
    {
      /* a rejoin: a full room may free up (our old self is still leaving); anything else won't */
      lost (self, error, g_str_equal (msg->code, "room-full"));
      g_error_free (error);
    }
}

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *bytes, gpointer user_data)
{
  PunchSignalClient *self = user_data;
  /* a handler may drop the last reference */
  G_GNUC_UNUSED g_autoptr (PunchSignalClient) keep = g_object_ref (self);
  g_autoptr (PunchSignalMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  const char *from;

  self->last_seen = g_get_monotonic_time ();
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  msg = punch_signal_message_parse (data, len, NULL, &error);
  if (msg == NULL)
    {
      g_warning ("ignoring a message from the signaling server: %s", error->message);
      return;
    }
  if (self->state == STATE_JOINING)
    {
      if (msg->type == PUNCH_SIGNAL_MESSAGE_WELCOME)
        handle_welcome (self, msg);
      else if (msg->type == PUNCH_SIGNAL_MESSAGE_ERROR)
        handle_refusal (self, msg);
      return;
    }
  if (self->state != STATE_JOINED)
    return;

  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
  from = msg->from ? msg->from : "";
  switch (msg->type)
    {
    case PUNCH_SIGNAL_MESSAGE_PEER_JOINED:
      g_ptr_array_insert (self->peers, (gint)self->peers->len - 1, g_strdup (msg->id));
      g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, msg->id);
      break;
    case PUNCH_SIGNAL_MESSAGE_PEER_LEFT:
      peers_remove (self, msg->id);
      g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, msg->id);
      break;
    case PUNCH_SIGNAL_MESSAGE_DESCRIPTION:
      g_signal_emit (self, signals[SIGNAL_DESCRIPTION], 0, from, msg->description);
      break;
    case PUNCH_SIGNAL_MESSAGE_CANDIDATE:
      g_signal_emit (self, signals[SIGNAL_CANDIDATE], 0, from, msg->candidate);
      break;
    case PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES:
      g_signal_emit (self, signals[SIGNAL_END_OF_CANDIDATES], 0, from);
      break;
    case PUNCH_SIGNAL_MESSAGE_BYE: g_signal_emit (self, signals[SIGNAL_BYE], 0, from); break;
    case PUNCH_SIGNAL_MESSAGE_ERROR:
      g_signal_emit (self, signals[SIGNAL_SERVER_ERROR], 0, msg->code, msg->message);
      break;
    case PUNCH_SIGNAL_MESSAGE_HELLO:
    case PUNCH_SIGNAL_MESSAGE_WELCOME:
    default:
      g_debug ("ignoring an unexpected %s", punch_signal_message_type_to_string (msg->type));
      break;
    }
}

static void
on_pong (SoupWebsocketConnection *conn, GBytes *message, gpointer user_data)
{
  ((PunchSignalClient *)user_data)->last_seen = g_get_monotonic_time ();
}

#define PROBE_TIMEOUT_MS 3000

static gboolean
probe_cb (gpointer data)
{
  PunchSignalClient *self = data;
  gint64 now = g_get_monotonic_time ();

  if (self->state != STATE_JOINED || self->last_seen > self->probe_start
      || now - self->probe_start > PROBE_TIMEOUT_MS * 1000)
    {
      gboolean dead = self->state == STATE_JOINED && self->last_seen <= self->probe_start;

      g_clear_pointer (&self->probe_source, g_source_unref);
      if (self->conn)
        soup_websocket_connection_set_keepalive_interval (self->conn, KEEPALIVE_S);
      if (dead)
        {
          g_autoptr (GError) error = g_error_new (
              PUNCH_ERROR, PUNCH_ERROR_SIGNALING,
              "the signaling server %s did not answer a ping within %u ms (the network changed?)",
              self->url, PROBE_TIMEOUT_MS);
          lost (self, error, TRUE);
        }
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  PunchSignalClient *self = user_data;
  /* a handler may drop the last reference */
  G_GNUC_UNUSED g_autoptr (PunchSignalClient) keep = g_object_ref (self);
  gushort code = soup_websocket_connection_get_close_code (conn);
  const char *reason = soup_websocket_connection_get_close_data (conn);
  GError *error;
  gboolean policy
      = code == SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION || code == SOUP_WEBSOCKET_CLOSE_TOO_BIG;

  error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_SIGNALING,
                       "the signaling server %s closed the connection (%u%s%s)", self->url, code,
                       reason && *reason ? ": " : "", reason ? reason : "");
  if (self->join_task)
    fail_join (self, error);
  else
    {
      lost (self, error, !policy);
      g_error_free (error);
    }
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PunchSignalClient) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupWebsocketConnection) conn = NULL;
  g_autoptr (PunchSignalMessage) hello = NULL;
  g_autofree char *json = NULL;

  conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (self->state != STATE_CONNECTING)
    return; /* closed meanwhile */
  if (conn == NULL)
    {
      if (self->join_task)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            fail_join (self, g_steal_pointer (&error));
          else
            fail_join (self, g_error_new (PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE,
                                          "cannot reach the signaling server %s: %s", self->url,
                                          error->message));
        }
      else
        {
          g_debug ("reconnecting to %s failed: %s", self->url, error->message);
          schedule_reconnect (self);
        }
      return;
    }

  self->conn = g_steal_pointer (&conn);
  self->state = STATE_JOINING;
  self->last_seen = g_get_monotonic_time ();
  soup_websocket_connection_set_max_incoming_payload_size (self->conn, PUNCH_SIGNAL_MAX_FRAME);
  soup_websocket_connection_set_keepalive_interval (self->conn, KEEPALIVE_S);
  g_signal_connect (self->conn, "message", G_CALLBACK (on_message), self);
  g_signal_connect (self->conn, "closed", G_CALLBACK (on_closed), self);
  g_signal_connect (self->conn, "pong", G_CALLBACK (on_pong), self);
  clear_source (&self->keepalive_source);
  self->keepalive_source
      = attach (self, g_timeout_source_new_seconds (KEEPALIVE_S), keepalive_cb, self, NULL);

  hello = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_HELLO);
  hello->room = g_strdup (self->room);
  hello->token = g_strdup (self->token);
  hello->resume = g_strdup (self->resume); /* a rejoin: the same peer again */
  json = punch_signal_message_to_json (hello);
  soup_websocket_connection_send_text (self->conn, json);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE;
}

static void
connect_now (PunchSignalClient *self)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", self->url);

  self->state = STATE_CONNECTING;
  if (self->accept_invalid)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->cancellable, on_connected, g_object_ref (self));
}

/* ---- public API ---- */

static gboolean
join_cancelled_idle (gpointer data)
{
  PunchSignalClient *self = data;

  if (self->join_task && self->join_cancellable
      && g_cancellable_is_cancelled (self->join_cancellable))
    fail_join (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "joining the room was cancelled"));
  return G_SOURCE_REMOVE;
}

/* May run in the middle of g_cancellable_cancel(): defer the real work. */
static void
on_join_cancelled (GCancellable *cancellable, gpointer data)
{
  PunchSignalClient *self = data;
  GSource *idle = g_idle_source_new ();

  /* before the welcome that may already be on its way (I/O is G_PRIORITY_DEFAULT) */
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_unref (attach (self, idle, join_cancelled_idle, g_object_ref (self), g_object_unref));
}

void
punch_signal_client_join_async (PunchSignalClient *self, const char *room, const char *token,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));
  g_return_if_fail (room != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_signal_client_join_async);
  if (self->state != STATE_IDLE)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                               "this client has already joined (or is joining) a room");
      return;
    }
  if (!punch_signal_name_validate (room, "room name", &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_free (self->room);
  self->room = g_strdup (room);
  g_free (self->token);
  self->token = g_strdup (token);
  g_clear_pointer (&self->resume, g_free); /* a new join, not a rejoin */
  self->role = PUNCH_ROLE_AUTO;
  self->backoff_ms = 0;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  self->join_task = g_steal_pointer (&task);
  connect_now (self);
  if (cancellable)
    {
      self->join_cancellable = g_object_ref (cancellable);
      self->join_cancel_id
          = g_cancellable_connect (cancellable, G_CALLBACK (on_join_cancelled), self, NULL);
    }
}

gboolean
punch_signal_client_join_finish (PunchSignalClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
punch_signal_client_is_joined (PunchSignalClient *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), FALSE);
  return self->state == STATE_JOINED;
}

const char *
punch_signal_client_get_id (PunchSignalClient *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), NULL);
  return self->id;
}

const char *const *
punch_signal_client_get_peers (PunchSignalClient *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), NULL);
  return (const char *const *)self->peers->pdata;
}

GPtrArray *
punch_signal_client_get_ice_servers (PunchSignalClient *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), NULL);
  return self->ice_servers;
}

PunchRole
punch_signal_client_get_role (PunchSignalClient *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), PUNCH_ROLE_AUTO);
  return self->role;
}

gboolean
punch_signal_client_apply_to_config (PunchSignalClient *self, PunchConfig *config, GError **error)
{
  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), FALSE);
  g_return_val_if_fail (config != NULL, FALSE);

  if (self->role == PUNCH_ROLE_AUTO)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_SIGNALING,
                           "join a room before configuring a session from it");
      return FALSE;
    }
  config->role = self->role;
  for (guint i = 0; i < self->ice_servers->len; i++)
    g_ptr_array_add (config->ice_servers, punch_ice_server_copy (self->ice_servers->pdata[i]));
  return TRUE;
}

gboolean
punch_signal_client_send (PunchSignalClient *self, const PunchSignalMessage *msg, GError **error)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (PUNCH_IS_SIGNAL_CLIENT (self), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  if (!punch_signal_message_type_is_relayed (msg->type))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "a client cannot send \"%s\" to a peer",
                   punch_signal_message_type_to_string (msg->type));
      return FALSE;
    }
  if (self->state != STATE_JOINED || self->conn == NULL
      || soup_websocket_connection_get_state (self->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_SIGNALING, "not connected to a room on %s",
                   self->url);
      return FALSE;
    }
  json = punch_signal_message_to_json (msg);
  soup_websocket_connection_send_text (self->conn, json);
  return TRUE;
}

static gboolean
send_simple (PunchSignalClient *self, PunchSignalMessage *msg, const char *to, GError **error)
{
  g_autoptr (PunchSignalMessage) owned = msg;

  owned->to = g_strdup (to);
  return punch_signal_client_send (self, owned, error);
}

gboolean
punch_signal_client_send_description (PunchSignalClient *self, const char *to,
                                      const PunchDescription *desc, GError **error)
{
  PunchSignalMessage *msg = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_DESCRIPTION);

  g_return_val_if_fail (desc != NULL, FALSE);
  msg->description = punch_description_copy (desc);
  return send_simple (self, msg, to, error);
}

gboolean
punch_signal_client_send_candidate (PunchSignalClient *self, const char *to, const char *line,
                                    GError **error)
{
  PunchSignalMessage *msg = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_CANDIDATE);

  g_return_val_if_fail (line != NULL, FALSE);
  /* without the SDP attribute prefix, as on the wire */
  msg->candidate = g_strdup (g_str_has_prefix (line, "a=") ? line + 2 : line);
  return send_simple (self, msg, to, error);
}

gboolean
punch_signal_client_send_end_of_candidates (PunchSignalClient *self, const char *to, GError **error)
{
  return send_simple (self, punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES), to,
                      error);
}

gboolean
punch_signal_client_send_bye (PunchSignalClient *self, const char *to, GError **error)
{
  return send_simple (self, punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_BYE), to, error);
}

void
punch_signal_client_close (PunchSignalClient *self)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));

  clear_source (&self->retry_source);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  if (self->join_task)
    fail_join (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "the client was closed while joining"));
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_NORMAL);
  self->state = STATE_IDLE;
}

void
punch_signal_client_set_tls_ca_file (PunchSignalClient *self, const char *ca_file)
{
  g_autoptr (GTlsDatabase) db = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);
  if (ca_file)
    {
      db = g_tls_file_database_new (ca_file, &error);
      if (db == NULL) /* the handshake will then fail and say why */
        g_warning ("cannot load the CA file %s: %s", ca_file, error->message);
    }
  else
    db = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  soup_session_set_tls_database (self->session, db);
}

void
punch_signal_client_set_accept_invalid_certificate (PunchSignalClient *self, gboolean accept)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));
  self->accept_invalid = accept;
}

void
punch_signal_client_check_alive (PunchSignalClient *self)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));

  if (self->state == STATE_WAITING)
    {
      /* between reconnection attempts, whose back-off may have grown to
       * many seconds during an outage: the session needs us now */
      clear_source (&self->retry_source);
      self->backoff_ms = 0;
      connect_now (self);
      return;
    }
  if (self->state != STATE_JOINED || self->conn == NULL || self->probe_source)
    return;
  self->probe_start = g_get_monotonic_time ();
  /* libsoup pings a second after a new interval is set, then every second */
  soup_websocket_connection_set_keepalive_interval (self->conn, 1);
  self->probe_source = attach (self, g_timeout_source_new (250), probe_cb, self, NULL);
}

void
punch_signal_client_set_reconnect (PunchSignalClient *self, gboolean reconnect)
{
  g_return_if_fail (PUNCH_IS_SIGNAL_CLIENT (self));
  self->reconnect = reconnect;
  if (!reconnect && self->retry_source)
    {
      clear_source (&self->retry_source);
      self->state = STATE_IDLE;
    }
}

/* ---- the object ---- */

static void
punch_signal_client_dispose (GObject *object)
{
  PunchSignalClient *self = PUNCH_SIGNAL_CLIENT (object);

  clear_source (&self->retry_source);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  clear_source (&self->keepalive_source);
  G_OBJECT_CLASS (punch_signal_client_parent_class)->dispose (object);
}

static void
punch_signal_client_finalize (GObject *object)
{
  PunchSignalClient *self = PUNCH_SIGNAL_CLIENT (object);

  g_free (self->url);
  g_free (self->ca_file);
  g_free (self->room);
  g_free (self->token);
  g_free (self->id);
  g_free (self->resume);
  g_ptr_array_unref (self->peers);
  g_ptr_array_unref (self->ice_servers);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (punch_signal_client_parent_class)->finalize (object);
}

static void
punch_signal_client_class_init (PunchSignalClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = punch_signal_client_dispose;
  object_class->finalize = punch_signal_client_finalize;

  signals[SIGNAL_PEER_JOINED] = g_signal_new ("peer-joined", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                              NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new ("peer-left", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                            NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DESCRIPTION]
      = g_signal_new ("description", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                      G_TYPE_STRING, PUNCH_TYPE_DESCRIPTION | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CANDIDATE] = g_signal_new ("candidate", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                            NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_END_OF_CANDIDATES]
      = g_signal_new ("end-of-candidates", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_BYE] = g_signal_new ("bye", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE]
      = g_signal_new ("message", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                      PUNCH_TYPE_SIGNAL_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_SERVER_ERROR]
      = g_signal_new ("server-error", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                      G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_DISCONNECTED]
      = g_signal_new ("disconnected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                      G_TYPE_ERROR, G_TYPE_BOOLEAN);
  signals[SIGNAL_RECONNECTED]
      = g_signal_new ("reconnected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* emitted by punch_signal_client_join_session_async() (punch-signal-join.c) */
  signals[SIGNAL_SESSION_CREATED]
      = g_signal_new ("session-created", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, PUNCH_TYPE_SESSION);
}

static void
punch_signal_client_init (PunchSignalClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->reconnect = TRUE;
  self->role = PUNCH_ROLE_AUTO;
  self->peers = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->peers, NULL);
  self->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
  self->session = soup_session_new_with_options ("timeout", 15, "idle-timeout", 15, NULL);
}

PunchSignalClient *
punch_signal_client_new (const char *url, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  PunchSignalClient *self;
  const char *scheme;

  g_return_val_if_fail (url != NULL, NULL);
  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL
      || (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not a signaling server URL; expected ws://HOST:PORT/ws or "
                   "wss://HOST:PORT/ws",
                   url);
      return NULL;
    }
  self = g_object_new (PUNCH_TYPE_SIGNAL_CLIENT, NULL);
  self->url = g_strdup (url);
  return self;
}
