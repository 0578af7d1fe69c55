/* test-settings-replies.c: the greeting and the HELO reply, made once per
 * settings snapshot (vsmtp-settings-replies.c), follow the host name
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vsmtp.h"
#include "vsmtp-test-harness.h"

static void
run_as (Fixture    *fixture,
        const char *hostname)
{
  g_autofree char *greeting = g_strdup_printf ("220 %s ESMTP vsmtpd\r\n", hostname);
  g_autofree char *helo = g_strdup_printf ("250 %s\r\n", hostname);
  const char * const script[] = {
    NULL, greeting,
    "HELO client.example\r\n", helo,
    "HELO again.example\r\n", helo,
    "QUIT\r\n", "221 2.0.0",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
}

/* the EHLO reply: the host name, then the extensions, the same whether
 * made for this text or taken from an earlier session */
static void
run_ehlo_as (Fixture    *fixture,
             const char *hostname)
{
  g_autofree char *greeting = g_strdup_printf ("220 %s ESMTP vsmtpd\r\n", hostname);
  g_autofree char *ehlo = g_strdup_printf ("250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                           "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                           "250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n"
                                           "250 LIMITS RCPTMAX=1000\r\n", hostname);
  g_autofree char *helo = g_strdup_printf ("250 %s\r\n", hostname);
  const char * const script[] = {
    NULL, greeting,
    "EHLO client.example\r\n", ehlo,
    "EHLO again.example\r\n", ehlo,
    "HELO client.example\r\n", helo,
    "EHLO client.example\r\n", ehlo,
    "QUIT\r\n", "221 2.0.0",
    "", "<closed>",
    NULL, NULL
  };

  run_client (fixture, script);
}

typedef void (*RunAs) (Fixture *fixture, const char *hostname);

/* the same snapshot twice (the second session takes the replies the first
 * made), then a new host name: a new snapshot, new replies; then back */
static void
run_over_hostnames (Fixture *fixture,
                    RunAs    run)
{
  run (fixture, "mx.test.example");
  run (fixture, "mx.test.example");
  g_object_set (fixture->server, "hostname", "mx.other.example", NULL);
  run (fixture, "mx.other.example");
  run (fixture, "mx.other.example");
  g_object_set (fixture->server, "hostname", "mx.test.example", NULL);
  run (fixture, "mx.test.example");
}

static void
test_follow_hostname (Fixture *fixture, gconstpointer data)
{
  run_over_hostnames (fixture, run_as);
}

static void
test_ehlo_follows_hostname (Fixture *fixture, gconstpointer data)
{
  run_over_hostnames (fixture, run_ehlo_as);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/settings-replies/follow-hostname", Fixture, NULL,
              fixture_setup, test_follow_hostname, fixture_teardown);
  g_test_add ("/settings-replies/ehlo-follows-hostname", Fixture, NULL,
              fixture_setup, test_ehlo_follows_hostname, fixture_teardown);
  return g_test_run ();
}
