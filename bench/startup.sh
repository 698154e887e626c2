#!/usr/bin/env bash
# Start-up benchmark, not part of the tests: from starting the exporter to its
# first answers, against the simulator over HTTPS (a throwaway CA, as in
# scripts/demo.sh), polled every 10 ms:
#   listen  /-/healthy answers 200 (the HTTP server is up; /metrics answers
#           too, with the self metrics only)
#   ready   /-/ready answers 200 (every query has run once)
#   full    a /metrics with every query's series has been read (ready plus one
#           scrape)
#   query   the slowest query's first run (cloudaware_query_duration_seconds):
#           the work; ready minus query is mostly the spread of first runs
# Prints min, median and max over the runs for each config:
#   shipped     deploy/examples/cloudaware_exporter.yml and its packs (24 queries)
#   shipped-10s the same with every interval 10s, so the first runs are spread
#               over at most 1 s instead of 10 s: the cost of the work itself
#   N series    one query exporting N series (bench/scrape.sh's config)
#
# usage: bench/startup.sh
# Environment: BENCH_RUNS (7), BENCH_SERIES (100000; 0 leaves it out),
# BENCH_BUILD_DIR (build/bench-scrape), BENCH_NO_BUILD=1, BENCH_KEEP=1.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/common.sh

runs=${BENCH_RUNS:-7}
series=${BENCH_SERIES:-100000}
build=${BENCH_BUILD_DIR:-build/bench-scrape}
for v in "$runs" "$series"; do
  case "$v" in '' | *[!0-9]*) echo "BENCH_RUNS and BENCH_SERIES must be integers" >&2; exit 2 ;; esac
done
for p in curl openssl cmake awk; do
  command -v "$p" >/dev/null || { echo "$p is missing: run deploy/install-deps.sh --bench" >&2; exit 2; }
done

bench_workdir startup exporter_pid sim_pid
sim_pid="" exporter_pid=""

build_targets "$build" "$work/build.log" cmdb_simulator cloudaware_exporter
exporter_bin=$PWD/$build/exporter/cloudaware_exporter
simulator_bin=$PWD/$build/simulator/cmdb_simulator

echo "== machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel:   $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
echo "exporter: $("$exporter_bin" --version 2>&1 | head -1)"

records=$(records_for_series "$series")
[ "$records" -lt 20000 ] && records=20000
echo "== simulator (HTTPS, $records records)"
simulator/gen-certs.sh "$work/certs"
"$simulator_bin" --listen=127.0.0.1:0 --tls-cert="$work/certs/server.pem" --tls-key="$work/certs/server.key" \
  --client-id=bench --client-secret=bench-secret --records="$records" \
  --port-file="$work/sim.port" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/sim.port" ] && break; running "$sim_pid" || break; sleep 0.1; done
[ -s "$work/sim.port" ] || { cat "$work/simulator.log"; echo "the simulator did not start" >&2; exit 1; }
sim_url="https://localhost:$(cat "$work/sim.port")"
printf 'bench-secret\n' >"$work/client_secret"

# The shipped config pulls in packs/*.yml relative to itself.
cp deploy/examples/cloudaware_exporter.yml "$work/shipped.yml"
cp -r deploy/examples/packs "$work/packs"
every_10s() { sed -E 's/^( *)interval: .*/\1interval: 10s/' "$@"; }
every_10s deploy/examples/cloudaware_exporter.yml |
  sed 's|packs/\*\.yml|packs-10s/*.yml|' >"$work/shipped-10s.yml"
mkdir -p "$work/packs-10s"
for f in deploy/examples/packs/*.yml; do every_10s "$f" >"$work/packs-10s/$(basename "$f")"; done
configs="shipped shipped-10s"
if [ "$series" -gt 0 ]; then
  series_config "$series" "$sim_url" "$work/client_secret" >"$work/series.yml"
  configs="$configs series"
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# one_run CONFIG: prints "listen ready full query" in ms from the start. Not in a
# command substitution, so that cleanup knows the exporter's pid.
one_run() {
  local port start listen="" ready="" full="" query deadline
  port=$(free_port)
  start=$(now_ms)
  CLOUDAWARE_URL="$sim_url" CLOUDAWARE_CLIENT_ID=bench \
    CLOUDAWARE_CLIENT_SECRET_FILE="$work/client_secret" SSL_CERT_FILE="$work/certs/ca.pem" \
    "$exporter_bin" --config.file="$work/$1.yml" --web.listen-address="127.0.0.1:$port" \
    >"$work/exporter.log" 2>&1 &
  exporter_pid=$!
  deadline=$((start + 300000))
  while [ "$(now_ms)" -lt "$deadline" ] && running "$exporter_pid"; do
    if [ -z "$listen" ]; then
      curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/-/healthy" && listen=$(($(now_ms) - start))
    elif curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/-/ready"; then
      ready=$(($(now_ms) - start))
      curl -sf -o "$work/metrics.txt" --max-time 60 "http://127.0.0.1:$port/metrics" && full=$(($(now_ms) - start))
      break
    fi
    sleep 0.01
  done
  kill "$exporter_pid" 2>/dev/null || true
  wait "$exporter_pid" 2>/dev/null || true
  exporter_pid=""
  if [ -z "$full" ]; then
    cat "$work/exporter.log" >&2
    echo "the exporter did not become ready with $1" >&2
    return 1
  fi
  query=$(awk '/^cloudaware_query_duration_seconds\{/ && $2 * 1000 > m { m = $2 * 1000 }
    END { printf "%.0f", m }' "$work/metrics.txt")
  echo "$listen $ready $full $query"
}

# stats: min, median and max of the numbers on stdin, in seconds.
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f | %.3f | %.3f", v[1] / 1000, m / 1000, v[NR] / 1000 }'
}

for c in $configs; do
  echo "== $c: $runs runs"
  : >"$work/$c.times"
  for i in $(seq 1 "$runs"); do
    one_run "$c" >"$work/run.out"
    t=$(cat "$work/run.out")
    echo "  run $i: listen $(echo "$t" | cut -d' ' -f1) ms, ready $(echo "$t" | cut -d' ' -f2) ms," \
      "full /metrics $(echo "$t" | cut -d' ' -f3) ms, slowest query $(echo "$t" | cut -d' ' -f4) ms"
    echo "$t" >>"$work/$c.times"
  done
done

echo
echo "== summary (seconds from start; $runs runs; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| config | stage | min | median | max |"
echo "|---|---|---|---|---|"
for c in $configs; do
  name=$c
  [ "$c" = series ] && name="$series series"
  echo "| $name | listen | $(awk '{ print $1 }' "$work/$c.times" | stats) |"
  echo "| $name | ready | $(awk '{ print $2 }' "$work/$c.times" | stats) |"
  echo "| $name | full /metrics | $(awk '{ print $3 }' "$work/$c.times" | stats) |"
  echo "| $name | slowest query | $(awk '{ print $4 }' "$work/$c.times" | stats) |"
done
