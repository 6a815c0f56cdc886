# Manual pages, written by hand in man(7) roff (README, "Manual pages");
# tests/man/pages.sh lints them and checks them against the code.
dist_man_MANS = man/fsreclaim-run.1 man/fsreclaim-report.1 man/libfsreclaim.7 man/fsreclaim.3 man/txfs.8
