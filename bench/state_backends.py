#!/usr/bin/env python3
"""The state store's cost per mail, PostgreSQL beside SQLite, in one run.

N mails (one number each) are piped to mail2sms against the fake Bird API,
first with the SQLite backend, then with a private PostgreSQL cluster
(tests/pg_instance.py, fsync on, as a relay's database would be), P at a
time. It prints the throughput (mails/s) and the CPU per mail: of the
mail2sms processes, and with the database server's CPU added for
PostgreSQL (the SQLite work is inside the process). Run as root or as a
user that may run initdb:

    python3 bench/state_backends.py [N] [P]        (default 200 mails, 4 at once)
"""

import os
import resource
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests"))
os.environ.setdefault("M2S_SRCDIR", TOP)
os.environ.setdefault("M2S_BIN", os.path.join(TOP, "_build", "src", "mail2sms"))
from m2stest import FakeBird, write_config, tmpdir, mail, command, clean_env  # noqa: E402
import pg_instance  # noqa: E402


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def server_cpu(pg):
    """CPU seconds of every process of the cluster (postmaster and backends)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"postgres" in cmd and (pg.data.encode() in cmd or b"postgres:" in cmd):
            total += (int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])) / tick
    return total


def one_run(conf, n, par):
    mails = [mail(subject="bench %d" % i) for i in range(n)]
    rcs = []
    lock = threading.Lock()
    idx = [0]

    def worker():
        while True:
            with lock:
                if idx[0] >= n:
                    return
                i = idx[0]
                idx[0] += 1
            p = subprocess.run(command(["-c", conf, "-f", "nagios@monitoring.example.com",
                                        "--", "+31612345678@sms.example.com"]),
                               input=mails[i], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=clean_env())
            with lock:
                rcs.append(p.returncode)
    c0, t0 = children_cpu(), time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(par)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0, children_cpu() - c0, rcs


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    par = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    pg = pg_instance.PgInstance(fsync=True).create()
    fake = FakeBird()
    try:
        sq = write_config(tmpdir("m2s-bench-sq-"), fake.url)
        pgc = write_config(tmpdir("m2s-bench-pg-"), fake.url,
                           state={"backend": "postgresql", "postgresql": pg.conninfo()})
        subprocess.run(command(["--init-state", "-c", pgc]), check=True,
                       stdout=subprocess.DEVNULL, env=clean_env())
        one_run(sq, 10, par)                    # warm up both
        one_run(pgc, 10, par)
        rows = []
        for name, conf in (("sqlite", sq), ("postgresql", pgc)):
            s0 = server_cpu(pg)
            wall, cpu, rcs = one_run(conf, n, par)
            srv = server_cpu(pg) - s0 if name == "postgresql" else 0.0
            bad = sum(1 for r in rcs if r != 0)
            rows.append((name, n / wall, cpu / n * 1000, (cpu + srv) / n * 1000, bad))
        print("| backend | mails/s (%d at once) | CPU per mail, mail2sms | with the "
              "database server | failed |" % par)
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            print("| %s | %.1f | %.2f ms | %.2f ms | %d |" % r)
        q, p = rows
        print("\nthroughput PostgreSQL / SQLite: %.2f (target >= 0.8); CPU per mail "
              "difference: %+.2f ms in mail2sms, %+.2f ms with the server (target <= 1 ms)"
              % (p[1] / q[1], p[2] - q[2], p[3] - q[3]))
    finally:
        fake.stop()
        pg.stop()


if __name__ == "__main__":
    main()
