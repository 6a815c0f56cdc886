# wire.sh - checks shared by the shell tests that run real daemons on the
# /dev/fuse wire (sourced, POSIX sh; after the script defined FAIL).
#   . "$top_srcdir/tests/lib/wire.sh"

# fsr_stat_of KEY LOG: the value of KEY= on the first stats line of LOG (the daemon's)
fsr_stat_of() {
	grep -m1 -o "fsreclaim: stats:.*" "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# fsr_wire_reports NAME LOG ALLOWED: FAIL on a report in LOG other than of
# kind ALLOWED (-: none allowed); sets fsr_kinds to the kinds reported
fsr_wire_reports() {
	fsr_kinds=$(sed -n 's/^SUMMARY: fsreclaim: \([a-z-]*\).*/\1/p' "$2" | sort -u)
	if [ "$3" = - ]; then
		[ -z "$fsr_kinds" ] || { FAIL "$1: reports on a correct daemon: $fsr_kinds"; cat "$2"; }
	else
		for k in $fsr_kinds; do
			[ "$k" = "$3" ] || { FAIL "$1: unexpected report $k"; grep -B40 -m1 "^SUMMARY: fsreclaim: $k " "$2"; }
		done
	fi
}
