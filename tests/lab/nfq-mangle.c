/* nfq-mangle.c: alter one byte of every Nth UDP payload of an NFQUEUE queue
 *
 * The hole-hygiene lab test (tests/lab/hygiene.sh) checks that a packet
 * altered on the way is dropped by the receiver and the transfer still
 * arrives intact. This program is the "on the way": iptables sends a router
 * namespace's UDP packets to an NFQUEUE queue, and of those whose UDP payload
 * has at least L bytes (so that small ICE checks pass untouched), every Nth
 * gets one byte (in the middle of the payload) inverted. The UDP checksum is
 * then recomputed, so the receiving kernel delivers the packet: only the
 * application can notice. Everything else is accepted unchanged.
 *
 *   nfq-mangle --queue Q --every N [--min-len L] [--max-seconds S]
 *
 * It prints one line on stderr when the queue is bound ("nfq-mangle: queue Q
 * bound") and, at exit (SIGTERM/SIGINT, or after S seconds, default 300), a
 * summary: "nfq-mangle: queue Q: P packets, E eligible, F altered".
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
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
  struct nfq_q_handle *qh;
  long every, min_len;
  unsigned long long packets, eligible, altered;
} Mangler;

static volatile sig_atomic_t stop_requested;

static void
on_signal (int sig)
{
  (void)sig;
  stop_requested = 1;
}

static uint32_t
sum16 (const uint8_t *p, size_t len, uint32_t sum)
{
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1)
    sum += (uint32_t)(p[len - 1] << 8);
  return sum;
}

/* The UDP checksum over the pseudo-header and @udp (@len bytes, checksum field zeroed). */
static uint16_t
udp_checksum (const uint8_t *ip, const uint8_t *udp, size_t len)
{
  uint8_t pseudo[12];
  uint32_t sum;

  memcpy (pseudo, ip + 12, 8); /* source and destination addresses */
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_UDP;
  pseudo[10] = (uint8_t)(len >> 8);
  pseudo[11] = (uint8_t)len;
  sum = sum16 (udp, len, sum16 (pseudo, sizeof pseudo, 0));
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  sum = ~sum & 0xffff;
  return sum == 0 ? 0xffff : (uint16_t)sum;
}

static int
on_packet (struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
  Mangler *m = data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr (nfa);
  unsigned char *pkt;
  int len = nfq_get_payload (nfa, &pkt);
  uint32_t id;
  size_t ihl, udp_len, payload_len;
  uint8_t *udp;

  (void)msg;
  if (ph == NULL)
    return 0;
  id = ntohl (ph->packet_id);
  m->packets++;
  /* IPv4, UDP, not a fragment, complete in the copy */
  if (len < 28 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_UDP || (pkt[6] & 0x3f) != 0
      || pkt[7] != 0)
    return nfq_set_verdict (qh, id, NF_ACCEPT, 0, NULL);
  ihl = (size_t)(pkt[0] & 0x0f) * 4;
  udp = pkt + ihl;
  udp_len = (size_t)(udp[4] << 8 | udp[5]);
  if (ihl < 20 || ihl + udp_len > (size_t)len || udp_len < 8)
    return nfq_set_verdict (qh, id, NF_ACCEPT, 0, NULL);
  payload_len = udp_len - 8;
  if ((long)payload_len < m->min_len)
    return nfq_set_verdict (qh, id, NF_ACCEPT, 0, NULL);
  m->eligible++;
  if (m->eligible % (unsigned long long)m->every != 0)
    return nfq_set_verdict (qh, id, NF_ACCEPT, 0, NULL);

  udp[8 + payload_len / 2] ^= 0xff;
  if (udp[6] != 0 || udp[7] != 0) /* a zero checksum means "none" in IPv4: keep it so */
    {
      uint16_t c;
      udp[6] = udp[7] = 0;
      c = udp_checksum (pkt, udp, udp_len);
      udp[6] = (uint8_t)(c >> 8);
      udp[7] = (uint8_t)c;
    }
  m->altered++;
  return nfq_set_verdict (qh, id, NF_ACCEPT, (uint32_t)len, pkt);
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
  fprintf (f, "usage: nfq-mangle --queue Q --every N [--min-len L] [--max-seconds S]\n"
              "Inverts one byte of every Nth UDP payload of at least L bytes (default 200)\n"
              "in NFQUEUE queue Q, with the UDP checksum recomputed; accepts the rest.\n");
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "queue", required_argument, NULL, 'q' },   { "every", required_argument, NULL, 'n' },
    { "min-len", required_argument, NULL, 'l' }, { "max-seconds", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
  };
  long queue = -1, max_seconds = 300;
  Mangler m = { .every = 0, .min_len = 200 };
  struct nfq_handle *h;
  struct sigaction sa = { 0 };
  char buf[65536 + 4096] __attribute__ ((aligned));
  time_t end;
  int fd, opt, status = 0;

  while ((opt = getopt_long (argc, argv, "q:n:l:s:h", opts, NULL)) != -1)
    {
      long *target = NULL, min = 0, max = 0;
      switch (opt)
        {
        case 'q': target = &queue, max = 65535; break;
        case 'n': target = &m.every, min = 1, max = 1000000; break;
        case 'l': target = &m.min_len, max = 65507; break;
        case 's': target = &max_seconds, min = 1, max = 86400; break;
        case 'h': usage (stdout); return 0;
        default: usage (stderr); return 2;
        }
      if (parse_num (optarg, min, max, target) < 0)
        {
          fprintf (stderr, "nfq-mangle: bad value '%s' for -%c\n", optarg, opt);
          return 2;
        }
    }
  if (optind != argc || queue < 0 || m.every < 1)
    {
      usage (stderr);
      return 2;
    }

  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  h = nfq_open ();
  if (h == NULL)
    {
      fprintf (stderr, "nfq-mangle: nfq_open failed: %s\n", strerror (errno));
      return 1;
    }
  m.qh = nfq_create_queue (h, (uint16_t)queue, on_packet, &m);
  if (m.qh == NULL)
    {
      fprintf (stderr, "nfq-mangle: cannot bind queue %ld: %s\n", queue, strerror (errno));
      nfq_close (h);
      return 1;
    }
  if (nfq_set_mode (m.qh, NFQNL_COPY_PACKET, 0xffff) < 0)
    {
      fprintf (stderr, "nfq-mangle: cannot copy packets: %s\n", strerror (errno));
      nfq_destroy_queue (m.qh);
      nfq_close (h);
      return 1;
    }
  nfq_set_queue_maxlen (m.qh, 8192);
  fd = nfq_fd (h);
  fprintf (stderr, "nfq-mangle: queue %ld bound, every %ld-th UDP payload of >= %ld bytes\n", queue,
           m.every, m.min_len);

  end = time (NULL) + max_seconds;
  while (!stop_requested)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int n;

      if (time (NULL) >= end)
        {
          fprintf (stderr, "nfq-mangle: --max-seconds %ld reached\n", max_seconds);
          break;
        }
      n = poll (&pfd, 1, 200);
      if (n < 0 && errno != EINTR)
        {
          fprintf (stderr, "nfq-mangle: poll: %s\n", strerror (errno));
          status = 1;
          break;
        }
      if (n > 0 && (pfd.revents & POLLIN))
        nfq_drain (h, fd, buf, sizeof buf, "nfq-mangle");
    }

  fprintf (stderr, "nfq-mangle: queue %ld: %llu packets, %llu eligible, %llu altered\n", queue,
           m.packets, m.eligible, m.altered);
  nfq_destroy_queue (m.qh);
  nfq_close (h);
  return status;
}
