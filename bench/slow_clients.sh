#!/usr/bin/env bash
# Slow and hostile clients, not part of the tests: the scrape latency of a
# steady scraper (a new connection every 50 ms, Prometheus's 10 s timeout)
# and of wrk, while holding, in turn, no connection and N connections of
# each kind (bench/slow_clients.py): idle (connected, nothing sent),
# half-open (a request head never finished), trickle (one byte a second),
# tls-handshake (a ClientHello never finished, against the exporter serving
# TLS; none-tls is its baseline) and keep-alive (idle after one request);
# plus the exporter's RSS and threads at each step. Measures this tree's
# exporter and, the same way, the one of revision BENCH_OLD_REV. Prints
# figures, never fails on them.
#
# usage: bench/slow_clients.sh [CONNECTIONS]      (default 1000)
# Environment: BENCH_SERIES (10000), BENCH_OLD_REV (f67f7f1, the last
# cpp-httplib server; empty skips it), BENCH_BUILD_DIR (build/bench-scrape),
# BENCH_OLD_BUILD_DIR (build/bench-old), BENCH_NO_BUILD=1, and SCRAPES,
# SCRAPE_RATE, SCRAPE_TIMEOUT, WRK_DURATION for slow_clients.py.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/common.sh

connections=${1:-1000}
series=${BENCH_SERIES:-10000}
old_rev=${BENCH_OLD_REV-f67f7f1}
build=${BENCH_BUILD_DIR:-build/bench-scrape}
old_build=${BENCH_OLD_BUILD_DIR:-build/bench-old}
for p in python3 wrk curl cmake openssl git; do
  command -v "$p" >/dev/null || { echo "$p is missing: run deploy/install-deps.sh --bench" >&2; exit 2; }
done

bench_workdir slow plain_pid tls_pid sim_pid
sim_pid="" plain_pid="" tls_pid=""

build_targets "$build" "$work/build.log" cmdb_simulator cloudaware_exporter
declare -A exporter_bin=([new]=$PWD/$build/exporter/cloudaware_exporter)
servers=new
if [ -n "$old_rev" ]; then
  if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    echo "== build of $old_rev ($old_build, Release)"
    rm -rf "$work/old-src" && mkdir -p "$work/old-src"
    git archive "$old_rev" | tar -x -C "$work/old-src"
    cmake -S "$work/old-src" -B "$old_build" -DCMAKE_BUILD_TYPE=Release -DCLOUDAWARE_BUILD_TESTS=OFF \
      -DCLOUDAWARE_BUILD_SIMULATOR=OFF >"$work/old-build.log" 2>&1 &&
      cmake --build "$old_build" -j "$(nproc 2>/dev/null || echo 2)" --target cloudaware_exporter \
        >>"$work/old-build.log" 2>&1 || { tail -40 "$work/old-build.log"; exit 1; }
  fi
  exporter_bin[old]=$PWD/$old_build/exporter/cloudaware_exporter
  servers="old new"
fi
simulator_bin=$PWD/$build/simulator/cmdb_simulator

echo "== machine"
echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:    $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel: $(uname -sr)"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scraper: ${SCRAPES:-100} scrapes at ${SCRAPE_RATE:-20}/s, timeout ${SCRAPE_TIMEOUT:-10}s;" \
  "wrk -t1 -c4 -d${WRK_DURATION:-5s}; $connections connections of each kind; $series series"

"$simulator_bin" --listen=127.0.0.1:0 --client-id=bench --client-secret=bench-secret \
  --records="$(records_for_series "$series")" --port-file="$work/sim.port" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/sim.port" ] && break; running "$sim_pid" || break; sleep 0.1; done
[ -s "$work/sim.port" ] || { cat "$work/simulator.log"; echo "the simulator did not start" >&2; exit 1; }
printf 'bench-secret' >"$work/client_secret"
series_config "$series" "http://127.0.0.1:$(cat "$work/sim.port")" "$work/client_secret" >"$work/exporter.yml"
simulator/gen-certs.sh "$work/certs" >/dev/null 2>&1
printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' \
  "$work/certs/server.pem" "$work/certs/server.key" >"$work/web.yml"

wait_ready() {
  local deadline=$(($(date +%s) + 60))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -skf -o /dev/null --max-time 5 "$1/-/ready" && return 0
    running "$2" || return 1
    sleep 0.2
  done
  return 1
}

printf 'server\tkind\theld\treconnects\tscrapes\tfailures\tp50\tp99\tmax\twrk_p50\twrk_p99\twrk_rps\trss\tthreads\n' \
  >"$work/results.tsv"
for server in $servers; do
  echo
  echo "== $server: $("${exporter_bin[$server]}" --version 2>&1 | head -1)"
  plain_port=$(free_port)
  tls_port=$(free_port)
  "${exporter_bin[$server]}" --config.file="$work/exporter.yml" \
    --web.listen-address="127.0.0.1:$plain_port" >"$work/$server.plain.log" 2>&1 &
  plain_pid=$!
  "${exporter_bin[$server]}" --config.file="$work/exporter.yml" --web.config.file="$work/web.yml" \
    --web.listen-address="127.0.0.1:$tls_port" >"$work/$server.tls.log" 2>&1 &
  tls_pid=$!
  wait_ready "http://127.0.0.1:$plain_port" "$plain_pid" && wait_ready "https://127.0.0.1:$tls_port" "$tls_pid" ||
    { cat "$work/$server.plain.log" "$work/$server.tls.log"; echo "the exporter did not become ready" >&2; exit 1; }
  for kind in none idle half-open trickle keep-alive none-tls tls-handshake; do
    n=$connections
    case $kind in none*) n=0 ;; esac
    pid=$plain_pid
    case $kind in *tls*) pid=$tls_pid ;; esac
    line=$(python3 bench/slow_clients.py "$kind" "$n" 127.0.0.1 "$plain_port" "$tls_port" "$pid")
    printf '%s\t%s\n' "$server" "$line" >>"$work/results.tsv"
    echo "$line" | awk -F'\t' -v s="$server" '{ printf "  %-4s %-14s held %5s  reconnects %6s  scrapes %s failed %s  p50 %8s  p99 %8s  max %8s ms  wrk p50 %s p99 %s ms %s req/s  RSS %s MiB  threads %s\n", s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
  done
  # Not stop_all: its final wait would wait for the simulator too.
  kill "$plain_pid" "$tls_pid" 2>/dev/null || true
  wait "$plain_pid" "$tls_pid" 2>/dev/null || true
  plain_pid="" tls_pid=""
done

echo
echo "== table (ms; a failed scrape counts as the ${SCRAPE_TIMEOUT:-10} s timeout)"
echo
echo "| server | held | kind | scrapes failed | p50 | p99 | max | wrk p50 | wrk p99 | wrk req/s | RSS MiB | threads |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
  $1, $3, $2, $6, $5, $7, $8, $9, $10, $11, $12, $13, $14 }' "$work/results.tsv"
