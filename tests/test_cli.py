#!/usr/bin/env python3
"""The command-line contract (mail2sms(8), OPTIONS, RECIPIENTS and DRY RUN):
options, configuration errors, --check-config,
dry run, and how recipients map to numbers and exit codes."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

FAKE = FakeBird()
SENDER = "nagios@monitoring.example.com"
MSG_URL_TAIL = "/workspaces/%s/channels/%s/messages" % (DEFAULT_WORKSPACE, DEFAULT_CHANNEL)


def conf(**sections):
    return write_config(tmpdir(), FAKE.url, **sections)


def send(cfg, *rcpts, extra=(), data=None):
    return run(["-c", cfg, "-f", SENDER, "-q", "4F3A21C0E2"] + list(extra) + ["--"]
               + list(rcpts), data if data is not None else mail())


def one_line(r, rc, dsn):
    eq(r.rc, rc, "exit code (%r)" % r)
    eq(len(r.lines), 1, "exactly one stdout line (%r)" % r.out)
    check(r.status == dsn, "line %r does not begin with %s" % (r.out, dsn))
    check(DEFAULT_KEY not in r.out + r.err, "access key printed")


def numbers_sent():
    return sorted(c["identifierValue"] for m in FAKE.messages()
                  for c in m["json"]["receiver"]["contacts"])


def replace_line(path, old, new):
    """Replace the line containing old; returns its 1-based number."""
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if old in line:
            lines[i] = new
            with open(path, "w") as f:
                f.write("\n".join(lines))
            return i + 1
    raise AssertionError("%r not in %s" % (old, path))


def append_line(path, text):
    with open(path) as f:
        n = f.read().count("\n")
    with open(path, "a") as f:
        f.write(text + "\n")
    return n + 1


def mentions_line(text, n):
    return re.search(r"(line\s*%d\b|:%d\b)" % (n, n), text) is not None


# ---------------------------------------------------------------- options

@case("--help: exit 0, usage on stdout")
def _():
    r = run(["--help"])
    eq(r.rc, 0, "exit code (%r)" % r)
    check("usage" in r.out.lower(), "no usage text: %r" % r.out)
    check("mail2sms" in r.out, "program name missing")
    for opt in ("--check-config", "-c", "-n"):
        check(opt in r.out, "usage does not mention %s" % opt)


@case("--version: exit 0, name and version")
def _():
    r = run(["--version"])
    eq(r.rc, 0, "exit code (%r)" % r)
    check("mail2sms" in r.out, "name missing: %r" % r.out)
    check(re.search(r"\d+\.\d+", r.out), "no version number: %r" % r.out)
    check("(MIT License)" in r.out.splitlines()[0], "no license: %r" % r.out)


@case("input that never ends: 75 4.4.7 at the deadline, never Postfix's time limit")
def _():
    FAKE.reset()
    import time
    c = conf(deadline=5, bird={"timeout": 2, "connect_timeout": 2})
    p = spawn(["-c", c, "-f", SENDER, "-q", "STALL1", "--", "oncall@sms.example.com"])
    p.stdin.write(b"From: a@example.com\nSubject: stalled\n\npart of a body")
    p.stdin.flush()             # and then nothing, without closing the pipe
    t0 = time.time()
    try:
        p.wait(timeout=15)      # stdin stays open: communicate() would close it
    except Exception:
        p.kill()
        p.wait()
        raise AssertionError("still running 15 s after a 5 s deadline")
    out = p.stdout.read()
    p.stdin.close()
    elapsed = time.time() - t0
    eq(p.returncode, 75, "exit code")
    check(out.decode().startswith("4.4.7 "), "line %r" % out)
    check(elapsed < 7, "took %.1fs, deadline 5s" % elapsed)
    eq(FAKE.messages(), [], "messages sent")


@case("unknown option -> 75 4.3.5")
def _():
    FAKE.reset()
    r = run(["--no-such-option", "-c", conf(), "--", "oncall@sms.example.com"], mail())
    one_line(r, 75, "4.3.5")
    eq(FAKE.requests(), [], "requests sent")


@case("missing recipient -> 75 4.3.5")
def _():
    FAKE.reset()
    r = run(["-c", conf(), "-f", SENDER], mail())
    one_line(r, 75, "4.3.5")
    eq(FAKE.requests(), [], "requests sent")


@case("missing config file -> 75 4.3.5")
def _():
    r = run(["-c", os.path.join(tmpdir(), "nonexistent.conf"), "--",
             "oncall@sms.example.com"], mail())
    one_line(r, 75, "4.3.5")


@case("config syntax error -> 75 4.3.5 naming the line")
def _():
    c = conf()
    n = replace_line(c, "channel_id", '  channel_id = ;')
    r = send(c, "oncall@sms.example.com")
    one_line(r, 75, "4.3.5")
    check(mentions_line(r.out, n), "line %d not named in %r" % (n, r.out))
    r = run(["--check-config", "-c", c])
    eq(r.rc, 78, "--check-config exit (%r)" % r)
    check(mentions_line(r.out, n), "--check-config: line %d not named in %r" % (n, r.out))


@case("unknown key -> 75 4.3.5")
def _():
    FAKE.reset()
    c = conf(bird={"no_such_key": 3})
    r = send(c, "oncall@sms.example.com")
    one_line(r, 75, "4.3.5")
    eq(FAKE.requests(), [], "requests sent with a bad config")


# ---------------------------------------------------------------- --check-config

@case("--check-config good -> 0 with a summary")
def _():
    c = conf()
    r = run(["--check-config", "-c", c])
    eq(r.rc, 0, "exit code (%r)" % r)
    check(r.out.strip(), "no summary")
    check(DEFAULT_CHANNEL in r.out or FAKE.url in r.out, "summary lacks endpoint/channel: %r" % r.out)
    check("oncall" in r.out, "summary lacks the alias: %r" % r.out)
    check(DEFAULT_KEY not in r.out + r.err, "key printed")


@case("--check-config: unknown key and wrong type -> 78, one line each naming the line")
def _():
    c = conf()
    n_unknown = append_line(c, "frobnicate = 1;")
    n_type = replace_line(c, "timeout = 5", '  timeout = "five";')
    r = run(["--check-config", "-c", c])
    eq(r.rc, 78, "exit code (%r)" % r)
    lines = r.lines
    check(any("frobnicate" in ln and mentions_line(ln, n_unknown) for ln in lines),
          "no line naming frobnicate at line %d: %r" % (n_unknown, r.out))
    check(any("timeout" in ln and mentions_line(ln, n_type) for ln in lines),
          "no line naming timeout at line %d: %r" % (n_type, r.out))
    check(len(lines) >= 2, "one line per problem: %r" % r.out)


@case("--check-config: the example's all-zero ids are placeholders, named with their line")
def _():
    FAKE.reset()
    zero = "00000000-0000-0000-0000-000000000000"
    c = conf(bird={"workspace_id": zero, "channel_id": zero})
    with open(c) as f:
        text = f.read().splitlines()
    n_ws = [i + 1 for i, l in enumerate(text) if "workspace_id" in l]
    n_ch = [i + 1 for i, l in enumerate(text) if "channel_id" in l]
    r = run(["--check-config", "-c", c])
    eq(r.rc, 78, "exit code (%r)" % r)
    ws = [l for l in r.lines if "bird.workspace_id is the example's placeholder" in l]
    ch = [l for l in r.lines if "bird.channel_id is the example's placeholder" in l]
    eq((len(ws), len(ch)), (1, 1), "one line each: %r" % r.out)
    check(ws and mentions_line(ws[0], n_ws[0]), "line %s not named: %r" % (n_ws, ws))
    check(ch and mentions_line(ch[0], n_ch[0]), "line %s not named: %r" % (n_ch, ch))
    # A real run defers as for any configuration mistake; nothing is sent.
    r = send(c, "oncall@sms.example.com")
    one_line(r, 75, "4.3.5")
    eq(FAKE.requests(), [], "sent with placeholder ids")
    # Ids that merely contain zeros are fine.
    r = run(["--check-config", "-c", conf(bird={"workspace_id": "0a000000-0000-4000-8000-000000000000"})])
    eq(r.rc, 0, "a real id with many zeros (%r)" % r)


@case("--check-config as the configured user: a log_file it cannot append to is named")
def _():
    if os.geteuid() != 0:
        print("# not root: no second user to check as; the check as root is in test_api.py")
        return
    import shutil
    import postfix_instance as pfi
    user = pfi.test_user_name()
    uid, gid = pfi.add_test_user(user)        # removed again when the test ends
    d = tmpdir()
    os.chmod(d, 0o755)
    binary = BIN
    if not pfi.runs_as(user, ["/usr/bin/test", "-x", BIN]):
        binary = os.path.join(d, "mail2sms")
        shutil.copy2(BIN, binary)
        os.chmod(binary, 0o755)
    logdir = os.path.join(d, "log")           # root's, like /var/log
    os.makedirs(logdir, mode=0o755)
    taken = os.path.join(logdir, "taken.log")
    with open(taken, "w"):
        pass
    os.chmod(taken, 0o644)
    mine = os.path.join(d, "m2s")
    os.makedirs(mine)

    def as_user(log_file):
        c = write_config(mine, FAKE.url, log_file=log_file)
        for name in os.listdir(mine) + [""]:
            os.chown(os.path.join(mine, name), uid, gid)
        os.chmod(c, 0o600)
        return subprocess.run(["runuser", "-u", user, "--", binary, "--check-config", "-c", c],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=30)
    r = as_user(os.path.join(mine, "mail2sms.log"))
    eq(r.returncode, 0, "its own directory (%s)" % r.stdout)
    r = as_user(taken)
    eq(r.returncode, 78, "root's file (%s)" % r.stdout)
    check("cannot open log_file %s for appending: Permission denied; its lines would go to "
          "syslog" % taken in r.stdout, r.stdout)
    r = as_user(os.path.join(logdir, "new.log"))
    eq(r.returncode, 78, "root's directory (%s)" % r.stdout)
    check("cannot create log_file %s/new.log: %s: Permission denied" % (logdir, logdir)
          in r.stdout, r.stdout)
    check(not os.path.exists(os.path.join(logdir, "new.log")), "the log file was created")
    # As root the same file is fine: that is why the check runs as the user.
    c = write_config(tmpdir(), FAKE.url, log_file=taken)
    eq(run(["--check-config", "-c", c]).rc, 0, "as root")


def key_mode_case(mode):
    @case("key file mode %04o refused (--check-config 78, run 75 4.3.5)" % mode)
    def _():
        FAKE.reset()
        d = tmpdir()
        c = write_config(d, FAKE.url)
        os.chmod(os.path.join(d, "access_key"), mode)
        r = run(["--check-config", "-c", c])
        eq(r.rc, 78, "check-config exit (%r)" % r)
        check("access_key" in r.out or "key" in r.out.lower(), "problem not named: %r" % r.out)
        check(DEFAULT_KEY not in r.out + r.err, "key printed")
        r = send(c, "oncall@sms.example.com")
        one_line(r, 75, "4.3.5")
        eq(FAKE.requests(), [], "sent with an insecure key file")


key_mode_case(0o644)
key_mode_case(0o640)


# ---------------------------------------------------------------- dry run

@case("dry run: one JSON line per number, nothing sent, no state written")
def _():
    FAKE.reset()
    d = tmpdir()
    c = write_config(d, FAKE.url)
    state = os.path.join(d, "state")
    before = sorted(os.listdir(state)) if os.path.isdir(state) else None
    mid = "<dry-1@monitoring.example.com>"
    r = send(c, "oncall@sms.example.com", extra=["-n"],
             data=mail(subject="Disk full", body="/var at 95%\n", message_id=mid))
    eq(r.rc, 0, "exit code (%r)" % r)
    eq(len(r.lines), 2, "one line per number (%r)" % r.out)
    got = []
    for line in r.lines:
        obj = json.loads(line)
        eq(sorted(obj), ["body", "method", "url"], "keys of the dry-run line")
        eq(obj["method"], "POST", "method")
        eq(obj["url"], FAKE.url + MSG_URL_TAIL, "url")
        b = obj["body"]
        eq(len(b["receiver"]["contacts"]), 1, "one contact")
        got.append(b["receiver"]["contacts"][0]["identifierValue"])
        eq(b["body"]["type"], "text", "body.type")
        eq(b["body"]["text"]["text"], "Disk full: /var at 95%", "text")
        # the Message-ID, with or without its angle brackets
        check(b.get("reference") in (mid, mid.strip("<>")),
              "reference %r is not the Message-ID %s" % (b.get("reference"), mid))
    eq(sorted(got), sorted(ONCALL), "numbers")
    eq(FAKE.requests(), [], "the fake was contacted in a dry run")
    after = sorted(os.listdir(state)) if os.path.isdir(state) else None
    eq(after, before, "state dir written in a dry run")
    check(DEFAULT_KEY not in r.out + r.err, "key in dry-run output")
    r = send(c, "oncall@sms.example.com", extra=["-n", "-v"])
    eq(r.rc, 0, "verbose dry-run exit (%r)" % r)
    check(DEFAULT_KEY not in r.out + r.err, "key in verbose dry-run output")


@case("dry run: national number, separators and duplicates")
def _():
    FAKE.reset()
    c = conf()
    r = send(c, "06-1234.5678@sms.example.com", "oncall@sms.example.com",
             "0031687654321@sms.example.com", extra=["-n"])
    eq(r.rc, 0, "exit code (%r)" % r)
    nums = sorted(json.loads(ln)["body"]["receiver"]["contacts"][0]["identifierValue"]
                  for ln in r.lines)
    eq(nums, sorted(ONCALL), "each number once, in E.164")
    eq(FAKE.requests(), [], "nothing sent")


# ---------------------------------------------------------------- recipients

@case("number recipient +31612345678@... -> 0, one message to it")
def _():
    FAKE.reset()
    r = send(conf(), "+31612345678@sms.example.com")
    eq(r.rc, 0, "exit code (%r)" % r)
    eq(r.out, "", "no output on success")
    eq(numbers_sent(), ["+31612345678"], "numbers sent")


@case("unknown recipient -> 67 5.1.1")
def _():
    FAKE.reset()
    r = send(conf(), "nobody@sms.example.com")
    one_line(r, 67, "5.1.1")
    check("nobody" in r.out, "recipient not named: %r" % r.out)
    eq(FAKE.requests(), [], "requests sent")


@case("prefix not allowed -> 77 5.7.1")
def _():
    FAKE.reset()
    c = conf(recipients={"allowed_prefixes": ["+31"]})
    r = send(c, "+447700900123@sms.example.com")
    one_line(r, 77, "5.7.1")
    eq(FAKE.requests(), [], "requests sent")
    r = send(c, "+31612345678@sms.example.com")
    eq(r.rc, 0, "allowed prefix still sent (%r)" % r)


@case("sender not allowed -> 77 5.7.1")
def _():
    FAKE.reset()
    c = conf(senders={"allowed": ["*@monitoring.example.com"]})
    r = run(["-c", c, "-f", "mallory@evil.example.net", "--", "oncall@sms.example.com"],
            mail(frm="mallory@evil.example.net"))
    one_line(r, 77, "5.7.1")
    eq(FAKE.requests(), [], "requests sent")


@case("alias + unknown recipient -> 67 naming the unknown one, alias numbers sent")
def _():
    FAKE.reset()
    r = send(conf(), "oncall@sms.example.com", "nobody@sms.example.com")
    one_line(r, 67, "5.1.1")
    check("nobody" in r.out, "unknown recipient not named: %r" % r.out)
    eq(numbers_sent(), sorted(ONCALL), "alias numbers sent")


@case("message.condense per alias: one alias condensed, another as the mail came, -v says why")
def _():
    FAKE.reset()
    d = tmpdir()
    c = write_config(d, FAKE.url, recipients={"aliases": {
        "oncall": ["+31612345678"],
        "archive": {"numbers": ["+31612345679"], "condense": False}}})
    body = ("***** Nagios *****\n\nNotification Type: PROBLEM\n\nService: Disk /srv\n"
            "Host: web03\nAddress: 10.20.5.3\nState: CRITICAL\n\nAdditional Info:\n\n"
            "DISK CRITICAL - free space: /srv 812 MB (2.1%)\n")
    data = ("From: Nagios <nagios@monitoring.example.com>\nTo: oncall@sms.example.com\n"
            "Subject: ** PROBLEM Service Alert: web03/Disk /srv is CRITICAL **\n\n" + body).encode()
    r = send(c, "oncall@sms.example.com", "archive@sms.example.com", extra=["-n", "-v"], data=data)
    eq(r.rc, 0, "exit code (%r)" % r)
    texts = {}
    for line in r.lines:
        b = json.loads(line)["body"]
        texts[b["receiver"]["contacts"][0]["identifierValue"]] = b["body"]["text"]["text"]
    eq(texts["+31612345678"], "CRITICAL web03/Disk /srv: DISK CRITICAL - free space: /srv 812 MB "
       "(2.1%)\nAddress: 10.20.5.3", "condensed text")
    check(texts["+31612345679"].startswith("PROBLEM Service Alert: web03/Disk /srv is CRITICAL: "
                                           "Nagios\nNotification Type: PROBLEM"),
          "uncondensed text %r" % texts["+31612345679"])
    check('condense: once: its value is in the subject "State: CRITICAL"' in r.err,
          "-v does not say which rule dropped the line: %r" % r.err[-2000:])


@case("alias lookup is case-insensitive")
def _():
    FAKE.reset()
    r = send(conf(), "OnCall@sms.example.com", extra=["-n"])
    eq(r.rc, 0, "exit code (%r)" % r)
    eq(len(r.lines), 2, "two numbers (%r)" % r.out)


if __name__ == "__main__":
    try:
        main()
    finally:
        FAKE.stop()
