#!/usr/bin/env python3
"""Integration tests: build/ratd and build/ratctl against a local fake UNTC (stdlib only).

    python3 tests/integration/run.py --build build [-k] [-v] [TEST...]

Run from the repository root (`make integration`). The core suite: its tests are the
functions test_NAME below, run by harness.py (which see). Nothing here talks to a
non-loopback address.
"""
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
import threading
import time

import harness
from harness import (ASPNET_ERROR_PAGE, COMMANDS, DELIVERY_WAIT, FETCH_TIMEOUT, FIXTURES, Fail,
                     TITLE, TREATY, bounded, check, check_hook_posts, closed_port,
                     connect_retrying, delivered, edit_row, eq, error_code, exec_sink,
                     find_treaty, history, parse_time, posts, recv_line, result_of,
                     short, sock_raw, start_ok, wait_for)


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


def start_with_protocol(ctx, page):
    """IV-13 from page and OP-13, a protocol of threshold 100 entering into force 30 days
    after it, but not before IV-13 (after_treaty); both fetched."""
    url = ctx.serve(file=page)
    proto = ctx.serve("/protocol", file="IV-13.html")
    conf = ctx.write_conf(url, extra="\n[treaty OP-13]\ntitle = Protocol\nurl = %s\n"
                          "threshold = 100\neif_delay = 30 days\neif_align = none\n"
                          "after_treaty = %s\n" % (proto, TREATY))
    d = ctx.daemon(conf)
    d.wait_state("ok")
    wait_for(lambda: d.status("OP-13")["source"].get("state") == "ok", 5, "OP-13's fetch")
    return d


def test_earliest_after_treaty(ctx):
    # A protocol that "shall not enter into force before the Convention" (OP-CRPD art.
    # 13(1)): on 2000-12-04 IV-13 stood at 15 of 20, so its earliest possible date was
    # 2000-12-04 + 3 months -> 2001-04-01; the protocol's own rule (30 days) would give
    # 2001-01-03, but it can be no earlier than the convention's.
    d = start_with_protocol(ctx, "IV-13.html")
    eq(d.status(TREATY, as_of="2000-12-04").get("earliest_entry_into_force"), "2001-04-01",
       "IV-13's earliest possible entry into force on 2000-12-04")
    eq(d.status("OP-13", as_of="2000-12-04").get("earliest_entry_into_force"), "2001-04-01",
       "the protocol's earliest possible entry into force on 2000-12-04")
    # "Today" is ratd's UTC day when it answers: asked again if midnight came meanwhile.
    def utc_today():
        return datetime.datetime.now(datetime.timezone.utc).date()
    while True:
        today = utc_today()
        earliest = d.status("OP-13").get("earliest_entry_into_force")
        if utc_today() == today:
            break
    eq(earliest, (today + datetime.timedelta(days=30)).isoformat(),
       "the protocol's earliest date today (IV-13 in force: its own 30 days)")


def test_whole_status_follows_the_treaty_waited_for(ctx):
    # The status of every treaty is built from each treaty's own last entry while it has
    # not changed; a protocol's entry depends on the convention it waits for as well.
    # IV-13 at 19 of 20 (13 March 2003), then in force: the protocol's earliest date
    # follows in the status of all, though only IV-13 was fetched.
    d = start_with_protocol(ctx, "IV-13.2003-03-13.html")

    def whole():
        res = result_of(d.request({"cmd": "status"}), "status")
        return {t["id"]: t for t in res["treaties"]}
    before = whole()
    eq(before[TREATY].get("counted"), 19, "IV-13 counted on the 13 March 2003 page")
    eq(before["OP-13"].get("earliest_entry_into_force"),
       before[TREATY].get("earliest_entry_into_force"),
       "the protocol's earliest date while IV-13 is not in force: IV-13's")
    ctx.serve(file="IV-13.html")
    eq(d.refresh(TREATY).get("result"), "changed", "IV-13 refreshed to its full page")
    after = whole()
    eq(after[TREATY].get("in_force"), True, "IV-13 in force after the refresh")
    eq(after["OP-13"].get("source"), before["OP-13"].get("source"),
       "OP-13 itself was not fetched again")
    today = datetime.date.fromisoformat(after["OP-13"]["as_of"])
    eq(after["OP-13"].get("earliest_entry_into_force"),
       (today + datetime.timedelta(days=30)).isoformat(),
       "the protocol's earliest date in the status of all once IV-13 is in force")


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
    p = ctx.run([harness.RATD, "-c", conf, "--once"], FETCH_TIMEOUT + 10)
    out = p.stdout.decode("utf-8", "replace")
    eq(p.returncode, 0, "ratd --once exit status with the page served (stderr %r)"
       % p.stderr.decode("utf-8", "replace")[-500:])
    check("59" in out, "ratd --once output lacks 59:\n%s" % out)
    check(ctx.server.count() >= 1, "ratd --once fetched nothing")
    check(not os.path.exists(ctx.sock), "ratd --once left a socket behind")
    err = p.stderr.decode("utf-8", "replace")
    check("debug:" not in err, "ratd --once without -v logged debug lines:\n%s" % err)
    # -v: each fetch as it starts; the next one carries the validators it then gets.
    ctx.serve(file="IV-13.html", etag=True)
    for how in ("", " (conditional)"):
        p = ctx.run([harness.RATD, "-c", conf, "--once", "-v"], FETCH_TIMEOUT + 10)
        err = p.stderr.decode("utf-8", "replace")
        eq(p.returncode, 0, "ratd --once -v exit status (stderr %r)" % err[-500:])
        check(re.search(r"^ratd: debug: %s: fetching %s%s$" % (
            re.escape(harness.TREATY), re.escape(url), re.escape(how)), err, re.M),
              "ratd --once -v did not log the fetch%s:\n%s" % (how, err))

    # Down: a fresh state dir, nobody listening.
    state2 = os.path.join(ctx.dir, "state2")
    os.makedirs(state2, 0o750)
    conf2 = ctx.write_conf("http://127.0.0.1:%d/page" % closed_port(), name="down.conf",
                           ratd={"state_dir": state2})
    p = ctx.run([harness.RATD, "-c", conf2, "--once"], FETCH_TIMEOUT + 10)
    eq(p.returncode, 1, "ratd --once exit status with the server down")

    # Beside a running ratd on the same state_dir: refused, after a short wait for a
    # lock a dying ratd's child could still hold.
    d = ctx.daemon(conf)
    d.wait_state("ok")
    t0 = time.monotonic()
    p = ctx.run([harness.RATD, "-c", conf, "--once"], FETCH_TIMEOUT + 10)
    took = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    eq(p.returncode, 1, "ratd --once exit status beside a running ratd")
    check("another ratd is using state_dir" in err, "--once beside ratd said: %r" % err[-300:])
    check(took >= 1.5, "--once gave up on the lock after %.2f s, not after waiting" % took)
    eq(d.status().get("counted"), 59, "the running ratd's status after the refused --once")


def check_config(ctx, conf):
    p = ctx.run([harness.RATD, "-c", conf, "--check-config"], 5)
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
    p = ctx.run([harness.RATD, "-c", good, "-n"], 5)
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

    # A withdrawn date not after the participant's instrument (Albania acceded on
    # 2007-06-05) needs the page: --check-config reads the seed (or the committed state).
    ctx.add_seed()
    for date, rc_want in (("2007-06-05", 1), ("2020-01-01", 0)):
        wd = ctx.write_conf(url, name="withdrawn-%s.conf" % date,
                            extra="withdrawn = Albania: %s\n" % date)
        n = line_of(wd, "withdrawn = ")
        rc, out = check_config(ctx, wd)
        eq(rc, rc_want, "--check-config exit status with withdrawn = Albania: %s (output %r)"
           % (date, out))
        if rc_want:
            check(re.search(r"^%s:%d: withdrawn date 2007-06-05 for Albania is not after"
                            % (re.escape(wd), n), out, re.M),
                  "withdrawn date not reported at %s:%d: in:\n%s" % (wd, n, out))

    p = ctx.run([harness.RATD, "-h"], 5)
    eq(p.returncode, 0, "ratd -h exit status")
    check(b"--once" in p.stdout + p.stderr, "ratd -h does not mention --once")
    p = ctx.run([harness.RATD, "-V"], 5)
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

    # An argument quoted back past the message's 1,024 bytes is cut between characters:
    # "x" then 600 two-byte "é" puts the bound inside one of them.
    long_arg = "x" + "\u00e9" * 600
    for args, stream, rc_want in (([long_arg], "stderr", 2),
                                  (["check", "-t", long_arg], "stdout", 3)):
        what = "ratctl %s..." % " ".join(args)[:16]
        p = ctx.run([harness.RATCTL, "-s", ctx.sock] + args, 10)
        eq(p.returncode, rc_want, "%s exit status" % what)
        try:
            text = getattr(p, stream).decode("utf-8")
        except UnicodeDecodeError as e:
            raise Fail("%s wrote a cut character on %s: %s" % (what, stream, e))
        check("x\u00e9\u00e9" in text, "%s does not quote the argument: %r"
              % (what, short(text)))

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
    p = ctx.run([harness.RATCTL, "status"], 10, env=env)
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
    p = subprocess.Popen([harness.RATCTL, "-s", ctx.sock, "--json", "watch", TREATY],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ctx.env)
    try:
        # Nothing tells when ratctl's watch has reached ratd: a change made before is not
        # seen. The page changes again (the current page, then a copy with Chad's
        # ratification a day later, in turn) until a line comes, up to 6 times.
        with open(os.path.join(FIXTURES, "IV-13.html"), "rb") as f:
            current = f.read()
        pages = (("the current page", current),
                 ("Chad a day later", edit_row(current, "Chad", ins="23 Feb\t 2022 ")))
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        ready = []
        for what, body in pages * 3:
            if p.poll() is not None:
                raise Fail("ratctl watch exited (%s): %r" % (p.returncode, p.stderr.read()))
            ctx.serve(body=body)
            eq(d.refresh().get("result"), "changed", "refresh to %s" % what)
            ready = sel.select(timeout=bounded(2))
            if ready:
                break
        sel.close()
        check(ready, "ratctl watch printed nothing after 6 changes, 2 s apart")
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

    def whole():
        return result_of(d.request({"cmd": "status"}), "status")["treaties"][0]
    eq(whole().get("title"), harness.TITLE, "title in the status of all before a reload")
    # The status of all keeps each treaty's entry until it changes: a reload that changes
    # only a title changes it.
    ctx.write_conf(url, treaty={"title": "Migrant Workers"})
    rc, out, err, _ = ctx.ratctl("reload")
    eq(rc, 0, "ratctl reload exit status (stderr %r)" % err)
    eq(whole().get("title"), "Migrant Workers", "title in the status of all after a reload")
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
        p = subprocess.run([harness.RATD, "-c", d.conf], stdin=subprocess.DEVNULL, stdout=log,
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
    shutil.copy(harness.RATCTL, ctl)
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
    # The real UNTC URL has a query string; a value may contain '#' (man/ratd.conf.5, url).
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
                   DELIVERY_WAIT, "the exec sink to receive all %d events" % len(evs))
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
    # The sinks deliver apart: thr's one event may come after all of all's.
    wait_for(lambda: delivered(thr_out), DELIVERY_WAIT,
             "the sink with events = threshold-reached to receive its event")
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
    wait_for(lambda: len(delivered(all_out)) >= len(got) + len(evs2), DELIVERY_WAIT,
             "the %d new events to be delivered" % len(evs2))


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
    wait_for(lambda: len(ok_ids()) >= len(ids) + len(ids2), DELIVERY_WAIT,
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


if __name__ == "__main__":
    sys.exit(harness.main(harness.Suite("integration", 110.0, sys.modules[__name__])))
