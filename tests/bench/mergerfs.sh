#!/bin/sh
# FUSE throughput on mergerfs (-o threads=4; its bundled libfuse, so the
# shim's wire transport): plain, shim idle, interval=1000 (issue 10's targets).
exec "$(dirname "$0")/fs.sh" mergerfs
