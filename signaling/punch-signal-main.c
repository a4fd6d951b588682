/* punch-signal-main.c: the punch-signal daemon and its `token` command
 *
 * SPDX-License-Identifier: MIT
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib-unix.h>

#include "punch-signal-message.h"
#include "punch-signal-server.h"
#include "punch-signal-token.h"

enum
{
  EXIT_OK = 0,
  EXIT_RUNTIME = 1,
  EXIT_USAGE = 2,
};

static int
usage_error (GOptionContext *context, const char *message)
{
  g_printerr ("punch-signal: %s\n", message);
  g_printerr ("Run '%s --help' for the options.\n", g_get_prgname ());
  return EXIT_USAGE;
}

/* ---- punch-signal token ---- */

static int
cmd_token (int argc, char **argv)
{
  g_autofree char *secret_file = NULL;
  g_autofree char *room = NULL;
  gint ttl = 3600;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = NULL;
  g_autofree char *token = NULL;
  const GOptionEntry entries[] = {
    { "secret-file", 's', 0, G_OPTION_ARG_FILENAME, &secret_file,
      "The server's secret (the same file as its --secret-file)", "FILE" },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &room, "The room the token admits to", "ROOM" },
    { "ttl", 't', 0, G_OPTION_ARG_INT, &ttl, "Seconds the token stays valid (default 3600)",
      "SECONDS" },
    { NULL },
  };

  g_set_prgname ("punch-signal token");
  context = g_option_context_new ("- print a room token");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context,
      "A token admits its bearer to one room until it expires. Give it to both peers,\n"
      "for example: punch connect --signal wss://signal.example:8443/ws --room demo --token T\n"
      "\n"
      "Example:\n"
      "  punch-signal token --secret-file /etc/punch/signal.secret --room demo --ttl 600\n"
      "\n"
      "Room names: 1 to 64 characters from A-Z a-z 0-9 _ . - (not starting with '.').\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 usage error.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (context, error->message);
  if (argc > 1)
    return usage_error (context, "unexpected argument after the options");
  if (secret_file == NULL || room == NULL)
    return usage_error (context, "token needs --secret-file FILE and --room ROOM");
  if (ttl <= 0)
    return usage_error (context, "--ttl must be a positive number of seconds");
  if (!punch_signal_name_validate (room, "room name", &error))
    return usage_error (context, error->message);
  secret = punch_signal_secret_load (secret_file, &error);
  if (secret == NULL)
    {
      g_printerr ("punch-signal: cannot read the secret: %s\n", error->message);
      return EXIT_RUNTIME;
    }
  token = punch_signal_token_new (secret, room, g_get_real_time () / G_USEC_PER_SEC + ttl);
  g_print ("%s\n", token);
  return EXIT_OK;
}

/* ---- the daemon ---- */

typedef struct
{
  PunchSignalServer *server;
  gboolean stopping;
  gboolean quit;
} Daemon;

static gboolean
quit_cb (gpointer data)
{
  ((Daemon *)data)->quit = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run (Daemon *d)
{
  while (!d->quit)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
on_signal (gpointer data)
{
  Daemon *d = data;

  if (d->stopping)
    {
      d->quit = TRUE;
      return G_SOURCE_CONTINUE;
    }
  d->stopping = TRUE;
  g_message ("stopping: closing %u connections", punch_signal_server_get_n_connections (d->server));
  punch_signal_server_shutdown (d->server);
  /* let the close frames go out */
  g_timeout_add (300, quit_cb, d);
  return G_SOURCE_CONTINUE;
}

/* Each WebSocket is a descriptor: raise the soft limit toward the hard one
 * when --max-connections needs it, and say so when even that is too low. */
static void
ensure_descriptors (guint max_connections)
{
  struct rlimit rl;
  /* a descriptor per connection, and an eventfd per shard (at most 64
   * WebSockets or 16 handshakes on one) */
  rlim_t need = (rlim_t)max_connections + max_connections / 16 + max_connections / 64 + 256;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
    return;
  rl.rlim_cur = MIN (need, rl.rlim_max);
  setrlimit (RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    g_warning ("--max-connections %u needs about %lu descriptors, but the limit is %lu "
               "(ulimit -Hn): connections beyond it will fail",
               max_connections, (unsigned long)need, (unsigned long)rl.rlim_cur);
}

static gboolean
load_secret (const char *path, const char *what, GBytes **out, GError **error)
{
  if (path == NULL)
    return TRUE;
  *out = punch_signal_secret_load (path, error);
  if (*out == NULL)
    {
      g_prefix_error (error, "cannot read the %s: ", what);
      return FALSE;
    }
  if (g_bytes_get_size (*out) < 16)
    g_warning ("the %s in %s is shorter than 16 bytes; use a long random one", what, path);
  return TRUE;
}

/* GLib 2.74's slice allocator, which every GObject comes from, keeps what a
 * burst of connections used for good: after 3,000 idle WebSockets closed,
 * the daemon's RSS stayed at 24.6 MiB (6.7 MiB before) with it, and went
 * back to 11.7 MiB with G_SLICE=always-malloc. GLib reads G_SLICE when it is
 * loaded, before main(): so set it and start again. Not under valgrind (its
 * preload library is in LD_PRELOAD), which would not follow the exec; GLib
 * 2.76 and later have no slice allocator and ignore the variable. */
static void
reexec_without_slices (char **argv)
{
  const char *preload = getenv ("LD_PRELOAD");

  if (getenv ("G_SLICE") || (preload && strstr (preload, "vgpreload")))
    return;
  setenv ("G_SLICE", "always-malloc", 1);
  execv ("/proc/self/exe", argv);
  /* the exec failed: run on with GLib's default */
}

int
main (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *secret_file = NULL;
  gboolean insecure = FALSE;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *turn_secret_file = NULL;
  g_auto (GStrv) turn_uris = NULL;
  gint turn_ttl = 24 * 3600;
  gint max_connections = 10000;
  gint max_per_ip = 100;
  gint handshake_timeout = 5;
  gint64 max_queue = 4 * PUNCH_SIGNAL_MAX_FRAME;
  gint room_size = 2;
  gint rate = 20;
  gint hello_timeout = 10;
  gint keepalive = 30;
  g_autofree char *redis = NULL;
  g_autofree char *redis_password_file = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSignalServerConfig) config = NULL;
  g_autoptr (PunchSignalServer) server = NULL;
  g_autofree char *url = NULL;
  Daemon d = { 0 };
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Address to listen on (default 127.0.0.1:8765; port 0 picks one)", "HOST:PORT" },
    { "secret-file", 's', 0, G_OPTION_ARG_FILENAME, &secret_file,
      "HMAC key for room tokens; peers need a token made with it", "FILE" },
    { "insecure-no-auth", 0, 0, G_OPTION_ARG_NONE, &insecure,
      "Let anyone join any room without a token (labs and demos only)", NULL },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "Serve wss:// with this PEM certificate",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "The PEM private key of --tls-cert",
      "FILE" },
    { "turn-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &turn_secret_file,
      "coturn's static-auth-secret: hand out TURN REST credentials", "FILE" },
    { "turn-uri", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_uris,
      "A STUN/TURN server for the peers (repeatable), e.g. turn:turn.example:3478", "URI" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_INT, &turn_ttl,
      "Seconds the TURN credentials stay valid (default 86400)", "SECONDS" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
      "Most connections at once, counting those still in their HTTP handshake; more are "
      "refused with HTTP 503 (default 10000)",
      "N" },
    { "max-connections-per-ip", 0, 0, G_OPTION_ARG_INT, &max_per_ip,
      "Most connections at once from one IPv4 address or IPv6 /64 (default 100)", "N" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout,
      "Seconds from accepting a connection to its WebSocket upgrade (default 5)", "SECONDS" },
    { "max-queue", 0, 0, G_OPTION_ARG_INT64, &max_queue,
      "Bytes that may wait for a peer that does not read before it is closed with 1008 "
      "(default 262144, four 64 KiB frames)",
      "BYTES" },
    { "room-size", 0, 0, G_OPTION_ARG_INT, &room_size, "Most peers in one room (default 2)", "N" },
    { "rate-limit", 0, 0, G_OPTION_ARG_INT, &rate,
      "Messages per second per connection, with a 3 s burst (default 20)", "N" },
    { "hello-timeout", 0, 0, G_OPTION_ARG_INT, &hello_timeout,
      "Seconds a connection has to join a room (default 10)", "SECONDS" },
    { "keepalive", 0, 0, G_OPTION_ARG_INT, &keepalive,
      "Seconds between pings; silent for 3 of them closes (default 30)", "SECONDS" },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &redis,
      "Share rooms with every instance using this Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] "
      "or unix:///PATH (see docs/cluster.md)",
      "URL" },
    { "redis-password-file", 0, 0, G_OPTION_ARG_FILENAME, &redis_password_file,
      "Redis' password (requirepass), kept out of the command line", "FILE" },
    { NULL },
  };

  reexec_without_slices (argv);
  setlocale (LC_ALL, "");
  if (argc > 1 && strcmp (argv[1], "token") == 0)
    return cmd_token (argc - 1, argv + 1);

  context = g_option_context_new ("- WebSocket signaling for punch peers");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "Two peers that want to connect join the same room and exchange their ICE\n"
               "credentials and candidates through this server (protocol: docs/signaling.md).\n"
               "\n"
               "  punch-signal token --secret-file FILE --room ROOM [--ttl SECONDS]\n"
               "                             print a token that admits to ROOM");
  g_option_context_set_description (
      context, "Examples:\n"
               "  head -c 32 /dev/urandom | base64 > signal.secret\n"
               "  punch-signal --listen 0.0.0.0:8443 --secret-file signal.secret \\\n"
               "               --tls-cert cert.pem --tls-key key.pem \\\n"
               "               --turn-secret-file turn.secret --turn-uri turn:turn.example:3478\n"
               "  punch-signal token --secret-file signal.secret --room demo\n"
               "  punch-signal --listen 127.0.0.1:0 --insecure-no-auth     # a lab, any free port\n"
               "  punch-signal --listen *:8443 --secret-file signal.secret \\\n"
               "               --redis redis://10.0.0.5:6379       # one of N instances behind a "
               "balancer\n"
               "\n"
               "On start it prints 'listening on ws://HOST:PORT/ws' on stdout. GET /healthz\n"
               "answers 200 with JSON; its status is \"degraded\" for 10 s after the server\n"
               "ran out of file descriptors. Logs (one line per join, leave and error; refused\n"
               "connections and handshake timeouts summed up every 10 s) go to stderr.\n"
               "\n"
               "Hostile clients: a connection that has not upgraded to a WebSocket within\n"
               "--handshake-timeout is closed; beyond --max-connections or\n"
               "--max-connections-per-ip new connections get a canned 503 before their request\n"
               "is read; a peer that lets more than --max-queue bytes pile up is closed with\n"
               "1008 and whoever sent to it gets an error \"peer-too-slow\".\n"
               "\n"
               "SIGINT or SIGTERM closes every WebSocket with 1001 and exits 0.\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 usage error.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (context, error->message);
  if (argc > 1)
    {
      g_autofree char *msg = g_strdup_printf ("unexpected argument '%s'", argv[1]);
      return usage_error (context, msg);
    }
  if (secret_file && insecure)
    return usage_error (context, "--secret-file and --insecure-no-auth exclude each other");
  if ((tls_cert == NULL) != (tls_key == NULL))
    return usage_error (context, "--tls-cert and --tls-key go together");
  if (turn_ttl <= 0 || max_connections <= 0 || room_size <= 0 || rate <= 0 || hello_timeout <= 0
      || keepalive <= 0 || max_per_ip <= 0 || handshake_timeout <= 0 || max_queue <= 0)
    return usage_error (context, "numbers must be greater than zero");

  config = punch_signal_server_config_new ();
  config->insecure_no_auth = insecure;
  config->turn_uris = g_steal_pointer (&turn_uris);
  config->turn_ttl = (guint)turn_ttl;
  config->max_connections = (guint)max_connections;
  config->max_connections_per_ip = (guint)max_per_ip;
  config->handshake_timeout_s = (guint)handshake_timeout;
  config->max_queue = (guint64)max_queue;
  ensure_descriptors (config->max_connections);
  config->room_size = (guint)room_size;
  config->rate = (guint)rate;
  config->hello_timeout_s = (guint)hello_timeout;
  config->keepalive_s = (guint)keepalive;
  config->redis_url = g_steal_pointer (&redis);
  if (redis_password_file && config->redis_url == NULL)
    return usage_error (context, "--redis-password-file needs --redis");
  if (redis_password_file)
    {
      g_autoptr (GBytes) password = NULL;

      if (!load_secret (redis_password_file, "Redis password", &password, &error))
        {
          g_printerr ("punch-signal: %s\n", error->message);
          return EXIT_RUNTIME;
        }
      config->redis_password
          = g_strndup (g_bytes_get_data (password, NULL), g_bytes_get_size (password));
    }
  if (!load_secret (secret_file, "room secret", &config->secret, &error)
      || !load_secret (turn_secret_file, "TURN secret", &config->turn_secret, &error))
    {
      g_printerr ("punch-signal: %s\n", error->message);
      return EXIT_RUNTIME;
    }
  if (tls_cert)
    {
      config->tls_certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &error);
      if (config->tls_certificate == NULL)
        {
          g_printerr ("punch-signal: cannot load the TLS certificate: %s\n", error->message);
          return EXIT_RUNTIME;
        }
    }
  if (!punch_signal_server_config_validate (config, &error))
    return usage_error (context, error->message);
  if (insecure)
    g_printerr ("punch-signal: WARNING: --insecure-no-auth: anyone who can reach this server "
                "may join any room. Use --secret-file outside a lab.\n");

  server = punch_signal_server_new (config, &error);
  if (server == NULL
      || !punch_signal_server_listen (server, listen ? listen : "127.0.0.1:8765", &error))
    {
      g_printerr ("punch-signal: %s\n", error->message);
      return EXIT_RUNTIME;
    }
  url = punch_signal_server_get_url (server);
  g_print ("listening on %s\n", url);
  fflush (stdout);

  d.server = server;
  g_unix_signal_add (SIGINT, on_signal, &d);
  g_unix_signal_add (SIGTERM, on_signal, &d);
  run (&d);
  return EXIT_OK;
}
