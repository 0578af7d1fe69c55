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

static void
test_follow_hostname (Fixture *fixture, gconstpointer data)
{
  /* the same snapshot twice (the second session takes the replies the
   * first made), then a new host name: a new snapshot, new replies */
  run_as (fixture, "mx.test.example");
  run_as (fixture, "mx.test.example");
  g_object_set (fixture->server, "hostname", "mx.other.example", NULL);
  run_as (fixture, "mx.other.example");
  run_as (fixture, "mx.other.example");
  g_object_set (fixture->server, "hostname", "mx.test.example", NULL);
  run_as (fixture, "mx.test.example");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/settings-replies/follow-hostname", Fixture, NULL,
              fixture_setup, test_follow_hostname, fixture_teardown);
  return g_test_run ();
}
