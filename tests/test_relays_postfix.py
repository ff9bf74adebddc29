#!/usr/bin/env python3
"""Two Postfix relays, one memory: mail2sms behind two private Postfix
instances that share one PostgreSQL.

Relay A and relay B are two private Postfix instances side by side
(tests/postfix_instance.py: each its own configuration, queue and data
directory, log, port on 127.0.0.1 and throw-away pipe user). Each pipes mail
to mail2sms with its own configurations, all with state.backend =
"postgresql" on one private cluster (tests/pg_instance.py: a unix socket
only, removed at the end), and one fake Bird API (tests/fake_bird.py) that
keeps the time of every request. Each relay has three services:

  sms.example.com      sms:     the alias oncall (two numbers), the alias
                                team (80 numbers, another 80 on relay B),
                                bird.max_rate = 25 for the workspace
  lim.sms.example.com  smslim:  limits.per_number_per_hour = 2
  dup.sms.example.com  smsdup:  limits.duplicate_window = 5

What the cases show, through both relays:

- the same mail submitted to both: each number exactly one SMS;
- 20 copies of one mail on each relay, released from the hold queue at
  once (40 runs together): each number exactly one SMS, every copy sent;
- storm limits count across both (the third mail in the hour deferred 4.7.0);
- both relays fanning out their alias at once: the fake never sees more
  than bird.max_rate requests in any sliding second, and the two overlap;
- PostgreSQL stopped in the middle of a stream of mails through both
  relays with API faults on (while the first mails' runs are in flight),
  then started again: deferrals 4.3.0 meanwhile, then every number exactly
  one SMS per mail, nothing bounced;
- the duplicate window: two mails of the same text with different
  Message-IDs, one through each relay: one SMS; after the window, another.

Needs root, Debian's postfix and postgresql packages; skipped (77) without
them, unless M2S_REQUIRE_POSTFIX=1 / M2S_REQUIRE_POSTGRESQL=1 make that a
failure.
"""

import atexit
import collections
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import *  # noqa: E402,F403
import pg_instance  # noqa: E402
import postfix_instance as pfi  # noqa: E402

SENDER = "nagios@monitoring.example.com"    # what comes back goes to the sink
N1, N2 = ONCALL
NAMES = ("a", "b")
DEADLINE = 20           # mail2sms's deadline; state.claim_ttl is the same
RATE = 25               # bird.max_rate, for both relays together
FANOUT = 80             # numbers in each relay's alias "team"
RUNS = 20               # copies of one mail on each relay at once
DUP_WINDOW = 5          # limits.duplicate_window of the smsdup service
STEP = 60               # seconds allowed for a batch of deliveries
ETC = os.path.join(SRCDIR, "etc")
TEAM = {"a": ["+316200%05d" % i for i in range(FANOUT)],
        "b": ["+316300%05d" % i for i in range(FANOUT)]}


def prerequisite_missing(why, var):
    if os.environ.get(var) == "1":
        print("FAIL - prerequisites for the two-relay test: %s (%s=1)" % (why, var))
        print("0 passed, 1 failed")
        sys.exit(1)
    skip(why)
    main()


why = pfi.unmet(BIN)
if why:
    prerequisite_missing(why, "M2S_REQUIRE_POSTFIX")
why = pg_instance.available()
if why:
    prerequisite_missing(why, "M2S_REQUIRE_POSTGRESQL")

SHIPPED = {n: pfi.shipped(ETC, pfi.test_user_name(n)) for n in NAMES}
PG = pg_instance.PgInstance(fsync=False)
FAKE = None
R = {}                  # name -> {"pf": PostfixInstance, "p": paths, "log": {service: file}}


# ---------------------------------------------------------------- set-up

def prepare():
    PG.create()
    # Stopped before the accounts go (atexit runs the last registered first).
    atexit.register(PG.stop)
    out = []
    for n in NAMES:
        p = pfi.prepare_run("m2s-relay%s-" % n, SHIPPED[n][3], BIN)
        p["name"] = n
        out.append(p)
    return out


def service_entry(name, svc, p, conf, maxproc):
    """The shipped "sms" entry as service svc: the test's binary, -c conf
    and the process limit."""
    entry = re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (p["bin"], conf),
                   SHIPPED[name][0], count=1)
    first, rest = (entry.split("\n", 1) + [""])[:2]
    cols = first.split()
    if len(cols) < 8 or cols[0] != "sms":
        raise ValueError("unexpected shipped entry: " + first)
    cols[0] = svc
    cols[6] = str(maxproc)
    return " ".join(cols) + ("\n" + rest if rest else "")


def m2s_conf(p, svc, **sections):
    d = os.path.join(p["m2s"], svc)
    bird = {"timeout": 2, "connect_timeout": 2, "max_rate": RATE, "concurrency": 8,
            "outage_probe": 1}
    bird.update(sections.pop("bird", {}))
    return write_config(d, FAKE.url, bird=bird,
                        state={"backend": "postgresql", "postgresql": PG.conninfo(),
                               "claim_ttl": DEADLINE},
                        deadline=DEADLINE, log_file=os.path.join(d, "mail2sms.log"),
                        **sections)


def setup(Ps, fake):
    global FAKE
    FAKE = fake
    r = run(["--init-state", "-c", m2s_conf(Ps[0], "init")])
    if r.rc != 0:
        raise RuntimeError("--init-state: %r" % r)
    pfs = []
    for p in Ps:
        n = p["name"]
        _, shipped_main, shipped_transport, user = SHIPPED[n]
        confs = {
            "sms": m2s_conf(p, "sms", recipients={"aliases": {"oncall": list(ONCALL),
                                                              "team": TEAM[n]}}),
            "smslim": m2s_conf(p, "smslim", limits={"per_number_per_hour": 2}),
            "smsdup": m2s_conf(p, "smsdup", limits={"duplicate_window": DUP_WINDOW}),
        }
        for c in confs.values():
            pfi.give_to_pipe_user(p, c)
        pf = pfi.PostfixInstance(p["base"], hostname="mx-%s.m2s-test.invalid" % n, name=n)
        params = dict(shipped_main)
        params.update({
            "transport_maps": "hash:" + os.path.join(pf.config_dir, "transport"),
            "header_checks": "regexp:" + os.path.join(pf.config_dir, "header_checks"),
            # Deferred mail comes back within seconds.
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
        })
        for svc in confs:
            params.update({
                svc + "_destination_recipient_limit": "1",
                svc + "_destination_concurrency_limit": str(RUNS),
                svc + "_initial_destination_concurrency": str(RUNS),
                svc + "_time_limit": "%ds" % (4 * DEADLINE),
            })
            pf.add_service(service_entry(n, svc, p, confs[svc], RUNS))
        pf.set_params(**params)
        pf.add_service("sink      unix  -       n       n       -       -       pipe\n"
                       "  flags=R null_sender= user=%s argv=/bin/sh %s %s ${queue_id}"
                       % (user, p["sink_script"], p["sink"]))
        for key, value in shipped_transport:
            pf.add_transport(key, value)
        pf.add_transport("lim.sms.example.com", "smslim:")
        pf.add_transport("dup.sms.example.com", "smsdup:")
        pf.add_transport("monitoring.example.com", "sink:")
        pf.write_config()
        # Mail with this header waits on hold until release_held().
        with open(os.path.join(pf.config_dir, "header_checks"), "w") as f:
            f.write("/^X-M2S-Hold:/ HOLD held for the test\n")
        R[n] = {"pf": pf, "p": p, "log": {svc: os.path.join(os.path.dirname(c), "mail2sms.log")
                                         for svc, c in confs.items()}}
        pfs.append(pf)
    return pfs


# ---------------------------------------------------------------- helpers

def pf(n):
    return R[n]["pf"]


def submit(n, msg, rcpt):
    """Over SMTP to relay n; returns (relay, queue id, recipient)."""
    qid = pf(n).smtp(msg, [rcpt], SENDER)
    if not qid:
        raise AssertionError("relay %s gave no queue id" % n)
    return (n, qid, rcpt)


def last_status(item):
    n, qid, rcpt = item
    lines = pf(n).status_lines(qid, rcpt)
    return lines[-1] if lines else None


def wait_all(items, pred, timeout, what, nudge=None):
    """Wait until the last delivery line of every (relay, queue id,
    recipient) satisfies pred; nudge() every few seconds while waiting."""
    deadline = time.time() + timeout
    next_nudge = time.time() + 5
    while True:
        st = {it: last_status(it) for it in items}
        if all(l and pred(l) for l in st.values()):
            return st
        if time.time() > deadline:
            bad = [(it, l) for it, l in st.items() if not (l and pred(l))]
            raise AssertionError("%s: not yet for %d of %d mails within %ds: %r"
                                 % (what, len(bad), len(items), timeout, bad[:3]))
        if nudge and time.time() > next_nudge:
            nudge()
            next_nudge = time.time() + 5
        time.sleep(0.2)


def sent(line):
    return "status=sent" in line


def flush_both():
    for n in NAMES:
        pf(n).flush()


def wait_queues_empty(timeout=30):
    deadline = time.time() + timeout
    for n in NAMES:
        while pf(n).queue():
            if time.time() > deadline:
                raise AssertionError("relay %s's queue is not empty:\n%s" % (n, pf(n).mailq()))
            time.sleep(0.2)


def numbers_of(reqs):
    return [c["identifierValue"] for r in reqs
            for c in ((r.get("json") or {}).get("receiver") or {}).get("contacts", [])]


def nothing_bounced():
    for n in NAMES:
        log = pf(n).log()
        check("status=bounced" not in log, "relay %s bounced a mail" % n)
        check(not os.listdir(R[n]["p"]["sink"]), "relay %s sent a notice back: %r"
              % (n, os.listdir(R[n]["p"]["sink"])))


def m2s_log(n, svc):
    try:
        with open(R[n]["log"][svc], encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def fresh():
    """No faults, no history at the fake, empty queues and an empty store."""
    FAKE.faults([])
    wait_queues_empty()
    FAKE.reset()
    PG.psql("TRUNCATE journal, events, suppressed, recent, rate_cap, outage")


def held(msg):
    """msg with the header that puts it on hold."""
    return msg.replace(b"\nSubject:", b"\nX-M2S-Hold: yes\nSubject:", 1)


def release_both():
    """Everything on hold on both relays, delivered at once."""
    for n in NAMES:
        pf(n).release_held()
    flush_both()


def wait_held(items, timeout=30):
    """Until every submitted mail is on hold (cleanup has logged it)."""
    for n, qid, _ in items:
        pf(n).wait_log(r"\b%s: hold: header X-M2S-Hold" % re.escape(qid), timeout)


# ---------------------------------------------------------------- the journal

@case("the same mail submitted to relay A and relay B: each number one SMS")
def _():
    fresh()
    m = mail(subject="PROBLEM web1", to="oncall@sms.example.com")
    a = submit("a", m, "oncall@sms.example.com")
    wait_all([a], sent, STEP, "relay A")
    b = submit("b", m, "oncall@sms.example.com")
    wait_all([b], sent, STEP, "relay B")
    eq(sorted(numbers_of(FAKE.messages())), sorted([N1, N2]), "numbers sent")
    nothing_bounced()


@case("20 copies of one mail on each relay at once: each number exactly once")
def _():
    fresh()
    FAKE.latency(0.3)       # the runs overlap for certain
    try:
        m = held(mail(subject="PROBLEM retried", to="oncall@sms.example.com"))
        items = [submit(n, m, "oncall@sms.example.com") for _ in range(RUNS) for n in NAMES]
        wait_held(items)
        t0 = time.time()
        release_both()
        st = wait_all(items, sent, STEP, "every copy sent", nudge=flush_both)
        took = time.time() - t0
    finally:
        FAKE.latency(0)
    got = collections.Counter(numbers_of(FAKE.messages()))
    eq(dict(got), {N1: 1, N2: 1}, "SMS per number")
    check(len(FAKE.message_attempts()) == 2, "requests: %d" % len(FAKE.message_attempts()))
    deferred = sum(len([l for l in pf(n).status_lines(q, r) if "status=deferred" in l])
                   for n, q, r in items)
    nothing_bounced()
    print("# %d copies sent in %.1fs; %d deferrals on the way (another run held the number)"
          % (len(st), took, deferred))


# ---------------------------------------------------------------- limits

@case("storm limits count across both relays: the third in the hour is deferred 4.7.0")
def _():
    fresh()
    rcpt = N1 + "@lim.sms.example.com"
    got = []
    for i, n in enumerate(("a", "b", "a")):
        it = submit(n, mail(subject="storm %d" % i, to=rcpt), rcpt)
        got.append(wait_all([it], lambda l: "status=sent" in l or "status=deferred" in l,
                            STEP, "mail %d" % i)[it])
    check(sent(got[0]) and sent(got[1]), "the first two: %r" % got[:2])
    check("status=deferred" in got[2] and "dsn=4.7.0" in got[2]
          and "per_number_per_hour" in got[2], "the third: %r" % got[2])
    eq(numbers_of(FAKE.messages()), [N1, N1], "numbers sent")
    pf("a").delete("ALL")
    nothing_bounced()


@case("both relays fanning out at once: never above bird.max_rate in any sliding second")
def _():
    fresh()
    items = [submit(n, held(mail(subject="fan-out " + n, to="team@sms.example.com")),
                    "team@sms.example.com") for n in NAMES]
    wait_held(items)
    release_both()
    wait_all(items, sent, 2 * STEP, "both fan-outs")
    reqs = FAKE.message_attempts()
    eq(len(reqs), 2 * FANOUT, "requests")
    eq(sorted(numbers_of(FAKE.messages())), sorted(TEAM["a"] + TEAM["b"]), "numbers sent")
    times = sorted(r["t"] for r in reqs)
    worst, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= 1.0:
            j += 1
        worst = max(worst, i - j + 1)
    check(worst <= RATE, "%d requests within one second, bird.max_rate %d" % (worst, RATE))
    span = {n: [r["t"] for r in reqs if numbers_of([r])[0] in TEAM[n]] for n in NAMES}
    check(min(span["b"]) < max(span["a"]) and min(span["a"]) < max(span["b"]),
          "the relays did not overlap")
    nothing_bounced()
    print("# %d requests in %.1f s, at most %d in any second (max_rate %d)"
          % (len(times), times[-1] - times[0], worst, RATE))


# ---------------------------------------------------------------- the store goes away

PER_PHASE = 6           # mails per relay in each of the three phases


def stream_mail(k):
    return mail(subject="pgsoak %d" % k, body="Stream alert %d.\n" % k,
                to="oncall@sms.example.com",
                message_id="<pgsoak-%d.%s@soak.m2s-test.invalid>" % (k, uuid.uuid4().hex[:12]))


def stream_no(req):
    m = re.search(r"pgsoak-(\d+)\.", str((req.get("json") or {}).get("reference") or ""))
    return int(m.group(1)) if m else None


@case("PostgreSQL stopped in a stream through both relays (faults on), started again")
def _():
    fresh()
    FAKE.random_faults(0.2, seed=1313, actions=("500", "503", "429", "drop"))
    items, k = [], 0

    def phase():
        nonlocal k
        out = []
        for _ in range(PER_PHASE):
            for n in NAMES:
                out.append(submit(n, stream_mail(k), "oncall@sms.example.com"))
                k += 1
        return out

    t0 = time.time()
    before = sum(pf(n).log().count("dsn=4.3.0") for n in NAMES)
    # The first phase's runs are slow (the fake answers after 0.5 s), and
    # the store stops while they are in flight.
    FAKE.latency(0.5)
    items += phase()
    time.sleep(0.5)
    PG.stop_server()
    FAKE.latency(0)
    down = phase()
    items += down
    # Every mail of the second phase tried and deferred for the store, and
    # retried at least once while it stays down.
    wait_all(down, lambda l: "dsn=4.3.0" in l, STEP, "deferral while the store is down")
    time.sleep(4.5)
    deferred_down = sum(pf(n).log().count("dsn=4.3.0") for n in NAMES) - before
    PG.start()
    t_up = time.time()
    items += phase()
    st = wait_all(items, sent, 3 * STEP, "every mail sent after the store returned",
                  nudge=flush_both)
    took = time.time() - t0
    FAKE.faults([])
    wait_queues_empty()
    check(deferred_down >= len(down), "only %d deferrals 4.3.0 for %d mails"
          % (deferred_down, len(down)))
    per = collections.Counter((stream_no(r), num) for r in FAKE.messages()
                              for num in numbers_of([r]))
    twice = {key: c for key, c in per.items() if c != 1}
    eq(twice, {}, "mails and numbers sent more than once")
    missing = [(i, num) for i in range(k) for num in (N1, N2) if (i, num) not in per]
    eq(missing, [], "mails and numbers never sent")
    nothing_bounced()
    faults = collections.Counter(r["fault"] for r in FAKE.message_attempts() if r.get("fault"))
    unrecorded = sum(m2s_log(n, "sms").count("sent, but the journal could not record it")
                     for n in NAMES)
    print("# %d mails (%d while the store was down), %d deferrals 4.3.0, %d numbers sent "
          "by runs that lost the store on the way, faults %s; all sent %.1fs after the "
          "start, %.1fs after the store returned"
          % (len(st), len(down), deferred_down, unrecorded, dict(faults), took,
             time.time() - t_up))


# ---------------------------------------------------------------- duplicates

@case("duplicate window: same text, other Message-ID, other relay -> one SMS; after it, another")
def _():
    fresh()
    rcpt = N1 + "@dup.sms.example.com"
    body = "CRITICAL: db1 is down\n"
    a = submit("a", mail(subject="PROBLEM db1", body=body, to=rcpt), rcpt)
    wait_all([a], sent, STEP, "the first copy (relay A)")
    b = submit("b", mail(subject="PROBLEM db1", body=body, to=rcpt), rcpt)
    wait_all([b], sent, STEP, "the second copy (relay B)")
    t_b = time.time()
    first = FAKE.messages()
    eq(numbers_of(first), [N1], "numbers after two copies")
    check(t_b - first[0]["t"] < DUP_WINDOW,
          "the second copy came %.1fs after the first, outside the window: proves nothing"
          % (t_b - first[0]["t"]))
    check(re.search(r"number=\+31612345678, status=duplicate", m2s_log("b", "smsdup")),
          "relay B logged no status=duplicate:\n%s" % m2s_log("b", "smsdup"))
    time.sleep(DUP_WINDOW + 0.5)
    c = submit("b", mail(subject="PROBLEM db1", body=body, to=rcpt), rcpt)
    wait_all([c], sent, STEP, "the copy after the window")
    eq(numbers_of(FAKE.messages()), [N1, N1], "numbers after the window")
    nothing_bounced()


pfi.run_module(prepare, FakeBird, setup, main,
               describe=", mail2sms state in PostgreSQL at %s" % PG.sock)
