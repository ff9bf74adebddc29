#!/bin/sh
# Build the Debian package and try it on this machine:
#   1. dpkg-buildpackage -b in a copy of the tree under /tmp (the tree itself
#      stays clean; uncommitted files are included); the test suite is run
#      elsewhere, so DEB_BUILD_OPTIONS=nocheck
#   2. the .deb holds the program, both manual pages, the Postfix examples,
#      the LMTP service's systemd units and /etc/mail2sms/mail2sms.conf as a
#      conffile
#   3. dpkg -i: mail2sms --version, the mail2sms user, /var/lib/mail2sms
#      (0750), the access key file (0600, owner mail2sms), the configuration
#      (0640 root:mail2sms); the shipped examples name /usr/bin/mail2sms and
#      /etc/mail2sms; --check-config names the example's placeholder ids;
#      with ids and a key the mail2sms user can check the configuration and
#      dry-run a mail; reinstalling keeps the access key
#   4. dpkg --purge: files gone, and /etc/postfix exactly as before
# Run as root on Debian 12 with dpkg-dev, debhelper and fakeroot
# (scripts/deps.sh build or test). Prints a line per check; exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n '1s/^mail2sms (\([^)]*\)).*/\1/p' "$top/debian/changelog")
work=$(mktemp -d /tmp/mail2sms-deb.XXXXXX)
failed=0
installed_by_us=0

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; failed=1; }
check() {   # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}
finish() {
    if [ $installed_by_us = 1 ] && dpkg -s mail2sms >/dev/null 2>&1; then
        dpkg --purge mail2sms >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap finish EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
    echo "FAIL - deb-test.sh needs root (it installs the package)"
    exit 1
fi
for tool in dpkg-buildpackage dh fakeroot; do
    command -v $tool >/dev/null 2>&1 || { echo "FAIL - $tool missing (scripts/deps.sh build)"; exit 1; }
done

# ------------------------------------------------------------------ build
src=$work/mail2sms-$version
mkdir -p "$src"
tar -C "$top" --exclude=./.git --exclude='./_build*' --exclude=./autom4te.cache \
    --exclude='./debian/mail2sms' --exclude='./debian/.debhelper' -cf - . |
    tar -C "$src" -xf -
echo "building mail2sms $version in $src"
start=$(date +%s)
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
        dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage -b ($(( $(date +%s) - start ))s)"
else
    tail -n 40 "$work/build.log"
    fail "dpkg-buildpackage -b"
    exit 1
fi
deb=$(ls "$work"/mail2sms_"$version"_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -f "$deb" ] || { fail "no mail2sms_${version}_*.deb built"; exit 1; }
ok "built $(basename "$deb")"

# --------------------------------------------------------------- contents
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' > "$work/contents"
for f in /usr/bin/mail2sms /usr/share/man/man8/mail2sms.8.gz \
         /usr/share/man/man5/mail2sms.conf.5.gz /etc/mail2sms/mail2sms.conf \
         /usr/share/doc/mail2sms/examples/master.cf \
         /usr/share/doc/mail2sms/examples/transport \
         /usr/share/doc/mail2sms/examples/main.cf \
         /usr/share/doc/mail2sms/examples/mail2sms.conf \
         /lib/systemd/system/mail2sms.service /lib/systemd/system/mail2sms.socket \
         /lib/systemd/system/mail2sms-track.service \
         /lib/systemd/system/mail2sms-track.timer; do
    check "package holds $f" grep -qx "$f" "$work/contents"
done
check "the service unit runs /usr/bin/mail2sms --lmtp as mail2sms" sh -c \
    "dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./lib/systemd/system/mail2sms.service |
     grep -qx 'ExecStart=/usr/bin/mail2sms --lmtp'"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/mail2sms-track.service \
    > "$work/track.service" 2>/dev/null || : > "$work/track.service"
check "the tracking service runs /usr/bin/mail2sms --track" \
    grep -qx 'ExecStart=/usr/bin/mail2sms --track -c /etc/mail2sms/mail2sms.conf' "$work/track.service"
check "the tracking service runs as mail2sms" grep -qx 'User=mail2sms' "$work/track.service"
check "the package enables the tracking timer (dh_installsystemd)" sh -c \
    "dpkg-deb -e '$deb' '$work/control' && grep -q 'mail2sms-track.timer' '$work/control/postinst'"
check "package holds the README (dh_compress may gzip it)" \
    grep -qE '^/usr/share/doc/mail2sms/README.md(.gz)?$' "$work/contents"
check "nothing under /etc/postfix in the package" sh -c "! grep -q '^/etc/postfix' '$work/contents'"
dpkg-deb -I "$deb" conffiles > "$work/conffiles" 2>/dev/null || : > "$work/conffiles"
check "/etc/mail2sms/mail2sms.conf is a conffile" grep -qx /etc/mail2sms/mail2sms.conf "$work/conffiles"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in adduser libgmime-3.0 libcurl libjson-c libconfig libxml2 libsqlite3; do
    case $depends in *"$d"*) ok "depends on $d" ;; *) fail "depends on $d" ;; esac
done
check "the manual pages are formatted" sh -c \
    "dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/share/man/man8/mail2sms.8.gz | gzip -dc | grep -q '^\.SH EXIT STATUS'"

# ---------------------------------------------------------------- install
if dpkg -s mail2sms >/dev/null 2>&1; then
    echo "mail2sms is installed already; purging it first"
    dpkg --purge mail2sms >/dev/null
fi
for p in /etc/mail2sms /var/lib/mail2sms; do
    if [ -e $p ]; then
        fail "$p exists without the package: not installing over it (purge would remove it)"
        exit 1
    fi
done
postfix_sum() {
    if [ -d /etc/postfix ]; then
        find /etc/postfix -printf '%p %m %u %g %s\n' | sort
        find /etc/postfix -type f -exec sha256sum {} + | sort
    else
        echo "no /etc/postfix"
    fi
}
postfix_sum > "$work/postfix.before"
user_before=$(getent passwd mail2sms || true)

installed_by_us=1
if dpkg -i "$deb" >"$work/install.log" 2>&1; then
    ok "dpkg -i $(basename "$deb")"
else
    cat "$work/install.log"
    fail "dpkg -i"
    exit 1
fi
check "mail2sms is /usr/bin/mail2sms" test "$(command -v mail2sms)" = /usr/bin/mail2sms
v=$(mail2sms --version 2>&1 | head -n 1)
echo "mail2sms --version: $v"
check "mail2sms --version says $version" test "${v%% (*}" = "mail2sms $version"
check "mail2sms --help names /etc/mail2sms/mail2sms.conf" sh -c \
    "mail2sms --help | grep -q 'default /etc/mail2sms/mail2sms.conf'"
echo "id mail2sms: $(id mail2sms 2>&1)"
check "system user mail2sms exists" id mail2sms
check "mail2sms is a system user (uid < 1000)" test "$(id -u mail2sms 2>/dev/null || echo 99999)" -lt 1000
if [ -z "$user_before" ]; then
    check "postinst made it with home /var/lib/mail2sms and no login shell" sh -c \
        "getent passwd mail2sms | grep -q ':/var/lib/mail2sms:/usr/sbin/nologin\$'"
else
    check "postinst kept the existing user mail2sms as it was" \
        test "$(getent passwd mail2sms)" = "$user_before"
fi

perm() { stat -c '%a %U %G' "$1" 2>/dev/null; }
echo "/var/lib/mail2sms: $(perm /var/lib/mail2sms)"
check "/var/lib/mail2sms is 750 mail2sms:mail2sms" test "$(perm /var/lib/mail2sms)" = "750 mail2sms mail2sms"
echo "/etc/mail2sms/access_key: $(perm /etc/mail2sms/access_key)"
check "access_key is 600, owner mail2sms" test "$(perm /etc/mail2sms/access_key | cut -d' ' -f1-2)" = "600 mail2sms"
check "access_key is empty" test ! -s /etc/mail2sms/access_key
echo "/etc/mail2sms/mail2sms.conf: $(perm /etc/mail2sms/mail2sms.conf)"
check "mail2sms.conf is 640 root:mail2sms" test "$(perm /etc/mail2sms/mail2sms.conf)" = "640 root mail2sms"
check "mail2sms.conf is the example configuration" cmp -s /etc/mail2sms/mail2sms.conf "$top/etc/mail2sms.conf"

# The snippets the package ships name what it installed.
ex=/usr/share/doc/mail2sms/examples
prog=$(sed -n 's/^[[:space:]]*argv=\([^[:space:]]*\).*/\1/p' $ex/master.cf)
echo "$ex/master.cf: argv=$prog"
check "examples/master.cf names /usr/bin/mail2sms" test "$prog" = /usr/bin/mail2sms
check "the program examples/master.cf names is there" test -x "$prog"
check "examples/master.cf names nothing under /usr/local" sh -c \
    "! sed 's/#.*//' $ex/master.cf | grep -q /usr/local"
check "examples/mail2sms.conf names /etc/mail2sms/access_key" \
    grep -q '^[[:space:]]*access_key_file = "/etc/mail2sms/access_key";' $ex/mail2sms.conf

as_user() { runuser -u mail2sms -- "$@"; }
out=$(as_user mail2sms --check-config 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "--check-config with the empty key file exits 78" test $rc = 78
case $out in *"access key is empty"*) ok "--check-config names the empty key" ;;
             *) fail "--check-config names the empty key" ;; esac

printf 'deb-test-access-key\n' > /etc/mail2sms/access_key
out=$(as_user mail2sms --check-config 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "--check-config with the example's ids exits 78" test $rc = 78
case $out in *"bird.workspace_id is the example's placeholder"*"bird.channel_id is the example's placeholder"*)
                 ok "--check-config names both placeholder ids" ;;
             *) fail "--check-config names both placeholder ids" ;; esac

# What the administrator does next: the workspace's and the channel's ids
# (written in place, so the file keeps its owner and mode).
sed -e 's/^\([[:space:]]*workspace_id = \)"[0-]*"/\1"2f7e3c1a-5b8d-4e0f-9a6b-1c2d3e4f5a6b"/' \
    -e 's/^\([[:space:]]*channel_id = \)"[0-]*"/\1"8c9d0e1f-2a3b-4c5d-6e7f-8091a2b3c4d5"/' \
    /etc/mail2sms/mail2sms.conf > "$work/ids.conf" && cat "$work/ids.conf" > /etc/mail2sms/mail2sms.conf
out=$(as_user mail2sms --check-config 2>&1); rc=$?
check "--check-config as mail2sms with a key exits 0" test $rc = 0
case $out in *deb-test-access-key*) fail "--check-config printed the key" ;;
             *) ok "--check-config does not print the key" ;; esac

mailfile=$work/mail.eml
printf 'From: nagios@monitoring.example.com\nTo: oncall@sms.example.com\nSubject: PROBLEM db1 disk\nMessage-ID: <deb-test@example.com>\n\n/var is 95%% full\n' > "$mailfile"
out=$(as_user mail2sms -n -f nagios@monitoring.example.com -q DEBTEST -- oncall@sms.example.com < "$mailfile" 2>&1); rc=$?
check "dry run as mail2sms exits 0" test $rc = 0
n=$(echo "$out" | grep -c '"method":"POST"')
check "dry run prints one request per alias number (2)" test "$n" = 2

dpkg -i "$deb" >"$work/reinstall.log" 2>&1
check "dpkg -i again (reinstall)" test $? = 0
check "reinstall keeps the access key" test "$(cat /etc/mail2sms/access_key)" = deb-test-access-key
check "reinstall keeps access_key 600 mail2sms" test "$(perm /etc/mail2sms/access_key | cut -d' ' -f1-2)" = "600 mail2sms"
check "reinstall keeps mail2sms.conf 640 root:mail2sms" test "$(perm /etc/mail2sms/mail2sms.conf)" = "640 root mail2sms"
check "reinstall keeps the administrator's ids" \
    grep -q 'workspace_id = "2f7e3c1a-5b8d-4e0f-9a6b-1c2d3e4f5a6b"' /etc/mail2sms/mail2sms.conf

# ------------------------------------------------------------------ purge
if dpkg --purge mail2sms >"$work/purge.log" 2>&1; then
    ok "dpkg --purge mail2sms"
    installed_by_us=0
else
    cat "$work/purge.log"
    fail "dpkg --purge mail2sms"
fi
check "/usr/bin/mail2sms is gone" test ! -e /usr/bin/mail2sms
check "/etc/mail2sms is gone" test ! -e /etc/mail2sms
check "/var/lib/mail2sms is gone" test ! -e /var/lib/mail2sms
check "no statoverride left" sh -c "! dpkg-statoverride --list /etc/mail2sms/mail2sms.conf"
postfix_sum > "$work/postfix.after"
if cmp -s "$work/postfix.before" "$work/postfix.after"; then
    ok "/etc/postfix untouched ($(grep -c . "$work/postfix.before") entries compared)"
else
    diff "$work/postfix.before" "$work/postfix.after" | head -n 20
    fail "/etc/postfix untouched"
fi

if [ $failed = 0 ]; then
    echo "debian package: all checks passed"
else
    echo "debian package: some checks FAILED"
fi
exit $failed
