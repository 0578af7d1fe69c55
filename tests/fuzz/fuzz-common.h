/* fuzz-common.h: shared set-up for the libFuzzer harnesses
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each harness defines LLVMFuzzerTestOneInput() and calls
 * fuzz_common_init() from LLVMFuzzerInitialize(). Messages up to
 * G_LOG_LEVEL_MESSAGE are dropped (a fuzzer runs millions of sessions);
 * a warning or a critical aborts, so that a failed precondition inside the
 * library shows up as a crash with a stack trace.
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }

  return G_LOG_WRITER_HANDLED;
}

static inline void
fuzz_common_init (void)
{
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

/* A small deterministic generator, seeded from the input, for chunk sizes. */
typedef struct {
  guint32 state;
} FuzzRand;

static inline void
fuzz_rand_init (FuzzRand *rand,
                guint32   seed)
{
  rand->state = seed * 2654435761u + 0x9e3779b9u;
  if (rand->state == 0)
    rand->state = 1;
}

static inline guint32
fuzz_rand_next (FuzzRand *rand)
{
  guint32 x = rand->state;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rand->state = x;

  return x;
}

/* A number in [1, max]. */
static inline gsize
fuzz_rand_size (FuzzRand *rand,
                gsize     max)
{
  return 1 + fuzz_rand_next (rand) % max;
}
