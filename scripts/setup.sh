#!/bin/bash
# Install the Debian 12 packages that building libvsmtp and running its tests need.
# Only missing packages are installed; apt-get update runs at most once, and only
# when something has to be installed. Uses sudo only when not running as root.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc
  libglib2.0-dev libpeas-dev glib-networking
  libgsasl-dev libgnutls28-dev libcrypt-dev
  gobject-introspection libgirepository1.0-dev valac python3-gi
  gi-docgen
  # tests: real clients and peers
  swaks curl openssl gnutls-bin python3 msmtp whois gjs
  postfix              # smtp-sink, the relay tests' upstream
  # sanitizer and fuzzing runs
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: missing packages (${missing[*]}) and no apt-get to install them" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi

echo "setup.sh: installing ${missing[*]}" >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
