# Replay (issue 13): reports reproduced by their printed replay command,
# schedule digests, record=/replay=@, bad replay= values (replay.sh);
# handle targets replayed on the libfuse transport and on the wire
# (targets.sh).  Needs the shim and the hazard programs, so not in a
# sanitizer build.
if !SANITIZED
TESTS += tests/replay/replay.sh tests/replay/targets.sh
endif
EXTRA_DIST += tests/replay/replay.sh tests/replay/targets.sh
