#!/usr/bin/env bash
# Soak test, not part of CI: the exporter against the CMDB simulator over HTTPS
# for MINUTES, with five queries every 2-5 s, /metrics scraped ten times a
# second, a random simulator fault every 20 s and one client secret rotation.
# Samples the exporter's memory, fds and threads every 10 s, then fails if the
# exporter died, a scrape failed, or memory or fds grew after the warm-up.
#
# usage: scripts/soak.sh [MINUTES] [OUTDIR]     (default 10, build/soak)
# Environment: SOAK_SEED (the fault order), SOAK_WARMUP (seconds; default 120,
# or a third of the run when that is shorter), SOAK_RSS_MARGIN_KB (default
# 8192, or 20% of the baseline when larger), SOAK_FD_MARGIN (default 16).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

minutes=${1:-10}
out=${2:-build/soak}
case "$minutes" in '' | *[!0-9]* | 0) echo "MINUTES must be a positive integer" >&2; exit 2 ;; esac
for p in curl awk cmake openssl; do
  command -v "$p" >/dev/null || { echo "$p is missing: run deploy/install-deps.sh" >&2; exit 2; }
done
duration=$((minutes * 60))
warmup=${SOAK_WARMUP:-$((duration / 3 < 120 ? duration / 3 : 120))}
fd_margin=${SOAK_FD_MARGIN:-16}
seed=${SOAK_SEED:-$$}
RANDOM=$seed
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "== build (build/soak, RelWithDebInfo)"
cmake -S . -B build/soak -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDAWARE_BUILD_TESTS=OFF >"$out/build.log" 2>&1 &&
  cmake --build build/soak -j "$(nproc 2>/dev/null || echo 2)" \
    --target cloudaware_exporter cmdb_simulator >>"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log"; echo "build failed; see $out/build.log" >&2; exit 2; }
exporter_bin=$PWD/build/soak/exporter/cloudaware_exporter
simulator_bin=$PWD/build/soak/simulator/cmdb_simulator

sim_pid=""
exporter_pid=""
cleanup() {
  set +e
  for pid in $exporter_pid $sim_pid; do kill "$pid" 2>/dev/null; done
  for _ in $(seq 1 50); do
    alive=""
    for pid in $exporter_pid $sim_pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in $exporter_pid $sim_pid; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# running and free_port.
. bench/common.sh

echo "== simulator (HTTPS, 20000 records) and exporter; output in $out"
rm -rf "$out/certs"
simulator/gen-certs.sh "$out/certs"
secret="soak-secret-$RANDOM$RANDOM"
umask 077
printf '%s\n' "$secret" >"$out/client_secret"
umask 022
rm -f "$out/sim.port"
"$simulator_bin" --listen=127.0.0.1:0 \
  --tls-cert="$out/certs/server.pem" --tls-key="$out/certs/server.key" \
  --client-id=soak-client --client-secret="$secret" --records=20000 --seed=7 \
  --port-file="$out/sim.port" >"$out/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$out/sim.port" ] && break; sleep 0.1; done
[ -s "$out/sim.port" ] || { cat "$out/simulator.log"; echo "the simulator did not start" >&2; exit 2; }
sim_url="https://localhost:$(cat "$out/sim.port")"

# request_timeout is above the longest injected latency, so latency alone
# does not fail queries; hangs and resets do.
cat >"$out/soak.yml" <<EOF
cloudaware:
  url: $sim_url
  client_id: soak-client
  client_secret_file: $out/client_secret
  request_timeout: 5s
  connect_timeout: 2s
  read_timeout: 5s
  max_retries: 1
  max_concurrency: 3
  tls: {ca_file: $out/certs/ca.pem}
defaults:
  interval: 3s
  stale_after: 30s
queries:
  - name: ec2_by_state
    interval: 2s
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c LIMIT 2000
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
  - name: ec2_by_account
    soql: SELECT CA10__account__r.CA10__accountId__c account, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__account__r.CA10__accountId__c LIMIT 2000
    metrics:
      - {name: cloudaware_aws_ec2_instances_by_account, value: n, labels: [account]}
  - name: s3_buckets
    soql: SELECT COUNT() FROM CA10__CaAwsBucket__c WHERE CA10__disappearanceTime__c = null
    metrics:
      - {name: cloudaware_aws_s3_buckets}
  - name: gce_by_project
    interval: 4s
    soql: SELECT CA10__googleProject__r.CA10__projectId__c account, CA10__status__c state, COUNT(Id) n FROM CA10__CaGoogleGceInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__googleProject__r.CA10__projectId__c, CA10__status__c LIMIT 2000
    metrics:
      - {name: cloudaware_gcp_gce_instances, value: n, labels: [account, state]}
  - name: ebs_volume_iops
    interval: 5s
    soql: SELECT Id, CA10__iops__c FROM CA10__CaAwsVolume__c WHERE CA10__disappearanceTime__c = null
    metrics:
      - {name: cloudaware_aws_ebs_volume_iops, value: CA10__iops__c, labels: {id: Id}}
EOF

web="127.0.0.1:$(free_port)" || { echo "no free port for the exporter" >&2; exit 2; }
"$exporter_bin" --config.file="$out/soak.yml" --web.listen-address="$web" \
  >"$out/exporter.log" 2>&1 &
exporter_pid=$!
ready=""
for _ in $(seq 1 120); do
  if curl -sf --max-time 2 "http://$web/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  running "$exporter_pid" || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  tail -30 "$out/exporter.log"
  echo "the exporter did not become ready" >&2
  exit 1
fi

# The simulator's control API; failures are logged, not fatal.
control_failures=0
sim() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --max-time 3 --cacert "$out/certs/ca.pem" -X "$method" -o /dev/null -w '%{http_code}')
  # Always a body, if empty: cpp-httplib 0.11 reads a POST without
  # Content-Length until the connection closes, so curl -X POST alone hangs.
  [ "$method" = POST ] && args+=(-H 'Content-Type: application/json' -d "$body")
  local code
  code=$(curl "${args[@]}" "$sim_url$path" 2>>"$out/events.log") || code=000
  if [ "${code:0:1}" != 2 ]; then
    control_failures=$((control_failures + 1))
    echo "  control $method $path answered $code" | tee -a "$out/events.log"
  fi
}

t0=0
now=0
tick_now() { local t=$EPOCHREALTIME; now=$((${t//[.,]/})); }
event() {
  printf '[%4ds] %s\n' $(((now - t0) / 1000000)) "$*" | tee -a "$out/events.log"
}

faults=(latency error_500 error_503 html_503 html_502 malformed truncated reset
  hang expire_tokens reject_credentials wrong_host exhaust_daily_limit
  concurrency_cap)
deck=()
# Every fault type once per round, in a random order, so that a 10-minute
# run (30 slots) covers each at least twice.
next_fault_type() {
  if [ ${#deck[@]} -eq 0 ]; then
    deck=("${faults[@]}")
    local i j tmp
    for ((i = ${#deck[@]} - 1; i > 0; i--)); do
      j=$((RANDOM % (i + 1)))
      tmp=${deck[i]}; deck[i]=${deck[j]}; deck[j]=$tmp
    done
  fi
  fault=${deck[0]}
  deck=("${deck[@]:1}")
}

current_fault=none
daily_exhausted=""
hang_clear_at=0
clear_faults() {
  sim DELETE /_sim/faults
  if [ -n "$daily_exhausted" ]; then
    sim POST /_sim/config '{"daily_used": 0}'
    daily_exhausted=""
  fi
  current_fault=none
}
inject() {
  clear_faults
  next_fault_type
  current_fault=$fault
  case "$fault" in
    latency) sim POST /_sim/faults '{"endpoint": "rest", "type": "latency", "min_ms": 200, "max_ms": 3000}' ;;
    error_500) sim POST /_sim/faults '{"endpoint": "query", "type": "error", "status": 500, "probability": 0.5}' ;;
    error_503) sim POST /_sim/faults '{"endpoint": "query", "type": "error", "status": 503}' ;;
    html_503) sim POST /_sim/faults '{"endpoint": "query", "type": "html", "status": 503, "probability": 0.5}' ;;
    html_502) sim POST /_sim/faults '{"endpoint": "query", "type": "html", "status": 502}' ;;
    malformed) sim POST /_sim/faults '{"endpoint": "query", "type": "malformed", "probability": 0.5}' ;;
    truncated) sim POST /_sim/faults '{"endpoint": "rest", "type": "truncated", "probability": 0.5}' ;;
    reset) sim POST /_sim/faults '{"endpoint": "*", "type": "reset", "probability": 0.5}' ;;
    # Longer than request_timeout, so that the exporter gives up first.
    hang)
      sim POST /_sim/faults '{"endpoint": "query", "type": "hang"}'
      hang_clear_at=$((now + 8000000))
      ;;
    expire_tokens) sim POST /_sim/faults '{"type": "expire_tokens"}' ;;
    # A rejected token request needs a token request: expire the sessions.
    reject_credentials | wrong_host)
      sim POST /_sim/faults "{\"type\": \"$fault\"}"
      sim POST /_sim/tokens/expire
      ;;
    exhaust_daily_limit)
      sim POST /_sim/faults '{"type": "exhaust_daily_limit"}'
      daily_exhausted=1
      ;;
    # Queries take milliseconds; the latency makes them overlap the cap.
    concurrency_cap)
      sim POST /_sim/faults '[{"type": "concurrency_cap", "max": 1},
        {"endpoint": "rest", "type": "latency", "min_ms": 500, "max_ms": 1500}]'
      ;;
  esac
  event "fault: $fault"
}

# Writes the new secret next to the file and renames it over, as a
# Kubernetes secret update does, then tells the simulator and ends the
# sessions so that the exporter has to sign in with the new one.
rotate_secret() {
  secret="soak-secret-rotated-$RANDOM$RANDOM"
  umask 077
  printf '%s\n' "$secret" >"$out/client_secret.new"
  umask 022
  mv "$out/client_secret.new" "$out/client_secret"
  sim POST /_sim/config "{\"client_secret\": \"$secret\"}"
  sim POST /_sim/tokens/expire
  event "rotated the client secret"
}

scrapes=0
scrape_failures=0
slowest_us=0
exporter_died=""
echo "elapsed_s,rss_kb,fds,threads,scrapes,scrape_failures,fault" >"$out/samples.csv"
sample() {
  local pid=$exporter_pid rss threads fds
  if ! running "$pid"; then exporter_died=1; return; fi
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || rss=""
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || threads=""
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l) || fds=""
  echo "$(((now - t0) / 1000000)),$rss,$fds,$threads,$scrapes,$scrape_failures,$current_fault" >>"$out/samples.csv"
}

: >"$out/events.log"
: >"$out/scrape_failures.log"
echo "== soak: $minutes min, seed $seed, warm-up ${warmup}s, exporter http://$web"
tick_now
t0=$now
end=$((t0 + duration * 1000000))
next_sample=$t0
next_fault=$((t0 + 20000000))
# Midway, between two fault slots.
rotate_at=$((t0 + (duration / 2 / 20 * 20 + 10) * 1000000))
[ "$duration" -lt 30 ] && rotate_at=0
next_tick=$t0
max_ticks=$((duration * 10 + 10))
for ((tick = 0; tick < max_ticks; tick++)); do
  tick_now
  [ "$now" -ge "$end" ] && break
  if res=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 2 "http://$web/metrics"); then
    rc=0
  else
    rc=$?
  fi
  scrapes=$((scrapes + 1))
  code=${res%% *}
  took=${res##* }
  if [ "$rc" -ne 0 ] || [ "$code" != 200 ]; then
    scrape_failures=$((scrape_failures + 1))
    printf '[%4ds] curl exit %s, HTTP %s, %ss\n' $(((now - t0) / 1000000)) "$rc" "$code" "$took" >>"$out/scrape_failures.log"
    running "$exporter_pid" || { exporter_died=1; break; }
  elif [[ $took =~ ^[0-9]+[.,][0-9]{6}$ ]]; then
    us=$((10#${took//[.,]/}))
    [ "$us" -gt "$slowest_us" ] && slowest_us=$us
  fi
  tick_now
  if [ "$now" -ge "$next_sample" ]; then
    sample
    [ -n "$exporter_died" ] && break
    next_sample=$((next_sample + 10000000))
  fi
  if [ "$hang_clear_at" -gt 0 ] && [ "$now" -ge "$hang_clear_at" ]; then
    clear_faults
    hang_clear_at=0
    event "cleared the hang"
  fi
  if [ "$now" -ge "$next_fault" ]; then
    hang_clear_at=0
    inject
    next_fault=$((next_fault + 20000000))
  fi
  if [ "$rotate_at" -gt 0 ] && [ "$now" -ge "$rotate_at" ]; then
    rotate_secret
    rotate_at=0
  fi
  # Ten scrapes a second; after a slow one, carry on without a burst.
  next_tick=$((next_tick + 100000))
  tick_now
  [ "$next_tick" -lt "$now" ] && next_tick=$now
  wait_us=$((next_tick - now))
  [ "$wait_us" -gt 0 ] && sleep "$(printf '0.%06d' "$wait_us")"
done
tick_now
[ -z "$exporter_died" ] && sample
clear_faults
event "faults cleared; the soak is over"

# Recovery is reported, not judged: after many rejected token requests the
# token backoff may outlast this wait, which is the exporter doing its job.
recovered=no
for _ in $(seq 1 30); do
  running "$exporter_pid" || break
  if curl -s --max-time 2 "http://$web/metrics" |
    awk '/^cloudaware_query_success\{/ { n++; if ($NF != 1) bad = 1 } END { exit !(n > 0 && !bad) }'; then
    recovered=yes
    break
  fi
  sleep 2
done

alive=no
answering=no
running "$exporter_pid" && alive=yes
curl -sf --max-time 2 "http://$web/-/healthy" >/dev/null 2>&1 &&
  curl -sf --max-time 2 -o "$out/final_metrics.prom" "http://$web/metrics" && answering=yes
curl -s --max-time 3 --cacert "$out/certs/ca.pem" "$sim_url/_sim/stats" >"$out/simulator_stats.json" || true
secret_reloaded=no
grep -q "client secret file changed" "$out/exporter.log" && secret_reloaded=yes
stopped="not running"
if [ "$alive" = yes ]; then
  kill -TERM "$exporter_pid"
  for _ in $(seq 1 100); do running "$exporter_pid" || break; sleep 0.1; done
  if running "$exporter_pid"; then
    stopped="still running 10 s after SIGTERM"
  else
    status=0
    wait "$exporter_pid" || status=$?
    stopped="exit $status after SIGTERM"
  fi
  exporter_pid=""
fi

summary=$(awk -F, -v warmup="$warmup" -v fd_margin="$fd_margin" -v rss_margin="${SOAK_RSS_MARGIN_KB:-}" '
  NR == 1 { next }
  {
    n++
    if (n == 1) { first_rss = $2; first_fds = $3 }
    if (base_rss == "" && $1 >= warmup) { base_t = $1; base_rss = $2; base_fds = $3 }
    last_t = $1; last_rss = $2; last_fds = $3
    if ($2 > max_rss) max_rss = $2
    if ($3 > max_fds) max_fds = $3
    if ($4 > max_threads) max_threads = $4
  }
  END {
    printf "RSS kB:  first %s, last %s, max %s\n", first_rss, last_rss, max_rss
    printf "fds:     first %s, last %s, max %s; threads max %s\n", first_fds, last_fds, max_fds, max_threads
    if (base_rss == "") { print "GROWTH no sample after the warm-up"; exit }
    margin = rss_margin != "" ? rss_margin : (base_rss * 0.2 > 8192 ? int(base_rss * 0.2) : 8192)
    printf "growth from %ds to %ds: RSS %+d kB (allowed %d), fds %+d (allowed %d)\n", base_t, last_t, last_rss - base_rss, margin, last_fds - base_fds, fd_margin
    if (last_rss - base_rss > margin) print "GROWTH RSS"
    if (last_fds - base_fds > fd_margin) print "GROWTH fds"
  }' "$out/samples.csv")

{
  echo
  echo "== samples (every 10 s; $out/samples.csv)"
  awk -F, '{ printf "%-10s %-10s %-5s %-8s %-8s %-16s %s\n", $1, $2, $3, $4, $5, $6, $7 }' "$out/samples.csv"
  echo
  echo "== summary"
  grep -v '^GROWTH' <<<"$summary" || true
  echo "scrapes: $scrapes, failed: $scrape_failures (see scrape_failures.log), slowest $((slowest_us / 1000)) ms"
  echo "faults injected: $(grep -c 'fault:' "$out/events.log" || true); control API failures: $control_failures"
  echo "client secret rotated and reloaded: $secret_reloaded"
  echo "exporter alive at the end: $alive; answering /-/healthy and /metrics: $answering; $stopped"
  echo "all queries succeeding again after the faults were cleared: $recovered"
  echo "exporter log lines: $(grep -c 'level=warn' "$out/exporter.log" || true) warn, $(grep -c 'level=error' "$out/exporter.log" || true) error"
  if [ -s "$out/final_metrics.prom" ]; then
    echo
    echo "== API requests and query errors (final scrape; $out/final_metrics.prom)"
    awk '
      /^cloudaware_api_requests_total\{/ || /^cloudaware_token_requests_total\{/ { print }
      /^cloudaware_query_errors_total\{/ {
        match($0, /error="[^"]*"/)
        errors[substr($0, RSTART + 7, RLENGTH - 8)] += $NF
      }
      /^cloudaware_query_success\{/ { print }
      END { for (e in errors) printf "cloudaware_query_errors_total, all queries, error=%s: %d\n", e, errors[e] }
    ' "$out/final_metrics.prom"
  fi
} | tee "$out/summary.txt"

failed=""
if [ -n "$exporter_died" ] || [ "$alive" != yes ]; then
  failed=1
  echo "FAIL: the exporter died; see $out/exporter.log"
fi
[ "$answering" = yes ] || { failed=1; echo "FAIL: the exporter did not answer at the end"; }
[ "$scrape_failures" -eq 0 ] || { failed=1; echo "FAIL: $scrape_failures scrapes failed"; }
grep -q '^GROWTH RSS' <<<"$summary" && { failed=1; echo "FAIL: resident memory grew beyond the margin after the warm-up"; }
grep -q '^GROWTH fds' <<<"$summary" && { failed=1; echo "FAIL: open fds grew beyond the margin after the warm-up"; }
grep -q '^GROWTH no sample' <<<"$summary" && { failed=1; echo "FAIL: the run is too short for a sample after the warm-up"; }
if [ -n "$failed" ]; then
  exit 1
fi
echo "PASS"
