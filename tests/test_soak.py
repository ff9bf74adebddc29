#!/usr/bin/env python3
"""Soak test: 1,000 mails through a private Postfix while the API misbehaves.

One private Postfix instance (tests/postfix_instance.py) routes
team@sms.example.com (an alias of three numbers) to mail2sms, which talks to
the fake Bird API (tests/fake_bird.py).  The fake fails 30 % of the message
requests at random: 500, 503, 429 (in alternating phases with and without
Retry-After), a hang longer than bird.timeout, or a dropped connection.
Neither a hang nor a drop ever reaches the fake's "accept" step, so any
second accepted request for the same mail and number is a real duplicate.

1,000 mails (M2S_SOAK_MAILS lowers the count for a quick local run) go in
over SMTP on loopback.  When the queue has drained the test checks, from the
fake's records and the Postfix log:

  - every number got exactly one accepted SMS per mail (no duplicate, no loss);
  - no mail bounced, no non-delivery notification was made;
  - the queue is empty and every mail's last delivery line is status=sent;
  - every mail2sms run ended inside its deadline.

It prints the figures (requests, faults by kind, Postfix deferrals, wall
time, queue size, latency, run times, memory) as a Markdown table;
M2S_SOAK_REPORT=FILE also writes them to FILE.

Needs root and the Postfix package, like test_postfix.py: without them the
test is skipped (exit 77) unless M2S_REQUIRE_POSTFIX=1, which makes that a
failure.
"""

import collections
import os
import re
import smtplib
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import *  # noqa: E402,F403
import postfix_instance as pfi  # noqa: E402

REQUIRE = os.environ.get("M2S_REQUIRE_POSTFIX") == "1"
MAILS = int(os.environ.get("M2S_SOAK_MAILS") or 1000)
FAULT_RATE = 0.30
FAULT_ACTIONS = ["500", "503", "429", "hang", "drop"]
HANG = 4                    # seconds the fake holds a "hang" (> bird.timeout)
RETRY_AFTER = 1             # Retry-After of a 429 in the phases that send one
PHASE = 5.0                 # seconds per fault phase (Retry-After on / off)
SEED = 6006
TIMEOUT = 2                 # bird.timeout
CONNECT_TIMEOUT = 2         # bird.connect_timeout
DEADLINE = 15               # mail2sms's deadline
CONCURRENCY = 16            # sms process limit and destination concurrency
SUBMITTERS = 4              # SMTP connections submitting at once
OVERALL = 15 * 60           # give up after this long
SENDER = "nagios@monitoring.example.com"
SMS_DOMAIN = "sms.example.com"
RCPT = "team@" + SMS_DOMAIN
TEAM = ["+31610000001", "+31610000002", "+31610000003"]
ETC = os.path.join(SRCDIR, "etc")
REPRO = ("cd BUILDDIR && make -j2 && M2S_REQUIRE_POSTFIX=1 M2S_BIN=$PWD/src/mail2sms "
         "M2S_SRCDIR=/path/to/mail2sms M2S_BUILDDIR=$PWD "
         "python3 /path/to/mail2sms/tests/test_soak.py")


def fail_hard(why):
    print("FAIL - prerequisites for the soak test: %s (M2S_REQUIRE_POSTFIX=1)" % why)
    print("0 passed, 1 failed")
    sys.exit(1)


why = pfi.unmet(BIN)
if why:
    if REQUIRE:
        fail_hard(why)
    skip(why)
    main()

SHIPPED_ENTRY, SHIPPED_MAIN, SHIPPED_TRANSPORT, PIPE_USER = pfi.shipped(ETC)


# ---------------------------------------------------------------- set-up

def prepare():
    """Everything outside Postfix (see postfix_instance.prepare_run); bounces,
    of which there must be none, are kept in the sink as evidence."""
    return pfi.prepare_run("m2s-soak-", PIPE_USER, BIN)


def write_m2s_config(p, api_url):
    # The outage memory is off here: this soak is about random faults
    # within runs, where a run whose three numbers all hang must not hold
    # back the next mails (tests/test_outage.py covers the memory).
    conf = write_config(p["m2s"], api_url,
                        bird={"timeout": TIMEOUT, "connect_timeout": CONNECT_TIMEOUT,
                              "outage_probe": 0},
                        recipients={"aliases": {"team": list(TEAM)}},
                        deadline=DEADLINE)
    pfi.give_to_pipe_user(p, conf)
    p["conf"] = conf
    p["state"] = os.path.join(p["m2s"], "state")
    return conf


def sms_entry(p):
    """The shipped master.cf entry with the test's binary, "-c conf" and the
    soak's process limit."""
    entry = re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (p["bin"], p["conf"]),
                   SHIPPED_ENTRY, count=1)
    first, rest = (entry.split("\n", 1) + [""])[:2]
    cols = first.split()
    if len(cols) < 8 or cols[0] != "sms":
        raise ValueError("unexpected shipped entry: " + first)
    cols[6] = str(CONCURRENCY)
    return " ".join(cols) + ("\n" + rest if rest else "")


def build_instance(p):
    pf = pfi.PostfixInstance(p["base"])
    params = dict(SHIPPED_MAIN)
    params.update({
        "transport_maps": "hash:" + os.path.join(pf.config_dir, "transport"),
        "sms_destination_concurrency_limit": str(CONCURRENCY),
        "sms_initial_destination_concurrency": str(CONCURRENCY),
        # pipe(8) must never kill a run: mail2sms defers at its deadline.
        "sms_time_limit": "%ds" % (4 * DEADLINE),
        # Deferred mail comes back within seconds, not minutes.
        "queue_run_delay": "2s",
        "minimal_backoff_time": "2s",
        "maximal_backoff_time": "4s",
    })
    pf.set_params(**params)
    pf.add_service(sms_entry(p))
    pf.add_service("sink      unix  -       n       n       -       -       pipe\n"
                   "  flags=R null_sender= user=%s argv=/bin/sh %s %s ${queue_id}"
                   % (PIPE_USER, p["sink_script"], p["sink"]))
    for key, value in SHIPPED_TRANSPORT:
        pf.add_transport(key, value)
    pf.add_transport("monitoring.example.com", "sink:")
    pf.write_config()
    return pf


# ---------------------------------------------------------------- the load

def soak_mail(n):
    mid = "<soak-%d.%s@soak.m2s-test.invalid>" % (n, uuid.uuid4().hex[:12])
    return mail(subject="soak %d" % n,
                body="Soak alert number %d of %d.\n" % (n, MAILS),
                frm=SENDER, to=RCPT, message_id=mid)


class Submitter(threading.Thread):
    """Submits mails n = start, start + step, ... over one SMTP session and
    records (queue id, submission time) for each."""

    def __init__(self, port, start, step, out, errors):
        super().__init__(daemon=True)
        self.port, self.start_n, self.step = port, start, step
        self.out, self.errors = out, errors

    def run(self):
        try:
            s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
            s.ehlo("client.m2s-test.invalid")
            for n in range(self.start_n, MAILS, self.step):
                msg = soak_mail(n)
                code, resp = s.mail(SENDER)
                if code != 250:
                    raise RuntimeError("mail %d: MAIL FROM: %d %s" % (n, code, resp))
                code, resp = s.rcpt(RCPT)
                if code not in (250, 251):
                    raise RuntimeError("mail %d: RCPT TO: %d %s" % (n, code, resp))
                code, resp = s.data(msg)
                t = time.time()
                if code != 250:
                    raise RuntimeError("mail %d: DATA: %d %s" % (n, code, resp))
                mq = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
                self.out[n] = (mq.group(1).decode() if mq else None, t)
            s.quit()
        except Exception as e:  # reported by the case
            self.errors.append(e)


class Sampler(threading.Thread):
    """Every half second: the peak resident size of this instance's running
    mail2sms processes (VmHWM from /proc; other mail2sms processes on the
    machine are told apart by the configuration file on the command line)."""

    def __init__(self, conf):
        super().__init__(daemon=True)
        self.conf = conf.encode()
        self.stop = threading.Event()
        self.peak_kb = 0
        self.seen = set()

    def run(self):
        while not self.stop.wait(0.5):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/comm" % pid) as f:
                        if f.read().strip() != "mail2sms":
                            continue
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if self.conf not in f.read().split(b"\0"):
                            continue
                    with open("/proc/%s/status" % pid) as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                    self.seen.add(pid)
                except (OSError, ValueError):
                    pass


def set_phase(k):
    """Fault phase k: random faults; 429s carry Retry-After in even phases."""
    more = {"retry_after": RETRY_AFTER} if k % 2 == 0 else {}
    FAKE.random_faults(FAULT_RATE, seed=SEED + k, actions=FAULT_ACTIONS, hang=HANG, **more)


# ---------------------------------------------------------------- analysis

def mail_no(req):
    """The soak mail number a message request belongs to (from reference,
    the Message-ID), or None."""
    j = req.get("json") or {}
    mr = re.search(r"soak-(\d+)\.", str(j.get("reference") or ""))
    return int(mr.group(1)) if mr else None


def receivers(req):
    j = req.get("json") or {}
    return [c.get("identifierValue") for c in
            (j.get("receiver") or {}).get("contacts") or []]


def sms_text(req):
    try:
        return req["json"]["body"]["text"]["text"]
    except (KeyError, TypeError):
        return ""


def percentile(values, q):
    if not values:
        return 0.0
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q * len(v) + 0.5)) - 1))
    return v[k]


STATUS_RX = re.compile(r"\b([0-9A-Za-z]{8,}): to=<([^>]*)>,.*\bdelays=([\d./]+),"
                       r".*\bstatus=(\w+)")


# ---------------------------------------------------------------- the case

FIG = collections.OrderedDict()
FACTS = {}


@case("a hung request does not hold back the other numbers of the mail")
def hang_does_not_block():
    # What the soak's duplicates came from: with the first request of a batch
    # hanging, the others waited for its connection (CURLOPT_PIPEWAIT on an
    # HTTP/1.1 server) while their own bird.timeout ran, went out just before
    # it expired, and their answers were lost and the numbers sent again.
    FAKE.reset()
    d = tmpdir("m2s-soak-direct-")
    conf = write_config(d, FAKE.url,
                        bird={"timeout": TIMEOUT, "connect_timeout": CONNECT_TIMEOUT},
                        recipients={"aliases": {"team": list(TEAM)}},
                        deadline=DEADLINE)
    FAKE.faults([{"endpoint": "messages", "hang": HANG, "times": 1}])
    try:
        r = run(["-c", conf, "-f", SENDER, "--", RCPT],
                mail(subject="one request hangs", to=RCPT), timeout=DEADLINE + 10)
        reqs = FAKE.message_attempts()
    finally:
        FAKE.faults([])
        FAKE.reset()
    eq(r.rc, 0, "exit status (%r)" % r)
    first = {}
    for x in reqs:
        first.setdefault(receivers(x)[0], x["t"])
    eq(sorted(first), sorted(TEAM), "numbers requested")
    t0 = min(first.values())
    offsets = ", ".join("%s +%.2f s" % (n, first[n] - t0) for n in TEAM)
    check(max(first.values()) - t0 < TIMEOUT / 2.0,
          "the other numbers' first requests waited for the hung one (%s; "
          "bird.timeout %d s)" % (offsets, TIMEOUT))
    for n in TEAM:
        eq(sum(1 for x in reqs if receivers(x) == [n] and x["status"] == 202), 1,
           "accepted SMS to %s" % n)


@case("soak: %d mails to an alias of 3 numbers, %d%% random API faults" % (MAILS, FAULT_RATE * 100))
def soak():
    FAKE.reset()
    t0 = time.time()
    phase_starts = [t0]
    set_phase(0)
    sampler = Sampler(P["conf"])
    sampler.start()
    submitted, errors = {}, []
    subs = [Submitter(PF.port, i, SUBMITTERS, submitted, errors) for i in range(SUBMITTERS)]
    for s in subs:
        s.start()
    max_queue = 0
    last_flush = time.time()
    accepted_n = 0
    drained_at = None
    try:
        while True:
            now = time.time()
            if now - phase_starts[-1] >= PHASE:
                set_phase(len(phase_starts))
                phase_starts.append(time.time())
            qsize = len(PF.queue())
            max_queue = max(max_queue, qsize)
            alive = any(s.is_alive() for s in subs)
            if errors:
                raise AssertionError("submission failed: %s" % errors[0])
            if now - last_flush >= 10:
                PF.flush()
                last_flush = now
            if not alive and qsize == 0:
                accepted_n = sum(1 for r in FAKE.messages())
                if accepted_n >= 3 * MAILS:
                    drained_at = time.time()
                    break
            check(now - t0 < OVERALL,
                  "not drained after %ds: %d queued, %d mails submitted, %d SMS accepted"
                  % (OVERALL, qsize, len(submitted), accepted_n))
            time.sleep(0.5)
    finally:
        sampler.stop.set()
        FAKE.faults([])
    eq(len(submitted), MAILS, "mails submitted")
    submit_time = max(t for _, t in submitted.values()) - t0
    wall = drained_at - t0
    # Let postlogd write the last lines, then read everything.
    time.sleep(1.0)
    reqs = FAKE.requests()
    log = PF.log()
    attempts = [r for r in reqs if r["method"] == "POST" and r["path"].endswith("/messages")]
    others = [r for r in reqs if r not in attempts]
    eq(others, [], "requests other than message POSTs")

    # ---- the fake's view: exactly one accepted request per mail and number
    per_pair = collections.defaultdict(list)
    stray = []
    for r in attempts:
        n = mail_no(r)
        rc = receivers(r)
        if n is None or n >= MAILS or len(rc) != 1 or rc[0] not in TEAM:
            stray.append(r)
            continue
        per_pair[(n, rc[0])].append(r)
        check(re.search(r"(^|\W)soak %d(\W|$)" % n, sms_text(r)),
              "request %d for mail %d does not carry 'soak %d': %r"
              % (r["seq"], n, n, sms_text(r)[:80]))
    eq(len(stray), 0, "requests that belong to no soak mail and team number")
    accepted = [r for r in attempts if r["status"] == 202]
    dups, lost = [], []
    unanswered = 0              # accepted, writing the answer failed: client gone
    for n in range(MAILS):
        for num in TEAM:
            rs = per_pair.get((n, num), [])
            ok = [r for r in rs if r["status"] == 202]
            unanswered += sum(1 for r in ok if r.get("client_gone"))
            if not ok:
                lost.append((n, num))
            elif len(ok) > 1:
                dups.append((n, num, rs))
    faulted = [r for r in attempts if r.get("fault")]
    check(all(r["status"] != 202 for r in faulted), "a faulted request was accepted")
    kinds = collections.Counter(r["fault"] for r in faulted)
    # 429s by phase: even phases sent Retry-After.
    ra_with = ra_without = 0
    for r in faulted:
        if r["fault"] == "status 429":
            k = sum(1 for ps in phase_starts if ps <= r["t"]) - 1
            if k % 2 == 0:
                ra_with += 1
            else:
                ra_without += 1
    other_fail = [r for r in attempts if not r.get("fault") and r["status"] != 202]

    # ---- Postfix's view
    lines = collections.defaultdict(list)     # qid -> [(status, d, line)]
    for mm in STATUS_RX.finditer(log):
        qid, rcpt, delays, status = mm.groups()
        if rcpt != RCPT:
            continue
        d = float(delays.split("/")[-1])
        lines[qid].append((status, d))
    bounced = len(re.findall(r"status=bounced", log))
    ndn = len(re.findall(r"sender non-delivery notification", log))
    deferrals = sum(1 for v in lines.values() for s, _ in v if s == "deferred")
    not_sent = []
    for n, (qid, _) in sorted(submitted.items()):
        v = lines.get(qid) or []
        sent = [s for s, _ in v if s == "sent"]
        if not v or v[-1][0] != "sent" or len(sent) != 1:
            not_sent.append((n, qid, [s for s, _ in v]))
    runs = [d for v in lines.values() for _, d in v]
    left = PF.queue()

    # ---- latency: submission -> last accepted SMS of the mail
    lat = []
    for n, (qid, ts) in submitted.items():
        last = [r["t"] for num in TEAM for r in per_pair.get((n, num), [])
                if r["status"] == 202]
        if len(last) == len(TEAM):
            lat.append(max(last) - ts)

    FIG["mails"] = MAILS
    FIG["numbers per mail (alias team)"] = len(TEAM)
    FIG["SMS expected"] = MAILS * len(TEAM)
    FIG["SMS accepted by the fake"] = len(accepted)
    FIG["duplicates (a number got a mail twice)"] = sum(
        sum(1 for r in rs if r["status"] == 202) - 1 for _, _, rs in dups)
    FIG["lost (a number never got a mail)"] = len(lost)
    FIG["bounced (status=bounced lines)"] = bounced
    FIG["non-delivery notifications"] = ndn
    FIG["mails left in the queue"] = len(left)
    FIG["message requests made"] = len(attempts)
    FIG["requests with an injected fault"] = "%d (%.1f %%)" % (
        len(faulted), 100.0 * len(faulted) / max(1, len(attempts)))
    for kind in ("status 500", "status 503", "status 429", "hang", "drop"):
        label = {"status 500": "500", "status 503": "503",
                 "status 429": "429 (%d with Retry-After: %d, %d without)"
                 % (ra_with, RETRY_AFTER, ra_without),
                 "hang": "hang (%d s, > bird.timeout)" % HANG,
                 "drop": "drop (connection reset)"}[kind]
        FIG["  fault: " + label] = kinds.get(kind, 0)
    FIG["other failed requests (no fault injected)"] = len(other_fail)
    FIG["accepted, the fake's answer found the client gone"] = unanswered
    FIG["retried requests (requests - SMS accepted)"] = len(attempts) - len(accepted)
    FIG["Postfix deferrals (status=deferred)"] = deferrals
    FIG["mail2sms runs (pipe deliveries)"] = len(runs)
    FIG["mail2sms run time mean / max (deadline %d s)" % DEADLINE] = "%.2f s / %.2f s" % (
        sum(runs) / max(1, len(runs)), max(runs or [0]))
    FIG["mail2sms peak resident memory (VmHWM)"] = "%.1f MiB" % (sampler.peak_kb / 1024.0)
    FIG["submission time (%d SMTP sessions)" % SUBMITTERS] = "%.1f s" % submit_time
    FIG["wall time (first submission to drained queue)"] = "%.1f s" % wall
    FIG["throughput"] = "%.0f mails/min, %.1f SMS/s" % (
        60.0 * MAILS / wall, len(accepted) / wall)
    FIG["max queue size seen"] = max_queue
    FIG["latency submission -> last SMS: mean / p95 / max"] = "%.1f s / %.1f s / %.1f s" % (
        sum(lat) / max(1, len(lat)), percentile(lat, 0.95), max(lat or [0]))
    FACTS["runs"] = runs
    print_figures()

    # What mail2sms told Postfix when it deferred (a few examples).
    for line in [l for l in log.splitlines()
                 if "to=<%s>" % RCPT in l and "status=deferred" in l][:5]:
        print("# deferred: " + line.split(": ", 1)[-1])

    # ---- the verdict
    for n, num, rs in dups[:5]:
        qid = submitted[n][0]
        print("# DUPLICATE mail %d (%s) to %s:" % (n, qid, num))
        print("#   every request for mail %d:" % n)
        for r in sorted((r for x in TEAM for r in per_pair.get((n, x), [])),
                        key=lambda r: r["seq"]):
            print("#   seq=%d t=%.3f to=%s status=%s fault=%s client_gone=%s"
                  % (r["seq"], r["t"], receivers(r)[0], r["status"], r["fault"],
                     r.get("client_gone")))
        for line in log.splitlines():
            if qid in line and ("status=" in line or "mail2sms" in line):
                print("#   " + line)
    for n, num in lost[:5]:
        print("# LOST mail %d (%s) to %s: requests %s" % (
            n, submitted[n][0], num,
            [(r["seq"], r["status"], r["fault"]) for r in per_pair.get((n, num), [])]))
    for n, qid, st in not_sent[:5]:
        print("# NOT SENT mail %d (%s): delivery lines %s" % (n, qid, st))
    eq(len(dups), 0, "mail/number pairs with more than one accepted SMS")
    eq(len(lost), 0, "mail/number pairs with no accepted SMS")
    eq(len(accepted), MAILS * len(TEAM), "SMS accepted")
    eq(bounced, 0, "status=bounced lines")
    eq(ndn, 0, "non-delivery notifications")
    eq(left, [], "mails left in the queue")
    eq(len(not_sent), 0, "mails whose last delivery line is not the one status=sent")
    eq(len(other_fail), 0, "requests that failed without an injected fault")
    check(max(runs) < DEADLINE, "a mail2sms run took %.2f s, deadline %d s"
          % (max(runs), DEADLINE))
    # The faults really happened (else the soak proved nothing).
    check(len(faulted) >= 0.2 * len(attempts),
          "only %d of %d requests faulted" % (len(faulted), len(attempts)))
    for kind in ("status 500", "status 503", "status 429", "hang", "drop"):
        check(kinds.get(kind, 0) > 0 or MAILS < 100, "no %s fault was injected" % kind)


def print_figures():
    out = ["| figure | value |", "| --- | --- |"]
    for k, v in FIG.items():
        out.append("| %s | %s |" % (k.strip() if not k.startswith("  ") else
                                    "&nbsp;&nbsp;" + k.strip(), v))
    settings = ("fault rate %d %% of message requests (%s), hang %d s, "
                "bird.timeout %d s, bird.connect_timeout %d s, deadline %d s, "
                "sms process limit and destination concurrency %d, queue_run_delay 2s, "
                "minimal/maximal_backoff_time 2s/4s, sms_time_limit %ds"
                % (FAULT_RATE * 100, ", ".join(FAULT_ACTIONS), HANG, TIMEOUT,
                   CONNECT_TIMEOUT, DEADLINE, CONCURRENCY, 4 * DEADLINE))
    for line in out:
        print("# " + line)
    print("# settings: " + settings)
    sys.stdout.flush()
    path = os.environ.get("M2S_SOAK_REPORT")
    if path:
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n\nSettings: " + settings + ".\n\n"
                    "Reproduce:\n\n    " + REPRO + "\n")


# ---------------------------------------------------------------- run

P = None
PF = None
FAKE = None


def setup(paths, fake):
    global P, PF, FAKE
    P, FAKE = paths, fake
    write_m2s_config(P, FAKE.url)
    PF = build_instance(P)
    return PF


pfi.run_module(prepare, FakeBird, setup, main, describe="; %d mails" % MAILS, log_lines=40)
