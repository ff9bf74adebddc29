"""Helpers for the LMTP service's tests (standard library only).

    from lmtptest import *

Service(conf, listen)     mail2sms --lmtp as a context manager: .addr, .stop(),
                          .signal(sig), .log() (its -v lines on stderr)
free_port()               a TCP port on loopback nobody listens on
Client(addr)              a tiny LMTP client: .cmd(), .send_mail() -> replies
"""

import os
import select
import signal
import socket
import subprocess
import time

from m2stest import *


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(addr, timeout=10):
    """A socket connected to "unix:/path" or ("127.0.0.1", port)."""
    if isinstance(addr, str) and addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[5:])
    else:
        s = socket.create_connection(addr, timeout=timeout)
    return s


class Service:
    """mail2sms --lmtp -v -c CONF; listen is "unix:/path" or "inet:127.0.0.1:PORT"."""

    def __init__(self, conf, listen=None, env=None, wait=True):
        self.conf = conf
        self.errfile = open(os.path.join(os.path.dirname(conf), "service.err"), "w+b")
        self.proc = subprocess.Popen(command(["--lmtp", "-v", "-c", conf]),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errfile, env=clean_env(env))
        if listen and listen.startswith("inet:"):
            host, port = listen[5:].rsplit(":", 1)
            self.addr = (host, int(port))
        else:
            self.addr = listen
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mail2sms --lmtp ended: rc %r, %s"
                                   % (self.proc.returncode, self.log()[-2000:]))
            try:
                connect(self.addr, 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mail2sms --lmtp did not listen: " + self.log()[-2000:])

    def log(self):
        self.errfile.flush()
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mail2sms --lmtp did not stop on SIGTERM")
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.errfile.close()
        return False


class Client:
    """An LMTP client that reads replies line by line."""

    def __init__(self, addr, timeout=30):
        self.sock = connect(addr, timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; unread: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply, as its lines joined by newlines."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def send_mail(self, sender, rcpts, data, lhlo=True, xforward=None):
        """One transaction, pipelined; returns the list of replies after
        DATA, one per accepted recipient."""
        if isinstance(data, str):
            data = data.encode()
        out = b""
        if lhlo:
            out += b"LHLO test.example\r\n"
        if xforward:
            out += ("XFORWARD IDENT=%s\r\n" % xforward).encode()
        out += ("MAIL FROM:<%s>\r\n" % sender).encode()
        for r in rcpts:
            out += ("RCPT TO:<%s>\r\n" % r).encode()
        out += b"DATA\r\n"
        self.send(out)
        if lhlo:
            self.lhlo = self.reply()
        if xforward:
            check(self.reply().startswith("250"), "XFORWARD")
        mail_reply = self.reply()
        check(mail_reply.startswith("250"), "MAIL: " + mail_reply)
        accepted = 0
        for r in rcpts:
            rr = self.reply()
            if rr.startswith("250"):
                accepted += 1
        data_reply = self.reply()
        if not data_reply.startswith("354"):
            return [data_reply]
        lines = data.replace(b"\r\n", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        body = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
        self.send(body + b".\r\n")
        return [self.reply() for _ in range(accepted)]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Relay:
    """A TCP relay on 127.0.0.1 to port that counts the connections made
    through it (the fake cannot see them)."""

    def __init__(self, port):
        import threading
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = 0
        self.closing = False
        self._threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                self._threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

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


def rss_kb(pid):
    """VmRSS of a process in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized():
    """Whether the binary is built with AddressSanitizer (whose quarantine of
    freed memory makes RSS grow by design)."""
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
