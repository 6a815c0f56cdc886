#!/bin/sh
# A short run of tests/stress/stress.sh for make check: 2 clients, 8 s, one
# seed per mode, hazard=none must stay silent.
STRESS_SECONDS=${STRESS_SECONDS:-8} STRESS_CLIENTS=${STRESS_CLIENTS:-2} STRESS_SEEDS=${STRESS_SEEDS:-7} \
	exec "$(dirname "$0")/stress.sh"
