#!/bin/sh
# sarif_path= (issue 13): the SARIF of a hazard program and of txfs's
# nofs-missing run validates against the official SARIF 2.1.0 schema
# (tests/output/sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec
# sarif-2.1/schema/, formerly Schemata/; its sha256 is checked), has one
# result per printed report, each result's primary location is the text
# report's SUMMARY frame, files under source_root are SRCROOT-relative
# (fusefs/journal.c with its line), the file is valid after kill -9 (it
# is rewritten on each report), and an unwritable path is status 2.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$top_srcdir/tests/lib/mount.sh"
run=$top_builddir/preload/fsreclaim-run txfs=$top_builddir/fusefs/txfs
schema=$top_srcdir/tests/output/sarif-schema-2.1.0.json
fsr_work_dir sarif
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

sum=$(sha256sum "$schema" | cut -d' ' -f1)
[ "$sum" = c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e ] \
	&& ok "the schema is the official sarif-schema-2.1.0.json (sha256 $sum)" || no "schema sha256 $sum"
python3 -c 'import jsonschema' 2>/dev/null || { no "python3-jsonschema is missing (.ci/deps)"; echo "$pass passed, $fail failed"; exit 1; }

# check SARIF LOG [EXPECT_URI EXPECT_BASE]: schema, one result per report,
# primary location = SUMMARY frame; prints what it checked
check() {
	python3 - "$schema" "$1" "$2" "${3:-}" "${4:-}" <<'PY'
import json, re, sys
import jsonschema
schema_path, sarif_path, log_path, want_uri, want_base = sys.argv[1:6]
schema = json.load(open(schema_path))
doc = json.load(open(sarif_path))
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
if errors:
    print("schema: %d errors, first: %s at %s" % (len(errors), errors[0].message[:200], list(errors[0].path)))
    sys.exit(1)
text = open(log_path, errors="replace").read()
heads = re.findall(r"^==\d+== ?fsreclaim: (ERROR|WARNING): ([a-z-]+)", text, re.M)
summaries = re.findall(r"^SUMMARY: fsreclaim: ([a-z-]+) (\S+) (\S+):(\d+)$", text, re.M)
results = doc["runs"][0]["results"]
if len(results) != len(heads):
    print("%d results for %d reports" % (len(results), len(heads))); sys.exit(1)
for r, (lvl, kind), s in zip(results, heads, summaries):
    if r["ruleId"] != kind or r["level"] != lvl.lower():
        print("result %s/%s for report %s/%s" % (r["ruleId"], r["level"], kind, lvl)); sys.exit(1)
    loc = r["locations"][0]
    name = loc["logicalLocations"][0]["name"]
    phys = loc.get("physicalLocation")
    if s[0] != kind or name != s[1] or not phys or phys["region"]["startLine"] != int(s[3]) \
            or not phys["artifactLocation"]["uri"].endswith("/" + s[2]) and phys["artifactLocation"]["uri"] != s[2]:
        print("primary location %s %s for SUMMARY %s" % (name, phys, s)); sys.exit(1)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    if rules[r["ruleIndex"]]["id"] != kind:
        print("ruleIndex %d is %s, not %s" % (r["ruleIndex"], rules[r["ruleIndex"]]["id"], kind)); sys.exit(1)
if want_uri:
    hits = [r for r in results
            if r["locations"][0].get("physicalLocation", {}).get("artifactLocation", {}).get("uri") == want_uri
            and r["locations"][0]["physicalLocation"]["artifactLocation"].get("uriBaseId") == want_base]
    if not hits:
        print("no primary location %s (base %s): %s" % (want_uri, want_base,
              [r["locations"][0].get("physicalLocation") for r in results][:3])); sys.exit(1)
    line = hits[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    print("%d results, valid; %s:%d (uriBaseId %s)" % (len(results), want_uri, line, want_base))
else:
    print("%d results, valid, primary locations = SUMMARY frames" % len(results))
PY
}

# a hazard program: several reports, two kinds
"$run" --opt interval=1 --opt sarif_path="$work/p" --opt log_path="$work/plog" \
	-- "$top_builddir/tests/hazard/hz_table" deadlock >/dev/null 2>&1
if [ -f "$work/p".*.sarif ] && r=$(check "$work"/p.*.sarif "$work"/plog.*); then ok "hz_table: $r"; else no "hz_table: ${r:-no SARIF file}"; fi
[ -z "$(ls "$work"/p.*.sarif.tmp 2>/dev/null)" ] && ok "no temporary file left" || no "a .tmp file was left"

# txfs nofs-missing (the demo's run), killed with -9 after its reports
"$run" --opt interval=3 --opt sarif_path="$work/t" --opt source_root="$top_srcdir" --opt log_path="$work/tlog" \
	-- "$txfs" -f -o hazard=nofs-missing "$mnt" 2>"$work/err" &
pid=$!
if fsr_wait_mount "$mnt" "$pid"; then
	for w in 1 2 3 4 5 6; do
		echo "data $w" >"$mnt/f$w" && mkdir "$mnt/d$w" && mv "$mnt/f$w" "$mnt/d$w/g" && sync "$mnt/d$w/g"
	done
	kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
	fusermount3 -u -z "$mnt" 2>/dev/null
	if r=$(check "$work"/t.*.sarif "$work"/tlog.* fusefs/journal.c SRCROOT); then ok "txfs nofs-missing, after kill -9: $r"; else no "txfs nofs-missing: $r"; fi
	root=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"])' "$work"/t.*.sarif)
	case $root in "file://$(cd "$top_srcdir" && pwd)/") ok "SRCROOT is $root" ;; *) no "SRCROOT is $root" ;; esac
else
	no "txfs did not mount: $(head -c 300 "$work/err")"
fi

# an unwritable path: one line naming the key, status 2, before the program runs
out=$("$run" --opt sarif_path=/nonexistent/dir/s -- sh -c 'echo RAN' 2>&1); rc=$?
if [ $rc = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q sarif_path && ! printf '%s' "$out" | grep -q RAN; then
	ok "unwritable sarif_path: '$out'"
else
	no "unwritable sarif_path: status $rc '$out'"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
