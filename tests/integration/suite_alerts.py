#!/usr/bin/env python3
"""Integration tests for "Alerts that can be trusted", stdlib only.
The contract: man/ratd.8 (EVENTS, ALERT DELIVERY, EXEC ALERTS) and man/ratctl.1.

    python3 tests/integration/suite_alerts.py --build build [-k] [-v] [TEST...]

Builds on harness.py (Ctx, Daemon, the fixture server); adds a local SMTP server
(alerts/smtp_sink.py) and an exec hook that hangs on its first run (alerts/hang_once.sh).
Loopback only; every wait is bounded; the whole suite ends within 75 s.
"""
import datetime
import email
import errno
import email.policy
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import harness
from harness import (DELIVERY_WAIT, TREATY, Fail, check, delivered, eq, error_code, exec_sink,
                     history, parse_time, posts, result_of, short, wait_for)

sys.path.insert(0, os.path.join(harness.HERE, "alerts"))
from smtp_sink import SmtpSink  # noqa: E402

ALERTS_DIR = os.path.join(harness.HERE, "alerts")
BUDGET = 120
OTHER = "IV-13-copy"


# --- helpers -------------------------------------------------------------------------

def start(ctx, file="IV-13.2003-03-13.html", extra="", ratd=None, args=()):
    """Serves file at /page, starts ratd with extra config (and args), waits for the
    baseline."""
    url = ctx.serve(file=file)
    conf = ctx.write_conf(url, ratd=ratd, extra=extra)
    d = ctx.daemon(conf, args=args)
    d.wait_state("ok")
    return d, conf, url


def reach_threshold(ctx, d):
    """2003-03-13 -> 2003-03-14: the 20th instrument; returns (events, threshold-reached)."""
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    evs = history(d)
    thr = [e for e in evs if e.get("type") == "threshold-reached"]
    eq(len(thr), 1, "threshold-reached events in history (%r)" % [e.get("type") for e in evs])
    return evs, thr[0]


def sinks(d):
    res = result_of(d.request({"cmd": "status"}), "status")
    check(isinstance(res.get("alerts"), list), "status has no alerts list: %s"
          % short(json.dumps(res)))
    return res["alerts"]


def sink(d, name):
    for s in sinks(d):
        if s.get("name") == name:
            return s
    raise Fail("sink %r not in status alerts" % name)


def check_hook_posts(reqs):
    for r in reqs:
        ev = json.loads(r.body)
        check(r.header("Content-Type", "").startswith("application/json"),
              "webhook Content-Type %r" % r.header("Content-Type"))
        eq(r.header("X-Ratd-Event"), ev.get("type"), "X-Ratd-Event")
        eq(r.header("X-Ratd-Event-Id"), str(ev.get("id")), "X-Ratd-Event-Id")


def install_hook(ctx, name, script="hang_once.sh"):
    """Copies a hook from alerts/ into its own directory in the test's dir."""
    d = os.path.join(ctx.dir, name)
    os.makedirs(d)
    path = os.path.join(d, script)
    shutil.copy(os.path.join(ALERTS_DIR, script), path)
    os.chmod(path, 0o755)
    return path, d


def read_pids(hook_dir):
    with open(os.path.join(hook_dir, "hang.pid")) as f:
        return [int(x) for x in f.read().split()]


def gone(pid):
    """True once pid no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def recorded(hook_dir):
    """Events the hook recorded (got.jsonl), in order."""
    try:
        with open(os.path.join(hook_dir, "got.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def ids_of(evs):
    return [e.get("id") for e in evs]


def log_since(ctx, mark):
    return ctx.log_text()[mark:]


class Output:
    """A child's stdout read without blocking: complete lines as they come."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.lines = []

    def pump(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.fd, selectors.EVENT_READ)
        try:
            if sel.select(timeout=max(0.0, timeout)):
                try:
                    chunk = os.read(self.fd, 65536)
                except BlockingIOError:
                    chunk = b""
                self.buf += chunk
        finally:
            sel.close()
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line.decode("utf-8", "replace"))

    def until(self, pred, timeout, what):
        end = time.monotonic() + harness.bounded(timeout)
        while True:
            got = pred(self.lines)
            if got:
                return got
            rest = end - time.monotonic()
            if rest <= 0:
                raise Fail("timed out after %.1fs waiting for %s (lines: %s)"
                           % (timeout, what, short(repr(self.lines))))
            self.pump(min(rest, 0.2))


def watcher(ctx, *args):
    p = subprocess.Popen([harness.RATCTL, "-s", ctx.sock] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctx.env)
    return p, Output(p)


# --- 1. webhook ----------------------------------------------------------------------

def test_webhook_three_failures(ctx):
    url = ctx.serve(file="IV-13.2003-03-13.html")
    ctx.server.set_post("/hook", [500, 500, 503, 200])
    conf = ctx.write_conf(url, extra="\n[alert hook]\nwebhook = %s\nevents = threshold-reached\n"
                          "timeout = 5s\n" % ctx.server.url("/hook"))
    d = ctx.daemon(conf)
    d.wait_state("ok")
    time.sleep(0.2)
    eq(posts(ctx), [], "webhook POSTs for the baseline (must be silent)")
    t0 = time.time()
    evs, thr = reach_threshold(ctx, d)

    # While the first answer is a 500: pending, the error shown, a next try planned.
    wait_for(lambda: posts(ctx) and posts(ctx)[0].status == 500, 3, "the first webhook POST")
    # The answer is on its way back: until ratd has read it, the sink shows no error yet.
    s = wait_for(lambda: (lambda x: x if x.get("last_error") else None)(sink(d, "hook")), 3,
                 "the sink to show the 500 as last_error")
    eq(s.get("pending"), 1, "sink pending after a 500")
    check("500" in (s.get("last_error") or ""), "sink last_error after a 500: %r"
          % s.get("last_error"))
    check(s.get("next_try") is not None, "sink next_try after a 500: %r" % s.get("next_try"))

    def acked():
        return [r for r in posts(ctx) if r.status is not None and 200 <= r.status < 300]
    try:
        wait_for(acked, 15 - (time.time() - t0), "a 2xx-acknowledged POST")
    except Fail as e:
        raise Fail("%s; answers so far: %r" % (e, [r.status for r in posts(ctx)]))
    took = acked()[0].time - t0
    time.sleep(1.5)                         # nothing more may come after the 2xx
    reqs = posts(ctx)
    eq([r.status for r in reqs], [500, 500, 503, 200],
       "webhook answers, one POST per try, none after the 2xx")
    check_hook_posts(reqs)
    eq([json.loads(r.body).get("id") for r in reqs], [thr["id"]] * 4,
       "event ids POSTed (the same event retried until acknowledged)")
    eq([r.header("X-Ratd-Event-Id") for r in reqs], [str(thr["id"])] * 4, "X-Ratd-Event-Id")
    eq(json.loads(reqs[-1].body), thr, "the acknowledged event (as history has it)")
    gaps = [b.time - a.time for a, b in zip(reqs, reqs[1:])]
    for i, (gap, cap) in enumerate(zip(gaps, (2.0, 2.5, 4.5))):
        check(0.5 <= gap <= cap, "retry #%d came %.2fs after the previous try (expected "
              "0.5..%.1f s: 1 s, then below 2 s, below 4 s); gaps %r"
              % (i + 1, gap, cap, ["%.2f" % g for g in gaps]))
    check(took < 15, "the event was acknowledged %.1fs after it was raised" % took)
    s = sink(d, "hook")
    eq((s.get("pending"), s.get("last_error")), (0, None),
       "sink pending, last_error after the 2xx")
    check(s.get("delivered", 0) >= thr["id"], "sink delivered %r after the 2xx (event %d)"
          % (s.get("delivered"), thr["id"]))
    return "retry gaps %s s" % ", ".join("%.2f" % g for g in gaps)


# --- 2. exec hook timeout ------------------------------------------------------------

def test_hook_timeout(ctx):
    hook, hdir = install_hook(ctx, "slow")
    d, conf, url = start(ctx, extra="\n[alert slow]\nexec = %s\nevents = threshold-reached\n"
                         "timeout = 2s\n" % hook)
    mark = len(ctx.log_text())
    evs, thr = reach_threshold(ctx, d)
    t0 = time.monotonic()
    pids = wait_for(lambda: os.path.exists(os.path.join(hdir, "hang.pid")) and
                    read_pids(hdir), 3, "the hook's first run to write its pids")
    eq(len(pids), 2, "pids written by the hook (shell, its sleep)")
    check(not gone(pids[0]) and not gone(pids[1]), "the hook is not running: %r" % pids)
    s = sink(d, "slow")
    eq((s.get("pending"), s.get("last_error")), (1, None),
       "sink pending, last_error while the hook runs")

    # Killed at its timeout, its process group with it; pending meanwhile with the reason.
    def timed_out():
        for s2 in ctx.ratctl_json("status").get("alerts") or []:
            if s2.get("name") == "slow" and "timeout" in (s2.get("last_error") or ""):
                return s2
        return None
    s = wait_for(timed_out, 4, "ratctl status --json to show the timeout as last_error",
                 interval=0.05)
    killed_after = time.monotonic() - t0
    eq(s.get("pending"), 1, "sink pending after the timeout (%r)" % s)
    check(s.get("delivered", 0) < thr["id"], "sink delivered %r before the retry"
          % s.get("delivered"))
    check(1.5 <= killed_after <= 3.5, "the hook was reported killed %.1fs after it started "
          "(timeout = 2s)" % killed_after)
    # ratd reaps its child: no zombie; the orphaned sleep is init's to reap.
    wait_for(lambda: not os.path.exists("/proc/%d" % pids[0]) and gone(pids[1]), 3,
             "the hook (pid %d, reaped) and its child (pid %d) to be gone" % tuple(pids))
    text = log_since(ctx, mark)
    check(re.search(r"alert slow: event %d .*tim(e|ed) ?out" % thr["id"], text),
          "no log line saying the hook for event %d was killed at its timeout:\n%s"
          % (thr["id"], text[-1500:]))

    # The retry (second run) delivers it; then nothing is pending.
    got = wait_for(lambda: recorded(hdir), 4, "the retried hook to record the event")
    eq(ids_of(got), [thr["id"]], "event ids recorded by the hook")
    eq(got[0], thr, "the event the hook got on stdin (as history has it)")
    s = wait_for(lambda: (lambda x: x if x.get("pending") == 0 else None)(sink(d, "slow")), 2,
                 "pending 0 after the retry")
    eq(s.get("last_error"), None, "sink last_error after the retry")
    check(s.get("delivered", 0) >= thr["id"], "sink delivered %r after the retry (event %d)"
          % (s.get("delivered"), thr["id"]))
    time.sleep(0.5)
    eq(ids_of(recorded(hdir)), [thr["id"]], "event ids recorded (once)")


# --- 3. mail -------------------------------------------------------------------------

def test_mail(ctx):
    smtp = SmtpSink().start()
    try:
        rcpts = ["ops@example.org", "oncall@example.net"]
        d, conf, url = start(ctx, extra="\n[alert mail]\nmailto = %s\nmailto = %s\n"
                             "smtp_url = %s\nmail_from = ratd@example.org\ntimeout = 5s\n"
                             % (rcpts[0], rcpts[1], smtp.url()))
        time.sleep(0.2)
        eq(smtp.messages(), [], "mails for the baseline (must be silent)")
        evs, thr = reach_threshold(ctx, d)
        msgs = smtp.wait(len(evs), harness.bounded(8))
        eq(len(msgs), len(evs), "mails received for %d events (SMTP transcript tail: %r)"
           % (len(evs), smtp.transcript[-8:]))
        # The sink counts a mail delivered once it has read the server's 250, which comes
        # after the message is kept: wait for that, then for anything more to have come.
        wait_for(lambda: sink(d, "mail").get("pending") == 0, 5, "mail sink pending 0")
        time.sleep(0.5)
        eq(len(smtp.messages()), len(evs), "mails received (one per event, no more)")
        by_id = {}
        for m in msgs:
            eq(m.mail_from, "ratd@example.org", "envelope sender (MAIL FROM)")
            eq(m.rcpts, rcpts, "envelope recipients (RCPT TO)")
            msg = email.message_from_bytes(m.data, policy=email.policy.default)
            body = msg.get_content() if not msg.is_multipart() else ""
            check("Event JSON:" in body, "mail body has no 'Event JSON:' part:\n%s" % body)
            try:
                ev = json.loads(body.split("Event JSON:", 1)[1].strip())
            except ValueError as e:
                raise Fail("the event JSON in the mail does not parse (%s):\n%s" % (e, body))
            check(ev.get("id") not in by_id, "two mails for event %r" % ev.get("id"))
            by_id[ev.get("id")] = (msg, body, ev)
        eq([ev["id"] for _, _, ev in by_id.values()], ids_of(evs),
           "event ids of the mails (one per event, in order)")
        for e in evs:
            msg, body, ev = by_id[e["id"]]
            eq((ev.get("type"), ev.get("treaty"), ev.get("data")),
               (e["type"], e["treaty"], e["data"]), "type, treaty, data of mail %d" % e["id"])
            check(e["summary"] in (msg["Subject"] or ""),
                  "Subject %r lacks the summary %r" % (msg["Subject"], e["summary"]))
            check("ratd@example.org" in (msg["From"] or ""), "From: %r" % msg["From"])
            for r in rcpts:
                check(r in (msg["To"] or ""), "To: %r lacks %s" % (msg["To"], r))
        msg, body, ev = by_id[thr["id"]]
        for label, value in (("Parties", "21"), ("Threshold", "20"),
                             ("Entry into force", "2003-07-01")):
            check(re.search(r"^%s:\s*%s\s*$" % (label, re.escape(value)), body, re.M),
                  "threshold-reached mail lacks '%s: %s':\n%s" % (label, value, body))
        s = sink(d, "mail")
        eq((s.get("pending"), s.get("delivered"), s.get("last_error")),
           (0, max(ids_of(evs)), None), "mail sink pending, delivered, last_error")
    finally:
        smtp.stop()


def textfile_figure(path, name):
    try:
        with open(path) as f:
            m = re.search(r"^%s (\S+)$" % re.escape(name), f.read(), re.M)
    except FileNotFoundError:
        return None
    return m.group(1) if m else None


def test_metrics_textfile(ctx):
    hook, out = harness.exec_sink(ctx, "sink")
    prom = os.path.join(ctx.dir, "prom", "ratd.prom")
    os.makedirs(os.path.dirname(prom))
    d, conf, url = start(ctx, extra="\n[alert sink]\nexec = %s\n" % hook,
                         ratd={"metrics_textfile": prom})
    eq(oct(os.stat(prom).st_mode & 0o777), oct(0o644), "default metrics_textfile_mode")
    with open(prom) as f:
        helps = [l for l in f if l.startswith("# HELP ratd_fetch_bytes_total ")]
    check(helps and "decoding" in helps[0] and "error responses" in helps[0],
          "ratd_fetch_bytes_total's HELP does not say what it counts: %r" % helps)
    evs, thr = reach_threshold(ctx, d)
    wait_for(lambda: len(delivered(out)) >= len(evs), DELIVERY_WAIT, "the sink to get every event")
    wait_for(lambda: sink(d, "sink").get("pending") == 0, 5, "status pending 0")
    t0 = time.monotonic()
    pend, dlv = 'ratd_sink_pending{sink="sink"}', 'ratd_sink_delivered_total{sink="sink"}'
    wait_for(lambda: (textfile_figure(prom, pend), textfile_figure(prom, dlv)) ==
             ("0", str(len(evs))), 5, "the textfile to say %s 0 and %s %d after the "
             "deliveries (it says %s and %s)" % (pend, dlv, len(evs),
                                                 textfile_figure(prom, pend),
                                                 textfile_figure(prom, dlv)))
    took = time.monotonic() - t0
    # Rate limit: a burst of changes (refreshes, each a status change) gives at most one
    # write a second: each atomic replace is a new file, told apart by inode and times
    # together (a freed inode number is reused at once). Only what is seen within the
    # 2.5 s counts (a slow last refresh must not stretch the window).
    versions = set()
    t1 = time.monotonic()
    while time.monotonic() - t1 < 2.5:
        d.refresh()
        try:
            st = os.stat(prom)
            version = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        except FileNotFoundError:
            version = None
        if version is not None and time.monotonic() - t1 <= 2.5:
            versions.add(version)
        time.sleep(0.05)
    check(len(versions) <= 4, "%d textfile versions in 2.5 s of refreshes (at most 1/s)"
          % len(versions))
    # The mode is configurable and a reload applies it to the next write.
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("[ratd]\n", "[ratd]\nmetrics_textfile_mode = 0640\n", 1))
    result_of(d.request({"cmd": "reload"}), "reload")
    wait_for(lambda: os.stat(prom).st_mode & 0o777 == 0o640, 3,
             "metrics_textfile_mode = 0640 after a reload")
    return "pending 0 in the textfile %.2f s after status said so" % took


def mail_host():
    """The name ratd should give in EHLO and Message-ID: the FQDN, else the host name."""
    name = socket.gethostname()
    try:
        canon = socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)[0][3]
    except OSError:
        canon = ""
    return canon if "." in canon else name


def test_mail_conventions(ctx):
    smtp = SmtpSink().start()
    try:
        rcpts = ["ops@example.org", "oncall@example.net", "board@example.com"]
        d, conf, url = start(ctx, file="IV-13.2003-03-14.html", extra=(
            "\n[alert mail]\n" + "".join("mailto = %s\n" % r for r in rcpts) +
            "smtp_url = %s\nmail_from = ratd@example.org\ntimeout = 5s\n" % smtp.url()))
        eq(sink(d, "mail").get("target"), ", ".join(rcpts), "status target of a mailto sink")
        rc, out, err, _ = ctx.ratctl("status")
        for r in rcpts:
            check(r in out, "ratctl status does not list recipient %s:\n%s" % (r, out))
        last = max([e["id"] for e in history(d, limit=1000)] or [0])
        ctx.serve(file="IV-13.html")
        eq(d.refresh().get("result"), "changed", "refresh to today's page")
        evs = [e for e in history(d, limit=1000) if e["id"] > last]
        msgs = smtp.wait(len(evs), harness.bounded(15))
        eq(len(msgs), len(evs), "mails for %d events" % len(evs))
        host, wide = mail_host(), 0
        for m in msgs:
            eq(m.helo, host, "EHLO argument")
            check(all(b < 0x80 for b in m.data), "8-bit bytes in a message whose MAIL FROM "
                  "declares no BODY=8BITMIME:\n%r" % m.data[:400])
            head, _, body = m.data.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                check(len(line) <= 78, "header line of %d characters: %r" % (len(line), line))
            msg = email.message_from_bytes(m.data, policy=email.policy.default)
            ev = json.loads(msg.get_content().split("Event JSON:", 1)[1])
            eq(str(msg["Subject"]), "[ratd] " + ev["summary"], "the unfolded, decoded Subject")
            check(re.match(r"^<ratd\.%d\.\d+@%s>$" % (ev["id"], re.escape(host)),
                           msg["Message-ID"]), "Message-ID %r" % msg["Message-ID"])
            cte = msg["Content-Transfer-Encoding"]
            if any(ord(c) > 127 for c in msg.get_content()):
                wide += 1
                eq(cte, "quoted-printable", "Content-Transfer-Encoding of an 8-bit text")
                for line in body.split(b"\r\n"):
                    check(len(line) <= 76, "quoted-printable line of %d: %r" % (len(line), line))
            else:
                eq(cte, "7bit", "Content-Transfer-Encoding of an ASCII text")
        check(wide > 0, "no mail had a non-ASCII text (Türkiye, Côte d'Ivoire)")
        long_subjects = [m for m in msgs if b"\r\n " in m.data.partition(b"\r\n\r\n")[0]]
        check(long_subjects, "no Subject was folded")
        return "%d mails, %d quoted-printable, EHLO %s" % (len(msgs), wide, host)
    finally:
        smtp.stop()


# --- 4. source-failing / source-recovered ---------------------------------------------

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def fail_fetches(ctx, n, what):
    """n refreshes by ratctl while the page answers 503; each must fail."""
    ctx.serve(file="IV-13.html", status=503)
    for i in range(n):
        rc, out, err, _ = ctx.ratctl("refresh")
        eq(rc, 1, "ratctl refresh #%d on HTTP 503 (%s) exit status (out %r, err %r)"
           % (i + 1, what, out, err))


def test_source_failing_once(ctx):
    sh, out = exec_sink(ctx, "all")
    d, conf, url = start(ctx, file="IV-13.html", ratd={"failures_before_alert": "3"},
                         extra="\n[alert all]\nexec = %s\ntimeout = 5s\n" % sh)
    eq(history(d), [], "events after the baseline")
    fail_fetches(ctx, 1, "outage 1")
    after = utc_now()
    # ratd's clock, not the test's: time() may lag the test's clock by a tick and fall in
    # the second before it.
    first_failure = d.status()["source"].get("last_attempt")
    # The next failures in a later second: since must be the first one's time, not theirs.
    time.sleep(1.1)
    fail_fetches(ctx, 4, "outage 1")
    evs = history(d)
    eq([e["type"] for e in evs], ["source-failing"], "events after five failed fetches")
    fl = evs[0]
    eq(fl["data"].get("consecutive_failures"), 3, "source-failing consecutive_failures")
    check("503" in (fl["data"].get("error") or ""), "source-failing error lacks 503: %r"
          % fl["data"].get("error"))
    since = parse_time(fl["data"].get("since"))
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", fl["data"]["since"]),
          "since is not RFC 3339 UTC: %r" % fl["data"]["since"])
    eq(fl["data"]["since"], first_failure, "since: the first failure's last_attempt")
    check(since <= after, "since %s is after the first failure had been answered (%s)"
          % (fl["data"]["since"], after.isoformat()))

    ctx.serve(file="IV-13.html")
    r = d.refresh()
    check(r.get("result") in ("unchanged", "not-modified"), "refresh once the page is back: %r"
          % (r,))
    evs = history(d)
    eq([e["type"] for e in evs], ["source-failing", "source-recovered"],
       "events after the recovery")
    eq(evs[1]["data"].get("down_since"), fl["data"]["since"],
       "source-recovered down_since (the failing event's since)")
    r = d.refresh()
    eq(len(history(d)), 2, "events after one more success")

    time.sleep(1.1)                         # so that a new outage has a later since
    fail_fetches(ctx, 5, "outage 2")
    evs = history(d)
    eq([e["type"] for e in evs], ["source-failing", "source-recovered", "source-failing"],
       "events after a second outage of five failures")
    check(parse_time(evs[2]["data"].get("since")) > since,
          "the second outage's since %s is not later than the first one's %s"
          % (evs[2]["data"].get("since"), fl["data"]["since"]))
    check(parse_time(evs[2]["data"].get("since")) >= parse_time(evs[1]["time"]),
          "the second outage's since %s is before the recovery %s"
          % (evs[2]["data"].get("since"), evs[1]["time"]))
    eq(evs[2]["data"].get("consecutive_failures"), 3, "second source-failing consecutive_failures")
    got = wait_for(lambda: (lambda g: g if len(g) >= 3 else None)(delivered(out)), 5,
                   "the exec sink to receive the three events")
    time.sleep(0.3)
    eq([e["id"] for e, _ in delivered(out)], ids_of(evs),
       "event ids delivered to the exec sink (each once, in order)")
    eq([env.get("RATD_EVENT") for _, env in got],
       ["source-failing", "source-recovered", "source-failing"], "RATD_EVENT of deliveries")


# --- 5. watch ------------------------------------------------------------------------

def two_treaties(ctx):
    ctx.serve("/copy.xml", file="IV-13.xml")
    return ("\n[treaty %s]\nurl = %s\nthreshold = 20\neif_delay = 3 months\n"
            "eif_align = next-month\n" % (OTHER, ctx.server.url("/copy.xml")))


def test_watch_live(ctx):
    # -v: the log says when each watch request has been served.
    d, conf, url = start(ctx, extra=two_treaties(ctx), args=("-v",))
    wait_for(lambda: d.status(OTHER)["source"].get("state") == "ok", 5,
             "%s's first fetch" % OTHER)
    procs = []
    mark = len(ctx.log_text())
    try:
        for args in (("watch",), ("--json", "watch", TREATY), ("watch", OTHER)):
            procs.append(watcher(ctx, *args))
        wait_for(lambda: log_since(ctx, mark).count("debug: control: watch from") >= 3, 5,
                 "ratd to serve three watch requests")
        # What a client sent is never quoted in those lines, a bad request included.
        eq(error_code(d.request({"cmd": "frob\nnicate"})), "unknown-command", "an unknown command")
        wait_for(lambda: "debug: control: an unknown command from uid %d" % os.getuid()
                 in log_since(ctx, mark), 5, "the debug line of an unknown command")
        check("nicate" not in log_since(ctx, mark), "the log quotes what the client sent")
        for p, _ in procs:
            if p.poll() is not None:
                raise Fail("%s exited at once (%s): %r"
                           % (" ".join(p.args[1:]), p.returncode, p.stderr.read()))
        (_, human), (_, js), (_, other) = procs
        eq(human.lines + js.lines, [], "watch output before any event")
        evs, thr = reach_threshold(ctx, d)
        t0 = time.monotonic()
        pat = re.compile(r"^#%d \S+ %s threshold-reached .*2003-07-01" % (thr["id"], TREATY))
        human.until(lambda ls: [l for l in ls if pat.search(l)], 5,
                    "ratctl watch to print the threshold-reached line")
        took = time.monotonic() - t0

        def json_thr(ls):
            out = []
            for l in ls:
                try:
                    ev = json.loads(l)
                except ValueError:
                    raise Fail("ratctl --json watch printed a non-JSON line %r" % short(l))
                check(isinstance(ev, dict) and "id" in ev, "not an event: %r" % short(l))
                out.append(ev)
            return [e for e in out if e.get("type") == "threshold-reached"]
        got = js.until(json_thr, 5, "ratctl --json watch to print threshold-reached")
        eq(got[0].get("data", {}).get("threshold_date"), "2003-03-14",
           "watched threshold-reached data.threshold_date")
        eq(got[0].get("id"), thr["id"], "watched threshold-reached id")
        human.until(lambda ls: len(ls) >= len(evs), 5, "every event on ratctl watch")
        js.until(lambda ls: len(ls) >= len(evs), 5, "every event on ratctl --json watch")
        time.sleep(0.3)
        human.pump(0)
        js.pump(0)
        eq([int(l.split()[0][1:]) for l in human.lines], ids_of(evs),
           "event ids printed by ratctl watch (one line each, in order)")
        eq([json.loads(l) for l in js.lines], evs, "events printed by ratctl --json watch")
        other.pump(0.2)
        eq(other.lines, [], "output of ratctl watch %s (events were for %s)" % (OTHER, TREATY))
        check(procs[2][0].poll() is None, "ratctl watch %s ended" % OTHER)
    finally:
        for p, _ in procs:
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()

    rc, out, err, _ = ctx.ratctl("history")
    eq(rc, 0, "ratctl history exit status (stderr %r)" % err)
    check(re.search(r"^#%d .*threshold-reached" % thr["id"], out, re.M),
          "ratctl history does not list event #%d:\n%s" % (thr["id"], out))
    rc, out, err, _ = ctx.ratctl("history", "-n", "1")
    eq(rc, 0, "ratctl history -n 1 exit status (stderr %r)" % err)
    lines = [l for l in out.splitlines() if l.strip()]
    eq(len(lines), 1, "lines of ratctl history -n 1 (%r)" % out)
    check(lines[0].startswith("#%d " % max(ids_of(evs))),
          "ratctl history -n 1 does not show the newest event #%d: %r"
          % (max(ids_of(evs)), lines[0]))
    rc, out, err, _ = ctx.ratctl("history", TREATY, "--json")
    eq(rc, 0, "ratctl history %s --json exit status (stderr %r)" % (TREATY, err))
    try:
        js = json.loads(out)
    except ValueError:
        raise Fail("ratctl history %s --json printed non-JSON: %r" % (TREATY, short(out)))
    eq(sorted(js.keys()), ["events"], "keys of ratctl history %s --json" % TREATY)
    eq(js["events"], evs, "ratctl history %s --json (oldest first)" % TREATY)
    eq(ctx.ratctl_json("history", TREATY, "-n", "2")["events"], evs[-2:],
       "ratctl --json history %s -n 2 (the newest two, oldest first)" % TREATY)
    check(ids_of(evs) == sorted(ids_of(evs)), "history not oldest first: %r" % ids_of(evs))
    return "watch line %.2fs after the refresh reply" % took


# --- 6. a watcher that does not read --------------------------------------------------

# Another client's status requests during the flood: each within STATUS_LIMIT seconds.
STATUS_LIMIT = 1.0
POLL_INTERVAL = 0.02


def test_watcher_not_reading(ctx):
    d, conf, url = start(ctx)
    mark = len(ctx.log_text())
    lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    good = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    seen = {"events": 0, "closed": False, "error": None}
    stop = threading.Event()

    def read_good():
        buf = b""
        try:
            while not stop.is_set():
                try:
                    chunk = good.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    seen["closed"] = True
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                seen["events"] += sum(1 for l in lines if l.startswith(b'{"event"'))
        except OSError as e:
            seen["error"] = e
    th = threading.Thread(target=read_good, daemon=True)
    polls = []
    stop_polls = threading.Event()

    def poll_status():
        while not stop_polls.is_set():
            t0 = time.monotonic()
            try:
                ok = d.request({"cmd": "status"}, timeout=2).get("ok")
            except (Fail, OSError) as e:
                ok = e
            polls.append((time.monotonic() - t0, ok))
            stop_polls.wait(POLL_INTERVAL)
    poller = threading.Thread(target=poll_status, daemon=True)
    try:
        for s in (lazy, good):
            s.settimeout(3)
            s.connect(ctx.sock)
            s.sendall(b'{"cmd": "watch"}\n')
            eq(result_of(json.loads(harness.recv_line(s, 3)), "watch").get("watching"), True,
               "watch reply")
        good.settimeout(0.2)
        th.start()
        poller.start()
        flood_t0 = time.monotonic()
        # lazy reads nothing more from here on.
        raised = 0
        slowest = 0.0
        dropped = False
        last = max([0] + ids_of(history(d)))
        cycles = 0
        # Some 3,000 events (1 MiB) must queue up for the watcher that does not read: 25
        # page cycles or so, a second each under a sanitizer on a busy machine. The flood
        # is bounded by the suite's budget, leaving the later tests their time.
        flood_end = time.monotonic() + harness.bounded(90)
        while time.monotonic() < flood_end and harness.left() > 45:
            cycles += 1
            for page, results in (("IV-13.html", ["changed"]),
                                  ("IV-13.2003-03-13.html", ["refused", "refused", "changed"])):
                ctx.serve(file=page)
                for want in results:
                    eq(d.refresh().get("result"), want, "refresh to %s (cycle %d)"
                       % (page, cycles))
                t0 = time.monotonic()
                eq(d.status().get("id"), TREATY, "status during the flood")
                slowest = max(slowest, time.monotonic() - t0)
            evs = history(d, since=last, limit=10000)
            raised += len(evs)
            last = max([last] + ids_of(evs))
            if "dropping a watcher" in log_since(ctx, mark):
                dropped = True
                break
        check(dropped, "ratd never logged 'dropping a watcher' after %d events (%d cycles)"
              % (raised, cycles))
        flood_s = time.monotonic() - flood_t0
        stop_polls.set()
        poller.join(3)
        bad = [ok for _, ok in polls if ok is not True]
        check(not bad, "status requests from another client failed during the flood: %r"
              % bad[:3])
        slowest = max([slowest] + [t for t, _ in polls])
        # The flood ends when the watcher is dropped, sooner on a faster machine: the floor
        # is half the requests of a poller whose every request took the limit.
        check(len(polls) >= max(3, 0.5 * flood_s / (STATUS_LIMIT + POLL_INTERVAL)),
              "only %d status requests from another client were answered during the "
              "%.1f s flood" % (len(polls), flood_s))
        check(slowest < STATUS_LIMIT, "a status request took %.2fs during the flood" % slowest)
        # lazy's connection is closed by the daemon: what is queued drains, then EOF.
        lazy.setblocking(False)
        end = time.monotonic() + 3
        eof = False
        while time.monotonic() < end and not eof:
            try:
                eof = lazy.recv(1 << 20) == b""
            except BlockingIOError:
                time.sleep(0.02)
            except ConnectionResetError:
                eof = True
        check(eof, "the daemon did not close the connection of the watcher that never reads")
        eq(d.request({"cmd": "ping"}, timeout=1).get("ok"), True, "ping after the drop")
        wait_for(lambda: seen["events"] >= raised, 3,
                 "the reading watcher to get all %d events (got %d)" % (raised, seen["events"]))
        check(not seen["closed"] and seen["error"] is None,
              "the reading watcher was dropped too (%r)" % seen)
        return ("dropped after %d events (%d page cycles); %d status requests meanwhile, "
                "slowest %.3fs" % (raised, cycles, len(polls), slowest))
    finally:
        stop.set()
        stop_polls.set()
        for t in (th, poller):
            if t.is_alive():
                t.join(1)
        lazy.close()
        good.close()


# --- 7. SIGKILL between journal and delivery ------------------------------------------

def test_kill_between_journal_and_delivery(ctx):
    hook, hdir = install_hook(ctx, "hook")
    d, conf, url = start(ctx, extra="\n[alert hook]\nexec = %s\ntimeout = 30s\n" % hook)
    evs, thr = reach_threshold(ctx, d)
    pids = wait_for(lambda: os.path.exists(os.path.join(hdir, "hang.pid")) and
                    read_pids(hdir), 3, "the hook's first run to write its pids")
    d.signal(signal.SIGKILL)
    d.proc.wait()
    try:
        os.killpg(pids[0], signal.SIGKILL)      # the hook runs in a process group of its own
    except ProcessLookupError:
        raise Fail("no process group %d: the hook was not spawned in its own group" % pids[0])
    wait_for(lambda: gone(pids[0]) and gone(pids[1]), 2, "the hook to be gone")
    eq(recorded(hdir), [], "events recorded before the restart")
    with open(os.path.join(ctx.state, "journal.jsonl")) as f:
        journaled = [json.loads(l)["id"] for l in f if l.strip()]
    eq(journaled[-len(evs):], ids_of(evs), "ids in the journal at the SIGKILL")
    try:
        with open(os.path.join(ctx.state, "alerts.json")) as f:
            cur = json.load(f)["sinks"]["hook"]["delivered"]
        check(cur < min(ids_of(evs)), "alerts.json says %r delivered before any was" % cur)
    except FileNotFoundError:
        pass

    d2 = ctx.daemon(conf)
    got = wait_for(lambda: (lambda g: g if len(g) >= len(evs) else None)(recorded(hdir)),
                   DELIVERY_WAIT, "the restarted daemon to deliver the %d events" % len(evs))
    # The hook records an event before it exits; ratd counts it delivered once it has
    # reaped the hook.
    wait_for(lambda: sink(d2, "hook").get("pending") == 0, 5, "sink pending 0 after the restart")
    time.sleep(0.3)
    eq(ids_of(recorded(hdir)), ids_of(evs), "event ids recorded after the restart "
       "(each once, in order)")
    eq(got, evs, "events recorded (as history has them)")
    s = sink(d2, "hook")
    eq((s.get("pending"), s.get("delivered")), (0, max(ids_of(evs))),
       "sink pending, delivered after the restart")
    eq(d2.stop(), 0, "exit status on SIGTERM")
    d3 = ctx.daemon(conf)
    time.sleep(1.2)
    eq(ids_of(recorded(hdir)), ids_of(evs), "event ids recorded after a second restart")
    eq(sink(d3, "hook").get("pending"), 0, "pending after a second restart")


# --- 8. journal ids across restarts --------------------------------------------------

def journal(ctx):
    path = os.path.join(ctx.state, "journal.jsonl")
    evs = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            check(line.endswith(b"\n"), "%s:%d does not end with a newline" % (path, n))
            try:
                ev = json.loads(line)
            except ValueError:
                raise Fail("%s:%d is not JSON: %r" % (path, n, short(line)))
            check(isinstance(ev, dict) and isinstance(ev.get("id"), int) and
                  ev.get("type") and ev.get("treaty") and ev.get("summary") and
                  isinstance(ev.get("data"), dict),
                  "%s:%d is not an event: %r" % (path, n, short(line)))
            evs.append(ev)
    ids = ids_of(evs)
    check(all(a < b for a, b in zip(ids, ids[1:])), "journal ids not strictly increasing: %r"
          % ids)
    return evs


def test_journal_ids_survive_restart(ctx):
    d, conf, url = start(ctx, ratd={"failures_before_alert": "2"})
    evs1, thr = reach_threshold(ctx, d)
    eq(d.stop(), 0, "exit status on SIGTERM")
    eq(journal(ctx), evs1, "journal after the first events")

    d2 = ctx.daemon(conf)
    eq(history(d2), evs1, "history after a restart")
    ctx.serve(file="IV-13.html")
    eq(d2.refresh().get("result"), "changed", "refresh to the current page")
    evs2 = history(d2, since=max(ids_of(evs1)), limit=1000)
    check(evs2, "no events for 2003 -> 2024")
    check(min(ids_of(evs2)) > max(ids_of(evs1)), "ids after a restart (%r) do not follow %r"
          % (ids_of(evs2)[:3], ids_of(evs1)))
    d2.kill()

    d3 = ctx.daemon(conf)
    every = history(d3, limit=1000)
    eq(every, evs1 + evs2, "history after a SIGKILL and restart")
    ctx.serve(file="IV-13.html", status=503)
    for i in (1, 2):
        eq(d3.refresh().get("result"), "error", "refresh #%d on HTTP 503" % i)
    evs3 = history(d3, since=max(ids_of(evs2)))
    eq([e["type"] for e in evs3], ["source-failing"], "events after two failures")
    check(evs3[0]["id"] > max(ids_of(evs2)), "id %d after a SIGKILL does not follow %d"
          % (evs3[0]["id"], max(ids_of(evs2))))
    eq(d3.stop(), 0, "exit status on SIGTERM")
    eq(journal(ctx), evs1 + evs2 + evs3, "journal after three runs")
    d4 = ctx.daemon(conf)
    eq(history(d4, limit=1000), evs1 + evs2 + evs3, "history after the last restart")


# --- 9. a sink added by a reload -----------------------------------------------------

def test_new_sink_starts_now(ctx):
    a_sh, a_out = exec_sink(ctx, "a")
    b_sh, b_out = exec_sink(ctx, "b")
    c_sh, c_out = exec_sink(ctx, "c")
    sink_a = "\n[alert a]\nexec = %s\ntimeout = 5s\n" % a_sh
    sink_b = "\n[alert b]\nexec = %s\ntimeout = 5s\n" % b_sh
    sink_c = "\n[alert c]\nexec = %s\ntimeout = 5s\n" % c_sh
    d, conf, url = start(ctx, extra=sink_a, ratd={"failures_before_alert": "2"})
    evs1, thr = reach_threshold(ctx, d)
    wait_for(lambda: len(delivered(a_out)) >= len(evs1), DELIVERY_WAIT, "sink a to get the first events")

    ctx.write_conf(url, ratd={"failures_before_alert": "2"}, extra=sink_a + sink_b)
    rc, out, err, _ = ctx.ratctl("reload")
    eq(rc, 0, "ratctl reload adding [alert b] (stderr %r)" % err)
    s = sink(d, "b")
    eq((s.get("pending"), s.get("delivered")), (0, max(ids_of(evs1))),
       "new sink b's pending, delivered right after the reload")
    time.sleep(1.2)
    eq([e["id"] for e, _ in delivered(b_out)], [], "past events delivered to the new sink b")
    eq([e["id"] for e, _ in delivered(a_out)], ids_of(evs1), "sink a after the reload")

    ctx.serve(file="IV-13.html")
    eq(d.refresh().get("result"), "changed", "refresh to the current page")
    evs2 = history(d, since=max(ids_of(evs1)), limit=1000)
    check(evs2, "no events for 2003 -> 2024")
    wait_for(lambda: len(delivered(b_out)) >= len(evs2), DELIVERY_WAIT,
             "sink b to get the %d new events" % len(evs2))
    wait_for(lambda: len(delivered(a_out)) >= len(evs1) + len(evs2), DELIVERY_WAIT,
             "sink a to get the new events")
    eq([e["id"] for e, _ in delivered(b_out)], ids_of(evs2), "events delivered to sink b")

    ctx.write_conf(url, ratd={"failures_before_alert": "2"}, extra=sink_a + sink_b + sink_c)
    mark = len(ctx.log_text())
    d.signal(signal.SIGHUP)
    wait_for(lambda: [s for s in sinks(d) if s.get("name") == "c"], 3,
             "sink c to appear after SIGHUP")
    time.sleep(1.0)
    eq([e["id"] for e, _ in delivered(c_out)], [], "past events delivered to sink c "
       "(added by SIGHUP; log: %s)" % short(log_since(ctx, mark), 600))
    ctx.serve(file="IV-13.html", status=503)
    for i in (1, 2):
        eq(d.refresh().get("result"), "error", "refresh #%d on HTTP 503" % i)
    evs3 = history(d, since=max(ids_of(evs2)))
    eq([e["type"] for e in evs3], ["source-failing"], "events after two failures")
    wait_for(lambda: delivered(c_out), 5, "sink c to get source-failing")
    time.sleep(0.3)
    eq([e["id"] for e, _ in delivered(c_out)], ids_of(evs3), "events delivered to sink c")
    wait_for(lambda: len(delivered(b_out)) >= len(evs2) + 1, DELIVERY_WAIT, "sink b to get source-failing")
    eq([e["id"] for e, _ in delivered(b_out)], ids_of(evs2 + evs3),
       "events delivered to sink b")
    # Each sink delivers on its own: a's may come after b's and c's.
    wait_for(lambda: len(delivered(a_out)) >= len(evs1) + len(evs2) + len(evs3),
             DELIVERY_WAIT, "sink a to get source-failing")
    eq([e["id"] for e, _ in delivered(a_out)], ids_of(evs1 + evs2 + evs3),
       "events delivered to sink a (never twice across reloads)")


# --- 10. a journal the disk refuses --------------------------------------------------

class FullJournal:
    """Makes journal.jsonl's writes fail while the state files can still be written.
    With mount rights: journal.jsonl is a bind mount of a file on a 256 KiB tmpfs of its
    own, filled up, so appends fail with ENOSPC. Without: the journal is padded first
    and ratd's RLIMIT_FSIZE is set to its size, so appends fail with EFBIG."""

    PAD = 600       # events written ahead in the fallback: the journal outgrows state files

    def __init__(self, ctx):
        self.ctx = ctx
        self.path = os.path.join(ctx.state, "journal.jsonl")
        self.small = os.path.join(ctx.dir, "small")
        self.mounts = []
        self.filler = None
        os.makedirs(self.small)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "ratd-test",
                            self.small], capture_output=True)
        self.tmpfs = p.returncode == 0
        if self.tmpfs:
            self.mounts.append(self.small)
            inner = os.path.join(self.small, "journal.jsonl")
            for f in (inner, self.path):
                open(f, "ab").close()
            subprocess.run(["mount", "--bind", inner, self.path], check=True,
                           capture_output=True)
            self.mounts.insert(0, self.path)
            self.how = "ENOSPC on a full 256 KiB tmpfs"
            return
        with open(self.path, "w") as f:
            for i in range(1, self.PAD + 1):
                f.write(json.dumps({"id": i, "time": "2024-01-01T00:00:00Z",
                                    "type": "source-anomaly", "treaty": OTHER,
                                    "summary": "padding %d %s" % (i, "." * 150),
                                    "data": {"reason": "padding"}}) + "\n")
        self.limit = os.path.getsize(self.path)
        self.how = "EFBIG from RLIMIT_FSIZE (%d bytes); mount said %r" % (
            self.limit, p.stderr.decode(errors="replace").strip())

    def fill(self, d=None):
        if self.tmpfs:
            self.filler = os.path.join(self.small, "filler")
            with open(self.filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError as e:
                    check(e.errno == errno.ENOSPC, "filling the tmpfs: %s" % e)
        else:
            resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (self.limit, self.limit))

    def start(self, conf):
        """A ratd that inherits the fallback's limit from its first instruction on."""
        if self.tmpfs:
            return self.ctx.daemon(conf)
        old = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, old[1]))
        try:
            return self.ctx.daemon(conf)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old)

    def free(self, d):
        if self.tmpfs:
            os.unlink(self.filler)
        else:
            inf = resource.RLIM_INFINITY
            resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (inf, inf))

    def cleanup(self):
        for m in self.mounts:
            subprocess.run(["umount", "-l", m], capture_output=True)


def journal_state(d):
    j = result_of(d.request({"cmd": "status"}), "status").get("journal")
    check(isinstance(j, dict), "status has no journal object: %r" % (j,))
    return j


def outbox(ctx):
    with open(os.path.join(ctx.state, TREATY + ".json")) as f:
        return json.load(f)["outbox"]


ID_SINK_SH = """#!/bin/sh
# Exec sink: one line per delivery, its event id (one builtin: cheap on a loaded machine).
echo "$RATD_EVENT_ID" >> %s
"""


def id_sink(ctx, name):
    """A sink script appending each delivered event id to DIR/name.ids; (script, file)."""
    out = os.path.join(ctx.dir, name + ".ids")
    return harness.write_script(ctx, name + ".sh", ID_SINK_SH % out), out


def ids_delivered(out):
    try:
        with open(out) as f:
            return [int(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def test_journal_full(ctx):
    sh, out = id_sink(ctx, "all")
    full = FullJournal(ctx)
    try:
        return journal_full(ctx, full, sh, out)
    finally:
        for dm in ctx.daemons:
            dm.stop()
        full.cleanup()


def journal_full(ctx, full, sh, out):
    url = ctx.serve(file="IV-13.2003-03-13.html")
    conf = ctx.write_conf(url, extra="\n[alert all]\nexec = %s\ntimeout = 5s\n" % sh)
    d = full.start(conf)
    d.wait_state("ok")
    eq(journal_state(d), {"state": "ok", "pending": 0, "error": None, "since": None},
       "status journal after the baseline")
    mark = len(ctx.log_text())
    full.fill(d)
    # Events while the journal is refused, then commits that raise nothing.
    for page, want in (("IV-13.2003-03-14.html", "changed"), (None, "unchanged"),
                       ("IV-13.html", "changed"), (None, "unchanged")):
        if page:
            ctx.serve(file=page)
        r = d.refresh()
        check(r.get("result") in (want, "not-modified"), "refresh (%s): %r" % (want, r))
        pending = outbox(ctx)
        check(pending, "the state file's outbox is empty after a commit (%s) while the "
              "journal fails" % r.get("result"))
    ids = [e["id"] for e in pending]
    check(len(ids) >= 20 and ids == sorted(set(ids)), "outbox ids: %r" % ids)
    j = journal_state(d)
    eq((j.get("state"), j.get("pending")), ("failing", len(ids)), "status journal state, pending")
    check(re.search("No space left|too large", j.get("error") or ""),
          "status journal error: %r" % j.get("error"))
    rc, text, err, _ = ctx.ratctl("check")
    eq(rc, 2, "ratctl check exit status while the journal fails (out %r)" % text)
    check(text.startswith("RATD CRITICAL - journal failing, %d events not on disk" % len(ids)),
          "ratctl check: %r" % text)
    check("retrying in" in log_since(ctx, mark), "no log line about the retry")
    eq(ids_delivered(out), [], "deliveries of events not on disk")

    # A restart while the disk is still full: the events come back from the outbox.
    eq(d.stop(), 0, "exit status on SIGTERM while the journal fails")
    d = full.start(conf)
    j = journal_state(d)
    eq((j.get("state"), j.get("pending")), ("failing", len(ids)),
       "status journal after a restart on a full disk")
    eq([e["id"] for e in outbox(ctx)], ids, "outbox ids after a restart")
    full.free(d)
    wait_for(lambda: journal_state(d).get("state") == "ok", 10,
             "the journal retry to write the waiting events")
    wait_for(lambda: len(ids_delivered(out)) >= len(ids), 30, "the exec sink to get %d events"
             % len(ids))
    time.sleep(0.3)
    on_disk = [e for e in journal(ctx) if e["treaty"] == TREATY]
    eq(on_disk, pending, "journal.jsonl's events (each once, in order, unchanged)")
    eq(ids_delivered(out), ids, "ids delivered (each once, in order)")
    eq(history(d, limit=1000), pending, "history after the journal recovered")
    # The sink writes the id before it exits; ratd counts it once it has reaped it.
    wait_for(lambda: sink(d, "all").get("pending") == 0, 5, "sink pending 0 at the end")
    return "%d events kept across a restart; %s" % (len(ids), full.how)
# --- 10. what a hook prints ----------------------------------------------------------

NOISY_SH = r"""#!/bin/sh
# Test exec sink: hostile output on stdout and stderr, then a clean delivery.
cat > %s
printf '<0>forged\n'
printf '<0>forged on stderr\n' >&2
printf 'esc \033[2J\033]0;title\007 rlo \342\200\256evil\342\200\254 nel \302\205 end\n'
i=0
while [ $i -lt 10000 ]; do echo "<0>line $i"; i=$((i+1)); done
exit 0
"""


def test_hook_output(ctx):
    got = os.path.join(ctx.dir, "noisy.json")
    hook = harness.write_script(ctx, "noisy.sh", NOISY_SH % got)
    d, conf, url = start(ctx, extra="\n[alert noisy]\nexec = %s\nevents = threshold-reached\n"
                         "timeout = 20s\n" % hook)
    mark = len(ctx.log_text())
    evs, thr = reach_threshold(ctx, d)
    s = wait_for(lambda: (lambda x: x if x.get("pending") == 0 else None)(sink(d, "noisy")),
                 20, "the noisy hook's delivery")
    eq(s.get("last_error"), None, "the noisy sink's last_error")
    with open(got) as f:
        eq(json.loads(f.read()), thr, "the event the noisy hook got on stdin")
    done = "alert noisy: delivered event %d" % thr["id"]
    text = wait_for(lambda: (lambda t: t if done in t else None)(log_since(ctx, mark)), 5,
                    "the log line saying the event was delivered")
    lines = text.splitlines()
    forged = [l for l in lines if l.startswith("<")]
    check(not forged, "%d log lines begin with a priority the hook wrote, the first %r"
          % (len(forged), forged[:3]))
    mine = [l for l in lines if "alert noisy: hook: " in l]
    eq(len(mine), 21, "log lines of the hook's output (20 and the count):\n%s"
       % "\n".join(mine[:25]))
    for want in ("ratd: notice: alert noisy: hook: <0>forged",
                 "ratd: notice: alert noisy: hook: <0>forged on stderr",
                 "ratd: notice: alert noisy: hook: esc \ufffd[2J\ufffd]0;title\ufffd "
                 "rlo \ufffdevil\ufffd nel \ufffd end",
                 "ratd: notice: alert noisy: hook: 9983 more lines suppressed"):
        check(want in lines, "no log line %r among:\n%s" % (want, "\n".join(mine)))
    for bad in ("\x1b", "\x07", "\u202e", "\u202c", "\x85"):
        check(bad not in text, "the log holds %r from the hook" % bad)


if __name__ == "__main__":
    sys.exit(harness.main(harness.Suite("alerts", BUDGET, sys.modules[__name__])))
