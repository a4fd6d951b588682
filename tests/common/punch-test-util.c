/* punch-test-util.c: helpers shared by punch's test suites
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

typedef struct
{
  gboolean expired;
} Deadline;

static gboolean
deadline_cb (gpointer data)
{
  ((Deadline *)data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
punch_test_wait (PunchTestCondition cond, gpointer user_data, guint timeout_ms)
{
  GMainContext *ctx = g_main_context_get_thread_default ();
  Deadline d = { FALSE };
  GSource *timer = g_timeout_source_new (timeout_ms);

  g_source_set_callback (timer, deadline_cb, &d, NULL);
  g_source_attach (timer, ctx);
  while (!cond (user_data) && !d.expired)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  return cond (user_data);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

void
punch_test_spin (guint ms)
{
  punch_test_wait (never, NULL, ms);
}

guint16
punch_test_free_port (void)
{
  for (int attempt = 0; attempt < 50; attempt++)
    {
      g_autoptr (GSocket) tcp
          = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
      g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
      if (!tcp || !g_socket_bind (tcp, any, FALSE, NULL))
        continue;
      g_autoptr (GSocketAddress) bound = g_socket_get_local_address (tcp, NULL);
      guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

      /* the same port must be free for UDP too */
      g_autoptr (GSocket) udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                              G_SOCKET_PROTOCOL_UDP, NULL);
      g_autoptr (GSocketAddress) same = g_inet_socket_address_new (lo, port);
      if (udp && g_socket_bind (udp, same, FALSE, NULL))
        return port;
    }
  g_error ("no free local port");
  return 0;
}

/* The server must not outlive a test that aborts before its teardown. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
tcp_port_open (guint16 port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;

  g_socket_client_set_timeout (client, 1);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return conn != NULL;
}

static PunchTestCoturn *coturn_start (const char *secret, const char *cert, const char *key);

PunchTestCoturn *
punch_test_coturn_start (const char *secret)
{
  return coturn_start (secret, NULL, NULL);
}

PunchTestCoturn *
punch_test_coturn_start_tls (const char *cert, const char *key)
{
  return coturn_start (NULL, cert, key);
}

static PunchTestCoturn *
coturn_start (const char *secret, const char *cert, const char *key)
{
  g_autofree char *turnserver = g_find_program_in_path ("turnserver");
  g_autoptr (GError) error = NULL;
  PunchTestCoturn *c;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *log = NULL;

  if (turnserver == NULL)
    {
      g_test_skip ("coturn's turnserver is not installed (scripts/install-deps installs it)");
      return NULL;
    }

  c = g_new0 (PunchTestCoturn, 1);
  c->dir = g_dir_make_tmp ("punch-coturn-XXXXXX", &error);
  g_assert_no_error (error);
  c->port = punch_test_free_port ();
  c->user = g_strdup ("punch");
  c->pass = g_strdup ("hunter2-punch");
  c->secret = g_strdup (secret);
  log = g_build_filename (c->dir, "turnserver.log", NULL);

  g_ptr_array_add (argv, g_strdup (turnserver));
  g_ptr_array_add (argv, g_strdup ("-n"));
  g_ptr_array_add (argv, g_strdup ("--no-cli"));
  g_ptr_array_add (argv, g_strdup ("--log-file=stdout"));
  g_ptr_array_add (argv, g_strdup ("--simple-log"));
  g_ptr_array_add (argv, g_strdup ("--listening-ip=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--relay-ip=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup_printf ("--listening-port=%u", c->port));
  g_ptr_array_add (argv, g_strdup ("--realm=punch.test"));
  g_ptr_array_add (argv, g_strdup ("--fingerprint"));
  if (cert)
    {
      c->tls_port = punch_test_free_port ();
      g_ptr_array_add (argv, g_strdup_printf ("--tls-listening-port=%u", c->tls_port));
      g_ptr_array_add (argv, g_strdup_printf ("--cert=%s", cert));
      g_ptr_array_add (argv, g_strdup_printf ("--pkey=%s", key));
    }
  else
    g_ptr_array_add (argv, g_strdup ("--no-tls"));
  g_ptr_array_add (argv, g_strdup ("--no-dtls"));
  g_ptr_array_add (argv, g_strdup ("--no-rfc5780"));
  g_ptr_array_add (argv, g_strdup ("--no-multicast-peers"));
  /* Test-only: the peers are on loopback. Never in a production config. */
  g_ptr_array_add (argv, g_strdup ("--allow-loopback-peers"));
  /* Keep private ranges away from the relay: coturn 4.6.1 tears down the
   * whole allocation when a relayed send fails with "Network is unreachable"
   * (a check toward a peer's 10.x host candidate); denied, only that
   * permission fails (403) and the allocation survives. */
  g_ptr_array_add (argv, g_strdup ("--denied-peer-ip=10.0.0.0-10.255.255.255"));
  g_ptr_array_add (argv, g_strdup ("--denied-peer-ip=172.16.0.0-172.31.255.255"));
  g_ptr_array_add (argv, g_strdup ("--denied-peer-ip=192.168.0.0-192.168.255.255"));
  g_ptr_array_add (argv, g_strdup_printf ("--pidfile=%s/turnserver.pid", c->dir));
  g_ptr_array_add (argv, g_strdup_printf ("--userdb=%s/turndb", c->dir));
  if (secret)
    {
      g_ptr_array_add (argv, g_strdup ("--use-auth-secret"));
      g_ptr_array_add (argv, g_strdup_printf ("--static-auth-secret=%s", secret));
    }
  else
    {
      g_ptr_array_add (argv, g_strdup ("--lt-cred-mech"));
      g_ptr_array_add (argv, g_strdup_printf ("--user=%s:%s", c->user, c->pass));
    }
  g_ptr_array_add (argv, NULL);

  {
    g_autoptr (GSubprocessLauncher) launcher
        = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
    g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
    g_subprocess_launcher_set_stdout_file_path (launcher, log);
    g_subprocess_launcher_set_stderr_file_path (launcher, log);
    c->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, &error);
  }
  g_assert_no_error (error);

  for (int i = 0; i < 100 && !tcp_port_open (c->port); i++)
    {
      if (g_subprocess_get_identifier (c->proc) == NULL)
        break;
      g_usleep (100 * 1000);
    }
  if (!tcp_port_open (c->port))
    {
      g_autofree char *text = NULL;
      g_file_get_contents (log, &text, NULL, NULL);
      g_printerr ("turnserver did not come up; its log:\n%s\n", text ? text : "(none)");
      punch_test_coturn_stop (c);
      g_assert_not_reached ();
    }
  return c;
}

void
punch_test_coturn_stop (PunchTestCoturn *c)
{
  if (c == NULL)
    return;
  if (c->proc)
    {
      g_subprocess_force_exit (c->proc);
      g_subprocess_wait (c->proc, NULL, NULL);
      g_object_unref (c->proc);
    }
  if (c->dir && g_getenv ("PUNCH_KEEP_COTURN_LOG"))
    {
      g_autofree char *log = g_build_filename (c->dir, "turnserver.log", NULL);
      g_autofree char *text = NULL;
      if (g_file_get_contents (log, &text, NULL, NULL))
        g_printerr ("# coturn log:\n%s\n", text);
    }
  if (c->dir)
    punch_test_remove_dir (c->dir);
  g_free (c->dir);
  g_free (c->user);
  g_free (c->pass);
  g_free (c->secret);
  g_free (c);
}

gboolean
punch_test_make_certificate (const char *dir, char **cert_file, char **key_file)
{
  g_autofree char *certtool = g_find_program_in_path ("certtool");
  g_autofree char *tmpl = g_build_filename (dir, "cert.tmpl", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *cmd1 = NULL, *cmd2 = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  if (certtool == NULL)
    {
      g_test_skip ("certtool is not installed (package gnutls-bin; scripts/install-deps.sh)");
      return FALSE;
    }
  g_assert_true (g_file_set_contents (tmpl,
                                      "cn = localhost\n"
                                      "dns_name = localhost\n"
                                      "ip_address = 127.0.0.1\n"
                                      "expiration_days = 2\n"
                                      "ca\n"
                                      "cert_signing_key\n"
                                      "signing_key\n"
                                      "encryption_key\n"
                                      "tls_www_server\n",
                                      -1, &error));
  cmd1 = g_strdup_printf ("%s --generate-privkey --key-type=ecdsa --outfile %s", certtool, key);
  cmd2 = g_strdup_printf ("%s --generate-self-signed --load-privkey %s --template %s --outfile %s",
                          certtool, key, tmpl, cert);
  g_assert_true (g_spawn_command_line_sync (cmd1, NULL, NULL, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_true (g_spawn_command_line_sync (cmd2, NULL, NULL, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
  *cert_file = g_steal_pointer (&cert);
  *key_file = g_steal_pointer (&key);
  return TRUE;
}

void
punch_test_remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *file = g_build_filename (path, name, NULL);
      g_unlink (file);
    }
  g_rmdir (path);
}
