#!/bin/sh
# Builds and runs the test suite, less the end-to-end tests, under a
# sanitizer:
#   scripts/sanitize.sh address   ASan and UBSan (build/asan)
#   scripts/sanitize.sh thread    TSan (build/tsan; tests/tsan.supp silences
#                                 reports inside Debian's uninstrumented
#                                 httplib and OpenSSL only)
# Any report fails the run: UBSan does not recover, TSan halts on error.
set -eu
cd "$(dirname "$0")/.."
kind="${1:-}"
case "$kind" in
  address) dir=build/asan ;;
  thread) dir=build/tsan ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
deploy/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build ($kind sanitizer)"
# Not -Werror: the sanitizers make GCC 12 warn falsely inside libstdc++
# (-Wmaybe-uninitialized in <regex>); ./scripts/test.sh holds the code to
# -Werror.
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDAWARE_WERROR=OFF \
  -DCLOUDAWARE_SANITIZE="$kind" >/dev/null
cmake --build "$dir" -j "$jobs"

echo "== test ($kind sanitizer)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$dir"
# The end-to-end tests (a real Prometheus, Alertmanager and Chromium against
# the binary) prove timing and wiring, not memory: under a sanitizer the
# binary is several times slower than the timings they allow, and the same
# code runs under the sanitizer in the integration tests.
ctest --output-on-failure -j "$jobs" --timeout 900 -LE e2e
