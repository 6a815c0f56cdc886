# lib.sh - shared helpers of the txfs tests (sourced, POSIX sh).
#
# Sets TXFS (the daemon), TMPD (a private scratch directory) and an EXIT
# trap that lazily unmounts every mount under TMPD, kills the daemons this
# test started and removes TMPD, on every exit path (also INT/TERM/HUP,
# which tests/bounded.sh's timeout sends).
: "${top_builddir:=.}" "${top_srcdir:=.}"
TXFS=$top_builddir/fusefs/txfs
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse "cannot mount txfs"
[ -x "$TXFS" ] || { echo "FAIL: $TXFS not built"; exit 1; }
command -v fusermount3 >/dev/null || { echo "FAIL: fusermount3 not found"; exit 1; }

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/txfs-test.XXXXXX") || exit 1
TXFS_PIDS=
fsr_trap_exit 'fsr_cleanup "$TMPD" $TXFS_PIDS'

is_mounted() {
	fsr_is_mounted "$1"
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
	fsr_wait_mount "$_mnt" "$TXFS_PID"
	case $? in
	0) return 0 ;;
	2)
		echo "FAIL: txfs died before mounting $_mnt; its log:" >&2
		cat "$TMPD/txfs.log" >&2
		return 1 ;;
	esac
	echo "FAIL: $_mnt not mounted after 20 s" >&2
	return 1
}

# txfs_umount MOUNTPOINT: clean unmount, then wait for the daemon
txfs_umount() {
	fsr_unmount "$1" "$TXFS_PID" 100
	wait "$TXFS_PID" 2>/dev/null
}

# txfs_crash MOUNTPOINT: kill -9 the daemon, then detach the dead mount
txfs_crash() {
	kill -9 "$TXFS_PID"
	wait "$TXFS_PID" 2>/dev/null
	fusermount3 -u -z "$1"
}
