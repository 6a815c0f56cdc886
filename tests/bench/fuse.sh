#!/bin/sh
# FUSE throughput on libfuse3's passthrough_ll: plain, shim idle, interval=1000.
exec "$(dirname "$0")/fs.sh" passthrough_ll
