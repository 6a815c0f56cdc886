# mount.sh - mount, wait and clean-up helpers shared by the shell tests that
# mount FUSE filesystems (sourced, POSIX sh).  Scripts load it as
#   . "$top_srcdir/tests/lib/mount.sh"

# fsr_require_fuse [WHY]: exit 77 (skip), saying so, when /dev/fuse is missing
fsr_require_fuse() {
	if [ ! -c /dev/fuse ]; then
		echo "SKIP: /dev/fuse is missing${1:+: $1}"
		exit 77
	fi
}

# fsr_is_mounted MNT: is MNT a mountpoint (an entry of /proc/mounts)?
fsr_is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# fsr_wait_mount MNT PID: poll /proc/mounts every 0.1 s, up to 20 s, until
# MNT is mounted.  Returns 0 once it is, 2 as soon as PID (the daemon) has
# died, 1 after 20 s.
fsr_wait_mount() {
	_fsr_i=0
	while [ $_fsr_i -lt 200 ]; do
		fsr_is_mounted "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 2
		sleep 0.1
		_fsr_i=$((_fsr_i + 1))
	done
	fsr_is_mounted "$1"
}

# fsr_wait_line TENTHS PATTERN FILE...: poll every 0.1 s, up to TENTHS/10 s,
# until a FILE has a line matching PATTERN (grep's); 0 once one has, else 1
fsr_wait_line() {
	_fsr_n=$1 _fsr_pat=$2
	shift 2
	_fsr_i=0
	while ! grep -q "$_fsr_pat" "$@" 2>/dev/null; do
		[ $_fsr_i -lt "$_fsr_n" ] || return 1
		sleep 0.1
		_fsr_i=$((_fsr_i + 1))
	done
}

# fsr_unmount MNT PID [TENTHS]: unmount MNT (fusermount3 -u, else a lazy
# -u -z), then wait up to TENTHS/10 s (default 10 s) for the daemon PID to
# exit.  Returns 0 once it has, 1 if it still runs; it does not reap PID.
fsr_unmount() {
	fusermount3 -u "$1" 2>/dev/null || fusermount3 -u -z "$1"
	_fsr_i=0
	while kill -0 "$2" 2>/dev/null; do
		[ $_fsr_i -lt "${3:-100}" ] || return 1
		sleep 0.1
		_fsr_i=$((_fsr_i + 1))
	done
	return 0
}

# fsr_cleanup DIR [PID...]: lazily unmount every mount under DIR (deepest
# first), kill -9 the PIDs, then remove DIR unless a mount survived.
fsr_cleanup() {
	_fsr_d=$1
	shift
	for _fsr_m in $(awk -v d="$_fsr_d" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		fusermount3 -u -z "$_fsr_m" 2>/dev/null || umount -l "$_fsr_m" 2>/dev/null
	done
	for _fsr_p in "$@"; do
		kill -9 "$_fsr_p" 2>/dev/null
	done
	if awk -v d="$_fsr_d" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "WARNING: a mount under $_fsr_d survived; not removing it" >&2
	else
		rm -rf "$_fsr_d"
	fi
}

# fsr_trap_exit CMD [STATUS]: run CMD (evaluated then, e.g.
# 'fsr_cleanup "$T" $pid') on every exit path, keeping the exit status.
# HUP, INT and TERM (tests/bounded.sh's timeout sends TERM) exit with
# STATUS, by default 128 + the signal number.
fsr_trap_exit() {
	trap '_fsr_rc=$?; trap - EXIT; '"$1"'; exit $_fsr_rc' EXIT
	trap "exit ${2:-129}" HUP
	trap "exit ${2:-130}" INT
	trap "exit ${2:-143}" TERM
}

# fsr_mounted_test NAME [MNT]: what a test that mounts a daemon sets up
# first: its scratch directory T=/tmp/fsr-NAME.XXXXXX and, with MNT, the
# mountpoint M=$T/MNT in it; on every exit path fsr_cleanup unmounts and
# removes T and kills the daemon $pid (status 1 on a signal); fail=0, and
# FAIL MSG says "FAIL: MSG" and sets fail=1.
fsr_mounted_test() {
	T=$(mktemp -d "/tmp/fsr-$1.XXXXXX") || exit 99
	if [ -n "${2:-}" ]; then
		M=$T/$2
		mkdir "$M"
	fi
	pid=
	fsr_trap_exit 'fsr_cleanup "$T" $pid' 1
	fail=0
	FAIL() { echo "FAIL: $*"; fail=1; }
}

# fsr_work_dir NAME: the same for a test of txfs (or another daemon $pid)
# with its own names: work=/tmp/fsr-NAME.XXXXXX and the mountpoint
# mnt=$work/mnt in it, cleaned up as fsr_mounted_test's
fsr_work_dir() {
	work=$(mktemp -d "/tmp/fsr-$1.XXXXXX") || exit 99
	mnt=$work/mnt pid=
	fsr_trap_exit 'fsr_cleanup "$work" $pid' 1
	mkdir -p "$mnt"
}

# fsr_shm_test NAME [STATUS]: the scratch directory of a test that runs
# the daemons $PIDS (none at first): T=/dev/shm/fsr-NAME.XXXXXX, on tmpfs
# (in /tmp where /dev/shm is not writable); on every exit path fsr_cleanup
# unmounts and removes T and kills PIDS (fsr_trap_exit STATUS on a signal)
fsr_shm_test() {
	_fsr_base=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && _fsr_base=/dev/shm
	T=$(mktemp -d "$_fsr_base/fsr-$1.XXXXXX") || exit 99
	PIDS=
	fsr_trap_exit 'fsr_cleanup "$T" $PIDS' "${2:-}"
}

# fsr_require_built FILE...: exit 1, saying so, when a FILE (a test program)
# is not built
fsr_require_built() {
	for _fsr_f in "$@"; do
		[ -x "$_fsr_f" ] || { echo "FAIL: $_fsr_f not built"; exit 1; }
	done
}

# fsr_abort_conn MNT: abort the FUSE connection of the mount MNT through
# fusectl (mounted on /sys/fs/fuse/connections for the while if need be, as
# root): what frees a daemon deadlocked on its own mount, which even SIGKILL
# leaves stuck (its exit flushes its files on the mount).
fsr_abort_conn() {
	_fsr_dev=$(awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
	[ -n "$_fsr_dev" ] || return 1
	_fsr_c=$(( (${_fsr_dev%%:*} << 20) | ${_fsr_dev#*:} ))
	_fsr_ctl=/sys/fs/fuse/connections _fsr_m=
	if [ ! -e "$_fsr_ctl/$_fsr_c" ] && mount -t fusectl fusectl "$_fsr_ctl" 2>/dev/null; then _fsr_m=1; fi
	echo 1 2>/dev/null > "$_fsr_ctl/$_fsr_c/abort"
	_fsr_r=$?
	[ -z "$_fsr_m" ] || umount "$_fsr_ctl"
	[ $_fsr_r = 0 ] && echo "aborted the FUSE connection $_fsr_c of $1"
	return $_fsr_r
}

# fsr_bounded MNT SECS CMD [ARGS...]: run CMD, which uses the FUSE mount
# MNT; when it takes more than SECS s, abort MNT's connection (see
# fsr_abort_conn) and return 124, else return CMD's status.
fsr_bounded() {
	_fsr_bm=$1 _fsr_bs=$2
	shift 2
	"$@" &
	_fsr_sp=$!
	_fsr_i=0
	while kill -0 $_fsr_sp 2>/dev/null; do
		if [ $_fsr_i -ge $((_fsr_bs * 10)) ]; then
			fsr_abort_conn "$_fsr_bm"
			wait $_fsr_sp
			return 124
		fi
		sleep 0.1
		_fsr_i=$((_fsr_i + 1))
	done
	wait $_fsr_sp
}

# fsr_bounded_stat PATH MNT [SECS]: stat PATH, on the FUSE mount MNT, as
# fsr_bounded (SECS: 20)
fsr_bounded_stat() {
	fsr_bounded "$2" "${3:-20}" stat "$1" > /dev/null 2>&1
}
