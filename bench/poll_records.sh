#!/usr/bin/env bash
# Listing-poll benchmark, not part of the tests: one poll of a non-aggregate
# query listing N EC2 instances (N series, the query of bench/scrape.sh,
# 2,000 records per nextRecordsUrl page), run by `cloudaware_exporter --once`
# as its own process against the simulator binary. Prints, per N, the
# medians over BENCH_ROUNDS runs of the process's wall time, the query's own
# duration (cloudaware_query_duration_seconds), user + system CPU time, and
# the largest VmHWM (peak resident memory) next to 3 x exposition + 30 MiB.
# usage: bench/poll_records.sh [RECORDS...]     (default 10000 100000 500000)
# Environment: BENCH_ROUNDS (3), BENCH_BUILD_DIR (build/bench-scrape),
# BENCH_NO_BUILD=1 (use the binaries as they are), BENCH_KEEP=1.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/common.sh

sizes=${*:-10000 100000 500000}
rounds=${BENCH_ROUNDS:-3}
build=${BENCH_BUILD_DIR:-build/bench-scrape}
for n in $sizes; do
  case "$n" in '' | *[!0-9]* | 0) echo "RECORDS must be positive integers, got '$n'" >&2; exit 2 ;; esac
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

bench_workdir poll sim_pid
sim_pid=""

build_targets "$build" "$work/build.log" cmdb_simulator cloudaware_exporter
exporter_bin=$PWD/$build/exporter/cloudaware_exporter
simulator_bin=$PWD/$build/simulator/cmdb_simulator

max=0
for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done
records=$(records_for_series "$max")
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "== exporter: $exporter_bin, $("$exporter_bin" --version 2>&1 | head -1)"
echo "== simulator ($records generated records)"
"$simulator_bin" --listen=127.0.0.1:0 --client-id=bench --client-secret=bench-secret \
  --records="$records" --daily-limit=100000000 --port-file="$work/sim.port" \
  >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 1200); do [ -s "$work/sim.port" ] && break; running "$sim_pid" || break; sleep 0.1; done
[ -s "$work/sim.port" ] || { cat "$work/simulator.log"; echo "the simulator did not start" >&2; exit 1; }
sim_url="http://127.0.0.1:$(cat "$work/sim.port")"
printf 'bench-secret' >"$work/client_secret"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "| records | series | exposition MiB | process wall s | query s | CPU s (user+sys) | VmHWM MiB | 3 x exposition + 30 MiB |"
echo "|---|---|---|---|---|---|---|---|"
for n in $sizes; do
  series_config "$n" "$sim_url" "$work/client_secret" >"$work/config.yml"
  : >"$work/wall" ; : >"$work/query" ; : >"$work/cpu" ; : >"$work/hwm"
  for _ in $(seq 1 "$rounds"); do
    /usr/bin/time -o "$work/time" -f '%e %U %S %M' \
      "$exporter_bin" --once --config.file="$work/config.yml" --log.level=error \
      >"$work/out.prom" 2>"$work/err" || { cat "$work/err"; echo "the poll of $n failed" >&2; exit 1; }
    read -r wall user sys hwm <"$work/time"
    echo "$wall" >>"$work/wall"
    awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >>"$work/cpu"
    echo "$hwm" >>"$work/hwm"
    awk '/^cloudaware_query_duration_seconds\{/ { print $2 }' "$work/out.prom" >>"$work/query"
  done
  got=$(grep -c '^cloudaware_ec2_created_seconds{' "$work/out.prom" || true)
  bytes=$(wc -c <"$work/out.prom")
  hwm=$(sort -g "$work/hwm" | tail -1)
  printf '| %s | %s | %.1f | %.2f | %.2f | %.2f | %s | %.1f |\n' "$n" "$got" \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" "$(median <"$work/wall")" \
    "$(median <"$work/query")" "$(median <"$work/cpu")" "$(mib "$hwm")" \
    "$(awk -v b="$bytes" 'BEGIN { print 3 * b / 1048576 + 30 }')"
done
