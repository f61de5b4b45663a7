#!/bin/sh
# `make memcheck`: ratd (and ratctl) under valgrind's memcheck through a representative
# scenario; fails on any memcheck error or any byte definitely lost.
#
#     tests/integration/memcheck.sh [BUILD]    (from the repository root; KEEP=1 keeps logs)
#
# The scenario: the fixture server on 127.0.0.1 serves the 13 March 2003 page, then the
# 14 March one (events to an exec sink and a webhook, and to a watcher), a page refused
# twice, the current page; an XML treaty and a treaty whose server never answers (a fetch
# in flight at exit); status, parties, history, metrics, bad requests, clients that hang
# up early; ratctl commands; reload by SIGHUP and by request (a good and a bad config),
# SIGUSR1; SIGTERM with a watcher, an idle client and a fetch still open.
set -u

BUILD=${1:-build}
RATD=$BUILD/ratd
RATCTL=$BUILD/ratctl
VALGRIND="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
	--track-fds=no --num-callers=30"

for p in "$RATD" "$RATCTL"; do
	[ -x "$p" ] || { echo "memcheck: $p is missing (run make all)"; exit 1; }
done
command -v valgrind >/dev/null 2>&1 ||
	{ echo "memcheck: valgrind is not installed (apt-get install valgrind)"; exit 1; }

tmp=$(mktemp -d /tmp/ratd-memcheck.XXXXXX) || exit 1
fixture_pid=
keep=${KEEP:-0}
cleanup() {
	[ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null
	if [ "$keep" = 1 ]; then
		echo "memcheck: logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$tmp/www" "$tmp/seed" "$tmp/hook" && mkdir -m 0750 "$tmp/state" || exit 1
cp tests/fixtures/IV-13.2003-03-13.html "$tmp/www/page.html"
cp tests/fixtures/IV-13.xml "$tmp/www/IV-13.xml"
cp data/IV-13.xml "$tmp/seed/IV-13-hole.xml"
# The fixture server is on 127.0.0.1: a proxy set for the machine must not carry ratd's
# transfers to it (libcurl reads these variables).
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# The fixture server reads $tmp/www/NAME at each request: copying a file changes the page.
# It binds a free port itself and says which ("serving FILE at URL ...").
python3 tests/integration/fixture_server.py --port 0 --dir "$tmp/www" \
	--file IV-13.xml >"$tmp/fixture.log" 2>&1 &
fixture_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's|^serving .* at http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/fixture.log")
	[ -n "$port" ] && break
	sleep 0.05
done
if [ -z "$port" ]; then
	echo "memcheck: the fixture server did not start: $(cat "$tmp/fixture.log")" >&2
	exit 1
fi

cat >"$tmp/hook.sh" <<EOF
#!/bin/sh
cat > "$tmp/hook/\$RATD_EVENT_ID.json"
EOF
chmod 0755 "$tmp/hook.sh"

cat >"$tmp/ratd.conf" <<EOF
# ratd under valgrind (tests/integration/memcheck.sh)
[ratd]
socket = $tmp/ratd.sock
socket_mode = 0600
state_dir = $tmp/state
seed_dir = $tmp/seed
interval = 1h
jitter = 0
host_spacing = 0
timeout = 60s
max_page_size = 1M
failures_before_alert = 2

[treaty IV-13]
title = International Convention on the Protection of the Rights of All Migrant Workers and Members of Their Families
url = http://127.0.0.1:$port/page.html
threshold = 20
eif_delay = 3 months
eif_align = next-month
approaching = 3

[treaty IV-13-xml]
url = http://127.0.0.1:$port/IV-13.xml
threshold = 20
eif_delay = 3 months
eif_align = next-month

[alert exec]
exec = $tmp/hook.sh
timeout = 30s

[alert hook]
webhook = http://127.0.0.1:$port/hook
events = new-party threshold-reached source-anomaly source-failing source-recovered
EOF

python3 - "$tmp" "$RATD" "$RATCTL" "$VALGRIND" "$port" <<'EOF'
# The scenario, in Python for the socket work. argv: tmp dir, ratd, ratctl, valgrind.
import json, os, re, shlex, signal, socket, subprocess, sys, time

tmp, ratd_bin, ratctl = sys.argv[1], sys.argv[2], sys.argv[3]
valgrind = shlex.split(sys.argv[4])
port = int(sys.argv[5])
sock = os.path.join(tmp, "ratd.sock")


def fail(msg):
    print("memcheck: scenario: " + msg, flush=True)
    sys.exit(1)


def request(obj, timeout=60, raw=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(raw if raw is not None else (json.dumps(obj) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf.split(b"\n", 1)[0])


def result(obj, what):
    r = request(obj)
    if r.get("ok") is not True:
        fail("%s: %r" % (what, r))
    return r["result"]


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def treaty(tid):
    return result({"cmd": "status", "treaty": tid}, "status")["treaties"][0]


def refresh(tid, want):
    r = result({"cmd": "refresh", "treaty": tid}, "refresh " + tid)["treaties"][0]
    if r.get("result") not in want:
        fail("refresh %s: %r, expected %s" % (tid, r, want))


def page(name, text=None):
    dst = os.path.join(tmp, "www", "page.html")
    data = text if text is not None else open("tests/fixtures/" + name, "rb").read()
    with open(dst + ".tmp", "wb") as f:
        f.write(data)
    os.replace(dst + ".tmp", dst)


def ctl(*args):
    p = subprocess.run(valgrind + ["--log-file=" + os.path.join(tmp, "ratctl-%p.log"),
                                   ratctl, "-s", sock] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if p.returncode == 99:
        fail("valgrind reports errors in ratctl %s (see ratctl-*.log)" % " ".join(args))
    return p.returncode


def delivered():
    st = result({"cmd": "status"}, "status")
    return all(a.get("pending") == 0 for a in st.get("alerts") or [])


def serving():
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


wait(serving, 10, "the fixture server (see fixture.log)")

# A listener that never accepts: a fetch stays in flight until the exit.
hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
hole.bind(("127.0.0.1", 0))
hole.listen(8)
with open(os.path.join(tmp, "ratd.conf")) as f:
    base = f.read()
hole_treaty = ("\n[treaty IV-13-hole]\nurl = http://127.0.0.1:%d/page\nthreshold = 20\n"
               % hole.getsockname()[1])
with open(os.path.join(tmp, "ratd.conf"), "a") as f:
    f.write(hole_treaty)

log = open(os.path.join(tmp, "ratd.log"), "wb")
env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "RATD_SOCKET")}
ratd = subprocess.Popen(valgrind + ["--log-file=" + os.path.join(tmp, "valgrind.log"),
                                    ratd_bin, "-c", os.path.join(tmp, "ratd.conf")],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
try:
    wait(lambda: request({"cmd": "ping"}, 5).get("ok"), 60, "ratd to answer ping")
    wait(lambda: treaty("IV-13")["source"]["state"] == "ok", 60, "the first IV-13 fetch")
    wait(lambda: treaty("IV-13-xml")["source"]["state"] == "ok", 60, "the XML treaty")
    if treaty("IV-13-hole")["source"]["state"] != "seed":
        fail("IV-13-hole should serve its seed")

    watcher = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    watcher.settimeout(60)
    watcher.connect(sock)
    watcher.sendall(b'{"cmd": "watch", "treaty": "IV-13"}\n')
    wf = watcher.makefile("rb")
    if not json.loads(wf.readline()).get("ok"):
        fail("watch")
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.connect(sock)
    mute.sendall(b'{"cmd": "watch"}\n')           # never read: still open at exit
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(sock)
    idle.sendall(b'{"cmd": "sta')                  # half a request at exit

    for obj in ({"cmd": "ping"}, {"cmd": "status"}, {"cmd": "status", "as_of": "2000-12-04"},
                {"cmd": "parties", "treaty": "IV-13"},
                {"cmd": "parties", "treaty": "IV-13-xml", "as_of": "2003-03-14"},
                {"cmd": "history"}, {"cmd": "metrics"}):
        result(obj, obj["cmd"])
    for raw in (b"{nope\n", b"[1]\n", b'{"cmd": "frob"}\n', b'{"cmd": "status", "x": 1}\n',
                b'{"cmd": "status", "as_of": "2003-02-30"}\n', b'{"cmd": "\xff"}\n',
                b'{"cmd": "parties", "treaty": "NOPE"}\n'):
        if request(None, raw=raw).get("ok") is not False:
            fail("bad request %r accepted" % raw)
    for _ in range(5):                             # clients that hang up early
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall(b'{"cmd": "parties", "treaty": "IV-13"}\n')
        s.close()

    page("IV-13.2003-03-14.html")
    refresh("IV-13", ("changed",))
    evs = result({"cmd": "history", "treaty": "IV-13"}, "history")["events"]
    if len(evs) < 3:
        fail("events after 2003-03-14: %r" % evs)
    watched = [json.loads(wf.readline())["event"]["id"] for _ in evs]
    if watched != [e["id"] for e in evs]:
        fail("the watcher got %r, history says %r" % (watched, [e["id"] for e in evs]))
    wait(delivered, 120, "the sinks to deliver")

    page(None, b"<html><head><title>Runtime Error</title></head><body>x</body></html>")
    refresh("IV-13", ("refused",))
    refresh("IV-13", ("refused",))
    page("IV-13.html")
    refresh("IV-13", ("changed",))
    refresh("IV-13", ("unchanged",))
    refresh("IV-13-xml", ("unchanged", "not-modified"))
    wait(delivered, 120, "the sinks to deliver")
    print("memcheck: scenario: %d events, %d delivered to the exec sink"
          % (len(result({"cmd": "history", "limit": 10000}, "history")["events"]),
             len(os.listdir(os.path.join(tmp, "hook")))), flush=True)

    for args in (["status"], ["--json", "status"], ["parties", "IV-13"], ["history", "-n", "5"],
                 ["refresh", "IV-13-xml"], ["check", "IV-13"], ["version"]):
        rc = ctl(*args)
        if rc not in (0, 1, 2):
            fail("ratctl %s: exit status %d" % (" ".join(args), rc))

    # Reloads: by request with a treaty swapped for another, by SIGHUP back, bad ones.
    with open(os.path.join(tmp, "ratd.conf"), "w") as f:
        f.write(base + hole_treaty.replace("IV-13-hole", "IV-13-hole2"))
    result({"cmd": "reload"}, "reload")
    with open(os.path.join(tmp, "ratd.conf"), "w") as f:
        f.write(base + hole_treaty)
    n = os.path.getsize(os.path.join(tmp, "ratd.log"))
    ratd.send_signal(signal.SIGHUP)
    wait(lambda: b"reload:" in open(os.path.join(tmp, "ratd.log"), "rb").read()[n:], 60,
         "the SIGHUP reload")
    with open(os.path.join(tmp, "ratd.conf"), "a") as f:
        f.write("\n[ratd]\nno_such_key = 1\n")
    if request({"cmd": "reload"}).get("ok") is not False:
        fail("a bad configuration was accepted")
    n = os.path.getsize(os.path.join(tmp, "ratd.log"))
    ratd.send_signal(signal.SIGHUP)
    wait(lambda: re.search(rb"error", open(os.path.join(tmp, "ratd.log"), "rb").read()[n:]),
         60, "the failed SIGHUP reload")
    ratd.send_signal(signal.SIGUSR1)
    time.sleep(2)
    result({"cmd": "status"}, "status after the reloads")

    ratd.send_signal(signal.SIGTERM)
    try:
        rc = ratd.wait(120)
    except subprocess.TimeoutExpired:
        fail("ratd under valgrind did not exit within 120 s of SIGTERM")
    if rc not in (0, 99):
        fail("ratd exited with status %d on SIGTERM" % rc)
    sys.exit(rc)
finally:
    if ratd.poll() is None:
        ratd.kill()
EOF
rc=$?

if [ ! -s "$tmp/valgrind.log" ]; then
	echo "memcheck: FAILED: no valgrind report (the scenario failed before ratd started)"
	keep=1
	exit 1
fi
echo "memcheck: ratd under valgrind:"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks" \
	"$tmp/valgrind.log" | sed 's/^==[0-9]*== /    /'
fail=0
case $rc in
0) ;;
99) echo "memcheck: FAILED: valgrind found errors in ratd"; fail=1 ;;
*) echo "memcheck: FAILED: the scenario failed (status $rc)"; fail=1 ;;
esac
if ! grep -q "ERROR SUMMARY: 0 errors" "$tmp/valgrind.log"; then
	echo "memcheck: FAILED: valgrind's report on ratd does not say 0 errors"
	fail=1
fi
if grep -q "definitely lost: [1-9]" "$tmp/valgrind.log"; then
	echo "memcheck: FAILED: ratd lost memory"
	fail=1
fi
for f in "$tmp"/ratctl-*.log; do
	[ -e "$f" ] || continue
	if ! grep -q "ERROR SUMMARY: 0 errors" "$f" || grep -q "definitely lost: [1-9]" "$f"; then
		echo "memcheck: FAILED: ratctl (see below)"
		fail=1
		sed 's/^/    /' "$f"
	fi
done
if [ $fail = 1 ]; then
	sed 's/^/    /' "$tmp/valgrind.log" | tail -n 200
	keep=1
	exit 1
fi
echo "memcheck: ok (ratd and ratctl: 0 errors, 0 bytes definitely lost)"
