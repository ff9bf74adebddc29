#!/usr/bin/env python3
"""An outage of Bird's API behind a real Postfix: the queue does not jam.

A private Postfix instance (tests/postfix_instance.py) pipes mail to
mail2sms with bird.outage_probe = 4 and deadline = 8. With the fake API
answering 503 to every message, 20 mails are queued:

- the first run uses up its retries (about the deadline), the state store
  remembers the outage, and the runs after it defer at once with
  "4.4.0 Bird API unavailable since ..., next probe at ...";
- flushed while the API is still down, one run at a time probes (the fake
  never sees two mails' numbers at once), and the rest defer at once;
- the API comes back; after the next probe is due one postqueue -f
  delivers every mail, each number exactly one SMS, nothing bounced.

Needs root and Debian's postfix package (skipped otherwise, unless
M2S_REQUIRE_POSTFIX=1).
"""

import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import *  # noqa: E402,F403
import postfix_instance as pfi  # noqa: E402

REQUIRE = os.environ.get("M2S_REQUIRE_POSTFIX") == "1"
DEADLINE = 8
PROBE = 4
MAILS = 20
SENDER = "nagios@monitoring.example.com"
SMS_DOMAIN = "sms.example.com"
ETC = os.path.join(SRCDIR, "etc")
NUMBERS = ["+316444000%02d" % i for i in range(MAILS)]

why = pfi.unmet(BIN)
if why:
    if REQUIRE:
        print("FAIL - prerequisites for the outage test: %s (M2S_REQUIRE_POSTFIX=1)" % why)
        print("0 passed, 1 failed")
        sys.exit(1)
    skip(why)
    main()

SHIPPED_ENTRY, SHIPPED_MAIN, SHIPPED_TRANSPORT, PIPE_USER = pfi.shipped(ETC)
P = PF = FAKE = None


def prepare():
    p = pfi.prepare_run("m2s-outage-", PIPE_USER, BIN)
    p["conf"] = os.path.join(p["m2s"], "mail2sms.conf")
    return p


def setup(paths, fake):
    global P, PF, FAKE
    P, FAKE = paths, fake
    P["log"] = os.path.join(P["m2s"], "mail2sms.log")
    conf = write_config(P["m2s"], FAKE.url,
                        bird={"timeout": 2, "connect_timeout": 2, "outage_probe": PROBE},
                        deadline=DEADLINE, log_file=P["log"])
    pfi.give_to_pipe_user(P, conf)
    pf = pfi.PostfixInstance(P["base"])
    params = dict(SHIPPED_MAIN)
    params["transport_maps"] = "hash:" + os.path.join(pf.config_dir, "transport")
    # Retries only when the test flushes.
    params["queue_run_delay"] = "3600s"
    params["minimal_backoff_time"] = "3600s"
    params["maximal_backoff_time"] = "3600s"
    pf.set_params(**params)
    entry = re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (P["bin"], conf), SHIPPED_ENTRY)
    pf.add_service(entry)
    for key, value in SHIPPED_TRANSPORT:
        pf.add_transport(key, value)
    pf.write_config()
    PF = pf
    return pf


def receivers(req):
    j = req.get("json") or {}
    return [c.get("identifierValue") for c in
            (j.get("receiver") or {}).get("contacts") or []]


def last_status(qid, rcpt):
    lines = PF.status_lines(qid, rcpt)
    return lines[-1] if lines else None


def wait_all(qids, pred, timeout, what):
    deadline = time.time() + timeout
    while True:
        st = {q: last_status(q, r) for q, r in qids}
        if all(l and pred(l) for l in st.values()):
            return st
        if time.time() > deadline:
            bad = {q: l for q, l in st.items() if not (l and pred(l))}
            raise AssertionError("%s: not yet for %d mails within %ds: %r"
                                 % (what, len(bad), timeout, list(bad.items())[:3]))
        time.sleep(0.2)


def delay_of(line):
    """pipe(8)'s delays=a/b/c/d: d is the time in the command."""
    m = re.search(r"delays=[\d.]+/[\d.]+/[\d.]+/([\d.]+)", line)
    return float(m.group(1)) if m else None


@case("outage: 20 mails queued defer fast, one probe at a time, one queue run delivers all once")
def outage():
    FAKE.faults([{"endpoint": "messages", "status": 503}])
    qids = []
    t0 = time.time()
    for n in NUMBERS:
        rcpt = n + "@" + SMS_DOMAIN
        msg = mail(subject="db1 down", to=rcpt)
        PF.sendmail(msg, [rcpt], sender=SENDER)
        qids.append((PF.queue_id_of(message_id(msg), 30), rcpt))
    st = wait_all(qids, lambda l: "status=deferred" in l, 60, "first deferral")
    took = time.time() - t0
    lines = list(st.values())
    fast = [l for l in lines if "Bird API unavailable since" in l and "next probe at" in l]
    slow = [l for l in lines if "Bird API unavailable since" not in l]
    check(len(fast) >= MAILS - 5, "only %d of %d deferred at once:\n%s"
          % (len(fast), MAILS, "\n".join(lines)))
    check(all(l.split("dsn=")[1].startswith("4.4.") for l in lines), "a dsn not 4.4.x")
    check(all(delay_of(l) is not None and delay_of(l) < 2.0 for l in fast),
          "a fast deferral took long: %r" % [delay_of(l) for l in fast])
    check(took < 4 * DEADLINE, "the queue took %.1fs to defer 20 mails" % took)
    check("bounced" not in PF.log(), "a mail bounced")
    print("# first pass: %d deferred at once, %d after their retries, %.1fs in all"
          % (len(fast), len(slow), took))

    # Still down, probe due: a flush; one run at a time talks to the API.
    time.sleep(PROBE + 0.5)
    FAKE.reset()
    FAKE.faults([{"endpoint": "messages", "status": 503}])
    PF.flush()
    time.sleep(DEADLINE + 3)
    wait_all(qids, lambda l: "status=deferred" in l, 30, "deferral after the probe")
    tried = FAKE.message_attempts()
    check(tried, "no probe reached the API")
    spans = collections.defaultdict(list)
    for r in tried:
        spans[receivers(r)[0]].append(r["t"])
    eq(len(spans), 1, "numbers probed during one probe interval (%r)" % sorted(spans))

    # The API is back. After the next probe is due, one queue run
    # delivers everything.
    FAKE.faults([])
    time.sleep(PROBE + 0.5)
    FAKE.reset()
    t1 = time.time()
    PF.flush()
    wait_all(qids, lambda l: "status=sent" in l, 40, "delivery after the flush")
    got = collections.Counter(receivers(r)[0] for r in FAKE.messages())
    eq(dict(got), {n: 1 for n in NUMBERS}, "SMS per number")
    check("bounced" not in PF.log(), "a mail bounced")
    for q, _ in qids:
        PF.wait_gone(q, 30)
    print("# after the API returned: all %d delivered in %.1fs by one postqueue -f"
          % (MAILS, time.time() - t1))


pfi.run_module(prepare, FakeBird, setup, main)
