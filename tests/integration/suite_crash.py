#!/usr/bin/env python3
"""Crash safety: ratd SIGKILLed hundreds of times while it commits and delivers.

    python3 tests/integration/suite_crash.py --build build [-k] [-v] [TEST...]

kill_loop: the fixture server alternates between the 13 and 14 March 2003 pages, so
every fetch commits a change and raises events; an exec sink appends each event id to a
file (O_APPEND). Each cycle starts ratd, fires refreshes and SIGUSR1 without waiting,
sleeps 0-150 ms (longer where commits do not keep up) and SIGKILLs ratd and its hooks'
process groups. After every restart: the state loads, history ids increase strictly, no
event listed before a kill (by history, by a watcher, or by a delivery) is missing,
journal.jsonl holds valid lines. At the end every journaled event has been delivered at
least once, in order; a duplicate is allowed only for a delivery a kill interrupted (at
most one per kill).
corrupt_files: a garbage or truncated state file, a journal cut mid-line.
orphan_outbox: events a treaty removed from the configuration had not journaled.
state_dir_safety: a state_dir others can write, a link at ratd.lock, temporaries left.
"""
import glob
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import harness
from harness import FIXTURES, TREATY, Fail, FixtureServer, check, eq, result_of, short, wait_for
from fixture_server import Behaviour

CYCLE_BUDGET = 60.0         # seconds of kill cycles; the rest of the budget is for checks
MIN_KILLS = 200
MAX_KILLS = 400
PAGES = ("IV-13.2003-03-13.html", "IV-13.2003-03-14.html")

HOOK_SH = """#!/bin/sh
# Test exec sink: one line per delivery; a short write with O_APPEND (>>) is atomic.
echo "$RATD_EVENT_ID" >> %s
"""


class AltServer(FixtureServer):
    """/page answers the two pages in turn, one per request."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._turn = 0
        self._pages = []
        for name in PAGES:
            with open(os.path.join(FIXTURES, name), "rb") as f:
                self._pages.append(f.read())

    def _behaviour_for(self, path):
        if path != "/page":
            return super()._behaviour_for(path)
        with self._lock:
            body = self._pages[self._turn % len(self._pages)]
            self._turn += 1
        return Behaviour(body=body, name="alternating")


# --- processes ------------------------------------------------------------------------

def children_of(pid):
    """Pids whose parent is pid (scan of /proc: no /proc/PID/task/*/children here)."""
    kids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat, "rb") as f:
                text = f.read()
        except OSError:
            continue
        rest = text[text.rfind(b")") + 2:].split()
        if len(rest) > 2 and int(rest[1]) == pid:
            kids.append(int(stat.split("/")[2]))
    return kids


def hard_kill(proc):
    """SIGKILL ratd and its hooks' process groups (each hook leads its own group).
    SIGSTOP first: a stopped ratd spawns no hook between the scan and the kill."""
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    kids = children_of(proc.pid)
    proc.kill()
    for k in kids:
        for fn in (os.killpg, os.kill):
            try:
                fn(k, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    proc.wait()
    return kids


def start_ratd(ctx, conf):
    log = open(ctx.log, "ab")
    try:
        log.write(b"--- ratd -c %s (%s)\n" % (conf.encode(), time.strftime("%H:%M:%S").encode()))
        log.flush()
        proc = subprocess.Popen([harness.RATD, "-c", conf], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, cwd=ctx.dir, env=ctx.env)
        proc.log_from = log.tell()
        return proc
    finally:
        log.close()


def request(path, obj, timeout=3.0):
    return harness.sock_request(path, obj, timeout)


def wait_ping(ctx, proc, timeout=5.0):
    """Polls the socket every 5 ms until ping answers."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            with open(ctx.log, "rb") as f:
                f.seek(proc.log_from)
                said = f.read().decode("utf-8", "replace")
            raise Fail("ratd exited with status %s at start; it logged: %r"
                       % (proc.returncode, short(said, 2000)))
        try:
            if request(ctx.sock, {"cmd": "ping"}, 1.0).get("ok"):
                return
        except (OSError, Fail):
            pass
        time.sleep(0.005)
    raise Fail("ratd did not answer ping within %.0f s of its start" % timeout)


def fire(ctx, what):
    """A request nobody waits for (the connection stays open until the kill)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(ctx.sock)
        s.sendall(what)
    except OSError:
        s.close()
        return None
    return s


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def journal_check(ctx):
    """journal.jsonl: every complete line a valid event, ids increasing. Returns (ids,
    whether the last line was cut short by the kill)."""
    data = read_lines(os.path.join(ctx.state, "journal.jsonl"))
    lines = data.split(b"\n")
    torn = lines.pop() != b""
    ids = []
    for i, line in enumerate(lines, 1):
        try:
            ev = json.loads(line)
        except ValueError:
            raise Fail("journal.jsonl line %d is not JSON: %r" % (i, short(line)))
        check(isinstance(ev, dict) and isinstance(ev.get("id"), int) and ev.get("type"),
              "journal.jsonl line %d is not an event: %r" % (i, short(line)))
        check(not ids or ev["id"] > ids[-1],
              "journal.jsonl line %d: id %d after %d" % (i, ev["id"], ids[-1] if ids else 0))
        ids.append(ev["id"])
    return ids, torn


def all_history(ctx):
    res = result_of(request(ctx.sock, {"cmd": "history", "limit": 10000}, 5.0), "history")
    evs = res.get("events")
    check(isinstance(evs, list), "history without events")
    return evs


def delivered_ids(path):
    out = []
    for line in read_lines(path).split(b"\n"):
        if line.strip():
            check(line.strip().isdigit(), "hook output line %r" % line)
            out.append(int(line))
    return out


def watcher_events(s):
    """Event ids a watcher had received (whatever the kernel buffered before the kill)."""
    buf = b""
    s.setblocking(False)
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    except (BlockingIOError, ConnectionResetError):
        pass
    ids = []
    for line in buf.split(b"\n")[1:]:           # the first line is the watch reply
        try:
            ids.append(json.loads(line)["event"]["id"])
        except (ValueError, KeyError, TypeError):
            pass                                # a line cut by the kill
    return ids


def setup(ctx, extra=""):
    ctx.server = AltServer(FIXTURES).start()
    url = ctx.server.url("/page")
    out = os.path.join(ctx.dir, "deliveries")
    hook = harness.write_script(ctx, "hook.sh", HOOK_SH % out)
    conf = ctx.write_conf(url, ratd={"timeout": "3s"},
                          extra="\n[alert hook]\nexec = %s\ntimeout = 5s\n%s" % (hook, extra))
    return conf, out


# --- the tests ------------------------------------------------------------------------

def test_kill_loop(ctx):
    conf, out = setup(ctx)
    rng = random.Random(os.getpid() ^ int(time.time()))
    # First start: the baseline commit, then kills.
    proc = start_ratd(ctx, conf)
    try:
        wait_ping(ctx, proc)
        wait_for(lambda: result_of(request(ctx.sock, {"cmd": "status"}), "status")
                 ["treaties"][0]["source"]["state"] == "ok", 5, "the baseline commit")
    except Exception:
        hard_kill(proc)
        raise
    known = {}                  # id -> event (or None: id only) of every event seen so far
    kills = torn = 0
    boundaries = set()          # deliveries made when each kill struck
    kids_killed = 0
    # Kills must often come after a commit, or the cycles test nothing (the end wants at
    # least an event per kill). Where a restart and a commit take longer (a sanitizer, a
    # busy machine), the window before the kill grows until they keep up.
    window_max = 0.150
    t_end = time.monotonic() + min(CYCLE_BUDGET, harness.left() - 25)
    while kills < MAX_KILLS and (time.monotonic() < t_end or kills < MIN_KILLS):
        if harness.left() < 20:
            break
        socks = []
        w = None
        try:
            if kills:
                proc = start_ratd(ctx, conf)
                wait_ping(ctx, proc)
                # After every restart: the state loaded, nothing seen is missing.
                st = result_of(request(ctx.sock, {"cmd": "status", "treaty": TREATY}),
                               "status")["treaties"][0]
                eq(st["source"].get("state"), "ok", "source.state after kill #%d" % kills)
                check(st.get("parties") in (19, 21), "parties after kill #%d: %r"
                      % (kills, st.get("parties")))
                evs = all_history(ctx)
                ids = [e["id"] for e in evs]
                bad = [b for a, b in zip(ids, ids[1:]) if b <= a]
                check(not bad, "history ids not strictly increasing after kill #%d: %r"
                      % (kills, bad[:5]))
                have = {e["id"]: e for e in evs}
                lost = [i for i in known if i not in have]
                check(not lost, "events seen before kill #%d (by history, a watcher or the "
                      "hook) are gone after it: %r" % (kills, sorted(lost)[:10]))
                changed = [i for i, e in known.items() if e is not None and have[i] != e]
                check(not changed, "events whose content changed across kill #%d: %r"
                      % (kills, changed[:5]))
                known.update(have)
            # A watcher, then refreshes every 30 ms and SIGUSR1 now and then; then a kill.
            w = fire(ctx, b'{"cmd": "watch"}\n')
            if w is not None:
                socks.append(w)
            window = rng.uniform(0, window_max)
            t0 = time.monotonic()
            while True:
                if rng.random() < 0.25:
                    proc.send_signal(signal.SIGUSR1)
                else:
                    s = fire(ctx, b'{"cmd": "refresh"}\n')
                    if s is not None:
                        socks.append(s)
                rest = window - (time.monotonic() - t0)
                if rest <= 0:
                    break
                time.sleep(min(rest, 0.030))
            listed = []
            if rng.random() < 0.5:
                try:
                    listed = all_history(ctx)
                except (OSError, Fail):
                    listed = []
            kids_killed += len(hard_kill(proc))
            kills += 1
            boundaries.add(len(delivered_ids(out)))
        except Exception:
            if proc.poll() is None:
                hard_kill(proc)
            raise
        finally:
            seen_by_watcher = watcher_events(w) if w is not None else []
            for s in socks:
                s.close()
        for e in listed:
            known[e["id"]] = e
        # What a watcher or the hook was told, the journal had on disk first.
        jids, cut = journal_check(ctx)
        torn += cut
        told = seen_by_watcher + delivered_ids(out)
        early = sorted(set(told) - set(jids))
        check(not early, "events sent to a watcher or the hook but not in journal.jsonl at "
              "kill #%d: %r" % (kills, early[:10]))
        for i in told:
            known.setdefault(i, None)
        if kills % 20 == 0 and len(jids) < kills:
            window_max = min(1.0, window_max * 1.5)

    # A clean start: every pending delivery completes.
    proc = start_ratd(ctx, conf)
    rc = None
    try:
        wait_ping(ctx, proc)

        def drained():
            st = result_of(request(ctx.sock, {"cmd": "status"}), "status")
            sinks = st.get("alerts") or []
            return sinks and all(s.get("pending") == 0 for s in sinks)
        wait_for(drained, 15, "the exec sink to catch up", interval=0.05)
        time.sleep(0.1)
        evs = all_history(ctx)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                hard_kill(proc)
                rc = "killed"
        else:
            rc = proc.returncode
    eq(rc, 0, "exit status of the last ratd on SIGTERM")
    ids = [e["id"] for e in evs]
    lost = [i for i in known if i not in set(ids)]
    check(not lost, "events seen before a kill missing at the end: %r" % sorted(lost)[:10])
    jids, cut = journal_check(ctx)
    check(not cut, "journal.jsonl ends with a cut line after a clean stop")
    eq(jids, ids, "journal.jsonl ids and history ids at the end")
    got = delivered_ids(out)
    missing = sorted(set(ids) - set(got))
    check(not missing, "%d journaled events never delivered: %r" % (len(missing), missing[:10]))
    extra = sorted(set(got) - set(ids))
    check(not extra, "delivered ids that are not in the journal: %r" % extra[:10])
    collapsed = [i for k, i in enumerate(got) if k == 0 or got[k - 1] != i]
    disorder = [(a, b) for a, b in zip(collapsed, collapsed[1:]) if b <= a]
    check(not disorder, "deliveries out of order (after collapsing immediate repeats): %r"
          % disorder[:5])
    dups = len(got) - len(set(got))
    check(dups <= kills, "%d duplicate deliveries for %d kills" % (dups, kills))
    # A repeat is the interrupted delivery done again: the first one after a restart.
    stray = [k for k in range(1, len(got)) if got[k] == got[k - 1] and k not in boundaries]
    check(not stray, "events delivered twice without a kill in between: %r"
          % [got[k] for k in stray[:10]])
    check(kills >= MIN_KILLS, "only %d kills within the budget" % kills)
    check(len(ids) >= kills, "only %d events over %d kill cycles: the cycles committed "
          "too little to test anything" % (len(ids), kills))
    return ("%d kills, %d events journaled, %d deliveries, %d duplicates, %d torn journal "
            "tails, %d hook processes killed; kill windows up to %.0f ms"
            % (kills, len(ids), len(got), dups, torn, kids_killed, window_max * 1000))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        hard_kill(proc)
        raise Fail("ratd did not stop on SIGTERM")


def run_until_events(ctx, conf, n):
    """Starts ratd, refreshes until n events are journaled, stops it; returns the events."""
    proc = start_ratd(ctx, conf)
    try:
        wait_ping(ctx, proc)
        wait_for(lambda: result_of(request(ctx.sock, {"cmd": "status"}), "status")
                 ["treaties"][0]["source"]["state"] == "ok", 5, "the first commit")
        for _ in range(10):
            if len(all_history(ctx)) >= n:
                break
            result_of(request(ctx.sock, {"cmd": "refresh"}, 10), "refresh")
        evs = all_history(ctx)
    except Exception:
        hard_kill(proc)
        raise
    eq(stop(proc), 0, "exit status on SIGTERM")
    check(len(evs) >= n, "only %d events after 10 refreshes" % len(evs))
    return evs


def aside(ctx, name):
    return glob.glob(os.path.join(ctx.state, name + ".corrupt-*"))


def journaled_run(ctx):
    """setup, then a run until 4 events: (conf, the events, the journal's path, the
    treaty's state file's path)."""
    conf, out = setup(ctx)
    evs = run_until_events(ctx, conf, 4)
    return (conf, evs, os.path.join(ctx.state, "journal.jsonl"),
            os.path.join(ctx.state, TREATY + ".json"))


def test_corrupt_files(ctx):
    conf, evs, path_j, path_s = journaled_run(ctx)
    last = evs[-1]

    # 1. The journal cut in the middle of its last line: the copy is kept, the line is
    # dropped, and its event comes back from the treaty's outbox.
    data = read_lines(path_j)
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    with open(path_j, "wb") as f:
        f.write(data[:start + (len(data) - start) // 2])
    n = len(ctx.log_text())
    proc = start_ratd(ctx, conf)
    try:
        wait_ping(ctx, proc)
        after = all_history(ctx)
        st = result_of(request(ctx.sock, {"cmd": "status"}), "status")["treaties"][0]
    finally:
        rc = stop(proc)
    log = ctx.log_text()[n:]
    eq(rc, 0, "exit status after a start on a cut journal")
    check(aside(ctx, "journal.jsonl"), "no journal.jsonl.corrupt-* kept (state dir: %r)"
          % os.listdir(ctx.state))
    check(re.search(r"journal: line \d+ is incomplete", log),
          "no log line about the incomplete journal line:\n%s" % log)
    check(re.search(r"unusable lines? in .*journal\.jsonl.*kept as .*journal\.jsonl\.corrupt-",
                    log), "no log line naming the kept copy of the journal:\n%s" % log)
    eq([e["id"] for e in after], [e["id"] for e in evs],
       "event ids after a restart on a cut journal (the cut event from the outbox)")
    eq(after[-1], last, "the event whose journal line was cut")
    eq(st["source"].get("state"), "ok", "source.state after a restart on a cut journal")

    # 2. Garbage in the state file, then a state file cut in half.
    with open(path_s, "rb") as f:
        good = f.read()
    for what, junk in (("garbage", b'{"version": 1, "snapshot": [\x00\xff' * 40),
                       ("a truncated state file", good[:len(good) // 2])):
        before = set(aside(ctx, TREATY + ".json"))
        with open(path_s, "wb") as f:
            f.write(junk)
        n = len(ctx.log_text())
        proc = start_ratd(ctx, conf)
        try:
            wait_ping(ctx, proc)
            st = result_of(request(ctx.sock, {"cmd": "status"}), "status")["treaties"][0]
            check(st["source"].get("state") in ("none", "seed", "ok"),
                  "source.state at start on %s: %r" % (what, st["source"].get("state")))
            r = result_of(request(ctx.sock, {"cmd": "refresh"}, 10), "refresh")
            eq(r["treaties"][0].get("result"), "changed", "first refresh after %s" % what)
            r = result_of(request(ctx.sock, {"cmd": "refresh"}, 10), "refresh")
            eq(r["treaties"][0].get("result"), "changed", "second refresh after %s" % what)
            now = all_history(ctx)
            st = result_of(request(ctx.sock, {"cmd": "status"}), "status")["treaties"][0]
        finally:
            rc = stop(proc)
        eq(rc, 0, "exit status after a start on %s" % what)
        new = sorted(set(aside(ctx, TREATY + ".json")) - before)
        eq(len(new), 1, "new %s.json.corrupt-* files after %s" % (TREATY, what))
        with open(new[0], "rb") as f:
            eq(f.read(), junk, "the content kept aside for %s" % what)
        log = ctx.log_text()[n:]
        m = re.search(r"error: IV-13: state file corrupt, starting afresh: .*moved aside to (\S+)",
                      log)
        check(m, "no log line saying the state file was moved aside (%s):\n%s" % (what, log))
        eq(m.group(1), new[0], "the file the log line names")
        eq(st["source"].get("state"), "ok", "source.state after %s and a refresh" % what)
        ids = [e["id"] for e in now]
        eq(ids[:len(evs)], [e["id"] for e in evs], "old events kept after %s" % what)
        check(len(ids) > len(evs) and ids == sorted(set(ids)),
              "new events after %s: ids %r (before: up to %d)" % (what, ids[-5:], evs[-1]["id"]))
        evs = now


def test_orphan_outbox(ctx):
    """A treaty removed from the configuration while the journal refused its last events
    (a full disk), then a restart: they come back from its state file, once."""
    conf, evs, path_j, path_s = journaled_run(ctx)
    last = evs[-1]
    # The journal never got the last event; the treaty that raised it is gone from the
    # configuration, its state file is still there (as XX-1.json, a treaty id the
    # configuration does not have).
    data = read_lines(path_j)
    with open(path_j, "wb") as f:
        f.write(data[:data.rstrip(b"\n").rfind(b"\n") + 1])
    with open(path_s) as f:
        state = json.load(f)
    check(any(e["id"] == last["id"] for e in state["outbox"]),
          "the last event is not in the state file's outbox: %r" % state["outbox"])
    state["treaty"] = "XX-1"
    with open(os.path.join(ctx.state, "XX-1.json"), "w") as f:
        json.dump(state, f)
    os.unlink(path_s)
    # Another one that cannot be read is named, not skipped in silence.
    with open(os.path.join(ctx.state, "XX-2.json"), "wb") as f:
        f.write(b'{"version": 1, "outbox": [\x00')
    for run in ("the first start", "a second start"):
        n = len(ctx.log_text())
        proc = start_ratd(ctx, conf)
        try:
            wait_ping(ctx, proc)
            after = [e for e in all_history(ctx) if e["id"] <= last["id"]]
        finally:
            rc = stop(proc)
        eq(rc, 0, "exit status after %s with XX-1.json" % run)
        eq([e["id"] for e in after], [e["id"] for e in evs],
           "event ids after %s (the last from XX-1.json, once)" % run)
        eq(after[-1], last, "the event recovered from XX-1.json")
        said = ctx.log_text()[n:]
        recovered = re.search(r"XX-1\.json, of a treaty no longer configured, holds 1 event "
                              r"not in the journal: recovering it", said)
        check(re.search(r"XX-2\.json, of a treaty no longer configured, cannot be read "
                        r"\(.*\): events in it that the journal lacks are not recovered", said),
              "no log line about the unreadable XX-2.json at %s:\n%s" % (run, said))
        if run == "the first start":
            check(recovered, "no log line about XX-1.json's events:\n%s" % said)
        else:
            check(not recovered, "XX-1.json's event recovered twice:\n%s" % said)


def refused_start(ctx, conf, what):
    """Runs ratd, which must exit 1 at once; returns what it logged."""
    proc = start_ratd(ctx, conf)
    try:
        rc = proc.wait(harness.bounded(5))
    except subprocess.TimeoutExpired:
        stop(proc)
        raise Fail("ratd kept running with %s" % what)
    with open(ctx.log, "rb") as f:
        f.seek(proc.log_from)
        said = f.read().decode("utf-8", "replace")
    eq(rc, 1, "exit status with %s (log: %s)" % (what, short(said, 800)))
    return said


def test_state_dir_safety(ctx):
    """A state_dir others can write is refused; links are never followed; what a crash
    left behind is removed at start."""
    conf, out = setup(ctx)
    victim_dir = os.path.join(ctx.dir, "victim")
    os.makedirs(victim_dir)
    victim = os.path.join(victim_dir, "nologin")
    for mode in (0o777, 0o775, 0o1777):
        os.chmod(ctx.state, mode)
        said = refused_start(ctx, conf, "state_dir mode %04o" % mode)
        check(re.search(r"error: unsafe state_dir: %s is writable by .*chmod go-w %s"
                        % (re.escape(ctx.state), re.escape(ctx.state)), said),
              "no log line refusing state_dir mode %04o and saying what to do:\n%s"
              % (mode, said))
        eq(os.listdir(ctx.state), [], "state_dir after a refused start (mode %04o)" % mode)
    os.chmod(ctx.state, 0o750)

    # A link at the lock file: refused, and its target is not created.
    lock = os.path.join(ctx.state, "ratd.lock")
    os.symlink(victim, lock)
    said = refused_start(ctx, conf, "a symbolic link at ratd.lock")
    check(re.search(r"error: cannot open %s: .*symbolic link" % re.escape(lock), said),
          "no log line refusing the link at ratd.lock:\n%s" % said)
    check(not os.path.lexists(victim), "ratd created the lock link's target")
    os.unlink(lock)

    # Temporaries a crash left (of today's and of older versions' names) go at start;
    # a link among them is removed, not followed.
    with open(victim, "w") as f:
        f.write("precious\n")
    os.chmod(victim, 0o600)
    stale = [".%s.json.tmp-Ab3dEf9Z" % TREATY, ".journal.jsonl.tmp",
             ".alerts.json.tmp-00000000"]
    for name in stale[:2]:
        with open(os.path.join(ctx.state, name), "w") as f:
            f.write("{")
    os.symlink(victim, os.path.join(ctx.state, stale[2]))
    proc = start_ratd(ctx, conf)
    try:
        wait_ping(ctx, proc)
        wait_for(lambda: result_of(request(ctx.sock, {"cmd": "status"}), "status")
                 ["treaties"][0]["source"]["state"] == "ok", 5, "the baseline commit")
    finally:
        rc = stop(proc)
    eq(rc, 0, "exit status after a start over stale temporaries")
    left = [n for n in os.listdir(ctx.state) if n.startswith(".")]
    eq(left, [], "temporaries in state_dir after a start and a commit")
    with open(victim) as f:
        eq(f.read(), "precious\n", "the stale link's target")
    eq(os.stat(victim).st_mode & 0o7777, 0o600, "the stale link's target's mode")
    check(re.search(r"removed 3 temporary files an interrupted write left in %s"
                    % re.escape(ctx.state), ctx.log_text()),
          "no log line about the removed temporaries")


if __name__ == "__main__":
    # A sanitizer build (make SANITIZE=1) restarts several times more slowly: the harness
    # doubles the budget there.
    sys.exit(harness.main(harness.Suite("crash", 90, sys.modules[__name__])))
