#!/bin/bash
# Exim 4 for the interop tests (tests/integration/test_exim.py), without
# installing it: Exim and Postfix conflict as Debian packages (both provide
# mail-transport-agent) and the tests need Postfix installed. This script
# downloads exim4-daemon-light, exim4-base and exim4-config with
# `apt-get download`, unpacks them with `dpkg-deb -x` into a private folder,
#
#   ${VSMTP_EXIM_DIR:-/var/cache/vsmtp-test/exim}
#     root/       the unpacked packages (root/usr/sbin/exim4, ...)
#     exim4       a copy of root/usr/sbin/exim4 without the set-uid bit
#     VERSION     the package version unpacked
#
# and checks that every library the binary needs is installed (setup.sh
# installs them as ordinary packages). Run by scripts/setup.sh as root (or
# through sudo); does nothing when the candidate version is already there.
set -euo pipefail

dest=${VSMTP_EXIM_DIR:-/var/cache/vsmtp-test/exim}
pkgs=(exim4-daemon-light exim4-base exim4-config)

candidate () {
  apt-cache policy exim4-daemon-light 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

version=$(candidate)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update
  version=$(candidate)
fi
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  echo "fetch-exim.sh: no exim4-daemon-light package known to apt" >&2
  exit 1
fi

if [ -x "$dest/exim4" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
chown _apt "$work" 2>/dev/null || true   # apt-get download writes as the _apt user
(cd "$work" && apt-get download -q "${pkgs[@]/%/=$version}")

mkdir -p "$(dirname "$dest")"
new="$dest.new"
rm -rf "$new"
mkdir -p "$new/root"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$new/root"
done
# The tests run this copy as an ordinary user (see test_exim.py): without
# the set-uid bit, so that it never becomes root and the dynamic loader
# honours LD_PRELOAD (nss_wrapper).
install -m 0755 "$new/root/usr/sbin/exim4" "$new/exim4"

missing=$(ldd "$new/exim4" | awk '/not found/ { print $1 }')
if [ -n "$missing" ]; then
  echo "fetch-exim.sh: exim4 needs libraries that are not installed: $missing" >&2
  exit 1
fi

echo "$version" > "$new/VERSION"
rm -rf "$dest"
mv "$new" "$dest"
echo "fetch-exim.sh: Exim $version unpacked in $dest" >&2
