#!/usr/bin/env python3
"""bench/run.py - what mail2sms costs, measured against baselines in the same run.

    python3 bench/run.py [--bin PATH] [--runs N] [--quick] [--only SECTIONS] [--json FILE]

--bin      the mail2sms binary (default: $M2S_BIN, else ./src/mail2sms)
--runs     repetitions per measurement (default 7; --quick: 3); medians are reported
--quick    fewer runs and mails, no 100 ms-latency fan-out (about a minute)
--only     comma-separated subset of: cost, postfix, fanout, growth

Sections:
  cost     CPU (user+sys) and peak RSS per mail for a small alert, a 200 KB HTML
           newsletter and a mail with 5 MB of attachments, dry run (-n) and
           against the fake Bird API; baselines: bench/floor.c (links and
           initialises the same libraries, then exits) and bench/baseline.py
           (the Python script an administrator would otherwise write).
  postfix  500 mails through a private Postfix instance (tests/postfix_instance.py)
           until the queue is empty and the fake has every request; baselines:
           the same pipe(8) entry running "cat > /dev/null" and the floor program.
           Needs root and Postfix, else skipped.
  fanout   one mail to an alias of 1,000 numbers: time and requests per second.
  growth   CPU and RSS of a dry run for mails of 10 KB, 1 MB, 10 MB and 30 MB.

Every program is measured as the direct child of /usr/bin/time: peak RSS is
/usr/bin/time's %M (the measured process alone); CPU is the user+sys time
that wait4() reports for the /usr/bin/time process (its children included,
to the microsecond; /usr/bin/time's own %U/%S have 10 ms steps), less the
median for "/usr/bin/time /bin/true", which is printed too.

Python 3 standard library only; the fake API and the Postfix helper come from
tests/.  Exit status: 0 when every target is met, 1 when one is missed.
"""

import argparse
import email.message
import email.policy
import email.utils
import json
import os
import platform
import random
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests"))

TIME = "/usr/bin/time"
LIBS = "gmime-3.0 libcurl json-c libconfig libxml-2.0 sqlite3"
SENDER = "nagios@monitoring.example.com"
MB = 1000 * 1000

results = {"targets": []}
misses = []


# ---------------------------------------------------------------- output

def say(*a):
    print(*a, flush=True)


def target(name, ok, detail):
    results["targets"].append({"target": name, "pass": bool(ok), "detail": detail})
    if not ok:
        misses.append(name)
    say("  %-4s %s: %s" % ("PASS" if ok else "MISS", name, detail))


def table(head, rows):
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(n) for x, n in zip(r, w)) + " |"
    say(line(head))
    say("|" + "|".join("-" * (n + 2) for n in w) + "|")
    for r in rows:
        say(line(r))


# ---------------------------------------------------------------- measuring

class Meter:
    """Runs commands under /usr/bin/time; returns CPU ms and peak RSS kB."""

    def __init__(self, work):
        self.out = os.path.join(work, "time.out")
        self.overhead = 0.0

    def once(self, argv, stdin_path=None, env=None, timeout=300):
        t0 = time.monotonic()
        with open(stdin_path or os.devnull, "rb") as fin:
            p = subprocess.Popen([TIME, "-f", "%U %S %M %x", "-o", self.out] + list(argv),
                                 stdin=fin, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        with open(self.out) as f:
            last = f.read().strip().splitlines()[-1].split()
        rss = int(last[2])
        rc = int(last[3])
        cpu = (ru.ru_utime + ru.ru_stime) * 1000 - self.overhead
        return {"cpu": cpu, "rss": rss, "rc": rc, "wall": wall}

    def calibrate(self, runs):
        v = [self.once(["/bin/true"])["cpu"] for _ in range(max(runs, 9))]
        self.overhead = statistics.median(v)
        return self.overhead


def med(samples, key):
    return statistics.median(s[key] for s in samples)


# ---------------------------------------------------------------- mails

def _msg(subject, frm=SENDER, to="oncall@sms.example.com"):
    m = email.message.EmailMessage(policy=email.policy.default)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(localtime=False)
    m["Message-ID"] = "<BENCHMSGID@bench.example.com>"
    return m


def _bytes(m):
    return m.as_bytes(policy=email.policy.default.clone(linesep="\n"))


def small_alert():
    m = _msg("** PROBLEM Service Alert: db1/Disk /var is CRITICAL **")
    m.set_content("***** Nagios *****\n\nNotification Type: PROBLEM\n\n"
                  "Service: Disk /var\nHost: db1.example.com\nAddress: 192.0.2.10\n"
                  "State: CRITICAL\n\nDate/Time: Tue Nov 26 03:14:07 UTC 2024\n\n"
                  "Additional Info:\n\nDISK CRITICAL - free space: /var 1204 MB (4% inode=91%):\n")
    return _bytes(m)


def newsletter(size=200 * 1000, seed=1):
    """An HTML-only newsletter of about size bytes: tables, inline styles,
    tracking links, quoted-printable, as mass mailers send them."""
    rnd = random.Random(seed)
    words = ("server update release security patch storage network backup cloud "
             "customer webinar invite register today offer discount performance "
             "monitoring dashboard alert team product feature").split()
    head = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>"
            "body{font-family:Arial,sans-serif}.btn{background:#0a6cff;color:#fff}"
            "</style></head><body><table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">"
            "<tr><td align=\"center\"><a href=\"https://news.example.com/view?id=1\">"
            "View this email in your browser</a></td></tr>")
    parts = [head]
    n = 0
    while sum(len(p) for p in parts) < size - 200:
        n += 1
        text = " ".join(rnd.choice(words) for _ in range(60))
        parts.append(
            "<tr><td style=\"padding:12px 24px;font-size:15px;color:#333333;\">"
            "<h2 style=\"margin:0 0 8px 0;\">Article %d: %s</h2>"
            "<p style=\"margin:0 0 8px 0;line-height:1.4\">%s</p>"
            "<a class=\"btn\" href=\"https://click.example.com/t?u=%08x&amp;a=%d\">"
            "Read more &rarr;</a><img src=\"https://img.example.com/p/%d.png\" "
            "width=\"1\" height=\"1\" alt=\"\"></td></tr>\n"
            % (n, text[:40], text, rnd.getrandbits(32), n, n))
    parts.append("</table></body></html>\n")
    m = _msg("Your monthly infrastructure digest", frm="news@news.example.com")
    m.set_content("".join(parts), subtype="html", cte="quoted-printable")
    return _bytes(m)


def with_attachments(sizes, seed=2, body="See the attached report.\n", subject="Report"):
    """A text part plus one attachment per (content type, filename, size)."""
    rnd = random.Random(seed)
    m = _msg(subject)
    m.set_content(body)
    for ct, name, n in sizes:
        maintype, subtype = ct.split("/")
        m.add_attachment(rnd.randbytes(n), maintype=maintype, subtype=subtype,
                         filename=name)
    return _bytes(m)


def attach5m():
    return with_attachments([("image/jpeg", "camera1.jpg", 2 * MB),
                             ("application/pdf", "report.pdf", 3 * MB)],
                            subject="Camera snapshot and weekly report")


def sized(total):
    """A mail of about total bytes: a text part, then base64 attachments of
    at most 4 MB each (so some of them fit the media limits)."""
    if total <= 64 * 1000:
        line = "Log line from the nightly job: everything is fine on host db1.\n"
        m = _msg("Nightly job output")
        m.set_content(line * (total // len(line)))
        return _bytes(m)
    chunks = []
    left = int((total - 1000) * 0.75 * 76 / 77)  # base64: 4 bytes per 3, 76 a line
    i = 0
    while left > 0:
        n = min(left, 4 * MB)
        chunks.append(("application/pdf", "part%d.pdf" % i, n))
        left -= n
        i += 1
    return with_attachments(chunks, seed=total)


class MailFile:
    """A mail template on disk; .path(i) gives a copy with its own Message-ID."""

    def __init__(self, work, name, data):
        self.name = name
        self.data = data
        self.size = len(data)
        self.dir = os.path.join(work, "mail-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.n = 0

    def path(self):
        self.n += 1
        p = os.path.join(self.dir, "%d.eml" % (self.n % 4))
        with open(p, "wb") as f:
            f.write(self.data.replace(b"BENCHMSGID", b"%s-%d-%d" % (
                self.name.encode(), os.getpid(), self.n)))
        return p


_num = [0]


def next_number(prefix="+3162"):
    _num[0] += 1
    return "%s%07d" % (prefix, _num[0])


# ---------------------------------------------------------------- sections

def sec_cost(a, meter, fake, conf, floor, work):
    import m2stest
    say("\n== 1. Cost per mail (median of %d runs) ==" % a.runs)
    mails = [MailFile(work, "alert", small_alert()),
             MailFile(work, "newsletter", newsletter()),
             MailFile(work, "attach5m", attach5m())]
    base = [sys.executable, os.path.join(HERE, "baseline.py"), "--url", fake.url,
            "--workspace", m2stest.DEFAULT_WORKSPACE, "--channel", m2stest.DEFAULT_CHANNEL,
            "--key-file", os.path.join(os.path.dirname(conf), "access_key")]
    rows = []
    res = {}
    for mode in ("dry", "fake"):
        for mf in mails:
            samples = {"mail2sms": [], "floor": [], "python": []}
            for i in range(a.runs + 1):               # the first is a warm-up
                num = next_number()
                cmds = {
                    "mail2sms": [a.bin, "-c", conf, "-f", SENDER, "-q", "BENCH%d" % i]
                                + (["-n"] if mode == "dry" else [])
                                + ["--", "%s@sms.example.com" % num],
                    "floor": [floor],
                    "python": base + (["-n"] if mode == "dry" else []) + [num],
                }
                for who, cmd in cmds.items():
                    s = meter.once(cmd, mf.path())
                    if s["rc"] != 0:
                        raise SystemExit("%s exited %d on %s (%s)" % (who, s["rc"], mf.name,
                                                                      " ".join(cmd)))
                    if i:
                        samples[who].append(s)
            r = {w: {"cpu": med(v, "cpu"), "rss": med(v, "rss")} for w, v in samples.items()}
            res[(mode, mf.name)] = r
            m, f, p = r["mail2sms"], r["floor"], r["python"]
            rows.append([mode, mf.name, "%.0f KB" % (mf.size / 1000),
                         "%.1f" % m["cpu"], "%.1f" % f["cpu"], "%.1f" % p["cpu"],
                         "%.2f" % (m["cpu"] / f["cpu"]), "%.1f" % (p["cpu"] / m["cpu"]),
                         "%.1f" % (m["rss"] / 1000), "%.1f" % (f["rss"] / 1000),
                         "%.1f" % (p["rss"] / 1000), "%+.1f" % ((m["rss"] - f["rss"]) / 1000)])
    table(["mode", "mail", "size", "m2s CPU ms", "floor CPU", "python CPU",
           "m2s/floor", "python/m2s", "m2s RSS MB", "floor RSS", "python RSS",
           "m2s-floor RSS MB"], rows)
    results["cost"] = {"%s/%s" % k: v for k, v in res.items()}
    for mode in ("dry", "fake"):
        r = res[(mode, "alert")]
        m, f, p = r["mail2sms"], r["floor"], r["python"]
        target("small alert (%s) CPU within 1.5x the floor" % mode, m["cpu"] <= 1.5 * f["cpu"],
               "%.1f ms vs %.1f ms = %.2fx" % (m["cpu"], f["cpu"], m["cpu"] / f["cpu"]))
        target("small alert (%s) RSS within 5 MB of the floor" % mode,
               m["rss"] - f["rss"] <= 5000,
               "%.1f MB vs %.1f MB = %+.1f MB" % (m["rss"] / 1000, f["rss"] / 1000,
                                                 (m["rss"] - f["rss"]) / 1000))
        for mf in mails:
            r = res[(mode, mf.name)]
            m, p = r["mail2sms"], r["python"]
            target("%s (%s) at least 5x less CPU than the Python script" % (mf.name, mode),
                   p["cpu"] >= 5 * m["cpu"],
                   "%.1f ms vs %.1f ms = %.1fx" % (m["cpu"], p["cpu"], p["cpu"] / m["cpu"]))
    for mode in ("dry", "fake"):
        m = res[(mode, "attach5m")]["mail2sms"]
        size = mails[2].size
        target("5 MB attachments (%s) peak RSS under 3x the mail" % mode,
               m["rss"] * 1000 < 3 * size,
               "%.1f MB for a %.1f MB mail = %.2fx" % (m["rss"] / 1000, size / MB,
                                                       m["rss"] * 1000 / size))


def sec_growth(a, meter, conf, floor, work):
    say("\n== 4. Growth with mail size (dry run, median of %d runs) ==" % a.runs)
    sizes = [10 * 1000, 1 * MB, 10 * MB, 30 * MB]
    rows = []
    pts = []
    for s in sizes:
        mf = MailFile(work, "size%d" % s, sized(s))
        samples = []
        for i in range(a.runs + 1):
            r = meter.once([a.bin, "-c", conf, "-f", SENDER, "-q", "G%d" % i, "-n", "--",
                            "%s@sms.example.com" % next_number()], mf.path())
            if r["rc"] != 0:
                raise SystemExit("mail2sms exited %d on a %d-byte mail" % (r["rc"], s))
            if i:
                samples.append(r)
        cpu, rss = med(samples, "cpu"), med(samples, "rss")
        pts.append((mf.size, cpu, rss))
        rows.append(["%.2f MB" % (mf.size / MB), "%.1f" % cpu, "%.1f" % (rss / 1000),
                     "%.2f" % (rss * 1000 / mf.size)])
    table(["mail", "CPU ms", "peak RSS MB", "RSS / mail size"], rows)
    (s1, c1, r1), (s2, c2, r2) = pts[2], pts[3]
    cpu_mb = (c2 - c1) / ((s2 - s1) / MB)
    rss_x = (r2 - r1) * 1000 / (s2 - s1)
    say("  from 10 MB to 30 MB: %.1f ms CPU and %.2f bytes of RSS per byte of mail"
        % (cpu_mb, rss_x))
    results["growth"] = {"points": pts, "cpu_ms_per_MB": cpu_mb, "rss_per_byte": rss_x}
    for size, cpu, rss in pts:
        if size >= 5 * MB:
            target("%.0f MB mail peak RSS under 3x the mail" % (size / MB),
                   rss * 1000 < 3 * size,
                   "%.1f MB = %.2fx" % (rss / 1000, rss * 1000 / size))
    target("RSS grows linearly with a small constant (10 -> 30 MB)", rss_x < 3,
           "%.2f bytes of RSS per byte of mail" % rss_x)


def sec_fanout(a, meter, fake, work):
    import m2stest
    say("\n== 3. Fan-out: one mail to an alias of 1,000 numbers ==")
    numbers = ["+3161%07d" % (1000000 + i) for i in range(1000)]
    runs = []
    if not a.quick:
        runs.append(("defaults (concurrency 8, max_rate 50), 100 ms API latency",
                     0.1, {}))
    runs.append(("concurrency 32, max_rate 500, no added latency", 0.0,
                 {"concurrency": 32, "max_rate": 500}))
    rows = []
    checks = []
    mf = MailFile(work, "fanout", small_alert())
    for label, lat, bird in runs:
        fake.reset()
        fake.latency(lat)
        d = os.path.join(work, "fanout-%d" % len(rows))
        conf = m2stest.write_config(d, fake.url, bird=dict(bird, timeout=10),
                                    recipients={"aliases": {"oncall": numbers}},
                                    deadline=120)
        r = meter.once([a.bin, "-c", conf, "-f", SENDER, "-q", "FAN", "--",
                        "oncall@sms.example.com"], mf.path())
        got = len(fake.message_attempts())
        t = sorted(x["t"] for x in fake.message_attempts())
        rate = float(bird.get("max_rate", 50))
        k = int(rate)
        span = min(t[i + k] - t[i] for i in range(len(t) - k)) if len(t) > k else None
        rows.append([label, r["rc"], got, "%.1f" % r["wall"], "%.0f" % (got / r["wall"]),
                     "%.0f" % r["cpu"], "%.2f" % (r["cpu"] / max(got, 1)),
                     "%.1f" % (r["rss"] / 1000),
                     "%.3f" % span if span is not None else "-"])
        results.setdefault("fanout", []).append(
            {"label": label, "rc": r["rc"], "requests": got, "wall": r["wall"],
             "cpu_ms": r["cpu"], "rss_kb": r["rss"], "shortest_span": span})
        checks.append((label, r, got, span, k))
    fake.latency(0)
    table(["run", "exit", "requests", "seconds", "req/s", "CPU ms", "CPU ms/request",
           "peak RSS MB", "shortest span of max_rate+1 requests (s)"], rows)
    for label, r, got, span, k in checks:
        target("fan-out, %s: every number once, exit 0" % label,
               r["rc"] == 0 and got == 1000, "exit %d, %d requests" % (r["rc"], got))
        target("fan-out, %s: never above max_rate in any second" % label,
               span is not None and span >= 0.98,
               "%d consecutive requests arrived within %.3f s" % (k + 1, span or 0))


def proc_cpu(pid):
    """user+sys seconds of one process (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def sec_postfix(a, fake, floor, work):
    import m2stest
    say("\n== 2. Throughput through Postfix (%d mails) ==" % a.mails)
    try:
        import postfix_instance as pfi
    except ImportError as e:
        say("  SKIP: tests/postfix_instance.py cannot be imported: %s" % e)
        return
    why = pfi.available()
    if why:
        say("  SKIP: %s" % why)
        return
    uid, gid = pfi.ensure_user("mail2sms")
    base = tempfile.mkdtemp(prefix="m2s-bench-pf-", dir="/tmp")
    os.chmod(base, 0o755)
    pf = None
    try:
        # Programs the pipe user can reach.
        binpath = os.path.join(base, "mail2sms")
        shutil.copy2(a.bin, binpath)
        fl = os.path.join(base, "floor")
        shutil.copy2(floor, fl)
        for p in (binpath, fl):
            os.chmod(p, 0o755)
        m2s = os.path.join(base, "m2s")
        conf = m2stest.write_config(m2s, fake.url, bird={"timeout": 10}, deadline=60)
        for root, dirs, files in os.walk(m2s):
            for n in dirs + files:
                os.chown(os.path.join(root, n), uid, gid)
        os.chown(m2s, uid, gid)
        os.chmod(conf, 0o640)

        etc = os.path.join(SRCDIR, "etc")
        shipped = pfi.read_master_entry(os.path.join(etc, "master.cf"), "sms")
        main_cf = pfi.read_main_params(os.path.join(etc, "main.cf"))
        slots = int(main_cf.get("sms_destination_concurrency_limit", "20"))

        def entry(service, argv):
            e = re.sub(r"^sms\b", service, shipped)
            e, n = re.subn(r"\bargv=.*", lambda _: "argv=" + argv, e, flags=re.S)
            if n != 1:
                raise SystemExit("no argv= in etc/master.cf's sms entry")
            return e

        pf = pfi.PostfixInstance(base)
        params = dict(main_cf)
        params["transport_maps"] = "hash:" + os.path.join(pf.config_dir, "transport")
        for svc in ("smscat", "smsfloor"):
            for k, v in main_cf.items():
                if k.startswith("sms_"):
                    params[svc + k[3:]] = v
        params["defer_transports"] = "sms smscat smsfloor"
        pf.set_params(**params)
        pf.add_service(re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (binpath, conf),
                              shipped))
        pf.add_service(entry("smscat", "/bin/sh -c { exec cat > /dev/null }"))
        pf.add_service(entry("smsfloor", fl))
        pf.add_transport("sms.example.com", "sms:")
        pf.add_transport("cat.example.com", "smscat:")
        pf.add_transport("floor.example.com", "smsfloor:")
        pf.add_transport("monitoring.example.com", "discard:")
        pf.write_config()
        pf.start()
        say("  pipe(8) entry (etc/master.cf), %s" % ", ".join(
            "%s = %s" % (k, v) for k, v in main_cf.items() if k.startswith("sms_")))

        template = small_alert()

        def queue_files():
            n = 0
            for sub in ("maildrop", "incoming", "active", "deferred"):
                for root, _, files in os.walk(os.path.join(pf.queue_dir, sub)):
                    n += len(files)
            return n

        def phase(name, domain, service, expect_fake):
            fake.reset()
            # 1. queue the mails while the transport is held back
            t0 = time.monotonic()
            with smtplib.SMTP("127.0.0.1", pf.port, timeout=60) as s:
                s.ehlo("bench.example.com")
                for i in range(a.mails):
                    rcpt = "%s@%s" % (next_number("+3164"), domain)
                    msg = template.replace(b"BENCHMSGID", b"pf-%s-%d-%d" % (
                        service.encode(), os.getpid(), i))
                    msg = msg.replace(b"oncall@sms.example.com", rcpt.encode())
                    s.sendmail(SENDER, [rcpt], msg)
            deadline = time.time() + 120
            while True:
                dq = sum(len(f) for _, _, f in os.walk(os.path.join(pf.queue_dir, "deferred")))
                if dq >= a.mails and queue_files() == dq:
                    break
                if time.time() > deadline:
                    raise SystemExit("%s: only %d of %d mails deferred" % (name, dq, a.mails))
                time.sleep(0.1)
            queued = time.monotonic() - t0
            # 2. release the transport and flush; time until the queue is empty
            others = " ".join(x for x in ("sms", "smscat", "smsfloor") if x != service)
            pf.postconf("-e", "defer_transports = " + others)
            pf._run([pfi.POSTFIX, "-c", pf.config_dir, "reload"])
            f0 = proc_cpu(fake.proc.pid)
            t1 = time.monotonic()
            pf.flush()
            deadline = time.time() + 600
            while True:
                left = queue_files()
                if left == 0 and (not expect_fake or len(fake.message_attempts()) >= a.mails):
                    break
                if time.time() > deadline:
                    raise SystemExit("%s: %d mails still queued" % (name, left))
                time.sleep(0.05)
            took = time.monotonic() - t1
            fcpu = (proc_cpu(fake.proc.pid) - f0) * 1000 / a.mails
            pf.postconf("-e", "defer_transports = sms smscat smsfloor")
            pf._run([pfi.POSTFIX, "-c", pf.config_dir, "reload"])
            got = len(fake.messages()) if expect_fake else None
            return {"transport": name, "queue_s": queued, "deliver_s": took,
                    "per_s": a.mails / took, "fake_accepted": got,
                    "fake_cpu_ms_per_mail": fcpu}

        out = [phase("cat > /dev/null", "cat.example.com", "smscat", False),
               phase("floor program", "floor.example.com", "smsfloor", False),
               phase("mail2sms -> fake API", "sms.example.com", "sms", True)]
        log = pf.log()
        bounced = len(re.findall(r"status=bounced", log))
        deferred = len(re.findall(r"status=deferred \((?!deferred transport)", log))
        rows = [[o["transport"], "%.1f" % o["queue_s"], "%.2f" % o["deliver_s"],
                 "%.0f" % o["per_s"], "%.2f" % (o["deliver_s"] / out[1]["deliver_s"]),
                 "%.1f" % (1000 * slots * o["deliver_s"] / a.mails),
                 "%.1f" % o["fake_cpu_ms_per_mail"] if o["fake_accepted"] is not None else "-",
                 o["fake_accepted"] if o["fake_accepted"] is not None else "-"]
                for o in out]
        table(["transport", "queueing s", "delivery s", "mails/s", "vs floor",
               "ms/mail per process slot", "fake API CPU ms/mail", "accepted by fake"], rows)
        say("  bounced: %d, deferred by a delivery attempt: %d" % (bounced, deferred))
        results["postfix"] = out
        m, f = out[2], out[1]
        target("mail2sms accepted for every mail", m["fake_accepted"] == a.mails and
               not bounced and not deferred,
               "%s of %d accepted, %d bounced, %d deferred" % (m["fake_accepted"], a.mails,
                                                               bounced, deferred))
        target("Postfix throughput within 1.3x of the floor transport",
               m["deliver_s"] <= 1.3 * f["deliver_s"],
               "%.2f s vs %.2f s = %.2fx" % (m["deliver_s"], f["deliver_s"],
                                             m["deliver_s"] / f["deliver_s"]))
    finally:
        if pf is not None:
            pf.stop()
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- main

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    ver = subprocess.run([a_bin[0], "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode().splitlines()
    return {"nproc": os.cpu_count(), "cpu": model, "mem_mb": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "mail2sms": ver[0] if ver else "?"}


a_bin = [None]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("M2S_BIN") or
                    os.path.join(os.getcwd(), "src", "mail2sms"))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--mails", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="cost,postfix,fanout,growth")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    a.runs = a.runs or (3 if a.quick else 7)
    a.mails = a.mails or (100 if a.quick else 500)
    only = set(a.only.split(","))
    if not os.access(a.bin, os.X_OK):
        raise SystemExit("no mail2sms binary at %s (use --bin or $M2S_BIN)" % a.bin)
    if not os.access(TIME, os.X_OK):
        raise SystemExit("%s is missing (apt-get install time)" % TIME)
    a_bin[0] = a.bin
    os.environ["M2S_BIN"] = a.bin
    import m2stest

    work = tempfile.mkdtemp(prefix="m2s-bench-")
    try:
        floor = os.path.join(work, "floor")
        cc = os.environ.get("CC", "cc")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + LIBS.split(),
                               stdout=subprocess.PIPE, check=True).stdout.decode().split()
        subprocess.run([cc, "-O2", os.path.join(HERE, "floor.c"), "-o", floor] + flags,
                       check=True)

        mach = machine()
        results["machine"] = mach
        say("machine: %d CPUs, %s, %d MB RAM, Linux %s, Python %s" % (
            mach["nproc"], mach["cpu"], mach["mem_mb"], mach["kernel"], mach["python"]))
        say("binary:  %s (%s)" % (a.bin, mach["mail2sms"]))
        say("floor:   %s %s -o floor $(pkg-config --cflags --libs %s)" % (cc, "-O2 floor.c", LIBS))
        meter = Meter(work)
        ov = meter.calibrate(a.runs)
        say("/usr/bin/time /bin/true: %.2f ms CPU (subtracted from every CPU figure)" % ov)
        results["time_overhead_ms"] = ov

        with m2stest.FakeBird() as fake:
            conf = m2stest.write_config(os.path.join(work, "m2s"), fake.url,
                                        bird={"timeout": 10}, deadline=60)
            if "cost" in only:
                sec_cost(a, meter, fake, conf, floor, work)
            if "postfix" in only:
                sec_postfix(a, fake, floor, work)
            if "fanout" in only:
                sec_fanout(a, meter, fake, work)
            if "growth" in only:
                # the 30 MB mail is 30,000,000 bytes: under the default
                # limits.max_message_bytes (30 MiB = 31,457,280 bytes)
                sec_growth(a, meter, conf, floor, work)
    finally:
        if a.keep:
            say("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        m2stest._cleanup_tmpdirs()

    say("\n%d targets, %d met, %d missed%s" % (
        len(results["targets"]), len(results["targets"]) - len(misses), len(misses),
        "".join("\n  missed: " + m for m in misses)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
