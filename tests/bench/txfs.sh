#!/bin/sh
# txfs throughput: plain, shim idle, interval=1000.
exec "$(dirname "$0")/fs.sh" txfs
