#!/usr/bin/env bash
# Poll-cycle benchmark, not part of the tests: one cycle of 10, 100 and 1,000
# queries against the in-process simulator, which spends BENCH_LATENCY_MS
# (50) on every query, alone or inside /composite; with batching none and
# composite. Prints the cycle's wall time (min, median, max of BENCH_CYCLES)
# and the API calls it spent.
# usage: bench/poll.sh [QUERIES...]
# Environment: BENCH_LATENCY_MS (50), BENCH_CONCURRENCY (4), BENCH_CYCLES (3),
# BENCH_BUILD_DIR (build/bench-scrape), BENCH_NO_BUILD=1.
set -eu
cd "$(dirname "$0")/.."
. bench/common.sh

build=${BENCH_BUILD_DIR:-build/bench-scrape}
mkdir -p "$build"
build_targets "$build" "$build/poll-build.log" poll_bench
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
"$build/bench/poll_bench" "${BENCH_LATENCY_MS:-50}" "${BENCH_CONCURRENCY:-4}" \
  "${BENCH_CYCLES:-3}" "$@"
