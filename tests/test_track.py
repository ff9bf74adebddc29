#!/usr/bin/env python3
"""mail2sms --track, --status and --metrics against the fake Bird API.

Mails are sent with the real binary (SQLite journal), then tracking passes
read each SMS's status from the fake's message GET, whose answers follow a
script per number (tests/fake_bird.py, POST /_fake/status). Between passes
the test makes checks due by setting next_check in the journal, as the
clock would. The notices go to a stand-in sendmail that keeps what it is
given (tests/test_track_postfix.py has the real one of a private Postfix).
"""

import collections
import email
import email.policy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import *  # noqa: E402,F403

SENDER = "nagios@monitoring.example.com"
FAILED = {"status": "delivery_failed", "reason": "unknown_subscriber",
          "failure": {"description": "Unknown subscriber", "code": 15,
                      "source": {"code": "15005", "name": "sms-messagebird"}}}
BACKUP = "+31699999999"


class Env:
    """A fake, a configuration, its journal and a stand-in sendmail."""

    def __init__(self, fake, numbers=None, **sections):
        self.fake = fake
        self.dir = tmpdir("m2s-track-")
        self.notices = os.path.join(self.dir, "notices")
        os.makedirs(self.notices)
        self.sendmail = os.path.join(self.dir, "sendmail")
        with open(self.sendmail, "w") as f:
            f.write("#!/bin/sh\n# keep each notice: N.args (one argument a line), N.eml\n"
                    "n=%s/$$\nfor a in \"$@\"; do printf '%%s\\n' \"$a\"; done > $n.args\n"
                    "cat > $n.tmp && mv $n.tmp $n.eml\n" % self.notices)
        os.chmod(self.sendmail, 0o755)
        aliases = {"oncall": list(numbers or ONCALL), "backup": [BACKUP]}
        tracking = {"sendmail": self.sendmail, "max_rate": 20}
        tracking.update(sections.pop("tracking", {}))
        recipients = {"aliases": aliases}
        recipients.update(sections.pop("recipients", {}))
        self.conf = write_config(self.dir, fake.url, recipients=recipients,
                                 tracking=tracking, **sections)
        self.db_path = os.path.join(self.dir, "state", "state.sqlite")

    def send(self, rcpt="oncall@sms.example.com", qid="QID1", sender=SENDER, **kw):
        msg = mail(**kw)
        r = run(["-c", self.conf, "-f", sender, "-q", qid, "--", rcpt], msg)
        eq(r.rc, 0, "send: %r" % r)
        return msg

    def track(self, *extra, timeout=120):
        return run(["-c", self.conf, "--track"] + list(extra), timeout=timeout)

    def sql(self, q, args=()):
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            rows = db.execute(q, args).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def due(self):
        """Every check is due now (as if its time had come)."""
        self.sql("UPDATE journal SET next_check = 0 WHERE outcome IS NULL")

    def status(self, query, json_out=True):
        args = ["-c", self.conf, "--status", query] + (["--json"] if json_out else [])
        r = run(args)
        if json_out and r.rc == 0:
            return r, [json.loads(l) for l in r.lines]
        return r, []

    def notice_files(self):
        return sorted(f for f in os.listdir(self.notices) if f.endswith(".eml"))


def script(fake, number, steps):
    fake._call("POST", "/_fake/status", {"number": number, "script": steps})


def gets(fake):
    return json.loads(fake._call("GET", "/_fake/gets"))


def no_key(env, *results):
    for r in results:
        check(DEFAULT_KEY not in r.out and DEFAULT_KEY not in r.err,
              "the access key in the output: %r" % r)


# ---------------------------------------------------------------- cases

@case("delivered: sent twice, then delivered; checks back off; the key never shown")
def delivered():
    with FakeBird() as fake:
        env = Env(fake)
        script(fake, ONCALL[0], ["sent", "sent", "delivered"])
        script(fake, ONCALL[1], ["delivered"])
        env.send()
        # The first check is 15 s after acceptance: nothing due yet.
        r0 = env.track()
        eq(r0.rc, 0, "first pass: %r" % r0)
        eq(len(gets(fake)), 0, "reads before the first check is due")
        env.due()
        r1 = env.track("-v")
        eq(r1.rc, 0, "pass: %r" % r1)
        eq(len(gets(fake)), 2, "reads of the first pass")
        # The number still "sent" comes back in 30 s, the next time in 60 s.
        (nc, sa), = env.sql("SELECT next_check, status_at FROM journal WHERE number = ?",
                            (ONCALL[0],))
        check(25 <= nc - time.time() <= 31, "next check in %.1fs, want ~30" % (nc - time.time()))
        env.due()
        env.track()
        (nc,), = env.sql("SELECT next_check FROM journal WHERE number = ?", (ONCALL[0],))
        check(55 <= nc - time.time() <= 61, "next check in %.1fs, want ~60" % (nc - time.time()))
        env.due()
        r3 = env.track()
        r, rows = env.status("QID1")
        eq(r.rc, 0, "--status: %r" % r)
        eq(sorted((x["number"], x["status"], x["final"]) for x in rows),
           sorted([(ONCALL[0], "delivered", True), (ONCALL[1], "delivered", True)]), "statuses")
        eq({x["checks"] for x in rows if x["number"] == ONCALL[0]}, {3}, "checks")
        hist = env.sql("SELECT status FROM sms_status WHERE number = ? ORDER BY t", (ONCALL[0],))
        eq([h[0] for h in hist], ["accepted", "sent", "delivered"], "history")
        # Done: no more reads.
        n = len(gets(fake))
        env.due()
        env.track()
        eq(len(gets(fake)), n, "reads after the end")
        check(all(g["answer"] == "200" for g in gets(fake)), "answers: %r" % gets(fake))
        # Every read carried the key; no output ever shows it.
        for q in fake.requests():
            if q["method"] == "GET":
                eq(q["headers"].get("authorization"), "AccessKey " + DEFAULT_KEY, "credential")
        no_key(env, r0, r1, r3, r, run(["-c", env.conf, "--metrics"]))


@case("404 ends it as unknown; 5xx, network and garbage are read again later")
def unknown_and_retries():
    with FakeBird() as fake:
        numbers = ["+31611000001", "+31611000002", "+31611000003", "+31611000004"]
        env = Env(fake, numbers, bird={"timeout": 2, "connect_timeout": 2}, deadline=10)
        script(fake, numbers[0], [{"http": 404}])
        env.send()
        fake.faults([{"endpoint": "message", "number": numbers[1], "status": 503},
                     {"endpoint": "message", "number": numbers[2], "garbage": True},
                     {"endpoint": "message", "number": numbers[3], "hang": 5}])
        env.due()
        r = env.track()
        eq(r.rc, 0, "pass: %r" % r)
        rows = {x["number"]: x for x in env.status("QID1")[1]}
        eq(rows[numbers[0]]["outcome"], "unknown", "404")
        for n in numbers[1:]:
            eq(rows[n]["final"], False, "%s after a failed read" % n)
            eq(rows[n]["checks"], 0, "%s checks" % n)
        check(any(g["number"] == numbers[1] and g["answer"].startswith("fault") for g in gets(fake)),
              "no 503 served")
        # The API is back: the next pass reads them, and 404 is not read again.
        fake.faults([])
        env.due()
        env.track()
        rows = {x["number"]: x for x in env.status("QID1")[1]}
        for n in numbers[1:]:
            eq(rows[n]["outcome"], "delivered", n)
        eq(sum(1 for g in gets(fake) if g["number"] == numbers[0]), 1, "reads of the 404")


@case("401 stops the pass with a clear line (exit 78); nothing ends")
def unauthorized():
    with FakeBird() as fake:
        env = Env(fake)
        env.send()
        fake.faults([{"endpoint": "message", "status": 401}])
        env.due()
        r = env.track("-v")
        eq(r.rc, 78, "exit: %r" % r)
        check("pass stopped" in r.err and "refused the credentials" in r.err, r.err)
        no_key(env, r)
        rows = env.status("QID1")[1]
        check(all(not x["final"] for x in rows), "ended after a 401: %r" % rows)
        fake.faults([])
        env.due()
        eq(env.track().rc, 0, "after the key is fixed")
        check(all(x["final"] for x in env.status("QID1")[1]), "not read after the fix")


@case("429 with Retry-After: the read waits that long")
def retry_after():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]])
        env.send()
        fake.faults([{"endpoint": "message", "status": 429, "retry_after": 2, "times": 1}])
        env.due()
        r = env.track()
        eq(r.rc, 0, "pass: %r" % r)
        g = [x for x in gets(fake) if x["number"] == ONCALL[0]]
        eq(len(g), 2, "reads: %r" % g)
        check(g[0]["answer"] == "fault status 429" and g[1]["answer"] == "200", repr(g))
        check(g[1]["t"] - g[0]["t"] >= 1.9, "retried %.2fs after a 429 with Retry-After: 2"
              % (g[1]["t"] - g[0]["t"]))
        eq(env.status("QID1")[1][0]["outcome"], "delivered", "after the retry")


@case("two trackers at once over 40 SMS: each read once, never above max_rate in any second")
def rate_and_two_trackers():
    with FakeBird() as fake:
        numbers = ["+3162000%04d" % i for i in range(40)]
        env = Env(fake, numbers, tracking={"max_rate": 10})
        env.send()
        env.due()
        procs = [spawn(["-c", env.conf, "--track"]) for _ in range(2)]
        for p in procs:
            p.communicate(timeout=60)
            eq(p.returncode, 0, "tracker exit")
        g = gets(fake)
        eq(sorted(x["number"] for x in g), sorted(numbers), "each SMS read exactly once")
        ts = sorted(x["t"] for x in g)
        worst = max(sum(1 for u in ts if t <= u < t + 1.0) for t in ts)
        check(worst <= 10, "%d reads within one second (max_rate 10)" % worst)
        check(ts[-1] - ts[0] >= 3.0, "40 reads at 10/s took only %.1fs" % (ts[-1] - ts[0]))


@case("max_age: sent without a report ends as no_report, not a failure")
def max_age():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]], tracking={"on_failure": ["notify"], "max_age": 3600})
        script(fake, ONCALL[0], ["sent"])
        env.send()
        env.due()
        env.track()
        eq(env.status("QID1")[1][0]["final"], False, "before max_age")
        env.sql("UPDATE journal SET accepted = accepted - 3700, next_check = 0")
        env.track()
        row = env.status("QID1")[1][0]
        eq((row["outcome"], row["status"]), ("no_report", "sent"), "after max_age")
        eq(env.notice_files(), [], "a notice for no report")
        m = run(["-c", env.conf, "--metrics"]).out
        check('mail2sms_sms_final_total{status="no_report"} 1' in m, m)


@case("failure: exactly one notice (RFC 3464) and one fallback SMS, tracked, not escalated")
def failure_actions():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]], tracking={"on_failure": ["notify", "fallback"],
                                                "fallback": "backup"})
        script(fake, ONCALL[0], ["sent", FAILED])
        script(fake, BACKUP, [FAILED])          # the fallback fails too
        msg = env.send(subject="PROBLEM: web1 is DOWN")
        env.due()
        env.track()
        eq(env.notice_files(), [], "a notice after 'sent'")
        env.due()
        r = env.track("-v")                     # the second pass: failed, told
        eq(r.rc, 0, "pass: %r" % r)
        files = env.notice_files()
        eq(len(files), 1, "notices")
        args = open(os.path.join(env.notices, files[0][:-4] + ".args")).read().splitlines()
        eq(args, ["-i", "-f", "", "--", SENDER], "sendmail's arguments")
        n = email.message_from_bytes(open(os.path.join(env.notices, files[0]), "rb").read(),
                                     policy=email.policy.default)
        eq(n.get_content_type(), "multipart/report", "type")
        eq(n.get_param("report-type"), "delivery-status", "report-type")
        eq(n["Auto-Submitted"], "auto-replied", "Auto-Submitted")
        eq([a.addr_spec for a in n["To"].addresses], [SENDER], "To")
        parts = list(n.iter_parts())
        eq([p.get_content_type() for p in parts],
           ["text/plain", "message/delivery-status", "text/rfc822-headers"], "parts")
        text = parts[0].get_content()
        for want in (ONCALL[0], "oncall", "PROBLEM: web1 is DOWN", "unknown_subscriber",
                     "sms-messagebird"):
            check(want in text, "%r not in the readable part:\n%s" % (want, text))
        ds = parts[1].get_payload()
        rcpt = ds[1] if len(ds) > 1 else ds[0]
        eq(rcpt["Action"], "failed", "Action")
        eq(rcpt["Status"], "5.1.1", "Status")
        eq(rcpt["Final-Recipient"], "rfc822; oncall@sms.example.com", "Final-Recipient")
        check("unknown_subscriber" in rcpt["Diagnostic-Code"], rcpt["Diagnostic-Code"])
        check(message_id(msg) in parts[2].get_payload(), "original headers")
        # The fallback: one SMS to the backup number naming the failed one.
        fb = [q for q in fake.messages()
              if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP]
        eq(len(fb), 1, "fallback SMS")
        check(ONCALL[0] in fb[0]["json"]["body"]["text"]["text"], repr(fb[0]["json"]))
        # It is followed; when it fails nobody is told again.
        for _ in range(3):
            env.due()
            env.track()
        r, rows = env.status(BACKUP)
        eq(len(rows), 1, "the fallback SMS in the journal")
        eq((rows[0]["fallback"], rows[0]["outcome"]), (True, "delivery_failed"), "fallback")
        eq(len(env.notice_files()), 1, "notices after the fallback failed")
        eq(len([q for q in fake.messages()
                if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP]), 1,
           "fallback SMS after the fallback failed")
        row = env.status(ONCALL[0])[1][0]
        eq((row["notice"], row["fallback_sms"]), ("sent", "sent"), "actions recorded")
        m = run(["-c", env.conf, "--metrics"]).out
        check('mail2sms_notices_total{result="sent"} 1' in m, m)
        check('mail2sms_fallbacks_total{result="sent"} 1' in m, m)


@case("no notice to the null sender or to the SMS domain itself")
def no_loops():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]], tracking={"on_failure": ["notify"]})
        script(fake, ONCALL[0], [FAILED])
        env.send(qid="Q1", sender="")
        env.send(qid="Q2", sender="pager@sms.example.com", subject="other")
        env.due()
        r = env.track("-v")
        eq(r.rc, 0, repr(r))
        eq(env.notice_files(), [], "notices")
        eq(sorted(x["notice"] for x in env.status(ONCALL[0])[1]), ["none", "none"], "notice")


@case("failures with two trackers at once: one notice and one fallback per SMS")
def failure_two_trackers():
    with FakeBird() as fake:
        numbers = ["+3163000%04d" % i for i in range(10)]
        env = Env(fake, numbers, tracking={"on_failure": ["notify", "fallback"],
                                            "fallback": BACKUP, "max_rate": 20})
        fake._call("POST", "/_fake/status", {"script": [FAILED]})
        script(fake, BACKUP, ["delivered"])
        env.send()
        env.due()
        procs = [spawn(["-c", env.conf, "--track"]) for _ in range(3)]
        for p in procs:
            p.communicate(timeout=60)
            eq(p.returncode, 0, "tracker exit")
        eq(len(env.notice_files()), 10, "notices")
        fb = [q["json"]["body"]["text"]["text"] for q in fake.messages()
              if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP]
        eq(len(fb), 10, "fallback SMS")
        eq(sorted(next(n for n in numbers if n in t) for t in fb), numbers, "one per number")


@case("a tracker killed halfway: the next one does it, once")
def killed_halfway():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]], bird={"timeout": 2, "connect_timeout": 2}, deadline=10,
                  state={"claim_ttl": 10},
                  tracking={"on_failure": ["notify", "fallback"], "fallback": "backup"})
        script(fake, ONCALL[0], [FAILED])
        env.send()
        fake.faults([{"endpoint": "message", "hang": 30, "times": 1}])
        env.due()
        p = spawn(["-c", env.conf, "--track"])
        t0 = time.time()
        while not gets(fake) and time.time() < t0 + 10:
            time.sleep(0.05)
        check(gets(fake), "the tracker did not read")
        p.kill()
        p.communicate()
        # Its claim holds: another tracker leaves the SMS alone ...
        env.track()
        eq(len(gets(fake)), 1, "reads while the dead tracker's claim holds")
        # ... until it runs out.
        time.sleep(max(0, t0 + 11 - time.time()))
        r = env.track()
        eq(r.rc, 0, repr(r))
        for _ in range(2):
            env.due()
            env.track()
        eq(len(env.notice_files()), 1, "notices")
        eq(len([q for q in fake.messages()
                if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP]), 1,
           "fallback SMS")


@case("a fallback SMS Bird defers is sent on a pass after the lease, once")
def fallback_deferred():
    with FakeBird() as fake:
        env = Env(fake, [ONCALL[0]], bird={"timeout": 2, "connect_timeout": 2}, deadline=6,
                  state={"claim_ttl": 10},
                  tracking={"on_failure": ["fallback"], "fallback": "backup"})
        script(fake, ONCALL[0], [FAILED])
        env.send()
        fake.faults([{"endpoint": "messages", "number": BACKUP, "status": 503}])
        env.due()
        t0 = time.time()
        r = env.track()
        eq(r.rc, 0, repr(r))
        check(time.time() - t0 < 15, "the pass took %.1fs" % (time.time() - t0))
        tries = len([q for q in fake.message_attempts()
                     if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP])
        check(1 <= tries <= 10, "%d tries of the fallback in one pass" % tries)
        eq(env.status(ONCALL[0])[1][0]["fallback_sms"], "sending", "deferred")
        fake.faults([])
        env.track()                             # its claim still holds
        eq(len(fake.messages()), 1, "sent while the claim holds")
        time.sleep(max(0, t0 + 11 - time.time()))
        env.track()
        fb = [q for q in fake.messages()
              if q["json"]["receiver"]["contacts"][0]["identifierValue"] == BACKUP]
        eq(len(fb), 1, "fallback SMS after the lease")
        eq(env.status(ONCALL[0])[1][0]["fallback_sms"], "sent", "recorded")


@case("PostgreSQL: two relays' trackers at once share the work, one notice per SMS")
def postgresql_two_relays():
    sys.path.insert(0, os.path.join(SRCDIR, "tests"))
    import pg_instance
    why = pg_instance.available()
    if why:
        if os.environ.get("M2S_REQUIRE_POSTGRESQL") == "1":
            raise AssertionError("PostgreSQL: %s" % why)
        skip(why)
    pg = pg_instance.PgInstance(fsync=False).create()
    try:
        with FakeBird() as fake:
            numbers = ["+3164000%04d" % i for i in range(20)]
            st = {"backend": "postgresql", "postgresql": pg.conninfo()}
            a = Env(fake, numbers, state=st, tracking={"on_failure": ["notify"], "max_rate": 20})
            b = Env(fake, numbers, state=st, tracking={"on_failure": ["notify"], "max_rate": 20})
            r = run(["--init-state", "-c", a.conf])
            eq(r.rc, 0, "--init-state: %r" % r)
            for i, n in enumerate(numbers):
                script(fake, n, [FAILED] if i % 2 else ["delivered"])
            a.send()
            pg.psql("UPDATE journal SET next_check = 0")
            procs = [spawn(["-c", e.conf, "--track"]) for e in (a, b)]
            for p in procs:
                p.communicate(timeout=60)
                eq(p.returncode, 0, "tracker exit")
            eq(sorted(g["number"] for g in gets(fake)), numbers, "each SMS read once")
            eq(len(a.notice_files()) + len(b.notice_files()), 10, "notices from both relays")
            # Either relay answers for the whole store.
            r, rows = b.status("QID1")
            eq(r.rc, 0, repr(r))
            eq(sorted((x["number"], x["outcome"]) for x in rows),
               sorted((n, "delivery_failed" if i % 2 else "delivered")
                      for i, n in enumerate(numbers)), "outcomes")
    finally:
        pg.stop()


@case("-n shows what it would read and do, and changes nothing")
def dry_run():
    with FakeBird() as fake:
        env = Env(fake)
        env.send()
        env.due()
        before = env.sql("SELECT * FROM journal ORDER BY number")
        r = env.track("-n")
        eq(r.rc, 0, repr(r))
        lines = [json.loads(l) for l in r.lines]
        eq(len(lines), 2, "lines: %r" % r.out)
        ids = {x[0] for x in env.sql("SELECT message_id FROM journal")}
        eq({l["url"].rsplit("/", 1)[1] for l in lines}, ids, "ids read")
        eq({l["method"] for l in lines}, {"GET"}, "methods")
        eq(gets(fake), [], "reads at the fake")
        eq(env.sql("SELECT * FROM journal ORDER BY number"), before, "journal")
        no_key(env, r)


@case("a journal of today's relays (schema 2) is migrated and its SMS followed")
def migrated():
    with FakeBird() as fake:
        env = Env(fake)
        os.makedirs(os.path.dirname(env.db_path), exist_ok=True)
        db = sqlite3.connect(env.db_path)
        db.executescript(
            "CREATE TABLE journal (mail_key TEXT NOT NULL, number TEXT NOT NULL,"
            " state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')), owner TEXT,"
            " lease_until REAL, message_id TEXT, updated REAL NOT NULL,"
            " PRIMARY KEY (mail_key, number));"
            "CREATE INDEX journal_updated ON journal (updated);"
            "CREATE TABLE events (kind TEXT NOT NULL, who TEXT NOT NULL, t REAL NOT NULL);"
            "CREATE TABLE suppressed (number TEXT PRIMARY KEY, n INTEGER NOT NULL,"
            " updated REAL NOT NULL);"
            "CREATE TABLE recent (number TEXT NOT NULL, digest TEXT NOT NULL,"
            " mail_key TEXT NOT NULL, t REAL NOT NULL, PRIMARY KEY (number, digest));"
            "CREATE TABLE rate_cap (bucket TEXT PRIMARY KEY, next_at REAL NOT NULL);"
            "CREATE TABLE outage (name TEXT PRIMARY KEY, since REAL NOT NULL,"
            " next_probe REAL NOT NULL, prober TEXT, probe_until REAL NOT NULL DEFAULT 0);"
            "PRAGMA user_version = 2;")
        db.execute("INSERT INTO journal VALUES ('mid:old@x', ?, 'sent', 'o', NULL, 'bird-old', ?)",
                   (ONCALL[0], time.time() - 60))
        db.commit()
        db.close()
        fake._call("POST", "/_fake/status", {"id": "bird-old", "number": ONCALL[0],
                                             "script": ["delivered"]})
        r = env.track()
        eq(r.rc, 0, repr(r))
        eq(env.sql("PRAGMA user_version"), [(3,)], "schema")
        eq([g["id"] for g in gets(fake)], ["bird-old"], "reads")
        r, rows = env.status("bird-old")
        eq([(x["number"], x["outcome"]) for x in rows], [(ONCALL[0], "delivered")], "status")
        # It still keeps a retry of the mail from sending again.
        r = run(["-c", env.conf, "-q", "Q", "--", "oncall@sms.example.com"],
                mail(message_id="<old@x>"))
        eq(r.rc, 0, repr(r))
        eq([q["json"]["receiver"]["contacts"][0]["identifierValue"] for q in fake.messages()],
           [ONCALL[1]], "sent on the retry")


@case("--status by queue id, Message-ID, number and alias; --json; exit 1 for nothing")
def status_queries():
    with FakeBird() as fake:
        env = Env(fake)
        msg = env.send(qid="4F3A21C0E2", subject="Disk full on db1")
        env.send(rcpt=ONCALL[1] + "@sms.example.com", qid="5A0B", subject="second")
        mid = message_id(msg)
        for q, want in (("4F3A21C0E2", 2), (mid, 2), (mid.strip("<>"), 2),
                        (ONCALL[1], 2), ("oncall", 2), ("ONCALL", 2), ("5A0B", 1)):
            r, rows = env.status(q)
            eq((r.rc, len(rows)), (0, want), "--status %s: %r" % (q, r))
        r, rows = env.status("4F3A21C0E2")
        eq(set(rows[0]), {"accepted", "queue_id", "message_id", "subject", "sender", "recipient",
                          "alias", "number", "bird_id", "status", "status_at", "reason",
                          "source", "outcome", "final", "checks", "parts", "fallback",
                          "notice", "fallback_sms"}, "fields")
        eq(rows[0]["subject"], "Disk full on db1", "subject")
        eq(rows[0]["sender"], SENDER, "sender")
        eq(rows[0]["status"], "accepted", "status")
        r, _ = env.status("oncall", json_out=False)
        eq(r.rc, 0, repr(r))
        eq(len(r.lines), 2, "text lines")
        check(all("to=<" in l and "number=+31" in l and "status=accepted" in l
                  for l in r.lines), r.out)
        r, rows = env.status("nobody")
        eq((r.rc, rows), (1, []), "nothing matched")
        r = run(["-c", os.path.join(env.dir, "missing.conf"), "--status", "x"])
        eq(r.rc, 78, "no configuration: %r" % r)
        os.chmod(os.path.dirname(env.db_path), 0o000)
        try:
            if os.geteuid() != 0:
                r = run(["-c", env.conf, "--status", "x"])
                eq(r.rc, 75, "store unreadable: %r" % r)
        finally:
            os.chmod(os.path.dirname(env.db_path), 0o700)


@case("--metrics parsed by prometheus_client; counters survive purging")
def metrics():
    # Debian's python3-prometheus-client, in this interpreter or, when the
    # tests run under another python3 (a pyenv one), in /usr/bin/python3.
    try:
        from prometheus_client.parser import text_string_to_metric_families
        parse_text = None
    except ImportError:
        text_string_to_metric_families = None
        probe = subprocess.run(["/usr/bin/python3", "-c", "import prometheus_client.parser"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) \
            if os.path.exists("/usr/bin/python3") else None
        if not probe or probe.returncode != 0:
            if os.environ.get("M2S_REQUIRE_POSTFIX") == "1":
                raise AssertionError("python3-prometheus-client is not installed")
            skip("python3-prometheus-client is not installed")

        def parse_text(text):
            code = ("import json, sys\n"
                    "from prometheus_client.parser import text_string_to_metric_families\n"
                    "out = [[s.name, sorted(s.labels.items()), s.value]\n"
                    "       for f in text_string_to_metric_families(sys.stdin.read())\n"
                    "       for s in f.samples]\n"
                    "print(json.dumps(out))\n")
            r = subprocess.run(["/usr/bin/python3", "-c", code], input=text.encode(),
                               stdout=subprocess.PIPE, check=True)
            return [(n, tuple(tuple(kv) for kv in labels), v)
                    for n, labels, v in json.loads(r.stdout)]
    with FakeBird() as fake:
        env = Env(fake, limits={"duplicate_window": 600})
        script(fake, ONCALL[0], [FAILED])
        env.send(qid="A", subject="same")
        env.send(qid="B", subject="same")       # dropped: the same text again
        env.due()
        env.track()

        def parse():
            r = run(["-c", env.conf, "--metrics"])
            eq(r.rc, 0, repr(r))
            out = {}
            if parse_text:
                for name, labels, value in parse_text(r.out):
                    out[(name, labels)] = value
                return out
            for fam in text_string_to_metric_families(r.out):
                for s in fam.samples:
                    out[(s.name, tuple(sorted(s.labels.items())))] = s.value
            return out
        m = parse()
        eq(m[("mail2sms_sms_final_total", (("status", "delivery_failed"),))], 1, "failed")
        eq(m[("mail2sms_sms_final_total", (("status", "delivered"),))], 1, "delivered")
        eq(m[("mail2sms_sms_dropped_total", (("reason", "duplicate"),))], 2, "dropped")
        eq(m[("mail2sms_tracking_passes_total", ())], 1, "passes")
        eq(m[("mail2sms_sms_tracked", ())], 0, "tracked")
        env.send(qid="C", subject="another")
        m = parse()
        eq(m[("mail2sms_sms_tracked", ())], 2, "tracked")
        check(0 <= m[("mail2sms_sms_tracked_oldest_age_seconds", ())] < 60, "oldest age")
        # Purge old journal rows: the counters stay.
        env.sql("UPDATE journal SET updated = 1000 WHERE mail_key NOT LIKE '%another%'")
        env.sql("UPDATE journal SET updated = 1000")
        env.send(qid="D", subject="purge now")  # a run purges
        eq(env.sql("SELECT count(*) FROM journal WHERE updated = 1000"), [(0,)], "purged")
        m2 = parse()
        for k in (("mail2sms_sms_final_total", (("status", "delivery_failed"),)),
                  ("mail2sms_sms_dropped_total", (("reason", "duplicate"),))):
            eq(m2[k], m[k], "%s after purging" % (k,))


main()
