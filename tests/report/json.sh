#!/bin/sh
# JSON lines of reports parse, with the contract's keys, whatever bytes the
# strings held; stack_depth holds in JSON too.
set -u
b=${top_builddir:-.}
d=$(mktemp -d) || exit 99
trap 'rm -rf "$d"' EXIT
"$b/tests/report/report_test" emit "$d" || { echo "emit failed"; exit 1; }
python3 - "$d" <<'PY'
import glob, json, sys
d = sys.argv[1]
files = glob.glob(d + "/json.*")
assert len(files) == 1, files
lines = open(files[0], "rb").read().decode("utf-8").splitlines()
assert len(lines) == 3, len(lines)
for l in lines:
    r = json.loads(l)
    for k in ("kind", "level", "pid", "tid", "op", "message", "locks", "stacks"):
        assert k in r, (k, r)
    assert r["level"] in ("ERROR", "WARNING")
    assert isinstance(r["pid"], int) and isinstance(r["tid"], int)
    assert r["op"] is None or isinstance(r["op"], str)
    for lk in r["locks"]:
        assert set(("name", "class", "site")) <= set(lk), lk
    for s in r["stacks"]:
        assert isinstance(s["title"], str)
        assert len(s["frames"]) <= 4, s            # stack_depth=4
        for f in s["frames"]:
            for k in ("pc", "function", "file", "line"):
                assert k in f, f
            assert f["pc"].startswith("0x")
r = json.loads(lines[0])
assert r["kind"] == "reclaim-deadlock" and r["level"] == "ERROR"
assert r["op"] == 'wr"ite\\', r["op"]
m = r["message"]
assert 'quote " backslash \\ tab \t newline \n ctl \x01\x1f del \x7f' in m, m
assert "\u00e9 \u20ac \U0001F600" in m, m
assert m.count("\ufffd") >= 3 and m.endswith(" end"), m
assert r["locks"][0]["name"] == "test_static_lock", r["locks"]
assert r["locks"][0]["site"]["function"] == "take_lock_here", r["locks"]
assert r["locks"][1]["name"].startswith("lock@0x") and r["locks"][1]["site"] is None
assert r["stacks"][0]["title"] == 'title "quoted"'
assert r["stacks"][1]["frames"][0]["function"] == "emit", r["stacks"][1]
assert r["stacks"][2]["frames"] == []
assert r["stacks"][3]["frames"][0]["function"] is None
assert "Chain exists of" in r.get("body", "")
r = json.loads(lines[1])
assert r["kind"] == "scope-leak" and r["stacks"][0]["frames"][0]["function"] == "hazard_site"
assert r["stacks"][0]["frames"][0]["file"].endswith("report_test.c")
assert isinstance(r["stacks"][0]["frames"][0]["line"], int)
r = json.loads(lines[2])
assert [f["function"] for f in r["stacks"][0]["frames"]] == ["hazard_site", "deep", "deep", "deep"], r
print("json ok")
PY
