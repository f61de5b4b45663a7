#!/usr/bin/env python3
"""Integration tests: build/ratd and build/ratctl against a local fake UNTC (stdlib only).

    python3 tests/integration/run.py --build build [-k] [-v] [TEST...]

Run from the repository root (`make integration`). Each test gets a fresh temporary
directory, its own fixture server on 127.0.0.1 (ephemeral port) and its own daemon; both
are stopped when the test ends, pass or fail. Nothing here talks to a non-loopback address.
Prints "ok NAME" or "FAIL NAME: reason" per test, then one line
"integration: N passed, N failed"; exits 1 when anything failed.
"""
import argparse
import datetime
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fixture_server import ASPNET_ERROR_PAGE, FixtureServer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SEED = os.path.join(REPO, "data", "IV-13.xml")
TREATY = "IV-13"
TITLE = ("International Convention on the Protection of the Rights of All Migrant Workers "
         "and Members of Their Families")
SUITE_BUDGET = 110.0        # seconds for the whole suite: it must end within 2 minutes
WATCHDOG_GRACE = 5.0        # then the watchdog ends it, whatever blocks
FETCH_TIMEOUT = 5           # the daemon's `timeout =` in the test configuration
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
COMMANDS = ("status", "parties", "history", "refresh", "watch", "reload", "check", "version")

RATD = RATCTL = None
DEADLINE = None
LABEL = "integration"


class Fail(Exception):
    """A test assertion that did not hold."""


def left():
    """Seconds left in the suite's budget."""
    return DEADLINE - time.monotonic()


def bounded(timeout):
    """A wait may never outlast the suite's budget."""
    return max(0.05, min(timeout, left()))


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise Fail("%s: expected %r, got %r" % (what, expected, actual))


def wait_for(pred, timeout, what, interval=0.1):
    """Polls pred() until it returns a true value; returns it or fails naming what."""
    end = time.monotonic() + bounded(timeout)
    last = None
    while True:
        try:
            last = pred()
        except Fail as e:
            last = e
        except (OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= end:
            raise Fail("timed out after %.1fs waiting for %s (last: %s)"
                       % (timeout, what, short(last)))
        time.sleep(interval)


def short(v, n=300):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "..."


def parse_time(s):
    check(isinstance(s, str), "expected an RFC 3339 time, got %r" % (s,))
    try:
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise Fail("not an RFC 3339 time: %r" % (s,))


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the control socket ---------------------------------------------------------------

def recv_line(s, timeout):
    """One reply line from s (b"" when the peer closed first)."""
    end = time.monotonic() + bounded(timeout)
    buf = b""
    while b"\n" not in buf:
        rest = end - time.monotonic()
        if rest <= 0:
            raise Fail("no reply line within %.1fs (got %r)" % (timeout, short(buf)))
        s.settimeout(rest)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return buf
        buf += chunk
    return buf.split(b"\n", 1)[0]


def sock_raw(path, data, timeout=5.0):
    """Sends raw bytes as one request, returns the raw reply line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(bounded(timeout))
        s.connect(path)
        s.sendall(data)
        return recv_line(s, timeout)
    finally:
        s.close()


def sock_request(path, obj, timeout=5.0):
    """Sends one JSON request, returns the decoded reply object."""
    line = sock_raw(path, (json.dumps(obj) + "\n").encode(), timeout)
    check(line, "daemon closed the connection without replying to %r" % (obj,))
    try:
        reply = json.loads(line)
    except ValueError:
        raise Fail("reply to %r is not JSON: %r" % (obj, short(line)))
    check(isinstance(reply, dict) and "ok" in reply, "malformed reply %r" % (short(line),))
    return reply


def result_of(reply, what):
    check(reply.get("ok") is True, "%s: daemon replied with an error: %s"
          % (what, short(json.dumps(reply))))
    check(isinstance(reply.get("result"), dict), "%s: no result object in %r" % (what, reply))
    return reply["result"]


def error_code(reply):
    check(reply.get("ok") is False, "expected an error reply, got %s" % short(json.dumps(reply)))
    err = reply.get("error")
    check(isinstance(err, dict), "error reply without an error object: %r" % (reply,))
    return err.get("code")


def find_treaty(result, tid=TREATY):
    ts = result.get("treaties")
    check(isinstance(ts, list), "no treaties list in %s" % short(json.dumps(result)))
    for t in ts:
        if isinstance(t, dict) and t.get("id") == tid:
            return t
    raise Fail("treaty %s not in %s" % (tid, short(json.dumps(result))))


# --- the daemon and its world --------------------------------------------------------

class Daemon:
    """One ratd process running in the foreground on a test's configuration."""

    def __init__(self, ctx, conf):
        self.ctx = ctx
        self.conf = conf
        self.sock = ctx.sock
        self.proc = None
        self.ended_by_test = False      # SIGTERM/SIGKILL sent by the test itself

    def start(self, wait=True):
        log = open(self.ctx.log, "ab")
        log.write(("--- ratd -c %s (%s)\n" % (self.conf, time.strftime("%H:%M:%S"))).encode())
        log.flush()
        try:
            self.proc = subprocess.Popen([RATD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, cwd=self.ctx.dir,
                                         env=self.ctx.env)
        finally:
            log.close()
        if wait:
            self.wait_ready()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=5.0):
        """Until the socket answers ping; fails at once when the daemon exits."""
        def ready():
            if not self.alive():
                raise Stop("ratd exited with status %s before answering ping"
                           % self.proc.returncode)
            if not os.path.exists(self.sock):
                return False
            return self.request({"cmd": "ping"}, timeout=1).get("ok") is True
        try:
            wait_for(ready, timeout, "ratd's socket to answer ping")
        except Stop as e:
            raise Fail(str(e))

    def request(self, obj, timeout=5.0):
        return sock_request(self.sock, obj, timeout)

    def status(self, tid=TREATY, **args):
        req = {"cmd": "status", "treaty": tid}
        req.update(args)
        return find_treaty(result_of(self.request(req), "status"), tid)

    def wait_state(self, state="ok", timeout=5.0):
        def got():
            st = self.status()
            return st if (st.get("source") or {}).get("state") == state else None
        return wait_for(got, timeout, "source.state == %r" % state)

    def refresh(self, tid=TREATY, timeout=FETCH_TIMEOUT + 5.0):
        req = {"cmd": "refresh"}
        if tid:
            req["treaty"] = tid
        res = result_of(self.request(req, timeout=timeout), "refresh")
        ts = res.get("treaties")
        check(isinstance(ts, list) and ts, "refresh result without treaties: %r" % (res,))
        for t in ts:
            if t.get("id") == tid:
                return t
        raise Fail("refresh result lacks %s: %r" % (tid, res))

    def signal(self, sig):
        check(self.alive(), "ratd is not running (exit status %s)"
              % (self.proc.returncode if self.proc else None))
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.ended_by_test = True
        self.proc.send_signal(sig)

    def kill(self):
        self.ended_by_test = True
        self.proc.kill()
        self.proc.wait()

    def died(self):
        """Why the daemon ended when the test did not end it, else None."""
        if self.proc is None or self.ended_by_test or self.proc.poll() is None:
            return None
        rc = self.proc.returncode
        if rc < 0:
            try:
                return "ratd died of %s" % signal.Signals(-rc).name
            except ValueError:
                return "ratd died of signal %d" % -rc
        return "ratd exited on its own with status %d" % rc

    def stop(self, timeout=5.0):
        """SIGTERM and wait; SIGKILL when it does not exit in time. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.ended_by_test = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(bounded(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "killed after SIGTERM timeout"
        return self.proc.returncode


class Stop(Exception):
    """Ends a wait loop at once (the daemon died)."""


class Ctx:
    """A test's world: temp dir, config, fixture server, daemons; cleaned up in finish()."""

    def __init__(self, name, keep=False):
        self.name = name
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="ratd-it-")
        self.sock = os.path.join(self.dir, "ratd.sock")
        self.state = os.path.join(self.dir, "state")
        self.seed = os.path.join(self.dir, "seed")
        self.log = os.path.join(self.dir, "ratd.log")
        os.makedirs(self.state, 0o750)    # ratd refuses a state_dir its group may write
        os.makedirs(self.seed)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("RATD_SOCKET", "STATE_DIRECTORY", "JOURNAL_STREAM")}
        self.env["NO_COLOR"] = "1"
        self.server = None
        self.daemons = []
        self.problems = []

    # fixture server

    def serve(self, path="/page", **kw):
        """Starts the fixture server on first use and sets path's behaviour."""
        if self.server is None:
            self.server = FixtureServer(FIXTURES).start()
        self.server.set(path, **kw)
        return self.server.url(path)

    def stop_server(self):
        if self.server is not None:
            self.server.stop()

    # configuration

    def conf_text(self, url, ratd=None, treaty=None, drop=(), extra=""):
        r = {"socket": self.sock, "socket_mode": "0600", "state_dir": self.state,
             "seed_dir": self.seed, "interval": "1h", "jitter": "0",
             # Tests refresh one treaty many times in a row: no second between them.
             "host_spacing": "0",
             "timeout": "%ds" % FETCH_TIMEOUT, "max_page_size": "1M"}
        t = {"title": TITLE, "url": url, "format": "auto", "threshold": "20",
             "eif_delay": "3 months", "eif_align": "next-month",
             "count": "ratification accession acceptance approval succession confirmation",
             "approaching": "3"}
        r.update(ratd or {})
        t.update(treaty or {})
        lines = ["# ratd integration test: %s" % self.name, "[ratd]"]
        lines += ["%s = %s" % (k, v) for k, v in r.items() if k not in drop]
        lines += ["", "[treaty %s]" % TREATY]
        lines += ["%s = %s" % (k, v) for k, v in t.items() if k not in drop]
        return "\n".join(lines) + "\n" + extra

    def write_conf(self, url, name="ratd.conf", **kw):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(self.conf_text(url, **kw))
        return path

    def add_seed(self, tid=TREATY):
        shutil.copyfile(SEED, os.path.join(self.seed, tid + ".xml"))

    # processes

    def daemon(self, conf, wait=True):
        d = Daemon(self, conf)
        self.daemons.append(d)
        return d.start(wait)

    def ratctl(self, *args, sock=True, timeout=10.0):
        """Runs ratctl; returns (exit status, stdout, stderr, seconds taken)."""
        argv = [RATCTL] + (["-s", self.sock] if sock else []) + list(args)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=bounded(timeout), env=self.env, cwd=self.dir)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not finish within %.1fs" % (" ".join(argv[1:]), timeout))
        self.scan("ratctl " + " ".join(args), p.stderr)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)

    def run(self, argv, timeout, **kw):
        """Runs a short-lived program (ratd --once, --check-config); its stderr is scanned."""
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.dir)
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=bounded(timeout), **kw)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not finish within %.1fs" % (" ".join(argv), timeout))
        self.scan(" ".join(argv), p.stderr)
        return p

    def scan(self, what, stderr):
        """Notes sanitizer reports (a SANITIZE=1 build) in a program's stderr."""
        text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
        for pat in SANITIZER_PATTERNS:
            if pat in text:
                self.problems.append("sanitizer report (%s) from %s" % (pat, what))

    def ratctl_json(self, *args):
        rc, out, err, _ = self.ratctl("--json", *args)
        eq(rc, 0, "exit status of ratctl --json %s (stderr %r)" % (" ".join(args), err))
        try:
            return json.loads(out)
        except ValueError:
            raise Fail("ratctl --json %s printed non-JSON: %r" % (" ".join(args), short(out)))

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def finish(self):
        """Stops everything; returns problems found on the way (sanitizer reports)."""
        for d in self.daemons:
            why = d.died()
            running = d.alive()
            rc = d.stop(3.0)
            if why is None and running and rc != 0:
                # A crash an instant ago looks like a refused SIGTERM: say which.
                why = ("ratd died of %s" % signal.Signals(-rc).name
                       if isinstance(rc, int) and rc < 0 and rc != -signal.SIGTERM
                       else "ratd ended with %s on SIGTERM at the end of the test" % (rc,))
            if why:
                self.problems.append(why)
        self.stop_server()
        self.scan("ratd (see its log)", self.log_text())
        return self.problems

    def cleanup(self, failed=False):
        """Removes the test's directory, unless -k asked to keep it."""
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the tests -----------------------------------------------------------------------

def start_ok(ctx, file="IV-13.html", path="/page", conf_kw=None, **serve_kw):
    """Serves file, starts ratd on it and waits for the first successful fetch."""
    url = ctx.serve(path, file=file, **serve_kw)
    conf = ctx.write_conf(url, **(conf_kw or {}))
    d = ctx.daemon(conf)
    return d, d.wait_state("ok")


def assert_current(st, what="status"):
    """The figures of IV-13.html (status as at 2024-09-30)."""
    for key, val in (("parties", 59), ("signatories", 40), ("counted", 59), ("threshold", 20),
                     ("remaining", 0), ("threshold_reached", True),
                     ("threshold_date", "2003-03-14"),
                     ("threshold_participants", ["El Salvador", "Guatemala"]),
                     ("entry_into_force", "2003-07-01"), ("in_force", True)):
        eq(st.get(key), val, "%s.%s" % (what, key))


def test_current_page(ctx):
    d, st = start_ok(ctx)
    assert_current(st)
    src = st["source"]
    eq(src.get("stated_parties"), 59, "source.stated_parties")
    eq(src.get("stated_signatories"), 40, "source.stated_signatories")
    eq(src.get("status_as_at"), "2024-09-30T09:00:44Z", "source.status_as_at")
    eq(src.get("consecutive_failures"), 0, "source.consecutive_failures")
    eq(src.get("error"), None, "source.error")
    eq(st.get("id"), TREATY, "id")
    eq(st.get("title"), TITLE, "title")
    eq(st.get("url"), ctx.server.url(), "url")
    eq(st.get("interval"), 3600, "interval")
    eq(oct(os.stat(ctx.sock).st_mode & 0o777), oct(0o600), "socket mode (socket_mode = 0600)")
    parse_time(src.get("last_success"))
    parse_time(src.get("next_fetch"))

    rc, out, err, _ = ctx.ratctl("status")
    eq(rc, 0, "ratctl status exit status (stderr %r)" % err)
    check("59" in out and "2003-07-01" in out,
          "ratctl status output lacks 59 or 2003-07-01:\n%s" % out)

    js = ctx.ratctl_json("status")
    jt = find_treaty(js)
    for key in ("parties", "signatories", "counted", "remaining", "threshold_date",
                "threshold_participants", "entry_into_force", "in_force"):
        eq(jt.get(key), st.get(key), "ratctl --json status: %s" % key)

    # The page's footnotes reach the participants they belong to.
    parts = ctx.ratctl_json("parties", TREATY).get("participants") or []
    mne = [p for p in parts if p.get("name") == "Montenegro"]
    eq(len(mne), 1, "Montenegro rows")
    check(mne[0].get("notes") and "Historical Information" in mne[0]["notes"][0],
          "Montenegro's notes: %r" % mne[0].get("notes"))
    rc, out, err, _ = ctx.ratctl("parties", TREATY, "--notes")
    eq(rc, 0, "ratctl parties --notes exit status (stderr %r)" % err)
    check("Serbia: The former Yugoslavia signed" in out,
          "ratctl parties --notes lacks Serbia's note:\n%s" % out[-1500:])


def test_as_of(ctx):
    d, st = start_ok(ctx)
    js = find_treaty(ctx.ratctl_json("status", "--as-of", "2000-12-04"))
    eq(js.get("as_of"), "2000-12-04", "as_of")
    eq(js.get("parties"), 15, "parties as of 2000-12-04")
    eq(js.get("remaining"), 5, "remaining as of 2000-12-04")
    eq(js.get("threshold_reached"), False, "threshold_reached as of 2000-12-04")
    eq(js.get("threshold_date"), None, "threshold_date as of 2000-12-04")
    eq(js.get("entry_into_force"), None, "entry_into_force as of 2000-12-04")
    eq(js.get("in_force"), False, "in_force as of 2000-12-04")

    st = d.status(as_of="2003-03-14")
    eq(st.get("parties"), 21, "parties as of 2003-03-14")
    eq(st.get("threshold_reached"), True, "threshold_reached as of 2003-03-14")
    eq(st.get("entry_into_force"), "2003-07-01", "entry_into_force as of 2003-03-14")
    eq(st.get("in_force"), False, "in_force as of 2003-03-14 (enters into force 2003-07-01)")

    rc, out, err, _ = ctx.ratctl("status", "--as-of", "2003-02-30")
    eq(rc, 2, "ratctl status --as-of 2003-02-30 exit status (out %r, err %r)" % (out, err))
    for bad in ("2003-02-30", "2003-3-14", "yesterday"):
        r = d.request({"cmd": "status", "as_of": bad})
        eq(error_code(r), "bad-date", "error code for as_of %r" % bad)


def test_page_change_refresh(ctx):
    d, st = start_ok(ctx, file="IV-13.2003-03-13.html")
    eq(st.get("parties"), 19, "parties on 2003-03-13's page")
    eq(st.get("threshold_reached"), False, "threshold_reached on 2003-03-13's page")
    eq(st.get("remaining"), 1, "remaining on 2003-03-13's page")
    eq(st.get("entry_into_force"), None, "entry_into_force on 2003-03-13's page")
    ctx.serve(file="IV-13.2003-03-14.html")
    rc, out, err, _ = ctx.ratctl("refresh")
    eq(rc, 0, "ratctl refresh exit status (stderr %r)" % err)
    check(re.search(r"(?<![A-Za-z-])changed", out),
          "ratctl refresh output does not say changed:\n%s" % out)
    st = d.status()
    eq(st.get("parties"), 21, "parties after refresh")
    eq(st.get("threshold_reached"), True, "threshold_reached after refresh")
    eq(st.get("threshold_date"), "2003-03-14", "threshold_date after refresh")
    eq(st.get("threshold_participants"), ["El Salvador", "Guatemala"],
       "threshold_participants after refresh")
    eq(st.get("entry_into_force"), "2003-07-01", "entry_into_force after refresh")
    parse_time(st["source"].get("last_change"))


def test_not_modified(ctx):
    d, st = start_ok(ctx, etag=True, last_modified=True)
    etag = ctx.server.behaviour().etag
    n = ctx.server.count()
    time.sleep(1.1)                 # so that last_success, to the second, must move
    r = d.refresh()
    eq(r.get("result"), "not-modified", "refresh result with an unchanged ETag")
    reqs = ctx.server.requests()
    check(len(reqs) > n, "the server saw no request for the refresh")
    last = reqs[-1]
    eq(last.header("If-None-Match"), etag, "If-None-Match of the conditional GET")
    eq(last.status, 304, "status the server answered")
    st2 = d.status()
    for key in ("parties", "signatories", "counted", "threshold_date", "entry_into_force"):
        eq(st2.get(key), st.get(key), "%s after not-modified" % key)
    eq(st2["source"].get("last_change"), st["source"].get("last_change"),
       "source.last_change after not-modified")
    eq(st2["source"].get("state"), "ok", "source.state after not-modified")
    check(parse_time(st2["source"].get("last_success")) >
          parse_time(st["source"].get("last_success")),
          "source.last_success did not move on not-modified: %r then %r"
          % (st["source"].get("last_success"), st2["source"].get("last_success")))


def test_not_modified_since(ctx):
    # Only Last-Modified: the daemon must fall back to If-Modified-Since.
    d, st = start_ok(ctx, last_modified=True)
    lm = ctx.server.requests()[-1]
    n = ctx.server.count()
    r = d.refresh()
    eq(r.get("result"), "not-modified", "refresh result with an unchanged Last-Modified")
    reqs = ctx.server.requests()
    check(len(reqs) > n, "the server saw no request for the refresh")
    check(reqs[-1].header("If-Modified-Since") is not None,
          "no If-Modified-Since on the second request: %r (first was %r)" % (reqs[-1], lm))
    eq(d.status().get("parties"), 59, "parties after not-modified")


def test_xml_source(ctx):
    d, st = start_ok(ctx, file="IV-13.xml", path="/page.xml")
    req = ctx.server.requests("/page.xml")
    check(req, "the daemon did not fetch /page.xml")
    eq(st.get("parties"), 59, "parties from the XML")
    eq(st.get("signatories"), 40, "signatories from the XML")
    eq(st.get("threshold_date"), "2003-03-14", "threshold_date from the XML")
    eq(st.get("entry_into_force"), "2003-07-01", "entry_into_force from the XML")
    eq(st["source"].get("stated_parties"), 59, "source.stated_parties from the XML")
    res = ctx.ratctl_json("parties", TREATY)
    eq(res.get("treaty"), TREATY, "parties: treaty")
    parts = res.get("participants")
    check(isinstance(parts, list), "parties: no participants list")
    names = [p.get("name") for p in parts]
    for n in ("Côte d'Ivoire", "Türkiye", "Montenegro", "Bolivia (Plurinational State of)"):
        check(n in names, "participant %r missing (names: %s)" % (n, short(repr(names), 2000)))
    bad = [n for n in names if not isinstance(n, str) or "<" in n or "superscript" in n
           or "\ufffd" in n or "Ã" in n]
    check(not bad, "mangled participant names: %r" % bad)
    rc, out, err, _ = ctx.ratctl("parties", TREATY)
    eq(rc, 0, "ratctl parties exit status")
    check("Côte d'Ivoire" in out and "Türkiye" in out,
          "ratctl parties (human) lacks Côte d'Ivoire or Türkiye:\n%s" % out[:2000])
    civ = parts[names.index("Côte d'Ivoire")]
    eq(civ.get("instrument"), {"date": "2023-09-26", "kind": "accession"},
       "Côte d'Ivoire's instrument")
    eq(civ.get("counts"), True, "Côte d'Ivoire counts")
    eq(civ.get("withdrawn"), False, "Côte d'Ivoire withdrawn")
    eq(civ.get("entry_into_force"), "2024-01-01", "Côte d'Ivoire's entry into force")
    eq(civ.get("withdrawal_date"), None, "Côte d'Ivoire's withdrawal_date")
    eq(civ.get("notes"), [], "Côte d'Ivoire's notes")

    # The XML states no "status as at" day: its stated counts (59 parties) describe the
    # current view only, never an earlier one.
    js = find_treaty(ctx.ratctl_json("status", "--as-of", "2000-12-04"))
    eq(js.get("parties"), 15, "parties as of 2000-12-04 from the XML")
    eq(js.get("discrepancies"), [], "discrepancies as of 2000-12-04")
    rc, out, err, _ = ctx.ratctl("status", "--as-of", "2000-12-04")
    eq(rc, 0, "ratctl status --as-of 2000-12-04 exit status")
    check("page disagrees" not in out, "status --as-of 2000-12-04 says:\n%s" % out)
    eq(d.status().get("discrepancies"), [], "discrepancies today")


def test_aspnet_error_page(ctx):
    d, st = start_ok(ctx)
    ctx.serve(body=ASPNET_ERROR_PAGE)
    r = d.refresh()
    eq(r.get("result"), "refused", "refresh result for an ASP.NET error page under 200")
    check(r.get("error"), "refresh gave no reason for refusing: %r" % (r,))
    st2 = d.status()
    assert_current(st2, "status after the error page")
    err = st2["source"].get("error")
    check(isinstance(err, str) and err.strip(),
          "source.error should say why the page was refused, got %r" % (err,))
    eq(st2["source"].get("last_change"), st["source"].get("last_change"),
       "source.last_change after a refused page")

    rc = d.stop()
    eq(rc, 0, "ratd exit status on SIGTERM")
    # The restarted daemon resumes from its state (it may wait for its backoff before
    # fetching again: ask for the fetch), and still refuses the same page.
    d2 = ctx.daemon(d.conf)
    assert_current(d2.status(), "status after restart")
    r = d2.refresh()
    eq(r.get("result"), "refused", "refresh result for the error page after restart")
    assert_current(d2.status(), "status after restart and a second error page")


def test_trickle(ctx):
    d, st = start_ok(ctx)
    n = ctx.server.count()
    ctx.serve(file="IV-13.html", trickle=(1, 0.1))
    reply = {}

    def refresh():
        try:
            reply["r"] = d.refresh(timeout=FETCH_TIMEOUT + 6)
        except Exception as e:      # reported by the main thread
            reply["e"] = e
    th = threading.Thread(target=refresh, daemon=True)
    th.start()
    check(ctx.server.wait_requests(n + 1, 3), "refresh did not reach the server")
    time.sleep(0.2)
    for i in range(5):
        rc, out, err, took = ctx.ratctl("status", timeout=2.0)
        eq(rc, 0, "ratctl status #%d during a trickling fetch (stderr %r)" % (i + 1, err))
        check(took < 2.0, "ratctl status #%d took %.2fs" % (i + 1, took))
    check(th.is_alive(), "the refresh ended before the status calls: the fetch was not "
          "in flight (%r)" % (reply,))
    th.join(bounded(FETCH_TIMEOUT + 6))
    check(not th.is_alive(), "refresh did not end within the daemon's timeout + 6 s")
    if "e" in reply:
        raise Fail("refresh during trickle: %s" % reply["e"])
    eq(reply["r"].get("result"), "error", "refresh result of a fetch slower than timeout")
    assert_current(d.status(), "status after the timed-out fetch")


def test_seed(ctx):
    ctx.add_seed()
    # A listener that never accepts: connections open, no answer, so the fetch is in
    # flight while we look at the seed; the closed port fails at once.
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        extra = ("\n[treaty IV-13-refused]\ntitle = %s\nurl = http://127.0.0.1:%d/page\n"
                 "threshold = 20\neif_delay = 3 months\neif_align = next-month\n"
                 % (TITLE, closed_port()))
        ctx.add_seed("IV-13-refused")
        conf = ctx.write_conf("http://127.0.0.1:%d/page" % hole.getsockname()[1],
                              ratd={"timeout": "3s"}, extra=extra)
        t0 = time.monotonic()
        d = ctx.daemon(conf)
        st = d.status()
        check(time.monotonic() - t0 < 3, "status took %.1fs to answer"
              % (time.monotonic() - t0))
        eq(st["source"].get("state"), "seed", "source.state before any fetch")
        eq(st.get("parties"), 59, "parties from the seed")
        eq(st.get("signatories"), 40, "signatories from the seed")
        eq(st.get("entry_into_force"), "2003-07-01", "entry_into_force from the seed")
        eq(st["source"].get("last_success"), None, "source.last_success with only a seed")
        rc, out, err, _ = ctx.ratctl("status", TREATY)
        eq(rc, 0, "ratctl status exit status (stderr %r)" % err)
        check(re.search(r"\bseed\b", out, re.I), "ratctl status does not say seed:\n%s" % out)

        # The refused one fails within a second of start.
        def failed(tid):
            s = d.status(tid)["source"]
            return s if (s.get("consecutive_failures") or 0) >= 1 and s.get("error") else None
        s = wait_for(lambda: failed("IV-13-refused"), 4, "IV-13-refused's first failure")
        check(s.get("state") in ("seed", "failing"),
              "source.state after a failure with only a seed: %r" % s.get("state"))
        eq(d.status("IV-13-refused").get("parties"), 59, "the seed still served after failure")
        # The black hole times out after 3 s.
        s = wait_for(lambda: failed(TREATY), 7, "IV-13's fetch to time out")
        eq(d.status().get("parties"), 59, "the seed still served after a timeout")
        check(s.get("state") in ("seed", "failing"),
              "source.state after a timeout with only a seed: %r" % s.get("state"))
    finally:
        hole.close()


def test_restart(ctx):
    ctx.add_seed()                  # must NOT be used: the committed state wins
    d, st = start_ok(ctx, file="IV-13.2003-03-14.html")
    eq(st.get("parties"), 21, "parties before restart")
    rc = d.stop()
    eq(rc, 0, "ratd exit status on SIGTERM")
    check(not os.path.exists(ctx.sock), "socket %s still exists after SIGTERM" % ctx.sock)
    ctx.stop_server()
    d2 = ctx.daemon(d.conf)
    st2 = d2.status()
    eq(st2.get("parties"), 21, "parties right after restart (from state, not the seed)")
    eq(st2.get("threshold_date"), "2003-03-14", "threshold_date after restart")
    src = st2["source"]
    check(src.get("state") == "ok" or
          (src.get("state") == "failing" and (src.get("consecutive_failures") or 0) >= 1),
          "source.state right after restart: %r" % src.get("state"))
    check(src.get("last_success") is not None, "source.last_success is null after restart")
    eq(src.get("last_success"), st["source"].get("last_success"),
       "last_success across the restart")


def test_once(ctx):
    url = ctx.serve(file="IV-13.html")
    conf = ctx.write_conf(url)
    p = ctx.run([RATD, "-c", conf, "--once"], FETCH_TIMEOUT + 10)
    out = p.stdout.decode("utf-8", "replace")
    eq(p.returncode, 0, "ratd --once exit status with the page served (stderr %r)"
       % p.stderr.decode("utf-8", "replace")[-500:])
    check("59" in out, "ratd --once output lacks 59:\n%s" % out)
    check(ctx.server.count() >= 1, "ratd --once fetched nothing")
    check(not os.path.exists(ctx.sock), "ratd --once left a socket behind")

    # Down: a fresh state dir, nobody listening.
    state2 = os.path.join(ctx.dir, "state2")
    os.makedirs(state2, 0o750)
    conf2 = ctx.write_conf("http://127.0.0.1:%d/page" % closed_port(), name="down.conf",
                           ratd={"state_dir": state2})
    p = ctx.run([RATD, "-c", conf2, "--once"], FETCH_TIMEOUT + 10)
    eq(p.returncode, 1, "ratd --once exit status with the server down")


def check_config(ctx, conf):
    p = ctx.run([RATD, "-c", conf, "--check-config"], 5)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def line_of(path, text):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(text):
                return i
    raise Fail("%r not in %s" % (text, path))


def test_check_config(ctx):
    url = "http://127.0.0.1:%d/page" % closed_port()
    good = ctx.write_conf(url, name="good.conf")
    rc, out = check_config(ctx, good)
    eq(rc, 0, "--check-config exit status on a valid config (output %r)" % out)
    p = ctx.run([RATD, "-c", good, "-n"], 5)
    eq(p.returncode, 0, "-n exit status on a valid config")
    check(not os.path.exists(ctx.sock), "--check-config created the socket")

    typo = ctx.write_conf(url, name="typo.conf", ratd={"intervall": "1h"})
    n = line_of(typo, "intervall")
    rc, out = check_config(ctx, typo)
    eq(rc, 1, "--check-config exit status with an unknown key")
    check(re.search(r"^%s:%d:.*intervall" % (re.escape(typo), n), out, re.M),
          "no '%s:%d: ... intervall' line in:\n%s" % (typo, n, out))

    nothr = ctx.write_conf(url, name="nothreshold.conf", drop=("threshold",))
    rc, out = check_config(ctx, nothr)
    eq(rc, 1, "--check-config exit status without threshold")
    check(re.search(r"^%s:(\d+:)?.*threshold" % re.escape(nothr), out, re.M),
          "missing threshold not reported as FILE:LINE: in:\n%s" % out)

    badval = ctx.write_conf(url, name="badvalue.conf", ratd={"interval": "soon"})
    n = line_of(badval, "interval")
    rc, out = check_config(ctx, badval)
    eq(rc, 1, "--check-config exit status with interval = soon")
    check(re.search(r"^%s:%d:" % (re.escape(badval), n), out, re.M),
          "bad interval not reported at %s:%d: in:\n%s" % (badval, n, out))

    evil = ctx.write_conf(url, name="evil.conf",
                          extra="\n[treaty ../evil]\nurl = %s\nthreshold = 20\n" % url)
    n = line_of(evil, "[treaty ../evil]")
    rc, out = check_config(ctx, evil)
    eq(rc, 1, "--check-config exit status with treaty id ../evil")
    check(re.search(r"^%s:%d:" % (re.escape(evil), n), out, re.M),
          "treaty id ../evil not reported at %s:%d: in:\n%s" % (evil, n, out))

    # The final-clause keys: a malformed NAME: DATE and an unknown after_treaty.
    for key, val, what in (("withdrawn", "Burundi 2017-10-27", "bad withdrawn"),
                           ("after_treaty", "IV-99", "after_treaty 'IV-99' has no")):
        bad = ctx.write_conf(url, name="final-%s.conf" % key, extra="%s = %s\n" % (key, val))
        n = line_of(bad, "%s = " % key)
        rc, out = check_config(ctx, bad)
        eq(rc, 1, "--check-config exit status with %s = %s" % (key, val))
        check(re.search(r"^%s:%d: %s" % (re.escape(bad), n, re.escape(what)), out, re.M),
              "%s not reported at %s:%d: in:\n%s" % (key, bad, n, out))

    p = ctx.run([RATD, "-h"], 5)
    eq(p.returncode, 0, "ratd -h exit status")
    check(b"--once" in p.stdout + p.stderr, "ratd -h does not mention --once")
    p = ctx.run([RATD, "-V"], 5)
    eq(p.returncode, 0, "ratd -V exit status")
    check(re.search(rb"\d+\.\d+", p.stdout), "ratd -V prints no version: %r" % p.stdout)


def test_ratctl_errors(ctx):
    rc, out, err, _ = ctx.ratctl("-s", os.path.join(ctx.dir, "nope.sock"), "status",
                                 sock=False)
    eq(rc, 3, "ratctl exit status without a daemon")
    check(err.strip(), "ratctl printed no error without a daemon")
    rc, out, err, _ = ctx.ratctl("-s", os.path.join(ctx.dir, "nope.sock"), "check",
                                 sock=False)
    eq(rc, 3, "ratctl check exit status without a daemon (UNKNOWN)")
    rc, out, err, _ = ctx.ratctl("--help", sock=False)
    eq(rc, 0, "ratctl --help exit status")
    missing = [c for c in COMMANDS if not re.search(r"\b%s\b" % c, out + err)]
    check(not missing, "ratctl --help does not list %s:\n%s" % (missing, out + err))

    d, st = start_ok(ctx)
    rc, out, err, _ = ctx.ratctl("bogus")
    eq(rc, 2, "ratctl bogus exit status (out %r, err %r)" % (out, err))
    rc, out, err, _ = ctx.ratctl("parties", "NOPE")
    eq(rc, 1, "ratctl parties NOPE exit status")
    check(re.search(r"unknown[- ]treaty", out + err, re.I),
          "ratctl parties NOPE does not say unknown-treaty: %r" % (out + err))
    eq(error_code(d.request({"cmd": "parties", "treaty": "NOPE"})), "unknown-treaty",
       "socket parties NOPE")
    rc, out, err, _ = ctx.ratctl("parties")
    eq(rc, 2, "ratctl parties without TREATY exit status")
    rc, out, err, _ = ctx.ratctl("version")
    eq(rc, 0, "ratctl version exit status")
    check(re.search(r"\d+\.\d+", out), "ratctl version prints no version: %r" % out)
    rc, out, err, _ = ctx.ratctl("check")
    eq(rc, 0, "ratctl check exit status with a fresh success (out %r)" % out)
    eq(len(out.strip().splitlines()), 1, "ratctl check output lines (%r)" % out)

    env = dict(ctx.env, RATD_SOCKET=ctx.sock)
    p = ctx.run([RATCTL, "status"], 10, env=env)
    eq(p.returncode, 0, "ratctl status with RATD_SOCKET and no -s")

    # A daemon that accepts and never answers: -t bounds the wait, exit 3.
    mute = os.path.join(ctx.dir, "mute.sock")
    m = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        m.bind(mute)
        m.listen(4)
        t0 = time.monotonic()
        rc, out, err, took = ctx.ratctl("-s", mute, "-t", "1", "status", sock=False,
                                        timeout=5)
        eq(rc, 3, "ratctl -t 1 against a mute socket (stderr %r)" % err)
        check(took < 3, "ratctl -t 1 took %.1fs" % took)
    finally:
        m.close()


def test_socket_robustness(ctx):
    d, st = start_ok(ctx)
    ping = {"cmd": "ping"}

    # Longer than 64 KiB: refused with bad-request, or the connection is closed.
    big = b'{"cmd": "ping", "pad": "' + b"x" * (70 * 1024) + b'"}\n'
    try:
        line = sock_raw(ctx.sock, big)
    except (BrokenPipeError, ConnectionResetError):
        line = b""
    if line:
        eq(error_code(json.loads(line)), "bad-request", "reply to a 70 KiB line")
    eq(d.request(ping).get("ok"), True, "ping after a 70 KiB line")

    eq(error_code(json.loads(sock_raw(ctx.sock, b"{nope\n"))), "bad-request",
       "reply to invalid JSON")
    eq(error_code(json.loads(sock_raw(ctx.sock, b"[1, 2]\n"))), "bad-request",
       "reply to a JSON array")
    eq(error_code(d.request({"verb": "ping"})), "bad-request", "reply without cmd")
    eq(error_code(d.request({"cmd": "frobnicate"})), "unknown-command",
       "reply to an unknown command")
    eq(error_code(json.loads(sock_raw(ctx.sock, b'{"cmd": "\xff\xfe"}\n'))), "bad-request",
       "reply to invalid UTF-8")
    eq(error_code(d.request({"cmd": "status", "treaty": "NOPE"})), "unknown-treaty",
       "status of an unknown treaty")
    r = d.request({"cmd": "ping"})
    check(isinstance(result_of(r, "ping").get("version"), str), "ping has no version: %r" % r)

    # A request trickled in byte by byte is one request.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(3)
        s.connect(ctx.sock)
        for b in b'{"cmd": "ping"}\n':
            s.sendall(bytes([b]))
            time.sleep(0.005)
        eq(json.loads(recv_line(s, 3)).get("ok"), True, "ping sent byte by byte")
    finally:
        s.close()

    # Clients that hang up before their reply (SIGPIPE, freed clients).
    n = ctx.server.count()
    for req in [b'{"cmd": "status"}\n'] * 20 + [b'{"cmd": "refresh"}\n']:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(ctx.sock)
        s.sendall(req)
        s.close()
    check(ctx.server.wait_requests(n + 1, 3), "the abandoned refresh did not fetch")
    # Answered by the server, rescheduled by the daemon: the refresh reply has been
    # written (or dropped) for a client that is gone.
    wait_for(lambda: ctx.server.requests()[-1].status is not None and
             d.status()["source"].get("next_fetch") is not None, 5,
             "the abandoned refresh to finish")
    time.sleep(0.2)
    check(d.alive(), "ratd died after clients hung up before their replies")
    eq(d.request(ping).get("ok"), True, "ping after clients hung up early")

    # Silent clients must not hold up others.
    idle = []
    try:
        for data in (b"", b'{"cmd":'):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(ctx.sock)
            if data:
                s.sendall(data)
            idle.append(s)
        t0 = time.monotonic()
        eq(d.request(ping, timeout=2).get("ok"), True, "ping while two clients sit silent")
        check(time.monotonic() - t0 < 2, "ping took %.1fs" % (time.monotonic() - t0))
        eq(d.status().get("parties"), 59, "status while two clients sit silent")
    finally:
        for s in idle:
            s.close()

    # A crowd: each gets an answer (served or busy) or a close; nobody hangs.
    crowd = []
    tally = {"ok": 0, "busy": 0, "closed": 0}
    sel = selectors.DefaultSelector()
    try:
        for i in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            crowd.append(s)
            connect_retrying(s, ctx.sock, 3, "connect #%d of 200" % (i + 1))
        for s in crowd:
            try:
                s.sendall(b'{"cmd": "ping"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, b"")
        end = time.monotonic() + bounded(10)
        pending = len(crowd)
        while pending and time.monotonic() < end:
            for key, _ in sel.select(timeout=0.2):
                s, buf = key.fileobj, key.data
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                buf += chunk
                if b"\n" in buf:
                    r = json.loads(buf.split(b"\n", 1)[0])
                    if r.get("ok") is True:
                        tally["ok"] += 1
                    elif (r.get("error") or {}).get("code") == "busy":
                        tally["busy"] += 1
                    else:
                        raise Fail("crowd ping got %r" % (r,))
                elif not chunk:
                    tally["closed"] += 1
                else:
                    sel.modify(s, selectors.EVENT_READ, buf)
                    continue
                sel.unregister(s)
                pending -= 1
        check(pending == 0, "%d of 200 concurrent clients got neither a reply nor a close "
              "within 10 s (%r)" % (pending, tally))
        check(tally["ok"] >= 1, "no concurrent client was served: %r" % tally)
    finally:
        sel.close()
        for s in crowd:
            s.close()
    eq(wait_for(lambda: d.request(ping, timeout=2).get("ok"), 3, "ping after the crowd"),
       True, "ping after 200 concurrent clients")


def connect_retrying(s, path, timeout, what):
    """connect() that waits out a full listen backlog (EAGAIN) for up to timeout."""
    end = time.monotonic() + bounded(timeout)
    s.settimeout(bounded(timeout))
    while True:
        try:
            return s.connect(path)
        except (BlockingIOError, InterruptedError) as e:
            if time.monotonic() >= end:
                raise Fail("%s: %s for %.1fs" % (what, e, timeout))
            time.sleep(0.01)
        except OSError as e:
            raise Fail("%s failed: %s" % (what, e))


def test_signals(ctx):
    d, st = start_ok(ctx)
    n = ctx.server.count()
    d.signal(signal.SIGUSR1)
    check(ctx.server.wait_requests(n + 1, 3), "SIGUSR1 caused no fetch within 3 s")

    log_before = len(ctx.log_text())
    with open(d.conf, "a") as f:
        f.write("\n[ratd]\nno_such_key = 1\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: re.search(r"error", ctx.log_text()[log_before:], re.I), 3,
             "an error logged after SIGHUP with an invalid config")
    check(d.alive(), "ratd exited after SIGHUP with an invalid config (status %s)"
          % d.proc.returncode)
    eq(d.request({"cmd": "ping"}).get("ok"), True, "ping after a failed reload")
    st2 = d.status()
    eq(st2.get("parties"), 59, "parties after a failed reload")
    eq(st2.get("url"), ctx.server.url(), "url after a failed reload (the old config)")
    eq(d.stop(), 0, "exit status on SIGTERM after a failed reload")


def test_http_headers(ctx):
    d, st = start_ok(ctx, file="IV-13.2003-03-13.html", gzip=True)
    req = ctx.server.requests()[0]
    ua = req.header("User-Agent") or ""
    check(ua.startswith("ratd/"), "User-Agent %r does not start with ratd/" % ua)
    ae = req.header("Accept-Encoding") or ""
    check(re.search(r"\b(gzip|deflate|br|zstd)\b", ae),
          "no compressed transfer offered: Accept-Encoding %r" % ae)
    check("gzip" in ae, "Accept-Encoding %r lacks gzip" % ae)
    # Both pages came gzip'd: they must decode and parse.
    eq(st.get("parties"), 19, "parties from the gzip-encoded 2003-03-13 page")
    ctx.serve(file="IV-13.2003-03-14.html", gzip=True)
    r = d.refresh()
    eq(r.get("result"), "changed", "refresh to the gzip-encoded 2003-03-14 page")
    eq(d.status().get("parties"), 21, "parties from the gzip-encoded 2003-03-14 page")


def test_http_failures(ctx):
    d, st = start_ok(ctx, conf_kw={"ratd": {"max_page_size": "100K"}})
    ctx.serve(file="IV-13.html", status=503)
    r = d.refresh()
    eq(r.get("result"), "error", "refresh result on HTTP 503")
    check(r.get("error"), "refresh on HTTP 503 gave no error text: %r" % (r,))
    src = d.status()["source"]
    eq(src.get("consecutive_failures"), 1, "consecutive_failures after one 503")
    check(src.get("error"), "source.error is empty after a 503")
    with open(os.path.join(FIXTURES, "IV-13.html"), "rb") as f:
        page = f.read()
    big = page.replace(b"</body>", b"<!--" + b"x" * (150 * 1024) + b"--></body>")
    ctx.serve(body=big)
    r = d.refresh()
    check(r.get("result") in ("error", "refused"),
          "refresh of a 225 KB page with max_page_size = 100K: %r" % (r,))
    ctx.serve(file="IV-13.html")
    r = d.refresh()
    check(r.get("result") in ("unchanged", "changed"), "refresh after recovery: %r" % (r,))
    st2 = d.status()
    assert_current(st2, "status after recovery")
    eq(st2["source"].get("consecutive_failures"), 0, "consecutive_failures after recovery")
    eq(st2["source"].get("error"), None, "source.error after recovery")


def test_history(ctx):
    d, st = start_ok(ctx, file="IV-13.2003-03-13.html")
    base = result_of(d.request({"cmd": "history", "treaty": TREATY}), "history")
    eq(base.get("events"), [], "events after the baseline snapshot (must be silent)")
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    evs = result_of(d.request({"cmd": "history", "treaty": TREATY}), "history").get("events")
    check(isinstance(evs, list), "history without events list")
    ids = [e.get("id") for e in evs]
    check(ids == sorted(ids) and len(set(ids)) == len(ids), "event ids not increasing: %r" % ids)
    news = sorted(e["data"].get("participant") for e in evs if e.get("type") == "new-party")
    eq(news, ["El Salvador", "Guatemala"], "new-party events")
    thr = [e for e in evs if e.get("type") == "threshold-reached"]
    eq(len(thr), 1, "threshold-reached events")
    data = thr[0].get("data") or {}
    eq(data.get("threshold_date"), "2003-03-14", "threshold-reached threshold_date")
    eq(data.get("entry_into_force"), "2003-07-01", "threshold-reached entry_into_force")
    eq(data.get("parties"), 21, "threshold-reached parties")
    eq(sorted(data.get("threshold_participants") or []), ["El Salvador", "Guatemala"],
       "threshold-reached threshold_participants")

    rc, out, err, _ = ctx.ratctl("history", TREATY, "-n", "2")
    eq(rc, 0, "ratctl history -n 2 exit status (stderr %r)" % err)
    js = ctx.ratctl_json("history", TREATY, "-n", "2")
    eq(len(js.get("events") or []), 2, "ratctl --json history -n 2: events")

    ctx.serve(body=ASPNET_ERROR_PAGE)
    eq(d.refresh().get("result"), "refused", "refresh to an error page")
    evs2 = result_of(d.request({"cmd": "history", "treaty": TREATY,
                                "since": max(ids)}), "history").get("events")
    eq([e.get("type") for e in evs2], ["source-anomaly"], "events after a refused page")
    check((evs2[0].get("data") or {}).get("reason"), "source-anomaly without a reason")
    eq(d.refresh().get("result"), "refused", "second refresh to the same error page")
    evs3 = result_of(d.request({"cmd": "history", "treaty": TREATY,
                                "since": evs2[0].get("id")}), "history").get("events")
    eq(evs3, [], "events after the same anomaly again (once per distinct reason)")


def test_watch(ctx):
    d, st = start_ok(ctx, file="IV-13.2003-03-13.html")
    w = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        w.settimeout(5)
        w.connect(ctx.sock)
        w.sendall(b'{"cmd": "watch", "treaty": "IV-13"}\n')
        f = w.makefile("rb")
        first = json.loads(f.readline() or b"null")
        eq(result_of(first, "watch").get("watching"), True, "watch reply")
        ctx.serve(file="IV-13.2003-03-14.html")
        eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
        seen = []
        end = time.monotonic() + bounded(5)
        def complete():
            return "threshold-reached" in seen and seen.count("new-party") >= 2
        while time.monotonic() < end and not complete():
            line = f.readline()
            check(line, "watch connection closed after %r" % seen)
            msg = json.loads(line)
            ev = msg.get("event") if isinstance(msg, dict) else None
            check(isinstance(ev, dict), "watch line is not {\"event\": ...}: %r" % short(line))
            eq(ev.get("treaty"), TREATY, "watched event's treaty")
            seen.append(ev.get("type"))
        check("threshold-reached" in seen, "no threshold-reached event watched: %r" % seen)
        eq(seen.count("new-party"), 2, "new-party events watched (%r)" % seen)
        eq(d.request({"cmd": "ping"}).get("ok"), True, "ping while a watcher is connected")
    except socket.timeout:
        raise Fail("watch: no event line within 5 s")
    finally:
        w.close()

    # ratctl --json watch: one event per line.
    p = subprocess.Popen([RATCTL, "-s", ctx.sock, "--json", "watch", TREATY],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ctx.env)
    try:
        time.sleep(0.3)
        if p.poll() is not None:
            raise Fail("ratctl watch exited at once (%s): %r" % (p.returncode, p.stderr.read()))
        ctx.serve(file="IV-13.html")
        eq(d.refresh().get("result"), "changed", "refresh to the current page")
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=bounded(5))
        sel.close()
        check(ready, "ratctl watch printed nothing within 5 s of a change")
        line = p.stdout.readline()
        try:
            ev = json.loads(line)
        except ValueError:
            raise Fail("ratctl --json watch printed %r" % short(line))
        check(isinstance(ev, dict) and ev.get("type") and ev.get("treaty") == TREATY,
              "ratctl --json watch line is not an event: %r" % short(line))
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def test_reload(ctx):
    url = ctx.serve(file="IV-13.html")
    conf = ctx.write_conf(url)
    d = ctx.daemon(conf)
    d.wait_state("ok")
    ctx.write_conf(url, treaty={"interval": "2h"})
    rc, out, err, _ = ctx.ratctl("reload")
    eq(rc, 0, "ratctl reload exit status (stderr %r)" % err)
    eq(d.status().get("interval"), 7200, "interval after reload with interval = 2h")
    eq(d.status().get("parties"), 59, "parties after reload (committed state kept)")
    ctx.write_conf(url, treaty={"interval": "3h"})
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.status().get("interval") == 10800, 3, "interval 3h after SIGHUP")
    ctx.write_conf(url, treaty={"interval": "3h", "threshold": "twenty"})
    r = d.request({"cmd": "reload"})
    check(r.get("ok") is False, "reload of an invalid config replied %r" % (r,))
    eq(d.status().get("interval"), 10800, "interval after a failed reload")
    eq(d.status().get("threshold"), 20, "threshold after a failed reload")

    # A treaty added by a reload is fetched; one removed is gone.
    ctx.serve("/copy.xml", file="IV-13.xml")
    extra = ("\n[treaty IV-13-copy]\nurl = %s\nthreshold = 20\neif_delay = 3 months\n"
             "eif_align = next-month\n" % ctx.server.url("/copy.xml"))
    ctx.write_conf(url, treaty={"interval": "3h"}, extra=extra)
    eq(result_of(d.request({"cmd": "reload"}), "reload").get("reloaded"), True,
       "reload adding a treaty")
    st = wait_for(lambda: (lambda t: t if t["source"].get("state") == "ok" else None)(
        d.status("IV-13-copy")), 5, "the added treaty's first fetch")
    eq(st.get("parties"), 59, "parties of the added treaty")
    ctx.write_conf(url, treaty={"interval": "3h"})
    eq(result_of(d.request({"cmd": "reload"}), "reload").get("reloaded"), True,
       "reload removing a treaty")
    eq(error_code(d.request({"cmd": "status", "treaty": "IV-13-copy"})), "unknown-treaty",
       "status of the removed treaty")
    eq([t.get("id") for t in result_of(d.request({"cmd": "status"}), "status")["treaties"]],
       [TREATY], "treaties after the removal")


def test_socket_takeover(ctx):
    d, st = start_ok(ctx)
    # A second daemon on the same socket and state must not steal them.
    log = open(ctx.log, "ab")
    try:
        p = subprocess.run([RATD, "-c", d.conf], stdin=subprocess.DEVNULL, stdout=log,
                           stderr=log, timeout=bounded(5), env=ctx.env, cwd=ctx.dir)
    except subprocess.TimeoutExpired:
        raise Fail("a second ratd on a live socket kept running")
    finally:
        log.close()
    check(p.returncode != 0, "a second ratd on a live socket exited 0")
    check(os.path.exists(ctx.sock), "the second ratd removed the first one's socket")
    eq(d.request({"cmd": "ping"}).get("ok"), True, "the first ratd after a second one tried")
    # A socket left behind by a crash must not stop the next start.
    d.kill()
    check(os.path.exists(ctx.sock), "SIGKILL removed the socket (test assumption)")
    d2 = ctx.daemon(d.conf)
    eq(d2.status().get("parties"), 59, "parties after a start over a stale socket")


def test_permissions(ctx):
    if os.geteuid() != 0:
        return "skipped: needs root to run ratctl as another user"
    import grp
    groups = [g for g in grp.getgrall() if g.gr_gid not in (0, 65534)][:2]
    if len(groups) < 2:
        return "skipped: needs two spare groups"
    sockgrp, admgrp = groups
    os.chmod(ctx.dir, 0o755)
    ctl = os.path.join(ctx.dir, "ratctl")
    shutil.copy(RATCTL, ctl)
    os.chmod(ctl, 0o755)
    url = ctx.serve(file="IV-13.html")
    conf = ctx.write_conf(url, ratd={"socket_mode": "0660", "socket_group": sockgrp.gr_name,
                                     "admin_group": admgrp.gr_name})
    d = ctx.daemon(conf)
    d.wait_state("ok")
    info = os.stat(ctx.sock)
    eq(oct(info.st_mode & 0o777), oct(0o660), "socket mode with socket_mode = 0660")
    eq(info.st_gid, sockgrp.gr_gid, "socket group with socket_group = %s" % sockgrp.gr_name)

    def as_nobody(gid, extra, *args):
        p = ctx.run([ctl, "-s", ctx.sock] + list(args), 10, user=65534, group=gid,
                    extra_groups=extra)
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
    rc, out = as_nobody(65534, [], "status")
    eq(rc, 3, "ratctl status by a user outside socket_group (%r)" % out)
    rc, out = as_nobody(65534, [sockgrp.gr_gid], "status")
    eq(rc, 0, "ratctl status by a member of socket_group (%r)" % out)
    rc, out = as_nobody(65534, [sockgrp.gr_gid], "refresh")
    eq(rc, 1, "ratctl refresh by a user outside admin_group (%r)" % out)
    check("permission-denied" in out or "permission denied" in out.lower(),
          "refresh by a non-admin does not say permission-denied: %r" % out)
    rc, out = as_nobody(65534, [sockgrp.gr_gid], "reload")
    eq(rc, 1, "ratctl reload by a user outside admin_group (%r)" % out)
    n = ctx.server.count()
    rc, out = as_nobody(admgrp.gr_gid, [sockgrp.gr_gid], "refresh")
    eq(rc, 0, "ratctl refresh by a user whose group is admin_group (%r)" % out)
    check(ctx.server.count() > n, "the admin's refresh fetched nothing")


def test_anomaly_accept(ctx):
    d, st = start_ok(ctx)               # 70 rows committed
    reduced = "IV-13.2003-03-14.html"    # 31 rows: 39 of the 70 are gone
    ctx.serve(file=reduced)
    for i in (1, 2):
        eq(d.refresh().get("result"), "refused", "refresh #%d to a page losing 39 rows" % i)
        eq(d.status().get("parties"), 59, "parties after refused reduced page #%d" % i)
    ctx.serve(file="IV-13.html")
    eq(d.refresh().get("result"), "unchanged", "refresh back to the full page")
    ctx.serve(file=reduced)
    for i in (1, 2):
        eq(d.refresh().get("result"), "refused",
           "refresh #%d to the reduced page after the full one came back (count restarts)" % i)
    eq(d.refresh().get("result"), "changed", "third refresh in a row to the same reduced page")
    st = d.status()
    eq(st.get("parties"), 21, "parties once the reduced page is accepted")
    eq(st["source"].get("state"), "ok", "source.state once the reduced page is accepted")


def test_sigterm_inflight(ctx):
    d, st = start_ok(ctx)
    n = ctx.server.count()
    ctx.serve(file="IV-13.html", trickle=(1, 0.1))
    waiter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        waiter.settimeout(5)
        waiter.connect(ctx.sock)
        waiter.sendall(b'{"cmd": "refresh"}\n')
        check(ctx.server.wait_requests(n + 1, 3), "refresh did not reach the server")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(bounded(3))
        except subprocess.TimeoutExpired:
            raise Fail("ratd did not exit within 3 s of SIGTERM during a fetch")
        eq(rc, 0, "exit status on SIGTERM during a fetch")
        check(not os.path.exists(ctx.sock), "socket left behind by SIGTERM during a fetch")
        try:
            line = recv_line(waiter, 1)
        except (ConnectionResetError, Fail):
            line = b""
        check(time.monotonic() - t0 < 4, "the waiting refresh client was left hanging")
        if line:
            check(json.loads(line).get("ok") is not None, "odd reply at exit: %r" % line)
    finally:
        waiter.close()


def test_corrupt_state(ctx):
    d, st = start_ok(ctx)
    eq(d.stop(), 0, "exit status on SIGTERM")
    files = [os.path.join(r, f) for r, _, fs in os.walk(ctx.state) for f in fs]
    check(files, "ratd wrote nothing into state_dir")
    for junk, what in ((b'{"snapshot": [\x00\xff garbage' * 50, "garbage"),
                       (b"", "empty files")):
        for f in files:
            if os.path.exists(f):
                with open(f, "wb") as fh:
                    fh.write(junk)
        d2 = ctx.daemon(d.conf)
        st2 = d2.status()
        check(st2["source"].get("state") in ("none", "seed", "ok", "failing"),
              "source.state with %s state: %r" % (what, st2["source"].get("state")))
        r = d2.refresh()
        check(r.get("result") in ("changed", "unchanged"),
              "refresh after a restart on %s state: %r" % (what, r))
        st2 = d2.status()
        eq(st2.get("parties"), 59, "parties after a restart on %s state" % what)
        eq(st2["source"].get("state"), "ok", "source.state after a restart on %s state" % what)
        eq(d2.stop(), 0, "exit status on SIGTERM (%s state)" % what)


def test_url_with_hash(ctx):
    # The real UNTC URL has a query string; a value may contain '#' (SPEC section 4).
    path = "/Pages/ViewDetails.aspx"
    query = "?src=TREATY&mtdsg_no=IV-13&chapter=4&clang=_en"
    ctx.serve(path, file="IV-13.html")
    url = ctx.server.url(path + query) + "#participants"
    d = ctx.daemon(ctx.write_conf(url))
    st = d.wait_state("ok")
    eq(st.get("url"), url, "status url (the whole value, '#' included)")
    eq(st.get("parties"), 59, "parties")
    targets = [r.target for r in ctx.server.requests()]
    check(path + query in targets, "no request for %s: %r" % (path + query, targets))


def hostile_xml(port):
    """IV-13.xml with entity tricks: billion laughs, a local file and a network fetch."""
    with open(os.path.join(FIXTURES, "IV-13.xml"), "rb") as f:
        xml = f.read()
    decl, rest = xml.split(b"\n", 1)
    lol = [b'<!ENTITY lol0 "lollollollollollollollollollol">']
    for i in range(1, 10):
        lol.append(b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1)
                                                          for _ in range(10))))
    dtd = (b'<!DOCTYPE MTDSG SYSTEM "http://127.0.0.1:%d/xxe.dtd" [\n' % port +
           b"\n".join(lol) +
           b'\n<!ENTITY xxe SYSTEM "file:///etc/passwd">'
           b'\n<!ENTITY net SYSTEM "http://127.0.0.1:%d/xxe">\n]>' % port)
    rest = rest.replace(b"<Entry>Albania</Entry>", b"<Entry>&lol9;</Entry>", 1)
    rest = rest.replace(b"<Entry>Algeria</Entry>", b"<Entry>&xxe;</Entry>", 1)
    rest = rest.replace(b"<Entry>Angola</Entry>", b"<Entry>&net;</Entry>", 1)
    return decl + b"\n" + dtd + b"\n" + rest


def test_hostile_pages(ctx):
    d, st = start_ok(ctx)
    with open(os.path.join(FIXTURES, "IV-13.html"), "rb") as f:
        page = f.read()
    start = page.index(b"tblgrid")
    cut = start + (page.index(b"</table>", start) - start) // 2
    pages = [
        ("binary junk", bytes(range(256)) * 300, "application/octet-stream"),
        ("an empty body", b"", None),
        ("a page cut in the middle of the table", page[:cut], None),
        ("100000 nested divs", b"<html><body>" + b"<div>" * 100000 + b"</body></html>", None),
        ("a table of 5000 empty rows", b"<html><body><div class=\"table-responsive\">"
         b"<table id=\"x_tblgrid\"><tr><td>Participant</td><td>Signature</td><td>"
         b"Ratification, Accession(a), Succession(d)</td></tr>" +
         b"<tr><td></td><td></td><td></td></tr>" * 5000 + b"</table></div></body></html>",
         None),
    ]
    for what, body, ctype in pages:
        ctx.serve(body=body, content_type=ctype)
        r = d.refresh()
        check(r.get("result") in ("refused", "error"), "refresh of %s: %r" % (what, r))
        check(d.alive(), "ratd died on %s" % what)
        eq(d.status().get("parties"), 59, "parties after %s" % what)

    # Entities: whatever the outcome, no expansion bomb, no local file, no network fetch.
    ctx.serve(path="/page", body=hostile_xml(ctx.server.port), content_type="application/xml")
    t0 = time.monotonic()
    r = d.refresh()
    check(time.monotonic() - t0 < 5, "refresh of an entity bomb took %.1fs"
          % (time.monotonic() - t0))
    check(d.alive(), "ratd died on an XML entity bomb")
    check(r.get("result") in ("refused", "error", "changed"), "refresh of hostile XML: %r" % r)
    fetched = [q.target for q in ctx.server.requests() if "xxe" in q.target]
    eq(fetched, [], "requests made by XML entities (external entity / DTD loading)")
    names = [p.get("name") or "" for p in
             result_of(d.request({"cmd": "parties", "treaty": TREATY}), "parties")
             .get("participants", [])]
    long_names = [n[:40] + "..." for n in names if len(n) > 200]
    eq(long_names, [], "participant names blown up by entity expansion")
    leaked = [n for n in names if "root:" in n or "/bin/" in n]
    eq(leaked, [], "participant names holding /etc/passwd (XXE)")
    ctx.serve(file="IV-13.html")
    r = d.refresh()
    check(r.get("result") in ("changed", "unchanged"), "refresh of the good page again: %r" % r)
    assert_current(d.status(), "status after the hostile pages")


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise Fail("no VmHWM in /proc/%d/status" % pid)


def test_page_size_limits(ctx):
    d, st = start_ok(ctx, conf_kw={"ratd": {"max_page_size": "100K"}})
    with open(os.path.join(FIXTURES, "IV-13.html"), "rb") as f:
        page = f.read()
    big = page.replace(b"</body>", b"<!--" + b"x" * (150 * 1024) + b"--></body>")
    ctx.serve(body=big, chunked=True)
    r = d.refresh()
    check(r.get("result") in ("error", "refused"),
          "refresh of a 225 KB chunked page (no Content-Length), max_page_size = 100K: %r"
          % (r,))
    eq(d.status().get("parties"), 59, "parties after an oversized chunked page")

    # 128 MB of zeros in 128 KB of gzip: the limit must hold for what it decodes to.
    import zlib
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(z.compress(chunk) for _ in range(128)) + z.flush()
    before = peak_rss_kb(d.proc.pid)
    ctx.serve(body=bomb, headers=[("Content-Encoding", "gzip")])
    t0 = time.monotonic()
    r = d.refresh()
    check(r.get("result") in ("error", "refused"), "refresh of a gzip bomb: %r" % (r,))
    check(time.monotonic() - t0 < 5, "the gzip bomb took %.1fs" % (time.monotonic() - t0))
    grown = (peak_rss_kb(d.proc.pid) - before) // 1024
    check(grown < 48, "peak memory grew by %d MB on a %d KB gzip bomb decoding to 128 MB "
          "(max_page_size = 100K)" % (grown, len(bomb) // 1024))
    eq(d.status().get("parties"), 59, "parties after a gzip bomb")


NOTIFY_SH = """#!/bin/sh
# Test exec sink: keeps each event's RATD_* environment and stdin.
f="%s/$(date +%%s%%N)-$RATD_EVENT_ID"
env | grep '^RATD_' | sort > "$f.env.tmp"
cat > "$f.json.tmp"
mv "$f.json.tmp" "$f.json"
mv "$f.env.tmp" "$f.env"
exit 0
"""


def exec_sink(ctx, name):
    """A notify script writing into DIR/name/; returns (script path, output dir)."""
    out = os.path.join(ctx.dir, name)
    os.makedirs(out)
    path = os.path.join(ctx.dir, name + ".sh")
    with open(path, "w") as f:
        f.write(NOTIFY_SH % out)
    os.chmod(path, 0o755)
    return path, out


def delivered(out):
    """Events an exec sink received, in delivery order: [(event, env dict)]."""
    got = []
    for f in sorted(os.listdir(out), key=lambda n: int(n.split("-")[0])):
        if not f.endswith(".json"):
            continue
        base = os.path.join(out, f[:-5])
        if not os.path.exists(base + ".env"):
            continue
        with open(base + ".json", "rb") as fh:
            ev = json.loads(fh.read())
        with open(base + ".env") as fh:
            env = dict(l.rstrip("\n").split("=", 1) for l in fh if "=" in l)
        got.append((ev, env))
    return got


def history(d, **args):
    req = {"cmd": "history", "treaty": TREATY}
    req.update(args)
    evs = result_of(d.request(req), "history").get("events")
    check(isinstance(evs, list), "history without an events list")
    return evs


def test_alert_exec(ctx):
    all_sh, all_out = exec_sink(ctx, "all")
    thr_sh, thr_out = exec_sink(ctx, "thr")
    url = ctx.serve(file="IV-13.2003-03-13.html")
    extra = ("\n[alert all]\nexec = %s\ntimeout = 5s\n"
             "\n[alert thr]\nexec = %s\nevents = threshold-reached\ntreaties = IV-13\n"
             % (all_sh, thr_sh))
    conf = ctx.write_conf(url, extra=extra)
    d = ctx.daemon(conf)
    d.wait_state("ok")
    time.sleep(0.3)
    eq(delivered(all_out), [], "events delivered for the baseline (must be silent)")
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    evs = history(d)
    ids = [e["id"] for e in evs]
    got = wait_for(lambda: (lambda g: g if len(g) >= len(evs) else None)(delivered(all_out)),
                   5, "the exec sink to receive all %d events" % len(evs))
    eq([ev["id"] for ev, _ in got], ids, "event ids delivered to the exec sink, in order")
    for ev, env in got:
        eq(env.get("RATD_EVENT"), ev.get("type"), "RATD_EVENT of event %s" % ev.get("id"))
        eq(env.get("RATD_EVENT_ID"), str(ev.get("id")), "RATD_EVENT_ID")
        eq(env.get("RATD_TREATY"), TREATY, "RATD_TREATY")
        check(env.get("RATD_SUMMARY"), "RATD_SUMMARY empty for %r" % ev)
        check(ev.get("summary"), "event without summary: %r" % ev)
        parse_time(ev.get("time"))
    thr = [(ev, env) for ev, env in got if ev["type"] == "threshold-reached"]
    eq(len(thr), 1, "threshold-reached events delivered")
    ev, env = thr[0]
    for k, v in (("RATD_PARTIES", "21"), ("RATD_THRESHOLD", "20"), ("RATD_REMAINING", "0"),
                 ("RATD_ENTRY_INTO_FORCE", "2003-07-01")):
        eq(env.get(k), v, "%s of threshold-reached" % k)
    eq([e["type"] for e, _ in delivered(thr_out)], ["threshold-reached"],
       "events delivered to the sink with events = threshold-reached")
    news = sorted(e["data"]["participant"] for e, _ in got if e["type"] == "new-party")
    eq(news, ["El Salvador", "Guatemala"], "new-party events delivered")

    # Delivered means delivered: a restart sends nothing again; ids go on increasing.
    eq(d.stop(), 0, "exit status on SIGTERM")
    d2 = ctx.daemon(conf)
    time.sleep(1.2)
    eq(len(delivered(all_out)), len(got), "events delivered again after a restart")
    ctx.serve(file="IV-13.html")
    eq(d2.refresh().get("result"), "changed", "refresh to the current page")
    evs2 = history(d2, since=max(ids), limit=500)
    check(evs2, "no events for 2003 -> 2024")
    check(min(e["id"] for e in evs2) > max(ids), "event ids restarted after a restart: %r"
          % [e["id"] for e in evs2][:5])
    wait_for(lambda: len(delivered(all_out)) >= len(got) + len(evs2), 8,
             "the %d new events to be delivered" % len(evs2))


def posts(ctx, path="/hook"):
    return [r for r in ctx.server.requests(path) if r.method == "POST"]


def check_hook_posts(reqs):
    for r in reqs:
        ev = json.loads(r.body)
        check(r.header("Content-Type", "").startswith("application/json"),
              "webhook Content-Type %r" % r.header("Content-Type"))
        eq(r.header("X-Ratd-Event"), ev.get("type"), "X-Ratd-Event")
        eq(r.header("X-Ratd-Event-Id"), str(ev.get("id")), "X-Ratd-Event-Id")


def test_alert_webhook(ctx):
    url = ctx.serve(file="IV-13.2003-03-13.html")
    ctx.server.set_post("/hook", [500, 200])
    conf = ctx.write_conf(url, extra="\n[alert hook]\nwebhook = %s\n" % ctx.server.url("/hook"))
    d = ctx.daemon(conf)
    d.wait_state("ok")
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    ids = [e["id"] for e in history(d)]

    def ok_ids():
        return [json.loads(r.body)["id"] for r in posts(ctx) if r.status == 200]
    try:
        wait_for(lambda: len(ok_ids()) >= len(ids), 6,
                 "the webhook to receive %d events" % len(ids))
    except Fail as e:
        raise Fail("%s; POSTs received: %d" % (e, len(posts(ctx))))
    reqs = posts(ctx)
    check_hook_posts(reqs)
    eq(reqs[0].status, 500, "first webhook answer (test setup)")
    eq(json.loads(reqs[1].body)["id"], json.loads(reqs[0].body)["id"],
       "event retried after a 500 (the same event first: order kept)")
    gap = reqs[1].time - reqs[0].time
    check(gap >= 0.5, "retry after a 500 came %.2fs later (should wait about 1 s)" % gap)
    eq(ok_ids(), ids, "event ids accepted by the webhook (in order, once each)")

    # Undelivered events survive a restart.
    n = len(posts(ctx))
    ctx.server.set_post("/hook", [503])
    ctx.serve(file="IV-13.html")
    eq(d.refresh().get("result"), "changed", "refresh to the current page")
    ids2 = [e["id"] for e in history(d, since=max(ids), limit=500)]
    check(ids2, "no events for 2003 -> 2024")
    wait_for(lambda: len(posts(ctx)) > n, 3, "a webhook attempt for the new events")
    eq(d.stop(), 0, "exit status on SIGTERM with undelivered events")
    ctx.server.set_post("/hook", [200])
    ctx.daemon(conf)
    wait_for(lambda: len(ok_ids()) >= len(ids) + len(ids2), 8,
             "the %d events left undelivered to arrive after the restart" % len(ids2))
    eq(ok_ids(), ids + ids2, "event ids accepted by the webhook across the restart")
    check_hook_posts(posts(ctx))


def test_check_states(ctx):
    d, st = start_ok(ctx, conf_kw={"ratd": {"failures_before_alert": "2"}})
    rc, out, err, _ = ctx.ratctl("check")
    eq(rc, 0, "ratctl check with a fresh success (%r)" % out)
    ctx.serve(file="IV-13.html", status=503)
    for i in (1, 2):
        eq(d.refresh().get("result"), "error", "refresh #%d on HTTP 503" % i)
    src = d.status()["source"]
    eq(src.get("consecutive_failures"), 2, "consecutive_failures after two 503s")
    eq(src.get("state"), "failing", "source.state after failures_before_alert failures")
    rc, out, err, _ = ctx.ratctl("check")
    eq(rc, 2, "ratctl check on a failing source (CRITICAL) (%r)" % out)
    eq(len(out.strip().splitlines()), 1, "ratctl check output lines (%r)" % out)
    evs = history(d)
    failing = [e for e in evs if e["type"] == "source-failing"]
    eq(len(failing), 1, "source-failing events (%r)" % [e["type"] for e in evs])
    eq(failing[0]["data"].get("consecutive_failures"), 2, "source-failing consecutive_failures")
    check(failing[0]["data"].get("error"), "source-failing without error")
    eq(d.refresh().get("result"), "error", "refresh #3 on HTTP 503")
    eq(len([e for e in history(d) if e["type"] == "source-failing"]), 1,
       "source-failing events after a third failure (once)")
    ctx.serve(file="IV-13.html")
    eq(d.refresh().get("result"), "unchanged", "refresh once the page is back")
    eq(d.status()["source"].get("state"), "ok", "source.state after recovery")
    rc, out, err, _ = ctx.ratctl("check")
    eq(rc, 0, "ratctl check after recovery (%r)" % out)
    rec = [e for e in history(d) if e["type"] == "source-recovered"]
    eq(len(rec), 1, "source-recovered events")
    check(rec[0]["data"].get("down_since"), "source-recovered without down_since")


# The Monitoring Plugins development guidelines: "SERVICE STATE - text | perfdata", one
# perfdata item 'label'=value[UOM];[warn];[crit];[min];[max], items separated by spaces.
PLUGIN_LINE = re.compile(r"^RATD (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.+))?$")
PERF_ITEM = re.compile(r"('(?:[^'=]|'')+'|[^'= ]+)="
                       r"((?:-?[0-9]+(?:\.[0-9]+)?(?:s|ms|us|%|B|KB|MB|TB|c)?|U)"
                       r"(?:;[@~:0-9.-]*){0,2}(?:;(?:-?[0-9]+(?:\.[0-9]+)?)?){0,2})(?: |$)")
PLUGIN_EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def plugin_output(rc, out, err, want, what):
    """Checks one ratctl check run against the plugin format; returns its perfdata dict."""
    lines = out.split("\n")
    check(len(lines) == 2 and lines[1] == "", "%s: not exactly one line: %r" % (what, out))
    m = PLUGIN_LINE.match(lines[0])
    check(m, "%s: not a monitoring-plugin line: %r" % (what, lines[0]))
    eq(m.group(1), want, "%s: state word (%r)" % (what, lines[0]))
    eq(rc, PLUGIN_EXIT[want], "%s: exit status for %s" % (what, want))
    perf, rest = {}, m.group(3) or ""
    while rest:
        item = PERF_ITEM.match(rest)
        check(item, "%s: perfdata breaks the syntax at %r" % (what, rest))
        perf[item.group(1).strip("'").replace("''", "'")] = item.group(2)
        rest = rest[item.end():]
    return perf


def test_check_plugin_format(ctx):
    rc, out, err, _ = ctx.ratctl("-s", os.path.join(ctx.dir, "nope.sock"), "check",
                                 sock=False)
    plugin_output(rc, out, err, "UNKNOWN", "check without a daemon")
    for args in (("check", "a", "b"), ("-x", "check"), ("check", "--pending"),
                 ("check", "bad/id"), ("-t", "zero", "check"), ("check", "-n", "3")):
        rc, out, err, _ = ctx.ratctl(*args, sock=False)
        plugin_output(rc, out, err, "UNKNOWN", "usage error %r" % (args,))
        check("usage" in out, "usage error %r does not say usage: %r" % (args, out))
    rc, out, err, _ = ctx.ratctl("bogus", sock=False)
    eq(rc, 2, "a usage error of another command keeps exit 2")

    ctx.add_seed()
    d, st = start_ok(ctx, conf_kw={"ratd": {"failures_before_alert": "2"}})
    rc, out, err, _ = ctx.ratctl("check")
    perf = plugin_output(rc, out, err, "OK", "check with a fresh success")
    eq(perf.get(TREATY + " parties"), "59;;;0", "parties perfdata (%r)" % out)
    eq(perf.get(TREATY + " remaining"), "0;;;0", "remaining perfdata (%r)" % out)
    age = perf.get(TREATY + " last_success_age", "")
    m = re.match(r"^([0-9]+)s;;;0$", age)
    check(m and int(m.group(1)) < 60, "last_success_age perfdata %r (%r)" % (age, out))
    ctx.serve(file="IV-13.html", status=503)
    for i in (1, 2):
        eq(d.refresh().get("result"), "error", "refresh #%d on HTTP 503" % i)
    rc, out, err, _ = ctx.ratctl("check", TREATY)
    plugin_output(rc, out, err, "CRITICAL", "check on a failing source")
    check("after 2 failed attempts in a row" in out, "failure count wording: %r" % out)
    d.stop()

    # Only the seed, the source failing once (below failures_before_alert): WARNING.
    state2 = os.path.join(ctx.dir, "state2")
    os.makedirs(state2)
    d2 = ctx.daemon(ctx.write_conf(ctx.serve(file="IV-13.html", status=503), name="seed.conf",
                                   ratd={"failures_before_alert": "5", "state_dir": state2}))
    rc, out, err, _ = ctx.ratctl("check")
    perf = plugin_output(rc, out, err, "WARNING", "check with only the seed")
    eq(perf.get(TREATY + " last_success_age"), "U;;;0", "age without a success (%r)" % out)
    d2.stop()


def edit_row(page, name, sig=None, ins=None, new_name=None, drop=False):
    """The HTML page with one participant row edited (cells as UNTC writes them)."""
    pat = re.compile(rb"<tr>\s*<td>(%s)</td><td>([^<]*)</td><td>([^<]*)</td>\s*</tr>\s*"
                     % re.escape(name.encode()))
    m = pat.search(page)
    check(m, "fixture has no row for %s" % name)
    if drop:
        return page[:m.start()] + page[m.end():]
    row = b"<tr>\n\t<td>%s</td><td>%s</td><td>%s</td>\n</tr>\n" % (
        (new_name or name).encode(), m.group(2) if sig is None else sig.encode(),
        m.group(3) if ins is None else ins.encode())
    return page[:m.start()] + row + page[m.end():]


def test_events(ctx):
    with open(os.path.join(FIXTURES, "IV-13.2003-03-13.html"), "rb") as f:
        b = f.read()
    bolivia = "Bolivia (Plurinational State of)"
    a = b
    for n in ("Azerbaijan", "Belize", bolivia):
        a = edit_row(a, n, ins="")
    url = ctx.serve(body=a)
    d = ctx.daemon(ctx.write_conf(url))
    st = d.wait_state("ok")
    eq(st.get("parties"), 16, "parties on the edited page (3 instruments blanked)")
    eq(history(d), [], "events after the baseline")

    ctx.serve(body=b)
    eq(d.refresh().get("result"), "changed", "refresh to the real 2003-03-13 page")
    evs = history(d)
    news = sorted(e["data"].get("participant") for e in evs if e["type"] == "new-party")
    eq(news, ["Azerbaijan", "Belize", bolivia], "new-party events")
    bz = [e for e in evs if e["type"] == "new-party" and e["data"]["participant"] == "Belize"][0]
    eq((bz["data"].get("date"), bz["data"].get("kind")), ("2001-11-14", "accession"),
       "Belize's new-party date and kind")
    appr = [e for e in evs if e["type"] == "approaching-threshold"]
    eq(len(appr), 1, "approaching-threshold events (remaining 4 -> 1, approaching = 3)")
    eq((appr[0]["data"].get("parties"), appr[0]["data"].get("remaining")), (19, 1),
       "approaching-threshold parties, remaining")
    check(not [e for e in evs if e["type"] == "threshold-reached"],
          "threshold-reached at 19 of 20")
    last = max(e["id"] for e in evs)

    c = edit_row(b, "Azerbaijan", ins="12 Jan\t 1999 a")
    c = edit_row(c, "Bangladesh", new_name="[Bangladesh]")
    c = edit_row(c, "Belize", sig="10 Oct\t 2001 ")
    c = edit_row(c, "Chile", drop=True)
    ctx.serve(body=c)
    eq(d.refresh().get("result"), "changed", "refresh to the edited page")
    evs = history(d, since=last)
    types = [e["type"] for e in evs]
    check("new-party" not in types, "new-party events for edits: %r" % types)

    def one(kind, who):
        got = [e for e in evs if e["type"] == kind and
               (e["data"].get("participant") or "").strip("[]") == who]
        eq(len(got), 1, "%s events for %s (events: %r)" % (kind, who, types))
        return got[0]["data"]
    az = one("participant-changed", "Azerbaijan")
    check(az.get("before") is not None and az.get("after") is not None and
          az.get("before") != az.get("after"),
          "participant-changed for Azerbaijan: before %r, after %r"
          % (az.get("before"), az.get("after")))
    check("1999-01-12" in json.dumps(az.get("after")),
          "participant-changed after lacks the new date: %r" % az.get("after"))
    one("participant-withdrawn", "Bangladesh")
    sig = one("new-signatory", "Belize")
    eq(sig.get("date"), "2001-10-10", "new-signatory date")
    one("participant-changed", "Chile")
    parts = result_of(d.request({"cmd": "parties", "treaty": TREATY}),
                      "parties")["participants"]
    bd = [p for p in parts if (p.get("name") or "").strip("[]") == "Bangladesh"]
    eq(len(bd), 1, "Bangladesh rows in parties")
    eq((bd[0].get("withdrawn"), bd[0].get("counts")), (True, False),
       "Bangladesh withdrawn, counts")
    eq(d.status().get("parties"), 19, "parties after the edits")


TESTS = [
    ("current_page", test_current_page),
    ("as_of", test_as_of),
    ("page_change_refresh", test_page_change_refresh),
    ("not_modified", test_not_modified),
    ("not_modified_since", test_not_modified_since),
    ("xml_source", test_xml_source),
    ("aspnet_error_page", test_aspnet_error_page),
    ("trickle", test_trickle),
    ("seed", test_seed),
    ("restart", test_restart),
    ("once", test_once),
    ("check_config", test_check_config),
    ("ratctl_errors", test_ratctl_errors),
    ("socket_robustness", test_socket_robustness),
    ("signals", test_signals),
    ("http_headers", test_http_headers),
    ("http_failures", test_http_failures),
    ("history", test_history),
    ("watch", test_watch),
    ("reload", test_reload),
    ("socket_takeover", test_socket_takeover),
    ("permissions", test_permissions),
    ("anomaly_accept", test_anomaly_accept),
    ("sigterm_inflight", test_sigterm_inflight),
    ("corrupt_state", test_corrupt_state),
    ("url_with_hash", test_url_with_hash),
    ("hostile_pages", test_hostile_pages),
    ("page_size_limits", test_page_size_limits),
    ("alert_exec", test_alert_exec),
    ("alert_webhook", test_alert_webhook),
    ("check_states", test_check_states),
    ("check_plugin_format", test_check_plugin_format),
    ("events", test_events),
]


class Progress:
    """What the watchdog needs to end the suite cleanly when something blocks."""
    passed = failed = 0
    name = None
    ctx = None


def watchdog():
    """Ends a suite that overran its budget (a call blocked): kills and reports."""
    ctx = Progress.ctx
    if ctx is not None:
        for d in ctx.daemons:
            if d.alive():
                d.proc.kill()
        tail = "\n".join("#   " + l for l in ctx.log_text().splitlines()[-25:])
    print("FAIL %s: suite watchdog: still running %ds after the start (a call blocked)"
          % (Progress.name, SUITE_BUDGET + WATCHDOG_GRACE), flush=True)
    if ctx is not None and tail:
        print(tail, flush=True)
    print("%s: %d passed, %d failed" % (LABEL, Progress.passed, Progress.failed + 1),
          flush=True)
    os._exit(1)


def run_one(name, fn, keep, verbose):
    """Runs one test in its own world; returns None or the failure reason."""
    if left() <= 1:
        return "suite time budget (%ds) exhausted before this test" % SUITE_BUDGET, ""
    ctx = Ctx(name, keep)
    Progress.name, Progress.ctx = name, ctx
    reason = note = None
    try:
        note = fn(ctx)
    except Fail as e:
        reason = str(e)
    except Exception as e:
        reason = "%s: %s" % (type(e).__name__, e)
        if verbose:
            reason += "\n" + traceback.format_exc()
    finally:
        problems = ctx.finish()
    if problems:
        reason = "; ".join(([reason] if reason else []) + problems)
    tail = ""
    if reason is not None or verbose:
        lines = ctx.log_text().splitlines()
        tail = "\n".join("#   " + l for l in lines[-25:])
        if keep:
            tail += "\n#   (kept %s)" % ctx.dir
    ctx.cleanup()
    if reason is None and note:
        tail = ("#   " + note + ("\n" + tail if tail else "")).rstrip()
    return reason, tail


def main(tests=None, budget=None, label="integration"):
    """Runs a suite: this file's TESTS, or those of a suite file that imports this one
    (tests/integration/suite_*.py) with its own time budget and closing-line label."""
    global RATD, RATCTL, DEADLINE, SUITE_BUDGET, TESTS, LABEL
    if tests is not None:
        TESTS = tests
    if budget is not None:
        SUITE_BUDGET = budget
    LABEL = label
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="directory holding ratd and ratctl")
    ap.add_argument("-k", "--keep", action="store_true", help="keep failed tests' dirs")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("tests", nargs="*", help="run only these tests")
    args = ap.parse_args()
    RATD = os.path.abspath(os.path.join(args.build, "ratd"))
    RATCTL = os.path.abspath(os.path.join(args.build, "ratctl"))
    for p in (RATD, RATCTL):
        if not os.access(p, os.X_OK):
            print("%s: %s is missing (run make all)" % (LABEL, p))
            print("%s: 0 passed, 1 failed" % LABEL)
            return 1
    unknown = [t for t in args.tests if t not in dict(TESTS)]
    if unknown:
        ap.error("unknown tests %s; known: %s" % (unknown, " ".join(n for n, _ in TESTS)))
    DEADLINE = time.monotonic() + SUITE_BUDGET
    dog = threading.Timer(SUITE_BUDGET + WATCHDOG_GRACE, watchdog)
    dog.daemon = True
    dog.start()
    passed = failed = 0
    for name, fn in TESTS:
        if args.tests and name not in args.tests:
            continue
        t0 = time.monotonic()
        reason, tail = run_one(name, fn, args.keep, args.verbose)
        took = " (%.1fs)" % (time.monotonic() - t0) if args.verbose else ""
        Progress.ctx = None
        if reason is None:
            passed += 1
            print("ok %s%s" % (name, took), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s%s" % (name, reason, took), flush=True)
        if tail:
            print(tail, flush=True)
        Progress.passed, Progress.failed = passed, failed
    dog.cancel()
    print("%s: %d passed, %d failed" % (LABEL, passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
