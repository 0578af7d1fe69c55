#!/bin/sh
# bench/run.sh: benchmark vsmtpd against smtp-sink, aiosmtpd and Haraka.
#
# Installs what is missing (Debian packages, Haraka from npm into
# bench/.haraka), builds vsmtpd in release mode and the pipelining client,
# runs the interleaved rounds and writes bench/results.md.
# Extra arguments go to bench.py, e.g. --quick (one short round, under a
# minute), --rounds 5, --only vsmtpd-discard,smtp-sink, --skip memory,many. Environment: BENCH_BUILDDIR (default: build-bench),
# BENCH_WORKDIR (default: /tmp/vsmtpd-bench).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(dirname "$BENCH_DIR")
BUILD_DIR=${BENCH_BUILDDIR:-$SRC_DIR/build-bench}
WORK_DIR=${BENCH_WORKDIR:-/tmp/vsmtpd-bench}
HARAKA_HOME=$BENCH_DIR/.haraka
HARAKA_VERSION=${BENCH_HARAKA_VERSION:-3.3.4}
PORT_BASE=32500

say () { printf 'bench: %s\n' "$*" >&2; }

# --- packages ---------------------------------------------------------------
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=
have_pkg () { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
for pkg in postfix python3-aiosmtpd gcc meson ninja-build pkg-config \
           libglib2.0-dev libpeas-dev glib-networking openssl; do
  have_pkg "$pkg" || missing="$missing $pkg"
done
# node may come from elsewhere (NodeSource's nodejs carries npm itself)
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  say "installing:$missing"
  # postfix asks a question on installation: "No configuration" is enough,
  # only smtp-sink and smtp-source are used
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

# --- Haraka -------------------------------------------------------------------
if [ ! -x "$HARAKA_HOME/node_modules/Haraka/bin/haraka" ]; then
  say "installing Haraka $HARAKA_VERSION into $HARAKA_HOME"
  mkdir -p "$HARAKA_HOME"
  npm install --prefix "$HARAKA_HOME" --no-audit --no-fund --loglevel=error \
      "Haraka@$HARAKA_VERSION" >&2
fi
# a minimal instance: accepts every recipient, discards every message, STARTTLS
inst=$HARAKA_HOME/instance
if [ ! -f "$inst/config/connection.ini" ]; then
  rm -rf "$inst"
  node "$HARAKA_HOME/node_modules/Haraka/bin/haraka" -i "$inst" >/dev/null
fi
cat > "$inst/config/smtp.ini" <<EOF
listen=127.0.0.1:$((PORT_BASE + 4))
inactivity_timeout=600
EOF
printf 'tls\nbench_sink\n' > "$inst/config/plugins"
echo bench.example.org > "$inst/config/me"
printf '[main]\nkey=tls_key.pem\ncert=tls_cert.pem\n' > "$inst/config/tls.ini"
cp "$SRC_DIR/tests/data/test-key.pem" "$inst/config/tls_key.pem"
cp "$SRC_DIR/tests/data/test-cert.pem" "$inst/config/tls_cert.pem"
cat > "$inst/plugins/bench_sink.js" <<'EOF'
// bench_sink: for benchmarks only; accepts every recipient, and "queues"
// every message by answering OK without storing it.
exports.hook_rcpt = function (next) { next(OK); };
exports.hook_queue = function (next) { next(OK); };
EOF

# --- builds -------------------------------------------------------------------
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$SRC_DIR" --buildtype=release >&2
fi
ninja -C "$BUILD_DIR" >&2
mkdir -p "$BENCH_DIR/.bin"
cc -O2 -Wall -pthread -o "$BENCH_DIR/.bin/smtp-pipeline" "$BENCH_DIR/smtp-pipeline.c"

# --- run ----------------------------------------------------------------------
# 10,000 connections need more descriptors than the usual 1,024 (bench.py
# raises its own soft limit and the servers inherit it; the hard limit must allow it)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
exec /usr/bin/python3 "$BENCH_DIR/bench.py" \
  --vsmtpd "$BUILD_DIR/daemon/vsmtpd" \
  --bindir "$BENCH_DIR/.bin" \
  --haraka-home "$HARAKA_HOME" \
  --cert "$SRC_DIR/tests/data/test-cert.pem" \
  --key "$SRC_DIR/tests/data/test-key.pem" \
  --workdir "$WORK_DIR" \
  --port-base "$PORT_BASE" \
  "$@"
