/* punch-cmd-version.c: `punch version`
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include "punch-cmd.h"

int
punch_cmd_version (int argc, char **argv)
{
  printf ("punch %s\n", PUNCH_VERSION);
  return PUNCH_EXIT_OK;
}
