#!/usr/bin/env python3
"""A loopback page server for `make bench` (stdlib only): a page that changes on every fetch.

    python3 tests/bench/pages.py --page tests/fixtures/IV-13.html [--port N]

/page answers the page and a copy with one participant's date moved by a day, in turn,
so every fetch carries a table change (ratd refuses pages that lose participants, so the
two differ by one cell only). /page-stamp alternates the page with a copy whose "STATUS
AS AT" time differs by a second: a new page every time, but the same table, so no event.
HTTP/1.1 keep-alive, Content-Length, no validators: every check is a full transfer and a
full parse. /page.xml does for --xml what /page does.

    GET /_ctl?trickle=SECONDS   the next answers are sent in 100 pieces over SECONDS
    GET /_ctl?trickle=0         back to sending at once
    GET /_ctl?delay=SECONDS     pages are answered SECONDS after their request (0: at once)
    GET /_ctl?reset=1           the peaks count from now on
    GET /_stats                 {"served": N, "trickles_started": N, "trickles_done": N,
                                 "conns_open": N, "conns_peak": N, "busy": N, "busy_peak": N,
                                 "overlap_peak": N}

conns_* count connections from accept to the server seeing the client's close (its
thread may see that a little late); busy_* count requests from their arrival to the end
of their answer; overlap_peak is the most answers in progress at one instant, from the
times each handler read its request and wrote its last byte.

A query string after a page's path is ignored: many treaties may share one page, each at
a URL of its own. Connections to /_ctl and /_stats are not counted in conns_*.

Idle keep-alive connections are closed after --keepalive seconds (IIS: 120). Prints
"port N" once listening. Binds 127.0.0.1 only; stops on SIGTERM or SIGINT.
"""
import argparse
import json
import math
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRICKLE_STEPS = 100


def variant(body, old, new):
    """body with the first occurrence of old replaced by new; fails loudly if absent."""
    if old not in body:
        raise SystemExit("pages.py: %r not found in the page" % old)
    return body.replace(old, new, 1)


class Pages:
    """Two bodies per path, served in turn, and the counters the driver reads."""

    def __init__(self, html, xml):
        self.lock = threading.Lock()
        self.bodies = {}
        self.turn = {}
        # Chad's ratification moves from 22 to 23 Feb 2022 and back: one changed cell.
        if html is not None:
            self.bodies["/page"] = (html, variant(html, b"22 Feb\t 2022", b"23 Feb\t 2022"),
                                    "text/html; charset=utf-8")
            self.bodies["/page-stamp"] = (html, variant(html, b"05:00:44 EDT", b"05:00:45 EDT"),
                                          "text/html; charset=utf-8")
        if xml is not None:
            self.bodies["/page.xml"] = (xml, variant(xml, b"22 Feb\t 2022", b"23 Feb\t 2022"),
                                        "application/xml")
        self.trickle = 0.0
        self.delay = 0.0
        self.stats = {"served": 0, "trickles_started": 0, "trickles_done": 0,
                      "conns_open": 0, "conns_peak": 0, "busy": 0, "busy_peak": 0}
        self.spans = []

    def next_body(self, path):
        with self.lock:
            a, b, ctype = self.bodies[path]
            n = self.turn.get(path, 0)
            self.turn[path] = n + 1
            self.stats["served"] += 1
            return (a if n % 2 == 0 else b), ctype, self.trickle

    def count(self, key):
        with self.lock:
            self.stats[key] += 1

    def busy(self, delta):
        """A page request began (+1) or its answer was sent (-1)."""
        with self.lock:
            self.stats["busy"] += delta
            self.stats["busy_peak"] = max(self.stats["busy_peak"], self.stats["busy"])

    def overlap(self):
        """The most answers in progress at one instant: [request read, last byte written]
        intervals, timed in the handler (a counter would also hold the threads' lag)."""
        edges = sorted([(a, 1) for a, b in self.spans] + [(b, -1) for a, b in self.spans],
                       key=lambda e: (e[0], e[1]))
        cur = peak = 0
        for _, d in edges:
            cur += d
            peak = max(peak, cur)
        return peak

    def conn(self, delta):
        """A page connection opened (+1) or closed (-1)."""
        with self.lock:
            self.stats["conns_open"] += delta
            self.stats["conns_peak"] = max(self.stats["conns_peak"], self.stats["conns_open"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120           # seconds an idle connection stays open; set by --keepalive
    # Headers and body go out as two writes: with Nagle on, the body would wait for the
    # client's delayed ACK of the headers, and every fetch would take 40 ms longer.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass

    counted = False             # this connection asked for a page: it is in conns_*

    def finish(self):
        try:
            super().finish()
        finally:
            if self.counted:
                self.server.pages.conn(-1)

    def do_GET(self):
        pages = self.server.pages
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_ctl":
            q = urllib.parse.parse_qs(url.query)
            with pages.lock:
                if "trickle" in q:
                    pages.trickle = float(q["trickle"][0])
                if "delay" in q:
                    pages.delay = float(q["delay"][0])
                if "reset" in q:
                    pages.stats["conns_peak"] = pages.stats["conns_open"]
                    pages.stats["busy_peak"] = pages.stats["busy"]
                    pages.spans = []
            return self.small(200, b"ok\n", "text/plain")
        if url.path == "/_stats":
            with pages.lock:
                text = json.dumps(dict(pages.stats, overlap_peak=pages.overlap())).encode()
            return self.small(200, text, "application/json")
        if url.path not in pages.bodies:
            return self.small(404, b"Not Found\n", "text/plain")
        if not self.counted:
            self.counted = True
            pages.conn(+1)
        t0 = time.monotonic()
        pages.busy(+1)
        try:
            self.page(pages, url)
        finally:
            t1 = time.monotonic()
            pages.busy(-1)
            with pages.lock:
                pages.spans.append((t0, t1))

    def page(self, pages, url):
        with pages.lock:
            delay = pages.delay
        if delay > 0:
            time.sleep(delay)
        body, ctype, trickle = pages.next_body(url.path)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "private")
        if trickle > 0:
            self.send_header("Connection", "close")
        self.end_headers()
        if trickle <= 0:
            self.wfile.write(body)
            return
        self.close_connection = True
        pages.count("trickles_started")
        step = max(1, math.ceil(len(body) / TRICKLE_STEPS))
        pause = trickle / TRICKLE_STEPS
        try:
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(pause)
        except OSError:
            return
        pages.count("trickles_done")

    def small(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def read(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description="Changing pages for make bench.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--page", help="HTML page served at /page")
    ap.add_argument("--xml", help="MTDSG XML served at /page.xml")
    ap.add_argument("--keepalive", type=float, default=120.0,
                    help="seconds before an idle connection is closed")
    args = ap.parse_args()
    Handler.timeout = args.keepalive
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.pages = Pages(read(args.page), read(args.xml))
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
    print("port %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
