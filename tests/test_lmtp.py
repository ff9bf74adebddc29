#!/usr/bin/env python3
"""mail2sms --lmtp against the fake Bird API, straight on its socket.

Each transaction runs the pipe's job: every recipient gets its own reply,
whose text is the line the pipe prints for that recipient and whose code
is 250, 4xx or 5xx as the pipe's exit status is 0, 75 or a bounce. The
journal keeps a retry from sending a number twice; the workers' transports
keep their connections to Bird across mails and share one max_rate
window; a mail runs with its own deadline.
"""

import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from lmtptest import *  # noqa: E402,F403

SENDER = "nagios@monitoring.example.com"
BAD = "+31611111111"


def service_conf(d, url, **kw):
    port = free_port()
    service = dict({"listen": ["inet:127.0.0.1:%d" % port]}, **kw.pop("service", {}))
    conf = write_config(d, url, service=service, **kw)
    return conf, "inet:127.0.0.1:%d" % port


def pipe_line(conf, rcpt, data):
    """What the pipe prints (and its exit status) for one recipient."""
    r = run(["-c", conf, "-f", SENDER, "--", rcpt], data)
    return r.rc, r.out.strip()


@case("one transaction, three recipients: each reply is the pipe's line and code")
def per_recipient_replies():
    with FakeBird() as fake:
        d = tmpdir()
        conf, listen = service_conf(d, fake.url)
        fake.faults([{"endpoint": "messages", "number": BAD, "status": 401, "times": -1}])
        m = mail()
        with Service(conf, listen) as svc:
            c = Client(svc.addr)
            rcpts = ["oncall@sms.example.com", BAD + "@sms.example.com",
                     "nobody@sms.example.com"]
            replies = c.send_mail(SENDER, rcpts, m)
            c.close()
            eq(len(replies), 3, "replies")
            check(replies[0].startswith("250 2.0.0"), "oncall: %r" % replies[0])
            check(re.match(r"451 4\.3\.5 ", replies[1]), "failing number: %r" % replies[1])
            check(replies[2].startswith("550 5.1.1 "), "unknown: %r" % replies[2])
            eq(len(fake.messages()), 2, "SMS accepted (both oncall numbers)")
            # The same recipients through the pipe, one each: the same text.
            other = mail()
            for rcpt, reply, rc in ((rcpts[1], replies[1], 75), (rcpts[2], replies[2], 67)):
                got_rc, line = pipe_line(conf, rcpt, other)
                eq(got_rc, rc, "pipe exit for %s" % rcpt)
                eq(reply[4:], line, "LMTP reply text against the pipe's for %s" % rcpt)
            # The retry of the same mail sends only what is missing.
            fake.faults([])
            c = Client(svc.addr)
            replies = c.send_mail(SENDER, rcpts[:2], m)
            eq([r[:9] for r in replies], ["250 2.0.0"] * 2, "retry replies (%r)" % replies)
            got = [x["json"]["receiver"]["contacts"][0]["identifierValue"]
                   for x in fake.messages()]
            eq(sorted(got[:2]), sorted(ONCALL), "first try")
            eq(got[2:], [BAD], "the retry sent only the missing number")
            eq(svc.stop(), 0, "exit status after SIGTERM")


@case("too large, sender not allowed: the pipe's bounce lines, 554 and 550")
def bounces_like_the_pipe():
    with FakeBird() as fake:
        d = tmpdir()
        conf, listen = service_conf(d, fake.url, limits={"max_message_bytes": 2048},
                                    senders={"allowed": ["*@monitoring.example.com"]})
        big = mail(body="x" * 60 + "\n" * 1 + ("y" * 70 + "\n") * 60)
        with Service(conf, listen) as svc:
            c = Client(svc.addr)
            lhlo_size = None
            replies = c.send_mail(SENDER, ["oncall@sms.example.com"], big)
            m = re.search(r"^250[- ]SIZE (\d+)$", c.lhlo, re.M)
            lhlo_size = m and int(m.group(1))
            eq(lhlo_size, 2048, "SIZE in LHLO")
            rc, line = pipe_line(conf, "oncall@sms.example.com", big)
            eq(rc, 65, "pipe exit for the large mail")
            eq(replies, ["554 " + line], "too large")
            replies = c.send_mail("mallory@evil.example", ["oncall@sms.example.com"], mail(),
                                  lhlo=False)
            r = run(["-c", conf, "-f", "mallory@evil.example", "--", "oncall@sms.example.com"],
                    mail())
            eq(r.rc, 77, "pipe exit for a sender not allowed")
            eq(replies, ["550 " + r.out.strip()], "sender not allowed")
            eq(c.cmd("MAIL FROM:<%s> SIZE=5000" % SENDER)[:9], "552 5.3.4", "SIZE= over")
            eq(len(fake.messages()), 0, "nothing sent")
            c.close()


@case("API down: 451 and nothing sent; once it is up the same mail goes out once")
def api_down_then_up():
    with FakeBird() as fake:
        d = tmpdir()
        # (outage_probe 0: the outage memory would defer the retry until
        # its probe; tests/test_outage.py tests that)
        conf, listen = service_conf(d, fake.url, deadline=5,
                                    bird={"timeout": 2, "connect_timeout": 1, "outage_probe": 0})
        fake.faults([{"endpoint": "messages", "status": 503, "times": -1}])
        m = mail()
        with Service(conf, listen) as svc:
            c = Client(svc.addr)
            t0 = time.monotonic()
            replies = c.send_mail(SENDER, ["oncall@sms.example.com"], m)
            took = time.monotonic() - t0
            check(re.match(r"451 4\.4\.\d ", replies[0]), "deferred: %r" % replies)
            check(took < 5 + 2, "answered within the deadline (%.1fs)" % took)
            eq(len(fake.messages()), 0, "accepted while down")
            fake.faults([])
            replies = c.send_mail(SENDER, ["oncall@sms.example.com"], m, lhlo=False)
            eq(replies, ["250 2.0.0 Ok"], "after recovery")
            replies = c.send_mail(SENDER, ["oncall@sms.example.com"], m, lhlo=False)
            eq(replies, ["250 2.0.0 Ok"], "a third try")
            eq(len(fake.messages()), 2, "one SMS per number, however often it came")
            c.close()


@case("XFORWARD IDENT is the queue id of the mail's log lines; one line per connection")
def xforward_queue_id():
    with FakeBird() as fake:
        d = tmpdir()
        conf, listen = service_conf(d, fake.url)
        with Service(conf, listen) as svc:
            c = Client(svc.addr)
            eq(c.send_mail(SENDER, ["+31622222222@sms.example.com"], mail(),
                           xforward="4QxTest42"), ["250 2.0.0 Ok"], "reply")
            eq(c.cmd("QUIT")[:3], "221", "QUIT")
            c.close()
            svc.stop()
            log = svc.log()
            check(re.search(r"^mail2sms: 4QxTest42: to=<\+31622222222@sms\.example\.com>, "
                            r"number=\+31622222222, status=sent", log, re.M), log)
            eq(len(re.findall(r"lmtp: disconnect from 127\.0\.0\.1:\d+ after [\d.]+s: "
                              r"mails=1 rcpts=1$", log, re.M)), 1, "connection line\n" + log)


@case("Bird connections are kept across mails: 20 mails, one TCP connection per worker")
def connections_kept():
    with FakeBird() as fake:
        relay = Relay(fake.port)
        try:
            d = tmpdir()
            conf, listen = service_conf(d, relay.url, service={"workers": 2})
            with Service(conf, listen) as svc:
                c = Client(svc.addr)
                for i in range(20):
                    eq(c.send_mail(SENDER, ["+316%08d@sms.example.com" % i], mail(),
                                   lhlo=(i == 0)), ["250 2.0.0 Ok"], "mail %d" % i)
                c.close()
            eq(len(fake.messages()), 20, "SMS")
            check(1 <= relay.connections <= 2, "%d connections for 20 mails"
                  % relay.connections)
        finally:
            relay.close()


@case("workers run mails at once, and together never exceed bird.max_rate")
def workers_share_the_rate():
    rate = 5
    with FakeBird() as fake:
        d = tmpdir()
        nums = ["+3165%07d" % i for i in range(5)]
        conf, listen = service_conf(d, fake.url, bird={"max_rate": rate},
                                    service={"workers": 4},
                                    recipients={"aliases": {"five": nums}})
        fake.latency(0.3)
        with Service(conf, listen) as svc:
            results = []

            def one(i):
                c = Client(svc.addr)
                results.append(c.send_mail(SENDER, ["five@sms.example.com"],
                                           mail(subject="storm %d" % i)))
                c.close()
            ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            eq(sorted(results), [["250 2.0.0 Ok"]] * 4, "replies")
            # Four single-number mails while Bird takes 1 s for each: at
            # once they take about 1 s, one after the other 4 s.
            fake.latency(1.0)
            results.clear()
            t0 = time.monotonic()
            ts = [threading.Thread(target=one2, args=(svc, i, results)) for i in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            took = time.monotonic() - t0
            eq(sorted(results), [["250 2.0.0 Ok"]] * 4, "replies with a slow API")
            check(took < 2.5, "4 mails took %.1fs: not run at once" % took)
        t = sorted(m["t"] for m in fake.message_attempts())[:20]
        worst = min(t[i + rate] - t[i] for i in range(len(t) - rate))
        check(worst >= 1.0 - 0.02, "%d requests within %.3fs at max_rate %d"
              % (rate + 1, worst, rate))


def one2(svc, i, results):
    c = Client(svc.addr)
    results.append(c.send_mail(SENDER, ["+3166%07d@sms.example.com" % i], mail()))
    c.close()


@case("a unix socket: mode 0660, removed at exit; a bad configuration stops the start")
def unix_socket_and_bad_config():
    with FakeBird() as fake:
        d = tmpdir()
        path = os.path.join(d, "lmtp")
        conf = write_config(d, fake.url, service={"listen": ["unix:" + path]})
        with Service(conf, "unix:" + path) as svc:
            eq(oct(os.stat(path).st_mode & 0o777), "0o660", "socket mode")
            c = Client("unix:" + path)
            eq(c.send_mail(SENDER, ["+31633333333@sms.example.com"], mail()),
               ["250 2.0.0 Ok"], "reply")
            c.close()
            eq(svc.stop(), 0, "exit status")
        check(not os.path.exists(path), "socket left behind")
        bad = write_config(d, fake.url, service={"listen": ["tcp:1.2.3.4"]})
        r = run(["--lmtp", "-v", "-c", bad], timeout=20)
        eq(r.rc, 78, "exit status with an unusable configuration (%r)" % r)
        check("service.listen" in r.err, "the reason: %r" % r.err)
        r = run(["--lmtp", "-c", conf, "--", "x@y"], timeout=20)
        eq(r.rc, 75, "--lmtp with recipients")


@case("socket activation: the socket systemd passes (LISTEN_FDS), service.listen unused")
def socket_activation():
    import socket
    import subprocess
    with FakeBird() as fake:
        d = tmpdir()
        unused = os.path.join(d, "not-this")
        conf = write_config(d, fake.url, service={"listen": ["unix:" + unused]})
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        port = ls.getsockname()[1]
        fd = ls.fileno()
        err = open(os.path.join(d, "err"), "w+b")
        p = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'] +
                             command(["--lmtp", "-v", "-c", conf]), pass_fds=(fd,),
                             preexec_fn=lambda: os.dup2(fd, 3), stdin=subprocess.DEVNULL,
                             stderr=err, env=clean_env())
        ls.close()
        try:
            c = Client(("127.0.0.1", port))
            eq(c.send_mail(SENDER, ["+31644444444@sms.example.com"], mail()),
               ["250 2.0.0 Ok"], "reply")
            c.close()
            check(not os.path.exists(unused), "service.listen was used")
            p.send_signal(signal.SIGTERM)
            eq(p.wait(30), 0, "exit status")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err.seek(0)
        log = err.read().decode()
        check("lmtp: listening on 1 socket from systemd" in log, log)


if __name__ == "__main__":
    main()
