"""A private, throw-away Postfix instance for the end-to-end test.

Everything lives under one temporary directory: the configuration directory
(main.cf, master.cf, the transport map), the queue, the data directory and
the log file (maillog_file, written by postlogd(8)).  The instance listens
for SMTP on 127.0.0.1 only, on a free port, runs no service chrooted, and is
addressed with "-c DIR" / MAIL_CONFIG=DIR by every Postfix command, so it
neither needs nor touches /etc/postfix or a system Postfix that may be
running (different queue, data directory, pid and lock files and port).

It needs the Debian postfix package and root: the Postfix master must start
as root, and pipe(8) switches to the unprivileged user named in master.cf.
That user is not the shipped "mail2sms" (the package's postinst creates that
one, and a test must leave the machine as it found it) but a throw-away
system account of the test run's own, "m2st-PID-RANDOM": created by
prepare_run() and removed when the test process exits, also after a
failure or SIGTERM (atexit).

Several instances can run side by side (two relays, tests/test_relays_postfix.py):
each has its own base directory (configuration, queue, data directory, log),
its own port, syslog_name and myhostname, and its own pipe user
(test_user_name("b") is "m2st-PID-RANDOM-b"); run_module() takes a list of
prepared runs and a list of instances and starts, stops and cleans up each.

Python 3 standard library only.
"""

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import smtplib
import subprocess
import sys
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"
POSTMAP = "/usr/sbin/postmap"
SENDMAIL = "/usr/sbin/sendmail"


def available():
    """None when a private instance can be started here, else the reason."""
    for prog in (POSTFIX, POSTCONF, POSTQUEUE, POSTSUPER, POSTMAP, SENDMAIL):
        if not os.access(prog, os.X_OK):
            return "Postfix is not installed (%s missing; apt-get install postfix)" % prog
    if os.geteuid() != 0:
        return "not root: a Postfix instance must be started as root"
    return None


def unmet(binary):
    """None when a test can run here with binary, else the reason."""
    why = available()
    if not why and not os.path.exists(binary):
        why = "no binary at %s (run make first)" % binary
    return why


TEST_USER_PREFIX = "m2st-"
_test_user = None


def test_user_name(tag=""):
    """The name of this process's throw-away pipe user (not yet created):
    "m2st-PID-RANDOM", unique on the machine, at most 32 characters. With a
    tag (a few letters or digits, one per instance when several run side by
    side), "m2st-PID-RANDOM-TAG"."""
    global _test_user
    if _test_user is None:
        _test_user = "%s%d-%s" % (TEST_USER_PREFIX, os.getpid(), secrets.token_hex(3))
    if not tag:
        return _test_user
    if not re.fullmatch(r"[a-z0-9]{1,8}", tag):
        raise ValueError("bad test user tag %r" % tag)
    return "%s-%s" % (_test_user, tag)


def shipped(etc, user=None):
    """What etc/ ships: the master.cf entry of "sms", the main.cf
    parameters, the transport map rows, and the pipe user.  The entry's
    user= (mail2sms) is replaced by the test run's throw-away account,
    user or test_user_name(), which is the user returned; prepare_run()
    creates it."""
    entry = read_master_entry(os.path.join(etc, "master.cf"), "sms")
    user = user or test_user_name()
    entry, n = re.subn(r"\buser=[^\s:]+", lambda _: "user=" + user, entry)
    if n != 1:
        raise ValueError("no user= in the shipped sms entry:\n" + entry)
    return (entry, read_main_params(os.path.join(etc, "main.cf")),
            read_transport(os.path.join(etc, "transport")), user)


def prepare_run(prefix, pipe_user, binary):
    """Everything of one test run outside Postfix: the pipe user's account,
    a directory /tmp/PREFIX* it can reach, a binary it can run (a copy when
    the build tree is out of its reach, as under /root), the directory for
    mail2sms's configuration, and a sink for mail that comes back to the
    sender: a pipe service script that keeps each message as
    sink/QUEUE_ID.eml. Returns a dict of paths ("base", "uid", "gid",
    "bin", "m2s", "sink", "sink_script")."""
    # Files the Postfix daemons and the pipe user read must not depend on
    # the caller's umask.
    os.umask(0o022)
    if pipe_user.startswith(TEST_USER_PREFIX):
        uid, gid = add_test_user(pipe_user)
    else:
        uid, gid = ensure_user(pipe_user)
    base = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(base, 0o755)
    p = {"base": base, "uid": uid, "gid": gid, "bin": binary}
    if not runs_as(pipe_user, ["/usr/bin/test", "-x", binary]):
        p["bin"] = os.path.join(base, "mail2sms")
        shutil.copy2(binary, p["bin"])
        os.chmod(p["bin"], 0o755)
    p["m2s"] = os.path.join(base, "m2s")
    os.makedirs(p["m2s"])
    p["sink"] = os.path.join(base, "sink")
    os.makedirs(p["sink"])
    os.chown(p["sink"], uid, gid)
    p["sink_script"] = os.path.join(base, "sink.sh")
    with open(p["sink_script"], "w") as f:
        f.write("#!/bin/sh\n# sink DIR QUEUE_ID: keep one message as DIR/QUEUE_ID.eml\n"
                "umask 022\n"
                "cat > \"$1/$2.tmp\" && mv \"$1/$2.tmp\" \"$1/$2.eml\"\n")
    os.chmod(p["sink_script"], 0o755)
    return p


def give_to_pipe_user(p, conf):
    """The mail2sms configuration, key and state directory under p["m2s"]
    owned by the pipe user, as docs/postfix.md has administrators do:
    configuration 0640, key 0600."""
    for root, dirs, files in os.walk(p["m2s"]):
        for name in dirs + files:
            os.chown(os.path.join(root, name), p["uid"], p["gid"])
    os.chown(p["m2s"], p["uid"], p["gid"])
    os.chmod(conf, 0o640)
    key = os.path.join(p["m2s"], "access_key")
    if os.path.exists(key):
        os.chmod(key, 0o600)


_ports_given = set()


def free_port():
    """A free TCP port on 127.0.0.1, never one this process was given before
    (two instances must not get the same one)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def ensure_user(name):
    """Return (uid, gid) of the account name; create it as a system account
    without a home directory or login shell when it does not exist."""
    import pwd
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run([shutil.which("useradd") or "/usr/sbin/useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def add_test_user(name):
    """Create the throw-away system account name (its own group, no home,
    no login shell) and have it removed when this process exits. Returns
    (uid, gid)."""
    import pwd
    if not name.startswith(TEST_USER_PREFIX):
        raise ValueError("not a test user name: %r" % name)
    subprocess.run([shutil.which("useradd") or "/usr/sbin/useradd", "--system",
                    "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    atexit.register(remove_test_user, name)
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def _pids_of_uid(uid):
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(pid))
                        break
        except (OSError, ValueError, IndexError):
            pass
    return pids


def remove_test_user(name):
    """Remove a throw-away account of add_test_user() and its group. Its
    processes (pipe(8) children of a stopped instance) get a few seconds to
    end; what is left of them then is killed by pid, as only the test ran
    anything as this account. Silent when the account is gone already."""
    import grp
    import pwd
    if not name.startswith(TEST_USER_PREFIX):
        return
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        uid = None
    userdel = shutil.which("userdel") or "/usr/sbin/userdel"
    for attempt in range(75 if uid is not None else 0):     # about 15 s
        if subprocess.run([userdel, name], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            break
        if attempt == 50:
            for pid in _pids_of_uid(uid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.2)
    try:
        grp.getgrnam(name)
        subprocess.run([shutil.which("groupdel") or "/usr/sbin/groupdel", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except KeyError:
        pass


def runs_as(user, argv):
    """True when argv runs successfully as user (e.g. the binary is reachable
    through every parent directory)."""
    try:
        r = subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser",
                            "-u", user, "--"] + argv,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def read_master_entry(path, service):
    """The master.cf entry for service (its first line and the indented
    continuation lines) from a master.cf snippet, as one string."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if lines:
                if line[:1] in (" ", "\t") and line.strip() and \
                        not line.strip().startswith("#"):
                    lines.append(line)
                    continue
                if line.strip().startswith("#") and line[:1] in (" ", "\t"):
                    continue
                break
            if re.match(r"^%s\s" % re.escape(service), line):
                lines.append(line)
    if not lines:
        raise ValueError("no '%s' entry in %s" % (service, path))
    return "\n".join(lines)


def read_main_params(path):
    """name -> value for every (uncommented) parameter in a main.cf snippet."""
    params = {}
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[:1] in (" ", "\t") and cur:
                params[cur] += " " + line.strip()
                continue
            m = re.match(r"^([A-Za-z0-9_]+)\s*=\s*(.*)$", line)
            if not m:
                raise ValueError("%s: cannot parse line %r" % (path, line))
            cur = m.group(1)
            params[cur] = m.group(2).strip()
    return params


def read_transport(path):
    """(key, value) pairs of a transport map snippet."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, value = line.split(None, 1)
            out.append((key, value.strip()))
    return out


# Services every instance needs; all unchained (5th column "n").
_MASTER_BASE = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """One private Postfix instance under base (an existing directory).
    name tells side-by-side instances apart in syslog_name and in what the
    tests print."""

    def __init__(self, base, hostname="mx.m2s-test.invalid", name=None):
        self.base = base
        self.name = name
        self.config_dir = os.path.join(base, "postfix")
        self.queue_dir = os.path.join(base, "queue")
        self.data_dir = os.path.join(base, "data")
        self.maillog = os.path.join(base, "maillog")
        self.hostname = hostname
        self.port = None
        self.started = False
        self.env = dict(os.environ)
        self.env["MAIL_CONFIG"] = self.config_dir
        self._master_extra = []
        self._transport = []
        self._params = {}

    # ------------------------------------------------------------ setup
    def add_service(self, entry):
        """Append a master.cf entry (text, possibly several lines)."""
        self._master_extra.append(entry.rstrip("\n"))

    def add_transport(self, key, value):
        self._transport.append((key, value))

    def set_params(self, **params):
        self._params.update(params)

    def write_config(self):
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(d, exist_ok=True)
        # Postfix wants its data directory owned by the mail owner; the
        # queue directory and the configuration by root.
        import pwd
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.data_dir, 0o700)
        self.port = free_port()
        params = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "maillog_file": self.maillog,
            # maillog_file must start with one of these (default /var).
            "maillog_file_prefixes": self.base,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "command_directory": "/usr/sbin",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "shlib_directory": "/usr/lib/postfix",
            "meta_directory": "/etc/postfix",
            "syslog_name": "postfix-m2stest" + ("-" + self.name if self.name else ""),
            "myhostname": self.hostname,
            "mydomain": "m2s-test.invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
            # Nothing ever leaves this machine: mail for a domain that the
            # transport map does not know is returned at once.
            "default_transport": "error:no remote delivery from the test instance",
            "relay_transport": "error:no relay from the test instance",
            "transport_maps": "hash:" + os.path.join(self.config_dir, "transport"),
            # Deferred mail waits until the test flushes the queue, so that
            # "still queued" is a stable observation, not a race with a retry.
            "minimal_backoff_time": "600s",
            "maximal_backoff_time": "1200s",
            "queue_run_delay": "600s",
            "delay_warning_time": "0h",
            "smtpd_banner": "$myhostname ESMTP",
            "message_size_limit": "10240000",
        }
        params.update(self._params)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# private instance for the mail2sms end-to-end test\n")
            for k, v in params.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(_MASTER_BASE.format(listen="127.0.0.1:%d" % self.port))
            for e in self._master_extra:
                f.write(e + "\n")
        tpath = os.path.join(self.config_dir, "transport")
        with open(tpath, "w") as f:
            for k, v in self._transport:
                f.write("%s\t%s\n" % (k, v))
        self._run([POSTMAP, "-c", self.config_dir, tpath])

    def _run(self, argv, input=None, check=True, timeout=60):
        r = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("%s exited %d: %s%s" % (
                " ".join(argv), r.returncode,
                r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace")))
        return r

    def postconf(self, *args):
        return self._run([POSTCONF, "-c", self.config_dir] + list(args)) \
            .stdout.decode("utf-8", "replace")

    def start(self):
        # "postfix check" creates the queue subdirectories with the right
        # owners and modes (post-install create-missing) and reports problems.
        self._run([POSTFIX, "-c", self.config_dir, "check"])
        self._run([POSTFIX, "-c", self.config_dir, "start"])
        self.started = True
        deadline = time.time() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("smtpd does not listen on port %d" % self.port)
                time.sleep(0.1)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        try:
            self._run([POSTFIX, "-c", self.config_dir, "stop"], check=False,
                      timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if pid:
            deadline = time.time() + 15
            while time.time() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                # our own master, by its pid: stop it the hard way
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        self.started = False

    # ------------------------------------------------------------ mail in
    def sendmail(self, msg, recipients, sender=None, extra=()):
        """Submit with sendmail(1) -C DIR, as a user or a cron job does."""
        argv = [SENDMAIL, "-C", self.config_dir, "-i"]
        if sender is not None:
            argv += ["-f", sender]
        argv += list(extra) + ["--"] + list(recipients)
        return self._run(argv, input=msg)

    def smtp(self, msg, recipients, sender):
        """Submit over SMTP on loopback; returns the queue id from the reply."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.ehlo("client.m2s-test.invalid")
            code, resp = s.mail(sender)
            if code != 250:
                raise RuntimeError("MAIL FROM: %d %s" % (code, resp))
            for r in recipients:
                code, resp = s.rcpt(r)
                if code not in (250, 251):
                    raise RuntimeError("RCPT TO:<%s>: %d %s" % (r, code, resp))
            code, resp = s.data(msg)
            if code != 250:
                raise RuntimeError("DATA: %d %s" % (code, resp))
            m = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
            return m.group(1).decode() if m else None

    # ------------------------------------------------------------ observe
    def log(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=30, what=None):
        """Wait until the log has a line matching pattern (a regex); return
        its match object."""
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            if time.time() > deadline:
                raise AssertionError("no log line matching %s within %ds%s\n"
                                     "--- maillog tail:\n%s" % (
                                         what or pattern, timeout, "",
                                         "\n".join(self.log().splitlines()[-25:])))
            time.sleep(0.1)

    def queue_id_of(self, message_id, timeout=30):
        """The queue id cleanup(8) logged for a Message-ID."""
        m = self.wait_log(r"\b([0-9A-Za-z]{8,}): "
                          r"message-id=<%s>" % re.escape(message_id.strip("<>")),
                          timeout, "message-id=<%s>" % message_id)
        return m.group(1)

    def wait_status(self, queue_id, recipient, timeout=30):
        """Wait for the delivery-agent line for queue_id/recipient; returns
        (status, the whole line)."""
        m = self.wait_log(r"^.*\b%s: to=<%s>,.*\bstatus=(\w+).*$" % (
            re.escape(queue_id), re.escape(recipient)), timeout,
            "%s: to=<%s> ... status=" % (queue_id, recipient))
        return m.group(1), m.group(0)

    def status_lines(self, queue_id, recipient=None):
        rx = re.compile(r"^.*\b%s: to=<%s>,.*\bstatus=\w+.*$" % (
            re.escape(queue_id), re.escape(recipient) if recipient else "[^>]*"),
            re.M)
        return rx.findall(self.log())

    def queue(self):
        """The queue as postqueue -j reports it: a list of dicts."""
        out = self._run([POSTQUEUE, "-c", self.config_dir, "-j"]).stdout
        return [json.loads(l) for l in out.decode("utf-8", "replace").splitlines()
                if l.strip()]

    def queued(self, queue_id):
        for q in self.queue():
            if q.get("queue_id") == queue_id:
                return q
        return None

    def mailq(self):
        return self._run([POSTQUEUE, "-c", self.config_dir, "-p"]).stdout \
            .decode("utf-8", "replace")

    def flush(self):
        self._run([POSTQUEUE, "-c", self.config_dir, "-f"])

    def release_held(self):
        """Move every message on hold (a HOLD action of header_checks) to
        the deferred queue; a flush() after it delivers them all at once."""
        self._run([POSTSUPER, "-c", self.config_dir, "-H", "ALL"])

    def delete(self, queue_id):
        self._run([POSTSUPER, "-c", self.config_dir, "-d", queue_id], check=False)

    def wait_gone(self, queue_id, timeout=30):
        deadline = time.time() + timeout
        while self.queued(queue_id) is not None:
            if time.time() > deadline:
                raise AssertionError("%s still queued after %ds:\n%s" % (
                    queue_id, timeout, self.mailq()))
            time.sleep(0.2)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def run_module(prepare, fake_factory, setup, main, describe="", log_lines=80):
    """Run a test module's cases against private instances, then exit.

    prepare() gives the module's paths (a dict with "base", the directory
    removed at the end unless M2S_KEEP_TMP is set, or a list of such dicts,
    one per instance); inside fake_factory()'s context, setup(P, fake)
    writes the configuration and returns the (not yet started)
    PostfixInstance, or a list of them; main() runs the cases and exits.
    The instances are stopped whatever happens, also on SIGTERM from make
    check's timeout, and their logs are shown when something failed."""
    P = None
    pfs = []
    rc = 1

    def _terminated(signum, frame):
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    try:
        P = prepare()
        with fake_factory() as fake:
            got = setup(P, fake)
            several = isinstance(got, (list, tuple))
            try:
                for pf in (got if several else [got]):
                    pf.start()
                    pfs.append(pf)
                    print("# private Postfix %s%s on 127.0.0.1:%d, config %s, log %s%s"
                          % (pf.postconf("-h", "mail_version").strip(),
                             " (%s)" % pf.name if getattr(pf, "name", None) else "",
                             pf.port, pf.config_dir, pf.maillog, describe))
                sys.stdout.flush()
                main()
            except SystemExit as e:
                rc = e.code
            finally:
                for pf in reversed(pfs):
                    pf.stop()
                if rc or os.environ.get("M2S_SHOW_MAILLOG"):
                    for pf in pfs:
                        print("# ---- the maillog of %s (last %d lines)"
                              % (getattr(pf, "name", None) or "the instance", log_lines))
                        print("\n".join("# " + l for l in pf.log().splitlines()[-log_lines:]))
    except Exception as e:
        import traceback
        traceback.print_exc(file=sys.stdout)
        print("FAIL - private Postfix instance: %s" % e)
        print("0 passed, 1 failed")
        rc = 1
    finally:
        for p in (P if isinstance(P, (list, tuple)) else [P] if P else []):
            if not os.environ.get("M2S_KEEP_TMP"):
                shutil.rmtree(p["base"], ignore_errors=True)
            else:
                print("# kept %s" % p["base"])
    sys.exit(rc)
