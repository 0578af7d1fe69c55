#!/bin/bash
# The CI test script. Three runs, each in its own build tree:
#
#   1. normal: build/ (scripts/build.sh), the whole meson test suite;
#   2. asan:   build-asan/, -Db_sanitize=address,undefined, the whole suite
#              again, UBSan fatal, leaks detected (see below for exceptions);
#   3. fuzz:   build-fuzz/, CC=clang -Dfuzzing=true, the 'fuzz' suite, each
#              libFuzzer harness for FUZZ_SECONDS (default 20) seconds.
#
# Arguments are passed to the meson test of runs 1 and 2 (e.g. --suite unit;
# run 2 then checks leaks in every test it runs).
# VSMTP_TEST_ASAN=0 or VSMTP_TEST_FUZZ=0 skips a run; the fuzz run is skipped
# (with a note) when clang or its libFuzzer runtime is missing.
#
# Ends with one line "N passed, N failed[, N skipped]" summed over every run,
# computed from each tree's meson-logs/testlog*.json, and exits non-zero if
# anything failed (or if no test ran at all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}
ASAN_BUILDDIR=${ASAN_BUILDDIR:-build-asan}
FUZZ_BUILDDIR=${FUZZ_BUILDDIR:-build-fuzz}
VSMTP_TEST_ASAN=${VSMTP_TEST_ASAN:-1}
VSMTP_TEST_FUZZ=${VSMTP_TEST_FUZZ:-1}
export FUZZ_SECONDS=${FUZZ_SECONDS:-20}

logs=()        # testlog files to count
extra_failed=0 # failures that left no testlog (a build that failed...)
status=0
test_env=()    # VAR=value for the next run_meson_test

note () { echo "test.sh: $*" >&2; }

# run_meson_test NAME BUILDDIR SAVED_LOG [meson test arguments...]
# Runs meson test (with test_env) and keeps its testlog.json as SAVED_LOG.
run_meson_test () {
  local name=$1 dir=$2 saved=$3
  shift 3
  local log="$dir/meson-logs/testlog.json"
  local rc=0 arg prev=
  for arg in "$@"; do   # with --setup NAME, meson writes testlog-NAME.json
    [ "$prev" = --setup ] && log="$dir/meson-logs/testlog-$arg.json"
    prev=$arg
  done
  rm -f "$log" "$saved"
  env "${test_env[@]}" meson test -C "$dir" --print-errorlogs "$@" || rc=$?
  if [ ! -s "$log" ]; then
    note "$name: meson test wrote no $log (exit status $rc)"
    extra_failed=$((extra_failed + 1))
    return
  fi
  [ "$log" = "$saved" ] || mv "$log" "$saved"
  logs+=("$saved")
  [ "$rc" -eq 0 ] || status=1
}

SECONDS=0

# 1. The normal build and test run.
if bash scripts/build.sh; then
  run_meson_test normal "$BUILDDIR" "$BUILDDIR/meson-logs/testlog.json" "$@"
else
  note "the build failed"
  extra_failed=$((extra_failed + 1))
fi
note "normal run done after ${SECONDS}s"

# 2. AddressSanitizer + UndefinedBehaviorSanitizer, with the default compiler.
#    The 'asan' test setup (top meson.build) sets ASAN_OPTIONS (leaks
#    detected, tests/lsan.supp), UBSAN_OPTIONS (fatal) and
#    VSMTP_TEST_SANITIZER. The daemon the integration tests start is this
#    tree's ASan build (the test environment points VSMTPD at it).
#    Two groups of tests run without leak detection, with the ASan runtime
#    preloaded: the GI tests (the ASan libvsmtp inside /usr/bin/python3 and
#    gjs, which are not built with ASan) and test_plugins (its vsmtpd loads
#    Python plugins; libpeas unloads the Python loader at exit, so the
#    interpreter's one-time allocations are reported from unknown frames
#    that no suppression can match), and test_auth (the passwd plugin's
#    crypt_r(): ASan's interceptor only works when libcrypt is loaded before
#    the plugin, so it is preloaded, which needs the runtime preloaded too).
#    Memory errors are still fatal there.
if [ "$VSMTP_TEST_ASAN" != 0 ]; then
  t0=$SECONDS
  if { [ -f "$ASAN_BUILDDIR/build.ninja" ] ||
       meson setup "$ASAN_BUILDDIR" -Db_sanitize=address,undefined -Db_lundef=false; } &&
     ninja -C "$ASAN_BUILDDIR"; then
    if [ $# -gt 0 ]; then
      run_meson_test asan "$ASAN_BUILDDIR" "$ASAN_BUILDDIR/meson-logs/testlog-asan.json" \
        --setup asan --no-rebuild "$@"
    else
      # shellcheck disable=SC2207
      groups=($(meson introspect "$ASAN_BUILDDIR" --tests | /usr/bin/python3 -c '
import json, sys
leaks, no_leaks = [], []
for t in json.load(sys.stdin):
    if any(s.split(":")[-1] == "gi" for s in t["suite"]) or t["name"] in ("test_plugins", "test_auth"):
        no_leaks.append(t["name"])
    else:
        leaks.append(t["name"])
print(",".join(leaks), ",".join(no_leaks) or "-")'))
      IFS=, read -r -a leak_tests <<< "${groups[0]}"
      run_meson_test asan "$ASAN_BUILDDIR" "$ASAN_BUILDDIR/meson-logs/testlog-asan.json" \
        --setup asan --no-rebuild "${leak_tests[@]}"
      if [ "${groups[1]}" != - ]; then
        IFS=, read -r -a no_leak_tests <<< "${groups[1]}"
        test_env=(
          "LD_PRELOAD=$(cc -print-file-name=libasan.so):$(cc -print-file-name=libubsan.so):$(cc -print-file-name=libcrypt.so.1)"
          "ASAN_OPTIONS=detect_leaks=0:strict_init_order=1:detect_stack_use_after_return=1"
          "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
          "G_SLICE=always-malloc"
          "VSMTP_TEST_SANITIZER=address,undefined"
        )
        run_meson_test asan-no-leaks "$ASAN_BUILDDIR" \
          "$ASAN_BUILDDIR/meson-logs/testlog-asan-no-leaks.json" \
          --no-rebuild --timeout-multiplier 3 "${no_leak_tests[@]}"
        test_env=()
      fi
    fi
  else
    note "the ASan build failed"
    extra_failed=$((extra_failed + 1))
  fi
  note "asan run done after $((SECONDS - t0))s"
fi

# 3. The libFuzzer harnesses, with clang: only their targets are built.
if [ "$VSMTP_TEST_FUZZ" != 0 ]; then
  t0=$SECONDS
  probe=$(mktemp -d)
  if ! command -v clang >/dev/null ||
     ! echo 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }' |
       clang -fsanitize=fuzzer,address,undefined -x c - -o "$probe/probe" 2>/dev/null; then
    note "fuzz run skipped: clang with libFuzzer (clang, libclang-rt-dev) is not installed"
  elif { [ -f "$FUZZ_BUILDDIR/build.ninja" ] ||
         CC=clang meson setup "$FUZZ_BUILDDIR" -Dfuzzing=true -Dintrospection=disabled; } &&
       fuzzers=$(meson introspect "$FUZZ_BUILDDIR" --targets |
                 /usr/bin/python3 -c 'import json, sys; print(" ".join(t["filename"][0] for t in json.load(sys.stdin) if t["name"].startswith("fuzz-")))') &&
       ninja -C "$FUZZ_BUILDDIR" $(for f in $fuzzers; do realpath --relative-to="$FUZZ_BUILDDIR" "$f"; done); then
    run_meson_test fuzz "$FUZZ_BUILDDIR" "$FUZZ_BUILDDIR/meson-logs/testlog-fuzz.json" \
      --suite fuzz --no-rebuild --num-processes "$(nproc)"
  else
    note "the fuzz build failed"
    extra_failed=$((extra_failed + 1))
  fi
  rm -rf "$probe"
  note "fuzz run done after $((SECONDS - t0))s"
fi

note "total ${SECONDS}s"

summary_status=0
/usr/bin/python3 - "$extra_failed" "${logs[@]}" <<'PY' || summary_status=$?
import json
import sys

passed = failed = skipped = 0
failed += int(sys.argv[1])
for path in sys.argv[2:]:
    p = f = s = 0
    with open(path, encoding="utf-8") as log:
        for line in log:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                p += 1
            elif result == "SKIP":
                s += 1
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, anything unknown
                f += 1
    print(f"test.sh: {path}: {p} passed, {f} failed, {s} skipped", file=sys.stderr)
    passed += p
    failed += f
    skipped += s

summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
sys.stderr.flush()
print(summary)
sys.exit(1 if failed or passed + skipped == 0 else 0)
PY

if [ "$summary_status" -ne 0 ] || [ "$status" -ne 0 ] || [ "$extra_failed" -ne 0 ]; then
  exit 1
fi
