#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs one libFuzzer harness for a bounded time, for the meson 'fuzz' suite:
#   run-fuzzer.sh FUZZER SEED_CORPUS WORK_DIR SECONDS
# New inputs go to WORK_DIR/corpus (the seed corpus in the source tree is
# only read), crash/leak/timeout reproducers to WORK_DIR/artifacts/.
# FUZZ_SECONDS in the environment overrides SECONDS.
set -eu
fuzzer=$1
seeds=$2
work=$3
seconds=${FUZZ_SECONDS:-$4}

mkdir -p "$work/corpus" "$work/artifacts"
exec "$fuzzer" \
  -max_total_time="$seconds" \
  -timeout=20 \
  -rss_limit_mb=2048 \
  -max_len=8192 \
  -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" \
  "$work/corpus" "$seeds"
