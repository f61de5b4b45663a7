#!/usr/bin/env python3
"""`make bench`: ratd's costs against libxml2, urlwatch, curl | xmllint and the library floor.

    python3 tests/bench/run.py --build build/O2 [--quick] [--cycles N] [--only PHASES]

Run from the repository root after `make bench-tools` (`make bench` does both). Every
figure is a median over repeated runs; every ratio compares two figures measured in this
same invocation. Traffic goes to 127.0.0.1 only: a page server (tests/bench/pages.py)
serving IV-13 and a copy with one date changed, in turn, so every check sees a change.
Prints the results table (Markdown, as in BENCHMARKS.md) and writes it, with the raw
figures as JSON, to BUILD/bench-results.{md,json}. Exit 0 when every phase ran (targets
missed are reported, not fatal), 1 when a phase could not run.

Phases (--only takes a comma list):
  parse    untc_parse vs libxml2's bare parse into a tree (tests/bench/parse_bench)
  check    CPU per check: inside the daemon, ratd --once, urlwatch, curl | xmllint, floor
  memory   private dirty memory after start, 1,000 and --cycles fetch/commit cycles
  socket   status requests/s and latency, 1/8/64 clients, idle and during a trickled fetch
  idle     system calls and wakeups of an idle daemon over 60 s
  scale    N = 100, 300, 600 treaties on one host (the page server answering after 20 ms):
           CPU per treaty per full cycle, private dirty, status (all) latency, restart
           to the first answered request, most connections open at once, a cycle's wall
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
PAGE = os.path.join(FIXTURES, "IV-13.html")
XML = os.path.join(FIXTURES, "IV-13.xml")
TREATY = "IV-13"
XPATH = '//table[contains(@id,"tblgrid")]'
PHASES = ("parse", "check", "memory", "socket", "idle", "scale")
SCALE_N = (100, 300, 600)
SCALE_DELAY = 0.020     # the page server's answer delay in the scale phase
SCALE_CONCURRENCY = 2   # host_concurrency (the default) in the scale phase
CLIENTS = (1, 8, 64)
SYNTH_N = 200
TRICKLE_SECONDS = 10.0
IDLE_SECONDS = 60.0
KEEPALIVE = 30          # the page server closes idle connections: inside the idle window
FLAT_KB = 64            # growth from 1,000 to the last cycle count still called flat
TICK = os.sysconf("SC_CLK_TCK")

KB = 1024


class BenchError(Exception):
    """A phase could not run."""


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def median(v):
    return statistics.median(v) if v else float("nan")


# --- processes ------------------------------------------------------------------------

def measure(build, argv, env=None, cwd=None, timeout=120):
    """Runs argv to completion under cpurun; returns (status, CPU ms, peak RSS kB): the
    process and every child it waited for."""
    p = subprocess.run([os.path.join(build, "bench", "cpurun")] + argv,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                       cwd=cwd, timeout=timeout)
    m = re.match(r"status=(\d+) cpu_us=(\d+) .*maxrss_kb=(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise BenchError("cpurun %s failed: %s" % (argv[0], p.stderr.strip()))
    return int(m.group(1)), int(m.group(2)) / 1000, int(m.group(3))


def repeat(build, argv, runs, what, **kw):
    """One warm-up run, then runs measured ones; medians of CPU (ms) and peak RSS (kB)."""
    cpu, rss = [], []
    for i in range(runs + 1):
        rc, c, r = measure(build, argv, **kw)
        if rc != 0:
            raise BenchError("%s exited with %d" % (what, rc))
        if i > 0:
            cpu.append(c)
            rss.append(r)
    return {"cpu_ms": median(cpu), "rss_kb": median(rss), "runs": runs,
            "cpu_ms_all": [round(c, 2) for c in cpu]}


class PageServer:
    """tests/bench/pages.py in its own process."""

    def __init__(self, tmp):
        with open(os.path.join(tmp, "pages.log"), "wb") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "pages.py"), "--page", PAGE, "--xml", XML,
                 "--keepalive", str(KEEPALIVE)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"port (\d+)", line)
        if not m:
            raise BenchError("page server did not start: %r" % line)
        self.port = int(m.group(1))

    def url(self, path="/page"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path):
        with urllib.request.urlopen(self.url(path), timeout=5) as r:
            return r.read()

    def stats(self):
        return json.loads(self.get("/_stats"))

    def trickle(self, seconds):
        self.get("/_ctl?trickle=%g" % seconds)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Daemon:
    """One ratd in the foreground on its own temporary configuration."""

    def __init__(self, build, tmp, name, url):
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=tmp)
        self.sock = os.path.join(self.dir, "ratd.sock")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state)
        os.makedirs(os.path.join(self.dir, "seed"))
        self.conf = write_conf(self.dir, url)
        self.ratd = os.path.join(build, "ratd")
        self.proc = None
        self.conn = None

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                            "WATCHDOG_PID", "STATE_DIRECTORY")}
        with open(os.path.join(self.dir, "ratd.log"), "wb") as logf:
            self.proc = subprocess.Popen([self.ratd, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=logf, cwd=self.dir, env=env)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError("ratd exited with %d at start (see %s/ratd.log)"
                                 % (self.proc.returncode, self.dir))
            try:
                if self.request({"cmd": "ping"}).get("ok"):
                    break
            except OSError:
                self.close()
            time.sleep(0.05)
        else:
            raise BenchError("ratd did not answer ping within 10 s")
        # The first fetch starts within a second of start-up.
        self.wait(lambda st: st["source"]["state"] == "ok", 15, "the first fetch")
        self.smaps_start = self.smaps()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def request(self, obj, timeout=30):
        """One request on the persistent connection; returns the reply object."""
        if self.conn is None:
            self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.conn.settimeout(timeout)
            self.conn.connect(self.sock)
            self.buf = b""
        self.conn.settimeout(timeout)
        self.conn.sendall((json.dumps(obj) + "\n").encode())
        return json.loads(self.read_line())

    def read_line(self):
        """The next line on the persistent connection, without its newline (bytes)."""
        while b"\n" not in self.buf:
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                raise OSError("ratd closed the control connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def close(self):
        """Drops the control connection (the socket phase needs every client slot)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def status(self):
        r = self.request({"cmd": "status", "treaty": TREATY})
        if not r.get("ok"):
            raise BenchError("status failed: %r" % r)
        return r["result"]["treaties"][0]

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = self.status()
            if pred(st):
                return st
            time.sleep(0.05)
        raise BenchError("timed out waiting for %s" % what)

    def refresh(self):
        r = self.request({"cmd": "refresh", "treaty": TREATY}, timeout=60)
        if not r.get("ok"):
            raise BenchError("refresh failed: %r" % r)
        return r["result"]["treaties"][0]["result"]

    def cycles(self, n, expect="changed"):
        """n forced fetch/commit cycles, each with the outcome expected. Returns seconds."""
        t0 = time.monotonic()
        for i in range(n):
            res = self.refresh()
            if res != expect:
                raise BenchError("refresh %d gave %r, not %r" % (i, res, expect))
        return time.monotonic() - t0

    def cpu_ns(self):
        """CPU time of every thread: schedstat (ns) while ratd has one thread, else the
        process's ticks (which also hold threads that have ended); plus the page parser's,
        ratd's child, alive (schedstat) or reaped (ticks)."""
        tasks = os.listdir("/proc/%d/task" % self.pid)
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        reaped = (int(fields[13]) + int(fields[14])) * 1e9 / TICK
        if len(tasks) == 1:
            with open("/proc/%d/schedstat" % self.pid) as f:
                return int(f.read().split()[0]) + reaped + self.children_ns(), ticks, 1
        return (ticks * 1e9 / TICK + reaped + self.children_ns(), ticks, len(tasks))

    def children_ns(self):
        total = 0
        try:
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                kids = f.read().split()
            for k in kids:
                with open("/proc/%s/schedstat" % k) as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
        return total

    def smaps(self):
        out = {}
        with open("/proc/%d/smaps_rollup" % self.pid) as f:
            for line in f:
                m = re.match(r"(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
        return out

    def sched(self):
        """(times scheduled in, voluntary + involuntary context switches)."""
        with open("/proc/%d/schedstat" % self.pid) as f:
            runs = int(f.read().split()[2])
        sw = 0
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if "ctxt_switches:" in line:
                    sw += int(line.split()[-1])
        return runs, sw

    def stop(self):
        self.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def write_conf(d, url):
    """A configuration for one treaty at url, everything in directory d."""
    text = """# ratd benchmark configuration
[ratd]
socket = {d}/ratd.sock
socket_mode = 0600
state_dir = {d}/state
seed_dir = {d}/seed
interval = 1h
jitter = 0
# Cycles follow each other at once: the second between two fetches to a host is waived.
host_spacing = 0
timeout = 30s
max_page_size = 1M

[treaty IV-13]
title = International Convention on the Protection of the Rights of All Migrant Workers and Members of Their Families
url = {url}
threshold = 20
eif_delay = 3 months
eif_align = next-month
approaching = 3
""".format(d=d, url=url)
    path = os.path.join(d, "ratd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


# --- 1. parse -------------------------------------------------------------------------

def synth_html(src, n):
    """IV-13.html with the participants table grown to n rows of made-up participants."""
    with open(src, "rb") as f:
        page = f.read().decode("utf-8")
    start = page.index("tblgrid")
    end = page.index("</table>", start)
    rows = re.findall(r"<tr>.*?</tr>", page[start:end], re.S)
    head, data = rows[0], rows[1:]
    out = [head]
    for i in range(n):
        r = data[i % len(data)]
        out.append(re.sub(r"<td>(.*?)</td>", lambda m: "<td>Participant %03d</td>" % (i + 1),
                          r, count=1, flags=re.S))
    body_start = page.index(rows[0], start)
    body_end = page.index(rows[-1], start) + len(rows[-1])
    return (page[:body_start] + "\n".join(out) + page[body_end:]).encode("utf-8")


def synth_xml(src, n):
    with open(src, "rb") as f:
        doc = f.read().decode("latin-1")
    start = doc.index("<Rows>") + len("<Rows>")
    end = doc.index("</Rows>")
    rows = re.findall(r"<Row>.*?</Row>", doc[start:end], re.S)
    out = []
    for i in range(n):
        r = rows[i % len(rows)]
        out.append(re.sub(r"<Entry>(.*?)</Entry>", "<Entry>Participant %03d</Entry>" % (i + 1),
                          r, count=1, flags=re.S))
    return (doc[:start] + "".join(out) + doc[end:]).encode("latin-1")


def phase_parse(args, tmp, res):
    files = [PAGE, os.path.join(tmp, "synth-200.html"), XML, os.path.join(tmp, "synth-200.xml")]
    with open(files[1], "wb") as f:
        f.write(synth_html(PAGE, SYNTH_N))
    with open(files[3], "wb") as f:
        f.write(synth_xml(XML, SYNTH_N))
    n, r = (30, 5) if args.quick else (200, 15)
    p = subprocess.run([os.path.join(args.build, "bench", "parse_bench"), "-n", str(n),
                        "-r", str(r)] + files, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise BenchError("parse_bench failed: %s" % p.stderr.strip())
    out = []
    for line in p.stdout.splitlines():
        kv = dict(x.split("=", 1) for x in line.split())
        out.append({"file": os.path.basename(kv["file"]), "format": kv["format"],
                    "bytes": int(kv["bytes"]), "participants": int(kv["participants"]),
                    "ratd_us": float(kv["ratd_us"]), "floor_us": float(kv["floor_us"]),
                    "ratio": float(kv["ratio"]), "ratd_fmt_us": float(kv["ratd_fmt_us"]),
                    "ratio_fmt": float(kv["ratio_fmt"]), "iterations": n, "runs": r})
    for o in out[1::2]:
        if o["participants"] != SYNTH_N:
            raise BenchError("%s parsed into %d participants, not %d"
                             % (o["file"], o["participants"], SYNTH_N))
    res["parse"] = out


# --- 2. per check ---------------------------------------------------------------------

def daemon_per_check(d, runs, per_run=100):
    """The daemon's own CPU per forced fetch of a changing page, median over runs."""
    d.cycles(10)                                  # warm: connection, allocator, caches
    per, kids, walls, threads = [], [], [], 1
    for _ in range(runs):
        c0, _, _ = d.cpu_ns()
        k0 = d.children_ns()
        wall = d.cycles(per_run)
        c1, _, nt = d.cpu_ns()
        k1 = d.children_ns()
        threads = max(threads, nt)
        per.append((c1 - c0) / per_run / 1e6)
        # The parse child's share (0 when it was replaced during the run).
        kids.append(max(k1 - k0, 0) / per_run / 1e6)
        walls.append(wall / per_run * 1000)
    return {"cpu_ms": median(per), "cpu_ms_all": [round(x, 3) for x in per],
            "child_ms": median(kids), "wall_ms": median(walls), "runs": runs,
            "fetches_per_run": per_run, "threads": threads}


def urlwatch_setup(tmp, url):
    d = os.path.join(tmp, "urlwatch")
    os.makedirs(d)
    with open(os.path.join(d, "urls.yaml"), "w") as f:
        f.write("name: IV-13\nurl: %s\nfilter:\n  - xpath: '%s'\n" % (url, XPATH))
    env = dict(os.environ, HOME=d, XDG_CONFIG_HOME=d, XDG_CACHE_HOME=d)
    argv = ["urlwatch", "--urls", os.path.join(d, "urls.yaml"),
            "--config", os.path.join(d, "urlwatch.yaml"),
            "--hooks", os.path.join(d, "hooks.py"), "--cache", os.path.join(d, "cache.db")]
    return argv, env


def phase_check(args, tmp, res, srv):
    runs = 3 if args.quick else 7
    out = res["check"] = {}
    d = Daemon(args.build, tmp, "check", srv.url()).start()
    try:
        out["daemon"] = daemon_per_check(d, 3 if args.quick else 5)
        res.setdefault("state", {})["check_daemon"] = d
    except Exception:
        d.stop()
        raise
    log("daemon: %.3f ms CPU per check (parse child: %.3f ms)" % (out["daemon"]["cpu_ms"],
                                                             out["daemon"]["child_ms"]))

    argv, env = urlwatch_setup(tmp, srv.url())
    out["urlwatch"] = repeat(args.build, argv, runs, "urlwatch", env=env, timeout=60)
    log("urlwatch: %.1f ms CPU per run" % out["urlwatch"]["cpu_ms"])

    pipe = "curl -s %s | xmllint --html --xpath '%s' - >/dev/null 2>&1" % (srv.url(), XPATH)
    out["pipeline"] = repeat(args.build, ["sh", "-c", pipe], runs, "curl | xmllint",
                             timeout=60)
    out["pipeline"]["command"] = pipe
    log("curl | xmllint: %.1f ms CPU per run" % out["pipeline"]["cpu_ms"])

    od = os.path.join(tmp, "once")
    os.makedirs(os.path.join(od, "state"))
    os.makedirs(os.path.join(od, "seed"))
    conf = write_conf(od, srv.url())
    out["once"] = repeat(args.build, [os.path.join(args.build, "ratd"), "-c", conf, "--once"],
                         runs, "ratd --once", cwd=od, timeout=60)
    log("ratd --once: %.1f ms CPU, %d kB peak RSS" % (out["once"]["cpu_ms"],
                                                      out["once"]["rss_kb"]))

    floor = os.path.join(args.build, "bench", "libfloor")
    out["floor"] = repeat(args.build, [floor], runs * 3, "libfloor", timeout=30)
    out["floor"]["libraries"] = count_libs(floor)
    out["floor"]["same_needed"] = needed(floor) == needed(os.path.join(args.build, "ratd"))
    if not out["floor"]["same_needed"]:
        raise BenchError("libfloor and ratd do not name the same libraries: %s vs %s"
                         % (needed(floor), needed(os.path.join(args.build, "ratd"))))
    log("library floor: %.1f ms CPU, %d libraries" % (out["floor"]["cpu_ms"],
                                                      out["floor"]["libraries"]))


def needed(path):
    p = subprocess.run(["readelf", "-d", path], capture_output=True, text=True)
    return sorted(re.findall(r"\(NEEDED\).*\[(.*)\]", p.stdout))


def count_libs(path):
    p = subprocess.run(["ldd", path], capture_output=True, text=True)
    return len([l for l in p.stdout.splitlines() if "=>" in l or "ld-linux" in l])


# --- 3. memory ------------------------------------------------------------------------

def phase_memory(args, tmp, res, srv):
    d = res.get("state", {}).get("check_daemon")
    fresh = d is None
    if fresh:
        d = Daemon(args.build, tmp, "memory", srv.url()).start()
    out = res["memory"] = {"points": []}
    try:
        # The check phase's cycles count: they are fetch/commit cycles like these.
        done = 0 if fresh else 10 + res["check"]["daemon"]["runs"] * 100
        out["points"].append({"cycles": 0, "smaps": d.smaps_start})
        for target in (1000, args.cycles):
            if target <= done:
                continue
            took = d.cycles(target - done)
            out["points"].append({"cycles": target, "smaps": d.smaps(),
                                  "seconds": took, "ms_per_cycle": took / (target - done) * 1000})
            log("after %d cycles: %d kB private dirty (%.1f ms per cycle)"
                % (target, out["points"][-1]["smaps"]["Private_Dirty"],
                   out["points"][-1]["ms_per_cycle"]))
            done = target
        out["journal_bytes"] = os.path.getsize(os.path.join(d.state, "journal.jsonl"))
    finally:
        d.stop()
        res.get("state", {}).pop("check_daemon", None)
    out["no_events"] = memory_without_events(args, tmp, srv)


def memory_without_events(args, tmp, srv):
    """The same cycles on a page whose table never changes (only its "status as at"
    stamp): fetch, parse and commit without events, to tell the two costs apart."""
    d = Daemon(args.build, tmp, "memory-stamp", srv.url("/page-stamp")).start()
    pts = [{"cycles": 0, "smaps": d.smaps_start}]
    try:
        done = 0
        for target in (1000, args.control_cycles):
            took = d.cycles(target - done, expect="unchanged")
            pts.append({"cycles": target, "smaps": d.smaps(),
                        "ms_per_cycle": took / (target - done) * 1000})
            log("page without events, after %d cycles: %d kB private dirty"
                % (target, pts[-1]["smaps"]["Private_Dirty"]))
            done = target
    finally:
        d.stop()
    return pts


# --- 4. socket ------------------------------------------------------------------------

def loadgen(args, d, clients, seconds):
    p = subprocess.run([os.path.join(args.build, "bench", "loadgen"), "-s", d.sock,
                        "-c", str(clients), "-d", str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 30)
    if p.returncode != 0:
        raise BenchError("loadgen -c %d failed: %s %s" % (clients, p.stdout, p.stderr))
    kv = dict(x.split("=", 1) for x in p.stdout.split())
    return {k: float(v) for k, v in kv.items()}


def socket_level(args, d, clients, runs, seconds):
    c0 = d.cpu_ns()[0]
    rs = [loadgen(args, d, clients, seconds) for _ in range(runs)]
    cpu = d.cpu_ns()[0] - c0
    return {"clients": clients, "rps": median([r["rps"] for r in rs]),
            "daemon_cpu_us_per_request": cpu / 1000 / max(1, sum(r["requests"] for r in rs)),
            "p50_us": median([r["p50_us"] for r in rs]),
            "p99_us": median([r["p99_us"] for r in rs]),
            "p999_us": median([r["p999_us"] for r in rs]),
            "max_us": max(r["max_us"] for r in rs),
            "requests": sum(r["requests"] for r in rs), "runs": runs, "seconds": seconds}


def phase_socket(args, tmp, res, srv, d):
    runs, secs = (3, 0.5) if args.quick else (5, 1.0)
    out = res["socket"] = {"idle": [], "trickle": []}
    d.close()                                     # every client slot for the generator
    for c in CLIENTS:
        out["idle"].append(socket_level(args, d, c, runs, secs))
        log("socket idle, %d clients: %.0f req/s, p99 %.0f us"
            % (c, out["idle"][-1]["rps"], out["idle"][-1]["p99_us"]))
    # Trickled: the page arrives in 100 pieces over 10 s; the generator runs inside that.
    tsecs = min(secs, (TRICKLE_SECONDS - 2.0) / runs)
    srv.trickle(TRICKLE_SECONDS)
    try:
        for c in CLIENTS:
            before = srv.stats()
            d.proc.send_signal(signal.SIGUSR1)
            end = time.monotonic() + 5
            while srv.stats()["trickles_started"] == before["trickles_started"]:
                if time.monotonic() > end:
                    raise BenchError("the trickled fetch did not start")
                time.sleep(0.02)
            t0 = time.monotonic()
            lvl = socket_level(args, d, c, runs, tsecs)
            lvl["inside_trickle"] = time.monotonic() - t0 < TRICKLE_SECONDS
            out["trickle"].append(lvl)
            end = time.monotonic() + TRICKLE_SECONDS + 10
            while srv.stats()["trickles_done"] == before["trickles_done"]:
                if time.monotonic() > end:
                    raise BenchError("the trickled fetch did not end")
                time.sleep(0.05)
            d.wait(lambda st: st["source"]["state"] == "ok" and
                   st["source"]["last_attempt"] is not None, 10, "the trickled commit")
            d.close()
            log("socket trickle, %d clients: %.0f req/s, p99 %.0f us"
                % (c, lvl["rps"], lvl["p99_us"]))
        out["whole_fetch"] = whole_fetch(args, d, srv)
        log("socket across a whole trickled fetch and its commit: max %.0f us"
            % out["whole_fetch"]["max_us"])
    finally:
        srv.trickle(0)


def whole_fetch(args, d, srv):
    """One client for the whole of a trickled fetch, its parse and its commit: the
    longest the loop is away from the socket."""
    before = srv.stats()["trickles_done"]
    t0 = time.monotonic()
    gen = subprocess.Popen([os.path.join(args.build, "bench", "loadgen"), "-s", d.sock, "-c",
                            "1", "-d", str(TRICKLE_SECONDS + 2.5)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGUSR1)
    out, err = gen.communicate(timeout=TRICKLE_SECONDS + 40)
    if gen.returncode != 0:
        raise BenchError("loadgen across a fetch failed: %s %s" % (out, err))
    if srv.stats()["trickles_done"] == before:
        raise BenchError("the trickled fetch had not ended when the generator stopped")
    r = {k: float(v) for k, v in (x.split("=", 1) for x in out.split())}
    r["seconds"] = time.monotonic() - t0
    return r


# --- 5. idle --------------------------------------------------------------------------

def strace_summary(path):
    """(total calls, {syscall: calls}, the traced lines) from `strace -C -tt -o path`."""
    calls, rows, lines = 0, {}, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if re.match(r"\d+\s+\d\d:\d\d:\d\d", line):
                lines.append(line.rstrip()[:200])
            elif len(parts) >= 5 and re.match(r"[\d.]+$", parts[0]) and parts[3].isdigit():
                if parts[-1] == "total":
                    calls = int(parts[3])
                else:
                    rows[parts[-1]] = int(parts[3])
    return calls, rows, lines


def idle_start(d):
    """An ordinary fetch, then silence: curl keeps the connection, the server will close
    it KEEPALIVE seconds later, inside the window, as real servers do."""
    d.refresh()
    d.close()
    time.sleep(1)                                 # the fetch's log lines are out


def phase_idle(args, tmp, res, d):
    """Two windows of the same idle minute: one untouched, counting the times ratd was
    scheduled (/proc/PID/schedstat: every wakeup), one under strace -C for the calls."""
    secs = 10.0 if args.quick else IDLE_SECONDS
    out = res["idle"] = {"seconds": secs, "server_closes_after": KEEPALIVE}
    idle_start(d)
    runs0, sw0 = d.sched()
    time.sleep(secs)
    runs1, sw1 = d.sched()
    out["wakeups"] = runs1 - runs0
    out["context_switches"] = sw1 - sw0
    log("idle: %d wakeups in %.0f s" % (out["wakeups"], secs))
    if shutil.which("strace") is None:
        out["syscalls"] = None
        return
    idle_start(d)
    trace = os.path.join(tmp, "strace.txt")
    st = subprocess.Popen(["strace", "-C", "-f", "-tt", "-o", trace, "-p", str(d.pid)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(secs)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(10)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()
    out["syscalls"], out["syscall_table"], out["trace"] = strace_summary(trace)
    log("idle: %s system calls in %.0f s under strace: %s"
        % (out["syscalls"], secs, "; ".join(out["trace"][:4])))


# --- 5. scale -------------------------------------------------------------------------

def write_scale_conf(d, srv, n):
    """n treaties at one host (the page server), each its own URL of /page-stamp: a new
    page every fetch, the same table (no events), as most of UNTC's fetches are."""
    lines = ["# ratd benchmark configuration: %d treaties on one host" % n, "[ratd]",
             "socket = %s/ratd.sock" % d, "socket_mode = 0600", "state_dir = %s/state" % d,
             "seed_dir = %s/seed" % d, "interval = 6h", "jitter = 0", "timeout = 60s",
             "max_page_size = 1M", "host_concurrency = %d" % SCALE_CONCURRENCY,
             # The cycle is timed: spacing would make it n seconds of waiting.
             "host_spacing = 0"]
    for i in range(1, n + 1):
        lines += ["", "[treaty S-%d]" % i, "title = Treaty %d" % i,
                  "url = %s?t=S-%d" % (srv.url("/page-stamp"), i), "threshold = 20",
                  "eif_delay = 3 months", "eif_align = next-month"]
    path = os.path.join(d, "ratd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class ScaleDaemon(Daemon):
    """A daemon tracking many treaties: started without waiting for any fetch."""

    def __init__(self, build, tmp, srv, n):
        super().__init__(build, tmp, "scale%d" % n, srv.url())
        self.conf = write_scale_conf(self.dir, srv, n)
        self.n = n

    def start(self):
        """Starts ratd; returns the seconds until its first answered ping."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                            "WATCHDOG_PID", "STATE_DIRECTORY")}
        self.close()
        t0 = time.monotonic()
        with open(os.path.join(self.dir, "ratd.log"), "ab") as logf:
            self.proc = subprocess.Popen([self.ratd, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=logf, cwd=self.dir, env=env)
        end = t0 + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError("ratd exited with %d at start (see %s/ratd.log)"
                                 % (self.proc.returncode, self.dir))
            try:
                if self.request({"cmd": "ping"}, timeout=5).get("ok"):
                    secs = time.monotonic() - t0
                    self.start_cpu_ms = self.cpu_ns()[1] * 1000 / TICK
                    return secs
            except OSError:
                self.close()
            time.sleep(0.002)
        raise BenchError("ratd did not answer ping within 10 s")

    def all_status(self):
        r = self.request({"cmd": "status"})
        if not r.get("ok"):
            raise BenchError("status failed: %r" % r)
        return r["result"]["treaties"]

    def refresh_all(self):
        """A refresh of every treaty (progress lines read and dropped); its results."""
        self.conn.sendall(b'{"cmd": "refresh", "progress": true}\n')
        self.conn.settimeout(600)
        while True:
            r = json.loads(self.read_line())
            if "progress" in r:
                continue
            if not r.get("ok"):
                raise BenchError("refresh failed: %r" % r)
            return r["result"]["treaties"]

    def child_smaps(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                kids = f.read().split()
            with open("/proc/%s/smaps_rollup" % kids[0]) as f:
                for line in f:
                    if line.startswith("Private_Dirty:"):
                        return int(line.split()[1])
        except (OSError, IndexError):
            return None
        return None


def status_raw(d):
    """One status of every treaty, read whole but not decoded: seconds, bytes."""
    t0 = time.perf_counter()
    d.conn.sendall(b'{"cmd": "status"}\n')
    line = d.read_line()
    return time.perf_counter() - t0, len(line)


def status_latency(d, runs):
    """status of every treaty: just after a change (a refresh of one treaty ended, so the
    reply is built anew) and repeated (served from the reply cached per generation),
    medians in us, and the reply's size."""
    d.request({"cmd": "ping"})
    fresh, cached = [], []
    for _ in range(runs):
        r = d.request({"cmd": "refresh", "treaty": "S-1"})
        if not r.get("ok"):
            raise BenchError("refresh of S-1 failed: %r" % r)
        secs, size = status_raw(d)
        fresh.append(secs * 1e6)
        secs, size = status_raw(d)
        cached.append(secs * 1e6)
    return median(fresh), median(cached), size


class ConnSampler:
    """Samples /proc/net/tcp about every millisecond in a thread: the most client sockets
    connected (or connecting) to port at once, as the kernel has them (a server's
    threads see a client's close late), seen by two reads in a row."""

    def __init__(self, port):
        self.port = "%04X" % port
        self.peak = 0
        self.samples = 0
        self.stop_ = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def count(self):
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                # Client side: the remote address is the server's port; 01 ESTABLISHED,
                # 02 SYN_SENT.
                if parts[2].endswith(":" + self.port) and parts[3] in ("01", "02"):
                    n += 1
        return n

    def run(self):
        # Reading the table is not atomic: a socket closed and another opened while it
        # is read can both be counted. Two reads in a row must agree on a count (a real
        # transfer lasts the server's 20 ms delay at least).
        last = 0
        while not self.stop_.is_set():
            n = self.count()
            self.peak = max(self.peak, min(n, last))
            last = n
            self.samples += 1
            time.sleep(0.001)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop_.set()
        self.thread.join()


def scale_cycle(d, srv):
    """One full cycle (a refresh of every treaty): wall s, daemon and child CPU ns."""
    srv.get("/_ctl?reset=1")
    served = srv.stats()["served"]
    cpu0, kid0 = d.cpu_ns()[0] - d.children_ns(), d.children_ns()
    t0 = time.monotonic()
    with ConnSampler(srv.port) as cs:
        results = d.refresh_all()
    wall = time.monotonic() - t0
    cpu1, kid1 = d.cpu_ns()[0] - d.children_ns(), d.children_ns()
    bad = [r for r in results if r["result"] not in ("changed", "unchanged", "not-modified")]
    if len(results) != d.n or bad:
        raise BenchError("a cycle of %d treaties: %d results, %d failed (%r)"
                         % (d.n, len(results), len(bad), bad[:2]))
    st = srv.stats()
    if st["served"] - served != d.n:
        raise BenchError("a cycle of %d treaties fetched %d pages" % (d.n, st["served"] - served))
    return wall, cpu1 - cpu0, kid1 - kid0, cs.peak, st["overlap_peak"], cs.samples


def scale_one(args, tmp, srv, n):
    d = ScaleDaemon(args.build, tmp, srv, n)
    try:
        out = {"n": n, "first_start_s": d.start()}
        # The first fetches of all: queued at start-up, served two at a time.
        srv.get("/_ctl?reset=1")
        t0 = time.monotonic()
        end = t0 + 300
        while not all(t["source"]["state"] == "ok" for t in d.all_status()):
            if time.monotonic() > end:
                raise BenchError("%d treaties: first fetches not done in 300 s" % n)
            time.sleep(0.2)
        out["first_round_s"] = time.monotonic() - t0
        cycles = [scale_cycle(d, srv) for _ in range(1 if args.quick else 3)]
        best = min(cycles, key=lambda c: c[1])
        out["cycle_wall_s"] = median([c[0] for c in cycles])
        out["cpu_ms_per_treaty"] = best[1] / 1e6 / n
        out["child_cpu_ms_per_treaty"] = best[2] / 1e6 / n
        out["conns_peak"] = max(c[3] for c in cycles)
        out["server_overlap_peak"] = max(c[4] for c in cycles)
        out["conn_samples"] = sum(c[5] for c in cycles)
        out["status_first_us"], out["status_us"], out["status_bytes"] = status_latency(
            d, 5 if args.quick else 21)
        out["smaps"] = d.smaps()
        out["child_private_dirty_kb"] = d.child_smaps()
        d.stop()
        # A restart with n treaties' state on disk, nothing due.
        runs = [restart(d) for _ in range(3 if args.quick else 5)]
        out["restart_s"] = median([r[0] for r in runs])
        out["restart_cpu_ms"] = median([r[1] for r in runs])
        log("scale %d: cycle %.1f s, %.2f ms CPU per treaty (+%.2f ms child), %d conns "
            "(server: %d answers) at most, private dirty %.1f MB, status %.1f/%.1f ms, "
            "restart %.0f ms"
            % (n, out["cycle_wall_s"], out["cpu_ms_per_treaty"],
               out["child_cpu_ms_per_treaty"], out["conns_peak"], out["server_overlap_peak"],
               out["smaps"]["Private_Dirty"] / KB, out["status_first_us"] / 1000,
               out["status_us"] / 1000, out["restart_s"] * 1000))
        return out
    finally:
        d.stop()


def restart(d):
    secs = d.start()
    d.stop()
    return secs, d.start_cpu_ms


def phase_scale(args, tmp, res, srv):
    srv.get("/_ctl?delay=%g" % SCALE_DELAY)
    try:
        res["scale"] = [scale_one(args, tmp, srv, n) for n in SCALE_N]
    finally:
        srv.get("/_ctl?delay=0")


# --- the table ------------------------------------------------------------------------

PARSE_TARGET = 1.0      # x libxml2's bare tree parse of the same bytes
CHECK_TARGET_MS = 3.8   # CPU per check, daemon and parse child: within 20% of 3.17 ms


def yes(ok):
    return "met" if ok else "NOT met"


def table(res):
    rows = ["| # | measure | ratd | compared with | ratio | target | |",
            "|---|---|---|---|---|---|---|"]
    add = rows.append
    for p in res.get("parse", []):
        add("| 1 | parse %s (%s, %s B, %d participants), format auto | %.0f us | libxml2 tree "
            "only: %.0f us | %.2fx | <= %.1fx | %s |"
            % (p["file"], p["format"], format(p["bytes"], ","), p["participants"], p["ratd_us"],
               p["floor_us"], p["ratio"], PARSE_TARGET, yes(p["ratio"] <= PARSE_TARGET)))
        add("| 1 | parse %s, format = %s | %.0f us | libxml2 tree only: %.0f us | %.2fx "
            "| <= %.1fx | %s |" % (p["file"], p["format"], p["ratd_fmt_us"], p["floor_us"],
                                   p["ratio_fmt"], PARSE_TARGET,
                                   yes(p["ratio_fmt"] <= PARSE_TARGET)))
    ck = res.get("check")
    if ck:
        dm, uw, pl, on, fl = (ck["daemon"], ck["urlwatch"], ck["pipeline"], ck["once"],
                              ck["floor"])
        add("| 2a | CPU per check, daemon and parse child | %.2f ms | of which the child: "
            "%.2f ms | | <= %.1f ms | %s |" % (dm["cpu_ms"], dm["child_ms"], CHECK_TARGET_MS,
                                               yes(dm["cpu_ms"] <= CHECK_TARGET_MS)))
        add("| 2a | CPU per check, daemon and parse child | %.2f ms | urlwatch run: %.0f ms "
            "| %.0fx less | >= 100x less | %s |"
            % (dm["cpu_ms"], uw["cpu_ms"], uw["cpu_ms"] / dm["cpu_ms"],
               yes(uw["cpu_ms"] / dm["cpu_ms"] >= 100)))
        add("| 2a | CPU per check, daemon and parse child | %.2f ms | curl \\| xmllint: %.1f ms "
            "| %.1fx less | less | %s |" % (dm["cpu_ms"], pl["cpu_ms"], pl["cpu_ms"] / dm["cpu_ms"],
                                           yes(dm["cpu_ms"] < pl["cpu_ms"])))
        add("| 2b | `ratd --once`: CPU | %.1f ms | urlwatch run: %.0f ms | %.1fx less "
            "| >= 20x less | %s |" % (on["cpu_ms"], uw["cpu_ms"], uw["cpu_ms"] / on["cpu_ms"],
                                      yes(uw["cpu_ms"] / on["cpu_ms"] >= 20)))
        add("| 2b | `ratd --once`: CPU | %.1f ms | floor, %d libraries loaded: %.1f ms | %.2fx "
            "| <= 1.5x | %s |" % (on["cpu_ms"], fl["libraries"], fl["cpu_ms"],
                                  on["cpu_ms"] / fl["cpu_ms"],
                                  yes(on["cpu_ms"] / fl["cpu_ms"] <= 1.5)))
        add("| 2b | `ratd --once`: peak RSS | %.1f MB | urlwatch %.1f MB, "
            "curl \\| xmllint %.1f MB, floor %.1f MB | | | |"
            % (on["rss_kb"] / KB, uw["rss_kb"] / KB, pl["rss_kb"] / KB, fl["rss_kb"] / KB))
        add("| 2b | `ratd --once`: CPU | %.1f ms | curl \\| xmllint: %.1f ms | %.2fx | | |"
            % (on["cpu_ms"], pl["cpu_ms"], on["cpu_ms"] / pl["cpu_ms"]))
    so = res.get("socket")
    if so:
        for kind in ("idle", "trickle"):
            for lv in so[kind]:
                c = lv["clients"]
                tgt, ok = "", ""
                if c == 8:
                    tgt = ">= 50,000/s; p99 < 1 ms"
                    ok = yes(lv["rps"] >= 50000 and lv["p99_us"] < 1000)
                elif c == 1:
                    tgt, ok = "p99 < 1 ms", yes(lv["p99_us"] < 1000)
                add("| 3 | status, %d client%s, daemon %s | %s req/s | p50 %.0f us, p99 %.0f us, "
                    "max %.0f us; daemon CPU %.1f us per request | | %s | %s |"
                    % (c, "s" if c > 1 else "", "idle" if kind == "idle" else
                       "receiving a 10 s trickle", format(round(lv["rps"]), ","), lv["p50_us"],
                       lv["p99_us"], lv["max_us"], lv["daemon_cpu_us_per_request"], tgt, ok))
        wf = so.get("whole_fetch")
        if wf:
            add("| 3 | status, 1 client, across a whole trickled fetch, its parse and commit "
                "| %s req/s | p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us | | | |"
                % (format(round(wf["rps"]), ","), wf["p50_us"], wf["p99_us"], wf["p999_us"],
                   wf["max_us"]))
    idle = res.get("idle")
    if idle:
        add("| 4 | idle %.0f s: wakeups (the server closes the kept-alive connection after "
            "%d s) | %d | | | none (no watchdog configured) | %s |"
            % (idle["seconds"], idle["server_closes_after"], idle["wakeups"],
               yes(idle["wakeups"] == 0)))
        if idle.get("syscalls") is not None:
            top = ", ".join("%s %d" % kv for kv in sorted(idle["syscall_table"].items(),
                                                          key=lambda kv: -kv[1])[:4])
            add("| 4 | idle %.0f s: system calls (strace -C) | %d | %s | | | |"
                % (idle["seconds"], idle["syscalls"], top or "none"))
    mem = res.get("memory")
    if mem:
        pts = mem["points"]
        for pt in pts:
            pd = pt["smaps"]["Private_Dirty"]
            what = "after start" if pt["cycles"] == 0 else "after %s cycles (%.1f ms each)" % (
                format(pt["cycles"], ","), pt["ms_per_cycle"])
            add("| 4 | private dirty, %s | %.2f MB | RSS %.2f MB | | <= 3 MB | %s |"
                % (what, pd / KB, pt["smaps"]["Rss"] / KB, yes(pd <= 3 * KB)))
        k = [p for p in pts if p["cycles"] == 1000]
        if k and pts[-1]["cycles"] > 1000:
            grow = pts[-1]["smaps"]["Private_Dirty"] - k[0]["smaps"]["Private_Dirty"]
            add("| 4 | growth from 1,000 to %s cycles | %+d kB (%.1f kB per cycle) | | "
                "| flat (<= %d kB) | %s |"
                % (format(pts[-1]["cycles"], ","), grow,
                   grow / (pts[-1]["cycles"] - 1000), FLAT_KB, yes(grow <= FLAT_KB)))
        ne = mem.get("no_events")
        if ne:
            add("| 4 | same, page whose table never changes (no events): private dirty after "
                "start / %s / %s cycles | %s MB | | | | |"
                % (" / ".join(format(p["cycles"], ",") for p in ne[1:2]),
                   format(ne[-1]["cycles"], ","),
                   " / ".join("%.2f" % (p["smaps"]["Private_Dirty"] / KB) for p in ne)))
    sc = res.get("scale")
    if sc:
        for x in sc:
            n = x["n"]
            pd = x["smaps"]["Private_Dirty"]
            add("| 5 | %d treaties, one host (20 ms answers): a full cycle (refresh of all), "
                "each treaty fetched once, none failing | %.1f s wall | first round after "
                "start %.1f s | | | |"
                % (n, x["cycle_wall_s"], x["first_round_s"]))
            add("| 5 | %d treaties: daemon CPU per treaty per cycle | %.2f ms | parse child "
                "%.2f ms more | | <= 1.5 ms (600) | %s |"
                % (n, x["cpu_ms_per_treaty"], x["child_cpu_ms_per_treaty"],
                   yes(x["cpu_ms_per_treaty"] <= 1.5) if n == 600 else ""))
            add("| 5 | %d treaties: most connections open to the host at once (kernel's "
                "table, %s samples) | %d | answers in progress as the server's threads time "
                "them (they run late under load): %d; host_concurrency %d | | "
                "<= host_concurrency | %s |"
                % (n, format(x["conn_samples"], ","), x["conns_peak"],
                   x["server_overlap_peak"], SCALE_CONCURRENCY,
                   yes(x["conns_peak"] <= SCALE_CONCURRENCY)))
            add("| 5 | %d treaties: private dirty after the cycles | %.2f MB | %.1f kB per "
                "treaty; parse child %s | | <= 16 MB (600) | %s |"
                % (n, pd / KB, pd / n,
                   "%.2f MB" % (x["child_private_dirty_kb"] / KB)
                   if x["child_private_dirty_kb"] is not None else "?",
                   yes(pd <= 16 * KB) if n == 600 else ""))
            add("| 5 | %d treaties: status (all, %s kB reply), median | %.2f ms just after "
                "a change | %.2f ms repeated (cached) | | <= 25 ms (600) | %s |"
                % (n, format(x["status_bytes"] // 1024, ","), x["status_first_us"] / 1000,
                   x["status_us"] / 1000,
                   yes(max(x["status_us"], x["status_first_us"]) <= 25000)
                   if n == 600 else ""))
            add("| 5 | %d treaties: restart with their state to the first answered request "
                "| %.0f ms | of which CPU %.0f ms; first start (no state) %.0f ms | | "
                "<= 500 ms (600) | %s |"
                % (n, x["restart_s"] * 1000, x["restart_cpu_ms"], x["first_start_s"] * 1000,
                   yes(x["restart_s"] <= 0.5) if n == 600 else ""))
    return "\n".join(rows)


def busy(seconds=1.0):
    """The fraction of all CPUs busy over a short sample (others' load skews figures)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def versions():
    """Debian versions of what is measured or compared, when dpkg knows them."""
    pkgs = ("libcurl4", "libxml2", "libjansson4", "libev4", "urlwatch", "libxml2-utils",
            "curl")
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + list(pkgs),
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return ", ".join(line for line in p.stdout.splitlines() if line.strip())


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return "%s, %d CPUs, %.0f GiB, Linux %s" % (cpu, os.cpu_count(), mem, platform.release())


def main():
    ap = argparse.ArgumentParser(description="ratd benchmarks (make bench).")
    ap.add_argument("--build", default="build/O2")
    ap.add_argument("--quick", action="store_true", help="fewer runs, shorter windows")
    ap.add_argument("--cycles", type=int, default=10000)
    ap.add_argument("--control-cycles", type=int, default=3000,
                    help="cycles of the page without events (memory phase)")
    ap.add_argument("--only", default=",".join(PHASES))
    ap.add_argument("-k", "--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    only = args.only.split(",")
    if not 1000 < args.cycles <= 100000 or not 1000 < args.control_cycles <= 100000:
        ap.error("--cycles and --control-cycles must be within 1001..100000")
    args.build = os.path.abspath(args.build)
    os.chdir(REPO)
    # Every tool here (libcurl, curl, requests, urllib) would send the loopback traffic
    # to a proxy named in the environment.
    for k in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(k, None)
        os.environ.pop(k.upper(), None)
    tmp = tempfile.mkdtemp(prefix="ratd-bench-")
    res = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "busy_before": busy()}
    if res["busy_before"] > 0.10:
        log("warning: the machine is %.0f%% busy before the run: figures will suffer"
            % (100 * res["busy_before"]))
    t0 = time.monotonic()
    srv = d2 = None
    failed = []
    try:
        srv = PageServer(tmp)
        for ph in PHASES:
            if ph not in only:
                continue
            log("phase %s" % ph)
            try:
                if ph == "parse":
                    phase_parse(args, tmp, res)
                elif ph == "check":
                    phase_check(args, tmp, res, srv)
                elif ph == "memory":
                    phase_memory(args, tmp, res, srv)
                elif ph == "scale":
                    phase_scale(args, tmp, res, srv)
                elif ph in ("socket", "idle"):
                    if d2 is None:
                        d2 = Daemon(args.build, tmp, "socket", srv.url()).start()
                    if ph == "socket":
                        phase_socket(args, tmp, res, srv, d2)
                    else:
                        phase_idle(args, tmp, res, d2)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
                log("phase %s failed: %s" % (ph, e))
                failed.append(ph)
    finally:
        d = res.get("state", {}).pop("check_daemon", None)
        for x in (d, d2):
            if x is not None:
                x.stop()
        if srv is not None:
            srv.stop()
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    res.pop("state", None)
    res["seconds"] = time.monotonic() - t0
    with open("/proc/loadavg") as f:
        res["loadavg_after"] = f.read().split()[:3]
    res["versions"] = versions()
    text = ("Machine: %s. Run %s, took %.0f s; CPUs %.0f%% busy before it, load average "
            "after it %s.\nPackages: %s.\n\n%s\n"
            % (res["machine"], res["started"], res["seconds"], 100 * res["busy_before"],
               " ".join(res["loadavg_after"]), res["versions"], table(res)))
    print(text)
    with open(os.path.join(args.build, "bench-results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.build, "bench-results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    if failed:
        log("phases that could not run: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
