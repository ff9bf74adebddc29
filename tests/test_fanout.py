#!/usr/bin/env python3
"""Large aliases in parallel: one mail to an alias of 1,000 numbers against
the fake Bird API with 100 ms of latency per request.

- every number gets exactly one message request, and the run exits 0;
- bird.max_rate holds in every one-second window (a sliding window over the
  fake's arrival times, not calendar seconds);
- the run takes about what max_rate allows, far inside the deadline;
- with a higher max_rate, bird.concurrency is what limits the run: the
  requests overlap (one after the other would take 100 s);
- connections are kept and reused: a counting TCP relay between mail2sms and
  the fake sees at most bird.concurrency connections, not one per request.
"""

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

N = 1000
LATENCY = 0.1
NUMBERS = ["+3161%07d" % (1000000 + i) for i in range(N)]   # +3161000000..+3161000999
EPS = 0.02          # clock granularity allowed on the sliding-window check
DEADLINE = 120


class Relay:
    """A TCP relay on 127.0.0.1 that forwards to the fake and counts the
    connections made to it (the fake itself cannot see them)."""

    def __init__(self, port):
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = 0
        self.lock = threading.Lock()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closing = True
        self.sock.close()


def fan_out(url, bird=None):
    d = tmpdir()
    conf = write_config(d, url, bird=dict(bird or {}, timeout=10),
                        recipients={"aliases": {"oncall": NUMBERS}},
                        deadline=DEADLINE)
    return run(["-c", conf, "-f", "nagios@monitoring.example.com", "-q", "FANOUT1",
                "--", "oncall@sms.example.com"], mail(), timeout=DEADLINE + 30)


def check_every_number_once(fake, r):
    eq(r.rc, 0, "exit status (%r)" % r)
    msgs = fake.message_attempts()
    eq(len(msgs), N, "message requests")
    got = [m["json"]["receiver"]["contacts"][0]["identifierValue"] for m in msgs]
    eq(len(set(got)), N, "distinct numbers")
    eq(sorted(got), sorted(NUMBERS), "numbers")
    check(all(m["status"] == 202 for m in msgs), "every request accepted")
    return sorted(m["t"] for m in msgs)


@case("1,000 numbers at bird.max_rate = 50: once each, never above the rate")
def _():
    rate = 50
    with FakeBird() as fake:
        fake.latency(LATENCY)
        relay = Relay(fake.port)
        try:
            r = fan_out(relay.url, {"max_rate": rate})
        finally:
            relay.close()
        t = check_every_number_once(fake, r)
        # Any rate+1 consecutive arrivals span at least one second: so no
        # one-second window, wherever it starts, holds more than `rate`.
        worst = min(t[i + rate] - t[i] for i in range(len(t) - rate))
        check(worst >= 1.0 - EPS,
              "%d requests arrived within %.3fs (max_rate %d)" % (rate + 1, worst, rate))
        minimum = N / rate          # 20 s: what the rate allows at best
        check(r.elapsed >= minimum - 1.0 - EPS,
              "took %.1fs, under the %.0fs max_rate allows" % (r.elapsed, minimum))
        check(r.elapsed < 3 * minimum,
              "took %.1fs, want < %.0fs (deadline %ds)" % (r.elapsed, 3 * minimum, DEADLINE))
        concurrency = 8             # the default
        check(1 <= relay.connections <= concurrency,
              "%d TCP connections for %d requests, want <= %d (reused)"
              % (relay.connections, N, concurrency))
        print("# max_rate %d: %.1fs, %.1f req/s, shortest span of %d consecutive "
              "requests %.3fs, %d connections"
              % (rate, r.elapsed, N / r.elapsed, rate + 1, worst, relay.connections))


@case("1,000 numbers, bird.concurrency = 16, max_rate = 200: requests overlap")
def _():
    conc, rate = 16, 200
    with FakeBird() as fake:
        fake.latency(LATENCY)
        relay = Relay(fake.port)
        try:
            r = fan_out(relay.url, {"max_rate": rate, "concurrency": conc})
        finally:
            relay.close()
        t = check_every_number_once(fake, r)
        worst = min(t[i + rate] - t[i] for i in range(len(t) - rate))
        check(worst >= 1.0 - EPS, "%d requests within %.3fs" % (rate + 1, worst))
        floor = N * LATENCY / conc  # 6.25 s: every slot busy all the time
        check(r.elapsed >= floor - EPS,
              "took %.2fs, less than %d slots x %.1fs latency allow (%.2fs): "
              "more than %d requests at once?" % (r.elapsed, conc, LATENCY, floor, conc))
        # Overlap, not speed: 3x the floor still needs more than 5 requests
        # in flight on average; one at a time would take 16x.
        check(r.elapsed <= 3 * floor,
              "took %.2fs, want <= %.2fs (one at a time would be %.0fs)"
              % (r.elapsed, 3 * floor, N * LATENCY))
        check(1 <= relay.connections <= conc,
              "%d TCP connections, want <= %d" % (relay.connections, conc))
        print("# concurrency %d: %.2fs (floor %.2fs), %.0f req/s, %d connections"
              % (conc, r.elapsed, floor, N / r.elapsed, relay.connections))


if __name__ == "__main__":
    main()
