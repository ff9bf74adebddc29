#!/usr/bin/env python3
"""mail2sms --lmtp against hostile and clumsy clients, straight on its socket.

Commands out of order, everything pipelined, overlong lines, a DATA that
never ends, clients that stall or trickle, binary garbage, clients that
never read, 200 connections at once, clients that vanish mid-transaction:
each gets a correct reply or a clean close, the service keeps serving,
and its memory stays flat over thousands of mails.
"""

import os
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from lmtptest import *  # noqa: E402,F403

SENDER = "nagios@monitoring.example.com"
TIMEOUT = 5                 # service.timeout in these tests
REPLY = re.compile(r"^[2-5]\d\d[ -]\S")


def start(fake, **service):
    d = tmpdir()
    port = free_port()
    service = dict({"listen": ["inet:127.0.0.1:%d" % port], "timeout": TIMEOUT}, **service)
    conf = write_config(d, fake.url, service=service)
    return Service(conf, "inet:127.0.0.1:%d" % port)


def still_serving(svc, fake, n=None):
    """A fresh client delivers a mail; the fake counts one more SMS."""
    before = len(fake.messages())
    c = Client(svc.addr)
    eq(c.send_mail(SENDER, ["+31699999%03d@sms.example.com" % random.randrange(1000)],
                   mail()), ["250 2.0.0 Ok"], "a mail after the abuse")
    c.close()
    eq(len(fake.messages()), before + 1, "SMS after the abuse")
    eq(svc.proc.poll(), None, "the service is running")


def read_all(sock, timeout):
    """Everything the server sends until it closes (or timeout): (bytes, closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except (socket.timeout, TimeoutError):
        return data, False
    except ConnectionResetError:
        return data, True


def well_formed(data):
    lines = data.decode("latin-1").split("\r\n")
    check(lines[-1] == "", "a reply not ended by CRLF: %r" % lines[-1][:80])
    bad = [l for l in lines[:-1] if not REPLY.match(l)]
    check(not bad, "malformed reply lines: %r" % bad[:3])
    return lines[:-1]


@case("commands out of order: 503 each, then the same connection delivers")
def out_of_order():
    with FakeBird() as fake, start(fake) as svc:
        c = Client(svc.addr)
        eq(c.cmd("MAIL FROM:<%s>" % SENDER)[:9], "503 5.5.1", "MAIL before LHLO")
        eq(c.cmd("DATA")[:9], "503 5.5.1", "DATA before LHLO")
        check(c.cmd("LHLO x").startswith("250-"), "LHLO")
        eq(c.cmd("RCPT TO:<a@b>")[:9], "503 5.5.1", "RCPT before MAIL")
        eq(c.cmd("DATA")[:9], "503 5.5.1", "DATA before RCPT")
        eq(c.cmd("MAIL FROM:<%s>" % SENDER)[:3], "250", "MAIL")
        eq(c.cmd("MAIL FROM:<%s>" % SENDER)[:9], "503 5.5.1", "nested MAIL")
        eq(c.cmd("DATA")[:9], "503 5.5.1", "DATA without a recipient")
        eq(c.cmd("RSET")[:3], "250", "RSET")
        eq(c.cmd("HELO x")[:3], "500", "HELO")
        eq(c.send_mail(SENDER, ["+31600000001@sms.example.com"], mail(), lhlo=False),
           ["250 2.0.0 Ok"], "a mail on the same connection")
        eq(c.cmd("QUIT")[:3], "221", "QUIT")
        check(c.closed(), "closed after QUIT")
        eq(len(fake.messages()), 1, "SMS")


@case("pipelined: two transactions and QUIT in one write, every reply in order")
def pipelined():
    with FakeBird() as fake, start(fake) as svc:
        s = connect(svc.addr)
        m1 = mail().replace(b"\n", b"\r\n")
        m2 = mail(body=".a line with a dot\n..two\n").replace(b"\n", b"\r\n")
        s.sendall(b"LHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<+31600000002@sms.example.com>\r\n"
                  b"RCPT TO:<nobody@sms.example.com>\r\nDATA\r\n" % SENDER.encode() + m1 +
                  b".\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<+31600000003@sms.example.com>\r\n"
                  b"DATA\r\n" + m2.replace(b"\r\n.", b"\r\n..") + b".\r\nQUIT\r\n")
        data, closed = read_all(s, 20)
        s.close()
        check(closed, "closed after QUIT")
        codes = [l[:3] for l in well_formed(data) if l[3] == " "]
        eq(codes, ["220", "250", "250", "250", "250", "354", "250", "550", "250", "250", "250",
                   "354", "250", "221"], "reply codes (%r)" % data)
        eq(len(fake.messages()), 2, "SMS")
        body = fake.messages()[1]["json"]["body"]["text"]["text"]
        check(": .a line with a dot\n..two" in body, "dot-unstuffed: %r" % body)


@case("overlong lines (a megabyte without a line end): 500 5.5.2, the session goes on")
def overlong():
    with FakeBird() as fake, start(fake) as svc:
        c = Client(svc.addr)
        c.send(b"LHLO x\r\n")
        c.reply()
        c.send(b"NOOP " + b"A" * (1 << 20) + b"\r\n")
        eq(c.reply()[:9], "500 5.5.2", "reply to the long line")
        eq(c.cmd("MAIL FROM:<" + "b" * 5000 + "@x>")[:9], "500 5.5.2", "a long MAIL")
        eq(c.send_mail(SENDER, ["+31600000004@sms.example.com"], mail(), lhlo=False),
           ["250 2.0.0 Ok"], "a mail after them")
        c.close()
        still_serving(svc, fake)


@case("a DATA that never ends and a client that says nothing: 421 4.4.2 after "
      "service.timeout, closed; others are served meanwhile")
def never_ending():
    with FakeBird() as fake, start(fake) as svc:
        c1 = Client(svc.addr)
        c1.send(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<+31600000005@sms.example.com>\r\nDATA\r\n")
        for _ in range(4):             # LHLO, MAIL, RCPT, DATA
            c1.reply()
        c1.send(b"Subject: forever\r\n\r\nand ever\r\n")
        c2 = Client(svc.addr)               # says nothing after the greeting
        t0 = time.monotonic()
        still_serving(svc, fake)            # meanwhile
        data1, closed1 = read_all(c1.sock, TIMEOUT + 5)
        data2, closed2 = read_all(c2.sock, TIMEOUT + 5)
        took = time.monotonic() - t0
        check(closed1 and closed2, "both closed")
        eq(well_formed(data1)[-1][:9], "421 4.4.2", "the endless DATA")
        eq(well_formed(data2)[-1][:9], "421 4.4.2", "the silent client")
        check(took < TIMEOUT + 3, "closed after %.1fs (timeout %ds)" % (took, TIMEOUT))
        eq(len(fake.messages()), 1, "only the other client's SMS")
        check("timeout in DATA" in svc.log(), "the connection line says why")


@case("a client that trickles a byte every 0.4 s is closed after service.timeout")
def trickle():
    with FakeBird() as fake, start(fake) as svc:
        c = Client(svc.addr)
        c.send(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<+31600000006@sms.example.com>\r\nDATA\r\n")
        for _ in range(4):
            c.reply()
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < TIMEOUT + 5:
            try:
                c.sock.sendall(b"x")
            except OSError:
                closed = True
                break
            if c.closed(0.4):
                closed = True
                break
        took = time.monotonic() - t0
        check(closed, "still open after %.1fs of trickling" % took)
        check(took < TIMEOUT + 2, "closed after %.1fs" % took)
        still_serving(svc, fake)


@case("binary garbage: correct replies or a clean close, never a crash")
def garbage():
    with FakeBird() as fake, start(fake) as svc:
        rnd = random.Random(1)
        for i in range(12):
            s = connect(svc.addr)
            blob = bytes(rnd.randrange(256) for _ in range(rnd.choice([10, 1000, 65536])))
            if i % 3 == 1:
                blob = b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + blob
            if i % 3 == 2:
                blob = blob.replace(b"\n", b"\r\n")
            try:
                s.sendall(blob)
            except OSError:
                pass                        # closed on us: fine
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            data, closed = read_all(s, 15)
            s.close()
            check(closed, "input %d: not closed after the client's end" % i)
            well_formed(data)
            eq(svc.proc.poll(), None, "service after input %d" % i)
        still_serving(svc, fake)


@case("a client that writes and never reads is closed; memory stays bounded")
def never_reads():
    with FakeBird() as fake, start(fake) as svc:
        s = connect(svc.addr)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(TIMEOUT * 3 + 5)
        sent = 0
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < TIMEOUT * 3:
                s.sendall(b"NOOP\r\n" * 10000)
                sent += 60000
        except OSError:
            pass                            # closed: what we want
        took = time.monotonic() - t0
        s.close()
        check(took < TIMEOUT * 3, "still accepting input after %.1fs (%d bytes)"
              % (took, sent))
        check(rss_kb(svc.proc.pid) < 64 * 1024, "RSS %d kB" % rss_kb(svc.proc.pid))
        still_serving(svc, fake)


@case("200 connections at once: 100 greeted (max_connections), 100 told 421 4.3.2; "
      "then 200 clients each deliver a mail at once")
def two_hundred():
    with FakeBird() as fake, start(fake, max_connections=100, timeout=60) as svc:
        socks = [connect(svc.addr) for _ in range(200)]
        greet = []
        for s in socks:
            s.settimeout(10)
            greet.append(s.recv(200).decode())
        eq(sum(g.startswith("220 ") for g in greet), 100, "greeted")
        eq(sum(g.startswith("421 4.3.2 ") for g in greet), 100, "refused")
        for s in socks:
            s.close()
        time.sleep(0.5)
        still_serving(svc, fake)
    with FakeBird() as fake, start(fake, max_connections=250) as svc:
        results, lock = [], threading.Lock()

        def one(i):
            try:
                c = Client(svc.addr)
                r = c.send_mail(SENDER, ["+3169%07d@sms.example.com" % i], mail())
                c.close()
            except Exception as e:          # noqa: BLE001
                r = ["error: %s" % e]
            with lock:
                results.append(r)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        eq(len(results), 200, "clients done")
        bad = [r for r in results if r != ["250 2.0.0 Ok"]]
        eq(bad, [], "replies that are not 250")
        eq(len(fake.messages()), 200, "SMS")


@case("a client that vanishes in DATA or before the reply: nothing lost, nothing twice")
def vanishing():
    with FakeBird() as fake, start(fake) as svc:
        m = mail()
        s = connect(svc.addr)
        s.sendall(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<+31600000007@sms.example.com>\r\n"
                  b"DATA\r\n" + m[:100])
        time.sleep(0.2)
        s.close()                           # in DATA: no mail
        time.sleep(0.3)
        eq(len(fake.messages()), 0, "SMS for a half mail")
        fake.latency(1.0)
        s = connect(svc.addr)
        s.sendall(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<+31600000007@sms.example.com>\r\n"
                  b"DATA\r\n" + m.replace(b"\n", b"\r\n") + b".\r\n")
        time.sleep(0.3)
        s.close()                           # the mail is being sent: it goes on
        time.sleep(1.5)
        fake.latency(0)
        eq(len(fake.messages()), 1, "SMS for the whole mail")
        c = Client(svc.addr)                # Postfix would retry: the journal has it
        eq(c.send_mail("a@b", ["+31600000007@sms.example.com"], m), ["250 2.0.0 Ok"], "retry")
        c.close()
        eq(len(fake.messages()), 1, "SMS after the retry")
        still_serving(svc, fake)


@case("3,000 mails over kept connections: RSS flat after warm-up")
def rss_flat():
    if sanitized() or WRAPPER:
        skip("RSS means nothing under a sanitizer's quarantine or a wrapper")
    with FakeBird() as fake, start(fake, workers=4) as svc:
        samples = []
        lock = threading.Lock()
        done = [0]

        def client(k, n):
            c = Client(svc.addr)
            for i in range(n):
                r = c.send_mail(SENDER, ["+3167%03d%04d@sms.example.com" % (k, i)],
                                mail(subject="load %d %d" % (k, i)), lhlo=(i == 0))
                check(r == ["250 2.0.0 Ok"], "reply %r" % r)
                with lock:
                    done[0] += 1
            c.close()
        ts = [threading.Thread(target=client, args=(k, 750)) for k in range(4)]
        for t in ts:
            t.start()
        while any(t.is_alive() for t in ts):
            samples.append((done[0], rss_kb(svc.proc.pid)))
            time.sleep(0.5)
        for t in ts:
            t.join()
        eq(done[0], 3000, "mails")
        warm = [r for n, r in samples if n >= 1000]
        check(len(warm) >= 2, "too few samples: %r" % samples)
        growth = max(warm) - warm[0]
        print("# RSS after 1000 mails %d kB, highest after %d kB, at 3000 %d kB"
              % (warm[0], max(warm), warm[-1]))
        check(growth < 2048, "RSS grew %d kB from 1000 to 3000 mails: %r" % (growth, samples))
        eq(svc.stop(), 0, "exit status")


if __name__ == "__main__":
    main()
