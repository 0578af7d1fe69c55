#!/bin/bash
# test_package.sh: the Debian packages, built and used as an operator would.
#
#   tests/package/test_package.sh            (meson test --suite package)
#
# 1. Copies the source tree (without build folders) into a temporary folder,
#    makes the source package (dpkg-source -b) and the binary packages
#    (dpkg-buildpackage -us -uc -b, DEB_BUILD_OPTIONS="nocheck noddebs
#    parallel=2": the unit tier, which dh_auto_test runs, already ran).
# 2. lintian --pedantic on the source and the binary packages: any tag not
#    overridden (debian/source/lintian-overrides, debian/*.lintian-overrides)
#    fails the test. The output is printed and kept in $VSMTP_PACKAGE_LOGDIR
#    (meson-logs/package-lintian.txt under meson).
# 3. Installs the packages into a fresh minimal Debian 12 root (mmdebstrap
#    --variant=apt, plus the clients the checks use; cached in /var/tmp for
#    a day, like ../shared/tools/fresh-machine-check), with dpkg -i and
#    apt-get -f install, and checks there:
#    - vsmtpd --version, without LD_LIBRARY_PATH or any other help;
#    - vsmtpd started as the packaged unit starts it (user vsmtpd,
#      StateDirectory= /var/lib/vsmtpd with mode 0700, UMask=0077, the
#      packaged /etc/vsmtpd/vsmtpd.conf, no capabilities) on a free
#      loopback port, with a C plugin built in the root against
#      libvsmtp-1.0-dev (tests/install/c-plugin) and a packaged Python
#      plugin (ratelimit): swaks over STARTTLS delivers into
#      /var/lib/vsmtpd/Maildir/new, the certificate is the self-signed one
#      vsmtpd made in /var/lib/vsmtpd/tls, the C plugin refuses its address;
#    - /usr/bin/python3 imports Vsmtp through GI, with the override;
#    - gjs imports Vsmtp;
#    - apt-get purge of every package leaves no file behind (the file list
#      of the root before dpkg -i against the one after the purge, without
#      apt's and dpkg's state, logs and caches).
#
# Needs root (chroot, mounts), dpkg-buildpackage, lintian and mmdebstrap
# (scripts/setup.sh installs them) and the Debian mirror; without them it
# is skipped (exit status 77) with the reason. Whatever happens, the
# daemon is stopped and proc, sys and dev are unmounted from the root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${VSMTPD_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
logdir=${VSMTP_PACKAGE_LOGDIR:-}
mirror=${VSMTP_PACKAGE_MIRROR:-http://deb.debian.org/debian}
root_cache=/var/tmp/libvsmtp-package-root.tar
apt_cache=/var/tmp/libvsmtp-package-apt
# What the checks use inside the root, besides what the packages pull in
root_tools=ca-certificates,swaks,libnet-ssleay-perl,gjs,gcc,libc6-dev,pkg-config,procps

skip () { echo "1..0 # SKIP $*"; echo "test_package: skipped: $*" >&2; exit 77; }
say () { echo "test_package: $*" >&2; }

[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, mounts, dpkg in a root)"
for tool in dpkg-buildpackage dpkg-source lintian mmdebstrap chroot mount; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done

work=$(mktemp -d /var/tmp/libvsmtp-package.XXXXXX)
root=$work/root
daemon_pid=
root_job=
lintian_job=
mounted=()
cleanup () {
  local m j
  for j in "$root_job" "$lintian_job"; do
    # the background job and what it runs (mmdebstrap, lintian)
    [ -z "$j" ] || { kill $(pgrep -P "$j") "$j" 2>/dev/null || true; wait "$j" 2>/dev/null || true; }
  done
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
  if [ -n "${KEEP_PACKAGE_WORK:-}" ]; then
    say "kept $work"
  elif ! grep -q " $work/" /proc/mounts; then
    rm -rf --one-file-system "$work"
  else
    say "left $work: something is still mounted there"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok=0
n=0
pass () { n=$((n + 1)); echo "ok $n - $*"; }
fail () { n=$((n + 1)); echo "not ok $n - $*"; ok=1; }
check () {  # check DESCRIPTION COMMAND...: a TAP line for COMMAND's status
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
inroot () {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# The root is made (or unpacked from the cache) while the packages build,
# and lintian runs while they are installed and used: the build is bound
# by the processor, the root by the network and the disk.
prepare_root () {
  if [ ! -s "$root_cache" ] || [ -n "$(find "$root_cache" -mmin +1440)" ] ||
     [ "$(cat "$root_cache.tools" 2>/dev/null)" != "$root_tools" ]; then
    say "building a minimal Debian 12 root (mmdebstrap --variant=apt)"
    rm -f "$root_cache"
    mmdebstrap --quiet --format=tar --variant=apt --include="$root_tools" \
      bookworm "$root_cache.tmp" "$mirror" || { rm -f "$root_cache.tmp"; return 1; }
    mv "$root_cache.tmp" "$root_cache"
    echo "$root_tools" > "$root_cache.tools"
  fi
  mkdir -p "$root" "$apt_cache/partial"
  tar -C "$root" -xf "$root_cache"
}

# ---- 1. build, and the root meanwhile ------------------------------------
t0=$SECONDS
mkdir -p "$work/src"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # a checkout: its files, with uncommitted changes, but nothing git ignores
  # (build folders, bench/.bin...)
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
     xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
     tar --null -T - -cf -) | tar -C "$work/src" -xf -
else
  tar -C "$src" --exclude='./build*' --exclude=./.git --exclude='./obj-*' \
      --exclude=./debian/tmp --exclude='./debian/.debhelper' -cf - . | tar -C "$work/src" -xf -
fi
prepare_root > "$work/root.log" 2>&1 &
root_job=$!
(cd "$work" && dpkg-source -b src > dpkg-source.log 2>&1) ||
  { cat "$work/dpkg-source.log" >&2; fail "dpkg-source -b"; exit 1; }
pass "dpkg-source -b: $(cd "$work" && ls ./*.dsc)"
if (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" \
      dpkg-buildpackage -us -uc -b > "$work/build.log" 2>&1); then
  pass "dpkg-buildpackage -us -uc -b ($((SECONDS - t0)) s)"
else
  tail -n 60 "$work/build.log" >&2
  fail "dpkg-buildpackage -us -uc -b"
  exit 1
fi
mapfile -t debs < <(cd "$work" && ls ./*.deb)
packages=()
for d in "${debs[@]}"; do packages+=("$(dpkg-deb -f "$work/$d" Package)"); done
say "built: ${packages[*]}"

# ---- 2. lintian, in the background ----------------------------------------
(cd "$work" && lintian --pedantic --display-info --display-experimental \
   --fail-on error,warning,info,pedantic \
   ./*.dsc ./*.changes > lintian.txt 2>&1; echo $? > lintian.status) &
lintian_job=$!

# ---- 3. a fresh Debian 12 root ----------------------------------------
if wait "$root_job"; then
  root_job=
  pass "a fresh Debian 12 root ($((SECONDS - t0)) s since the build started)"
else
  root_job=
  cat "$work/root.log" >&2
  fail "a fresh Debian 12 root (mmdebstrap, mirror $mirror)"
  exit 1
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# no service starts in the root, whatever a maintainer script asks
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
mount -t sysfs sysfs "$root/sys"; mounted+=("$root/sys")
mount --bind /dev "$root/dev"; mounted+=("$root/dev")
# downloads kept across runs
mount --bind "$apt_cache" "$root/var/cache/apt/archives"; mounted+=("$root/var/cache/apt/archives")

# The file list to compare after the purge: everything but the state of
# apt and dpkg, logs, caches, and the mount points.
file_list () {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev \
       -o -path ./var/cache/apt/archives \) -prune -o -print) |
    grep -Ev '^\./(var/lib/(apt|dpkg)/|var/cache/|var/log/|tmp/|run/|root/|etc/ld\.so\.cache$)' |
    sort
}
inroot apt-get update -qq >/dev/null 2>&1 || true
file_list > "$work/files-before"

mkdir -p "$root/debs"
for d in "${debs[@]}"; do cp "$work/$d" "$root/debs/"; done
t0=$SECONDS
inroot sh -c 'dpkg -i /debs/*.deb' > "$work/install.log" 2>&1 || true
inroot env DEBIAN_FRONTEND=noninteractive apt-get -f install -y --no-install-recommends \
  >> "$work/install.log" 2>&1 || true
if [ "$(inroot dpkg-query -W -f='${db:Status-Status}\n' "${packages[@]}" | sort -u)" = installed ]; then
  pass "dpkg -i + apt-get -f install ($((SECONDS - t0)) s)"
else
  tail -n 40 "$work/install.log" >&2
  fail "dpkg -i + apt-get -f install: not every package is installed"
fi
rm -rf "$root/debs"

# ---- checks in the root -----------------------------------------------
version=$(inroot vsmtpd --version 2>&1) || true
say "vsmtpd --version: $version"
check "vsmtpd --version (no LD_LIBRARY_PATH)" grep -q "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)" <<< "$version"
ctl_rc=0
ctl_out=$(inroot vsmtpctl status 2>&1) || ctl_rc=$?
say "vsmtpctl status without a system bus: $ctl_out"
check "vsmtpctl is installed and says when vsmtpd cannot be reached (exit 3)" \
  sh -c "[ $ctl_rc -eq 3 ] && test -f '$root/usr/share/dbus-1/system.d/org.vsmtp.Vsmtpd1.conf'"
check "the system user vsmtpd exists" sh -c "chroot '$root' getent passwd vsmtpd >/dev/null"
check "vsmtpd.service is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/vsmtpd.service"
check "vsmtpd has no rpath (libvsmtp is in the linker's own path)" \
  sh -c "! LC_ALL=C readelf -d '$root/usr/bin/vsmtpd' | grep -q 'RPATH\\|RUNPATH'"

py_out=$(inroot /usr/bin/python3 -c "
import sys, gi
gi.require_version('Vsmtp', '1.0')
from gi.repository import Vsmtp
assert 'gi.overrides.Vsmtp' in sys.modules, 'the override is not loaded'
r = Vsmtp.Reply.new(250, '2.0.0', 'Ok')
print('python', r.get_code(), sys.modules['gi.overrides.Vsmtp'].__file__)
" 2>&1) && pass "python3: import Vsmtp with its override ($py_out)" ||
  { echo "$py_out" >&2; fail "python3: import Vsmtp with its override"; }

gjs_out=$(inroot gjs -c "
imports.gi.versions.Vsmtp = '1.0';
const V = imports.gi.Vsmtp;
const r = V.Reply.new(250, '2.0.0', 'Ok');
print('gjs', r.get_code(), typeof V.Server);
" 2>&1) && pass "gjs: import Vsmtp ($gjs_out)" ||
  { echo "$gjs_out" >&2; fail "gjs: import Vsmtp"; }

# The C plugin: built in the root against libvsmtp-1.0-dev, with only
# pkg-config and the compiler; libpeas-dev for <libpeas/peas.h>, installed
# as a dependency (removed again with autoremove before the file list).
plugins=/opt/vsmtpd-test-plugins
mkdir -p "$root$plugins/example_c" "$root/root/c-plugin"
cp "$src/tests/install/c-plugin/example-c.c" "$root/root/c-plugin/"
cp "$src/tests/install/c-plugin/example_c.plugin" "$root$plugins/example_c/"
if inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     libpeas-dev > "$work/peas.log" 2>&1 &&
   inroot apt-mark auto libpeas-dev >/dev/null &&
   inroot sh -c "cc -shared -fPIC -fvisibility=hidden -o $plugins/example_c/libexample_c.so \
       /root/c-plugin/example-c.c \$(pkg-config --cflags --libs libvsmtp-1.0 libpeas-1.0)" 2>&1; then
  pass "C plugin built against libvsmtp-1.0-dev (pkg-config)"
else
  tail -n 20 "$work/peas.log" >&2
  fail "C plugin built against libvsmtp-1.0-dev (pkg-config)"
fi
check "pkg-config plugindir is vsmtpd's plugin folder" test -d \
  "$root$(inroot pkg-config --variable plugindir libvsmtp-1.0)/maildir"

# The daemon as vsmtpd.service starts it: StateDirectory=vsmtpd (mode
# 0700, owned by the user), User=vsmtpd, UMask=0077, the packaged
# configuration; plus the test's listener and plugins on the command line.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
inroot install -d -o vsmtpd -g vsmtpd -m 0700 /var/lib/vsmtpd
chroot "$root" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  STATE_DIRECTORY=/var/lib/vsmtpd HOME=/var/lib/vsmtpd \
  setpriv --reuid=vsmtpd --regid=vsmtpd --init-groups --inh-caps=-all --bounding-set=-all \
  sh -c 'umask 0077; exec "$@"' vsmtpd \
  /usr/bin/vsmtpd --config /etc/vsmtpd/vsmtpd.conf --listen "127.0.0.1:$port" \
    --hostname package-test.example --option "plugins.path=$plugins" \
    --plugin example_c --plugin ratelimit --plugin maildir \
  > "$work/vsmtpd.log" 2>&1 &
daemon_pid=$!
greeting=
for _ in $(seq 1 300); do   # up to 30 s for the greeting (a deadline, not a measure)
  greeting=$(/usr/bin/python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.recv(512).decode().strip())
s.sendall(b"QUIT\r\n")
PY
) && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ $greeting == 220* ]]; then
  pass "vsmtpd greets on 127.0.0.1:$port: $greeting"
else
  cat "$work/vsmtpd.log" >&2
  fail "vsmtpd greets on 127.0.0.1:$port"
fi
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$daemon_pid/status" 2>/dev/null || true)
vsmtpd_uid=$(inroot id -u vsmtpd)
check "vsmtpd runs as the user vsmtpd (uid $vsmtpd_uid; real, effective, saved, fs: $uid)" \
  test "$uid" = "$vsmtpd_uid $vsmtpd_uid $vsmtpd_uid $vsmtpd_uid"

swaks_out=$(inroot swaks --server 127.0.0.1 --port "$port" --tls \
  --from alice@example.org --to bob@example.org \
  --header "Subject: package test" --body "delivered by the Debian package" 2>&1) || true
if grep -q '^<~ *250 2.0.0 Ok: queued as' <<< "$swaks_out"; then
  pass "swaks over STARTTLS: 250 after DATA"
else
  echo "$swaks_out" >&2
  fail "swaks over STARTTLS: 250 after DATA"
fi
delivered=$(inroot sh -c 'grep -l "delivered by the Debian package" /var/lib/vsmtpd/Maildir/new/* 2>/dev/null' || true)
check "the message is in /var/lib/vsmtpd/Maildir/new ($delivered)" test -n "$delivered"
if [ -n "$delivered" ]; then
  check "the message file belongs to vsmtpd, mode 0600" \
    test "$(stat -c '%u %a' "$root$delivered")" = "$vsmtpd_uid 600"
  check "it was received over TLS (with ESMTPS)" grep -q 'with ESMTPS' "$root$delivered"
fi
check "the self-signed certificate is in /var/lib/vsmtpd/tls" test -s "$root/var/lib/vsmtpd/tls/cert.pem"
swaks_c=$(inroot swaks --server 127.0.0.1 --port "$port" --tls \
  --from alice@example.org --to c@example.org 2>&1) || true
if grep -q '550 5.7.1 Refused by the C plugin' <<< "$swaks_c"; then
  pass "the C plugin refuses c@example.org (550 5.7.1)"
else
  echo "$swaks_c" >&2
  fail "the C plugin refuses c@example.org (550 5.7.1)"
fi

kill -TERM "$daemon_pid" 2>/dev/null || true
daemon_status=0
wait "$daemon_pid" || daemon_status=$?
daemon_pid=
check "vsmtpd stops with status 0 on SIGTERM" test "$daemon_status" -eq 0
sed 's/^/vsmtpd: /' "$work/vsmtpd.log" >&2

# ---- purge --------------------------------------------------------------
rm -rf "$root$plugins" "$root/root/c-plugin"
if inroot env DEBIAN_FRONTEND=noninteractive apt-get purge -y "${packages[@]}" \
     > "$work/purge.log" 2>&1 &&
   inroot env DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y \
     -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false \
     >> "$work/purge.log" 2>&1; then
  pass "apt-get purge of ${packages[*]}, then autoremove --purge"
else
  tail -n 30 "$work/purge.log" >&2
  fail "apt-get purge"
fi
file_list > "$work/files-after"
leftovers=$(comm -13 "$work/files-before" "$work/files-after")
if [ -z "$leftovers" ]; then
  pass "the purge leaves no file behind"
else
  echo "$leftovers" | sed 's/^/left behind: /' >&2
  fail "the purge leaves no file behind ($(wc -l <<< "$leftovers") files)"
fi

# ---- lintian's verdict ------------------------------------------------------
wait "$lintian_job" || true
lintian_job=
lintian_rc=$(cat "$work/lintian.status" 2>/dev/null || echo "none")
grep -v '^running with root privileges' "$work/lintian.txt" | sed 's/^/lintian: /' >&2 || true
[ -z "$logdir" ] || cp "$work/lintian.txt" "$logdir/package-lintian.txt"
if [ "$lintian_rc" = 0 ]; then
  pass "lintian --pedantic: no tag left unexplained"
else
  fail "lintian --pedantic: tags above (exit status $lintian_rc)"
fi

echo "1..$n"
exit "$ok"
