#!/usr/bin/env python3
"""A local HTTP server that plays UNTC for the integration tests (stdlib only).

Every path has a "behaviour": the body it serves (a fixture file or raw bytes), the status,
extra headers, ETag / Last-Modified validators, gzip, a delay before the answer, and slow
delivery (trickle) or no answer at all (hang). The server counts the most GETs being
answered at once (peak_active: from the request to the end of its delay, before the
answer is written, so that a client's next request never overlaps its last), and the most
connections open at once (peak_conns: a connection counts until the server's thread sees
the client's close, which under load can be after the client's next one opened). A path
without a behaviour of its own gets /page's. Tests set
behaviours from the same process and read the log of requests received, headers included.

Standalone, for poking a daemon by hand:
    python3 tests/integration/fixture_server.py --port 8080 --dir tests/fixtures
serves IV-13.html at /page and every fixture file at /NAME.
"""
import argparse
import email.utils
import gzip as gziplib
import hashlib
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PATH = "/page"
HTML_TYPE = "text/html; charset=utf-8"
XML_TYPE = "application/xml"

# What UNTC's IIS answers, under HTTP 200, when ASP.NET fails (customErrors mode=RemoteOnly).
ASPNET_ERROR_PAGE = b"""<!DOCTYPE html>
<html>
    <head>
        <title>Runtime Error</title>
        <meta name="viewport" content="width=device-width" />
        <style>
         body {font-family:"Verdana";font-weight:normal;font-size: .7em;color:black;}
         p {font-family:"Verdana";font-weight:normal;color:black;margin-top: -5px}
         b {font-family:"Verdana";font-weight:bold;color:black;margin-top: -5px}
         H1 { font-family:"Verdana";font-weight:normal;font-size:18pt;color:red }
         H2 { font-family:"Verdana";font-weight:normal;font-size:14pt;color:maroon }
         pre {font-family:"Consolas","Lucida Console",Monospace;font-size:11pt;margin:0;padding:0.5em;line-height:14pt}
         .marker {font-weight: bold; color: black;text-decoration: none;}
         .version {color: gray;}
         .error {margin-bottom: 10px;}
         .expandable { text-decoration:underline; font-weight:bold; color:navy; cursor:hand; }
         @media screen and (max-width: 639px) {
          pre { width: 440px; overflow: auto; white-space: pre-wrap; word-wrap: break-word; }
         }
        </style>
    </head>

    <body bgcolor="white">

            <span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>

            <h2> <i>Runtime Error</i> </h2></span>

            <font face="Arial, Helvetica, Geneva, SunSans-Regular, sans-serif ">

            <b> Description: </b>An application error occurred on the server. The current custom error settings for this application prevent the details of the application error from being viewed remotely (for security reasons). It could, however, be viewed by browsers running on the local server machine.
            <br><br>

            <b>Details:</b> To enable the details of this specific error message to be viewable on remote machines, please create a &lt;customErrors&gt; tag within a &quot;web.config&quot; configuration file located in the root directory of the current web application. This &lt;customErrors&gt; tag should then have its &quot;mode&quot; attribute set to &quot;Off&quot;.<br><br>

            <table width=100% bgcolor="#ffffcc">
               <tr>
                  <td>
                      <code><pre>

&lt;!-- Web.Config Configuration File --&gt;

&lt;configuration&gt;
    &lt;system.web&gt;
        &lt;customErrors mode=&quot;Off&quot;/&gt;
    &lt;/system.web&gt;
&lt;/configuration&gt;</pre></code>

                  </td>
               </tr>
            </table>

            <br>

            <b>Notes:</b> The current error page you are seeing can be replaced by a custom error page by modifying the &quot;defaultRedirect&quot; attribute of the application's &lt;customErrors&gt; configuration tag to point to a custom error page URL.<br><br>

            <table width=100% bgcolor="#ffffcc">
               <tr>
                  <td>
                      <code><pre>

&lt;!-- Web.Config Configuration File --&gt;

&lt;configuration&gt;
    &lt;system.web&gt;
        &lt;customErrors mode=&quot;RemoteOnly&quot; defaultRedirect=&quot;mycustompage.htm&quot;/&gt;
    &lt;/system.web&gt;
&lt;/configuration&gt;</pre></code>

                  </td>
               </tr>
            </table>

            <br>

    </body>
</html>
"""


def content_type_for(name):
    """The Content-Type UNTC would send for a file of that name."""
    return XML_TYPE if name.lower().endswith(".xml") else HTML_TYPE


class Behaviour:
    """What one path answers. Immutable once made: set() swaps whole behaviours."""

    def __init__(self, body=b"", status=200, content_type=HTML_TYPE, headers=(),
                 etag=False, last_modified=False, gzip=False, trickle=None, hang=False,
                 chunked=False, delay=0.0, name="bytes"):
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = list(headers)
        # A strong validator derived from the body, as IIS does for static content.
        self.etag = '"%s"' % hashlib.sha1(body).hexdigest()[:20] if etag else None
        if last_modified is True:
            last_modified = email.utils.formatdate(time.time() - 3600, usegmt=True)
        self.last_modified = last_modified or None
        self.gzip = gzip
        self.trickle = trickle          # (bytes per step, seconds between steps) or None
        self.hang = hang                # accept the request, never answer
        self.chunked = chunked          # no Content-Length: Transfer-Encoding: chunked
        self.delay = delay              # seconds between the request and the answer
        self.name = name


class Request:
    """One request as the server saw it."""

    def __init__(self, method, target, headers, when):
        self.method = method
        self.target = target
        self.path = urllib.parse.urlsplit(target).path
        self.headers = headers          # lower-case name -> value
        self.time = when
        self.status = None              # filled in once the answer starts
        self.body = b""                 # what a POST carried

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<%s %s %s %r>" % (self.method, self.target, self.status, self.headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 30                        # idle keep-alive connections end eventually

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        self.server.fixture._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fixture._track(self.connection, False)

    def log_message(self, fmt, *args):
        if self.server.fixture.verbose:
            sys.stderr.write("fixture: %s\n" % (fmt % args))

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        fx = self.server.fixture
        fx._busy(True)
        self._counted = True
        try:
            self._answer(head=False)
        finally:
            if self._counted:
                fx._busy(False)

    def do_POST(self):
        # Webhook sink: record the body, answer with the path's (next) status.
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(n, 1 << 20))
        fx = self.server.fixture
        req = fx._record(self.command, self.path, self.headers, body)
        status = fx._next_status(req.path)
        self._send_simple(req, status, b"ok\n" if status < 300 else b"no\n")

    def _answer(self, head):
        fx = self.server.fixture
        req = fx._record(self.command, self.path, self.headers)
        beh = fx._behaviour_for(req.path)
        if beh is None:
            return self._send_simple(req, 404, b"Not Found\n")
        if beh.delay:
            fx.stopping.wait(beh.delay)
            # Uncounted before the answer goes out: the client may start its next request
            # as soon as it has it, before this thread runs again.
            if getattr(self, "_counted", False):
                self._counted = False
                fx._busy(False)
        if beh.hang:
            fx.stopping.wait(600)
            self.close_connection = True
            return
        if self._not_modified(beh):
            req.status = 304
            self.send_response(304)
            self._validators(beh)
            self.end_headers()
            return
        body = beh.body
        encoding = None
        if beh.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gziplib.compress(body)
            encoding = "gzip"
        req.status = beh.status
        self.send_response(beh.status)
        self.send_header("Content-Type", beh.content_type)
        if beh.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "private")
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        self._validators(beh)
        for k, v in beh.headers:
            self.send_header(k, v)
        self.end_headers()
        if head:
            return
        if beh.chunked:
            return self._chunked(body)
        if beh.trickle is None:
            self.wfile.write(body)
            return
        self._trickle(body, *beh.trickle)

    def _chunked(self, body, size=8192):
        try:
            for i in range(0, len(body), size):
                part = body[i:i + size]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _trickle(self, body, step, pause):
        fx = self.server.fixture
        self.close_connection = True
        try:
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                if fx.stopping.wait(pause):
                    return
        except (BrokenPipeError, ConnectionResetError, OSError):
            return                      # the client gave up: that is the point

    def _not_modified(self, beh):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return beh.etag is not None and (beh.etag in tags or "*" in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims is not None and beh.last_modified is not None:
            try:
                return (email.utils.parsedate_to_datetime(beh.last_modified) <=
                        email.utils.parsedate_to_datetime(ims))
            except (TypeError, ValueError):
                return False
        return False

    def _validators(self, beh):
        if beh.etag:
            self.send_header("ETag", beh.etag)
        if beh.last_modified:
            self.send_header("Last-Modified", beh.last_modified)

    def _send_simple(self, req, status, body):
        req.status = status
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False              # stop() must not wait for a trickling answer
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client hanging up mid-answer is what the tests provoke; anything else is loud.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FixtureServer:
    """The fake UNTC: start(), set(...), requests(), stop()."""

    def __init__(self, fixture_dir, host="127.0.0.1", port=0, verbose=False):
        self.dir = fixture_dir
        self.verbose = verbose
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._behaviours = {}
        self._posts = {}
        self._log = []
        self._conns = set()
        self.peak_conns = 0             # most connections open at once
        self._active = 0
        self.peak_active = 0            # most GETs answered at once (see the docstring)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fixture = self
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fixture-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and cuts every open connection (trickles and hangs included)."""
        if self._thread is None:
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._thread = None

    def url(self, path=DEFAULT_PATH):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def set(self, path=DEFAULT_PATH, file=None, body=None, status=200, content_type=None,
            headers=(), etag=False, last_modified=False, gzip=False, trickle=None,
            hang=False, chunked=False, delay=0.0):
        """What path answers from now on. file: a name in the fixture dir; body: bytes."""
        name = "bytes"
        if file is not None:
            with open(os.path.join(self.dir, file), "rb") as f:
                body = f.read()
            name = file
            if content_type is None:
                content_type = content_type_for(file)
        if body is None:
            body = b""
        beh = Behaviour(body=body, status=status, content_type=content_type or HTML_TYPE,
                        headers=headers, etag=etag, last_modified=last_modified, gzip=gzip,
                        trickle=trickle, hang=hang, chunked=chunked, delay=delay,
                        name=name)
        with self._lock:
            self._behaviours[path] = beh
        return beh

    def behaviour(self, path=DEFAULT_PATH):
        """What path answers now (its ETag, Last-Modified, body)."""
        with self._lock:
            return self._behaviours.get(path)

    def set_post(self, path, statuses):
        """POSTs to path are answered with statuses in turn; the last one repeats."""
        with self._lock:
            self._posts[path] = list(statuses)

    def _next_status(self, path):
        with self._lock:
            seq = self._posts.get(path) or [200]
            return seq.pop(0) if len(seq) > 1 else seq[0]

    def requests(self, path=None):
        """A copy of the requests received so far (for path, or all)."""
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    def count(self, path=None):
        return len(self.requests(path))

    def wait_requests(self, n, timeout, path=None):
        """Waits until at least n requests arrived; returns whether they did."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.count(path) >= n:
                return True
            time.sleep(0.02)
        return self.count(path) >= n

    def _record(self, method, target, headers, body=b""):
        req = Request(method, target, {k.lower(): v for k, v in headers.items()},
                      time.time())
        req.body = body
        with self._lock:
            self._log.append(req)
        return req

    def _behaviour_for(self, path):
        with self._lock:
            beh = self._behaviours.get(path)
            if beh is None:
                beh = self._file_behaviour(path)
            if beh is None:
                beh = self._behaviours.get(DEFAULT_PATH)
        return beh

    def _file_behaviour(self, path):
        name = os.path.basename(path)
        if name == "aspnet-error.html":
            return Behaviour(body=ASPNET_ERROR_PAGE, name=name)
        full = os.path.join(self.dir, name)
        if not name or not os.path.isfile(full):
            return None
        with open(full, "rb") as f:
            return Behaviour(body=f.read(), content_type=content_type_for(name), name=name)

    def _busy(self, start):
        with self._lock:
            self._active += 1 if start else -1
            self.peak_active = max(self.peak_active, self._active)

    def reset_peaks(self):
        """Peaks count from now on (connections open now count)."""
        with self._lock:
            self.peak_conns = len(self._conns)
            self.peak_active = self._active

    def _track(self, conn, add):
        with self._lock:
            if add:
                self._conns.add(conn)
                self.peak_conns = max(self.peak_conns, len(self._conns))
            else:
                self._conns.discard(conn)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Local UNTC stand-in for ratd tests.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", default=os.path.join(here, "..", "fixtures"))
    ap.add_argument("--file", default="IV-13.html", help="what /page serves")
    ap.add_argument("--etag", action="store_true", help="send ETag and Last-Modified")
    ap.add_argument("--gzip", action="store_true", help="gzip when the client accepts it")
    ap.add_argument("--trickle", metavar="BYTES/SECONDS",
                    help="send /page slowly, e.g. 1/0.1")
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    trickle = None
    if args.trickle:
        n, t = args.trickle.split("/")
        trickle = (int(n), float(t))
    srv = FixtureServer(args.dir, port=args.port, verbose=True)
    srv.set(DEFAULT_PATH, file=args.file, status=args.status, etag=args.etag,
            last_modified=args.etag, gzip=args.gzip, trickle=trickle)
    srv.start()
    print("serving %s at %s (fixtures: %s)" % (args.file, srv.url(), os.path.abspath(args.dir)),
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
