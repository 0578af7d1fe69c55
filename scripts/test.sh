#!/bin/bash
# The test command (README, CI). Runs the test tiers in turn, times each,
# and ends with one line "N passed, N failed[, N skipped]" counting every
# tier, from meson's testlog*.json; exits non-zero if anything failed.
# Before it, each failed test is named again with the last 40 lines of its
# output (a CI log kept only by its end still says what failed).
#
#   scripts/test.sh [--quick] [--tier TIER]... [--skip TIER[=REASON]]...
#                   [MESON TEST ARGUMENTS...]
#
# Tiers, in this order (each a meson suite, or a rerun of suites):
#   unit         build/       GTest unit tests (suite 'unit')
#   integration  build/       vsmtpd and in-process servers driven by real
#                             clients: smtplib, swaks, curl, openssl,
#                             gnutls-cli, msmtp, PyGObject, gjs; the
#                             installed tree (suite 'integration')
#   interop      build/       against real peer software: Postfix's
#                             smtp-sink as the relay's upstream, testssl.sh
#                             against the TLS profile, Exim 4 and a private
#                             Postfix as clients (suite 'interop')
#   sanitizer    build-asan/  unit + integration + interop again under
#                             AddressSanitizer and UBSan (leaks detected;
#                             see below), minus suite 'no-sanitizer'
#   fuzz         build-fuzz/  each libFuzzer harness for FUZZ_SECONDS
#                             (default 20) seconds (suite 'fuzz')
#   package      build/       the Debian packages built from a copy of the
#                             tree, linted, installed into a fresh Debian 12
#                             root and used there (suite 'package'; needs
#                             root and the mirror, else skipped); run after
#                             interop, with the build/ tiers
#
# Without arguments every tier runs (what CI runs). --quick: unit and
# integration, for day-to-day work. --tier TIER (repeatable) picks tiers.
# --skip TIER=REASON skips a tier that cannot apply where the suite runs (a
# package build without network peers, say): it is reported with the reason
# and counted as one skipped test, never dropped silently. Other arguments go
# to each tier's `meson test` (test names, --repeat...): a tier none of whose
# tests they select is reported and not run.
#
# First scripts/setup.sh installs what is missing, then scripts/preflight.sh
# checks that every tool the selected tiers need is there: a missing one
# stops the run with one line naming it and its Debian package.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}
ASAN_BUILDDIR=${ASAN_BUILDDIR:-build-asan}
FUZZ_BUILDDIR=${FUZZ_BUILDDIR:-build-fuzz}
export FUZZ_SECONDS=${FUZZ_SECONDS:-20}

all_tiers=(unit integration interop package sanitizer fuzz)
tiers=()
declare -A skip_reason=()
meson_args=()

usage () {
  sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

is_tier () {
  local t
  for t in "${all_tiers[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}

while [ $# -gt 0 ]; do
  case $1 in
    --quick) tiers+=(unit integration) ;;
    --tier) [ $# -ge 2 ] && is_tier "$2" || usage; tiers+=("$2"); shift ;;
    --tier=*) is_tier "${1#--tier=}" || usage; tiers+=("${1#--tier=}") ;;
    --skip) [ $# -ge 2 ] || usage; arg=$2; shift
            is_tier "${arg%%=*}" || usage
            reason=${arg#*=}; [ "$reason" != "$arg" ] || reason="asked for with --skip"
            skip_reason[${arg%%=*}]=$reason ;;
    --skip=*) arg=${1#--skip=}; is_tier "${arg%%=*}" || usage
              reason=${arg#*=}; [ "$reason" != "$arg" ] || reason="asked for with --skip"
              skip_reason[${arg%%=*}]=$reason ;;
    -h|--help) usage ;;
    *) meson_args+=("$1") ;;
  esac
  shift
done
[ ${#tiers[@]} -gt 0 ] || tiers=("${all_tiers[@]}")

selected () {   # selected TIER: chosen and not skipped
  local t
  [ -z "${skip_reason[$1]+x}" ] || return 1
  for t in "${tiers[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}

note () { echo "test.sh: $*" >&2; }

logs=()           # testlog files to count
declare -A tier_of_log=()
extra_failed=0    # failures that left no testlog (a build that failed...)
extra_skipped=0   # tiers skipped with a reason
status=0
test_env=()       # VAR=value for the next run_meson_test
declare -A tier_seconds=()

# run_meson_test TIER BUILDDIR SAVED_LOG [meson test arguments...]
# Runs meson test (with test_env) and keeps its testlog.json as SAVED_LOG.
run_meson_test () {
  local tier=$1 dir=$2 saved=$3
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
    note "$tier: meson test wrote no $log (exit status $rc)"
    extra_failed=$((extra_failed + 1))
    status=1
    return
  fi
  [ "$log" = "$saved" ] || mv "$log" "$saved"
  logs+=("$saved")
  tier_of_log[$saved]=$tier
  [ "$rc" -eq 0 ] || status=1
}

# any_tests DIR [meson test arguments...]: whether they select a test
any_tests () {
  local dir=$1
  shift
  meson test -C "$dir" --no-rebuild --list "$@" 2>/dev/null | grep ' / ' >/dev/null
}

build_failed () {
  note "$1"
  extra_failed=$((extra_failed + 1))
  status=1
}

summary () {
  /usr/bin/python3 - "$extra_failed" "$extra_skipped" "$@" <<'PY'
import json
import sys

TAIL = 40
failed = int(sys.argv[1])
skipped = int(sys.argv[2])
passed = 0
failures = []  # (tier, test, result, duration, the tail of its output)
for arg in sys.argv[3:]:
    tier, path = arg.split("=", 1)
    p = f = s = 0
    with open(path, encoding="utf-8") as log:
        for line in log:
            line = line.strip()
            if not line:
                continue
            test = json.loads(line)
            result = test.get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                p += 1
            elif result == "SKIP":
                s += 1
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, anything unknown
                f += 1
                out = (test.get("stdout") or "").splitlines()
                failures.append((tier, test.get("name", "?"), result,
                                 test.get("duration", 0), out[-TAIL:]))
    print(f"test.sh: {tier}: {p} passed, {f} failed, {s} skipped ({path})",
          file=sys.stderr)
    passed += p
    failed += f
    skipped += s

# Each failed test again, by name, with the end of its output: CI may keep
# only the last lines of a run, and this is what tells what failed.
for tier, name, result, duration, tail in failures:
    print(f"test.sh: {tier}: FAILED {name}: {result} after {duration:.1f}s;"
          f" its last {len(tail)} lines:", file=sys.stderr)
    for out in tail:
        print(f"test.sh:   | {out}", file=sys.stderr)
for tier, name, result, duration, tail in failures:
    print(f"test.sh: failed: {tier} / {name} ({result})", file=sys.stderr)

line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
sys.stderr.flush()
print(line)
sys.exit(1 if failed or passed + skipped == 0 else 0)
PY
}

SECONDS=0

# Set-up, then the preflight for the tiers that will run.
run_tiers=()
for t in "${all_tiers[@]}"; do selected "$t" && run_tiers+=("$t"); done
if ! bash scripts/setup.sh; then
  note "scripts/setup.sh failed"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ${#run_tiers[@]} -gt 0 ] && ! preflight=$(bash scripts/preflight.sh "${run_tiers[@]}"); then
  echo "$preflight" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

for t in "${all_tiers[@]}"; do
  if [ -n "${skip_reason[$t]+x}" ]; then
    note "tier $t skipped: ${skip_reason[$t]}"
    extra_skipped=$((extra_skipped + 1))
  fi
done

# unit, integration, interop: the normal build tree.
if selected unit || selected integration || selected interop || selected package; then
  if bash scripts/build.sh; then
    for t in unit integration interop package; do
      selected "$t" || continue
      t0=$SECONDS
      if any_tests "$BUILDDIR" --suite "$t" "${meson_args[@]}"; then
        run_meson_test "$t" "$BUILDDIR" "$BUILDDIR/meson-logs/testlog-tier-$t.json" \
          --no-rebuild --suite "$t" "${meson_args[@]}"
      else
        note "tier $t: no test selected by: ${meson_args[*]}"
      fi
      tier_seconds[$t]=$((SECONDS - t0))
      note "tier $t done in ${tier_seconds[$t]}s"
    done
  else
    build_failed "the build in $BUILDDIR failed"
  fi
fi

# sanitizer: AddressSanitizer + UndefinedBehaviorSanitizer, with the default
#   compiler. The 'asan' test setup (top meson.build) sets ASAN_OPTIONS
#   (leaks detected, tests/lsan.supp), UBSAN_OPTIONS (fatal) and
#   VSMTP_TEST_SANITIZER. The daemon the integration tests start is this
#   tree's ASan build (the test environment points VSMTPD at it).
#   Some tests run without leak detection, with the ASan runtime preloaded:
#   the GI tests (the ASan libvsmtp inside /usr/bin/python3 and gjs, which
#   are not built with ASan) and the tests in suite 'embeds-python'
#   (tests/integration/meson.build): their vsmtpd loads Python plugins or
#   lists their keys, and libpeas unloads the Python loader at exit (or
#   vsmtpd exits at start-up with the interpreter still up), so the
#   interpreter's one-time allocations are reported from unknown frames that
#   no suppression can match; and the passwd plugin's crypt_r() (test_auth,
#   test_scram) needs libcrypt loaded before the plugin for ASan's
#   interceptor, so it is preloaded, which needs the runtime preloaded too.
#   Memory errors are still fatal there. Tests in suite 'no-sanitizer' (building and
#   installing the tree, reading docs) are not rerun.
if selected sanitizer; then
  t0=$SECONDS
  if { [ -f "$ASAN_BUILDDIR/build.ninja" ] ||
       meson setup "$ASAN_BUILDDIR" -Db_sanitize=address,undefined -Db_lundef=false; } &&
     ninja -C "$ASAN_BUILDDIR"; then
    # shellcheck disable=SC2207
    groups=($(meson introspect "$ASAN_BUILDDIR" --tests | /usr/bin/python3 -c '
import json, sys
leaks, no_leaks = [], []
for t in json.load(sys.stdin):
    suites = {s.split(":")[-1] for s in t["suite"]}
    if not suites & {"unit", "integration", "interop"} or "no-sanitizer" in suites:
        continue
    if "gi" in suites or "embeds-python" in suites:
        no_leaks.append(t["name"])
    else:
        leaks.append(t["name"])
print(",".join(leaks) or "-", ",".join(no_leaks) or "-")'))
    IFS=, read -r -a leak_tests <<< "${groups[0]}"
    IFS=, read -r -a no_leak_tests <<< "${groups[1]}"
    if [ "${groups[0]}" != - ] && any_tests "$ASAN_BUILDDIR" "${leak_tests[@]}" "${meson_args[@]}"; then
      run_meson_test sanitizer "$ASAN_BUILDDIR" "$ASAN_BUILDDIR/meson-logs/testlog-tier-sanitizer.json" \
        --setup asan --no-rebuild "${leak_tests[@]}" "${meson_args[@]}"
    fi
    if [ "${groups[1]}" != - ] && any_tests "$ASAN_BUILDDIR" "${no_leak_tests[@]}" "${meson_args[@]}"; then
      test_env=(
        "LD_PRELOAD=$(cc -print-file-name=libasan.so):$(cc -print-file-name=libubsan.so):$(cc -print-file-name=libcrypt.so.1)"
        "ASAN_OPTIONS=detect_leaks=0:strict_init_order=1:detect_stack_use_after_return=1"
        "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
        "G_SLICE=always-malloc"
        "VSMTP_TEST_SANITIZER=address,undefined"
      )
      run_meson_test sanitizer "$ASAN_BUILDDIR" \
        "$ASAN_BUILDDIR/meson-logs/testlog-tier-sanitizer-no-leaks.json" \
        --no-rebuild --timeout-multiplier 3 "${no_leak_tests[@]}" "${meson_args[@]}"
      test_env=()
    fi
  else
    build_failed "the ASan build in $ASAN_BUILDDIR failed"
  fi
  tier_seconds[sanitizer]=$((SECONDS - t0))
  note "tier sanitizer done in ${tier_seconds[sanitizer]}s"
fi

# fuzz: the libFuzzer harnesses, with clang: only their targets are built.
if selected fuzz; then
  t0=$SECONDS
  if { [ -f "$FUZZ_BUILDDIR/build.ninja" ] ||
       CC=clang meson setup "$FUZZ_BUILDDIR" -Dfuzzing=true -Dintrospection=disabled; } &&
     fuzzers=$(meson introspect "$FUZZ_BUILDDIR" --targets |
               /usr/bin/python3 -c 'import json, sys; print(" ".join(t["filename"][0] for t in json.load(sys.stdin) if t["name"].startswith("fuzz-")))') &&
     ninja -C "$FUZZ_BUILDDIR" $(for f in $fuzzers; do realpath --relative-to="$FUZZ_BUILDDIR" "$f"; done); then
    run_meson_test fuzz "$FUZZ_BUILDDIR" "$FUZZ_BUILDDIR/meson-logs/testlog-tier-fuzz.json" \
      --suite fuzz --no-rebuild --num-processes "$(nproc)"
  else
    build_failed "the fuzz build in $FUZZ_BUILDDIR failed"
  fi
  tier_seconds[fuzz]=$((SECONDS - t0))
  note "tier fuzz done in ${tier_seconds[fuzz]}s"
fi

times=()
for t in "${all_tiers[@]}"; do
  [ -n "${tier_seconds[$t]+x}" ] && times+=("$t ${tier_seconds[$t]}s")
done
note "times: ${times[*]:-none}; total ${SECONDS}s"

summary_args=()
for log in "${logs[@]}"; do summary_args+=("${tier_of_log[$log]}=$log"); done
summary "${summary_args[@]}"
summary_status=$?

if [ "$summary_status" -ne 0 ] || [ "$status" -ne 0 ] || [ "$extra_failed" -ne 0 ]; then
  exit 1
fi
