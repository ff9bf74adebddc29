#!/usr/bin/env python3
"""bench/lmtp.py - the LMTP service against the pipe, side by side in one run.

    python3 bench/lmtp.py [--bin PATH] [--mails N] [--long N] [--runs N] [--quick]
                          [--only SECTIONS] [--json FILE]

The fake Bird API (tests/fake_bird.py) serves HTTPS with a certificate of a
test CA made here with openssl (bird.ca_file names the CA), so every TLS
handshake the pipe makes, and the service saves, is in the figures.

Sections:
  cpu      CPU per small alert: the pipe (one process per mail, measured as
           bench/run.py does: the direct child of /usr/bin/time, median of
           --runs) against the service (its own user+sys time from /proc
           over --mails mails on kept LMTP connections, after a warm-up).
  postfix  --mails mails through a private Postfix instance to three
           transports in turn: the pipe(8) entry of etc/master.cf running
           mail2sms, the same entry running the floor program
           (bench/floor.c), and an lmtp: transport to mail2sms --lmtp;
           time from the flush until the queue is empty and the fake has
           every request. Needs root and Postfix, else skipped.
  long     --long mails (default 100,000) straight to the service over
           four connections, RSS sampled every few seconds: flat after the
           first tenth.

Targets: service CPU per mail at most 1/10 of the pipe's; throughput
through Postfix at least 3x the pipe's; RSS flat over the long run (less
than 2 MB above the value after the warm-up).

Python 3 standard library, openssl, /usr/bin/time, cc and pkg-config.
Exit status: 0 when every target is met, 1 when one is missed.
"""

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
sys.path.insert(0, HERE)

import run as bench  # noqa: E402  bench/run.py: Meter, table, target, the alert

say, table, target = bench.say, bench.table, bench.target
SENDER = bench.SENDER


# ---------------------------------------------------------------- TLS fake

def make_ca(work):
    """A test CA and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    key, csr, cert = (os.path.join(work, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    ext = os.path.join(work, "srv.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    q = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    ca_key, "-out", ca, "-days", "2", "-subj", "/CN=mail2sms bench CA"], **q)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=127.0.0.1"], **q)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], **q)
    return ca, cert, key


def https_fake(ca, cert, key):
    import m2stest

    class TLSFake(m2stest.FakeBird):
        def __init__(self):
            self.dir = m2stest.tmpdir("m2s-fake-")
            port_file = os.path.join(self.dir, "port")
            self.proc = subprocess.Popen(
                [sys.executable, m2stest.FAKE, "--port", "0", "--port-file", port_file,
                 "--workspace", m2stest.DEFAULT_WORKSPACE, "--channel",
                 m2stest.DEFAULT_CHANNEL, "--access-key", m2stest.DEFAULT_KEY,
                 "--tls-cert", cert, "--tls-key", key], stdin=subprocess.DEVNULL)
            deadline = time.time() + 10
            self.port = None
            while time.time() < deadline and self.port is None:
                if os.path.exists(port_file) and open(port_file).read().strip():
                    self.port = int(open(port_file).read())
                time.sleep(0.02)
            if self.port is None:
                self.stop()
                raise SystemExit("the HTTPS fake did not start")
            self.url = "https://127.0.0.1:%d" % self.port
            ctx = ssl.create_default_context(cafile=ca)
            self._op = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   urllib.request.HTTPSHandler(context=ctx))

        def _call(self, method, path, data=None, timeout=30):
            body = None if data is None else json.dumps(data).encode()
            req = urllib.request.Request(self.url + path, data=body, method=method)
            if body is not None:
                req.add_header("Content-Type", "application/json")
            with self._op.open(req, timeout=timeout) as r:
                return r.read()

    return TLSFake()


# ---------------------------------------------------------------- the service

class Service:
    def __init__(self, argv, port, user=None):
        cmd = (["runuser", "-u", user, "--"] if user else []) + argv
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.port = port
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.log.seek(0)
                    raise SystemExit("mail2sms --lmtp did not start: %s"
                                     % self.log.read().decode()[-2000:])
                time.sleep(0.05)
        self.pid = self.proc.pid
        if user:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout.split()
            self.pid = int(out[0])

    def stop(self):
        os.kill(self.pid, 15)
        self.proc.wait(60)


def lmtp_session(port, mails, rcpt_of, sent):
    """Deliver mails (bytes, LF line ends) one transaction each over one
    connection; rcpt_of(i) is the recipient. Counts replies in sent[0]."""
    s = socket.create_connection(("127.0.0.1", port), 30)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("the service closed the connection")
            if line[3:4] != b"-":
                return line

    reply()
    s.sendall(b"LHLO bench.example.com\r\n")
    reply()
    for i, m in enumerate(mails):
        body = m.replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..")
        s.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER.encode(),
                                                                  rcpt_of(i).encode()))
        for _ in range(3):
            reply()
        s.sendall(body + b".\r\n")
        r = reply()
        if not r.startswith(b"250"):
            raise SystemExit("mail %d: %r" % (i, r))
        sent[0] += 1
    s.sendall(b"QUIT\r\n")
    s.close()


def service_conf(work, fake, ca, port, name, **extra):
    import m2stest
    return m2stest.write_config(os.path.join(work, name), fake.url,
                                bird=dict({"timeout": 10, "ca_file": ca, "max_rate": 500,
                                           "concurrency": 8}, **extra.pop("bird", {})),
                                service={"listen": ["inet:127.0.0.1:%d" % port]},
                                deadline=60, **extra)


def alerts(n, tag):
    t = bench.small_alert()
    return [t.replace(b"BENCHMSGID", b"%s-%d-%d" % (tag.encode(), os.getpid(), i))
            for i in range(n)]


# ---------------------------------------------------------------- sections

def sec_cpu(a, fake, ca, work):
    import m2stest
    say("\n== CPU per small alert over HTTPS: the pipe and the service ==")
    meter = bench.Meter(work)
    ov = meter.calibrate(a.runs)
    conf = service_conf(work, fake, ca, m2stest_free_port(), "cpu")
    path = os.path.join(work, "alert.eml")
    pipe = []
    for i in range(a.runs + 1):
        with open(path, "wb") as f:
            f.write(alerts(1, "cpu-pipe-%d" % i)[0])
        s = meter.once([a.bin, "-c", conf, "-f", SENDER, "--",
                        "%s@sms.example.com" % bench.next_number("+3165")], path)
        if s["rc"] != 0:
            raise SystemExit("the pipe exited %d" % s["rc"])
        if i:
            pipe.append(s["cpu"])
    port = m2stest_free_port()
    conf = service_conf(work, fake, ca, port, "cpu-svc")
    svc = Service([a.bin, "--lmtp", "-c", conf], port)
    try:
        sent = [0]
        lmtp_session(port, alerts(50, "cpu-warm"), lambda i: "%s@sms.example.com"
                     % bench.next_number("+3166"), sent)
        c0, t0 = bench.proc_cpu(svc.pid), time.monotonic()
        lmtp_session(port, alerts(a.mails, "cpu-svc"), lambda i: "%s@sms.example.com"
                     % bench.next_number("+3166"), sent)
        took = time.monotonic() - t0
        svc_ms = (bench.proc_cpu(svc.pid) - c0) * 1000 / a.mails
    finally:
        svc.stop()
    pipe_ms = statistics.median(pipe)
    table(["transport", "CPU ms per mail", "how"], [
        ["pipe (a process per mail)", "%.2f" % pipe_ms, "median of %d runs, /usr/bin/time "
         "overhead %.2f ms subtracted" % (a.runs, ov)],
        ["service (--lmtp)", "%.2f" % svc_ms, "%d mails on one connection, %.1f s, "
         "/proc user+sys" % (a.mails, took)]])
    bench.results["lmtp_cpu"] = {"pipe_ms": pipe_ms, "service_ms": svc_ms,
                                 "mails": a.mails, "runs": a.runs}
    target("service CPU per mail at most 1/10 of the pipe's", svc_ms * 10 <= pipe_ms,
           "%.2f ms vs %.2f ms = 1/%.1f" % (svc_ms, pipe_ms, pipe_ms / svc_ms))


def m2stest_free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sec_postfix(a, fake, ca, floor, work):
    import m2stest
    say("\n== Throughput through Postfix (%d mails each): pipe, floor, lmtp ==" % a.mails)
    try:
        import postfix_instance as pfi
    except ImportError as e:
        say("  SKIP: %s" % e)
        return
    why = pfi.available()
    if why:
        say("  SKIP: %s" % why)
        return
    uid, gid = pfi.ensure_user("mail2sms")
    base = tempfile.mkdtemp(prefix="m2s-bench-lmtp-", dir="/tmp")
    os.chmod(base, 0o755)
    pf = svc = None
    try:
        binpath, fl = os.path.join(base, "mail2sms"), os.path.join(base, "floor")
        shutil.copy2(a.bin, binpath)
        shutil.copy2(floor, fl)
        shutil.copy2(ca, os.path.join(base, "ca.pem"))
        for p in (binpath, fl, os.path.join(base, "ca.pem")):
            os.chmod(p, 0o755)
        port = m2stest_free_port()
        conf = service_conf(base, fake, os.path.join(base, "ca.pem"), port, "m2s")
        m2s = os.path.dirname(conf)
        for root, dirs, files in os.walk(m2s):
            for n in dirs + files:
                os.chown(os.path.join(root, n), uid, gid)
        os.chown(m2s, uid, gid)
        os.chmod(conf, 0o640)
        svc = Service([binpath, "--lmtp", "-c", conf], port, user="mail2sms")

        etc = os.path.join(SRCDIR, "etc")
        shipped = pfi.read_master_entry(os.path.join(etc, "master.cf"), "sms")
        main_cf = pfi.read_main_params(os.path.join(etc, "main.cf"))
        slots = int(main_cf.get("sms_destination_concurrency_limit", "20"))
        pf = pfi.PostfixInstance(base)
        params = dict(main_cf)
        params["transport_maps"] = "hash:" + os.path.join(pf.config_dir, "transport")
        for k, v in main_cf.items():
            if k.startswith("sms_"):
                params["smsfloor" + k[3:]] = v
        params["defer_transports"] = "sms smsfloor lmtp"
        pf.set_params(**params)
        pf.add_service(re.sub(r"\bargv=\S+", lambda _: "argv=%s -c %s" % (binpath, conf),
                              shipped))
        e = re.sub(r"^sms\b", "smsfloor", shipped)
        pf.add_service(re.sub(r"\bargv=.*", lambda _: "argv=" + fl, e, flags=re.S))
        pf.add_service("lmtp      unix  -       -       n       -       -       lmtp")
        pf.add_transport("sms.example.com", "sms:")
        pf.add_transport("floor.example.com", "smsfloor:")
        pf.add_transport("lmtp.example.com", "lmtp:inet:127.0.0.1:%d" % port)
        pf.add_transport("monitoring.example.com", "discard:")
        pf.write_config()
        pf.start()
        say("  pipe(8) entry of etc/master.cf (%s); lmtp: Postfix's defaults "
            "(destination concurrency %s), service.workers 4" % (
                ", ".join("%s = %s" % (k, v) for k, v in main_cf.items()
                          if k.startswith("sms_")),
                pf.postconf("-h", "default_destination_concurrency_limit").strip()))

        def queue_files(sub=("maildrop", "incoming", "active", "deferred")):
            return sum(len(f) for s in sub
                       for _, _, f in os.walk(os.path.join(pf.queue_dir, s)))

        def phase(name, domain, service, expect_fake, cpu_pid=None):
            fake.reset()
            with bench.smtplib.SMTP("127.0.0.1", pf.port, timeout=60) as s:
                s.ehlo("bench.example.com")
                for i, m in enumerate(alerts(a.mails, "pf-" + service)):
                    rcpt = "%s@%s" % (bench.next_number("+3164"), domain)
                    s.sendmail(SENDER, [rcpt], m.replace(b"oncall@sms.example.com",
                                                         rcpt.encode()))
            deadline = time.time() + 120
            while queue_files(("deferred",)) < a.mails or queue_files() != queue_files(
                    ("deferred",)):
                if time.time() > deadline:
                    raise SystemExit("%s: the mails were not all deferred" % name)
                time.sleep(0.1)
            others = " ".join(x for x in ("sms", "smsfloor", "lmtp") if x != service)
            pf.postconf("-e", "defer_transports = " + others)
            pf._run([pfi.POSTFIX, "-c", pf.config_dir, "reload"])
            c0 = bench.proc_cpu(cpu_pid) if cpu_pid else None
            t1 = time.monotonic()
            pf.flush()
            deadline = time.time() + 900
            while queue_files() or (expect_fake and len(fake.message_attempts()) < a.mails):
                if time.time() > deadline:
                    raise SystemExit("%s: mails still queued" % name)
                time.sleep(0.05)
            took = time.monotonic() - t1
            cpu = (bench.proc_cpu(cpu_pid) - c0) * 1000 / a.mails if cpu_pid else None
            pf.postconf("-e", "defer_transports = sms smsfloor lmtp")
            pf._run([pfi.POSTFIX, "-c", pf.config_dir, "reload"])
            return {"transport": name, "deliver_s": took, "per_s": a.mails / took,
                    "accepted": len(fake.messages()) if expect_fake else None,
                    "service_cpu_ms": cpu}

        out = [phase("pipe: mail2sms", "sms.example.com", "sms", True),
               phase("pipe: floor program", "floor.example.com", "smsfloor", False),
               phase("lmtp: mail2sms --lmtp", "lmtp.example.com", "lmtp", True, svc.pid)]
        log = pf.log()
        bounced = len(re.findall(r"status=bounced", log))
        deferred = len(re.findall(r"status=deferred \((?!deferred transport)", log))
        table(["transport", "delivery s", "mails/s", "vs the pipe", "service CPU ms/mail",
               "accepted by fake"],
              [[o["transport"], "%.2f" % o["deliver_s"], "%.0f" % o["per_s"],
                "%.1fx" % (o["per_s"] / out[0]["per_s"]),
                "%.2f" % o["service_cpu_ms"] if o["service_cpu_ms"] is not None else "-",
                o["accepted"] if o["accepted"] is not None else "-"] for o in out])
        say("  bounced: %d, deferred by a delivery attempt: %d" % (bounced, deferred))
        bench.results["lmtp_postfix"] = out
        p, lm = out[0], out[2]
        target("every mail accepted through both, none bounced or deferred",
               p["accepted"] == a.mails and lm["accepted"] == a.mails and not bounced
               and not deferred, "pipe %s, lmtp %s of %d; %d bounced, %d deferred"
               % (p["accepted"], lm["accepted"], a.mails, bounced, deferred))
        target("lmtp throughput through Postfix at least 3x the pipe's",
               lm["per_s"] >= 3 * p["per_s"], "%.0f/s vs %.0f/s = %.1fx"
               % (lm["per_s"], p["per_s"], lm["per_s"] / p["per_s"]))
    finally:
        if svc:
            svc.stop()
        if pf is not None:
            pf.stop()
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


def sec_long(a, fake, ca, work):
    say("\n== RSS over %d mails to the service ==" % a.long)
    port = m2stest_free_port()
    conf = service_conf(work, fake, ca, port, "long")
    svc = Service([a.bin, "--lmtp", "-c", conf], port)
    samples = []
    try:
        per = a.long // 4
        sent = [0]
        template = bench.small_alert()

        def client(k):
            # a few hundred mails per connection, as Postfix's cached ones
            done = 0
            while done < per:
                n = min(500, per - done)
                ms = [template.replace(b"BENCHMSGID", b"long-%d-%d-%d" % (os.getpid(), k,
                                                                           done + i))
                      for i in range(n)]
                lmtp_session(port, ms, lambda i: "+3167%d%07d@sms.example.com"
                             % (k, (done + i) % 10 ** 7), sent)
                done += n
        ts = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        last_reset = 0
        while any(t.is_alive() for t in ts):
            samples.append((sent[0], bench_rss(svc.pid), time.monotonic() - t0))
            if sent[0] - last_reset > 5000:
                fake.reset()            # the fake keeps every request it saw
                last_reset = sent[0]
            time.sleep(2)
        for t in ts:
            t.join()
        took = time.monotonic() - t0
        samples.append((sent[0], bench_rss(svc.pid), took))
    finally:
        svc.stop()
    warm = [s for s in samples if s[0] >= a.long // 10]
    base_rss = warm[0][1]
    peak = max(s[1] for s in warm)
    step = max(1, len(samples) // 10)
    table(["mails", "RSS kB", "seconds"],
          [[s[0], s[1], "%.0f" % s[2]] for s in samples[::step] + [samples[-1]]])
    bench.results["lmtp_long"] = {"mails": sent[0], "seconds": took, "samples": samples}
    say("  %d mails in %.0f s (%.0f/s)" % (sent[0], took, sent[0] / took))
    target("RSS flat over %d mails (after the first tenth)" % a.long,
           sent[0] == 4 * (a.long // 4) and peak - base_rss < 2048,
           "%d kB after %d mails, at most %d kB after (+%d kB), %d kB at the end"
           % (base_rss, warm[0][0], peak, peak - base_rss, samples[-1][1]))


def bench_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("M2S_BIN") or
                    os.path.join(os.getcwd(), "src", "mail2sms"))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--mails", type=int)
    ap.add_argument("--long", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="cpu,postfix,long")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    a.runs = a.runs or (5 if a.quick else 15)
    a.mails = a.mails or (200 if a.quick else 1000)
    a.long = a.long or (5000 if a.quick else 100000)
    only = set(a.only.split(","))
    os.environ["M2S_BIN"] = a.bin
    bench.a_bin[0] = a.bin
    import m2stest
    work = tempfile.mkdtemp(prefix="m2s-bench-lmtp-")
    try:
        floor = os.path.join(work, "floor")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + bench.LIBS.split(),
                               stdout=subprocess.PIPE, check=True).stdout.decode().split()
        subprocess.run([os.environ.get("CC", "cc"), "-O2", os.path.join(HERE, "floor.c"),
                        "-o", floor] + flags, check=True)
        mach = bench.machine()
        bench.results["machine"] = mach
        say("machine: %d CPUs, %s, Linux %s; %s" % (mach["nproc"], mach["cpu"],
                                                    mach["kernel"], mach["mail2sms"]))
        ca, cert, key = make_ca(work)
        with https_fake(ca, cert, key) as fake:
            say("fake Bird API: %s (test CA %s)" % (fake.url, ca))
            if "cpu" in only:
                sec_cpu(a, fake, ca, work)
            if "postfix" in only:
                sec_postfix(a, fake, ca, floor, work)
            if "long" in only:
                sec_long(a, fake, ca, work)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        m2stest._cleanup_tmpdirs()
    say("\n%d targets, %d met, %d missed%s" % (
        len(bench.results["targets"]), len(bench.results["targets"]) - len(bench.misses),
        len(bench.misses), "".join("\n  missed: " + m for m in bench.misses)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(bench.results, f, indent=1)
    return 1 if bench.misses else 0


if __name__ == "__main__":
    sys.exit(main())
