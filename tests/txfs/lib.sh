# lib.sh - shared helpers of the txfs tests (sourced, POSIX sh).
#
# Sets TXFS (the daemon), TMPD (a private scratch directory) and an EXIT
# trap that lazily unmounts every mount under TMPD, kills the daemons this
# test started and removes TMPD, on every exit path (also INT/TERM/HUP,
# which tests/bounded.sh's timeout sends).
: "${top_builddir:=.}" "${top_srcdir:=.}"
TXFS=$top_builddir/fusefs/txfs
if [ ! -e /dev/fuse ]; then
	echo "SKIP: /dev/fuse is missing: cannot mount txfs"
	exit 77
fi
[ -x "$TXFS" ] || { echo "FAIL: $TXFS not built"; exit 1; }
command -v fusermount3 >/dev/null || { echo "FAIL: fusermount3 not found"; exit 1; }

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/txfs-test.XXXXXX") || exit 1
TXFS_PIDS=

txfs_cleanup() {
	# every mount below TMPD, deepest first
	for m in $(awk -v d="$TMPD" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for p in $TXFS_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	if awk -v d="$TMPD" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "WARNING: a mount under $TMPD survived; not removing it" >&2
	else
		rm -rf "$TMPD"
	fi
}
trap 'rc=$?; trap - EXIT; txfs_cleanup; exit $rc' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# txfs_mount MOUNTPOINT [txfs options...]: start txfs in the foreground (in
# the background of this shell), wait up to 20 s for the mount; sets
# TXFS_PID.  Fails early if the daemon dies.
txfs_mount() {
	_mnt=$1
	shift
	mkdir -p "$_mnt"
	"$TXFS" -f "$@" "$_mnt" 2>>"$TMPD/txfs.log" &
	TXFS_PID=$!
	TXFS_PIDS="$TXFS_PIDS $TXFS_PID"
	_i=0
	while [ $_i -lt 200 ]; do
		is_mounted "$_mnt" && return 0
		if ! kill -0 "$TXFS_PID" 2>/dev/null; then
			echo "FAIL: txfs died before mounting $_mnt; its log:" >&2
			cat "$TMPD/txfs.log" >&2
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "FAIL: $_mnt not mounted after 20 s" >&2
	return 1
}

# txfs_umount MOUNTPOINT: clean unmount, then wait for the daemon
txfs_umount() {
	fusermount3 -u "$1" || fusermount3 -u -z "$1"
	_i=0
	while kill -0 "$TXFS_PID" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$TXFS_PID" 2>/dev/null
}

# txfs_crash MOUNTPOINT: kill -9 the daemon, then detach the dead mount
txfs_crash() {
	kill -9 "$TXFS_PID"
	wait "$TXFS_PID" 2>/dev/null
	fusermount3 -u -z "$1"
}
