# Reports for other readers (issue 13): SARIF validated against the
# official schema, the fs_reclaim graph as DOT and fsreclaim-report's SVG
# and HTML.  They need the shim, so not in a sanitizer build.
if !SANITIZED
TESTS += tests/output/sarif.sh tests/output/graph.sh
endif
EXTRA_DIST += tests/output/sarif.sh tests/output/graph.sh tests/output/sarif-schema-2.1.0.json
