#!/usr/bin/env python3
"""One tracking pass over N SMS due for a check, against the fake Bird API.

N SMS (default 10,000) are put in a SQLite journal as the pipe writes them
(accepted, with their mail), every one due now; the fake knows their ids
and answers each read "delivered". One `mail2sms --track` then reads them
all at tracking.max_rate (default 50, Bird's limit per workspace). Printed:
the wall time (bounded below by N / max_rate), the CPU time of the
tracker per check (target under 1 ms), its peak RSS (target under 30 MB),
and the highest number of reads the fake saw in any one second.

    python3 bench/track.py [N] [MAX_RATE]
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests"))
os.environ.setdefault("M2S_SRCDIR", TOP)
os.environ.setdefault("M2S_BIN", os.path.join(TOP, "_build", "src", "mail2sms"))
import m2stest  # noqa: E402
from m2stest import FakeBird, write_config, tmpdir, mail, command, clean_env, run  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 50.0
    with FakeBird() as fake:
        d = tmpdir("m2s-bench-track-")
        conf = write_config(d, fake.url, deadline=3600,
                            bird={"concurrency": 8, "timeout": 10},
                            tracking={"max_rate": rate})
        # The journal's schema, made by one real mail.
        r = run(["-c", conf, "-q", "SETUP", "--", "+31600000000@sms.example.com"], mail())
        assert r.rc == 0, r
        db = sqlite3.connect(os.path.join(d, "state", "state.sqlite"))
        now = time.time()
        rows, known = [], []
        for i in range(n):
            key = "mid:bench-%d@example.com" % (i // 2)
            number = "+3161%07d" % i
            bid = str(uuid.uuid4())
            rows.append((key, number, bid, now - 60, "oncall", "oncall@sms.example.com"))
            known.append({"id": bid, "number": number})
        db.executemany("INSERT INTO journal (mail_key, number, state, owner, lease_until,"
                       " message_id, updated, alias, recipient, parts, accepted, track_status,"
                       " status_at, next_check) VALUES (?1, ?2, 'sent', 'bench', NULL, ?3, ?4,"
                       " ?5, ?6, 1, ?4, 'accepted', ?4, 0)", rows)
        db.executemany("INSERT OR IGNORE INTO mails (mail_key, sender, queue_id, message_id,"
                       " subject, headers, t) VALUES (?1, 'nagios@example.com', 'Q', ?1,"
                       " 'bench', 'Subject: bench\n', ?2)",
                       [(k, now) for k in sorted({r[0] for r in rows})])
        db.execute("UPDATE journal SET next_check = 1e12 WHERE mail_key NOT LIKE 'mid:bench-%'")
        db.commit()
        db.close()
        for i in range(0, n, 1000):
            fake._call("POST", "/_fake/status", {"messages": known[i:i + 1000]}, timeout=60)
        fake._call("POST", "/_fake/status", {"script": ["delivered"]})
        t0 = time.monotonic()
        errf = open(os.path.join(d, "track.err"), "w+")
        # /usr/bin/time is the tracker's direct parent, so its peak RSS (%M)
        # is the tracker's own, not that of a Python process forked for it.
        timef = os.path.join(d, "time.out")
        argv = ["/usr/bin/time", "-o", timef, "-f", "%M"] + command(
            ["-c", conf, "--track"] + (["-v"] if os.environ.get("M2S_BENCH_VERBOSE") else []))
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=errf, env=clean_env())
        _, wstatus, ru = os.wait4(p.pid, 0)
        p.returncode = status = os.waitstatus_to_exitcode(wstatus)
        with open(timef) as f:
            peak_kb = int(f.read().split()[-1])
        wall = time.monotonic() - t0
        gets = json.loads(fake._call("GET", "/_fake/gets", timeout=60))
        ts = sorted(g["t"] for g in gets)
        # the worst sliding one-second window
        worst, j = 0, 0
        for i, t in enumerate(ts):
            while ts[j] < t - 1.0:
                j += 1
            worst = max(worst, i - j + 1)
        ended = run(["-c", conf, "--metrics"]).out
        cpu = ru.ru_utime + ru.ru_stime
        print("tracking pass over %d SMS due, max_rate %g, exit %s" % (n, rate, status))
        print("reads at the fake: %d, most in any one second: %d" % (len(gets), worst))
        print("wall: %.1f s (N / max_rate = %.1f s)" % (wall, n / rate))
        print("CPU of the tracker: %.2f s user+sys, %.3f ms per check"
              % (cpu, cpu / max(1, len(gets)) * 1000))
        print("peak RSS: %.1f MB" % (peak_kb / 1024.0))
        for l in ended.splitlines():
            if l.startswith("mail2sms_sms_final_total{status=\"delivered\"}") or \
               l.startswith("mail2sms_sms_tracked "):
                print(l)
        if status != 0:
            errf.seek(0)
            print(errf.read()[-2000:])


if __name__ == "__main__":
    try:
        main()
    finally:
        m2stest._cleanup_tmpdirs()      # the journal, the fake's directory
