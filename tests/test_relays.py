#!/usr/bin/env python3
"""Several relays, one memory: the state store in PostgreSQL.

Two relays are two mail2sms configurations (relay A, relay B) with their own
directories that share one private PostgreSQL cluster (tests/pg_instance.py:
initdb into a temporary directory, a unix socket only, run as a throw-away
account and removed at the end) and one fake Bird API. What one relay
journals, counts and leases, the other sees:

- the same mail to both relays reaches each number once, also with 20 runs
  of it on each relay at once;
- the storm limits count across both; the rate cap holds for both together
  (arrivals at the fake in any sliding second);
- limits.duplicate_window: the same text with another Message-ID through the
  other relay is not sent again inside the window, and is after it;
- bad input (a wrong connection string or password, a schema too old or too
  new, a password file others can read) gives a clear line, 75 or 78, and
  nothing is sent;
- PostgreSQL stopped in the middle of a stream of mails (both relays, API
  faults on) and started again: deferrals meanwhile, then every number
  exactly one SMS, nothing bounced.

Needs Debian's postgresql package; skipped (77) without it unless
M2S_REQUIRE_POSTGRESQL=1.
"""

import collections
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403
import pg_instance  # noqa: E402

REQUIRE = os.environ.get("M2S_REQUIRE_POSTGRESQL") == "1"
SENDER = "nagios@monitoring.example.com"
N1, N2 = ONCALL

why = pg_instance.available()
if why:
    if REQUIRE:
        print("FAIL - PostgreSQL for the relay tests: %s (M2S_REQUIRE_POSTGRESQL=1)" % why)
        print("0 passed, 1 failed")
        sys.exit(1)
    skip(why)
    main()

PG = pg_instance.PgInstance(fsync=False).create()
FAKE = FakeBird()


def init_schema():
    r = run(["--init-state", "-c", relay("init")])
    eq(r.rc, 0, "--init-state (%r)" % r)


def relay(name, state=None, **sections):
    """Relay name's configuration against the fake and the shared store."""
    d = tmpdir("m2s-relay-%s-" % name)
    st = {"backend": "postgresql", "postgresql": PG.conninfo()}
    st.update(state or {})
    sections.setdefault("bird", {})
    sections["bird"] = dict({"timeout": 2, "connect_timeout": 2}, **sections["bird"])
    sections.setdefault("deadline", 8)
    return write_config(d, FAKE.url, state=st, **sections)


def send(conf, data, rcpts=("oncall@sms.example.com",), extra=(), timeout=60):
    return run(["-c", conf, "-f", SENDER] + list(extra) + ["--"] + list(rcpts), data,
               timeout=timeout)


def numbers_of(reqs):
    return [c["identifierValue"] for r in reqs
            for c in ((r.get("json") or {}).get("receiver") or {}).get("contacts", [])]


def fresh():
    """An empty store and a fake without history or faults."""
    FAKE.faults([])
    FAKE.reset()
    PG.psql("TRUNCATE journal, events, suppressed, recent, rate_cap, outage")


init_done = False


def ready():
    global init_done
    if not init_done:
        init_schema()
        init_done = True
    fresh()


# ---------------------------------------------------------------- journal

@case("the same mail to relay A and relay B: each number one SMS")
def _():
    ready()
    a, b = relay("a"), relay("b")
    m = mail()
    ra = send(a, m)
    eq(ra.rc, 0, "relay A (%r)" % ra)
    rb = send(b, m, extra=["-v"])
    eq(rb.rc, 0, "relay B (%r)" % rb)
    check("already sent for this mail" in rb.err, "relay B did not find the journal: %r" % rb.err)
    eq(sorted(numbers_of(FAKE.messages())), sorted([N1, N2]), "numbers sent")


@case("20 runs of one mail on each relay at once: each number exactly once")
def _():
    ready()
    a, b = relay("a"), relay("b")
    m = mail(subject="storm of retries")
    procs = []
    for i in range(20):
        for conf in (a, b):
            procs.append(spawn(["-c", conf, "-f", SENDER, "--", "oncall@sms.example.com"]))
    for p in procs:
        p.stdin.write(m)
        p.stdin.close()
    rcs = []
    for p in procs:
        p.wait(60)
        rcs.append(p.returncode)
        p.stdout.close()
        p.stderr.close()
    check(set(rcs) <= {0, 75}, "exit codes %r" % collections.Counter(rcs))
    check(rcs.count(0) >= 1, "no run succeeded: %r" % collections.Counter(rcs))
    # What was deferred (another run held the number) is done on the retry.
    r = send(a, m)
    eq(r.rc, 0, "retry (%r)" % r)
    got = collections.Counter(numbers_of(FAKE.messages()))
    eq(dict(got), {N1: 1, N2: 1}, "SMS per number")


# ---------------------------------------------------------------- limits

@case("storm limits count across both relays")
def _():
    ready()
    lim = {"per_number_per_hour": 2}
    a, b = relay("a", limits=lim), relay("b", limits=lim)
    eq(send(a, mail(subject="one"), rcpts=[N1 + "@sms.example.com"]).rc, 0, "first (A)")
    eq(send(b, mail(subject="two"), rcpts=[N1 + "@sms.example.com"]).rc, 0, "second (B)")
    r = send(a, mail(subject="three"), rcpts=[N1 + "@sms.example.com"])
    eq(r.rc, 75, "third, over the limit (%r)" % r)
    check(r.out.startswith("4.7.0") and "per_number_per_hour" in r.out, "line %r" % r.out)
    eq(numbers_of(FAKE.messages()), [N1, N1], "numbers sent")


@case("both relays fanning out at once: never above bird.max_rate in any sliding second")
def _():
    ready()
    rate = 25
    n = 80
    team_a = ["+316200%05d" % i for i in range(n)]
    team_b = ["+316300%05d" % i for i in range(n)]
    bird = {"max_rate": rate, "concurrency": 8}
    a = relay("a", bird=bird, recipients={"aliases": {"team": team_a}}, deadline=30)
    b = relay("b", bird=bird, recipients={"aliases": {"team": team_b}}, deadline=30)
    res = {}

    def go(name, conf):
        res[name] = send(conf, mail(subject="fan-out " + name), rcpts=["team@sms.example.com"])
    ts = [threading.Thread(target=go, args=(k, c)) for k, c in (("a", a), ("b", b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    eq(res["a"].rc, 0, "relay A (%r)" % res["a"])
    eq(res["b"].rc, 0, "relay B (%r)" % res["b"])
    reqs = FAKE.message_attempts()
    eq(len(reqs), 2 * n, "requests")
    times = sorted(r["t"] for r in reqs)
    worst, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= 1.0:
            j += 1
        worst = max(worst, i - j + 1)
    check(worst <= rate, "%d requests within one second, bird.max_rate %d" % (worst, rate))
    # Both really ran at once (else the cap proved nothing).
    first_b = min(r["t"] for r in reqs if numbers_of([r])[0] in team_b)
    last_a = max(r["t"] for r in reqs if numbers_of([r])[0] in team_a)
    check(first_b < last_a, "the relays did not overlap")
    print("# %d requests in %.1f s, at most %d in any second (max_rate %d)"
          % (len(times), times[-1] - times[0], worst, rate))


# ---------------------------------------------------------------- duplicates

@case("duplicate window: same text, other Message-ID, other relay -> one SMS; after it, another")
def _():
    ready()
    win = {"duplicate_window": 3}
    a, b = relay("a", limits=win), relay("b", limits=win)
    body = "CRITICAL: db1 is down\n"
    ra = send(a, mail(subject="PROBLEM db1", body=body))
    eq(ra.rc, 0, "first copy (%r)" % ra)
    rb = send(b, mail(subject="PROBLEM db1", body=body), extra=["-v"])
    eq(rb.rc, 0, "second copy (%r)" % rb)
    check(re.search(r"number=\+31612345678, status=duplicate", rb.err),
          "no status=duplicate line: %r" % rb.err)
    eq(sorted(numbers_of(FAKE.messages())), sorted([N1, N2]), "numbers after two copies")
    # Another text is not a duplicate.
    eq(send(b, mail(subject="PROBLEM db2", body=body)).rc, 0, "other text")
    eq(len(FAKE.messages()), 4, "messages after another text")
    time.sleep(3.3)
    rc = send(b, mail(subject="PROBLEM db1", body=body))
    eq(rc.rc, 0, "after the window (%r)" % rc)
    eq(len(FAKE.messages()), 6, "messages after the window")


# ---------------------------------------------------------------- bad input

def nothing_sent():
    eq(FAKE.message_attempts(), [], "sent without the store")


@case("bad input: wrong connection string -> run 75 4.3.0, --check-config 78, nothing sent")
def _():
    ready()
    c = relay("bad", state={"postgresql": "host=/nonexistent/sock dbname=mail2sms user=m2s"})
    r = send(c, mail())
    eq(r.rc, 75, "run (%r)" % r)
    check(r.out.startswith("4.3.0 state store (postgresql)"), "line %r" % r.out)
    check("/nonexistent/sock" in r.out, "the line does not say where: %r" % r.out)
    k = run(["--check-config", "-c", c])
    eq(k.rc, 78, "--check-config (%r)" % k)
    check("state store (postgresql)" in k.out and "NOT usable" in k.out, "output %r" % k.out)
    nothing_sent()


@case("bad input: wrong password -> 75 / 78, the password never shown; right one from the file")
def _():
    ready()
    PG.psql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO m2s_pw;"
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO m2s_pw")
    d = tmpdir("m2s-pw-")
    pwfile = os.path.join(d, "pgpass")
    wrong = "Wr0ng-Passw0rd-x7"
    with open(pwfile, "w") as f:
        f.write(wrong + "\n")
    os.chmod(pwfile, 0o600)
    c = relay("pw", state={"postgresql": PG.conninfo(user="m2s_pw"), "password_file": pwfile})
    r = send(c, mail(), extra=["-v"])
    eq(r.rc, 75, "run (%r)" % r)
    check("password authentication failed" in r.out, "line %r" % r.out)
    k = run(["--check-config", "-c", c])
    eq(k.rc, 78, "--check-config (%r)" % k)
    check("password authentication failed" in k.out, "output %r" % k.out)
    for text in (r.out, r.err, k.out, k.err):
        check(wrong not in text, "the password was shown: %r" % text)
    nothing_sent()
    with open(pwfile, "w") as f:
        f.write(pg_instance.PASSWORD + "\n")
    k = run(["--check-config", "-c", c])
    eq(k.rc, 0, "--check-config with the right password (%r)" % k)
    check("connected, schema version 3" in k.out and "not shown" in k.out, "output %r" % k.out)
    check(pg_instance.PASSWORD not in k.out, "the password was shown: %r" % k.out)
    eq(send(c, mail()).rc, 0, "run with the right password")
    # A password file others can read is refused.
    os.chmod(pwfile, 0o644)
    k = run(["--check-config", "-c", c])
    eq(k.rc, 78, "--check-config, file readable by others (%r)" % k)
    check("state.password_file" in k.out and "can be read by others" in k.out, "output %r" % k.out)
    FAKE.reset()
    r = send(c, mail())
    eq(r.rc, 75, "run, file readable by others (%r)" % r)
    nothing_sent()


@case("bad input: schema too old or too new -> 75 4.3.0 naming --init-state, nothing sent")
def _():
    ready()
    c = relay("schema")
    try:
        PG.psql("UPDATE m2s_schema SET version = 1")
        r = send(c, mail())
        eq(r.rc, 75, "run, old schema (%r)" % r)
        check(r.out.startswith("4.3.0") and "older" in r.out and "--init-state" in r.out,
              "line %r" % r.out)
        eq(run(["--check-config", "-c", c]).rc, 78, "--check-config, old schema")
        PG.psql("UPDATE m2s_schema SET version = 99")
        r = send(c, mail())
        eq(r.rc, 75, "run, newer schema (%r)" % r)
        check("newer" in r.out and "99" in r.out, "line %r" % r.out)
        nothing_sent()
        PG.psql("UPDATE m2s_schema SET version = 1")
        i = run(["--init-state", "-c", c])
        eq(i.rc, 0, "--init-state (%r)" % i)
        check("migrated from version 1 to 3" in i.out, "output %r" % i.out)
    finally:
        PG.psql("UPDATE m2s_schema SET version = 3")
    eq(send(c, mail()).rc, 0, "run after the migration")


# ---------------------------------------------------------------- the store goes away

@case("PostgreSQL stopped in a stream of mails (both relays, faults on) and started again")
def _():
    ready()
    a = relay("a", bird={"outage_probe": 1})
    b = relay("b", bird={"outage_probe": 1})
    FAKE.random_faults(0.15, seed=7, actions=("500", "503", "429", "drop"))
    mails = [(mail(subject="stream %d" % i), (a, b)[i % 2]) for i in range(24)]
    pending = list(range(len(mails)))
    rcs = collections.Counter()
    deferred_while_down = 0
    t_end = time.time() + 150
    rounds = 0
    while pending and time.time() < t_end:
        rounds += 1
        left = []
        for n, i in enumerate(pending):
            if rounds == 1 and n == 8:
                PG.stop_server()            # down for a third of the first round
            if rounds == 1 and n == 16:
                PG.start()
            m, conf = mails[i]
            r = send(conf, m)
            rcs[r.rc] += 1
            check(r.rc in (0, 75), "mail %d: exit %d (%r): that would bounce" % (i, r.rc, r))
            if r.rc == 75:
                if r.out.startswith("4.3.0 state store"):
                    deferred_while_down += 1
                left.append(i)
        pending = left
        if pending:
            FAKE.faults([]) if rounds >= 2 else None
            time.sleep(1.1)             # the retry, and past bird.outage_probe
    check(not pending, "mails still deferred after %d rounds: %r" % (rounds, pending))
    check(deferred_while_down >= 8, "only %d runs deferred for the store" % deferred_while_down)
    got = collections.Counter(numbers_of(FAKE.messages()))
    want = {N1: len(mails), N2: len(mails)}
    eq(dict(got), want, "SMS per number: each mail exactly once to each")
    print("# exits %s, %d deferred while the store was down, %d rounds"
          % (dict(rcs), deferred_while_down, rounds))


try:
    main()
finally:
    FAKE.stop()
    PG.stop()
