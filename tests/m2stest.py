"""Helpers shared by the Python integration tests (standard library only).

    sys.path.insert(0, os.path.join(os.environ["M2S_SRCDIR"], "tests"))
    from m2stest import *

BIN, SRCDIR, BUILDDIR     where the binary and the sources are
FakeBird                  the fake Bird API (tests/fake_bird.py) as a context manager
write_config(dir, url)    a libconfig file + owner-only access key file
run(args, stdin)          run the binary; .rc .out .err .lines .elapsed
mail(...)                 a small RFC 5322 message as bytes
case / main / skip        a tiny test runner
"""

import email.message
import email.policy
import email.utils
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("M2S_SRCDIR") or os.path.dirname(_HERE)
BUILDDIR = os.environ.get("M2S_BUILDDIR") or os.getcwd()
BIN = os.environ.get("M2S_BIN") or os.path.join(BUILDDIR, "src", "mail2sms")
WRAPPER = os.environ.get("M2S_WRAPPER", "")
FAKE = os.path.join(_HERE, "fake_bird.py")

DEFAULT_WORKSPACE = "ws-test"
DEFAULT_CHANNEL = "ch-test"
DEFAULT_KEY = "test-access-key-0123456789"
ONCALL = ["+31612345678", "+31687654321"]

# Control requests to the fake never go through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_tmpdirs = []


def tmpdir(prefix="m2s-"):
    """A new temporary directory, removed when the test program ends."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def _cleanup_tmpdirs():
    if os.environ.get("M2S_KEEP_TMP"):
        return
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- the fake

class FakeBird:
    """The fake Bird API in a subprocess. Use as a context manager."""

    def __init__(self, workspace=DEFAULT_WORKSPACE, channel=DEFAULT_CHANNEL,
                 access_key=DEFAULT_KEY, latency=0.0, log=None):
        self.workspace = workspace
        self.channel = channel
        self.key = access_key
        self.dir = tmpdir("m2s-fake-")
        port_file = os.path.join(self.dir, "port")
        cmd = [sys.executable, FAKE, "--port", "0", "--port-file", port_file,
               "--workspace", workspace, "--channel", channel,
               "--access-key", access_key]
        if latency:
            cmd += ["--latency", str(latency)]
        if log:
            cmd += ["--log", log]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        self.port = None
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("fake Bird API did not start")
        self.url = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _call(self, method, path, data=None, timeout=10):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        with _opener.open(req, timeout=timeout) as r:
            return r.read()

    def requests(self):
        """Every request the Bird endpoints received, oldest first."""
        return json.loads(self._call("GET", "/_fake/requests"))

    def messages(self):
        """The message POSTs that were accepted (202)."""
        return [r for r in self.requests()
                if r["method"] == "POST" and r["path"].endswith("/messages")
                and r["status"] == 202]

    def message_attempts(self):
        """Every message POST, whatever its answer."""
        return [r for r in self.requests()
                if r["method"] == "POST" and r["path"].endswith("/messages")]

    def faults(self, rules):
        """Replace the fault rules (see fake_bird.py); [] clears them."""
        self._call("POST", "/_fake/faults", {"rules": list(rules)})

    def random_faults(self, rate, seed=42, actions=("500", "503", "429", "hang", "drop"),
                      hang=30, **more):
        spec = {"rate": rate, "seed": seed, "actions": list(actions), "hang": hang}
        spec.update(more)
        self._call("POST", "/_fake/faults", {"random": spec})

    def latency(self, seconds):
        self._call("POST", "/_fake/latency", {"seconds": seconds})

    def reset(self):
        self._call("POST", "/_fake/reset", {})

    def media(self, url):
        """The bytes stored under a mediaUrl the fake handed out."""
        with _opener.open(url, timeout=10) as r:
            return r.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---------------------------------------------------------------- config

def _cstr(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or o == 0x7f:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_value(v, indent=""):
    """A Python value in libconfig syntax."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) + ("L" if not -2**31 <= v < 2**31 else "")
    if isinstance(v, float):
        r = repr(v)
        return r if ("." in r or "e" in r or "n" in r) else r + ".0"
    if isinstance(v, str):
        return _cstr(v)
    if isinstance(v, (list, tuple)):
        if all(not isinstance(x, (dict, list, tuple)) for x in v):
            return "[ " + ", ".join(render_value(x) for x in v) + " ]"
        inner = indent + "  "
        return ("(\n" + ",\n".join(inner + render_value(x, inner) for x in v)
                + "\n" + indent + ")")
    if isinstance(v, dict):
        inner = indent + "  "
        lines = ["{"]
        for k, x in v.items():
            if x is None:
                continue
            lines.append("%s%s = %s;" % (inner, k, render_value(x, inner)))
        lines.append(indent + "}")
        return "\n".join(lines)
    raise TypeError("cannot render %r in libconfig syntax" % (v,))


def write_config(dirpath, api_url, access_key=DEFAULT_KEY, **sections):
    """Write dirpath/mail2sms.conf and dirpath/access_key (mode 0600).

    Each keyword is a section (a dict merged over the defaults, a None value
    removes a key) or, when not a dict, a top-level setting (None removes
    it). Returns the path of the configuration file."""
    os.makedirs(dirpath, exist_ok=True)
    key_path = os.path.join(dirpath, "access_key")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(access_key + "\n")
    os.chmod(key_path, 0o600)
    state = os.path.join(dirpath, "state")
    os.makedirs(state, mode=0o700, exist_ok=True)

    conf = {
        "bird": {"api_url": api_url, "workspace_id": DEFAULT_WORKSPACE,
                 "channel_id": DEFAULT_CHANNEL, "access_key_file": key_path,
                 "timeout": 5},
        "recipients": {"default_country": "31",
                       "aliases": {"oncall": list(ONCALL)}},
        "state_dir": state,
        "deadline": 30,
    }
    for name, val in sections.items():
        if isinstance(val, dict):
            sec = conf.setdefault(name, {})
            if not isinstance(sec, dict):
                sec = conf[name] = {}
            for k, v in val.items():
                if v is None:
                    sec.pop(k, None)
                else:
                    sec[k] = v
        elif val is None:
            conf.pop(name, None)
        else:
            conf[name] = val
    lines = ["# written by m2stest.write_config"]
    for k, v in conf.items():
        if isinstance(v, dict):
            lines.append("%s = %s;" % (k, render_value(v)))
    for k, v in conf.items():
        if not isinstance(v, dict):
            lines.append("%s = %s;" % (k, render_value(v)))
    path = os.path.join(dirpath, "mail2sms.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- running

class Result:
    def __init__(self, rc, out, err, elapsed, cmd, timed_out=False):
        self.rc = rc
        self.out = out
        self.err = err
        self.elapsed = elapsed
        self.cmd = cmd
        self.timed_out = timed_out

    @property
    def lines(self):
        """Standard output split into lines (no empty last line)."""
        return self.out.splitlines()

    @property
    def status(self):
        """The first word of the first output line (the enhanced status code)."""
        ls = self.lines
        return ls[0].split()[0] if ls and ls[0].split() else ""

    def __repr__(self):
        return ("<rc=%r elapsed=%.1fs out=%r err=%r>"
                % (self.rc, self.elapsed, self.out[-2000:], self.err[-2000:]))


def clean_env(env=None):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "HOME": os.environ.get("HOME", "/tmp"),
         "LANG": "C.UTF-8"}
    for k in ("TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
              "VALGRIND_OPTS", "TZ"):
        if k in os.environ:
            e[k] = os.environ[k]
    if env:
        e.update(env)
    return e


def command(args):
    """The command line run() uses: $M2S_WRAPPER (split) + $M2S_BIN + args."""
    return shlex.split(WRAPPER) + [BIN] + [str(a) for a in args]


def spawn(args, env=None, **popen):
    """Start the binary without waiting (stdin/stdout/stderr pipes)."""
    return subprocess.Popen(command(args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(env), **popen)


def run(args, stdin_bytes=b"", timeout=60, env=None):
    """Run the binary with stdin_bytes on standard input; returns a Result.
    On timeout the process is killed and .timed_out is True."""
    if isinstance(stdin_bytes, str):
        stdin_bytes = stdin_bytes.encode()
    cmd = command(args)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env(env))
    timed_out = False
    try:
        out, err = p.communicate(stdin_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        p.kill()
        out, err = p.communicate()
    return Result(p.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), time.monotonic() - t0, cmd,
                  timed_out)


def mail(subject="Disk full", body="/var is 95% full on db1.example.com.\n",
         frm="nagios@monitoring.example.com", to="oncall@sms.example.com",
         headers=None, message_id=None):
    """A small RFC 5322 text/plain message (UTF-8, LF line ends) as bytes.
    headers: dict or list of (name, value) added (replacing same-named ones)."""
    msg = email.message.EmailMessage(policy=email.policy.default)
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or "<%s@test.example.com>" % uuid.uuid4().hex
    msg.set_content(body)
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    for name, value in items:
        if name in msg:
            del msg[name]
        msg[name] = value
    return msg.as_bytes(policy=email.policy.default.clone(linesep="\n"))


def message_id(mail_bytes):
    """The Message-ID header of a mail, as written."""
    import email.parser
    m = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(mail_bytes)
    v = m.get("Message-ID")
    return v.strip() if v else None


# ---------------------------------------------------------------- runner

_cases = []
_skip_reason = None
_in_case = False


class SkipCase(Exception):
    pass


def case(name=None):
    """Register a test: @case("name") or @case."""
    if callable(name):
        _cases.append((name.__name__, name))
        return name

    def deco(fn):
        _cases.append((name or fn.__name__, fn))
        return fn
    return deco


def skip(reason):
    """Called at module level: skip the whole file (exit 77).
    Called inside a case: skip that case."""
    global _skip_reason
    if _in_case:
        raise SkipCase(reason)
    _skip_reason = reason


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def main():
    """Run the registered cases (optionally only those whose name contains an
    argument), print a line each and a summary, and exit 0 / 1 / 77."""
    global _in_case
    if _skip_reason is not None:
        print("SKIP: %s" % _skip_reason)
        _cleanup_tmpdirs()
        sys.exit(77)
    if not os.path.exists(BIN):
        print("SKIP: no binary at %s" % BIN)
        sys.exit(77)
    only = sys.argv[1:]
    passed = failed = skipped = 0
    for name, fn in _cases:
        if only and not any(o in name for o in only):
            continue
        t0 = time.monotonic()
        _in_case = True
        try:
            fn()
        except SkipCase as e:
            skipped += 1
            print("skip - %s: %s" % (name, e))
        except Exception as e:
            failed += 1
            print("FAIL - %s: %s" % (name, e))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok - %s (%.1fs)" % (name, time.monotonic() - t0))
        finally:
            _in_case = False
        sys.stdout.flush()
    print("%d passed, %d failed%s" % (passed, failed,
                                      ", %d skipped" % skipped if skipped else ""))
    _cleanup_tmpdirs()
    sys.exit(1 if failed else 0)
