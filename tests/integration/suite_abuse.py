#!/usr/bin/env python3
"""Socket abuse: floods, huge and broken requests, clients that never read (stdlib only).

    python3 tests/integration/suite_abuse.py --build build [-k] [-v] [TEST...]

While each test abuses the control socket, a separate process (the prober) keeps one
connection of its own and asks for `status` every 10 ms: its p99 latency must stay under
100 ms. The daemon's memory (VmRSS, VmHWM from /proc/PID/status) is sampled throughout;
each test's note gives the prober's figures and the peak.
"""
import json
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time

import harness
from harness import (FIXTURES, Fail, check, connect_retrying, eq, error_code, history, result_of,
                 short, sock_raw, start_ok, wait_for)

CROWD = 1000
# A sanitizer build (make SANITIZE=1 sets RATD_SANITIZED) is several times slower, and
# AddressSanitizer's quarantine keeps freed memory: the bounds there only catch runaways.
SANITIZED = os.environ.get("RATD_SANITIZED") == "1"
P99_LIMIT = 0.500 if SANITIZED else 0.100
# The prober waits PROBE_INTERVAL between requests. Fewer requests than half of what it
# would make if every one took P99_LIMIT means it was kept from asking, not that the daemon
# was slow (the p99 catches that); the floor follows the abuse's length, which depends on
# the machine's speed.
PROBE_INTERVAL = 0.01
MIN_PROBES = 5
MIN_PROBE_RATE = 0.5 / (P99_LIMIT + PROBE_INTERVAL)
# Far above what one misbehaving client may cost (16 MiB + slack).
RSS_LIMIT_KB = (1024 if SANITIZED else 256) * 1024

PROBER = r"""
import json, select, socket, sys, time
path, interval = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
f = s.makefile("rb")
lat, errors = [], []
print("ready", flush=True)
while not select.select([sys.stdin], [], [], interval)[0]:
    t0 = time.monotonic()
    try:
        s.sendall(b'{"cmd": "status", "treaty": "IV-13"}\n')
        line = f.readline()
        r = json.loads(line)
        if r.get("ok") is not True:
            errors.append(line[:200].decode("utf-8", "replace"))
    except Exception as e:
        errors.append(repr(e))
        break
    lat.append(time.monotonic() - t0)
print(json.dumps({"lat": lat, "errors": errors}), flush=True)
"""


class Watch:
    """The prober and a memory sampler around one abuse; end() checks and sums up."""

    def __init__(self, d):
        self.d = d
        self.pid = d.proc.pid
        self.peak_rss = 0
        self.stop = threading.Event()
        self.prober = subprocess.Popen([sys.executable, "-c", PROBER, d.sock,
                                        str(PROBE_INTERVAL)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.prober.stdout.readline()
        check(line.strip() == b"ready", "the prober did not start: %r" % line)
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        self.t0 = time.monotonic()

    def _sample(self):
        while not self.stop.wait(0.01):
            try:
                self.peak_rss = max(self.peak_rss, proc_status(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return

    def finish(self, what):
        """Stops the prober and the sampler; returns (note, problems)."""
        self.stop.set()
        self.sampler.join(2)
        try:
            out, _ = self.prober.communicate(b"stop\n", timeout=harness.bounded(10))
        except subprocess.TimeoutExpired:
            self.prober.kill()
            self.prober.wait()
            return "", ["the prober hung during %s: a status request never came back" % what]
        res = json.loads(out.strip().splitlines()[-1])
        lat = sorted(res["lat"])
        if res["errors"]:
            return "", ["the prober's status requests failed during %s: %s"
                        % (what, short(repr(res["errors"][:3])))]
        if not lat:
            return "", ["the prober made no request during %s" % what]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        hwm = proc_status(self.pid)["VmHWM"]
        self.peak_rss = max(self.peak_rss, proc_status(self.pid)["VmRSS"])
        note = ("peak RSS %d kB (VmHWM %d kB); status p99 %.1f ms, max %.1f ms over %d "
                "requests in %.1f s" % (self.peak_rss, hwm, p99 * 1000, lat[-1] * 1000,
                                        len(lat), time.monotonic() - self.t0))
        problems = []
        if p99 >= P99_LIMIT:
            problems.append("status p99 latency %.0f ms during %s (limit %.0f ms): %s"
                            % (p99 * 1000, what, P99_LIMIT * 1000, note))
        elif len(lat) < max(MIN_PROBES, MIN_PROBE_RATE * (time.monotonic() - self.t0)):
            problems.append("the prober made only %d requests during %s: %s"
                            % (len(lat), what, note))
        if hwm >= RSS_LIMIT_KB:
            problems.append("ratd's VmHWM reached %d kB during %s" % (hwm, what))
        return note, problems

    def end(self, what):
        note, problems = self.finish(what)
        check(not problems, "; ".join(problems))
        return note


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def rounds(seconds=1.5):
    """Repeats an abuse until it has lasted `seconds`: the prober needs the time to make
    enough requests, however fast a round is on this machine."""
    end = time.monotonic() + seconds
    i = 0
    while True:
        yield i
        i += 1
        if time.monotonic() >= end or harness.left() < 15:
            return


def ping_ok(d, what):
    eq(d.request({"cmd": "ping"}, timeout=2).get("ok"), True, "ping %s" % what)
    check(d.alive(), "ratd died %s" % what)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def sock():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    return s


def read_all(s, timeout):
    """Everything s receives until EOF; (data, how it ended)."""
    end = time.monotonic() + harness.bounded(timeout)
    buf = b""
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return buf, "reset"
        if not chunk:
            return buf, "eof"
        buf += chunk
    return buf, "timeout"


def push(s, data, until, reader=None):
    """Sends data without ever blocking for long; stops at EPIPE/ECONNRESET or when the
    deadline passes. Returns (bytes sent, how it ended)."""
    s.setblocking(False)
    sent = 0
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_WRITE)
    try:
        while sent < len(data):
            if time.monotonic() > until:
                return sent, "blocked"
            if not sel.select(timeout=0.05):
                continue
            try:
                sent += s.send(data[sent:sent + (1 << 20)])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                return sent, "closed"
        return sent, "done"
    finally:
        sel.close()
        s.setblocking(True)


def log_since(ctx, n):
    return ctx.log_text()[n:]


# --- the tests ------------------------------------------------------------------------

def crowd(ctx, n):
    """n connections at once, each asking for status; returns (served, busy, seconds
    to connect them all)."""
    conns = []
    tally = {"ok": 0, "busy": 0}
    sel = selectors.DefaultSelector()
    try:
        t0 = time.monotonic()
        for i in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conns.append(s)
            connect_retrying(s, ctx.sock, 5, "connect #%d of %d" % (i + 1, n))
        connected = time.monotonic() - t0
        for s in conns:
            try:
                s.sendall(b'{"cmd": "status"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass                        # refused as busy: its reply is waiting
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, b"")
        end = time.monotonic() + harness.bounded(15)
        pending = n
        odd = []
        while pending and time.monotonic() < end:
            for key, _ in sel.select(timeout=0.2):
                s, buf = key.fileobj, key.data
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                buf += chunk
                if b"\n" not in buf and chunk:
                    sel.modify(s, selectors.EVENT_READ, buf)
                    continue
                line = buf.split(b"\n", 1)[0]
                try:
                    r = json.loads(line)
                except ValueError:
                    r = None
                if isinstance(r, dict) and r.get("ok") is True and \
                        isinstance((r.get("result") or {}).get("treaties"), list):
                    tally["ok"] += 1
                elif isinstance(r, dict) and (r.get("error") or {}).get("code") == "busy":
                    tally["busy"] += 1
                else:
                    odd.append(buf[:200])
                sel.unregister(s)
                pending -= 1
        check(not odd, "%d connections got neither a reply nor a busy error: %r"
              % (len(odd), odd[:3]))
        check(pending == 0, "%d of %d connections got no answer within 15 s (%r)"
              % (pending, n, tally))
        check(1 <= tally["ok"] <= 64, "connections served: %r (the daemon takes 64 clients, "
              "one of them the prober)" % tally)
        eq(tally["ok"] + tally["busy"], n, "answers")
    finally:
        sel.close()
        for s in conns:
            s.close()
    return tally["ok"], tally["busy"], connected


def test_crowd_1000(ctx):
    limit = raise_nofile(CROWD + 256)
    check(limit >= CROWD + 64, "RLIMIT_NOFILE is %d: cannot open %d sockets" % (limit, CROWD))
    d, st = start_ok(ctx)
    w = Watch(d)
    done = []
    for i in rounds():
        done.append(crowd(ctx, CROWD))
        wait_for(lambda: d.request({"cmd": "ping"}, timeout=2).get("ok"), 3,
                 "ping after crowd #%d" % (i + 1))
    note = w.end("%d concurrent connections" % CROWD)
    return "%s; %d rounds of %d connections (each connected within %.2f s): %d..%d " \
        "served, the others busy" % (note, len(done), CROWD, max(c for _, _, c in done),
                                     min(o for o, _, _ in done), max(o for o, _, _ in done))


def long_line(ctx, size):
    s = sock()
    try:
        s.connect(ctx.sock)
        line = b'{"cmd": "ping", "pad": "' + b"x" * size + b'"}\n'
        sent, how = push(s, line, time.monotonic() + 5)
        check(how in ("closed", "blocked"),
              "the daemon read all of a %d-byte line (%d bytes sent: %s)" % (size, sent, how))
        data, end = read_all(s, 5)
        check(end in ("eof", "reset"), "the connection was not closed after a %d-byte line "
              "(%s, got %r)" % (size, end, short(data)))
        first = data.split(b"\n", 1)[0]
        check(first, "no reply before the close (expected bad-request)")
        eq(error_code(json.loads(first)), "bad-request", "reply to a %d-byte line" % size)
        check(sent < (1 << 20), "the daemon took %d bytes of the line before closing" % sent)
    finally:
        s.close()


def test_long_line_10mb(ctx):
    d, st = start_ok(ctx)
    w = Watch(d)
    n = 0
    for n in rounds():
        long_line(ctx, 10 << 20)
        ping_ok(d, "after a 10 MB line")
    return "%s; %d lines of 10 MB" % (w.end("10 MB lines"), n + 1)


BAD = [
    # invalid UTF-8 inside strings, keys and values
    (b'{"cmd": "status", "treaty": "IV-13\xff"}', "bad-request", "0xff in a value"),
    (b'{"cmd": "status", "tr\xc3eaty": "IV-13"}', "bad-request", "a cut sequence in a key"),
    (b'{"cmd": "p\xc0\xafing"}', "bad-request", "an overlong encoding"),
    (b'{"cmd": "status", "treaty": "\xed\xa0\x80"}', "bad-request", "a UTF-8 surrogate"),
    (b'{"cmd": "status", "treaty": "\xf4\x90\x80\x80"}', "bad-request", "beyond U+10FFFF"),
    (b'{"cmd": "status", "treaty": "IV-13\\u0000x"}', "bad-request", "an escaped NUL"),
    (b'{"cmd": "status", "treaty": "\\ud800"}', "bad-request", "a lone escaped surrogate"),
    # not JSON
    (b'', "bad-request", "an empty line"),
    (b'{"cmd":', "bad-request", "a cut object"),
    (b'{"cmd": "ping"} trailing', "bad-request", "trailing garbage"),
    (b"{'cmd': 'ping'}", "bad-request", "single quotes"),
    (b'{"cmd": "ping",}', "bad-request", "a trailing comma"),
    (b"[" * 30000 + b"]" * 30000, "bad-request", "30000 nested arrays"),
    (b'{"a":' * 10000 + b"1" + b"}" * 10000, "bad-request", "10000 nested objects"),
    (b'{"cmd": "ping", "cmd": "status"}', "bad-request", "a duplicate key"),
    (b"\x00\x01\x02", "bad-request", "control bytes"),
    # JSON, not an object
    (b'["ping"]', "bad-request", "an array"),
    (b'"ping"', "bad-request", "a string"),
    (b"42", "bad-request", "a number"),
    (b"null", "bad-request", "null"),
    (b"true", "bad-request", "true"),
    # wrong argument types and ranges
    (b'{"cmd": 5}', "bad-request", "cmd a number"),
    (b'{"cmd": null}', "bad-request", "cmd null"),
    (b'{"cmd": ["ping"]}', "bad-request", "cmd an array"),
    (b'{"cmd": "status", "treaty": 13}', "bad-request", "treaty a number"),
    (b'{"cmd": "status", "treaty": null}', "bad-request", "treaty null"),
    (b'{"cmd": "status", "as_of": 20030314}', "bad-request", "as_of a number"),
    (b'{"cmd": "status", "as_of": "2003-02-30"}', "bad-date", "as_of 30 February"),
    (b'{"cmd": "parties"}', "bad-request", "parties without treaty"),
    (b'{"cmd": "parties", "treaty": {"id": "IV-13"}}', "bad-request", "treaty an object"),
    (b'{"cmd": "history", "limit": "5"}', "bad-request", "limit a string"),
    (b'{"cmd": "history", "limit": -1}', "bad-request", "limit -1"),
    (b'{"cmd": "history", "limit": 0}', "bad-request", "limit 0"),
    (b'{"cmd": "history", "limit": 1.5}', "bad-request", "limit 1.5"),
    (b'{"cmd": "history", "limit": 99999999999999999999}', "bad-request", "limit 1e20"),
    (b'{"cmd": "history", "since": -1}', "bad-request", "since -1"),
    (b'{"cmd": "history", "since": true}', "bad-request", "since true"),
    (b'{"cmd": "watch", "treaty": 1}', "bad-request", "watch treaty a number"),
    (b'{"cmd": "ping", "extra": 1}', "bad-request", "an unknown argument"),
    (b'{"cmd": "reload", "now": true}', "bad-request", "reload with an argument"),
    (b'{"cmd": "refresh", "treaty": false}', "bad-request", "refresh treaty false"),
    (b'{"cmd": "PING"}', "unknown-command", "PING in capitals"),
    (b'{"cmd": ""}', "unknown-command", "an empty cmd"),
]


def bad_round(ctx):
    """Every bad request on a fresh connection, then all on one connection (a bad request
    does not end a session). Returns what was answered wrongly."""
    wrong = []
    for line, code, what in BAD:
        try:
            r = json.loads(sock_raw(ctx.sock, line + b"\n", timeout=3))
            got = (r.get("error") or {}).get("code") if r.get("ok") is False else "ok"
            msg = (r.get("error") or {}).get("message")
        except (ValueError, OSError, Fail) as e:
            got, msg = "no reply (%s)" % e, None
        if got != code or not isinstance(msg, str) or not msg:
            wrong.append("%s: %s (message %r)" % (what, got, msg))
    s = sock()
    try:
        s.connect(ctx.sock)
        s.sendall(b"".join(l + b"\n" for l, _, _ in BAD) + b'{"cmd": "ping"}\r\n')
        f = s.makefile("rb")
        codes = []
        for _ in range(len(BAD) + 1):
            line = f.readline()
            check(line.endswith(b"\n"), "pipelined bad requests: reply #%d missing (%r)"
                  % (len(codes) + 1, short(line)))
            r = json.loads(line)
            codes.append("ok" if r.get("ok") else r["error"]["code"])
        eq(codes, [c for _, c, _ in BAD] + ["ok"], "replies to the pipelined bad requests")
    finally:
        s.close()
    return wrong


def test_bad_requests(ctx):
    d, st = start_ok(ctx)
    w = Watch(d)
    n = ctx.server.count()
    wrong = []
    k = 0
    for k in rounds():
        wrong += bad_round(ctx)
    wrong = sorted(set(wrong))
    check(not wrong, "%d of %d bad requests answered wrongly:\n  %s"
          % (len(wrong), len(BAD), "\n  ".join(wrong)))
    eq(ctx.server.count(), n, "fetches caused by bad requests")
    ping_ok(d, "after the bad requests")
    return "%s; %d rounds of %d bad requests" % (w.end("bad requests"), k + 1, len(BAD))


HALF_CLOSED = [
    ([b'{"cmd": "ping"}'], "ping"),
    ([b'{"cmd": "status", "treaty": "IV-13"}'], "status"),
    ([b'{"cmd": "parties", "treaty": "IV-13"}'], "parties"),
    ([b'{"cmd": "history", "limit": 5}'], "history"),
    ([b'{"cmd": "refresh"}'], "refresh (answered after the fetch)"),
    ([b'{"cmd": "ping"}', b'{"cmd": "refresh"}', b'{"cmd": "status"}', b'{"nope'],
     "four pipelined, the last broken"),
    ([b'{"cmd": "ping"}'] * 200, "200 pipelined pings"),
    ([], "nothing at all"),
]


def half_closed(ctx, reqs, what):
    s = sock()
    try:
        s.connect(ctx.sock)
        if reqs:
            s.sendall(b"".join(r + b"\n" for r in reqs))
        s.shutdown(socket.SHUT_WR)
        data, end = read_all(s, 8)
    finally:
        s.close()
    eq(end, "eof", "how the connection ended after %s and SHUT_WR" % what)
    lines = data.split(b"\n")
    eq(lines[-1], b"", "the last reply to %s ends with a newline" % what)
    replies = [json.loads(l) for l in lines[:-1]]
    eq(len(replies), len(reqs), "replies to %s" % what)
    for req, rep in zip(reqs, replies):
        if req.startswith(b'{"nope'):
            eq(error_code(rep), "bad-request", "reply to the broken request")
        else:
            result_of(rep, what)


def test_half_closed(ctx):
    d, st = start_ok(ctx)
    w = Watch(d)
    k = 0
    for k in rounds():
        for reqs, what in HALF_CLOSED:
            half_closed(ctx, reqs, what)
    ping_ok(d, "after half-closed clients")
    return "%s; %d rounds of %d half-closed clients" % (w.end("half-closed clients"), k + 1,
                                                        len(HALF_CLOSED))


def never_reading_client(ctx, req, n, first=b""):
    """One client sends `first`, then n copies of req, and never reads. The daemon must
    bound what it holds for it: by flow control (it stops reading requests while the
    replies wait unsent, so the client's sends block) or by dropping it. Returns how many
    replies had reached it when it stopped being served."""
    start = len(ctx.log_text())
    s = sock()
    try:
        s.connect(ctx.sock)
        data = first + (req + b"\n") * n
        t0 = time.monotonic()
        sent, how = push(s, data, time.monotonic() + 3)
        check(how in ("closed", "blocked") or sent == len(data),
              "%d requests: %d of %d bytes sent in %.1f s, then %s"
              % (n, sent, len(data), time.monotonic() - t0, how))
        if how != "blocked":
            wait_for(lambda: "does not read its replies" in log_since(ctx, start), 10,
                     "the daemon to drop the client that does not read")
        got, end = read_all(s, 1)
        check(got.count(b"\n") < n, "the client that never read got all %d replies" % n)
        return got.count(b"\n")
    finally:
        s.close()


def test_never_reading(ctx):
    d, st = start_ok(ctx)
    parties = b'{"cmd": "parties", "treaty": "IV-13"}'
    status = b'{"cmd": "status"}'
    # A first line of 60 KiB grows the daemon's input buffer to 64 KiB: from then on
    # each read hands it some 1,700 requests at once.
    pad = b'{"cmd": "ping"' + b" " * (60 << 10) + b"}\n"
    variants = [
        (parties, 10000, b"", "10,000 parties requests (12 KB replies)"),
        (parties, 10000, pad, "10,000 parties requests after a 60 KiB line"),
        (status, 20000, pad, "20,000 status requests after a 60 KiB line"),
    ]
    notes, problems = [], []
    for req, n, first, what in variants:
        w = Watch(d)
        got = [never_reading_client(ctx, req, n, first) for _ in rounds()]
        note, trouble = w.finish(what)
        notes.append("%s; %s, %d times: held back after %d..%d replies reached it"
                     % (note, what, len(got), min(got), max(got)))
        problems += trouble
    ping_ok(d, "after clients that never read")
    check(not problems, "\n#   ".join(problems + ["(all: " + notes[0]] + notes[1:]) + ")")
    return "\n#   ".join(notes)


def shifted(page):
    """IV-13.html with every instrument dated another day of its month (59 changes)."""
    def day(m):
        d = int(m.group(2))
        return m.group(1) + (b"%2d" % (1 if d != 1 else 2)) + m.group(3)
    out, k = re.subn(rb"(<td>[^<]*</td><td>[^<]*</td><td>\s*)(\d{1,2})( [A-Z][a-z]{2}\t \d{4})",
                     day, page)
    check(k >= 50, "test setup: only %d instruments re-dated" % k)
    return out


def test_watcher_never_reads(ctx):
    d, st = start_ok(ctx)
    w = Watch(d)
    with open(os.path.join(FIXTURES, "IV-13.html"), "rb") as f:
        pages = [f.read()]
    pages.append(shifted(pages[0]))
    n = len(ctx.log_text())
    mute = sock()
    good = sock()
    try:
        mute.connect(ctx.sock)
        mute.sendall(b'{"cmd": "watch"}\n')
        mute.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        good.connect(ctx.sock)
        good.sendall(b'{"cmd": "watch"}\n')
        good.settimeout(30)
        gf = good.makefile("rb")
        eq(result_of(json.loads(gf.readline()), "watch").get("watching"), True,
           "the reading watcher's reply")
        ids = []

        def reader():
            try:
                for line in gf:
                    ids.append(json.loads(line)["event"]["id"])
            except (OSError, ValueError, KeyError):
                pass
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        flips = 0
        last = 0
        while "does not read" not in log_since(ctx, n):
            check(flips < 200, "200 page changes (%d events) and the watcher that never "
                  "reads is still there" % last)
            ctx.serve(body=pages[(flips + 1) % 2])
            eq(d.refresh().get("result"), "changed", "refresh #%d" % (flips + 1))
            flips += 1
            evs = history(d, limit=1, since=last)
            last = evs[-1]["id"] if evs else last
        # The reading watcher has every event, in order, and is still connected.
        wait_for(lambda: len(ids) >= last or not th.is_alive(), 5,
                 "the reading watcher to receive %d events" % last)
        eq(ids, list(range(1, last + 1)), "event ids the reading watcher received")
        check(th.is_alive(), "the reading watcher was disconnected")
        eq(log_since(ctx, n).count("dropping a watcher"), 1, "watchers dropped")
        data, end = read_all(mute, 5)
        check(end in ("eof", "reset"), "the mute watcher's connection: %s" % end)
    finally:
        mute.close()
        good.close()
    ping_ok(d, "after a watcher that never reads")
    return "%s; the mute watcher dropped after %d page changes, %d events" % (
        w.end("a watcher that never reads"), flips, last)


# --- slots, budgets and limits ---------------------------------------------------------

HOLDER = r"""
import json, socket, sys, time
path, n, req = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode() + b"\n"
end = time.monotonic() + 10
conns, tally = [], {}
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass                        # refused: the reason waits in the socket
    except OSError as e:
        tally["connect: " + type(e).__name__] = tally.get("connect: " + type(e).__name__, 0) + 1
        continue
    conns.append(s)
for s in conns:
    s.settimeout(max(0.05, end - time.monotonic()))
    try:
        r = json.loads(s.makefile("rb").readline())
        k = "ok" if r.get("ok") is True else (r.get("error") or {}).get("code", "?")
    except Exception as e:
        k = "no answer (%s)" % type(e).__name__
    tally[k] = tally.get(k, 0) + 1
print(json.dumps(tally), flush=True)
sys.stdin.read()
"""

NOBODY = 65534
# An interpreter user nobody may run (sys.executable may live under /root).
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def hold_as_nobody(ctx, n, req):
    """A process of user nobody holding n connections, each of which sent req; returns
    (the process, a tally of their first replies: "ok", an error code or "no answer")."""
    p = subprocess.Popen([PYTHON, "-c", HOLDER, ctx.sock, str(n), json.dumps(req)],
                         user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline()
    check(line, "the connections held as nobody reported nothing")
    return p, json.loads(line)


def release(holders):
    for p in holders:
        p.stdin.close()
        p.wait(harness.bounded(5))


def ratctl_as_nobody(ctx, *args):
    ctl = os.path.join(ctx.dir, "ratctl")
    if not os.path.exists(ctl):
        shutil.copy(harness.RATCTL, ctl)
        os.chmod(ctl, 0o755)
    p = ctx.run([ctl, "-s", ctx.sock] + list(args), 10, user=NOBODY, group=NOBODY,
                extra_groups=[])
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def open_to_all(ctx):
    """Configuration keywords for a socket any user may connect to."""
    os.chmod(ctx.dir, 0o755)
    return {"ratd": {"socket_mode": "0666"}}


def test_reserved_slots(ctx):
    if os.geteuid() != 0:
        return "skipped: needs root to connect as another user"
    d, st = start_ok(ctx, conf_kw=open_to_all(ctx))
    holders = []
    try:
        p, tally = hold_as_nobody(ctx, 64, {"cmd": "watch"})
        holders.append(p)
        # Root is never locked out by them.
        eq(d.status().get("parties"), 59, "root's status beside nobody's watchers")
        t = d.refresh()
        check(t.get("result") in ("changed", "unchanged"), "root's refresh: %r" % t)
        eq(result_of(d.request({"cmd": "reload"}), "reload").get("reloaded"), True,
           "root's reload beside nobody's watchers")
        rc, out, err, _ = ctx.ratctl("status")
        eq(rc, 0, "ratctl status by root beside nobody's watchers (%r)" % err)
        eq(sum(tally.get(k, 0) for k in ("ok", "busy")), 64,
           "watch connections of nobody answered watching or busy (%r)" % tally)
        check(0 < tally.get("ok", 0) <= 16 and tally.get("busy", 0) > 0,
              "one user's 64 watchers: %r (at most 16 connections per user)" % tally)
        # One more from nobody is refused, and told why.
        p, more = hold_as_nobody(ctx, 1, {"cmd": "ping"})
        holders.append(p)
        eq(more, {"busy": 1}, "one more connection of nobody")
        rc, out = ratctl_as_nobody(ctx, "status")
        eq(rc, 1, "exit status of ratctl status refused as busy (%r)" % out)
        check("busy" in out and "Broken pipe" not in out,
              "ratctl refused as busy does not say so: %r" % out)
    finally:
        release(holders)
    return "nobody's 64 watch connections: %r; root's status, refresh and reload served" \
        % tally


def journal_events(n, treaties=(harness.TREATY,)):
    """n events as journal.jsonl holds them (ids 1..n, treaties in turn, new-party and
    source-anomaly), each about 450 bytes like real new-party events."""
    evs = []
    for i in range(1, n + 1):
        tid = treaties[i % len(treaties)]
        kind = "new-party" if i % 3 else "source-anomaly"
        name = "Participant %05d" % i
        row = {"name": name, "signature": {"date": "2000-01-01", "kind": "signature"},
               "instrument": {"date": "2003-03-14", "kind": "ratification"},
               "withdrawn": False}
        evs.append({"id": i, "time": "2026-01-01T00:00:00Z", "type": kind, "treaty": tid,
                    "summary": "%s: %s deposited its instrument of ratification on "
                    "2003-03-14" % (tid, name),
                    "data": {"participant": name, "before": None, "after": row,
                             "parties": 20 + i % 40, "threshold": 20, "remaining": 0}})
    return evs


def write_journal(ctx, evs):
    with open(os.path.join(ctx.state, "journal.jsonl"), "w") as f:
        for ev in evs:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


# What the daemon may hold for the 63 requests: each writes at most CONTROL_PAUSE_OUTPUT
# (64 KiB) ahead of its reader and keeps a ring of up to 10,000 offsets (80 KB) and a
# line buffer while it counts: some 10 MB in all, well below the 0.5 GB of whole replies.
# (AddressSanitizer's quarantine keeps what each step's parsing freed: only a runaway
# counts there.)
HISTORY_GROWTH_LIMIT_KB = (1024 if SANITIZED else 16) * 1024
HISTORY_RSS_LIMIT_KB = (1024 if SANITIZED else 64) * 1024


def test_history_flood(ctx):
    # Fewer under a sanitizer, where reading them at start alone takes many seconds.
    n = 4000 if SANITIZED else 10000
    evs = journal_events(n, (harness.TREATY, "XXVI-9"))
    write_journal(ctx, evs)
    # Reading 10,000 events at start takes a while under a sanitizer.
    d = ctx.daemon(ctx.write_conf(ctx.serve(file="IV-13.html")), wait=False)
    d.wait_ready(30)
    d.wait_state("ok")
    base = proc_status(d.proc.pid)["VmRSS"]
    w = Watch(d)
    conns = []
    try:
        for i in range(63):
            s = sock()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(ctx.sock)
            s.sendall(b'{"cmd": "history", "limit": 10000}\n')
            conns.append(s)
        time.sleep(harness.bounded(3))
        note, problems = w.finish("63 clients asking for 10,000 events and never reading")
    finally:
        for s in conns:
            s.close()
    check(not problems, "; ".join(problems))
    # Within the budget: the daemon holds a little per client, not whole replies.
    check(w.peak_rss < HISTORY_RSS_LIMIT_KB and w.peak_rss - base < HISTORY_GROWTH_LIMIT_KB,
          "ratd's RSS reached %d kB (%d kB before the 63 history requests; limits %d kB, "
          "%d kB more): %s" % (w.peak_rss, base, HISTORY_RSS_LIMIT_KB,
                               HISTORY_GROWTH_LIMIT_KB, note))
    # Written a little at a time, the reply is still whole and in order (once the
    # daemon has seen the 63 go: until then it may answer busy).
    def served(req):
        r = d.request(req, timeout=10)
        return None if r.get("ok") is False and error_code(r) == "busy" else r
    want = [e for e in evs if e["treaty"] == harness.TREATY][-1500:]
    got = result_of(wait_for(lambda: served({"cmd": "history", "treaty": harness.TREATY,
                                             "limit": 1500}), 10,
                             "a slot after the 63 clients hung up"), "history")["events"]
    eq([e["id"] for e in got], [e["id"] for e in want], "ids of history -n 1500 for %s"
       % harness.TREATY)
    eq(got, want, "events of history -n 1500")
    got = result_of(d.request({"cmd": "history", "limit": 10000, "since": n - 1000},
                              timeout=10), "history").get("events")
    eq([e["id"] for e in got], list(range(n - 999, n + 1)), "ids of history since %d"
       % (n - 1000))
    return "%s (RSS %d kB before)" % (note, base)


GATE_SH = """#!/bin/sh
# Delivers (exit 0) once the gate file exists; until then each delivery waits.
while [ ! -e "%s" ]; do sleep 0.05; done
exit 0
"""

SINKS_BEHIND = {"a": {}, "b": {"treaties": [harness.TREATY]}, "c": {"events": ["new-party"]}}


def sink_conf(script, sinks):
    out = ""
    for name, f in sinks.items():
        out += "\n[alert %s]\nexec = %s\ntimeout = 30s\n" % (name, script)
        for k, v in f.items():
            out += "%s = %s\n" % (k, " ".join(v))
    return out


def check_pending(ctx, d, sinks, what):
    """Each sink's pending count is what the journal holds for it after its cursor."""
    with open(os.path.join(ctx.state, "journal.jsonl")) as f:
        evs = [json.loads(l) for l in f]
    got = result_of(d.request({"cmd": "status"}), "status")["alerts"]
    eq(sorted(s["name"] for s in got), sorted(sinks), "sinks in status %s" % what)
    for s in got:
        f = sinks[s["name"]]
        want = sum(1 for e in evs if e["id"] > s["delivered"] and
                   e["type"] in f.get("events", [e["type"]]) and
                   e["treaty"] in f.get("treaties", [e["treaty"]]))
        eq(s["pending"], want, "sink %s's pending count %s (delivered %d)"
           % (s["name"], what, s["delivered"]))
    return {s["name"]: s["pending"] for s in got}


def timed(d, req, n):
    lat = []
    for _ in range(n):
        t0 = time.monotonic()
        result_of(d.request(req), req["cmd"])
        lat.append(time.monotonic() - t0)
    return sorted(lat)[n // 2], max(lat)


def test_sinks_behind(ctx):
    gate = os.path.join(ctx.dir, "gate")
    script = harness.write_script(ctx, "gate.sh", GATE_SH % gate)
    write_journal(ctx, journal_events(2400, (harness.TREATY, "XXVI-9")))
    with open(os.path.join(ctx.state, "alerts.json"), "w") as f:
        json.dump({"version": 1, "sinks": {"a": {"delivered": 0}, "b": {"delivered": 0},
                                           "c": {"delivered": 500}}}, f)
    url = ctx.serve(file="IV-13.2003-03-13.html")
    conf = ctx.write_conf(url, extra=sink_conf(script, SINKS_BEHIND))
    d = ctx.daemon(conf)
    d.wait_state("ok")
    first = check_pending(ctx, d, SINKS_BEHIND, "at start")
    check(min(first.values()) >= 1000, "sinks behind by %r" % first)
    # One treaty's status is never answered from the cached whole reply.
    st_med, st_max = timed(d, {"cmd": "status", "treaty": harness.TREATY}, 20)
    me_med, me_max = timed(d, {"cmd": "metrics"}, 20)
    limit = 0.250 if SANITIZED else 0.050
    check(st_med < limit and me_med < limit, "with three sinks behind: status %.0f ms, "
          "metrics %.0f ms (median; limit %.0f ms)" % (st_med * 1000, me_med * 1000,
                                                       limit * 1000))
    # Publish: new events count for the sinks that want them.
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    check_pending(ctx, d, SINKS_BEHIND, "after new events")
    # Delivery: each one takes one off, whatever the moment of the snapshot.
    open(gate, "w").close()
    for i in range(5):
        time.sleep(0.2)
        check_pending(ctx, d, SINKS_BEHIND, "during deliveries (#%d)" % (i + 1))
    wait_for(lambda: check_pending(ctx, d, SINKS_BEHIND, "after some deliveries")["a"] <
             first["a"], 10, "sink a's pending count to go below its count at start")
    os.unlink(gate)
    # Restart: counted again from the saved cursors.
    eq(d.stop(), 0, "exit status on SIGTERM")
    d = ctx.daemon(conf)
    check_pending(ctx, d, SINKS_BEHIND, "after a restart")
    # Reload with other filters: counted again for them.
    after = dict(SINKS_BEHIND, b={"events": ["source-anomaly"]},
                 c={"events": ["new-party", "source-anomaly"], "treaties": [harness.TREATY]})
    ctx.write_conf(url, extra=sink_conf(script, after))
    eq(result_of(d.request({"cmd": "reload"}), "reload").get("reloaded"), True, "reload")
    check_pending(ctx, d, after, "after a reload that changed the filters")
    return ("with three sinks behind by %s events: status %.1f ms (max %.1f), metrics %.1f "
            "ms (max %.1f)" % ("/".join(str(first[k]) for k in sorted(first)),
                               st_med * 1000, st_max * 1000, me_med * 1000, me_max * 1000))


def test_long_treaty_id(ctx):
    d, st = start_ok(ctx)
    cases = [
        ({"cmd": "status", "treaty": "x" + "é" * 40}, "unknown-treaty"),
        ({"cmd": "parties", "treaty": "—" * 30}, "unknown-treaty"),
        ({"cmd": "history", "treaty": "x" + "\U0001F600" * 20}, "unknown-treaty"),
        ({"cmd": "watch", "treaty": "xy" + "\U0001F600" * 20}, "unknown-treaty"),
        ({"cmd": "refresh", "treaty": "xyz" + "\U0001F600" * 20}, "unknown-treaty"),
        ({"cmd": "x" + "é" * 40}, "unknown-command"),
        ({"cmd": "status", "x" + "é" * 40: 1}, "bad-request"),
        ({"cmd": "status", "as_of": "x" + "é" * 20}, "bad-date"),
    ]
    s = sock()
    try:
        s.connect(ctx.sock)
        f = s.makefile("rb")
        for req, code in cases:
            s.sendall(json.dumps(req, ensure_ascii=False).encode() + b"\n")
            line = f.readline()
            check(line, "no reply to %s: the connection was dropped" % short(json.dumps(req)))
            eq(error_code(json.loads(line)), code, "error for %s" % short(json.dumps(req)))
        s.sendall(b'{"cmd": "ping"}\n')
        result_of(json.loads(f.readline()), "ping after the long ids")
    finally:
        s.close()


class LimitedDaemon(harness.Daemon):
    """ratd started with RLIMIT_NOFILE set to nofile (soft and hard)."""

    def __init__(self, ctx, conf, nofile):
        super().__init__(ctx, conf)
        self.nofile = nofile

    def start(self, wait=True):
        n = self.nofile
        log = open(self.ctx.log, "ab")
        try:
            self.proc = subprocess.Popen(
                [harness.RATD, "-c", self.conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.ctx.dir, env=self.ctx.env,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)))
        finally:
            log.close()
        if wait:
            self.wait_ready()
        return self


def test_low_nofile(ctx):
    if os.geteuid() != 0:
        return "skipped: needs root to connect as another user"
    url = ctx.serve(file="IV-13.2003-03-13.html")
    conf = ctx.write_conf(url, **open_to_all(ctx))
    d = LimitedDaemon(ctx, conf, 64)
    ctx.daemons.append(d)
    d.start()
    d.wait_state("ok")
    state = os.path.join(ctx.state, harness.TREATY + ".json")
    with open(state, "rb") as f:
        before = f.read()
    holders = []
    try:
        p, tally = hold_as_nobody(ctx, 100, {"cmd": "ping"})
        holders.append(p)
        eq(tally.get("ok", 0) + tally.get("busy", 0), 100,
           "100 connections of nobody answered or refused as busy (%r)" % tally)
        ctx.serve(file="IV-13.2003-03-14.html")
        t = d.refresh()
        eq((t.get("result"), t.get("error")), ("changed", None),
           "root's refresh with 64 descriptors and a crowd")
        with open(state, "rb") as f:
            after = f.read()
        check(json.loads(after)["snapshot"] != json.loads(before)["snapshot"],
              "the state file was not written")
        eq(d.status().get("parties"), 21, "parties after the refresh")
    finally:
        release(holders)
    m = re.search(r"up to (\d+) clients", ctx.log_text())
    check(m and int(m.group(1)) < 64, "the daemon did not log a client limit below 64 "
          "with 64 descriptors: %r" % (m and m.group(0)))
    return "with RLIMIT_NOFILE 64: %s; nobody's 100 connections: %r" % (m.group(0), tally)


if __name__ == "__main__":
    sys.exit(harness.main(harness.Suite("abuse", 120, sys.modules[__name__])))
