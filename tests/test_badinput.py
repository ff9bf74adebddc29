#!/usr/bin/env python3
"""Mail that is empty, garbage, truncated, huge or simply odd: the program
never crashes, prints at most one status line, and exits with a code the
contract (mail2sms(8), EXIT STATUS) allows. With $M2S_WRAPPER set (for
example "valgrind --error-exitcode=99 -q") every run goes through it."""

import base64
import glob
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

FAKE = FakeBird()
SENDER = "nagios@monitoring.example.com"
NUMBER = "+31612345678"
CONTRACT_CODES = {0, 65, 67, 75, 77}
MiB = 1024 * 1024
_conf = None


def conf():
    global _conf
    if _conf is None:
        _conf = write_config(tmpdir(), FAKE.url, bird={"timeout": 5}, deadline=30)
    return _conf


def send(data, rcpts=(NUMBER + "@sms.example.com",), extra=(), timeout=90):
    return run(["-c", conf(), "-f", SENDER, "-q", "BADIN1"] + list(extra) + ["--"]
               + list(rcpts), data, timeout=timeout)


def sane(r, dry_run=False):
    """No crash, a contract exit code, and the output shape that goes with it."""
    check(not r.timed_out, "timed out (%r)" % r)
    check(r.rc is not None and r.rc >= 0, "killed by a signal (%r)" % r)
    check(r.rc != 99, "the wrapper ($M2S_WRAPPER) reported errors: %r" % r.err[-3000:])
    check(r.rc in CONTRACT_CODES, "exit code %r is not in the contract (%r)" % (r.rc, r))
    if dry_run:
        # a dry run's stdout holds only request lines; the status line goes
        # to stderr (mail2sms(8), DRY RUN: nothing else on stdout)
        for line in r.lines:
            check(line.startswith("{"), "not a JSON request line: %r" % line)
        if r.rc != 0:
            err = r.err.splitlines()
            check(err and re.match(r"^[45]\.\d+\.\d+ ", err[-1]),
                  "no status line on stderr: %r" % r.err[-500:])
    elif r.rc == 0:
        eq(r.out, "", "output on success")
    else:
        eq(len(r.lines), 1, "exactly one line (%r)" % r.out)
        check(re.match(r"^[45]\.\d+\.\d+ ", r.out),
              "line does not begin with an enhanced status code: %r" % r.out)
    check(DEFAULT_KEY not in r.out + r.err, "access key printed")


def all_texts(msg_json):
    """Every string in a recorded message body, joined."""
    out = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(msg_json.get("body") or msg_json.get("template"))
    return "\n".join(out)


# ---------------------------------------------------------------- garbage

@case("empty input -> 65 5.6.0")
def _():
    FAKE.reset()
    r = send(b"")
    sane(r)
    eq(r.rc, 65, "exit code (%r)" % r)
    eq(r.status, "5.6.0", "status")
    eq(FAKE.requests(), [], "requests sent")


@case("headers only, no body and no subject -> 65 5.6.0")
def _():
    FAKE.reset()
    r = send(b"From: a@example.com\nTo: b@example.com\n\n")
    sane(r)
    eq(r.rc, 65, "exit code (%r)" % r)
    eq(r.status, "5.6.0", "status")


def garbage_case(seed, size, prefix=b""):
    @case("binary garbage seed=%d size=%d%s" % (seed, size, " after headers" if prefix else ""))
    def _():
        FAKE.reset()
        rng = random.Random(seed)
        data = bytearray(rng.getrandbits(8) for _ in range(size))
        for i in range(0, size, 97):      # plenty of NULs and line ends
            data[i] = 0
        for i in range(13, size, 71):
            data[i] = 0x0a
        r = send(prefix + bytes(data))
        sane(r)
        check(r.rc in (0, 65), "garbage gave %r" % r)
        if r.rc == 0:
            check(FAKE.messages(), "exit 0 but nothing sent")
            for m in FAKE.messages():
                check("\x00" not in json.dumps(m["json"]) and
                      "\\u0000" not in json.dumps(m["json"]), "NUL sent to the API")


garbage_case(1, 4096)
garbage_case(2, 65536)
garbage_case(3, 300)
garbage_case(4, 20000, b"From: x@example.com\nSubject: =?utf-8?B?////?=\n"
             b"Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\n")


@case("deep MIME nesting is bounded, no crash")
def _():
    FAKE.reset()
    depth = 200
    parts = [b"From: a@example.com\nSubject: nested\nMIME-Version: 1.0\n"]
    for i in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n" % (i, i))
    parts.append(b"Content-Type: text/plain\n\ndeep text\n")
    for i in reversed(range(depth)):
        parts.append(b"--b%d--\n" % i)
    r = send(b"".join(parts))
    sane(r)
    check(r.rc in (0, 65), "exit %r" % r)


@case("truncated MIME: the text that is there is sent")
def _():
    FAKE.reset()
    blob = base64.encodebytes(bytes(random.Random(7).getrandbits(8) for _ in range(6000)))
    data = (b"From: nagios@monitoring.example.com\nTo: oncall@sms.example.com\n"
            b"Subject: Server down\nMessage-ID: <trunc-1@monitoring.example.com>\n"
            b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n"
            b"--XYZ\nContent-Type: text/plain; charset=us-ascii\n\n"
            b"web01 is not answering ping\n\n"
            b"--XYZ\nContent-Type: application/octet-stream; name=\"dump.bin\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + blob[:len(blob) // 2 - 3])
    r = send(data)
    sane(r)
    eq(r.rc, 0, "exit code (%r)" % r)
    msgs = FAKE.messages()
    eq(len(msgs), 1, "messages sent")
    txt = all_texts(msgs[0]["json"])
    check("web01 is not answering ping" in txt, "text lost: %r" % txt[:500])
    check("Server down" in txt, "subject lost: %r" % txt[:500])


# ---------------------------------------------------------------- size limit

def big_mail(total_bytes, text):
    """A mail with a short text part and a base64 attachment, about total_bytes long."""
    head = ("From: backup@monitoring.example.com\nTo: oncall@sms.example.com\n"
            "Subject: Backup report\nMessage-ID: <big-%d@monitoring.example.com>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BIG\"\n\n"
            "--BIG\nContent-Type: text/plain; charset=us-ascii\n\n%s\n\n"
            "--BIG\nContent-Type: application/octet-stream; name=\"backup.tar\"\n"
            "Content-Disposition: attachment; filename=\"backup.tar\"\n"
            "Content-Transfer-Encoding: base64\n\n" % (total_bytes, text)).encode()
    tail = b"\n--BIG--\n"
    line = base64.b64encode(bytes(random.Random(total_bytes).getrandbits(8)
                                  for _ in range(57))) + b"\n"   # 77 bytes a line
    n = (total_bytes - len(head) - len(tail)) // len(line)
    body = line * n
    pad = total_bytes - len(head) - len(tail) - len(body)
    return head + body + b"QUJD" * (pad // 4) + b"\n" * (pad % 4) + tail


@case("mail just over limits.max_message_bytes (30 MiB default) -> 65 5.6.0")
def _():
    FAKE.reset()
    data = big_mail(30 * MiB + 64 * 1024, "Backup finished with errors")
    check(len(data) > 30 * MiB, "test mail not over the limit")
    r = send(data)
    sane(r)
    eq(r.rc, 65, "exit code (%r)" % r)
    eq(r.status, "5.6.0", "status")
    eq(FAKE.message_attempts(), [], "a too-large mail was sent")


@case("mail just under the limit -> sent with its text")
def _():
    FAKE.reset()
    data = big_mail(30 * MiB - 256 * 1024, "Backup finished OK")
    check(len(data) < 30 * MiB, "test mail not under the limit")
    r = send(data)
    sane(r)
    eq(r.rc, 0, "exit code (%r)" % r)
    msgs = FAKE.messages()
    eq(len(msgs), 1, "messages sent")
    check("Backup finished OK" in all_texts(msgs[0]["json"]), "text not sent")


# ---------------------------------------------------------------- real-world corpus

def corpus_dir():
    d = os.path.join(SRCDIR, "..", "shared", "corpus")
    return d if os.path.isdir(d) else None


def corpus_case(path):
    @case("corpus (dry run): " + os.path.basename(path))
    def _():
        with open(path, "rb") as f:
            data = f.read()
        r = send(data, rcpts=("oncall@sms.example.com",), extra=["-n"])
        sane(r, dry_run=True)
        check(r.rc in (0, 65), "exit %r" % r)
        if r.rc == 65:
            check(r.err.splitlines()[-1].startswith("5.6.0 "), "status %r" % r.err[-300:])
            return
        nums = []
        reqs = [json.loads(line) for line in r.lines]
        msgs = [q for q in reqs if q["url"].endswith("/messages")]
        for q in reqs:
            eq(q["method"], "POST", "method")
            eq(sorted(q), ["body", "method", "url"], "keys of a dry-run line")
            if q["url"].endswith("/presigned-upload"):
                check(q["body"].get("contentType"), "presign without contentType")
            else:
                check(q["url"].endswith("/messages"), "unexpected request %r" % q["url"])
        eq(len(msgs), len(ONCALL), "one message request per number (%r)" % r.out)
        for q in msgs:
            b = q["body"]
            check(("body" in b) != ("template" in b), "exactly one of body/template")
            nums.append(b["receiver"]["contacts"][0]["identifierValue"])
            if "body" in b:
                t = b["body"]["type"]
                check(t in ("text", "image", "file"), "body.type %r" % t)
                check(b["body"][t], "empty %s body" % t)
                if t == "text":
                    check(b["body"]["text"]["text"].strip(), "empty text")
                    check("\x00" not in b["body"]["text"]["text"], "NUL in text")
        eq(sorted(nums), sorted(ONCALL), "numbers")


# ------------------------------------------------------------ condensing

def dry_text(data):
    r = send(data, extra=["-n"])
    sane(r, dry_run=True)
    eq(r.rc, 0, "exit code (%r)" % r)
    texts = []
    for l in r.lines:
        t = json.loads(l).get("body", {}).get("body", {}).get("text", {}).get("text")
        if t is not None:
            texts.append(t)
    check(texts, "no text in %r" % r.out[:500])
    return texts[0]


@case("condense: a huge apcaccess dump gives the status first, in one part")
def _():
    lines = ["%-9s: value %d Percent" % ("KEY%d" % i, i) for i in range(20000)]
    data = ("From: root@nas01.example.com\nSubject: nas01 UPS ups-office Power Failure !!!\n\n"
            "Subject: nas01 UPS ups-office Power Failure !!!\n \nSTATUS   : ONBATT\n"
            + "\n".join(lines) + "\n").encode()
    t = dry_text(data)
    check(t.startswith("Power Failure nas01/ups-office: STATUS : ONBATT"), "text %r" % t[:200])
    check(len(t) <= 160, "one part: %d characters" % len(t))


@case("condense: a profile's fields missing, or two profiles at once: a sane text")
def _():
    for subject, body in [
            ("** PROBLEM Service Alert: / is **", "Notification Type: PROBLEM\nAdditional Info:\n"),
            ("** PROBLEM Host Alert:  is  **", "Notification Type: \nAdditional Info:"),
            ("[FIRING:1] Check_MK: db01/x OK -> CRIT", "Firing: 1 alert for x\nView in AlertManager\n"
             "Event:    OK -> CRIT\nOutput:   CRIT - 96%\nNotification Type: PROBLEM\n"),
            ("Cron <root@h> Problem: x", "This message was generated by the smartd daemon running on:\n"
             "A Fail event had been detected on md device /dev/md0.\n")]:
        data = ("From: Nagios Grafana Zabbix <monitor@example.com>\nSubject: %s\n"
                "X-Cron-Env: <SHELL=/bin/sh>\n\n%s" % (subject, body)).encode()
        t = dry_text(data)
        check(t.strip(), "empty text for %r" % subject)


_cd = corpus_dir()
if _cd:
    for _p in sorted(glob.glob(os.path.join(_cd, "*.eml"))):
        corpus_case(_p)
else:
    @case("corpus (dry run)")
    def _():
        skip("no corpus at %s" % os.path.join(SRCDIR, "..", "shared", "corpus"))


if __name__ == "__main__":
    try:
        main()
    finally:
        FAKE.stop()
