#!/usr/bin/env bash
# make install DESTDIR=...: every file lands where the docs say, an existing
# configuration is never overwritten, and each man page renders.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

make -s install BUILD="$build" DESTDIR="$tmp" PREFIX=/usr/local SYSCONFDIR=/etc >"$tmp.log" 2>&1 \
	|| { cat "$tmp.log"; rm -f "$tmp.log"; echo "FAIL - make install"; exit 1; }
rm -f "$tmp.log"
for f in usr/local/sbin/ratd usr/local/bin/ratctl \
	etc/ratd/ratd.conf etc/ratd/treaties.d/IV-13.conf \
	usr/local/share/ratd/IV-13.xml \
	usr/local/share/ratd/presets/XXVI-9.conf usr/local/share/ratd/presets/XXI-10.conf \
	usr/local/share/ratd/presets/XVIII-16.conf usr/local/share/ratd/presets/IV-4.conf \
	usr/local/share/ratd/presets/IV-15.conf usr/local/share/ratd/presets/XXVII-2-f.conf \
	usr/local/share/man/man8/ratd.8 usr/local/share/man/man1/ratctl.1 \
	usr/local/share/man/man5/ratd.conf.5 \
	usr/local/lib/systemd/system/ratd.service usr/local/lib/systemd/system/ratd.socket \
	usr/local/lib/sysusers.d/ratd.conf \
	usr/local/share/bash-completion/completions/ratctl; do
	[ -f "$tmp/$f" ] && ok "installed /$f" || bad "missing /$f"
done
[ -x "$tmp/usr/local/sbin/ratd" ] && ok "ratd is executable" || bad "ratd is not executable"
grep -q '^ExecStart=/usr/local/sbin/ratd' "$tmp/usr/local/lib/systemd/system/ratd.service" \
	&& ok "the unit runs the installed ratd" || bad "ExecStart does not name /usr/local/sbin/ratd"

# The installed configuration checks clean with the installed binary, once its absolute
# paths are made to point into DESTDIR.
sed "s|/etc/ratd/|$tmp/etc/ratd/|g; s|/usr/local/share/ratd|$tmp/usr/local/share/ratd|g" \
	"$tmp/etc/ratd/ratd.conf" >"$tmp/check.conf"
if "$tmp/usr/local/sbin/ratd" -n -c "$tmp/check.conf" >"$tmp/out" 2>&1; then
	ok "installed ratd.conf parses: $(cat "$tmp/out")"
else
	cat "$tmp/out"
	bad "installed ratd.conf does not parse"
fi

# An administrator's configuration survives a reinstall.
echo "# mine" >>"$tmp/etc/ratd/ratd.conf"
make -s install BUILD="$build" DESTDIR="$tmp" >/dev/null 2>&1
tail -n 1 "$tmp/etc/ratd/ratd.conf" | grep -q '^# mine$' \
	&& ok "an existing ratd.conf is kept" || bad "make install overwrote ratd.conf"

if command -v man >/dev/null 2>&1; then
	for m in man8/ratd.8 man1/ratctl.1 man5/ratd.conf.5; do
		out=$(MANWIDTH=80 man -l "$tmp/usr/local/share/man/$m" 2>&1 | col -b 2>/dev/null || true)
		# groff's own complaints look like "troff: <standard input>:12: warning: ..."
		if [ "$(printf '%s' "$out" | wc -l)" -gt 20 ] && ! printf '%s' "$out" | grep -q 'troff.*warning'; then
			ok "man -l $m renders ($(printf '%s' "$out" | wc -l) lines)"
		else
			bad "man -l $m: $(printf '%s' "$out" | head -5)"
		fi
	done
else
	echo "skip - man is not installed"
fi
# Every man: URL of the installed units names an installed page, and the units verify
# as installed: man finds the pages where make install put them (MANPATH, as after an
# install into /), ExecStart names the installed binary (moved into DESTDIR here).
unitdir=$tmp/usr/local/lib/systemd/system
for u in ratd.service ratd.socket; do
	for url in $(sed -n 's/^Documentation=//p' "$unitdir/$u"); do
		case $url in
		man:*\(*\))
			page=${url#man:}; name=${page%(*}; sec=${page#*(}; sec=${sec%)}
			[ -f "$tmp/usr/local/share/man/man$sec/$name.$sec" ] \
				&& ok "$u: $url is installed" || bad "$u: $url names no installed page" ;;
		*) bad "$u: Documentation=$url is not a man: URL" ;;
		esac
	done
done
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$tmp/verify"
	sed "s|^ExecStart=/usr/local/sbin/ratd|ExecStart=$tmp/usr/local/sbin/ratd|" \
		"$unitdir/ratd.service" >"$tmp/verify/ratd.service"
	cp "$unitdir/ratd.socket" "$tmp/verify/ratd.socket"
	if out=$(MANPATH=$tmp/usr/local/share/man systemd-analyze verify \
		"$tmp/verify/ratd.service" "$tmp/verify/ratd.socket" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify of the installed units: clean"
	else
		bad "systemd-analyze verify of the installed units: $out"
	fi
else
	echo "skip - systemd-analyze is not installed: installed units not verified"
fi

[ $fail = 0 ] && echo "test_install: all checks passed" || { echo "test_install: FAILED"; exit 1; }
