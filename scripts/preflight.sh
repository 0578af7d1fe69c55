#!/bin/bash
# Checks, once, each capability the test tiers rely on, so that a tool the
# set-up should have installed shows up as one line naming it and its Debian
# package, instead of as failing (or silently skipped) tests.
#
#   scripts/preflight.sh [TIER...]    (default: every tier)
#
# Tiers: unit integration interop package sanitizer fuzz (see scripts/test.sh).
# Prints nothing and exits 0 when everything is there; else prints one line
#   preflight: missing CAPABILITY (Debian package PACKAGE)
# for the first missing capability and exits 1. scripts/setup.sh installs
# every package named here.
set -uo pipefail

tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit integration interop package sanitizer fuzz)

wants () {   # wants TIER...: whether any of these tiers is selected
  local t w
  for t in "$@"; do
    for w in "${tiers[@]}"; do
      [ "$t" = "$w" ] && return 0
    done
  done
  return 1
}

fail () {    # fail CAPABILITY PACKAGE
  echo "preflight: missing $1 (Debian package $2)"
  exit 1
}

have () { command -v "$1" >/dev/null 2>&1; }

py=/usr/bin/python3
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

# Building, every tier.
have meson || fail "meson" meson
have ninja || fail "ninja" ninja-build
have pkg-config || fail "pkg-config" pkg-config
pkg-config --exists libsoup-3.0 || fail "libsoup 3 (vsmtpd's [metrics])" libsoup-3.0-dev
pkg-config --exists json-glib-1.0 || fail "json-glib (vsmtpctl --json)" libjson-glib-dev
have cc || fail "a C compiler (cc)" gcc
have g-ir-scanner || fail "the GObject introspection scanner (g-ir-scanner)" gobject-introspection
have valac || fail "the Vala compiler (valac)" valac
[ -x "$py" ] || fail "Debian's Python ($py)" python3
"$py" -c 'import gi' 2>/dev/null || fail "PyGObject for $py (import gi)" python3-gi
"$py" -c 'import gi; gi.require_version("Gio", "2.0"); from gi.repository import Gio' 2>/dev/null ||
  fail "the Gio introspection data for $py" gir1.2-glib-2.0
"$py" -c 'from gi.repository import Gio; import sys; sys.exit(0 if Gio.TlsBackend.get_default().supports_tls() else 1)' 2>/dev/null ||
  fail "a GIO TLS backend (glib-networking's GnuTLS module)" glib-networking
[ -e "/usr/lib/$arch/libpeas-1.0/loaders/libpython3loader.so" ] ||
  fail "libpeas' Python 3 loader" libpeas-1.0-0

if wants package; then
  have dpkg-buildpackage || fail "dpkg-buildpackage" dpkg-dev
  have dh || fail "debhelper (dh)" debhelper
  have dh_python3 || fail "dh_python3" dh-python
  have gi-docgen || fail "gi-docgen (libvsmtp-doc)" gi-docgen
  have lintian || fail "lintian" lintian
  have mmdebstrap || fail "mmdebstrap" mmdebstrap
fi

if wants integration sanitizer; then
  have swaks || fail "swaks" swaks
  perl -MNet::SSLeay -e 1 2>/dev/null || fail "swaks with TLS (Perl's Net::SSLeay)" libnet-ssleay-perl
  have curl || fail "curl" curl
  have openssl || fail "openssl" openssl
  have gnutls-cli || fail "gnutls-cli" gnutls-bin
  have msmtp || fail "msmtp" msmtp
  have dbus-daemon || fail "dbus-daemon (the private bus of test_dbus)" dbus
  have xmllint || fail "xmllint (the bus policy, test_dbus_system)" libxml2-utils
  have promtool || fail "promtool (Prometheus' checker, test_metrics)" prometheus
  have chromium || fail "chromium (headless, test_status_page)" chromium
  have gsasl || fail "gsasl (GNU SASL's client, SCRAM)" gsasl
  have mkpasswd || fail "mkpasswd (yescrypt hashes)" whois
  have gjs || fail "gjs" gjs
  "$py" -c 'import Milter' 2>/dev/null || fail "python3-milter for $py (import Milter)" python3-milter
fi

if wants interop sanitizer; then
  [ -x /usr/sbin/smtp-sink ] || fail "Postfix's smtp-sink (/usr/sbin/smtp-sink)" postfix
  [ -x /usr/sbin/postfix ] || fail "Postfix (/usr/sbin/postfix, a private instance delivering through LMTP)" postfix
  id postfix >/dev/null 2>&1 || fail "the postfix user (Postfix's mail_owner)" postfix
  have testssl || fail "testssl.sh (testssl)" testssl.sh
  [ -x /usr/sbin/nginx ] || fail "nginx (/usr/sbin/nginx)" nginx
  [ -e /usr/lib/nginx/modules/ngx_mail_module.so ] ||
    fail "nginx's mail proxy module (ngx_mail_module.so)" libnginx-mod-mail
  [ -x /usr/sbin/haproxy ] || fail "HAProxy (/usr/sbin/haproxy)" haproxy
  have redis-server || fail "redis-server (a private Redis for test_redis)" redis-server
  [ -x /usr/sbin/opendkim ] || fail "OpenDKIM (/usr/sbin/opendkim)" opendkim
  have rspamd || fail "rspamd" rspamd
  "$py" -c 'import dkim' 2>/dev/null || fail "python3-dkim for $py (import dkim)" python3-dkim
  [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/sendmail ] || fail "Postfix (/usr/sbin/postfix, sendmail)" postfix
  ls /usr/lib/*/libnss_wrapper.so >/dev/null 2>&1 || fail "nss_wrapper (libnss_wrapper.so, for the unpacked Exim)" libnss-wrapper
  exim="${VSMTP_EXIM_DIR:-/var/cache/vsmtp-test/exim}/exim4"
  [ -x "$exim" ] || fail "Exim unpacked as $exim (scripts/fetch-exim.sh, run by scripts/setup.sh)" exim4-daemon-light
  ! ldd "$exim" | grep -q 'not found' ||
    fail "the libraries of $exim ($(ldd "$exim" | awk '/not found/ { print $1 }' | tr '\n' ' '))" exim4-daemon-light
fi

if wants sanitizer; then
  for lib in libasan.so libubsan.so; do
    [ -e "$(cc -print-file-name=$lib)" ] || fail "GCC's sanitizer runtime ($lib)" "libgcc-12-dev"
  done
fi

if wants fuzz; then
  have clang || fail "clang" clang
  probe=$(mktemp -d)
  trap 'rm -rf "$probe"' EXIT
  echo 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }' |
    clang -fsanitize=fuzzer,address,undefined -x c - -o "$probe/probe" 2>/dev/null ||
    fail "clang's libFuzzer and sanitizer runtimes" libclang-rt-14-dev
fi

exit 0
