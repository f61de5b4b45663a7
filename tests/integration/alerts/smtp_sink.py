"""A minimal SMTP server on 127.0.0.1 for the mail sink tests (stdlib only).

smtpd is gone from recent Pythons; this speaks just what libcurl's SMTP client needs:
220 greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA (to <CRLF>.<CRLF>, dot-stuffing
undone), RSET, NOOP, QUIT. Every accepted message is kept with its envelope.
"""
import re
import socketserver
import threading
import time

MAX_LINE = 4096                 # a command line (RFC 5321 says 512; be lenient, not open)
MAX_MESSAGE = 1 << 20
ADDRESS = re.compile(r"^(MAIL FROM|RCPT TO):\s*<([^<>]*)>(\s.*)?$", re.I)


class Message:
    """One message as received: envelope, raw data (CRLF lines, dots unstuffed)."""

    def __init__(self, helo, mail_from, rcpts, data, when):
        self.helo = helo
        self.mail_from = mail_from
        self.rcpts = list(rcpts)
        self.data = data
        self.time = when

    def __repr__(self):
        return "<Message from %r to %r, %d bytes>" % (self.mail_from, self.rcpts,
                                                     len(self.data))


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def line(self, limit=MAX_LINE):
        raw = self.rfile.readline(limit + 1)
        if not raw:
            return None
        if len(raw) > limit:
            raise ValueError("line too long")
        return raw

    def handle(self):
        sink = self.server.sink
        sink._note("connect")
        helo, mail_from, rcpts = None, None, []
        self.reply("220 127.0.0.1 ESMTP ratd-test-sink")
        try:
            while True:
                raw = self.line()
                if raw is None:
                    return
                cmd = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                sink._note(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                m = ADDRESS.match(cmd)
                if verb == "EHLO":
                    helo = cmd[5:].strip()
                    self.wfile.write(b"250-127.0.0.1 greets you\r\n250-8BITMIME\r\n"
                                     b"250 HELP\r\n")
                    self.wfile.flush()
                elif verb == "HELO":
                    helo = cmd[5:].strip()
                    self.reply("250 127.0.0.1")
                elif m and m.group(1).upper() == "MAIL FROM":
                    mail_from, rcpts = m.group(2), []
                    self.reply("250 2.1.0 sender ok")
                elif m and m.group(1).upper() == "RCPT TO":
                    if mail_from is None:
                        self.reply("503 5.5.1 MAIL first")
                        continue
                    rcpts.append(m.group(2))
                    self.reply("250 2.1.5 recipient ok")
                elif verb == "DATA":
                    if mail_from is None or not rcpts:
                        self.reply("503 5.5.1 MAIL and RCPT first")
                        continue
                    self.reply("354 end data with <CR><LF>.<CR><LF>")
                    data = self.data()
                    if data is None:
                        return
                    sink._add(Message(helo, mail_from, rcpts, data, time.time()))
                    mail_from, rcpts = None, []
                    self.reply("250 2.0.0 queued")
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.reply("250 2.0.0 reset")
                elif verb == "NOOP":
                    self.reply("250 2.0.0 ok")
                elif verb == "QUIT":
                    self.reply("221 2.0.0 bye")
                    return
                elif verb in ("MAIL", "RCPT"):
                    self.reply("501 5.5.4 syntax: %s <address>" %
                               ("MAIL FROM:" if verb == "MAIL" else "RCPT TO:"))
                else:
                    self.reply("502 5.5.2 command not implemented")
        except (ValueError, OSError) as e:
            sink._note("error: %s" % e)

    def data(self):
        """The message up to the lone dot, CRLF kept, leading dots unstuffed."""
        lines = []
        size = 0
        while True:
            raw = self.line(MAX_LINE * 4)
            if raw is None:
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b"."):
                raw = raw[1:]
            size += len(raw)
            if size > MAX_MESSAGE:
                raise ValueError("message too large")
            lines.append(raw)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class SmtpSink:
    """start(), messages(), wait(n, timeout), stop(); listens on 127.0.0.1:port."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages = []
        self.transcript = []
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.sink = self
        self.port = self._srv.server_address[1]
        self._thread = None

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def start(self):
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="smtp-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is None:
            return
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5)
        self._thread = None

    def messages(self):
        with self._lock:
            return list(self._messages)

    def wait(self, n, timeout):
        """Waits until n messages arrived; returns them (maybe fewer, at the timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.messages()) < n:
            time.sleep(0.05)
        return self.messages()

    def _add(self, msg):
        with self._lock:
            self._messages.append(msg)

    def _note(self, line):
        with self._lock:
            self.transcript.append(line)
