#!/bin/sh
# bench/callgrind.sh: instructions per message of vsmtpd with the discard
# plugin, counted by callgrind (deterministic: immune to the load of a
# shared machine, unlike msg/s and CPU time).
#
#   bench/callgrind.sh [BUILDDIR] [MESSAGES] [PORT] [MODE]
#
# Runs vsmtpd from BUILDDIR (default: build-bench; a release build is what
# the figures in results.md use) under callgrind twice: once without
# traffic, once while MESSAGES (default 2000) messages of 2,048 bytes are
# sent over 10 sessions; prints the difference divided by MESSAGES. MODE is
# the load, as in bench/run.sh: "reuse" (default, the figures of round 2b:
# smtp-source -d, connections reused), "new" (smtp-source, a new connection
# per message) or "pipeline"
# (bench/.bin/smtp-pipeline, built here if missing: MAIL, RCPT and DATA in
# one write). The profiles stay in $TMPDIR for callgrind_annotate. The
# interleaving of the 10 sessions (how many commands one read brings, how
# many main loop iterations there are) varies from run to run: figures of
# one build spread over about 1k instructions per message (2% here), so
# compare medians of three runs or more.
#
# WORKERS=N (default 1) runs vsmtpd with `[server] workers=N`: callgrind
# follows the exec'd workers and the totals of every process are summed.
#
# PLUGIN=maildir (default: discard) runs the maildir plugin instead, into
# MAILDIR (default: a fresh folder in /dev/shm, tmpfs, else in $TMPDIR),
# emptied before and removed after each run; the script checks that every
# message reached new/. Each thread gets its own profile
# (--separate-threads=yes: callgrind.PID-01 is the main thread, which runs
# the sessions; the maildir workers are -02 and up), and the main thread's
# instructions per message are printed too, e.g.
#   callgrind_annotate --inclusive=yes $TMPDIR/vsmtpd-callgrind.N/2000/callgrind.PID-01
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$SRC_DIR/build-bench}
MESSAGES=${2:-2000}
PORT=${3:-32590}
WORKERS=${WORKERS:-1}
PLUGIN=${PLUGIN:-discard}
MODE=${4:-reuse}
case $MODE in
  new) source_opts= ;;
  reuse) source_opts=-d ;;
  pipeline)
    pipeline=$SRC_DIR/bench/.bin/smtp-pipeline
    if [ ! -x "$pipeline" ]; then
      mkdir -p "$SRC_DIR/bench/.bin"
      cc -O2 -Wall -pthread -o "$pipeline" "$SRC_DIR/bench/smtp-pipeline.c"
    fi ;;
  *) echo "MODE must be new, reuse or pipeline" >&2; exit 2 ;;
esac
OUT=${TMPDIR:-/tmp}/vsmtpd-callgrind.$$
mkdir -p "$OUT"
case $PLUGIN in
  discard) plugin_opts= ;;
  maildir)
    if [ -z "${MAILDIR:-}" ]; then
      if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        MAILDIR=/dev/shm/vsmtpd-callgrind.$$
      else
        MAILDIR=$OUT/Maildir
      fi
    fi
    plugin_opts="--option maildir.path=$MAILDIR"
    trap 'rm -rf "$MAILDIR"' EXIT ;;
  *) echo "PLUGIN must be discard or maildir" >&2; exit 2 ;;
esac

run () {
  n=$1
  mkdir -p "$OUT/$n"
  [ "$PLUGIN" != maildir ] || { rm -rf "$MAILDIR"; mkdir -p "$MAILDIR"; }
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --trace-children=yes --separate-threads=yes \
    --callgrind-out-file="$OUT/$n/callgrind.%p" -q \
    "$BUILD_DIR/daemon/vsmtpd" --listen "127.0.0.1:$PORT" --hostname bench.example.org \
    --option "plugins.enabled=$PLUGIN" $plugin_opts --option server.max-connections=0 \
    --option server.max-connections-per-client=0 --option "server.workers=$WORKERS" \
    >"$OUT/vsmtpd.$n.log" 2>&1 &
  pid=$!
  i=0
  until started=$(grep -c " started as " "$OUT/vsmtpd.$n.log" 2>/dev/null);
        [ "${started:-0}" -ge "$WORKERS" ]; do
    i=$((i + 1))
    [ $i -lt 240 ] || { echo "vsmtpd did not start: $OUT/vsmtpd.$n.log" >&2; kill $pid; exit 1; }
    sleep 0.5
  done
  if [ "$n" -gt 0 ] && [ "$MODE" = pipeline ]; then
    "$pipeline" 127.0.0.1 "$PORT" 10 "$n" 2048 600 data >/dev/null
  elif [ "$n" -gt 0 ]; then
    # shellcheck disable=SC2086
    smtp-source -s 10 -m "$n" -l 2048 -f bench@example.org -t sink@example.org \
      -M bench.example.org $source_opts "127.0.0.1:$PORT"
  fi
  kill -TERM $pid
  wait $pid || true
  sleep 1   # workers write their profiles as they exit
  if [ "$PLUGIN" = maildir ]; then
    delivered=$(find "$MAILDIR/new" -type f | wc -l)
    [ "$delivered" -eq "$n" ] || echo "warning: $delivered of $n messages in $MAILDIR/new" >&2
  fi
  sed -n 's/^totals: //p' "$OUT/$n"/callgrind.* | awk '{ sum += $1 } END { print sum }'
}

# the main thread's profiles (-01; a process without threads has no suffix)
main_thread () {
  for f in "$OUT/$1"/callgrind.*; do
    case $f in *-01|*[0-9][0-9][0-9]) sed -n 's/^totals: //p' "$f" ;; esac
  done | awk '{ sum += $1 } END { print sum }'
}

idle=$(run 0)
busy=$(run "$MESSAGES")
echo "instructions ($PLUGIN, $MODE): $idle without traffic, $busy with $MESSAGES messages"
echo "per message: $(( (busy - idle) / MESSAGES ))"
echo "main thread per message: $(( ($(main_thread "$MESSAGES") - $(main_thread 0)) / MESSAGES ))"
echo "profiles: $OUT/0/ $OUT/$MESSAGES/ (one callgrind.PID per process)"
