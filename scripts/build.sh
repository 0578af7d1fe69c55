#!/bin/bash
# Set up (once) and build the tree in build/ ($BUILDDIR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}

bash scripts/setup.sh

if [ ! -f "$BUILDDIR/build.ninja" ]; then
  meson setup "$BUILDDIR"
fi
ninja -C "$BUILDDIR"
