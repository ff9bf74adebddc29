#!/bin/sh
# Install what mail2sms needs from Debian's packages. Run as root on
# Debian 12; safe to run again.
#   deps.sh build   what building (from source or as a Debian package with
#                   dpkg-buildpackage) and the demo need
#   deps.sh test    everything the full test run needs (default); building
#                   the package without DEB_BUILD_OPTIONS=nocheck runs that
#                   full suite, so it needs these too
set -eu
what=${1:-test}
export DEBIAN_FRONTEND=noninteractive
pkgs="build-essential autoconf automake pkg-config ca-certificates
      libgmime-3.0-dev libcurl4-openssl-dev libjson-c-dev libconfig-dev
      libxml2-dev libsqlite3-dev libpq-dev libglib2.0-dev check python3
      dpkg-dev debhelper fakeroot"
if [ "$what" = test ]; then
    # Postfix for the end-to-end tests (they start a private instance of
    # their own; the system instance is left unconfigured), valgrind and
    # clang for memory checks and fuzzing, Debian tools for the package.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # PostgreSQL for the shared state store's tests (they run a private
    # cluster of their own with initdb and pg_ctl; the cluster the package
    # makes is left alone).
    # python3-prometheus-client: a real parser of --metrics' output.
    pkgs="$pkgs time valgrind postfix groff-base clang libclang-rt-14-dev
          openssl postgresql python3-prometheus-client"
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
