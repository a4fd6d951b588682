/* test-signal-frame-guard.c: the server's WebSocket frame watchdog
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include "punch-signal-frame-guard.h"

#include "punch-test-util.h"

typedef struct
{
  GMainContext *ctx;
  guint calls;
  gushort code;
  char *reason;
} Fixture;

static void
on_trip (gushort close_code, const char *reason, gpointer user_data)
{
  Fixture *f = user_data;

  f->calls++;
  f->code = close_code;
  g_free (f->reason);
  f->reason = g_strdup (reason);
}

static gboolean
tripped (gpointer data)
{
  return ((Fixture *)data)->calls > 0;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  GMainContext *global = g_main_context_default ();

  memset (f, 0, sizeof *f);
  while (g_main_context_iteration (global, FALSE))
    ;
  f->ctx = g_main_context_new ();
  g_main_context_push_thread_default (f->ctx);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_main_context_pop_thread_default (f->ctx);
  g_main_context_unref (f->ctx);
  g_free (f->reason);
}

/* Reads @frame through a guard made on the private context. */
static GInputStream *
read_through_guard (Fixture *f, const guint8 *frame, gsize len, guint64 max_message, gssize *passed,
                    GError **error)
{
  g_autoptr (GInputStream) base = g_memory_input_stream_new_from_data (frame, len, NULL);
  GInputStream *guard = punch_signal_frame_guard_new (base, max_message, 100, on_trip, f);
  guint8 buf[64];

  *passed = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard), buf,
                                                      sizeof buf, NULL, error);
  return guard;
}

/* A frame larger than the limit is held back, and the callback runs on the
 * guard's creator's context: the global default context is never iterated. */
static void
test_too_big_on_private_context (Fixture *f, gconstpointer data)
{
  /* FIN + text, masked, 64-bit length 70000 (> 1024), mask, no payload yet */
  static const guint8 frame[] = { 0x81, 0xff, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70, 1, 2, 3, 4 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) guard = NULL;
  gssize n;

  guard = read_through_guard (f, frame, sizeof frame, 1024, &n, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpuint (f->calls, ==, 0); /* from an idle, not from inside the read */
  g_assert_false (g_main_context_pending (g_main_context_default ()));
  g_assert_true (punch_test_wait (tripped, f, 2000));
  g_assert_cmpuint (f->code, ==, 1009);
  g_assert_cmpstr (f->reason, ==, "message too big");
  g_assert_false (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (guard)));
}

/* A small frame passes untouched and trips nothing. */
static void
test_small_passes (Fixture *f, gconstpointer data)
{
  static const guint8 frame[] = { 0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) guard = NULL;
  gssize n;

  guard = read_through_guard (f, frame, sizeof frame, 1024, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof frame);
  punch_test_spin (50);
  g_assert_cmpuint (f->calls, ==, 0);
}

/* Disarmed before the idle runs: the callback's data may be gone. */
static void
test_disarm (Fixture *f, gconstpointer data)
{
  static const guint8 frame[] = { 0x81, 0xff, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70, 1, 2, 3, 4 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) guard = NULL;
  gssize n;

  guard = read_through_guard (f, frame, sizeof frame, 1024, &n, &error);
  g_assert_cmpint (n, ==, -1);
  punch_signal_frame_guard_disarm (PUNCH_SIGNAL_FRAME_GUARD (guard));
  punch_test_spin (50);
  g_assert_cmpuint (f->calls, ==, 0);
}

static gboolean
on_readable (GObject *stream, gpointer user_data)
{
  (*(guint *)user_data)++;
  return G_SOURCE_REMOVE;
}

static gboolean
fired (gpointer data)
{
  return *(guint *)data > 0;
}

/* Held, nothing is read and the stream's source does not fire, though the
 * input is there; released, the source fires and the input passes. */
static void
test_hold (Fixture *f, gconstpointer data)
{
  static const guint8 frame[] = { 0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2 };
  g_autoptr (GInputStream) base = g_memory_input_stream_new_from_data (frame, sizeof frame, NULL);
  g_autoptr (GInputStream) guard = punch_signal_frame_guard_new (base, 1024, 100, on_trip, f);
  GPollableInputStream *pollable = G_POLLABLE_INPUT_STREAM (guard);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSource) source = NULL;
  guint fires = 0;
  guint8 buf[64];
  gssize n;

  punch_signal_frame_guard_hold (PUNCH_SIGNAL_FRAME_GUARD (guard), TRUE);
  n = g_pollable_input_stream_read_nonblocking (pollable, buf, sizeof buf, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (g_pollable_input_stream_is_readable (pollable));

  source = g_pollable_input_stream_create_source (pollable, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), &fires, NULL);
  g_source_attach (source, f->ctx);
  punch_test_spin (50);
  g_assert_cmpuint (fires, ==, 0);

  punch_signal_frame_guard_hold (PUNCH_SIGNAL_FRAME_GUARD (guard), FALSE);
  g_assert_true (punch_test_wait (fired, &fires, 2000));
  g_assert_cmpuint (fires, ==, 1);
  n = g_pollable_input_stream_read_nonblocking (pollable, buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof frame);
  g_assert_cmpuint (f->calls, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/punch/signal/frame-guard/too-big-private-context", Fixture, NULL, fixture_set_up,
              test_too_big_on_private_context, fixture_tear_down);
  g_test_add ("/punch/signal/frame-guard/small-passes", Fixture, NULL, fixture_set_up,
              test_small_passes, fixture_tear_down);
  g_test_add ("/punch/signal/frame-guard/disarm", Fixture, NULL, fixture_set_up, test_disarm,
              fixture_tear_down);
  g_test_add ("/punch/signal/frame-guard/hold", Fixture, NULL, fixture_set_up, test_hold,
              fixture_tear_down);
  return g_test_run ();
}
