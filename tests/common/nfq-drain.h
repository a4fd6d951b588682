/* nfq-drain.h: the receive loop shared by the lab's NFQUEUE tools
 * (tests/bench/nfq-delay.c, tests/lab/nfq-mangle.c)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

/* Hands every packet readable now on the queue's socket to libnetfilter_queue,
 * without blocking; says so (as @who) when the kernel had to drop some. */
static inline void
nfq_drain (struct nfq_handle *h, int fd, char *buf, size_t size, const char *who)
{
  for (;;)
    {
      ssize_t r = recv (fd, buf, size, MSG_DONTWAIT);
      if (r < 0)
        {
          if (errno == ENOBUFS)
            {
              fprintf (stderr, "%s: the kernel dropped packets (ENOBUFS)\n", who);
              continue;
            }
          return;
        }
      nfq_handle_packet (h, buf, (int)r);
    }
}
