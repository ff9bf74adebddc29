#!/usr/bin/env python3
"""A failed SMS reaches its sender as a delivery status notification,
through a real Postfix, within two tracker passes.

A private Postfix instance (tests/postfix_instance.py) pipes a mail to
mail2sms, which sends it to the fake Bird API. The fake then reports the
SMS "sent" and, at the next read, "delivery_failed" (unknown_subscriber).
mail2sms --track runs with tracking.sendmail the instance's own
sendmail(1); the instance delivers the notice to the
sender's domain, whose transport keeps each message in a mailbox
directory (sink/QUEUE_ID.eml), where the test parses it with Python's
email package as multipart/report.

Needs root and Debian's postfix package (skipped otherwise, unless
M2S_REQUIRE_POSTFIX=1).
"""

import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import *  # noqa: E402,F403
import postfix_instance as pfi  # noqa: E402

REQUIRE = os.environ.get("M2S_REQUIRE_POSTFIX") == "1"
DEADLINE = 10
SENDER = "nagios@monitoring.example.com"
ETC = os.path.join(SRCDIR, "etc")
FAILED = {"status": "delivery_failed", "reason": "unknown_subscriber",
          "failure": {"description": "Unknown subscriber",
                      "source": {"code": "15005", "name": "sms-messagebird"}}}

why = pfi.unmet(BIN)
if why:
    if REQUIRE:
        print("FAIL - prerequisites for the tracking test: %s (M2S_REQUIRE_POSTFIX=1)" % why)
        print("0 passed, 1 failed")
        sys.exit(1)
    skip(why)
    main()

SHIPPED_ENTRY, SHIPPED_MAIN, SHIPPED_TRANSPORT, PIPE_USER = pfi.shipped(ETC)
P = PF = FAKE = None


def prepare():
    p = pfi.prepare_run("m2s-track-", PIPE_USER, BIN)
    p["conf"] = os.path.join(p["m2s"], "mail2sms.conf")
    return p


def setup(paths, fake):
    global P, PF, FAKE
    P, FAKE = paths, fake
    pf = pfi.PostfixInstance(P["base"])
    # The instance's own sendmail(1), as tracking.sendmail.
    P["sendmail"] = os.path.join(P["base"], "sendmail.sh")
    with open(P["sendmail"], "w") as f:
        f.write("#!/bin/sh\nexec /usr/sbin/sendmail -C %s \"$@\"\n" % pf.config_dir)
    os.chmod(P["sendmail"], 0o755)
    conf = write_config(P["m2s"], FAKE.url,
                        bird={"timeout": 2, "connect_timeout": 2, "outage_probe": 0},
                        deadline=DEADLINE,
                        tracking={"on_failure": ["notify"], "sendmail": P["sendmail"]})
    pfi.give_to_pipe_user(P, conf)
    params = dict(SHIPPED_MAIN)
    params["transport_maps"] = "hash:" + os.path.join(pf.config_dir, "transport")
    pf.set_params(**params)
    entry = re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (P["bin"], conf), SHIPPED_ENTRY)
    pf.add_service(entry)
    pf.add_service("sink      unix  -       n       n       -       -       pipe\n"
                   "  flags=R null_sender= user=%s argv=/bin/sh %s %s ${queue_id}"
                   % (PIPE_USER, P["sink_script"], P["sink"]))
    for key, value in SHIPPED_TRANSPORT:
        pf.add_transport(key, value)
    pf.add_transport("monitoring.example.com", "sink:")
    pf.write_config()
    PF = pf
    return pf


def track():
    """One tracking pass. As root: the private instance's sendmail -C DIR
    takes a configuration directory from root only (for other users it must
    be listed in /etc/postfix/main.cf, which the test leaves alone). The
    SQLite files stay the pipe user's (SQLite gives files root makes the
    database file's owner)."""
    r = subprocess.run([P["bin"], "-c", P["conf"], "--track", "-v"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def make_due():
    db = sqlite3.connect(os.path.join(P["m2s"], "state", "state.sqlite"), timeout=10)
    db.execute("UPDATE journal SET next_check = 0 WHERE outcome IS NULL")
    db.commit()
    db.close()


def sink_files():
    return sorted(f for f in os.listdir(P["sink"]) if f.endswith(".eml"))


@case("a failed SMS: one RFC 3464 notice to the sender within two passes, through Postfix")
def notice_through_postfix():
    number = ONCALL[0]
    FAKE._call("POST", "/_fake/status", {"number": number, "script": ["sent", FAILED]})
    rcpt = number + "@sms.example.com"
    msg = mail(subject="PROBLEM: db1 is DOWN", to=rcpt)
    PF.sendmail(msg, [rcpt], sender=SENDER)
    qid = PF.queue_id_of(message_id(msg), 30)
    PF.wait_status(qid, rcpt, 30)
    check(any("status=sent" in l for l in PF.status_lines(qid, rcpt)),
          "not delivered to mail2sms: %r" % PF.status_lines(qid, rcpt))
    for n in (1, 2):
        make_due()
        rc, out, err = track()
        eq(rc, 0, "pass %d: %s" % (n, err))
        check(DEFAULT_KEY not in out + err, "the access key in the tracker's output")
    check("sms=delivery_failed" in err and "notification sent" in err, err)
    deadline = time.time() + 30
    while not sink_files() and time.time() < deadline:
        time.sleep(0.2)
    files = sink_files()
    eq(len(files), 1, "notices in the mailbox")
    raw = open(os.path.join(P["sink"], files[0]), "rb").read()
    n = email.message_from_bytes(raw, policy=email.policy.default)
    eq(n["Return-Path"], "<>", "the null envelope sender")
    eq(n.get_content_type(), "multipart/report", "type")
    eq(n.get_param("report-type"), "delivery-status", "report-type")
    eq(n["Auto-Submitted"], "auto-replied", "Auto-Submitted")
    parts = list(n.iter_parts())
    eq([p.get_content_type() for p in parts],
       ["text/plain", "message/delivery-status", "text/rfc822-headers"], "parts")
    text = parts[0].get_content()
    for want in (number, "PROBLEM: db1 is DOWN", qid, "unknown_subscriber", "sms-messagebird"):
        check(want in text, "%r not in the readable part:\n%s" % (want, text))
    ds = parts[1].get_payload()
    eq(len(ds), 2, "per-message and per-recipient fields")
    check(ds[0]["Reporting-MTA"].startswith("dns; "), ds[0]["Reporting-MTA"])
    eq(ds[1]["Final-Recipient"], "rfc822; " + rcpt, "Final-Recipient")
    eq(ds[1]["Action"], "failed", "Action")
    eq(ds[1]["Status"], "5.1.1", "Status")
    check("unknown_subscriber" in ds[1]["Diagnostic-Code"], ds[1]["Diagnostic-Code"])
    check(message_id(msg) in parts[2].get_payload(), "the original headers")
    # The journal is still the pipe user's.
    for f in os.listdir(os.path.join(P["m2s"], "state")):
        eq(os.stat(os.path.join(P["m2s"], "state", f)).st_uid, P["uid"], "owner of " + f)
    # Nothing more on later passes: at most once.
    make_due()
    track()
    time.sleep(1)
    eq(len(sink_files()), 1, "notices after a third pass")
    r = subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", PIPE_USER, "--",
                        P["bin"], "-c", P["conf"], "--status", qid, "--json"],
                       stdout=subprocess.PIPE, timeout=30)
    rows = [json.loads(l) for l in r.stdout.decode().splitlines()]
    eq([(x["number"], x["outcome"], x["notice"]) for x in rows],
       [(number, "delivery_failed", "sent")], "--status")


pfi.run_module(prepare, FakeBird, setup, main)
