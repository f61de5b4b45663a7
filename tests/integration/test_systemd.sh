#!/bin/sh
# The systemd side of ratd: the units verify, the service's sandbox exposure is at most
# 1.2, the sysusers file makes the socket's group, and ratd under socket activation
# takes the passed socket, reports readiness, reload, watchdog and stop over
# NOTIFY_SOCKET, and leaves the socket file to its owner.
#
# Usage: tests/integration/test_systemd.sh [BUILT_RATD]   (default build/ratd)
# Exit 0 when every check passed (checks whose tool is missing are skipped, and say so).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
ratd=${1:-build/ratd}
max_exposure=12                 # tenths: 1.2
fails=0

ok() { echo "ok   - $*"; }
skip() { echo "skip - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

case $ratd in
/*) ;;
*) ratd=$root/$ratd ;;
esac
ratctl=$(dirname "$ratd")/ratctl
if [ ! -x "$ratd" ] || [ ! -x "$ratctl" ]; then
	echo "FAIL - $ratd or $ratctl is not built (make first)"
	exit 1
fi
tmp=$(mktemp -d /tmp/ratd-systemd.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. What the units promise each other and ratctl.
want=$(sed -n 's/^#define RATD_DEFAULT_SOCKET "\(.*\)"$/\1/p' common/proto.h)
listens=$(grep -c '^ListenStream=' systemd/ratd.socket)
if [ "$listens" = 1 ] && grep -qx "ListenStream=$want" systemd/ratd.socket; then
	ok "ratd.socket has one ListenStream=, ratctl's default $want"
else
	fail "ratd.socket must have exactly one ListenStream=$want (ratd takes one socket)"
fi
for line in Type=notify RuntimeDirectoryPreserve=yes Requires=ratd.socket \
    'ExecStart=/usr/local/sbin/ratd'; do
	if grep -qx "$line" systemd/ratd.service; then
		ok "ratd.service has $line"
	else
		fail "ratd.service lacks $line"
	fi
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze is not installed: units not verified, exposure not measured"
else
	# 2. systemd-analyze verify, with ExecStart pointing at the built binary and the
	# man pages of Documentation= where man can find them.
	sed "s|^ExecStart=/usr/local/sbin/ratd|ExecStart=$ratd|" systemd/ratd.service \
	    >"$tmp/ratd.service"
	cp systemd/ratd.socket "$tmp/ratd.socket"
	mkdir -p "$tmp/man/man1" "$tmp/man/man5" "$tmp/man/man8"
	cp man/ratctl.1 "$tmp/man/man1/"
	cp man/ratd.conf.5 "$tmp/man/man5/"
	cp man/ratd.8 "$tmp/man/man8/"
	out=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/ratd.service" \
	    "$tmp/ratd.socket" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify ratd.service ratd.socket: clean"
	else
		fail "systemd-analyze verify (exit $rc):"
		echo "$out" | sed 's/^/       /'
	fi

	# 3. Exposure, as systemd-analyze computes it (tenths, rounded up).
	out=$(systemd-analyze security --offline=true --threshold=100 \
	    "$tmp/ratd.service" 2>&1)
	figure=$(echo "$out" | sed -n 's/.*Overall exposure level for ratd.service: \([0-9]*\.[0-9]\).*/\1/p')
	if [ -z "$figure" ]; then
		fail "systemd-analyze security printed no exposure figure:"
		echo "$out" | tail -5 | sed 's/^/       /'
	else
		tenths=$(echo "$figure" | tr -d .)
		echo "$out" | grep '✗' | sed 's/^/       /'
		if [ "$tenths" -le $max_exposure ]; then
			ok "exposure of ratd.service: $figure (at most 1.2)"
		else
			fail "exposure of ratd.service: $figure, more than 1.2"
		fi
	fi
fi

# 4. The sysusers file creates user and group "ratd" (needs root to write a root).
if ! command -v systemd-sysusers >/dev/null 2>&1; then
	skip "systemd-sysusers is not installed"
elif [ "$(id -u)" != 0 ]; then
	skip "systemd-sysusers --root needs root"
else
	mkdir -p "$tmp/root/etc" "$tmp/root/usr/lib/sysusers.d"
	cp systemd/ratd.sysusers.conf "$tmp/root/usr/lib/sysusers.d/ratd.conf"
	if out=$(systemd-sysusers --root="$tmp/root" 2>&1) &&
	    grep -q '^ratd:x:[0-9]*:[0-9]*:.*:/var/lib/ratd:' "$tmp/root/etc/passwd" &&
	    grep -q '^ratd:x:[0-9]*:' "$tmp/root/etc/group"; then
		ok "ratd.sysusers.conf creates user and group ratd"
	else
		fail "ratd.sysusers.conf does not create user and group ratd: $out"
	fi
fi

# 5. ratd under socket activation, as ratd.socket and Type=notify run it.
if ! command -v systemd-socket-activate >/dev/null 2>&1 ||
    ! command -v python3 >/dev/null 2>&1; then
	skip "systemd-socket-activate or python3 missing: activation not exercised"
else
	mkdir -p -m 0750 "$tmp/state"
	cat >"$tmp/ratd.conf" <<EOF
[ratd]
socket = $tmp/ratd.sock
state_dir = $tmp/state
seed_dir = $root/data
interval = 1h
jitter = 0

[treaty IV-13]
url = http://127.0.0.1:9/unreachable
threshold = 20
eif_delay = 3 months
eif_align = next-month
EOF
	python3 - "$tmp" "$ratd" "$ratctl" <<'EOF' || fails=$((fails + 1))
import os, re, signal, socket, stat, subprocess, sys, time

tmp, ratd, ratctl = sys.argv[1:4]
sock = tmp + "/ratd.sock"
failed = False


def check(cond, what):
    global failed
    print(("ok   - " if cond else "FAIL - ") + what)
    failed = failed or not cond
    return cond


def start(listen, notify, extra_env=()):
    args = ["systemd-socket-activate"]
    for path in listen:
        args += ["-l", path]
    args += ["-E", "NOTIFY_SOCKET=" + notify, "-E", "WATCHDOG_USEC=1000000"]
    for e in extra_env:
        args += ["-E", e]
    log = open(tmp + "/ratd.log", "w")
    p = subprocess.Popen(args + [ratd, "-c", tmp + "/ratd.conf"], stdout=log,
                         stderr=subprocess.STDOUT, env={"PATH": os.environ["PATH"]})
    deadline = time.monotonic() + 5
    while not all(os.path.exists(path) for path in listen) and time.monotonic() < deadline:
        time.sleep(0.02)
    check(all(os.path.exists(path) for path in listen),
          "systemd-socket-activate listening on %s within 5 s" % ", ".join(listen))
    return p


def messages(ns, seconds, *until):
    """Notification datagrams until each regex of until has matched one, or time is up."""
    got, left = [], list(until)
    deadline = time.monotonic() + seconds
    while left and time.monotonic() < deadline:
        ns.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            m = ns.recv(4096).decode()
        except socket.timeout:
            break
        got.append(m)
        left = [u for u in left if not re.fullmatch(u, m, re.S)]
    return got


def ratctl_run(*args):
    return subprocess.run([ratctl, "-s", sock] + list(args), capture_output=True,
                          text=True, timeout=20)


def log_text():
    with open(tmp + "/ratd.log") as f:
        return f.read()


ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(tmp + "/notify")
p = start([sock], tmp + "/notify")
try:
    # The first connection makes systemd-socket-activate exec ratd with the socket.
    r = ratctl_run("version")
    check(r.returncode == 0 and "ratd 0.1.0" in r.stdout,
          "ratctl reaches ratd through the inherited socket (%s)" % r.stdout.strip().replace("\n", ", "))
    got = messages(ns, 10, "READY=1", "STATUS=.*")
    check("READY=1" in got, "READY=1 sent (%s)" % got)
    check(any(m.startswith("STATUS=") and "\n" not in m for m in got),
          "a one-line STATUS= at start-up")
    got = messages(ns, 2, "WATCHDOG=1")
    check("WATCHDOG=1" in got, "WATCHDOG=1 within WATCHDOG_USEC/2 of 1 s")
    os.kill(p.pid, signal.SIGHUP)
    got = [m for m in messages(ns, 10, "RELOADING=1\n.*", "READY=1") if m != "WATCHDOG=1"]
    check(any(re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=[0-9]+", m) for m in got)
          and got and got[-1] == "READY=1",
          "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1")
    r = ratctl_run("status")
    check(r.returncode == 0, "ratctl status after the reload")
    os.kill(p.pid, signal.SIGTERM)
    got = messages(ns, 10, "STOPPING=1")
    check("STOPPING=1" in got, "SIGTERM: STOPPING=1")
    check(p.wait(timeout=10) == 0, "ratd exits 0 after SIGTERM")
    check(os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode),
          "the inherited socket file is left to its owner")
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
if failed:
    print("       ratd's log:\n" + "".join("       " + l for l in log_text().splitlines(True)))

# Two sockets: ratd refuses to guess which one is its control socket.
os.unlink(sock)
p = start([sock, tmp + "/second.sock"], tmp + "/notify")
try:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    rc = p.wait(timeout=10)
    log = log_text()
    check(rc == 1 and "ratd takes exactly one" in log,
          "two passed sockets: exit %s, %s" % (rc, log.strip().splitlines()[-1:] ))
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
sys.exit(1 if failed else 0)
EOF
fi

if [ $fails -gt 0 ]; then
	echo "test_systemd: $fails check(s) failed"
	exit 1
fi
echo "test_systemd: all checks passed"
exit 0
