# Shared by the bench scripts (bash); sourced, not run.

# A zombie still answers kill -0, so look at the process state.
running() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Below Linux's ephemeral range (32768 and up), so that no outgoing
# connection of the benchmark holds the port that is about to be bound.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % 22000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# stop_all PID...: TERM, up to 5 s for them to go, then KILL.
stop_all() {
  local pid alive
  for pid in "$@"; do kill "$pid" 2>/dev/null; done
  for _ in $(seq 1 50); do
    alive=""
    for pid in "$@"; do running "$pid" && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in "$@"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
}

# bench_workdir NAME PID_VAR...: $work, a new directory removed at exit
# (kept with BENCH_KEEP=1), and an exit trap that stops the processes whose
# pids the named variables hold by then.
bench_workdir() {
  work=$(mktemp -d "/tmp/bench-$1.XXXXXX")
  shift
  bench_pid_vars="$*"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  set +e
  local pids="" var
  for var in $bench_pid_vars; do pids="$pids ${!var:-}"; done
  # shellcheck disable=SC2086
  stop_all $pids
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
  return 0
}

# build_targets BUILD_DIR LOG TARGET...: a Release build of what is missing
# or stale, unless BENCH_NO_BUILD=1.
build_targets() {
  local dir=$1 log=$2 type
  shift 2
  if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    echo "== build ($dir, Release)"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCLOUDAWARE_BUILD_TESTS=OFF \
      -DCLOUDAWARE_BUILD_BENCH=ON >"$log" 2>&1 &&
      cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target "$@" >>"$log" 2>&1 ||
      { tail -40 "$log"; echo "build failed; see $log" >&2; return 1; }
  fi
  type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$dir/CMakeCache.txt" 2>/dev/null || true)
  [ "$type" = Release ] || echo "warning: $dir is a '$type' build, not Release"
}

# EC2 instances are about 30% of the simulator's generated records.
records_for_series() { echo $(($1 * 7 / 2 + 2000)); }

# series_config N SIMULATOR_URL SECRET_FILE: one query listing N EC2
# instances as N series of about 125 bytes (the random instance ids keep them
# distinct). The day-long interval keeps the poller idle while the endpoint is
# measured; the first run still starts up to 10 s after the exporter.
series_config() {
  cat <<EOF
cloudaware:
  url: $2
  client_id: bench
  client_secret_file: $3
defaults:
  interval: 24h
  stale_after: 72h
queries:
  - name: ec2
    max_series: $(($1 + 1000))
    soql: >-
      SELECT CA10__instanceId__c, CA10__account__r.CA10__accountId__c, CA10__regionName__c,
      CreatedDate FROM CA10__CaAwsInstance__c LIMIT $1
    metrics:
      - name: cloudaware_ec2_created_seconds
        help: When the CMDB first saw the EC2 instance.
        value: CreatedDate
        labels: {account: CA10__account__r.CA10__accountId__c, instance_id: CA10__instanceId__c,
                 region: CA10__regionName__c}
EOF
}
