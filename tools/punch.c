/* punch.c: the `punch` command-line tool
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <locale.h>

#include "punch-cmd.h"

static const PunchCmd cmds[] = {
  /* BEGIN command table */
  { "version", "print the version of punch and of libnice", punch_cmd_version },
  { "connect", "connect to a peer through signaling and NATs, pipe stdin/stdout",
    punch_cmd_connect },
  { "check", "test this network: NAT type, filtering, hairpinning, TURN, what can connect",
    punch_cmd_check },
  { "identity", "print this host's key fingerprint (for a peer's --peer), creating the key",
    punch_cmd_identity },
  /* END command table */
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: punch COMMAND [OPTIONS]\n"
                "\n"
                "Connect two programs directly through NATs and firewalls (ICE, STUN, TURN).\n"
                "\n"
                "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (cmds); i++)
    fprintf (out, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
  fprintf (out, "\n"
                "Run 'punch COMMAND --help' for the options of one command.\n"
                "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 130 interrupted.\n");
}

static GLogWriterOutput
log_to_stderr (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL;
  g_autofree char *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  line = g_log_writer_format_fields (level, fields, n_fields,
                                     g_log_writer_supports_color (fileno (stderr)));
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* stdout is data (punch connect pipes the peer there): logs go to stderr,
   * whatever G_MESSAGES_DEBUG says (GLib's default sends debug and info to stdout) */
  g_log_set_writer_func (log_to_stderr, NULL, NULL);

  if (argc < 2)
    {
      usage (stderr);
      return PUNCH_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return PUNCH_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    return punch_cmd_version (argc - 1, argv + 1);

  for (gsize i = 0; i < G_N_ELEMENTS (cmds); i++)
    if (strcmp (argv[1], cmds[i].name) == 0)
      return cmds[i].run (argc - 1, argv + 1);

  fprintf (stderr, "punch: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return PUNCH_EXIT_USAGE;
}
