# fsreclaim-report: JSON report lines and DOT graphs to SVG and HTML
# (Python 3 and Graphviz's dot at run time, see its docstring).
bin_SCRIPTS += tools/fsreclaim-report
EXTRA_DIST += tools/fsreclaim-report
