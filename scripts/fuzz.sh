#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz with clang and runs each for
# SECONDS_PER_TARGET (default 20) on a copy of its seed corpus, so that the
# repository is never written to. Exits 1 when a target finds a crash, a
# leak, a timeout or a sanitizer report, naming the input that caused it.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-20}
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
deploy/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
targets="config_fuzzer token_response_fuzzer rest_response_fuzzer samples_fuzzer
  limit_info_fuzzer soql_refs_fuzzer"

echo "== build"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCLOUDAWARE_FUZZ=ON -DCLOUDAWARE_BUILD_TESTS=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target fuzz

out="$PWD/build/fuzz/results"
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

failed=""
summary=""
for target in $targets; do
  echo "== $target (${seconds}s)"
  # Inputs that once failed must pass before new ones are looked for.
  if [ -d "tests/fuzz/regressions/$target" ]; then
    if ! TMPDIR="$work" timeout 120 "build/fuzz/tests/fuzz/$target" \
      "tests/fuzz/regressions/$target"/* </dev/null >"$work/replay.log" 2>&1; then
      failed="$failed $target(regression)"
      tail -n 60 "$work/replay.log"
      continue
    fi
  fi
  cp -R "tests/fuzz/corpus/$target" "$work/$target"
  mkdir -p "$out/$target"
  set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/$target/"
  [ -f "tests/fuzz/$target.dict" ] && set -- "$@" -dict="tests/fuzz/$target.dict"
  # The outer timeout only guards against the fuzzer itself getting stuck;
  # -timeout catches slow inputs. stdin is /dev/null so that no input can wait
  # on it (the config loader reads any file a config names); TMPDIR keeps
  # the config fuzzer's files out of /tmp.
  status=0
  TMPDIR="$work" timeout -k 10 $((seconds + 120)) "build/fuzz/tests/fuzz/$target" "$@" \
    "$work/$target" </dev/null >"$out/$target.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$target.log" | tail -n 1)
  summary="$summary$target ${execs:-?}
"
  if [ "$status" -ne 0 ]; then
    failed="$failed $target"
    echo "$target FAILED (exit $status); the end of $out/$target.log:"
    tail -n 60 "$out/$target.log"
    for input in "$out/$target"/*; do
      [ -e "$input" ] || continue
      echo "input: $input"
      echo "  reproduce: build/fuzz/tests/fuzz/$target $input"
    done
  fi
done

echo "== executions per target"
printf '%s' "$summary" | awk '{ printf "%-22s %12s\n", $1, $2 }'
if [ -n "$failed" ]; then
  echo "fuzzing found problems in:$failed" >&2
  exit 1
fi
echo "fuzzing found no problems"
