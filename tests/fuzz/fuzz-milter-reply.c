/* fuzz-milter-reply.c: libFuzzer harness for the milter plugin's reply
 * parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is what a milter sends back: a stream of packets. It is fed to
 * a reader (limit 4 KiB a packet) in two pieces split where the first byte
 * says, and every reply taken is checked for what the plugin relies on:
 * strings end within the packet, a REPLYCODE is 4xx or 5xx, a header name
 * has no colon.
 */
#include "config.h"

#include <string.h>

#include "milter-protocol.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_common_init ();
  return 0;
}

static void
check (const MilterReply *r)
{
  switch (r->code)
    {
    case MILTER_REPLY_REPLYCODE:
      g_assert (r->smtp_code >= 400 && r->smtp_code < 600);
      g_assert (strlen (r->text) >= 3);
      break;
    case MILTER_REPLY_ADDHEADER:
    case MILTER_REPLY_INSHEADER:
    case MILTER_REPLY_CHGHEADER:
      g_assert (r->text[0] != '\0' && strchr (r->text, ':') == NULL);
      g_assert (r->value != NULL && strlen (r->value) < MILTER_MAX_REPLY_SIZE);
      break;
    case MILTER_REPLY_REPLBODY:
      g_assert (r->len < 4096);
      if (r->len > 0)
        g_assert (r->data != NULL);
      break;
    default:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  MilterReader *reader = milter_reader_new (4096);
  g_autoptr(GError) error = NULL;
  MilterReply reply;
  size_t split = size > 0 ? data[0] % (size + 1) : 0;
  gboolean failed = FALSE;

  milter_reader_feed (reader, data, split);
  while (milter_reader_next (reader, &reply, &error))
    check (&reply);
  if (error != NULL)
    failed = TRUE;
  if (!failed)
    {
      milter_reader_feed (reader, data + split, size - split);
      while (milter_reader_next (reader, &reply, &error))
        check (&reply);
    }
  milter_reader_free (reader);
  return 0;
}
