#!/usr/bin/env python3
"""Many treaties on one host: ratd's politeness to it (stdlib only).

    python3 tests/integration/suite_scale.py --build build [-k] [-v] [TEST...]

Several treaties are served by one fixture server, each at a path of its own (the same
page), so that they share a host as the treaties of the UN Treaty Collection do. The
server counts the requests it answers at once and logs when each arrived; the tests
check host_concurrency (never more transfers at once than it allows, and it uses them),
host_spacing (request starts at least that far apart) and a host-wide pause (one
treaty's 429 with Retry-After holds back the others' fetches on that host, while an
operator's refresh still goes).
"""
import json
import socket
import sys
import time

import harness
from harness import TITLE, check, eq, result_of

COUNT = "ratification accession acceptance approval succession confirmation"


def treaty_ids(n):
    return ["S-%d" % i for i in range(1, n + 1)]


def sections(ctx, ids):
    """[treaty ID] sections, each at /ID on the fixture server (the main one included)."""
    out = []
    for tid in ids:
        out += ["", "[treaty %s]" % tid, "title = %s" % TITLE,
                "url = %s" % ctx.server.url("/" + tid), "format = html", "threshold = 20",
                "eif_delay = 3 months", "eif_align = next-month", "count = %s" % COUNT]
    return "\n".join(out) + "\n"


def start(ctx, ids, ratd, delay=0.0):
    """A daemon tracking ids on one host; each path serves IV-13.html after delay s."""
    for tid in ids:
        ctx.serve("/" + tid, file="IV-13.html", delay=delay)
    conf = ctx.write_conf(ctx.server.url("/" + ids[0]), ratd=ratd, extra=sections(ctx, ids[1:]))
    # The harness's own section carries the main id: rename it to the first of ids.
    with open(conf) as f:
        text = f.read().replace("[treaty %s]" % harness.TREATY, "[treaty %s]" % ids[0], 1)
    with open(conf, "w") as f:
        f.write(text)
    d = ctx.daemon(conf)
    harness.wait_for(lambda: all(committed(d, t) for t in ids), 30, "every first fetch")
    return d


def committed(d, tid):
    """The treaty's first page is fetched and parsed (a refresh now fetches anew)."""
    return d.status(tid).get("source", {}).get("state") == "ok"


def refresh(d, tid=None, timeout=30.0):
    req = {"cmd": "refresh"}
    if tid is not None:
        req["treaty"] = tid
    return result_of(d.request(req, timeout=timeout), "refresh")["treaties"]


def test_host_concurrency(ctx):
    ids = treaty_ids(6)
    d = start(ctx, ids, {"host_concurrency": "2", "host_spacing": "0"}, delay=0.3)
    ctx.server.reset_peaks()
    t0 = time.monotonic()
    results = refresh(d)
    took = time.monotonic() - t0
    eq(sorted(r["id"] for r in results), sorted(ids), "treaties refreshed")
    for r in results:
        check(r["result"] in ("changed", "unchanged", "not-modified"),
              "%s: refresh result %r (%s)" % (r["id"], r["result"], r.get("error")))
    check(ctx.server.peak_active <= 2,
          "%d requests answered at once with host_concurrency = 2" % ctx.server.peak_active)
    eq(ctx.server.peak_active, 2, "requests at once (both slots used)")
    rc, out, err, _ = ctx.ratctl("refresh", timeout=30)
    eq(rc, 0, "ratctl refresh (every treaty) exit status; stderr %r" % err)
    eq(out.count("\n"), len(ids), "ratctl refresh lines: %r" % out)
    # Six treaties' full views are more than a screenful: a line each, unless --all.
    rc, out, err, _ = ctx.ratctl("status")
    eq(rc, 0, "ratctl status exit status; stderr %r" % err)
    lines = out.splitlines()
    eq([l.split()[0] for l in lines[:len(ids)]], ids, "summary lines' treaties")
    for l in lines[:len(ids)]:
        check(l.split()[1:] == ["59/20", "in", "force", "since", "2003-07-01", "ok"],
              "summary line %r" % l)
    check(lines[len(ids)].startswith("6 treaties, 0 not ok"), "summary footer %r" % lines[-1])
    rc, out, err, _ = ctx.ratctl("status", "--all")
    eq(rc, 0, "ratctl status --all exit status; stderr %r" % err)
    eq(out.count("entry into force"), len(ids), "full views with --all")
    rc, out, err, _ = ctx.ratctl("status", ids[0], "--all")
    eq(rc, 2, "ratctl status TREATY --all exit status")
    # Six 0.3 s answers two at a time: three rounds, not one, not six.
    check(0.85 <= took < 1.8, "a refresh of six 0.3 s pages two at a time took %.2fs" % took)


def refresh_lines(d, timeout=30.0):
    """A refresh of every treaty with progress: every line the daemon sent, parsed."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(d.sock)
    s.sendall(b'{"cmd": "refresh", "progress": true}\n')
    buf, lines = b"", []
    while not lines or "ok" not in lines[-1]:
        chunk = s.recv(65536)
        check(chunk, "the daemon hung up before its refresh reply")
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append(json.loads(line))
    s.close()
    return lines


def test_host_spacing(ctx):
    ids = treaty_ids(3)
    d = start(ctx, ids, {"host_concurrency": "3", "host_spacing": "1s"})
    t0 = time.time()
    lines = refresh_lines(d)
    results = result_of(lines[-1], "refresh")["treaties"]
    eq(len(results), 3, "treaties refreshed")
    eq([l["progress"]["done"] for l in lines[:-1]], [1, 2], "progress lines before the reply")
    eq({l["progress"]["total"] for l in lines[:-1]}, {3}, "progress total")
    starts = sorted(r.time for r in ctx.server.requests() if r.time >= t0)
    eq(len(starts), 3, "requests after the refresh")
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    check(all(g >= 0.95 for g in gaps),
          "request starts %s s apart with host_spacing = 1s" % ["%.3f" % g for g in gaps])


def test_host_retry_after(ctx):
    ids = treaty_ids(2)
    ratd = {"host_concurrency": "2", "host_spacing": "0"}
    d = start(ctx, ids, ratd)
    ctx.serve("/" + ids[0], file="IV-13.html", status=429, headers=[("Retry-After", "120")])
    res = refresh(d, ids[0])
    eq(res[0]["result"], "error", "refresh of the treaty answered 429")
    # New treaties on the same host, due at once: they wait out the host's pause.
    more = treaty_ids(4)[2:]
    for tid in more:
        ctx.serve("/" + tid, file="IV-13.html")
    conf = ctx.write_conf(ctx.server.url("/" + ids[0]), ratd=ratd, extra=sections(ctx, ids[1:] + more))
    with open(conf) as f:
        text = f.read().replace("[treaty %s]" % harness.TREATY, "[treaty %s]" % ids[0], 1)
    with open(conf, "w") as f:
        f.write(text)
    result_of(d.request({"cmd": "reload"}), "reload")
    time.sleep(3)
    for tid in more:
        eq(ctx.server.count("/" + tid), 0,
           "requests for %s within 3 s of its host's 429 with Retry-After: 120" % tid)
    # An operator's refresh is not held back by the pause: neither a new fetch nor one
    # that was waiting it out.
    res = refresh(d, ids[1])
    eq(res[0]["result"] in ("changed", "unchanged", "not-modified"), True,
       "an operator's refresh during the host's pause: %r" % res)
    res = refresh(d, more[0], timeout=10)
    eq(res[0]["result"] in ("changed", "unchanged", "not-modified"), True,
       "a refresh of a treaty whose fetch waits out the host's pause: %r" % res)
    eq(ctx.server.count("/" + more[1]), 0, "requests for %s, still held back" % more[1])


def test_many_treaties_status_line(ctx):
    """systemd's STATUS= counts the treaties when there are many: a part per treaty would
    evaluate every treaty after every fetch. ratctl check counts them too."""
    path = ctx.dir + "/notify.sock"
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(0.2)
    ctx.env["NOTIFY_SOCKET"] = path
    ids = treaty_ids(9)
    d = start(ctx, ids, {"host_concurrency": "2", "host_spacing": "0"})
    refresh(d)
    statuses = []
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            msg = ns.recv(65536).decode()
        except socket.timeout:
            if statuses:
                break
            continue
        statuses += [m for m in msg.split("\n") if m.startswith("STATUS=")]
    ns.close()
    # ratctl check names only the treaties that are not OK when there are many.
    rc, out, err, _ = ctx.ratctl("check")
    eq(rc, 0, "ratctl check exit status; stderr %r" % err)
    check(out.startswith("RATD OK - 9 of 9 treaties OK | "), "ratctl check line %r" % out[:200])
    check(statuses, "no STATUS= from the daemon")
    check(statuses[-1].startswith("STATUS=9 treaties: 9 ok, 0 source failing, 0 not fetched "
                                  "yet; next fetch "), "the last STATUS=: %r" % statuses[-1])


if __name__ == "__main__":
    sys.exit(harness.main(harness.Suite("scale", 60, sys.modules[__name__])))
