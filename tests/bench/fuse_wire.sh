#!/bin/sh
# FUSE throughput on libfuse3's passthrough_ll forced onto the /dev/fuse wire
# transport: plain, shim idle, interval=1000 (fs.sh; fsreclaim-run appends its
# --opt keys to FSRECLAIM_OPTIONS).
FSRECLAIM_OPTIONS=${FSRECLAIM_OPTIONS:+$FSRECLAIM_OPTIONS:}fuse_transport=wire
export FSRECLAIM_OPTIONS
exec "$(dirname "$0")/fs.sh" passthrough_ll
