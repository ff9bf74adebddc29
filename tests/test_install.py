#!/usr/bin/env python3
"""What installing and testing leave on the machine.

`make install DESTDIR=...`: the examples under $(docdir)/examples name the
program and the configuration where this install put them (the build's own
$(bindir) and $(sysconfdir): /usr/bin and /etc for the Debian package's
layout, /usr/local for a default ./configure), and `make uninstall` takes
them away again.

The end-to-end tests' pipe user (tests/postfix_instance.py): a throw-away
account of the test run's own, never the package's "mail2sms", gone again
when the test process ends, also after a failure or SIGTERM (root only).
"""

import os
import pwd
import grp
import re
import signal
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

TESTS = os.path.join(SRCDIR, "tests")


def make_install(destdir, *overrides):
    r = subprocess.run(["make", "-s", "-C", BUILDDIR, "install", "DESTDIR=" + destdir]
                       + list(overrides), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=300)
    eq(r.returncode, 0, "make install %s: %s" % (" ".join(overrides), r.stdout[-2000:]))


def installed(destdir, suffix):
    """The paths (without destdir) of the installed files ending in suffix."""
    out = []
    for root, dirs, files in os.walk(destdir):
        for f in files:
            p = os.path.join(root, f)
            if p.endswith(suffix):
                out.append(p[len(destdir):])
    return sorted(out)


def argv_program(master_cf):
    with open(master_cf, encoding="utf-8") as f:
        m = re.search(r"^\s+argv=(\S+)", f.read(), re.M)
    check(m, "no argv= in %s" % master_cf)
    return m.group(1)


def check_examples(destdir, bindir, confdir):
    """The installed examples name bindir/mail2sms (which is installed) and
    confdir's key file; no setting (comments aside) names /usr/local unless
    that is where it went."""
    prog = bindir + "/mail2sms"
    check(os.access(destdir + prog, os.X_OK), "%s not installed" % prog)
    masters = installed(destdir, "/examples/master.cf")
    eq(len(masters), 1, "one examples/master.cf: %r" % masters)
    eq(argv_program(destdir + masters[0]), prog, "argv= of the installed master.cf")
    with open(destdir + masters[0], encoding="utf-8") as f:
        text = f.read()
    check("%s/mail2sms.conf" % confdir in text, "master.cf does not name the default "
          "configuration %s/mail2sms.conf" % confdir)
    confs = installed(destdir, "/examples/mail2sms.conf")
    eq(len(confs), 1, "one examples/mail2sms.conf: %r" % confs)
    with open(destdir + confs[0], encoding="utf-8") as f:
        conf = f.read()
    m = re.search(r'^\s*access_key_file\s*=\s*"([^"]*)";', conf, re.M)
    check(m, "no access_key_file in the example configuration")
    eq(m.group(1), confdir + "/access_key", "access_key_file of the installed example")
    with open(destdir + confdir + "/mail2sms.conf", encoding="utf-8") as f:
        eq(f.read(), conf, "the installed configuration is the example")
    if not bindir.startswith("/usr/local"):
        for p in masters + confs:
            with open(destdir + p, encoding="utf-8") as f:
                live = [l for l in f if "/usr/local" in l.split("#", 1)[0]]
            eq(live, [], "%s: settings that name /usr/local" % p)


@case("make install (default prefix): the examples name the installed program and files")
def _():
    d = tmpdir()
    make_install(d)
    progs = [p for p in installed(d, "/bin/mail2sms")]
    eq(len(progs), 1, "one installed program: %r" % progs)
    bindir = os.path.dirname(progs[0])
    # The default configuration the installed program reads.
    r = subprocess.run([d + progs[0], "--help"], stdout=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    m = re.search(r"default (/\S+)/mail2sms\.conf", r.stdout)
    check(m, "--help names no default configuration: %r" % r.stdout)
    check_examples(d, bindir, m.group(1))
    r = subprocess.run(["make", "-s", "-C", BUILDDIR, "uninstall", "DESTDIR=" + d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=300)
    eq(r.returncode, 0, "make uninstall: %s" % r.stdout[-2000:])
    eq(installed(d, ""), [], "files left by make uninstall")


@case("make install prefix=/usr sysconfdir=/etc (the package's layout): /usr/bin, /etc")
def _():
    d = tmpdir()
    make_install(d, "prefix=/usr", "sysconfdir=/etc")
    check_examples(d, "/usr/bin", "/etc/mail2sms")


@case("make install bindir=/opt/m2s/bin sysconfdir=/opt/m2s/etc: followed too")
def _():
    d = tmpdir()
    make_install(d, "bindir=/opt/m2s/bin", "sysconfdir=/opt/m2s/etc")
    check_examples(d, "/opt/m2s/bin", "/opt/m2s/etc/mail2sms")


@case("make install: the LMTP service's systemd units, with this build's paths")
def _():
    d = tmpdir()
    make_install(d, "bindir=/opt/m2s/bin", "localstatedir=/opt/m2s/var")
    units = [u for u in installed(d, ".service") + installed(d, ".socket")
             if "-track" not in u]
    eq([os.path.basename(u) for u in units], ["mail2sms.service", "mail2sms.socket"], "units")
    with open(d + units[0], encoding="utf-8") as f:
        svc = f.read()
    check(re.search(r"^ExecStart=/opt/m2s/bin/mail2sms --lmtp$", svc, re.M), "ExecStart")
    check(re.search(r"^ReadWritePaths=/opt/m2s/var/lib/mail2sms ", svc, re.M), "state_dir")
    check(re.search(r"^User=mail2sms$", svc, re.M), "the user")
    for opt in ("NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
                "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        check(re.search(r"^%s$" % re.escape(opt), svc, re.M), "hardening: " + opt)
    with open(d + units[1], encoding="utf-8") as f:
        sock = f.read()
    check(re.search(r"^ListenStream=/run/mail2sms/lmtp$", sock, re.M), "ListenStream")
    check(re.search(r"^SocketMode=0660$", sock, re.M), "SocketMode")


@case("make install: the tracking timer and service, with the installed paths")
def _():
    d = tmpdir()
    make_install(d, "bindir=/opt/m2s/bin", "sysconfdir=/opt/m2s/etc",
                 "systemdsystemunitdir=/opt/m2s/units")
    eq(installed(d, ".timer"), ["/opt/m2s/units/mail2sms-track.timer"], "timer")
    with open(d + "/opt/m2s/units/mail2sms-track.service", encoding="utf-8") as f:
        svc = f.read()
    m = re.search(r"^ExecStart=(\S+) --track -c (\S+)$", svc, re.M)
    check(m, "no ExecStart with --track: %s" % svc)
    eq(m.groups(), ("/opt/m2s/bin/mail2sms", "/opt/m2s/etc/mail2sms/mail2sms.conf"), "ExecStart")
    check(re.search(r"^User=mail2sms$", svc, re.M), "not run as mail2sms")
    check(re.search(r"^ConditionFileNotEmpty=/opt/m2s/etc/mail2sms/access_key$", svc, re.M),
          "the condition names the installed key file")
    with open(d + "/opt/m2s/units/mail2sms-track.timer", encoding="utf-8") as f:
        timer = f.read()
    check(re.search(r"^OnUnitActiveSec=1min$", timer, re.M), "not every minute: %s" % timer)
    check(re.search(r"^WantedBy=timers.target$", timer, re.M), "not wanted by timers.target")


# ------------------------------------------------------------ the pipe user

CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, %(tests)r)
    import postfix_instance as pfi
    how = sys.argv[1]

    class Stub:
        port, config_dir, maillog = 0, "-", "-"
        def start(self): pass
        def stop(self): pass
        def postconf(self, *a): return "stub"
        def log(self): return ""

    def prepare():
        etc = os.path.join(%(srcdir)r, "etc")
        entry, _, _, user = pfi.shipped(etc)
        p = pfi.prepare_run("m2s-usertest-", user, %(bin)r)
        print("USER %%s %%s" %% (user, entry.split("user=")[1].split()[0]), flush=True)
        if how == "raise-in-prepare":
            import shutil
            shutil.rmtree(p["base"])
            raise RuntimeError("a failure while setting up")
        return p

    def main():
        if how == "fail":
            raise AssertionError("a failing case")
        if how == "sigterm":
            print("READY", flush=True)
            time.sleep(60)
        sys.exit(0)

    pfi.run_module(prepare, lambda: open(os.devnull), lambda P, fake: Stub(), main)
""")


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def run_child(how):
    """Run the helper in a child process; returns (user, user= of the entry,
    output) once the child has ended."""
    script = CHILD % {"tests": TESTS, "srcdir": SRCDIR, "bin": BIN}
    p = subprocess.Popen([sys.executable, "-c", script, how], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    lines = []
    user = entry_user = None
    for line in p.stdout:
        lines.append(line)
        if line.startswith("USER "):
            user, entry_user = line.split()[1:3]
            check(user_exists(user), "%s does not exist while the test runs" % user)
        if line.startswith("READY"):
            p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    check(user, "the child named no user: %s" % "".join(lines))
    return user, entry_user, "".join(lines)


def user_case(how, title):
    @case("pipe user: %s" % title)
    def _():
        if os.geteuid() != 0:
            skip("not root: the test user is created only as root")
        before = user_exists("mail2sms")
        user, entry_user, out = run_child(how)
        check(user.startswith("m2st-") and user != "mail2sms", "test user %r" % user)
        eq(entry_user, user, "user= of the sms entry the tests use")
        deadline = time.time() + 5
        while user_exists(user) and time.time() < deadline:
            time.sleep(0.1)
        check(not user_exists(user), "%s left behind: %s" % (user, out))
        check(not group_exists(user), "group %s left behind" % user)
        eq(user_exists("mail2sms"), before, "the tests created or removed a mail2sms user")
        check(not [d for d in os.listdir("/tmp") if d.startswith("m2s-usertest-")],
              "a m2s-usertest-* directory is left in /tmp")


user_case("pass", "removed after the tests pass")
user_case("fail", "removed after a test fails")
user_case("raise-in-prepare", "removed after the set-up fails")
user_case("sigterm", "removed after SIGTERM (make check's timeout)")


if __name__ == "__main__":
    main()
