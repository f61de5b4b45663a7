#!/usr/bin/python3
"""Integration tests for the published files ([publish] in ratd.conf).

    /usr/bin/python3 tests/integration/suite_publish.py --build build [-k] [-v] [TEST...]

Builds on harness.py (Ctx, Daemon, the fixture server). Checks index.html, feed.atom, ID.svg
and ID.ics with Debian's validators: python3-feedparser, python3-icalendar,
python3-html5lib, xmllint (libxml2-utils) and headless chromium (`make deps` installs
them all; run with /usr/bin/python3, which has the python3-* packages). A test skips,
saying why, only where chromium cannot start at all. Loopback only; bounded waits.
"""
import datetime
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
import zoneinfo

import harness
from harness import TREATY, Fail, check, eq, history, short, wait_for

try:
    import feedparser
    import html5lib
    import icalendar
except ImportError as e:
    print("publish: %s: run `make deps` and use /usr/bin/python3 (Debian's python3-feedparser,"
          " python3-icalendar, python3-html5lib)" % e)
    print("publish: 0 passed, 1 failed")
    sys.exit(1)

BUDGET = 100
BASE_URL = "https://ratd.example.org/treaties/"
FILES = ("index.html", "feed.atom", TREATY + ".svg", TREATY + ".ics", TREATY + ".html")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# --- helpers -------------------------------------------------------------------------

def www(ctx):
    return os.path.join(ctx.dir, "www")


def publish_extra(ctx):
    return "\n[publish]\ndir = %s\nbase_url = %s\n" % (www(ctx), BASE_URL.rstrip("/"))


def read(ctx, name):
    with open(os.path.join(www(ctx), name), "rb") as f:
        return f.read()


def snapshot(ctx):
    """Every published file's bytes."""
    return {n: read(ctx, n) for n in FILES}


def start(ctx, file="IV-13.2003-03-13.html", **kw):
    """Serves file, starts ratd with [publish], waits for the fetch and the files."""
    url = ctx.serve(file=file)
    conf = ctx.write_conf(url, extra=publish_extra(ctx), **kw)
    d = ctx.daemon(conf)
    st = d.wait_state("ok")
    wait_for(lambda: all(os.path.exists(os.path.join(www(ctx), n)) for n in FILES), 5,
             "the published files")
    return d, conf, url, st


def wait_page_shows(ctx, text, what):
    wait_for(lambda: text in read(ctx, "index.html").decode(), 5, what)


def parse_feed(ctx):
    data = read(ctx, "feed.atom")
    f = feedparser.parse(data)
    eq(f.bozo, 0, "feedparser bozo (exception: %r)" % (f.get("bozo_exception"),))
    return f


def parse_ics(ctx):
    data = read(ctx, TREATY + ".ics")
    check_ics_lines(data)
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as e:
        raise Fail("icalendar cannot parse %s.ics: %s" % (TREATY, e))
    return cal


def check_ics_lines(data):
    """CRLF only; each physical line at most 75 octets and whole UTF-8 characters."""
    check(data.endswith(b"\r\n"), "the calendar does not end with CRLF")
    check(b"\n" not in data.replace(b"\r\n", b""), "a bare LF in the calendar")
    check(b"\r" not in data.replace(b"\r\n", b""), "a bare CR in the calendar")
    for i, line in enumerate(data.split(b"\r\n")[:-1]):
        check(len(line) <= 75, "line %d has %d octets: %r" % (i + 1, len(line), line))
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise Fail("line %d splits a UTF-8 character: %r" % (i + 1, line))


def events_of(cal):
    return [c for c in cal.walk() if c.name == "VEVENT"]


def uids(cal):
    return sorted(str(e["UID"]) for e in events_of(cal))


def event_by_uid(cal, uid):
    for e in events_of(cal):
        if str(e["UID"]) == uid:
            return e
    raise Fail("no VEVENT %s among %s" % (uid, short(uids(cal))))


def xmllint(path):
    p = subprocess.run(["xmllint", "--noout", path], capture_output=True, timeout=20)
    eq(p.returncode, 0, "xmllint --noout %s (%s)" % (path, p.stderr.decode()[:300]))


def chromium(ctx, *args, timeout=40):
    """Runs headless chromium on a copy of the files; (exit status, stdout)."""
    prof = tempfile.mkdtemp(prefix="chromium-", dir=ctx.dir)
    argv = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=" + prof] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    p = subprocess.run(argv + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=harness.bounded(timeout), cwd=ctx.dir)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def png_pixels(path):
    """(width, height, set of distinct pixels, share of pixels unlike the first one) of an
    8-bit RGB or RGBA PNG, decoded here (zlib and the five row filters)."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    check(depth == 8 and ctype in (2, 6) and interlace == 0, "PNG form %r" % (hdr,))
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, pixels, other, first = bytearray(stride), set(), 0, None
    for y in range(h):
        ft, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                row[i] = (row[i] + a) & 255
            elif ft == 2:
                row[i] = (row[i] + b) & 255
            elif ft == 3:
                row[i] = (row[i] + ((a + b) >> 1)) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            px = bytes(row[x:x + bpp])
            first = px if first is None else first
            other += px != first
            pixels.add(px)
        prev = row
    return w, h, pixels, other / float(w * h)


# --- the tests -----------------------------------------------------------------------

def test_files_after_first_fetch(ctx):
    d, conf, url, st = start(ctx)
    eq(st.get("counted"), 19, "counted on 2003-03-13's page")
    wait_page_shows(ctx, "19</span> of 20", "index.html to show 19 of 20")
    for n in FILES:
        mode = stat.S_IMODE(os.stat(os.path.join(www(ctx), n)).st_mode)
        eq(mode, 0o644, "mode of %s" % n)
    left = [n for n in os.listdir(www(ctx)) if n not in FILES]
    eq(left, [], "files besides the published ones (temporary files left behind?)")
    html = read(ctx, "index.html").decode()
    # A strict HTML5 parse: html5lib raises on any parse error.
    try:
        html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
    except Exception as e:
        raise Fail("html5lib (strict) refuses index.html: %s" % e)
    for needle in ('<html lang="en">', 'name="viewport"', "@media print", "<th scope=\"row\">",
                   "<th scope=\"col\">", "<title id=\"chart-IV-13-title\">",
                   "<desc id=\"chart-IV-13-desc\">", "default-src 'none'",
                   "Earliest possible entry into force", "2003-03-13"):
        check(needle in html, "index.html lacks %r" % needle)
    check("<script" not in html.lower(), "index.html has a script")
    check(not re.search(r'\s(src|srcset)=', html), "index.html loads a resource")
    for m in re.finditer(r'<link[^>]*href="([^"]*)"', html):
        check(not re.match(r"[a-z]+:", m.group(1)), "<link> to another site: %s" % m.group(1))
    xmllint(os.path.join(www(ctx), TREATY + ".svg"))
    xmllint(os.path.join(www(ctx), "feed.atom"))
    # The treaty's own page: the same section, whole.
    own = read(ctx, TREATY + ".html").decode()
    try:
        html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(own)
    except Exception as e:
        raise Fail("html5lib (strict) refuses %s.html: %s" % (TREATY, e))
    for needle in ("Participants (", "<th scope=\"row\">El Salvador</th>", "2003-03-13"):
        check(needle in own, "%s.html lacks %r" % (TREATY, needle))


def test_day_zone_today(ctx):
    # A zone whose day is not UTC's now, and at least an hour from its next midnight:
    # UTC-12 before 11:00 UTC (its day ends at 12:00 UTC), UTC+14 from then on (its day
    # ended at 10:00 UTC).
    now = datetime.datetime.now(datetime.timezone.utc)
    zone = "Etc/GMT+12" if now.hour < 11 else "Pacific/Kiritimati"
    today = now.astimezone(zoneinfo.ZoneInfo(zone)).date().isoformat()
    utc_today = now.date().isoformat()
    check(today != utc_today, "test setup: %s's day is UTC's (%s)" % (zone, today))
    start(ctx, ratd={"day_zone": zone})
    want = 'Figures as of <time datetime="%s">%s</time> (%s)' % (today, today, zone)
    for name in ("index.html", TREATY + ".html"):
        html = read(ctx, name).decode()
        check(want in html, "%s does not say %r: %r" % (
            name, want, short(html[html.find("Figures as of"):], 200)))
        check("Days are those of %s; times are UTC." % zone in html,
              "%s's footer does not name the zone" % name)


def test_long_index_links_treaty_pages(ctx):
    # Four treaties: the index keeps each one's figures and chart, and links to the
    # treaty's own page for the participants instead of listing them all.
    url = ctx.serve(file="IV-13.html")
    ids = ["IV-13-%s" % c for c in "abc"]
    extra = "".join("\n[treaty %s]\ntitle = Copy %s\nurl = %s\nthreshold = 20\n"
                    % (i, i, url) for i in ids)
    d = ctx.daemon(ctx.write_conf(url, extra=extra + publish_extra(ctx)))
    d.wait_state("ok")
    for i in ids:
        wait_for(lambda: d.status(i)["source"].get("state") == "ok", 5, "%s's fetch" % i)
    names = ["index.html"] + ["%s.html" % i for i in [TREATY] + ids]
    wait_for(lambda: all(os.path.exists(os.path.join(www(ctx), n)) for n in names), 5,
             "index.html and the four treaty pages")
    wait_for(lambda: all(("Copy %s" % i) in read(ctx, "index.html").decode() for i in ids),
             5, "every treaty on the index")
    wait_for(lambda: all('href="%s.html"' % i in read(ctx, "index.html").decode()
                         for i in [TREATY] + ids), 5, "the index to link the four pages")
    wait_for(lambda: all("Participants (70)" in read(ctx, "%s.html" % i).decode()
                         for i in [TREATY] + ids), 5, "the four pages to list 70 participants")
    html = read(ctx, "index.html").decode()
    check("Participants (" not in html, "the index of four treaties lists participants")
    for i in [TREATY] + ids:
        check('<section id="%s"' % i in html, "the index lacks %s's section" % i)
        own = read(ctx, "%s.html" % i).decode()
        check("Participants (70)" in own, "%s.html lacks its 70 participants" % i)


def test_feed_newest_first_stable_ids(ctx):
    d, conf, url, st = start(ctx)
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    evs = history(d)
    check(evs, "no events after the threshold page")
    last = max(e["id"] for e in evs)
    want = "tag:ratd.example.org,2026:ratd/event/%d" % last
    wait_for(lambda: want.encode() in read(ctx, "feed.atom"), 5, "the feed to hold event %d" % last)
    f = parse_feed(ctx)
    eq(f.feed.get("id"), "tag:ratd.example.org,2026:ratd/feed", "the feed's id")
    links = {l.get("rel"): l.get("href") for l in f.feed.get("links", [])}
    eq(links.get("self"), BASE_URL + "feed.atom", "rel=self")
    eq(links.get("alternate"), BASE_URL + "index.html", "rel=alternate")
    ids = [e.id for e in f.entries]
    eq(ids, ["tag:ratd.example.org,2026:ratd/event/%d" % e["id"]
             for e in sorted(evs, key=lambda e: -e["id"])], "entry ids, newest first")
    times = [e.updated for e in f.entries]
    eq(times, sorted(times, reverse=True), "entries' updated times, newest first")
    thr = [e for e in f.entries if "threshold of 20 instruments reached" in e.title]
    eq(len(thr), 1, "threshold-reached entries (titles %r)" % [e.title for e in f.entries])
    eq(thr[0].link, BASE_URL + "index.html#IV-13", "the entry's link")
    check("IV-13" in thr[0].summary, "summary %r" % thr[0].summary)
    before = snapshot(ctx)
    d.stop()
    d2 = ctx.daemon(conf)
    d2.wait_state("ok")
    time.sleep(0.5)
    f2 = parse_feed(ctx)
    eq([e.id for e in f2.entries], ids, "entry ids after a restart")
    eq(read(ctx, "feed.atom"), before["feed.atom"], "feed.atom's bytes after a restart")


def test_calendar(ctx):
    d, conf, url, st = start(ctx)
    cal = parse_ics(ctx)
    for key, val in (("VERSION", "2.0"), ("CALSCALE", "GREGORIAN")):
        eq(str(cal.get(key)), val, key)
    check(str(cal.get("PRODID", "")).startswith("-//ratd//"), "PRODID %r" % cal.get("PRODID"))
    u1 = uids(cal)
    eq(len(u1), len(set(u1)), "UIDs unique")
    early = event_by_uid(cal, "IV-13-earliest@ratd")
    check("earliest possible" in str(early["SUMMARY"]), "summary %r" % early["SUMMARY"])
    check(isinstance(early.decoded("DTSTART"), __import__("datetime").date) and
          not hasattr(early.decoded("DTSTART"), "hour"), "DTSTART is not an all-day date")
    check("IV-13-eif@ratd" not in u1, "an entry into force before the threshold")
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    wait_for(lambda: b"UID:IV-13-eif@ratd" in read(ctx, TREATY + ".ics"), 5,
             "the calendar to hold the entry into force")
    cal = parse_ics(ctx)
    eif = event_by_uid(cal, "IV-13-eif@ratd")
    eq(eif.decoded("DTSTART").isoformat(), "2003-07-01", "entry into force DTSTART")
    desc = str(eif["DESCRIPTION"])
    check("2003-03-14" in desc and "Migrant Workers" in desc, "description %r" % desc)
    parties = [e for e in events_of(cal) if re.match(r"IV-13-eif-[0-9a-f]{16}@ratd$",
                                                       str(e["UID"]))]
    eq(len(parties), 21, "participants' own entries into force on 2003-03-14's page")
    raw = read(ctx, TREATY + ".ics")
    check(re.search(rb"\r\n [^\r]", raw), "no folded line in the calendar")
    u2 = uids(cal)
    d.stop()
    d2 = ctx.daemon(conf)
    d2.wait_state("ok")
    time.sleep(0.5)
    eq(uids(parse_ics(ctx)), u2, "UIDs after a restart")
    eq(read(ctx, TREATY + ".ics"), raw, "the calendar's bytes after a restart")


def test_svg_and_ratctl(ctx):
    d, conf, url, st = start(ctx, file="IV-13.html")
    wait_page_shows(ctx, "59</span> of 20", "index.html to show 59 of 20")
    svg = read(ctx, TREATY + ".svg").decode()
    xmllint(os.path.join(www(ctx), TREATY + ".svg"))
    for needle in ('xmlns="http://www.w3.org/2000/svg"', "<title", "<desc",
                   "threshold 20", "threshold reached 2003-03-14",
                   "entry into force 2003-07-01", ">2000<", "instruments counted", ">year<"):
        check(needle in svg, "the SVG lacks %r" % needle)
    rc, out, err, _ = ctx.ratctl("timeline", TREATY, "--svg")
    eq(rc, 0, "ratctl timeline --svg (stderr %r)" % err)
    path = os.path.join(ctx.dir, "ratctl.svg")
    with open(path, "w") as f:
        f.write(out)
    xmllint(path)
    eq(out, svg, "ratctl timeline --svg and the published IV-13.svg")
    rc, out, err, _ = ctx.ratctl("timeline", TREATY, "--svg", "--as-of", "2003-03-14")
    eq(rc, 0, "ratctl timeline --svg --as-of (stderr %r)" % err)
    check("threshold reached 2003-03-14" in out and "2003-03" in out,
          "the month chart of 2003-03-14: %s" % short(out))
    rc, out, err, _ = ctx.ratctl("status", "--svg")
    eq(rc, 2, "ratctl status --svg (usage error)")


def test_page_in_browser(ctx):
    if CHROMIUM is None:
        return "skipped: chromium is not installed (make deps installs it)"
    d, conf, url, st = start(ctx, file="IV-13.html")
    wait_page_shows(ctx, "59</span> of 20", "index.html to show 59 of 20")
    page = os.path.join(www(ctx), "index.html")
    try:
        rc, dom = chromium(ctx, "--dump-dom", "file://" + page)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "skipped: chromium cannot start: %s" % e
    if rc != 0 or "<html" not in dom:
        return "skipped: chromium cannot start (exit %s, no DOM)" % rc
    text = re.sub(r"<[^>]+>", " ", dom)
    for needle in ("59 of 20 instruments needed", "in force since", "2003-07-01",
                   "2003-03-14", "El Salvador, Guatemala", "Parties", "59 of the 20 needed"):
        check(needle in re.sub(r"\s+", " ", text), "the rendered page lacks %r" % needle)
    # Scripts never run there: the page's own Content-Security-Policy forbids them.
    probe = os.path.join(www(ctx), "probe.html")
    with open(page) as f:
        html = f.read()
    with open(probe, "w") as f:
        f.write(html.replace("</body>", "<script>document.body.setAttribute('data-js','ran')"
                             "</script></body>"))
    rc, dom = chromium(ctx, "--dump-dom", "file://" + probe)
    check("<html" in dom and 'data-js="ran"' not in dom, "a script ran in the page")
    # Chromium's --blink-settings=scriptEnabled=false also stops its own --screenshot;
    # the policy above keeps scripts off instead.
    shot = os.path.join(ctx.dir, "shot.png")
    rc, _ = chromium(ctx, "--window-size=480,900", "--screenshot=" + shot, "file://" + page)
    check(os.path.exists(shot), "no screenshot (exit %s)" % rc)
    w, h, pixels, share = png_pixels(shot)
    eq((w, h), (480, 900), "screenshot size")
    check(len(pixels) > 16 and share > 0.02,
          "the screenshot looks blank: %d colours, %.1f%% not background" %
          (len(pixels), share * 100))


def test_new_party_updates_files(ctx):
    d, conf, url, st = start(ctx)
    wait_page_shows(ctx, "19</span> of 20", "index.html to show 19 of 20")
    before = snapshot(ctx)
    ctx.serve(file="IV-13.2003-03-14.html")
    eq(d.refresh().get("result"), "changed", "refresh to 2003-03-14's page")
    wait_page_shows(ctx, "21</span> of 20", "index.html to show 21 of 20")
    # index.html is written last: the others already show the new parties.
    after = snapshot(ctx)
    for n in FILES:
        check(after[n] != before[n], "%s unchanged after new parties" % n)
    f = parse_feed(ctx)
    check(any("deposited its instrument" in e.title for e in f.entries),
          "no new-party entry in the feed: %r" % [e.title for e in f.entries])
    check(b"threshold reached 2003-03-14" in after[TREATY + ".svg"], "the SVG lacks the date")
    # A fetch without change rewrites only what shows the fetch's time: the pages
    # ("Last successful fetch", to the second). The feed, the chart and the calendar keep
    # their bytes and their inode. The wait makes that time differ from the last one.
    kept = [TREATY + ".svg", TREATY + ".ics", "feed.atom"]
    inodes = {n: os.stat(os.path.join(www(ctx), n)).st_ino for n in kept}
    time.sleep(1.1)
    eq(d.refresh().get("result"), "unchanged", "a second refresh")
    last = d.status()["source"]["last_success"]
    wait_for(lambda: ('datetime="%s"' % last) in read(ctx, TREATY + ".html").decode(), 5,
             "%s.html to show the last successful fetch %s" % (TREATY, last))
    wait_page_shows(ctx, 'datetime="%s"' % last, "index.html to show the last fetch")
    eq({n: os.stat(os.path.join(www(ctx), n)).st_ino for n in kept}, inodes,
       "inodes of the files a fetch without change does not touch")


def test_once_and_bad_dir(ctx):
    url = ctx.serve(file="IV-13.html")
    conf = ctx.write_conf(url, extra=publish_extra(ctx))
    p = ctx.run([harness.RATD, "--once", "-c", conf], 20)
    eq(p.returncode, 0, "ratd --once (stderr %s)" % short(p.stderr.decode()))
    for n in FILES:
        check(os.path.exists(os.path.join(www(ctx), n)), "ratd --once did not write %s" % n)
    shutil.rmtree(www(ctx))
    with open(www(ctx), "w") as f:
        f.write("not a directory\n")
    d = ctx.daemon(conf)
    d.wait_state("ok")
    wait_for(lambda: "publish: " in ctx.log_text(), 5, "a log line saying publishing fails")
    check(ctx.log_text().count("publish: ") == 1, "publish errors logged more than once: %s"
          % short(ctx.log_text(), 800))
    eq(d.status().get("counted"), 59, "status while publishing fails")


if __name__ == "__main__":
    sys.exit(harness.main(harness.Suite("publish", BUDGET, sys.modules[__name__])))
