/* test-signal-common.c: a real punch-signal process for one test
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-signal-common.h"
#include "punch-test-util.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

/* The server must not outlive a test that aborts before its teardown. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static char *
binary_path (void)
{
  const char *build = g_getenv ("PUNCH_BUILD_DIR");

  g_assert_nonnull (build); /* set by tests/meson.build */
  return g_build_filename (build, "signaling", "punch-signal", NULL);
}

static void
spawn (SignalServer *s, const char *listen, const char *const *extra)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;

  g_ptr_array_add (argv, binary_path ());
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup (listen));
  if (s->secret_file)
    {
      g_ptr_array_add (argv, g_strdup ("--secret-file"));
      g_ptr_array_add (argv, g_strdup (s->secret_file));
    }
  else
    g_ptr_array_add (argv, g_strdup ("--insecure-no-auth"));
  for (guint i = 0; extra && extra[i]; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stderr_file_path (launcher, s->log);
  s->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out), FALSE);
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL || !g_str_has_prefix (line, "listening on "))
    {
      g_autofree char *log = signal_server_log (s);
      g_error ("punch-signal did not start (stdout: %s); its log:\n%s", line ? line : "(closed)",
               log);
    }
  g_free (s->url);
  s->url = g_strdup (line + strlen ("listening on "));
  s->port = (guint16)g_ascii_strtoull (strrchr (s->url, ':') + 1, NULL, 10);
  g_assert_cmpuint (s->port, >, 0);
}

SignalServer *
signal_server_start (const char *secret, const char *listen, const char *const *extra)
{
  SignalServer *s = g_new0 (SignalServer, 1);
  g_autoptr (GError) error = NULL;

  s->dir = g_dir_make_tmp ("punch-signal-test-XXXXXX", &error);
  g_assert_no_error (error);
  s->log = g_build_filename (s->dir, "punch-signal.log", NULL);
  if (secret)
    {
      s->secret_file = g_build_filename (s->dir, "secret", NULL);
      g_assert_true (g_file_set_contents (s->secret_file, secret, -1, &error));
      s->secret = g_bytes_new (secret, strlen (secret));
    }
  spawn (s, listen ? listen : "127.0.0.1:0", extra);
  return s;
}

void
signal_server_restart (SignalServer *s, const char *const *extra)
{
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", s->port);

  g_assert_null (s->proc);
  spawn (s, listen, extra);
}

void
signal_server_kill (SignalServer *s)
{
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (s->proc);
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_assert_true (g_subprocess_wait (s->proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (s->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s->proc), ==, 0);
  g_clear_object (&s->proc);
}

void
signal_server_stop (SignalServer *s)
{
  if (s == NULL)
    return;
  if (s->proc)
    {
      g_subprocess_force_exit (s->proc);
      g_subprocess_wait (s->proc, NULL, NULL);
      g_clear_object (&s->proc);
    }
  if (g_getenv ("PUNCH_KEEP_SIGNAL_LOG"))
    {
      g_autofree char *log = signal_server_log (s);
      g_printerr ("# punch-signal log:\n%s\n", log);
    }
  punch_test_remove_dir (s->dir);
  g_free (s->dir);
  g_free (s->secret_file);
  g_clear_pointer (&s->secret, g_bytes_unref);
  g_free (s->log);
  g_free (s->url);
  g_free (s);
}

char *
signal_server_log (SignalServer *s)
{
  char *text = NULL;

  if (!g_file_get_contents (s->log, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

char *
signal_server_token (SignalServer *s, const char *room, gint64 ttl)
{
  g_assert_nonnull (s->secret);
  return punch_signal_token_new (s->secret, room, g_get_real_time () / G_USEC_PER_SEC + ttl);
}

typedef struct
{
  gboolean done;
  GError *error;
} JoinWait;

static void
joined (GObject *source, GAsyncResult *result, gpointer data)
{
  JoinWait *w = data;

  punch_signal_client_join_finish (PUNCH_SIGNAL_CLIENT (source), result, &w->error);
  w->done = TRUE;
}

static gboolean
join_done (gpointer data)
{
  return ((JoinWait *)data)->done;
}

GError *
signal_join (PunchSignalClient *client, const char *room, const char *token)
{
  JoinWait w = { FALSE, NULL };

  punch_signal_client_join_async (client, room, token, NULL, joined, &w);
  g_assert_true (punch_test_wait (join_done, &w, 10000));
  return w.error;
}
