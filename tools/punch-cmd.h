/* punch-cmd.h: the subcommands of the `punch` tool
 *
 * Each subcommand lives in punch-cmd-<verb>.c and returns an exit code:
 * 0 ok, 1 runtime failure, 2 usage error, 130 interrupted.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

enum
{
  PUNCH_EXIT_OK = 0,
  PUNCH_EXIT_FAILURE = 1,
  PUNCH_EXIT_USAGE = 2,
  PUNCH_EXIT_INTERRUPTED = 130,
};

typedef struct
{
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} PunchCmd;

/* BEGIN command declarations */
int punch_cmd_version (int argc, char **argv);
int punch_cmd_connect (int argc, char **argv);
int punch_cmd_check (int argc, char **argv);
int punch_cmd_identity (int argc, char **argv);
/* END command declarations */
