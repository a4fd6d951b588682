/* nfq-delay.c: hold every packet of an NFQUEUE queue for D ms, then accept it
 *
 * The kernel here has no netem qdisc, so the connect benchmark adds delay in
 * user space: iptables rules send the packets of a router namespace's WAN
 * link to an NFQUEUE queue, and this program gives each one back (NF_ACCEPT)
 * D milliseconds after it arrived, in arrival order (a FIFO: with a constant
 * delay, order is kept). It runs inside the namespace (`ip netns exec`);
 * queue numbers are per network namespace.
 *
 *   nfq-delay --queue N --delay-ms D [--max-packets P] [--max-seconds S]
 *
 * Bounded: at most P packets are held (default 4096); a packet that arrives
 * when the FIFO is full is dropped, as a full link buffer would, and counted.
 * The program exits on SIGTERM/SIGINT, or after S seconds (default 900),
 * first releasing every held packet. It prints one line on stderr when the
 * queue is bound ("nfq-delay: queue N bound") and one summary at exit.
 *
 * Only packet metadata is copied to user space (NFQNL_COPY_META): the
 * verdict needs the packet id, not the payload.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/netfilter.h> /* after netinet/in.h, whose definitions it then reuses */

#include <libnetfilter_queue/libnetfilter_queue.h>

#include "../common/nfq-drain.h"

typedef struct
{
  uint32_t id;
  int64_t due_us;
} Held;

typedef struct
{
  struct nfq_q_handle *qh;
  Held *ring;
  size_t cap, head, len;
  int64_t delay_us;
  unsigned long long queued, released, dropped;
} Delayer;

static volatile sig_atomic_t stop_requested;

static void
on_signal (int sig)
{
  (void)sig;
  stop_requested = 1;
}

static int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
verdict (Delayer *d, uint32_t id, uint32_t v)
{
  if (nfq_set_verdict (d->qh, id, v, 0, NULL) < 0)
    fprintf (stderr, "nfq-delay: verdict for packet %u failed: %s\n", id, strerror (errno));
}

static int
on_packet (struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
  Delayer *d = data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr (nfa);
  uint32_t id;

  (void)qh;
  (void)msg;
  if (ph == NULL)
    return 0;
  id = ntohl (ph->packet_id);
  if (d->len == d->cap)
    {
      d->dropped++;
      verdict (d, id, NF_DROP);
      return 0;
    }
  d->ring[(d->head + d->len) % d->cap] = (Held){ .id = id, .due_us = now_us () + d->delay_us };
  d->len++;
  d->queued++;
  return 0;
}

/* Accepts every held packet that is due (all of them when @all). */
static void
release_due (Delayer *d, int all)
{
  int64_t now = now_us ();

  while (d->len > 0 && (all || d->ring[d->head].due_us <= now))
    {
      verdict (d, d->ring[d->head].id, NF_ACCEPT);
      d->head = (d->head + 1) % d->cap;
      d->len--;
      d->released++;
    }
}

static int
parse_num (const char *s, long min, long max, long *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol (s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: nfq-delay --queue N --delay-ms D [--max-packets P] [--max-seconds S]\n"
              "Holds each packet of NFQUEUE queue N for D ms, then accepts it.\n");
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "queue", required_argument, NULL, 'q' },
    { "delay-ms", required_argument, NULL, 'd' },
    { "max-packets", required_argument, NULL, 'p' },
    { "max-seconds", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  long queue = -1, delay_ms = -1, max_packets = 4096, max_seconds = 900;
  Delayer d = { 0 };
  struct nfq_handle *h;
  struct sigaction sa = { 0 };
  char buf[65536] __attribute__ ((aligned));
  int fd, opt, status = 0;
  int64_t end_us;

  while ((opt = getopt_long (argc, argv, "q:d:p:s:h", opts, NULL)) != -1)
    {
      long *target = NULL, min = 0, max = 0;
      switch (opt)
        {
        case 'q': target = &queue, max = 65535; break;
        case 'd': target = &delay_ms, max = 10000; break;
        case 'p': target = &max_packets, min = 1, max = 1 << 20; break;
        case 's': target = &max_seconds, min = 1, max = 86400; break;
        case 'h': usage (stdout); return 0;
        default: usage (stderr); return 2;
        }
      if (parse_num (optarg, min, max, target) < 0)
        {
          fprintf (stderr, "nfq-delay: bad value '%s' for -%c\n", optarg, opt);
          return 2;
        }
    }
  if (optind != argc || queue < 0 || delay_ms < 0)
    {
      usage (stderr);
      return 2;
    }

  d.cap = (size_t)max_packets;
  d.delay_us = delay_ms * 1000;
  d.ring = calloc (d.cap, sizeof *d.ring);
  if (d.ring == NULL)
    return 1;

  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  h = nfq_open ();
  if (h == NULL)
    {
      fprintf (stderr, "nfq-delay: nfq_open failed: %s\n", strerror (errno));
      free (d.ring);
      return 1;
    }
  d.qh = nfq_create_queue (h, (uint16_t)queue, on_packet, &d);
  if (d.qh == NULL)
    {
      fprintf (stderr, "nfq-delay: cannot bind queue %ld: %s\n", queue, strerror (errno));
      nfq_close (h);
      free (d.ring);
      return 1;
    }
  if (nfq_set_mode (d.qh, NFQNL_COPY_META, 0) < 0)
    fprintf (stderr, "nfq-delay: cannot set copy mode: %s\n", strerror (errno));
  /* the kernel's own queue: a little more than ours, so the overflow is ours to count */
  nfq_set_queue_maxlen (d.qh, (uint32_t)d.cap + 64);
  fd = nfq_fd (h);
  fprintf (stderr, "nfq-delay: queue %ld bound, delay %ld ms, at most %zu packets held\n", queue,
           delay_ms, d.cap);

  end_us = now_us () + (int64_t)max_seconds * 1000000;
  while (!stop_requested)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int64_t now = now_us (), wait_us;
      int n;

      if (now >= end_us)
        {
          fprintf (stderr, "nfq-delay: --max-seconds %ld reached\n", max_seconds);
          break;
        }
      wait_us = end_us - now;
      if (d.len > 0 && d.ring[d.head].due_us - now < wait_us)
        wait_us = d.ring[d.head].due_us - now;
      if (wait_us < 0)
        wait_us = 0;
      /* round up, so a packet is never released early */
      n = poll (&pfd, 1, (int)((wait_us + 999) / 1000));
      if (n < 0 && errno != EINTR)
        {
          fprintf (stderr, "nfq-delay: poll: %s\n", strerror (errno));
          status = 1;
          break;
        }
      if (n > 0 && (pfd.revents & POLLIN))
        {
          /* drain what is readable now, without blocking */
          nfq_drain (h, fd, buf, sizeof buf, "nfq-delay");
        }
      release_due (&d, 0);
    }

  release_due (&d, 1);
  fprintf (stderr,
           "nfq-delay: queue %ld: %llu packets delayed, %llu released, %llu dropped (full)\n",
           queue, d.queued, d.released, d.dropped);
  nfq_destroy_queue (d.qh);
  nfq_close (h);
  free (d.ring);
  return status;
}
