#!/bin/bash
# Install the Debian 12 packages that building libvsmtp and running its tests need.
# Only missing packages are installed; apt-get update runs at most once, and only
# when something has to be installed. Uses sudo only when not running as root.
set -euo pipefail

# Installed with --no-install-recommends, so every package a build, a test
# or vsmtpd itself uses is named here, also those that another package only
# recommends (swaks' TLS support, say). scripts/preflight.sh checks that
# each capability is there and names the package below that provides it.
packages=(
  # build
  meson ninja-build pkg-config gcc libc6-dev
  libglib2.0-dev libpeas-dev libgsasl-dev libgnutls28-dev libcrypt-dev
  libcap-dev           # keeping CAP_NET_BIND_SERVICE after [server] user=
  libsystemd-dev       # sd_notify: Type=notify, reload and watchdog messages
  libidn2-dev          # SMTPUTF8: IDNA2008 domains (runtime: libidn2-0)
  libsoup-3.0-dev      # vsmtpd's [metrics] HTTP listener (runtime: libsoup-3.0-0)
  libhiredis-dev       # VsmtpRedisStore: hiredis with its GLib adapter (runtime: libhiredis0.14)
  libjson-glib-dev     # vsmtpctl --json (runtime: libjson-glib-1.0-0)
  dbus                 # dbus-daemon: the private bus of test_dbus ([server] dbus, vsmtpctl)
  libxml2-utils        # xmllint: the shipped bus policy is well-formed (test_dbus_system)
  passwd               # useradd/groupadd: the policy's users for test_dbus_system (as root)
  gobject-introspection libgirepository1.0-dev valac
  gi-docgen            # the API reference (built when found)
  # running vsmtpd: TLS for GIO, libpeas' Python 3 loader, PyGObject in it
  glib-networking libpeas-1.0-0 python3 python3-gi gir1.2-glib-2.0
  ca-certificates
  # tests: real clients
  swaks
  libnet-ssleay-perl   # swaks --tls / --tlsc (swaks only recommends it)
  libio-socket-inet6-perl # swaks over IPv6 (recommended by swaks)
  curl openssl gnutls-bin msmtp
  whois                # mkpasswd: yescrypt hashes for the passwd tests
  gsasl                # GNU SASL's client: SCRAM-SHA-256(-PLUS) against vsmtpd
  gjs
  # tests: real peer servers
  postfix              # smtp-sink, the relay tests' upstream; the LMTP tests' MTA
  testssl.sh           # the TLS profile as a scanner sees it
  nginx libnginx-mod-mail # nginx's mail proxy in front of vsmtpd, with XCLIENT
  haproxy              # PROXY protocol v1/v2 in front of vsmtpd (test_haproxy)
  prometheus           # promtool check metrics on vsmtpd's /metrics (test_metrics)
  chromium             # headless Chromium loads vsmtpd's status page (test_status_page)
  redis-server         # a private Redis shared by two vsmtpd (test_redis)
  python3-milter       # a libmilter filter written in Python (test_milter)
  opendkim rspamd      # real milters: DKIM signing, spam checks (test_milter_peers)
  python3-dkim         # verifies OpenDKIM's signatures (test_milter_peers)
  # Exim as a client: downloaded and unpacked, not installed (it conflicts
  # with postfix), by scripts/fetch-exim.sh below; these are the libraries
  # its exim4 binary links (exim4-daemon-light's Depends), and nss_wrapper,
  # which gives it its Debian-exim account in the tests
  libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libcrypt1
  libnss-wrapper
  # package tier: the Debian packages built, linted, installed in a fresh root
  dpkg-dev debhelper dh-python lintian mmdebstrap
  # sanitizer and fuzzing tiers
  libgcc-12-dev        # GCC's libasan and libubsan
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$p")
  fi
done

here=$(cd "$(dirname "$0")" && pwd)
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi

if [ ${#missing[@]} -eq 0 ]; then
  "${SUDO[@]}" bash "$here/fetch-exim.sh"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: missing packages (${missing[*]}) and no apt-get to install them" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]}" >&2
# The peer servers the tests use (postfix, nginx, haproxy, redis, opendkim,
# rspamd, prometheus) are started by each test with a configuration of its
# own; their packages would also enable and start system-wide instances on
# the default ports. A policy-rc.d that forbids every start (exit 101, see
# /usr/share/doc/init-system-helpers/README.policy-rc.d) keeps them stopped
# while they are installed; it is removed again unless it was already there.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  "${SUDO[@]}" sh -c "printf '#!/bin/sh\n# written by libvsmtp scripts/setup.sh while it installs\nexit 101\n' > $policy && chmod 755 $policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
"${SUDO[@]}" bash "$here/fetch-exim.sh"
