/* punch-output.c: one field list, printed as text or as JSON
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-output.h"

#include <json-glib/json-glib.h>
#include <punch.h>

struct _PunchOutput
{
  FILE *stream;
  gboolean json;
  gboolean events;
  JsonBuilder *builder;
  GString *text;
  int depth;
};

static PunchOutput *
output_new (FILE *stream, gboolean json, gboolean events)
{
  PunchOutput *out = g_new0 (PunchOutput, 1);

  out->stream = stream;
  out->json = json;
  out->events = events;
  out->text = g_string_new (NULL);
  return out;
}

PunchOutput *
punch_output_new_events (FILE *stream, gboolean json)
{
  return output_new (stream, json, TRUE);
}

PunchOutput *
punch_output_new_document (FILE *stream, gboolean json)
{
  return output_new (stream, json, FALSE);
}

void
punch_output_free (PunchOutput *out)
{
  if (out == NULL)
    return;
  g_clear_object (&out->builder);
  g_string_free (out->text, TRUE);
  g_free (out);
}

gboolean
punch_output_is_json (PunchOutput *out)
{
  return out->json;
}

void
punch_output_begin (PunchOutput *out, const char *event)
{
  g_return_if_fail (out->builder == NULL && out->depth == 0);

  if (!out->json)
    return;
  out->builder = json_builder_new ();
  json_builder_begin_object (out->builder);
  if (out->events)
    {
      json_builder_set_member_name (out->builder, "event");
      json_builder_add_string_value (out->builder, event);
      json_builder_set_member_name (out->builder, "data");
      json_builder_begin_object (out->builder);
    }
}

void
punch_output_end (PunchOutput *out)
{
  if (!out->json)
    {
      fprintf (out->stream, "%s\n", out->text->str);
      g_string_truncate (out->text, 0);
      fflush (out->stream);
      return;
    }
  {
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *line = NULL;

    if (out->events)
      json_builder_end_object (out->builder);
    json_builder_end_object (out->builder);
    root = json_builder_get_root (out->builder);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, !out->events);
    line = json_generator_to_data (gen, NULL);
    fprintf (out->stream, "%s\n", line);
    fflush (out->stream);
    g_clear_object (&out->builder);
  }
}

static void
key (PunchOutput *out, const char *name)
{
  if (name)
    json_builder_set_member_name (out->builder, name);
}

void
punch_output_begin_object (PunchOutput *out, const char *name, const char *text)
{
  if (out->json)
    {
      key (out, name);
      json_builder_begin_object (out->builder);
    }
  else if (text)
    g_string_append (out->text, text);
  out->depth++;
}

void
punch_output_end_object (PunchOutput *out, const char *text)
{
  if (out->json)
    json_builder_end_object (out->builder);
  else if (text)
    g_string_append (out->text, text);
  out->depth--;
}

void
punch_output_begin_array (PunchOutput *out, const char *name, const char *text)
{
  if (out->json)
    {
      key (out, name);
      json_builder_begin_array (out->builder);
    }
  else if (text)
    g_string_append (out->text, text);
  out->depth++;
}

void
punch_output_end_array (PunchOutput *out, const char *text)
{
  if (out->json)
    json_builder_end_array (out->builder);
  else if (text)
    g_string_append (out->text, text);
  out->depth--;
}

/* The format is checked by each caller's compiler: these forward one value. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void
punch_output_string (PunchOutput *out, const char *name, const char *fmt, const char *value)
{
  if (out->json)
    {
      key (out, name);
      if (value)
        json_builder_add_string_value (out->builder, value);
      else
        json_builder_add_null_value (out->builder);
    }
  else if (fmt)
    {
      /* values may come from the network: no control character reaches a
       * terminal (JSON escapes them itself) */
      g_autofree char *safe = punch_text_escape (value ? value : "-");
      g_string_append_printf (out->text, fmt, safe);
    }
}

void
punch_output_int (PunchOutput *out, const char *name, const char *fmt, gint64 value)
{
  if (out->json)
    {
      key (out, name);
      json_builder_add_int_value (out->builder, value);
    }
  else if (fmt)
    g_string_append_printf (out->text, fmt, value);
}

void
punch_output_uint (PunchOutput *out, const char *name, const char *fmt, guint64 value)
{
  if (out->json)
    {
      key (out, name);
      json_builder_add_int_value (out->builder, (gint64)MIN (value, (guint64)G_MAXINT64));
    }
  else if (fmt)
    g_string_append_printf (out->text, fmt, value);
}

void
punch_output_bool (PunchOutput *out, const char *name, const char *fmt, gboolean value)
{
  if (out->json)
    {
      key (out, name);
      json_builder_add_boolean_value (out->builder, value);
    }
  else if (fmt)
    g_string_append_printf (out->text, fmt, value ? "yes" : "no");
}

#pragma GCC diagnostic pop

void
punch_output_text (PunchOutput *out, const char *text)
{
  if (!out->json)
    g_string_append (out->text, text);
}

void
punch_output_error (PunchOutput *out, const char *code, const char *message)
{
  if (out->events || !out->json)
    {
      punch_output_begin (out, "error");
      punch_output_string (out, "code", NULL, code);
      punch_output_string (out, "message", "error: %s", message);
      punch_output_end (out);
      return;
    }
  /* inside an open document */
  punch_output_begin_object (out, "error", NULL);
  punch_output_string (out, "code", NULL, code);
  punch_output_string (out, "message", NULL, message);
  punch_output_end_object (out, NULL);
}
