# Replay (issue 13): reports reproduced by their printed replay command,
# schedule digests, record=/replay=@, bad replay= values.  Needs the shim
# and the hazard programs, so not in a sanitizer build.
if !SANITIZED
TESTS += tests/replay/replay.sh
endif
EXTRA_DIST += tests/replay/replay.sh
