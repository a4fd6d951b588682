/* punch-signal-message.c: JSON text frames to and from PunchSignalMessage
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-message.h"

#include <string.h>
#include <json-glib/json-glib.h>

G_DEFINE_BOXED_TYPE (PunchSignalMessage, punch_signal_message, punch_signal_message_copy,
                     punch_signal_message_free)

#define MAX_NAME 64
#define MAX_TOKEN 512
#define MAX_RESUME 64
#define MAX_CANDIDATE_LINE 1024
#define MAX_ERROR_TEXT 1024
#define MAX_CREDENTIAL 512
#define MAX_URI 512
#define MAX_PEERS 256
#define MAX_ICE_SERVERS 16
#define MAX_URLS 8
#define MAX_DEPTH 16

static const char *const type_names[] = {
  [PUNCH_SIGNAL_MESSAGE_HELLO] = "hello",
  [PUNCH_SIGNAL_MESSAGE_WELCOME] = "welcome",
  [PUNCH_SIGNAL_MESSAGE_PEER_JOINED] = "peer-joined",
  [PUNCH_SIGNAL_MESSAGE_PEER_LEFT] = "peer-left",
  [PUNCH_SIGNAL_MESSAGE_DESCRIPTION] = "description",
  [PUNCH_SIGNAL_MESSAGE_CANDIDATE] = "candidate",
  [PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES] = "end-of-candidates",
  [PUNCH_SIGNAL_MESSAGE_BYE] = "bye",
  [PUNCH_SIGNAL_MESSAGE_ERROR] = "error",
};

const char *
punch_signal_message_type_to_string (PunchSignalMessageType type)
{
  if ((guint)type < G_N_ELEMENTS (type_names))
    return type_names[type];
  return "unknown";
}

gboolean
punch_signal_message_type_is_relayed (PunchSignalMessageType type)
{
  return type == PUNCH_SIGNAL_MESSAGE_DESCRIPTION || type == PUNCH_SIGNAL_MESSAGE_CANDIDATE
         || type == PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES || type == PUNCH_SIGNAL_MESSAGE_BYE;
}

PunchSignalMessage *
punch_signal_message_new (PunchSignalMessageType type)
{
  PunchSignalMessage *msg = g_new0 (PunchSignalMessage, 1);

  msg->type = type;
  if (type == PUNCH_SIGNAL_MESSAGE_HELLO || type == PUNCH_SIGNAL_MESSAGE_WELCOME)
    msg->version = PUNCH_SIGNAL_PROTOCOL_VERSION;
  return msg;
}

PunchSignalMessage *
punch_signal_message_new_error (const char *code, const char *format, ...)
{
  PunchSignalMessage *msg = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_ERROR);
  va_list args;

  msg->code = g_strdup (code);
  va_start (args, format);
  msg->message = g_strdup_vprintf (format, args);
  va_end (args);
  return msg;
}

PunchSignalMessage *
punch_signal_message_copy (const PunchSignalMessage *msg)
{
  PunchSignalMessage *copy;

  g_return_val_if_fail (msg != NULL, NULL);
  copy = punch_signal_message_new (msg->type);
  copy->version = msg->version;
  copy->room = g_strdup (msg->room);
  copy->token = g_strdup (msg->token);
  copy->resume = g_strdup (msg->resume);
  copy->id = g_strdup (msg->id);
  if (msg->ice_servers)
    {
      copy->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
      for (guint i = 0; i < msg->ice_servers->len; i++)
        g_ptr_array_add (copy->ice_servers, punch_ice_server_copy (msg->ice_servers->pdata[i]));
    }
  copy->peers = g_strdupv (msg->peers);
  copy->to = g_strdup (msg->to);
  copy->from = g_strdup (msg->from);
  copy->description = msg->description ? punch_description_copy (msg->description) : NULL;
  copy->candidate = g_strdup (msg->candidate);
  copy->code = g_strdup (msg->code);
  copy->message = g_strdup (msg->message);
  return copy;
}

void
punch_signal_message_free (PunchSignalMessage *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->room);
  g_free (msg->token);
  g_free (msg->resume);
  g_free (msg->id);
  g_clear_pointer (&msg->ice_servers, g_ptr_array_unref);
  g_strfreev (msg->peers);
  g_free (msg->to);
  g_free (msg->from);
  g_clear_pointer (&msg->description, punch_description_free);
  g_free (msg->candidate);
  g_free (msg->code);
  g_free (msg->message);
  g_free (msg);
}

gboolean
punch_signal_name_validate (const char *name, const char *what, GError **error)
{
  gsize len;

  if (name == NULL || *name == '\0')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT, "the %s is empty", what);
      return FALSE;
    }
  len = strnlen (name, MAX_NAME + 1);
  if (len > MAX_NAME)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the %s is longer than %d characters", what, MAX_NAME);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      {
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                     "the %s may only hold the characters A-Z a-z 0-9 _ . -", what);
        return FALSE;
      }
  if (name[0] == '.')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "the %s must not start with '.'", what);
      return FALSE;
    }
  return TRUE;
}

/* ---- parsing ---- */

typedef struct
{
  const char *code;
  GError **error;
} Ctx;

static gboolean fail (Ctx *ctx, const char *code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (Ctx *ctx, const char *code, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  ctx->code = code;
  g_set_error_literal (ctx->error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, text);
  return FALSE;
}

/* json-glib parses recursively: refuse deep nesting before it sees the text. */
static gboolean
nesting_ok (const char *text, gsize len)
{
  int depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_DEPTH)
            return FALSE;
        }
      else if (c == ']' || c == '}')
        depth--;
    }
  return TRUE;
}

/* A member that is absent or null is "absent"; any other non-string is an error. */
static gboolean
get_string (Ctx *ctx, JsonObject *obj, const char *name, gboolean required, gsize max,
            const char **out)
{
  JsonNode *node = json_object_get_member (obj, name);
  const char *s;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        return fail (ctx, "missing-field", "the message needs a \"%s\" member", name);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (ctx, "bad-field", "\"%s\" must be a string", name);
  s = json_node_get_string (node);
  if (strnlen (s, max + 1) > max)
    return fail (ctx, "bad-field", "\"%s\" is longer than %" G_GSIZE_FORMAT " bytes", name, max);
  *out = s;
  return TRUE;
}

static gboolean
get_name (Ctx *ctx, JsonObject *obj, const char *name, gboolean required, char **out)
{
  const char *s;
  g_autoptr (GError) local = NULL;

  if (!get_string (ctx, obj, name, required, MAX_NAME, &s))
    return FALSE;
  if (s && !punch_signal_name_validate (s, name, &local))
    return fail (ctx, "bad-field", "%s", local->message);
  *out = g_strdup (s);
  return TRUE;
}

static gboolean
get_version (Ctx *ctx, JsonObject *obj, guint *out)
{
  JsonNode *node = json_object_get_member (obj, "version");
  gint64 v;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return fail (ctx, "missing-field", "the message needs a \"version\" member");
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return fail (ctx, "bad-field", "\"version\" must be an integer");
  v = json_node_get_int (node);
  if (v < 1 || v > 1000)
    return fail (ctx, "bad-field", "\"version\" must be between 1 and 1000");
  *out = (guint)v;
  return TRUE;
}

static gboolean
get_array (Ctx *ctx, JsonObject *obj, const char *name, guint max, JsonArray **out)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (ctx, "bad-field", "\"%s\" must be an array", name);
  if (json_array_get_length (json_node_get_array (node)) > max)
    return fail (ctx, "bad-field", "\"%s\" holds more than %u entries", name, max);
  *out = json_node_get_array (node);
  return TRUE;
}

static gboolean
array_string (Ctx *ctx, JsonArray *array, guint i, const char *name, gsize max, const char **out)
{
  JsonNode *node = json_array_get_element (array, i);

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (ctx, "bad-field", "\"%s\" must hold strings only", name);
  *out = json_node_get_string (node);
  if (strnlen (*out, max + 1) > max)
    return fail (ctx, "bad-field", "an entry of \"%s\" is longer than %" G_GSIZE_FORMAT " bytes",
                 name, max);
  return TRUE;
}

static gboolean
parse_ice_server (Ctx *ctx, JsonNode *node, GPtrArray *out)
{
  JsonObject *obj;
  JsonNode *urls;
  const char *username, *credential;
  g_autoptr (GPtrArray) uris = g_ptr_array_new ();

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (ctx, "bad-field", "\"ice_servers\" must hold objects");
  obj = json_node_get_object (node);
  if (!get_string (ctx, obj, "username", FALSE, MAX_CREDENTIAL, &username)
      || !get_string (ctx, obj, "credential", FALSE, MAX_CREDENTIAL, &credential))
    return FALSE;
  urls = json_object_get_member (obj, "urls");
  if (urls == NULL || JSON_NODE_HOLDS_NULL (urls))
    return fail (ctx, "missing-field", "an ICE server needs \"urls\"");
  if (JSON_NODE_HOLDS_ARRAY (urls))
    {
      JsonArray *array;
      if (!get_array (ctx, obj, "urls", MAX_URLS, &array))
        return FALSE;
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          const char *uri;
          if (!array_string (ctx, array, i, "urls", MAX_URI, &uri))
            return FALSE;
          g_ptr_array_add (uris, (gpointer)uri);
        }
    }
  else
    {
      const char *uri;
      if (!get_string (ctx, obj, "urls", TRUE, MAX_URI, &uri))
        return FALSE;
      g_ptr_array_add (uris, (gpointer)uri);
    }
  for (guint i = 0; i < uris->len; i++)
    {
      g_autoptr (GError) local = NULL;
      PunchIceServer *server
          = punch_ice_server_parse (uris->pdata[i], username, credential, &local);
      if (server == NULL)
        return fail (ctx, "bad-field", "%s", local->message);
      g_ptr_array_add (out, server);
    }
  return TRUE;
}

static gboolean
parse_description (Ctx *ctx, JsonObject *root, PunchDescription **out)
{
  JsonNode *node = json_object_get_member (root, "description");
  JsonObject *obj;
  JsonArray *cands;
  JsonNode *eoc;
  const char *ufrag, *pwd;
  GVariantBuilder dict, lines;
  g_autoptr (GVariant) variant = NULL;
  g_autoptr (GError) local = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return fail (ctx, "missing-field", "the message needs a \"description\" member");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (ctx, "bad-field", "\"description\" must be an object");
  obj = json_node_get_object (node);
  if (!get_string (ctx, obj, "ufrag", TRUE, 256, &ufrag)
      || !get_string (ctx, obj, "pwd", TRUE, 256, &pwd)
      || !get_array (ctx, obj, "candidates", 256, &cands))
    return FALSE;

  /* the same a{sv} that punch_description_to_variant() makes */
  g_variant_builder_init (&lines, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; cands && i < json_array_get_length (cands); i++)
    {
      const char *line;
      if (!array_string (ctx, cands, i, "candidates", MAX_CANDIDATE_LINE, &line))
        {
          g_variant_builder_clear (&lines);
          return FALSE;
        }
      g_variant_builder_add (&lines, "s", line);
    }
  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "ufrag", g_variant_new_string (ufrag));
  g_variant_builder_add (&dict, "{sv}", "pwd", g_variant_new_string (pwd));
  g_variant_builder_add (&dict, "{sv}", "candidates", g_variant_builder_end (&lines));
  if (json_object_has_member (obj, "fingerprint"))
    {
      const char *fp;
      if (!get_string (ctx, obj, "fingerprint", FALSE, 256, &fp))
        {
          g_variant_builder_clear (&dict);
          return FALSE;
        }
      if (fp)
        g_variant_builder_add (&dict, "{sv}", "fingerprint", g_variant_new_string (fp));
    }
  eoc = json_object_get_member (obj, "end-of-candidates");
  if (eoc && !JSON_NODE_HOLDS_NULL (eoc))
    {
      if (!JSON_NODE_HOLDS_VALUE (eoc) || json_node_get_value_type (eoc) != G_TYPE_BOOLEAN)
        {
          g_variant_builder_clear (&dict);
          return fail (ctx, "bad-field", "\"end-of-candidates\" must be true or false");
        }
      g_variant_builder_add (&dict, "{sv}", "end-of-candidates",
                             g_variant_new_boolean (json_node_get_boolean (eoc)));
    }
  variant = g_variant_ref_sink (g_variant_builder_end (&dict));
  *out = punch_description_from_variant (variant, &local);
  if (*out == NULL)
    return fail (ctx, "bad-field", "bad description: %s", local->message);
  return TRUE;
}

static gboolean
parse_fields (Ctx *ctx, JsonObject *obj, PunchSignalMessage *msg)
{
  const char *s;

  if (punch_signal_message_type_is_relayed (msg->type))
    if (!get_name (ctx, obj, "to", FALSE, &msg->to)
        || !get_name (ctx, obj, "from", FALSE, &msg->from))
      return FALSE;

  switch (msg->type)
    {
    case PUNCH_SIGNAL_MESSAGE_HELLO:
      if (!get_version (ctx, obj, &msg->version) || !get_name (ctx, obj, "room", TRUE, &msg->room)
          || !get_string (ctx, obj, "token", FALSE, MAX_TOKEN, &s))
        return FALSE;
      msg->token = g_strdup (s);
      if (!get_string (ctx, obj, "resume", FALSE, MAX_RESUME, &s))
        return FALSE;
      msg->resume = g_strdup (s);
      return TRUE;

    case PUNCH_SIGNAL_MESSAGE_WELCOME:
      {
        JsonArray *servers, *peers;
        g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();

        if (!get_version (ctx, obj, &msg->version) || !get_name (ctx, obj, "id", TRUE, &msg->id)
            || !get_array (ctx, obj, "ice_servers", MAX_ICE_SERVERS, &servers)
            || !get_array (ctx, obj, "peers", MAX_PEERS, &peers)
            || !get_string (ctx, obj, "resume", FALSE, MAX_RESUME, &s))
          return FALSE;
        msg->resume = g_strdup (s);
        msg->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_ice_server_free);
        for (guint i = 0; servers && i < json_array_get_length (servers); i++)
          if (!parse_ice_server (ctx, json_array_get_element (servers, i), msg->ice_servers))
            return FALSE;
        for (guint i = 0; peers && i < json_array_get_length (peers); i++)
          {
            g_autoptr (GError) local = NULL;
            if (!array_string (ctx, peers, i, "peers", MAX_NAME, &s))
              return FALSE;
            if (!punch_signal_name_validate (s, "peer id", &local))
              return fail (ctx, "bad-field", "%s", local->message);
            g_strv_builder_add (ids, s);
          }
        msg->peers = g_strv_builder_end (ids);
        return TRUE;
      }

    case PUNCH_SIGNAL_MESSAGE_PEER_JOINED:
    case PUNCH_SIGNAL_MESSAGE_PEER_LEFT: return get_name (ctx, obj, "id", TRUE, &msg->id);

    case PUNCH_SIGNAL_MESSAGE_DESCRIPTION: return parse_description (ctx, obj, &msg->description);

    case PUNCH_SIGNAL_MESSAGE_CANDIDATE:
      {
        g_autoptr (GError) local = NULL;
        g_autoptr (PunchCandidate) c = NULL;

        if (!get_string (ctx, obj, "candidate", TRUE, MAX_CANDIDATE_LINE, &s))
          return FALSE;
        c = punch_candidate_parse (s, &local);
        if (c == NULL)
          return fail (ctx, "bad-field", "bad candidate: %s", local->message);
        msg->candidate = g_strdup (s);
        return TRUE;
      }

    case PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES:
    case PUNCH_SIGNAL_MESSAGE_BYE: return TRUE;

    case PUNCH_SIGNAL_MESSAGE_ERROR:
      if (!get_name (ctx, obj, "code", TRUE, &msg->code)
          || !get_string (ctx, obj, "message", FALSE, MAX_ERROR_TEXT, &s))
        return FALSE;
      msg->message = g_strdup (s ? s : "");
      return TRUE;

    default: g_assert_not_reached ();
    }
}

PunchSignalMessage *
punch_signal_message_parse (const char *text, gsize len, const char **wire_code, GError **error)
{
  Ctx ctx = { NULL, error };
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (PunchSignalMessage) msg = NULL;
  JsonNode *root;
  JsonObject *obj;
  const char *type;
  guint t;

  g_return_val_if_fail (text != NULL || len == 0, NULL);

  if (wire_code)
    *wire_code = NULL;
  if (len > PUNCH_SIGNAL_MAX_FRAME)
    fail (&ctx, "too-big", "a message is at most %d bytes", PUNCH_SIGNAL_MAX_FRAME);
  else if (len == 0)
    fail (&ctx, "bad-json", "the message is empty");
  else if (!g_utf8_validate_len (text, len, NULL))
    fail (&ctx, "bad-json", "the message is not valid UTF-8 (or holds a NUL byte)");
  else if (!nesting_ok (text, len))
    fail (&ctx, "bad-json", "the message nests deeper than %d levels", MAX_DEPTH);
  if (ctx.code)
    goto out;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize)len, &local))
    {
      fail (&ctx, "bad-json", "the message is not JSON: %s", local->message);
      goto out;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (&ctx, "bad-json", "a message must be a JSON object");
      goto out;
    }
  obj = json_node_get_object (root);
  if (!get_string (&ctx, obj, "type", TRUE, 64, &type))
    goto out;
  for (t = 0; t < G_N_ELEMENTS (type_names); t++)
    if (strcmp (type, type_names[t]) == 0)
      break;
  if (t == G_N_ELEMENTS (type_names))
    {
      g_autofree char *shown = g_strescape (type, NULL);
      fail (&ctx, "unknown-type", "unknown message type \"%s\"", shown);
      goto out;
    }
  msg = punch_signal_message_new ((PunchSignalMessageType)t);
  if (!parse_fields (&ctx, obj, msg))
    goto out;
  return g_steal_pointer (&msg);

out:
  if (wire_code)
    *wire_code = ctx.code;
  return NULL;
}

/* ---- serializing ---- */

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

char *
punch_signal_message_to_json (const PunchSignalMessage *msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (msg != NULL, NULL);

  json_builder_begin_object (b);
  add_string (b, "type", punch_signal_message_type_to_string (msg->type));
  if (msg->type == PUNCH_SIGNAL_MESSAGE_HELLO || msg->type == PUNCH_SIGNAL_MESSAGE_WELCOME)
    {
      json_builder_set_member_name (b, "version");
      json_builder_add_int_value (b, msg->version);
    }
  add_string (b, "room", msg->room);
  add_string (b, "token", msg->token);
  if (msg->type == PUNCH_SIGNAL_MESSAGE_HELLO || msg->type == PUNCH_SIGNAL_MESSAGE_WELCOME)
    add_string (b, "resume", msg->resume);
  add_string (b, "id", msg->id);
  if (msg->type == PUNCH_SIGNAL_MESSAGE_WELCOME)
    {
      json_builder_set_member_name (b, "ice_servers");
      json_builder_begin_array (b);
      for (guint i = 0; msg->ice_servers && i < msg->ice_servers->len; i++)
        {
          const PunchIceServer *s = msg->ice_servers->pdata[i];
          g_autofree char *uri = punch_ice_server_to_uri (s);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "urls");
          json_builder_begin_array (b);
          json_builder_add_string_value (b, uri);
          json_builder_end_array (b);
          add_string (b, "username", s->username);
          add_string (b, "credential", s->credential);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "peers");
      json_builder_begin_array (b);
      for (guint i = 0; msg->peers && msg->peers[i]; i++)
        json_builder_add_string_value (b, msg->peers[i]);
      json_builder_end_array (b);
    }
  add_string (b, "to", msg->to);
  add_string (b, "from", msg->from);
  if (msg->description)
    {
      g_autoptr (GVariant) v = punch_description_to_variant (msg->description);
      json_builder_set_member_name (b, "description");
      json_builder_add_value (b, json_gvariant_serialize (v));
    }
  add_string (b, "candidate", msg->candidate);
  add_string (b, "code", msg->code);
  add_string (b, "message", msg->message);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}
