#!/usr/bin/env python3
"""mail2sms --lmtp behind a real Postfix, through its lmtp(8) client.

A private Postfix instance (tests/postfix_instance.py) routes
lmtp.sms.example.com to "lmtp:inet:127.0.0.1:PORT", where mail2sms --lmtp
runs as the test run's throw-away user, with the journal in its own
directory, against the fake Bird API. Postfix's lmtp client sends several
recipients in one transaction (no recipient limit) and reuses its
connection; mail2sms logs under Postfix's queue id (from the Received:
header Postfix wrote). lmtp_send_xforward_command = yes makes Postfix
send XFORWARD too, which the service accepts.

Needs root and the Postfix package; skipped otherwise (a failure under
M2S_REQUIRE_POSTFIX=1).
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from lmtptest import *  # noqa: E402,F403
import postfix_instance as pfi  # noqa: E402

REQUIRE = os.environ.get("M2S_REQUIRE_POSTFIX") == "1"
STEP = 30
DEADLINE = 8
SENDER = "nagios@monitoring.example.com"
DOMAIN = "lmtp.sms.example.com"
UNIX_DOMAIN = "unix.sms.example.com"       # through the unix socket
TEAM = ["+31611111111", "+31622222222", "+31633333333"]

why = pfi.unmet(BIN)
if why:
    if REQUIRE:
        print("FAIL - prerequisites for the Postfix test: %s (M2S_REQUIRE_POSTFIX=1)" % why)
        print("0 passed, 1 failed")
        sys.exit(1)
    skip(why)
    main()

USER = pfi.test_user_name()


def prepare():
    p = pfi.prepare_run("m2s-lmtp-", USER, BIN)
    p["conf"] = os.path.join(p["m2s"], "mail2sms.conf")
    p["port"] = free_port()
    # a unix socket too, as the shipped socket unit makes it: 0660, group postfix
    run_dir = os.path.join(p["base"], "run")
    os.makedirs(run_dir)
    os.chown(run_dir, p["uid"], p["gid"])
    p["sock"] = os.path.join(run_dir, "lmtp")
    return p


def write_m2s_config(aliases=None, broken=False):
    conf = write_config(P["m2s"], FAKE.url,
                        bird={"timeout": 3, "connect_timeout": 2, "outage_probe": 0},
                        recipients={"aliases": aliases or {"oncall": list(ONCALL),
                                                           "team": list(TEAM)}},
                        service={"listen": ["inet:127.0.0.1:%d" % P["port"],
                                            "unix:" + P["sock"]],
                                 "workers": 2},
                        deadline=DEADLINE)
    if broken:
        with open(conf, "a") as f:
            f.write("message = { format = \"{subject}\" \n")   # no closing brace
    pfi.give_to_pipe_user(P, conf)
    return conf


class Svc(Service):
    """The service as the throw-away user, the way the systemd unit runs it."""

    def __init__(self):
        self.conf = P["conf"]
        self.errpath = os.path.join(P["base"], "service-%d.err" % time.monotonic_ns())
        self.errfile = open(self.errpath, "w+b")
        self.proc = subprocess.Popen(["runuser", "-u", USER, "--", P["bin"], "--lmtp", "-v",
                                      "-c", P["conf"]], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.errfile,
                                     env=clean_env())
        self.addr = ("127.0.0.1", P["port"])
        self.wait_ready()
        # The unix socket is the second listener: it may come a moment
        # after the inet one answers.
        t0 = time.monotonic()
        while not os.path.exists(P["sock"]) and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        import grp
        os.chown(P["sock"], -1, grp.getgrnam("postfix").gr_gid)

    def pid(self):
        """The pid of mail2sms itself (runuser's child)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.split()
        return int(out[0]) if out else self.proc.pid

    def signal(self, sig):
        os.kill(self.pid(), sig)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return self.proc.returncode


def build_instance(p):
    pf = pfi.PostfixInstance(p["base"])
    pf.set_params(lmtp_send_xforward_command="yes",
                  # a refused or lost connection is retried soon, not in 600 s
                  lmtp_connect_timeout="5s")
    pf.add_service("lmtp      unix  -       -       n       -       -       lmtp")
    # docs/postfix.md's entry of its own, for the unix socket
    pf.add_service("sms-lmtp  unix  -       -       n       -       -       lmtp")
    pf.add_service("sink      unix  -       n       n       -       -       pipe\n"
                   "  flags=R null_sender= user=%s argv=/bin/sh %s %s ${queue_id}"
                   % (USER, p["sink_script"], p["sink"]))
    pf.add_transport(DOMAIN, "lmtp:inet:127.0.0.1:%d" % p["port"])
    pf.add_transport(UNIX_DOMAIN, "sms-lmtp:unix:" + p["sock"])
    pf.add_transport("monitoring.example.com", "sink:")
    pf.write_config()
    return pf


def receivers(req):
    j = req.get("json") or {}
    return [c.get("identifierValue") for c in
            (j.get("receiver") or {}).get("contacts") or []]


def accepted_for(number):
    return [r for r in FAKE.messages() if number in receivers(r)]


def send(rcpts, **kw):
    kw.setdefault("to", ", ".join(rcpts))
    msg = mail(**kw)
    PF.sendmail(msg, rcpts, sender=SENDER)
    return PF.queue_id_of(message_id(msg), STEP), msg


def status(qid, rcpt, timeout=STEP):
    return PF.wait_status(qid, rcpt, timeout)


def removed(qid):
    PF.wait_log(r"\b%s: removed" % qid, STEP, "%s: removed" % qid)
    check(PF.queued(qid) is None, "%s still in the queue" % qid)


def fresh():
    PF.delete("ALL")
    write_m2s_config()
    FAKE.reset()


def as_user(argv):
    subprocess.run(["runuser", "-u", USER, "--"] + argv, check=True)


# ---------------------------------------------------------------- cases

@case("plain alert through lmtp: one SMS, 250 on Postfix's line, its queue id in ours")
def plain_alert():
    fresh()
    rcpt = "+31644444444@" + DOMAIN
    qid, _ = send([rcpt], subject="Disk full")
    st, line = status(qid, rcpt)
    eq(st, "sent", "status (%s)" % line)
    check("relay=127.0.0.1[127.0.0.1]:%d" % P["port"] in line, line)
    check(re.search(r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok\)$", line), line)
    removed(qid)
    eq(len(accepted_for("+31644444444")), 1, "SMS")
    check(re.search(r"^mail2sms: %s: to=<%s>, number=\+31644444444, status=sent"
                    % (qid, re.escape(rcpt)), SVC.log(), re.M),
          "no log line under Postfix's queue id:\n" + SVC.log()[-1500:])


@case("the unix socket (0660, group postfix) through an lmtp entry of its own")
def unix_socket():
    fresh()
    rcpt = "+31645454545@" + UNIX_DOMAIN
    qid, _ = send([rcpt], subject="Over the unix socket")
    st, line = status(qid, rcpt)
    eq(st, "sent", "status (%s)" % line)
    check(re.search(r"postfix-m2stest/lmtp\[\d+\]: %s: to=<%s>, relay=%s\[%s\],.*"
                    r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok\)$"
                    % (qid, re.escape(rcpt), re.escape(PF.hostname), re.escape(P["sock"])),
                    line), line)
    removed(qid)
    eq(len(accepted_for("+31645454545")), 1, "SMS")


@case("three addresses in one transaction, one number failing: per-recipient "
      "replies; the retry sends only the missing one")
def three_one_failing():
    fresh()
    bad = "+31655555555"
    rcpts = ["oncall@" + DOMAIN, bad + "@" + DOMAIN, "+31666666666@" + DOMAIN]
    FAKE.faults([{"endpoint": "messages", "number": bad, "status": 503}])
    qid, _ = send(rcpts, subject="DB down")
    got = {r: status(qid, r, STEP + DEADLINE) for r in rcpts}
    eq([got[r][0] for r in rcpts], ["sent", "deferred", "sent"],
       "statuses:\n%s" % "\n".join(l for _, l in got.values()))
    check(re.search(r"dsn=4\.4\.\d, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] "
                    r"said: 451 4\.4\.\d .*%s" % re.escape(bad), got[rcpts[1]][1]),
          got[rcpts[1]][1])
    # one transaction: one run of the job for the three of them
    runs = re.findall(r"^mail2sms: %s: \d+ messages?: " % qid, SVC.log(), re.M)
    eq(len(runs), 1, "runs of the job for %s" % qid)
    eq(len(accepted_for(bad)), 0, "SMS to the failing number")
    FAKE.faults([])
    PF.flush()
    PF.wait_log(r"\b%s: to=<%s>,.*status=sent" % (qid, re.escape(rcpts[1])), STEP,
                "%s: the failed number sent after the retry" % qid)
    removed(qid)
    for n in ONCALL + [bad, "+31666666666"]:
        eq(len(accepted_for(n)), 1, "SMS to %s" % n)
    eq(len(FAKE.messages()), 4, "SMS in all")


@case("unknown recipient: bounced with 5.1.1, the bounce reaches the sender")
def unknown_bounced():
    fresh()
    rcpt = "nobody@" + DOMAIN
    qid, _ = send([rcpt], subject="Who")
    st, line = status(qid, rcpt)
    eq(st, "bounced", "status (%s)" % line)
    check(re.search(r"dsn=5\.1\.1, status=bounced \(host \S+ said: 550 5\.1\.1 unknown "
                    r"recipient", line), line)
    PF.wait_log(r"\b%s: sender non-delivery notification" % qid, STEP, "the bounce")
    removed(qid)
    eq(FAKE.message_attempts(), [], "requests to Bird")


@case("API down: deferred (4.x.x); after recovery a flush delivers once")
def api_down_then_up():
    fresh()
    rcpt = "oncall@" + DOMAIN
    FAKE.faults([{"endpoint": "messages", "status": 503, "times": -1}])
    qid, _ = send([rcpt], subject="API down")
    st, line = status(qid, rcpt, STEP + DEADLINE)
    eq(st, "deferred", "status (%s)" % line)
    check(re.search(r"said: 451 4\.4\.\d ", line), line)
    eq(len(FAKE.messages()), 0, "accepted while down")
    FAKE.faults([])
    PF.flush()
    PF.wait_log(r"\b%s: to=<%s>,.*status=sent" % (qid, re.escape(rcpt)), STEP, "sent")
    removed(qid)
    for n in ONCALL:
        eq(len(accepted_for(n)), 1, "SMS to %s" % n)


@case("the service killed in the middle of a batch, then restarted: exactly once")
def killed_mid_batch():
    global SVC
    fresh()
    rcpt = "oncall@" + DOMAIN
    # the first number is answered, the second hangs: one done, one in flight
    FAKE.faults([{"endpoint": "messages", "hang": 20, "skip": 1}])
    qid, _ = send([rcpt], subject="Crash")
    deadline = time.time() + STEP
    while len(FAKE.message_attempts()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    eq(len(FAKE.message_attempts()), 2, "one answered, one hanging")
    time.sleep(0.3)             # the accepted number reaches the journal
    os.kill(SVC.pid(), signal.SIGKILL)
    SVC.proc.wait(10)
    st, line = status(qid, rcpt)
    eq(st, "deferred", "Postfix after the crash (%s)" % line)
    done = [n for n in ONCALL if accepted_for(n)]
    eq(len(done), 1, "accepted before the crash")
    FAKE.faults([])
    # The dead process's claim on the other number lasts its lease; end it
    # as time would.
    db = os.path.join(P["m2s"], "state", "state.sqlite")
    as_user(["/usr/bin/python3", "-c", "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); "
             "d.execute(\"UPDATE journal SET lease_until = 0 WHERE state = 'claimed'\"); "
             "d.commit()", db])
    SVC = Svc()
    PF.flush()
    PF.wait_log(r"\b%s: to=<%s>,.*status=sent" % (qid, re.escape(rcpt)), STEP,
                "sent after the restart")
    removed(qid)
    for n in ONCALL:
        eq(len(accepted_for(n)), 1, "SMS to %s" % n)


@case("SIGHUP: a good configuration is used for the next mail, a bad one keeps the old")
def sighup_reload():
    fresh()
    rcpt = "oncall@" + DOMAIN
    write_m2s_config(aliases={"oncall": ["+31677777777"]})
    SVC.signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: configuration %s loaded again" % P["conf"] in SVC.log(),
               "the reload")
    qid, _ = send([rcpt], subject="After reload")
    eq(status(qid, rcpt)[0], "sent", "status")
    eq(len(accepted_for("+31677777777")), 1, "SMS to the new alias number")
    eq(sum(len(accepted_for(n)) for n in ONCALL), 0, "SMS to the old ones")
    write_m2s_config(broken=True)
    SVC.signal(signal.SIGHUP)
    wait_until(lambda: "is not usable; keeping the configuration in use" in SVC.log(),
               "the refusal")
    check(re.search(r"configuration: .*mail2sms\.conf:\d+", SVC.log()),
          "the problem, with its line:\n" + SVC.log()[-1500:])
    qid, _ = send([rcpt], subject="After a bad reload")
    eq(status(qid, rcpt)[0], "sent", "status with the kept configuration")
    eq(len(accepted_for("+31677777777")), 2, "SMS to the kept alias number")
    eq(SVC.proc.poll(), None, "the service is still running")


@case("SIGTERM while a mail is being sent: it is answered, then the service exits 0")
def sigterm_finishes():
    global SVC
    fresh()
    rcpt = "+31688888888@" + DOMAIN
    FAKE.latency(2.0)
    qid, _ = send([rcpt], subject="Slow")
    deadline = time.time() + STEP
    while not FAKE.message_attempts() and time.time() < deadline:
        time.sleep(0.05)
    SVC.signal(signal.SIGTERM)
    eq(SVC.proc.wait(STEP), 0, "exit status")
    FAKE.latency(0)
    st, line = status(qid, rcpt)
    eq(st, "sent", "the mail in flight (%s)" % line)
    eq(len(accepted_for("+31688888888")), 1, "SMS")
    check("lmtp: stopping: 1 mail being sent" in SVC.log(), SVC.log()[-1500:])
    SVC = Svc()


def wait_until(pred, what, timeout=STEP):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s\n%s" % (what, SVC.log()[-1500:]))
        time.sleep(0.05)


# ---------------------------------------------------------------- run

P = PF = FAKE = SVC = None


def cases():
    global SVC
    SVC = Svc()
    try:
        main()
    finally:
        if SVC.proc.poll() is None:
            SVC.stop()
        if os.environ.get("M2S_SHOW_SERVICE_LOG"):
            print(SVC.log())


def setup(paths, fake):
    global P, PF, FAKE
    P, FAKE = paths, fake
    write_m2s_config()
    PF = build_instance(P)
    return PF


pfi.run_module(prepare, FakeBird, setup, cases, describe=", mail2sms --lmtp behind it")
