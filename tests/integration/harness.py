#!/usr/bin/env python3
"""The integration harness: daemon and client control, assertions, the fixture server,
and a runner that takes a suite (tests/integration/run.py, suite_*.py).

A suite is a module whose functions test_NAME(ctx) are its tests, in the order the
module defines them; it ends with

    if __name__ == "__main__":
        sys.exit(harness.main(harness.Suite("LABEL", BUDGET, sys.modules[__name__])))

Each test gets a fresh temporary directory (ctx), its own fixture server on 127.0.0.1
(ephemeral port) and its own daemons; all are stopped when the test ends, pass or fail.
The runner prints "ok NAME" or "FAIL NAME: reason" per test, then one line
"LABEL: N passed, N failed", and exits 1 when anything failed.
"""
import argparse
import datetime
import json
import os
import re
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
from fixture_server import ASPNET_ERROR_PAGE, FixtureServer  # noqa: E402,F401 (for the suites)

REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SEED = os.path.join(REPO, "data", "IV-13.xml")
TREATY = "IV-13"
TITLE = ("International Convention on the Protection of the Rights of All Migrant Workers "
         "and Members of Their Families")
WATCHDOG_GRACE = 5.0        # then the watchdog ends it, whatever blocks
FETCH_TIMEOUT = 5           # the daemon's `timeout =` in the test configuration
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# A sanitizer build (make SANITIZE=1 exports RATD_SANITIZED=1) runs several times slower:
# each suite's time budget, which only ends a suite that blocked, is doubled there, and
# so is DELIVERY_WAIT (a busy machine saw 61 deliveries to one of three sinks take
# longer than 20 s there).
SANITIZED = os.environ.get("RATD_SANITIZED") == "1"
BUDGET_FACTOR = 2 if SANITIZED else 1
# Waits for dozens of exec deliveries: each spawns a shell and fsyncs the sink's cursor,
# tens of milliseconds apiece on a busy machine. What is delivered is asserted, not speed.
DELIVERY_WAIT = 20 * BUDGET_FACTOR
COMMANDS = ("status", "parties", "history", "refresh", "watch", "reload", "check", "version")

RATD = RATCTL = None          # set by main from --build
DEADLINE = None               # set by main: the suite's end


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

    def __init__(self, ctx, conf, args=()):
        self.ctx = ctx
        self.conf = conf
        self.args = list(args)
        self.sock = ctx.sock
        self.proc = None
        self.ended_by_test = False      # SIGTERM/SIGKILL sent by the test itself

    def start(self, wait=True):
        log = open(self.ctx.log, "ab")
        argv = [RATD, "-c", self.conf] + self.args
        log.write(("--- %s (%s)\n" % (" ".join(["ratd"] + argv[1:]),
                                      time.strftime("%H:%M:%S"))).encode())
        log.flush()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
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

    def daemon(self, conf, wait=True, args=()):
        d = Daemon(self, conf, args)
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


NOTIFY_SH = """#!/bin/sh
# Test exec sink: keeps each event's RATD_* environment and stdin.
f="%s/$(date +%%s%%N)-$RATD_EVENT_ID"
env | grep '^RATD_' | sort > "$f.env.tmp"
cat > "$f.json.tmp"
mv "$f.json.tmp" "$f.json"
mv "$f.env.tmp" "$f.env"
exit 0
"""


def write_script(ctx, name, text):
    """An executable DIR/name holding text (a hook for an exec sink); its path."""
    path = os.path.join(ctx.dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def exec_sink(ctx, name):
    """A notify script writing into DIR/name/; returns (script path, output dir)."""
    out = os.path.join(ctx.dir, name)
    os.makedirs(out)
    return write_script(ctx, name + ".sh", NOTIFY_SH % out), out


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


def posts(ctx, path="/hook"):
    return [r for r in ctx.server.requests(path) if r.method == "POST"]


def check_hook_posts(reqs):
    for r in reqs:
        ev = json.loads(r.body)
        check(r.header("Content-Type", "").startswith("application/json"),
              "webhook Content-Type %r" % r.header("Content-Type"))
        eq(r.header("X-Ratd-Event"), ev.get("type"), "X-Ratd-Event")
        eq(r.header("X-Ratd-Event-Id"), str(ev.get("id")), "X-Ratd-Event-Id")


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


class Suite:
    """A suite: the label of its closing line, its time budget in seconds (for a build
    without sanitizers: see BUDGET_FACTOR), and its tests, the functions test_NAME of
    module in the order it defines them."""

    def __init__(self, label, budget, module):
        self.label = label
        self.budget = budget * BUDGET_FACTOR
        self.tests = [(n[len("test_"):], f) for n, f in vars(module).items()
                      if n.startswith("test_") and callable(f)]


class Progress:
    """What the watchdog needs to end the suite cleanly when something blocks."""
    passed = failed = 0
    name = None
    ctx = None
    suite = None


def watchdog():
    """Ends a suite that overran its budget (a call blocked): kills and reports."""
    ctx, suite = Progress.ctx, Progress.suite
    tail = ""
    if ctx is not None:
        for d in ctx.daemons:
            if d.alive():
                d.proc.kill()
        tail = "\n".join("#   " + l for l in ctx.log_text().splitlines()[-25:])
    print("FAIL %s: suite watchdog: still running %ds after the start (a call blocked)"
          % (Progress.name, suite.budget + WATCHDOG_GRACE), flush=True)
    if tail:
        print(tail, flush=True)
    print("%s: %d passed, %d failed" % (suite.label, Progress.passed, Progress.failed + 1),
          flush=True)
    os._exit(1)


def run_one(name, fn, keep, verbose):
    """Runs one test in its own world; returns None or the failure reason."""
    if left() <= 1:
        return ("suite time budget (%ds) exhausted before this test" % Progress.suite.budget,
                "")
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


def main(suite):
    """Runs suite (a Suite) with the command line's --build, -k, -v and test names."""
    global RATD, RATCTL, DEADLINE
    label, tests = suite.label, suite.tests
    Progress.suite = suite
    ap = argparse.ArgumentParser(description="%s: integration tests of ratd and ratctl"
                                 % label)
    ap.add_argument("--build", default="build", help="directory holding ratd and ratctl")
    ap.add_argument("-k", "--keep", action="store_true", help="keep failed tests' dirs")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("tests", nargs="*", help="run only these tests")
    args = ap.parse_args()
    # The fixture servers are on 127.0.0.1: a proxy set for the machine must carry
    # neither ratd's transfers (libcurl reads these) nor the tests' own.
    for k in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(k, None)
        os.environ.pop(k.upper(), None)
    RATD = os.path.abspath(os.path.join(args.build, "ratd"))
    RATCTL = os.path.abspath(os.path.join(args.build, "ratctl"))
    for p in (RATD, RATCTL):
        if not os.access(p, os.X_OK):
            print("%s: %s is missing (run make all)" % (label, p))
            print("%s: 0 passed, 1 failed" % label)
            return 1
    unknown = [t for t in args.tests if t not in dict(tests)]
    if unknown:
        ap.error("unknown tests %s; known: %s" % (unknown, " ".join(n for n, _ in tests)))
    DEADLINE = time.monotonic() + suite.budget
    dog = threading.Timer(suite.budget + WATCHDOG_GRACE, watchdog)
    dog.daemon = True
    dog.start()
    passed = failed = 0
    for name, fn in tests:
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
    print("%s: %d passed, %d failed" % (label, passed, failed), flush=True)
    return 1 if failed else 0
