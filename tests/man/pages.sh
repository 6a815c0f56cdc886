#!/bin/sh
# pages.sh - the manual pages (man/): lint-clean, installed by make install,
# and in step with the code.  Each page keeps what the code has in marked
# lists (".\" BEGIN NAME" ... ".\" END NAME", one .TP entry per item; the
# comment at the top of each page says the form).  Both directions fail: an
# item of the code missing from its page, and a page item the code lacks.
#   options    fsreclaim-run(1)  the keys the shim's option parser knows
#              (tests/man/codefacts asks fsr_options_parse() about every
#              word literal in preload/), with defaults that the parser
#              turns into fsr_options_defaults(); fsreclaim-run --help
#              names every key too
#   kinds      libfsreclaim(7)   the kinds the suppressions parser knows (the
#              report code's kind table), each with the level the code
#              reports it at (fsr_hazard_init calls)
#   functions, macros  fsreclaim(3)  the fsr_*/memalloc_* functions and
#              FSR_* macros of every installed header
#   options, commands, hazards  txfs(8)  fusefs/: its -o options (fuse_opt
#              spec), its --commands, its hazard_names[] table; each mode
#              of the page is accepted by txfs itself
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
man=$top_srcdir/man
facts=$top_builddir/tests/man/codefacts
runner=$top_builddir/preload/fsreclaim-run
txfs=$top_builddir/fusefs/txfs
pages="fsreclaim-run.1 fsreclaim-report.1 libfsreclaim.7 fsreclaim.3 txfs.8"
t=$(mktemp -d /tmp/fsr-man.XXXXXX)
trap 'rm -rf "$t"' EXIT
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }
for tool in mandoc man groff; do
	command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool is not installed (.ci/deps)"; exit 1; }
done

# --- lint: mandoc's warnings, and groff's through man-db, as lintian runs it
# (the four pages, and any other page man/ has)
all=$( (echo $pages | tr ' ' '\n'; cd "$man" && ls *.[1-8]) | sort -u)
for p in $all; do
	[ -f "$man/$p" ] || { bad "$p: missing"; continue; }
	mandoc -T lint -W warning "$man/$p" >"$t/lint" 2>&1 || { cat "$t/lint"; bad "$p: mandoc -T lint -W warning"; }
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man/$p" >"$t/out" 2>"$t/warn"
	[ -s "$t/warn" ] && { cat "$t/warn"; bad "$p: man --warnings -l printed warnings"; }
	[ "$(wc -l <"$t/out")" -gt 20 ] || bad "$p: man -l renders almost nothing"
	groff -man -ww -z "$man/$p" >"$t/warn" 2>&1
	[ -s "$t/warn" ] && { cat "$t/warn"; bad "$p: groff -ww"; }
done

# --- make install puts each page in its section
${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$t/dest" >"$t/install.log" 2>&1 ||
	{ cat "$t/install.log"; echo "FAIL: make install DESTDIR"; exit 1; }
for p in $pages; do
	n=$(find "$t/dest" -path "*/man/man${p##*.}/$p" | wc -l)
	[ "$n" = 1 ] || bad "make install: $p is not installed in man${p##*.}"
done

# entries PAGE LIST: one line per .TP entry of the marked LIST: the line
# after .TP, a tab, the entry's other lines joined
entries() {
	awk -v n="$2" '
	function flush() { if (head != "") print head "\t" body; head = ""; body = "" }
	/^\.\\" BEGIN / && $3 == n { on = 1; next }
	/^\.\\" END / && $3 == n { flush(); on = 0 }
	!on { next }
	/^\.TP/ { flush(); want = 1; next }
	want { head = $0; want = 0; next }
	{ body = body " " $0 }' "$man/$1"
}
# block PAGE LIST: every line of the marked LIST
block() {
	awk -v n="$2" '/^\.\\" BEGIN / && $3 == n { on = 1; next }
		/^\.\\" END / && $3 == n { on = 0 } on' "$man/$1"
}
# roff to plain words: no font escapes, macros, quotes; \- is -
plain() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\c//g' -e 's/^\.[A-Z]* *//' -e 's/"//g'; }
# first word of each head, up to '='
names() { cut -f1 | plain | sed -e 's/^-o *//' -e 's/[= ].*//'; }
# literals WORDS-REGEX FILE...: the string literals of the sources that match
literals() { re=$1; shift; cat "$@" | grep -o '"[^"]*"' | tr -d '"' | grep -E "^($re)\$" | sort -u; }
# same NAME CODE-LIST PAGE-LIST: both lists equal, else say what differs
same() {
	sort -u "$2" >"$2.s"; sort -u "$3" >"$3.s"
	[ -s "$2.s" ] || bad "$1: found nothing in the code (did its table change shape? see tests/man/pages.sh)"
	for x in $(comm -23 "$2.s" "$3.s"); do bad "$1: '$x' is in the code, not in the page"; done
	for x in $(comm -13 "$2.s" "$3.s"); do bad "$1: '$x' is in the page, not in the code"; done
}

# --- fsreclaim-run(1): options and defaults
literals '[a-z][a-z0-9_]*' "$top_srcdir"/preload/*.c "$top_srcdir"/preload/*/*.c | "$facts" options >"$t/code.opt"
entries fsreclaim-run.1 options >"$t/page.optent"
names <"$t/page.optent" >"$t/page.opt"
same "fsreclaim-run(1) options" "$t/code.opt" "$t/page.opt"
"$runner" --help >"$t/help"
for k in $(cat "$t/code.opt"); do
	grep -Eq "(^|[ ,])$k=" "$t/help" || bad "fsreclaim-run --help does not name option '$k'"
done
while IFS='	' read -r head body; do
	k=$(printf '%s\n' "$head" | names)
	d=$(printf '%s\n' "$body" | sed -n 's/.*Default: \\fB\([^\\]*\(\\-[^\\]*\)*\)\\f[RP].*/\1/p' | sed 's/\\-/-/g')
	if [ -n "$d" ]; then
		"$facts" default "$k" "$d" || bad "fsreclaim-run(1): '$k' default '$d' is not the code's default"
	else
		printf '%s\n' "$body" | grep -q 'Default: none' ||
			bad "fsreclaim-run(1): '$k' has no 'Default: \\fBVALUE\\fR.' or 'Default: none'"
	fi
done <"$t/page.optent"

# --- libfsreclaim(7): kinds and their levels
literals '[a-z]+(-[a-z]+)+' "$top_srcdir"/preload/*.c "$top_srcdir"/preload/*/*.c | "$facts" kinds >"$t/code.kind"
entries libfsreclaim.7 kinds >"$t/page.kindent"
names <"$t/page.kindent" >"$t/page.kind"
same "libfsreclaim(7) kinds" "$t/code.kind" "$t/page.kind"
cat "$top_srcdir"/preload/*.c "$top_srcdir"/preload/*/*.c | tr '\n' ' ' |
	grep -oE 'fsr_hazard_init\([^,;]*, *"[a-z-]+", *FSR_(ERROR|WARNING)\)' |
	sed -E 's/.*"([a-z-]+)", *FSR_([A-Z]+)\)/\1 \2/' | sort -u >"$t/code.level"
[ -s "$t/code.level" ] || bad "libfsreclaim(7): no fsr_hazard_init(..., KIND, LEVEL) calls found in preload/"
while read -r k lvl; do
	grep -qx "$k" "$t/code.kind" || bad "kind '$k' is reported (fsr_hazard_init) but not in the report code's kind table"
	cut -f1 "$t/page.kindent" | plain | grep -Eq "^$k +\($lvl\)" ||
		bad "libfsreclaim(7): '$k' is reported at level $lvl; its entry says otherwise"
done <"$t/code.level"

# --- fsreclaim(3): the installed headers' functions and macros
: >"$t/code.fn"; : >"$t/code.mac"
for h in $(find "$t/dest" -name '*.h'); do
	gcc -fpreprocessed -dD -E -P "$h" 2>/dev/null >"$t/h.i" || cp "$h" "$t/h.i"
	grep -oE '(^|[^.>A-Za-z0-9_])(memalloc|fsr)_[A-Za-z0-9_]*[A-Za-z0-9] *\(' "$t/h.i" |
		sed -E 's/^[^a-z]*//; s/ *\($//' >>"$t/code.fn"
	grep -oE '^# *define +FSR_[A-Za-z0-9_]*[A-Za-z0-9]\b' "$t/h.i" | sed -E 's/.* //' >>"$t/code.mac"
done
block fsreclaim.3 functions | plain | grep -oE '(memalloc|fsr)_[A-Za-z0-9_]* *\(' | sed 's/ *($//' >"$t/page.fn"
same "fsreclaim(3) functions" "$t/code.fn" "$t/page.fn"
entries fsreclaim.3 macros | names >"$t/page.mac"
same "fsreclaim(3) macros" "$t/code.mac" "$t/page.mac"

# --- txfs(8): options, commands, hazard modes
grep -ohE '"[a-z_]+=%' "$top_srcdir"/fusefs/txfs.c | sed -E 's/"([a-z_]+)=%/\1/' >"$t/code.txopt"
entries txfs.8 options | names >"$t/page.txopt"
same "txfs(8) options" "$t/code.txopt" "$t/page.txopt"
literals '--[a-z-]+' "$top_srcdir"/fusefs/txfs.c | grep -vx -- '--help\|--version' >"$t/code.txcmd"
entries txfs.8 commands | names >"$t/page.txcmd"
same "txfs(8) commands" "$t/code.txcmd" "$t/page.txcmd"
awk '/hazard_names\[\] *=/ { on = 1 } on { print } on && /};/ { on = 0 }' "$top_srcdir"/fusefs/*.c |
	grep -o '"[^"]*"' | tr -d '"' >"$t/code.mode"
entries txfs.8 hazards | names >"$t/page.mode"
same "txfs(8) hazard modes" "$t/code.mode" "$t/page.mode"
# txfs parses the mode before it creates the session, which then refuses a
# bogus FUSE option: nothing is mounted
mkdir "$t/mnt"
for m in $(cat "$t/page.mode") codefacts-no-such-mode; do
	"$txfs" -o hazard="$m" -o fsr_no_such_option "$t/mnt" >"$t/txfs.out" 2>&1
	if grep -q 'unknown hazard mode' "$t/txfs.out"; then
		[ "$m" = codefacts-no-such-mode ] || bad "txfs(8): txfs refuses hazard mode '$m'"
	elif [ "$m" = codefacts-no-such-mode ] || ! grep -q 'unknown option' "$t/txfs.out"; then
		cat "$t/txfs.out"; bad "txfs(8): txfs -o hazard=$m did not answer as this check expects"
	fi
done

[ "$fail" = 0 ] && echo "PASS: $(echo $pages | wc -w) pages lint-clean, installed, and in step with the code"
exit "$fail"
