#!/usr/bin/env bash
# make deb: the Debian package builds with the Debian tools, holds every file where a
# Debian system expects it (conffiles, units, sysusers, man pages, completion, seed),
# its maintainer scripts create the user, enable the units and purge the state, its
# configuration checks clean, and lintian reports no error and no warning.
# Skipped, with a message, where dpkg-buildpackage or debhelper are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
debdir=${1:-build/deb}
fail=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	echo "skip - test_deb: dpkg-buildpackage or debhelper missing (make deb-deps installs them)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t0=$(date +%s)
# The unit tests ran already in make check: the package build leaves them out.
if ! DEB_BUILD_OPTIONS="nocheck parallel=2" nice make -s deb DEB_DIR="$debdir" >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log"
	echo "FAIL - make deb"
	exit 1
fi
deb=$(ls "$debdir"/ratd_*_*.deb)
ok "make deb built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $(( $(date +%s) - t0 )) s"
[ ! -e debian/ratd ] && [ ! -e debian/.debhelper ] && [ ! -e debian/files ] \
	&& ok "the source tree holds no build products" || bad "make deb wrote into debian/"

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/sbin/ratd /usr/bin/ratctl /etc/ratd/ratd.conf /etc/ratd/treaties.d/IV-13.conf \
	/lib/systemd/system/ratd.service /lib/systemd/system/ratd.socket \
	/usr/lib/sysusers.d/ratd.conf /usr/share/man/man8/ratd.8.gz \
	/usr/share/man/man1/ratctl.1.gz /usr/share/man/man5/ratd.conf.5.gz \
	/usr/share/bash-completion/completions/ratctl /usr/share/ratd/IV-13.xml \
	/usr/share/ratd/presets/IV-4.conf /usr/share/ratd/presets/XVIII-16.conf \
	/usr/share/ratd/presets/XXI-10.conf /usr/share/ratd/presets/XXVI-9.conf \
	/usr/share/doc/ratd/copyright /usr/share/doc/ratd/changelog.gz; do
	grep -qx "$f" "$tmp/files" && ok "ships $f" || bad "does not ship $f"
done
grep -q '^/usr/local' "$tmp/files" && bad "ships files under /usr/local" || ok "nothing under /usr/local"

mkdir "$tmp/ctl" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/ctl"
dpkg-deb -x "$deb" "$tmp/root"
[ "$(sort "$tmp/ctl/conffiles")" = "$(printf '/etc/ratd/ratd.conf\n/etc/ratd/treaties.d/IV-13.conf')" ] \
	&& ok "conffiles: ratd.conf and treaties.d/IV-13.conf" \
	|| bad "conffiles: $(tr '\n' ' ' <"$tmp/ctl/conffiles")"
grep -q 'systemd-sysusers.* ratd.conf' "$tmp/ctl/postinst" \
	&& ok "postinst creates the user (systemd-sysusers)" || bad "postinst creates no user"
grep -q "deb-systemd-helper enable 'ratd.service'" "$tmp/ctl/postinst" && \
	grep -q "deb-systemd-helper enable 'ratd.socket'" "$tmp/ctl/postinst" \
	&& ok "postinst enables ratd.service and ratd.socket" || bad "postinst enables no unit"
grep -q 'if \[ -d /run/systemd/system \]' "$tmp/ctl/postinst" && \
	grep -q "deb-systemd-invoke .*'ratd.service'" "$tmp/ctl/postinst" \
	&& ok "postinst starts the units only where systemd runs" \
	|| bad "postinst does not guard the start"
grep -q "deb-systemd-invoke stop 'ratd.service'" "$tmp/ctl/prerm" \
	&& ok "prerm stops the service on removal" || bad "prerm does not stop the service"
grep -q 'rm -rf /var/lib/ratd /var/lib/private/ratd' "$tmp/ctl/postrm" \
	&& ok "postrm purge removes the state" || bad "postrm purge keeps /var/lib/ratd"
grep -q '^Depends:.*libcurl4.*libev4.*libjansson4.*libxml2' "$tmp/ctl/control" \
	&& ok "Depends names the shared libraries" || bad "Depends: $(grep ^Depends "$tmp/ctl/control")"
grep -qx 'ExecStart=/usr/sbin/ratd' "$tmp/root/lib/systemd/system/ratd.service" \
	&& ok "the unit runs /usr/sbin/ratd" || bad "ExecStart does not name /usr/sbin/ratd"

# The shipped configuration checks clean with the shipped binary, its absolute paths
# pointed into the unpacked tree.
sed "s|/etc/ratd/|$tmp/root/etc/ratd/|g; s|/usr/share/ratd|$tmp/root/usr/share/ratd|g" \
	"$tmp/root/etc/ratd/ratd.conf" >"$tmp/check.conf"
if "$tmp/root/usr/sbin/ratd" -n -c "$tmp/check.conf" >"$tmp/out" 2>&1; then
	ok "the shipped ratd.conf parses: $(cat "$tmp/out")"
else
	cat "$tmp/out"
	bad "the shipped ratd.conf does not parse"
fi

# The shipped units verify with the shipped man pages and binary.
if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/verify"
	sed "s|^ExecStart=/usr/sbin/ratd|ExecStart=$tmp/root/usr/sbin/ratd|" \
		"$tmp/root/lib/systemd/system/ratd.service" >"$tmp/verify/ratd.service"
	cp "$tmp/root/lib/systemd/system/ratd.socket" "$tmp/verify/"
	if out=$(MANPATH=$tmp/root/usr/share/man systemd-analyze verify \
		"$tmp/verify/ratd.service" "$tmp/verify/ratd.socket" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify of the shipped units: clean"
	else
		bad "systemd-analyze verify of the shipped units: $out"
	fi
fi

if command -v lintian >/dev/null; then
	t0=$(date +%s)
	nice lintian --tag-display-limit 0 "$deb" "${deb%.deb}.changes" >"$tmp/lintian" 2>&1 \
		|| true
	if grep -E '^[EW]: ' "$tmp/lintian"; then
		bad "lintian reports errors or warnings"
	else
		ok "lintian: no error, no warning ($(grep -c '^[IPX]: ' "$tmp/lintian" || true) notes, $(( $(date +%s) - t0 )) s)"
	fi
else
	echo "skip - lintian is not installed (make deb-deps installs it)"
fi
exit $fail
