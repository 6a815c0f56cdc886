#!/bin/sh
# graph_path= and fsreclaim-report (issue 13): hz_cycle3's 3-lock cycle
# through fs_reclaim is written as DOT at exit; fsreclaim-report renders
# it with Graphviz.  The SVG (parsed as XML) has a node for each lock class
# of the reported chain and the chain's edges highlighted (class
# "reported"); report.html has a section per JSON report with the source
# lines of its frames and the picture inline.  Bad input: status 2.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
run=$top_builddir/preload/fsreclaim-run report=$top_srcdir/tools/fsreclaim-report
work=$(mktemp -d /tmp/fsr-graph.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }
command -v dot >/dev/null || { no "Graphviz's dot is missing (.ci/deps: graphviz)"; exit 1; }

"$run" --opt interval=0 --opt graph_path="$work/g" --opt json_path="$work/j" \
	-- "$top_builddir/tests/hazard/hz_cycle3" >"$work/out" 2>&1
dotf=$(ls "$work"/g.*.dot 2>/dev/null | head -n 1)
[ -n "$dotf" ] && grep -q '^digraph fs_reclaim' "$dotf" && ok "graph_path: $(grep -c -- '->' "$dotf") edges in $(basename "$dotf")" \
	|| no "graph_path: no DOT file"
if out=$("$report" -o "$work/html" "$work"/j.* "$dotf" 2>&1); then ok "fsreclaim-report: $out"; else no "fsreclaim-report: $out"; fi

r=$(python3 - "$work/html/graph.svg" "$work"/j.* <<'PY'
import json, re, sys
import xml.etree.ElementTree as ET
svg, jpath = sys.argv[1], sys.argv[2]
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(svg).getroot()
names, reported = {}, []
for g in root.iter("{http://www.w3.org/2000/svg}g"):
    cls = (g.get("class") or "").split()
    title = g.find("s:title", ns)
    if title is None:
        continue
    if "node" in cls:
        texts = [t.text or "" for t in g.iter("{http://www.w3.org/2000/svg}text")]
        names[title.text] = texts[0] if texts else ""
    elif "edge" in cls and "reported" in cls:
        reported.append(title.text.replace("&#45;", "-").split("->"))
reps = [json.loads(l) for l in open(jpath) if l.strip()]
inv = [r for r in reps if r["kind"] == "reclaim-lock-inversion"]
if not inv:
    print("no reclaim-lock-inversion report"); sys.exit(1)
m = re.search(r"Chain exists of:\n\s*(.*)\n", inv[0].get("body", ""))
if not m:
    print("no chain in the report body"); sys.exit(1)
chain = [c.strip() for c in m.group(1).split("-->")]
shown = set(names.values())
missing = [c for c in chain if c not in shown]
if missing:
    print("chain %s: %s not in the picture (nodes: %s)" % (chain, missing, sorted(shown))); sys.exit(1)
red = {(names.get(a), names.get(b)) for a, b in reported}
want = {(chain[i], chain[i + 1]) for i in range(len(chain) - 1)}
if not want <= red:
    print("chain edges %s not all highlighted (highlighted: %s)" % (sorted(want), sorted(red))); sys.exit(1)
print("chain %s: every class a node, its %d edges highlighted" % (" --> ".join(chain), len(want)))
PY
) && ok "graph.svg: $r" || no "graph.svg: $r"

h=$work/html/report.html
njson=$(grep -c . "$work"/j.*)
nsec=$(grep -c '<h2 id="r[0-9]*"' "$h")
[ "$nsec" = "$njson" ] && ok "report.html: one section per report ($nsec)" || no "report.html: $nsec sections for $njson reports"
grep -q '<svg' "$h" && grep -q 'class="src"' "$h" && grep -q 'grow_inode' "$h" \
	&& ok "report.html: the picture inline, source lines of the frames" || no "report.html: no picture or no source lines"

# bad input and bad paths
printf 'not json\n' >"$work/bad.json"
"$report" -o "$work/h2" "$work/bad.json" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "fsreclaim-report on a non-JSON file: status 2" || no "fsreclaim-report on bad input: status $rc"
out=$("$run" --opt graph_path=/nonexistent/dir/g -- sh -c 'echo RAN' 2>&1); rc=$?
if [ $rc = 2 ] && printf '%s' "$out" | grep -q graph_path && ! printf '%s' "$out" | grep -q RAN; then
	ok "unwritable graph_path: '$out'"
else
	no "unwritable graph_path: status $rc '$out'"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
