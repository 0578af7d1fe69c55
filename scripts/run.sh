#!/bin/bash
# Build, then run vsmtpd in the foreground on its embedded defaults
# (127.0.0.1:2525, maildir under ~/.local/state/vsmtpd/Maildir). Extra
# arguments are passed to vsmtpd.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}

bash scripts/build.sh
exec "$BUILDDIR/daemon/vsmtpd" "$@"
