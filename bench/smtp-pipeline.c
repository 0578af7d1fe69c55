/* smtp-pipeline.c: a small SMTP load generator that pipelines (RFC 2920)
 *
 * Each of SESSIONS threads opens one connection, sends EHLO, and then for
 * every message writes MAIL FROM, RCPT TO and DATA as one group, reads the
 * three replies (250, 250, 354), writes the content with its final "." and
 * reads the 250: two round trips per message instead of four.  (Writing the
 * next MAIL together with the final ".", which RFC 2920 also allows, is
 * refused by Haraka, so this client does not do it.)
 *
 * With MODE "bdat" (RFC 3030 CHUNKING) each message is one write instead:
 * MAIL FROM, RCPT TO, "BDAT n LAST" and the n octets of content, then the
 * three replies (250, 250, 250): one round trip per message. The server
 * must advertise CHUNKING.
 *
 * usage: smtp-pipeline HOST PORT SESSIONS MESSAGES SIZE [TIMEOUT_SECONDS [data|bdat]]
 * Prints "messages=N errors=N seconds=S pipelining_advertised=0|1
 * chunking_advertised=0|1".
 * Exits non-zero when a reply was unexpected or the timeout was reached.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server_addr;
static char *body;
static size_t body_len;
static atomic_long delivered;
static atomic_long errors;
static atomic_int advertised;
static atomic_int chunking;
static int bdat_mode;
static char *bdat_message;      /* MAIL, RCPT, BDAT n LAST and the content */
static size_t bdat_message_len;
static int timeout_seconds = 120;

static const char envelope[] =
  "MAIL FROM:<bench@example.org>\r\n"
  "RCPT TO:<sink@example.org>\r\n"
  "DATA\r\n";

typedef struct
{
  int    fd;
  char   buf[65536];
  size_t len;
} Conn;

static int
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      data += n;
      len -= (size_t) n;
    }
  return 0;
}

/* Reads one complete reply (possibly multi-line); returns its code, or -1.
 * When ehlo is set, notes whether PIPELINING was advertised. */
static int
read_reply (Conn *c, int ehlo)
{
  for (;;)
    {
      char *start = c->buf;
      char *end = c->buf + c->len;
      char *nl;

      while ((nl = memchr (start, '\n', (size_t) (end - start))) != NULL)
        {
          size_t line_len = (size_t) (nl - start) + 1;

          if (ehlo && line_len > 14 && strncasecmp (start + 4, "PIPELINING", 10) == 0)
            atomic_store (&advertised, 1);
          if (ehlo && line_len >= 12 && strncasecmp (start + 4, "CHUNKING", 8) == 0 &&
              (start[12] == '\r' || start[12] == '\n' || start[12] == ' '))
            atomic_store (&chunking, 1);
          if (line_len >= 4 && start[3] != '-')
            {
              int code = atoi (start);
              size_t consumed = (size_t) (nl + 1 - c->buf);

              memmove (c->buf, nl + 1, c->len - consumed);
              c->len -= consumed;
              return code;
            }
          start = nl + 1;
        }
      if (c->len == sizeof c->buf)
        return -1;
      ssize_t n = recv (c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      c->len += (size_t) n;
    }
}

static void *
session_thread (void *arg)
{
  long count = (long) (intptr_t) arg;
  Conn *c = calloc (1, sizeof *c);
  struct timeval tv = { .tv_sec = timeout_seconds };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM, 0);
  setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (c->fd, (struct sockaddr *) &server_addr, sizeof server_addr) < 0 ||
      read_reply (c, 0) != 220 ||
      write_all (c->fd, "EHLO bench.example.org\r\n", 24) < 0 ||
      read_reply (c, 1) != 250)
    {
      atomic_fetch_add (&errors, count);
      goto out;
    }

  if (bdat_mode && !atomic_load (&chunking))
    {
      fprintf (stderr, "smtp-pipeline: the server does not advertise CHUNKING\n");
      atomic_fetch_add (&errors, count);
      goto out;
    }

  for (long i = 0; i < count && bdat_mode; i++)
    {
      if (write_all (c->fd, bdat_message, bdat_message_len) < 0)
        {
          atomic_fetch_add (&errors, count - i);
          goto out;
        }
      int mail = read_reply (c, 0);
      int rcpt = read_reply (c, 0);
      int code = read_reply (c, 0);
      if (mail / 100 != 2 || rcpt / 100 != 2 || code < 0)
        {
          fprintf (stderr, "smtp-pipeline: unexpected replies %d %d %d\n", mail, rcpt, code);
          atomic_fetch_add (&errors, count - i);
          goto out;
        }
      if (code / 100 == 2)
        atomic_fetch_add (&delivered, 1);
      else
        atomic_fetch_add (&errors, 1);
    }

  for (long i = 0; i < count && !bdat_mode; i++)
    {
      if (write_all (c->fd, envelope, sizeof envelope - 1) < 0)
        {
          atomic_fetch_add (&errors, count - i);
          goto out;
        }
      int mail = read_reply (c, 0);
      int rcpt = read_reply (c, 0);
      int data = read_reply (c, 0);
      if (mail / 100 != 2 || rcpt / 100 != 2 || data != 354)
        {
          fprintf (stderr, "smtp-pipeline: unexpected replies %d %d %d\n", mail, rcpt, data);
          atomic_fetch_add (&errors, count - i);
          goto out;
        }
      if (write_all (c->fd, body, body_len) < 0)
        {
          atomic_fetch_add (&errors, count - i);
          goto out;
        }
      int code = read_reply (c, 0);
      if (code / 100 == 2)
        atomic_fetch_add (&delivered, 1);
      else
        atomic_fetch_add (&errors, 1);
      if (code < 0)
        {
          atomic_fetch_add (&errors, count - i - 1);
          goto out;
        }
    }
  if (write_all (c->fd, "QUIT\r\n", 6) == 0)
    read_reply (c, 0); /* 221 */

out:
  close (c->fd);
  free (c);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 6)
    {
      fprintf (stderr, "usage: %s HOST PORT SESSIONS MESSAGES SIZE [TIMEOUT [data|bdat]]\n", argv[0]);
      return 2;
    }
  int sessions = atoi (argv[3]);
  long messages = atol (argv[4]);
  size_t size = (size_t) atol (argv[5]);
  if (argc > 6)
    timeout_seconds = atoi (argv[6]);
  if (argc > 7 && strcmp (argv[7], "bdat") == 0)
    bdat_mode = 1;
  else if (argc > 7 && strcmp (argv[7], "data") != 0)
    return 2;
  if (sessions < 1 || messages < sessions)
    return 2;

  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons ((unsigned short) atoi (argv[2]));
  if (inet_pton (AF_INET, argv[1], &server_addr.sin_addr) != 1)
    return 2;

  /* headers, then SIZE bytes of payload in lines of at most 78 characters */
  static const char headers[] =
    "From: <bench@example.org>\r\nTo: <sink@example.org>\r\nSubject: bench\r\n\r\n";
  body = malloc (sizeof headers + size + size / 40 + 16);
  body_len = sizeof headers - 1;
  memcpy (body, headers, body_len);
  for (size_t done = 0; done < size;)
    {
      size_t n = size - done > 78 ? 78 : size - done;
      memset (body + body_len, 'a' + (int) (done / 78 % 26), n);
      body_len += n;
      done += n;
      memcpy (body + body_len, "\r\n", 2);
      body_len += 2;
    }
  /* BDAT: the same content, without the end-of-data dot; the envelope and
   * the chunk in one buffer */
  bdat_message = malloc (sizeof envelope + 64 + body_len);
  bdat_message_len = (size_t) sprintf (bdat_message,
                                       "MAIL FROM:<bench@example.org>\r\n"
                                       "RCPT TO:<sink@example.org>\r\n"
                                       "BDAT %zu LAST\r\n", body_len);
  memcpy (bdat_message + bdat_message_len, body, body_len);
  bdat_message_len += body_len;
  memcpy (body + body_len, ".\r\n", 3);
  body_len += 3;

  alarm ((unsigned) timeout_seconds + 5);

  pthread_t *threads = calloc ((size_t) sessions, sizeof *threads);
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < sessions; i++)
    {
      long share = messages / sessions + (i < messages % sessions ? 1 : 0);
      pthread_create (&threads[i], NULL, session_thread, (void *) (intptr_t) share);
    }
  for (int i = 0; i < sessions; i++)
    pthread_join (threads[i], NULL);
  clock_gettime (CLOCK_MONOTONIC, &t1);

  double seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf ("messages=%ld errors=%ld seconds=%.3f pipelining_advertised=%d chunking_advertised=%d\n",
          atomic_load (&delivered), atomic_load (&errors), seconds, atomic_load (&advertised),
          atomic_load (&chunking));
  return atomic_load (&errors) == 0 ? 0 : 1;
}
