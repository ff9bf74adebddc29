"""A private, throw-away PostgreSQL cluster for the state store's tests.

initdb and pg_ctl from Debian's postgresql package make a cluster in a
temporary directory that listens on no TCP port, only on a unix socket in
that directory. PostgreSQL will not run as root, so under root the cluster
runs as a throw-away system account of the test run's own ("m2st-PID-pgX",
made with postfix_instance.add_test_user and removed when the test process
exits, also after a failure or SIGTERM); otherwise as the current user. The
cluster is stopped and its directory removed by stop(), and at exit.

Two roles: "m2s" (the superuser, trusted on the socket) and "m2s_pw", which
must give its password (scram-sha-256), for the password tests.

  python3 tests/pg_instance.py serve   start a cluster, print its connection
                                       string and m2s_pw's password (a line
                                       each), stop it when stdin closes
                                       (the unit tests use this)

Python 3 standard library only.
"""

import atexit
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_instance  # noqa: E402  (the throw-away user)

PASSWORD = "pw-" + secrets.token_hex(8)


def bindir():
    """The directory of initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def available():
    """None when a private cluster can be started here, else the reason."""
    if not bindir():
        return "PostgreSQL is not installed (no initdb; apt-get install postgresql)"
    if os.geteuid() == 0 and not shutil.which("useradd") and not os.path.exists("/usr/sbin/useradd"):
        return "root without useradd: no account to run PostgreSQL as"
    return None


class PgInstance:
    def __init__(self, fsync=True):
        self.bin = bindir()
        self.base = tempfile.mkdtemp(prefix="m2s-pg.")
        os.chmod(self.base, 0o755)          # the pipe's user reaches the socket
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.logfile = os.path.join(self.base, "postgresql.log")
        self.fsync = fsync
        self.user = None
        self.running = False
        atexit.register(self.stop)

    # -------------------------------------------------------------- helpers
    def _as_owner(self, argv, check=True, timeout=120, input=None):
        if self.user:
            argv = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", self.user, "--"] + argv
        return subprocess.run(argv, check=check, timeout=timeout, input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, cwd=self.base)

    def conninfo(self, dbname="mail2sms", user="m2s"):
        return "host=%s dbname=%s user=%s" % (self.sock, dbname, user)

    def psql(self, sql, dbname="mail2sms"):
        """Run sql as the superuser; the output (unaligned, tuples only)."""
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-U", "m2s",
                            "-d", dbname, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, r.stderr.strip()))
        return r.stdout.strip()

    # ------------------------------------------------------------ lifecycle
    def create(self):
        """initdb, the roles and the database mail2sms; leaves it running."""
        if os.geteuid() == 0:
            self.user = "%s%d-pg%s" % (postfix_instance.TEST_USER_PREFIX, os.getpid(),
                                       secrets.token_hex(2))
            uid, gid = postfix_instance.add_test_user(self.user)
            os.chown(self.base, uid, gid)
        os.mkdir(self.sock)
        if self.user:
            import pwd
            pw = pwd.getpwnam(self.user)
            os.chown(self.sock, pw.pw_uid, pw.pw_gid)
        os.chmod(self.sock, 0o755)
        self._as_owner([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "m2s",
                        "-E", "UTF8", "--locale=C", "-A", "trust", "-N"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = %s\n"
                    "max_connections = 100\n"
                    "shared_buffers = 32MB\n" % (self.sock, "on" if self.fsync else "off"))
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all m2s_pw scram-sha-256\n"
                    "local all all trust\n")
        self.start()
        self.psql("CREATE ROLE m2s_pw LOGIN PASSWORD '%s'" % PASSWORD, dbname="postgres")
        self.psql("CREATE DATABASE mail2sms OWNER m2s_pw", dbname="postgres")
        return self

    def start(self):
        self._as_owner([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.logfile,
                        "-w", "-t", "60", "start"])
        self.running = True

    def stop_server(self, mode="fast"):
        """Stop the server, keep the cluster (start() brings it back)."""
        if not self.running:
            return
        r = self._as_owner([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode,
                            "-w", "-t", "30", "stop"], check=False, timeout=60)
        if r.returncode != 0:
            self._kill_postmaster()
        self.running = False

    def _kill_postmaster(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        except (OSError, ValueError):
            pass

    def stop(self):
        """Stop the server, remove the cluster and the account. Idempotent."""
        if self.base is None:
            return
        self.stop_server("immediate" if not self.running else "fast")
        if not os.environ.get("M2S_KEEP_TMP"):
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
        if self.user:
            postfix_instance.remove_test_user(self.user)
            self.user = None

    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def serve():
    """Start a cluster, print its connection string (a line), and stop it
    when standard input ends or on SIGTERM."""
    def _terminated(signum, frame):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    why = available()
    if why:
        print("unavailable: %s" % why)
        sys.stdout.flush()
        return 0
    pg = PgInstance(fsync=False)
    try:
        pg.create()
        print(pg.conninfo())
        print(PASSWORD)         # role m2s_pw's
        sys.stdout.flush()
        sys.stdin.read()
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        sys.exit(serve())
    print(__doc__)
    sys.exit(2)
