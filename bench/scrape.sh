#!/usr/bin/env bash
# Scrape benchmark, not part of the tests: requests/s, latency and memory of
# the exporter's /metrics at N resource series, next to nginx serving the very
# same bytes as static files (the ceiling for one HTTP answer of that size on
# this machine) and prometheus-cpp's own Exposer serving the same series
# (bench/exposer_bench.cc). Plain and gzip. Prints figures, never fails on them.
#
# usage: bench/scrape.sh [SERIES...]          (default 1000 10000 100000)
# Environment: BENCH_DURATION (wrk -d, default 10s), BENCH_CONNECTIONS (-c, 8),
# BENCH_THREADS (-t, 2), BENCH_ROUNDS (3), BENCH_BUILD_DIR
# (build/bench-scrape), BENCH_NO_BUILD=1 (use the binaries as they are),
# BENCH_KEEP=1 (keep the work directory with every wrk output).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/common.sh

sizes=${*:-1000 10000 100000}
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-8}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-3}
build=${BENCH_BUILD_DIR:-build/bench-scrape}
for n in $sizes; do
  case "$n" in '' | *[!0-9]* | 0) echo "SERIES must be positive integers, got '$n'" >&2; exit 2 ;; esac
done
for p in wrk nginx curl gzip cmake awk; do
  command -v "$p" >/dev/null || { echo "$p is missing: run deploy/install-deps.sh --bench" >&2; exit 2; }
done

bench_workdir scrape exporter_pid exposer_pid nginx_pid sim_pid
# nginx workers drop to an unprivileged user when started as root.
chmod 755 "$work"

sim_pid="" exporter_pid="" nginx_pid="" exposer_pid=""

build_targets "$build" "$work/build.log" cmdb_simulator cloudaware_exporter exposer_bench
exporter_bin=$PWD/$build/exporter/cloudaware_exporter
simulator_bin=$PWD/$build/simulator/cmdb_simulator
exposer_bin=$PWD/$build/bench/exposer_bench

# wait_for URL SECONDS PID: until URL answers 2xx, PID dies, or time is up.
wait_for() {
  local deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -sf -o /dev/null --max-time 5 "$1" && return 0
    running "$3" || return 1
    sleep 0.1
  done
  return 1
}

# A server's processes: nginx is a master and its workers.
server_pids() {
  case "$1" in
    exporter) echo "$exporter_pid" ;;
    exposer) echo "$exposer_pid" ;;
    nginx) echo "$nginx_pid" $(ps -o pid= --ppid "$nginx_pid" 2>/dev/null) ;;
  esac
}

# status_kb FIELD PID...: the sum of a /proc status field (VmRSS, VmHWM).
status_kb() {
  local field=$1 total=0 kb pid
  shift
  for pid in "$@"; do
    kb=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# wrk's latencies come as 635.91us, 1.00ms, 2.10s or 1.05m.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "== machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory:   $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
echo "exporter: $("$exporter_bin" --version 2>&1 | head -1)"
echo "nginx:    $(nginx -v 2>&1 | sed 's/.*: //')"
echo "wrk:      $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "prometheus-cpp: $(dpkg-query -W -f='${Version}' prometheus-cpp-dev 2>/dev/null || echo unknown)"
echo "wrk -t$threads -c$connections -d$duration --latency, $rounds rounds, servers alternating"

max=0
for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done
records=$(records_for_series "$max")
echo "== simulator (plain HTTP, $records records)"
"$simulator_bin" --listen=127.0.0.1:0 --client-id=bench --client-secret=bench-secret \
  --records="$records" --port-file="$work/sim.port" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/sim.port" ] && break; running "$sim_pid" || break; sleep 0.1; done
[ -s "$work/sim.port" ] || { cat "$work/simulator.log"; echo "the simulator did not start" >&2; exit 1; }
sim_url="http://127.0.0.1:$(cat "$work/sim.port")"
printf 'bench-secret' >"$work/client_secret"

echo "== nginx"
mkdir -p "$work/nginx/www" "$work/nginx/tmp"
nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  types { }
  default_type "text/plain; version=0.0.4; charset=utf-8";
  server {
    listen 127.0.0.1:$nginx_port;
    location = /metrics { alias $work/nginx/www/metrics.txt; }
    location = /metrics.gz {
      alias $work/nginx/www/metrics.txt.gz;
      add_header Content-Encoding gzip;
    }
  }
}
EOF
: >"$work/nginx/www/metrics.txt"
: >"$work/nginx/www/metrics.txt.gz"
chmod -R a+rX "$work/nginx"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx/stderr.log" 2>&1 &
nginx_pid=$!
wait_for "http://127.0.0.1:$nginx_port/metrics" 10 "$nginx_pid" ||
  { cat "$work/nginx/error.log" "$work/nginx/stderr.log"; echo "nginx did not start" >&2; exit 1; }
echo "nginx on 127.0.0.1:$nginx_port, $(($(server_pids nginx | wc -w) - 1)) workers"

# measure N ROUND SERVER ENCODING URL: one wrk run, RSS sampled meanwhile;
# appends a line to results.tsv.
measure() {
  local n=$1 round=$2 server=$3 enc=$4 url=$5 out wrk_pid peak=0 rss pids
  local -a header=()
  [ "$enc" = gzip ] && header=(-H 'Accept-Encoding: gzip')
  out="$work/wrk.$n.$server.$enc.$round"
  pids=$(server_pids "$server")
  wrk -t"$threads" -c"$connections" -d"$duration" --timeout 30s --latency "${header[@]}" "$url" \
    >"$out" 2>&1 &
  wrk_pid=$!
  while running "$wrk_pid"; do
    # shellcheck disable=SC2086
    rss=$(status_kb VmRSS $pids)
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.2
  done
  if ! wait "$wrk_pid"; then
    echo "wrk failed against $server:"; cat "$out"
    return 1
  fi
  local rps p50 p99 errors mbps
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  mbps=$(awk '/^Transfer\/sec:/ { v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u)
    if (u == "KB") v /= 1024; else if (u == "GB") v *= 1024; else if (u == "B") v /= 1048576
    printf "%.1f", v }' "$out")
  errors=$(awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
    /Non-2xx/ { e += $NF } END { print e + 0 }' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$server" "$enc" "$round" \
    "${rps:-0}" "$p50" "$p99" "${mbps:-0}" "$peak" "$errors" >>"$work/results.tsv"
  printf '  round %s %-8s %-5s %10s req/s  p50 %8s ms  p99 %8s ms  %7s MiB/s  RSS peak %6s MiB  errors %s\n' \
    "$round" "$server" "$enc" "${rps:-?}" "$p50" "$p99" "${mbps:-?}" "$(mb $((peak * 1024)))" "$errors"
}

summary=""
for n in $sizes; do
  echo
  echo "== $n series (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  exporter_port=$(free_port)
  series_config "$n" "$sim_url" "$work/client_secret" >"$work/exporter.$n.yml"
  exporter_url="http://127.0.0.1:$exporter_port"
  start_ns=$(date +%s%N)
  "$exporter_bin" --config.file="$work/exporter.$n.yml" --web.listen-address="127.0.0.1:$exporter_port" \
    >"$work/exporter.$n.log" 2>&1 &
  exporter_pid=$!
  # The first run of each query is spread over up to 10 s.
  if ! wait_for "$exporter_url/-/ready" 300 "$exporter_pid"; then
    cat "$work/exporter.$n.log"; echo "the exporter did not become ready" >&2; exit 1
  fi
  echo "exporter ready after $((($(date +%s%N) - start_ns) / 1000000)) ms"

  plain="$work/metrics.$n.txt"
  gz="$work/metrics.$n.txt.gz"
  curl -sf "$exporter_url/metrics" -o "$plain"
  curl -sf -H 'Accept-Encoding: gzip' -D "$work/gzip.$n.headers" "$exporter_url/metrics" -o "$gz"
  if grep -qi '^content-encoding: *gzip' "$work/gzip.$n.headers"; then
    exporter_gzip=yes
    gzip -t "$gz" || { echo "the exporter's gzip answer is not valid gzip" >&2; exit 1; }
    # Self metrics move between two scrapes; the resource series must not.
    cmp -s <(gzip -dc "$gz" | grep '^cloudaware_ec2_created_seconds{') \
      <(grep '^cloudaware_ec2_created_seconds{' "$plain") ||
      echo "warning: the gzip answer's resource series differ from the plain answer's"
  else
    exporter_gzip=no
    echo "note: the exporter answered plain to Accept-Encoding: gzip; nginx serves gzip -6 of the plain bytes"
    gzip -6 -c "$plain" >"$gz"
  fi
  plain_bytes=$(wc -c <"$plain")
  gz_bytes=$(wc -c <"$gz")
  resource=$(grep -c '^cloudaware_ec2_created_seconds{' "$plain" || true)
  resource_bytes=$(grep '^cloudaware_ec2_created_seconds{' "$plain" | wc -c)
  samples=$(grep -vc '^#' "$plain" || true)
  echo "exposition: $plain_bytes bytes plain, $gz_bytes gzip (exporter's own gzip: $exporter_gzip);" \
    "$resource resource series ($((resource_bytes / (resource > 0 ? resource : 1))) bytes each), $samples samples in all"
  [ "$resource" -eq "$n" ] || echo "warning: $resource resource series, not $n"

  cp "$plain" "$work/nginx/www/metrics.txt.new" && mv "$work/nginx/www/metrics.txt.new" "$work/nginx/www/metrics.txt"
  cp "$gz" "$work/nginx/www/metrics.txt.gz.new" && mv "$work/nginx/www/metrics.txt.gz.new" "$work/nginx/www/metrics.txt.gz"
  chmod a+r "$work/nginx/www/"*
  nginx_bytes=$(curl -sf "http://127.0.0.1:$nginx_port/metrics" | wc -c)
  [ "$nginx_bytes" -eq "$plain_bytes" ] || { echo "nginx serves $nginx_bytes bytes, not $plain_bytes" >&2; exit 1; }

  "$exposer_bin" "$plain" 127.0.0.1:0 >"$work/exposer.$n.log" 2>&1 &
  exposer_pid=$!
  for _ in $(seq 1 600); do grep -q '^ready ' "$work/exposer.$n.log" && break; running "$exposer_pid" || break; sleep 0.1; done
  exposer_addr=$(awk '/^ready / { print $2 }' "$work/exposer.$n.log")
  [ -n "$exposer_addr" ] || { cat "$work/exposer.$n.log"; echo "exposer_bench did not start" >&2; exit 1; }
  exposer_url="http://$exposer_addr"
  exposer_bytes=$(curl -sf "$exposer_url/metrics" | wc -c)
  exposer_gz_bytes=$(curl -sf -H 'Accept-Encoding: gzip' "$exposer_url/metrics" | wc -c)
  echo "exposer_bench: $(head -1 "$work/exposer.$n.log"); its exposition $exposer_bytes bytes plain, $exposer_gz_bytes gzip"

  for s in exporter nginx exposer; do
    case $s in
      exporter) url=$exporter_url/metrics ;;
      nginx) url=http://127.0.0.1:$nginx_port/metrics ;;
      exposer) url=$exposer_url/metrics ;;
    esac
    echo "$s answer headers: $(curl -s -D- -o /dev/null "$url" |
      awk -F': *' 'tolower($1) ~ /^(content-length|connection|keep-alive)$/ { sub(/\r$/, ""); printf "%s: %s; ", $1, $2 }')"
  done

  declare -A idle=()
  for s in exporter nginx exposer; do
    # shellcheck disable=SC2046
    idle[$s]=$(status_kb VmRSS $(server_pids "$s"))
  done
  for round in $(seq 1 "$rounds"); do
    for enc in plain gzip; do
      gz_path=/metrics
      [ "$enc" = gzip ] && gz_path=/metrics.gz
      measure "$n" "$round" exporter "$enc" "$exporter_url/metrics"
      measure "$n" "$round" nginx "$enc" "http://127.0.0.1:$nginx_port$gz_path"
      measure "$n" "$round" exposer "$enc" "$exposer_url/metrics"
    done
  done
  exporter_hwm=$(status_kb VmHWM "$exporter_pid")
  exporter_after=$(status_kb VmRSS "$exporter_pid")

  table=$(
    echo
    echo "### $n series: exposition $(mb "$plain_bytes") MiB plain, $(mb "$gz_bytes") MiB gzip" \
      "(exporter's own gzip: $exporter_gzip); load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| server | encoding | req/s | p50 ms | p99 ms | MiB/s | RSS idle MiB | RSS peak MiB | errors |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for enc in plain gzip; do
      for s in exporter nginx exposer; do
        awk -F'\t' -v n="$n" -v s="$s" -v e="$enc" -v idle="${idle[$s]}" '
          function median(a, k,   i, j, t) {
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
          $1 == n && $2 == s && $3 == e { k++; r[k] = $5; p5[k] = $6; p9[k] = $7; m[k] = $8; if ($9 > peak) peak = $9; err += $10 }
          END {
            label = s == "exposer" ? "prometheus-cpp Exposer" : s
            printf "| %s | %s | %.0f | %.2f | %.2f | %.0f | %.1f | %.1f | %d |\n", label, e,
              median(r, k), median(p5, k), median(p9, k), median(m, k), idle / 1024, peak / 1024, err }' \
          "$work/results.tsv"
      done
    done
    echo
    for enc in plain gzip; do
      awk -F'\t' -v n="$n" -v e="$enc" '
        function median(a, k,   i, j, t) {
          for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
        $1 == n && $3 == e { c[$2]++; v[$2, c[$2]] = $5 }
        END {
          for (s in c) { k = c[s]; for (i = 1; i <= k; i++) a[i] = v[s, i]; med[s] = median(a, k) }
          printf "%s: exporter/nginx req/s %.2f, exporter/Exposer %.2f\n", e,
            med["nginx"] ? med["exporter"] / med["nginx"] : 0, med["exposer"] ? med["exporter"] / med["exposer"] : 0 }' \
        "$work/results.tsv"
    done
    # The bound is on serving: RSS sampled while scrapes ran. VmHWM also
    # holds the poll that parsed the result, before its memory went back.
    peak=$(awk -F'\t' -v n="$n" '$1 == n && $2 == "exporter" && $9 > p { p = $9 } END { print p + 0 }' "$work/results.tsv")
    bound=$((3 * plain_bytes / 1024 + 30 * 1024))
    verdict=within
    [ "$peak" -le "$bound" ] || verdict=ABOVE
    echo "exporter RSS: idle $(mb $((idle[exporter] * 1024))) MiB, after the runs $(mb $((exporter_after * 1024))) MiB;" \
      "peak while serving $(mb $((peak * 1024))) MiB is $verdict 3 x exposition + 30 MiB = $(mb $((bound * 1024))) MiB;" \
      "VmHWM $(mb $((exporter_hwm * 1024))) MiB (the poll that parsed the result included)"
  )
  echo "$table"
  summary="$summary$table
"
  kill "$exposer_pid" "$exporter_pid" 2>/dev/null || true
  wait "$exposer_pid" "$exporter_pid" 2>/dev/null || true
  exposer_pid="" exporter_pid=""
  unset idle
done

echo
echo "== summary (median of $rounds rounds; wrk -t$threads -c$connections -d$duration on the same machine)"
echo "$summary"
echo "errors: wrk's socket errors and non-2xx answers. civetweb (the Exposer) closes every connection"
echo "after its answer, which wrk counts as a read error although the answer was complete."
