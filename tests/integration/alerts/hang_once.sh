#!/bin/sh
# Exec sink for suite_alerts.py. The first run hangs (it is to be killed: by ratd at the
# sink's timeout, or by the test) after writing "SHELL_PID CHILD_PID" to hang.pid; every
# later run appends the event's JSON, one line, to got.jsonl. Files live beside the script.
here=$(dirname "$0")
if [ ! -e "$here/hang.marker" ]; then
	: > "$here/hang.marker"
	sleep 60 &
	echo "$$ $!" > "$here/hang.pid.tmp"
	mv "$here/hang.pid.tmp" "$here/hang.pid"
	wait
	echo "hang_once.sh: the first run was not killed" >&2
	exit 0
fi
ev=$(cat)
printf '%s\n' "$ev" >> "$here/got.jsonl"
