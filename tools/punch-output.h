/* punch-output.h: one field list, printed as text or as JSON
 *
 * As iproute2's print_*(PRINT_ANY, key, fmt, value): each call names a JSON
 * key and a printf format for text, so the two renderings cannot drift.
 *
 *   punch_output_begin (out, "connected");             // NDJSON: {"event":"connected","data":{
 *   punch_output_int (out, "elapsed_ms", "connected after %" G_GINT64_FORMAT " ms", ms);
 *   punch_output_begin_object (out, "local", " (");    // "local":{
 *   punch_output_string (out, "type", "%s", "srflx");
 *   punch_output_end_object (out, ")");
 *   punch_output_end (out);                            // }}\n   or the text line and \n
 *
 * Text goes to the stream as it is printed; JSON is built and written whole by
 * punch_output_end(). In event mode each record is one NDJSON line
 * {"event":NAME,"data":{...}}; in document mode (punch_output_new_document)
 * the record itself is the document.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <stdio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _PunchOutput PunchOutput;

/** Events (NDJSON lines when @json) on @stream, usually stderr. */
PunchOutput *punch_output_new_events (FILE *stream, gboolean json);
/** One document (a JSON object when @json) on @stream, usually stdout. */
PunchOutput *punch_output_new_document (FILE *stream, gboolean json);
void punch_output_free (PunchOutput *out);
gboolean punch_output_is_json (PunchOutput *out);

void punch_output_begin (PunchOutput *out, const char *event);
void punch_output_end (PunchOutput *out);

void punch_output_begin_object (PunchOutput *out, const char *key, const char *text);
void punch_output_end_object (PunchOutput *out, const char *text);
void punch_output_begin_array (PunchOutput *out, const char *key, const char *text);
void punch_output_end_array (PunchOutput *out, const char *text);

/* @fmt is for text only and takes exactly the one value; NULL prints nothing in text mode.
 * In text mode a string value is shown through punch_text_escape(): control
 * characters (a server's escape codes, newlines) are escaped, never printed. */
void punch_output_string (PunchOutput *out, const char *key, const char *fmt, const char *value);
void punch_output_int (PunchOutput *out, const char *key, const char *fmt, gint64 value);
void punch_output_uint (PunchOutput *out, const char *key, const char *fmt, guint64 value);
void punch_output_bool (PunchOutput *out, const char *key, const char *fmt, gboolean value);
/* Text only: nothing in JSON. */
void punch_output_text (PunchOutput *out, const char *text);

/** An event "error" (or a member "error" of the document) with a code and message. */
void punch_output_error (PunchOutput *out, const char *code, const char *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchOutput, punch_output_free)

G_END_DECLS
