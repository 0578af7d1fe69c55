#!/bin/bash
# Build, run the whole meson test suite, and end with one summary line
# "N passed, N failed[, N skipped]" computed from build/meson-logs/testlog.json.
# Exits non-zero if anything failed (or if no test ran at all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}

if ! bash scripts/build.sh; then
  echo "test.sh: the build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

log="$BUILDDIR/meson-logs/testlog.json"
rm -f "$log"

status=0
meson test -C "$BUILDDIR" --print-errorlogs "$@" || status=$?

if [ ! -s "$log" ]; then
  echo "test.sh: meson test wrote no $log (exit status $status)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

summary_status=0
/usr/bin/python3 - "$log" <<'PY' || summary_status=$?
import json
import sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, anything unknown
            failed += 1

summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed or passed + skipped == 0 else 0)
PY

if [ "$summary_status" -ne 0 ] || [ "$status" -ne 0 ]; then
  exit 1
fi
