#!/bin/sh
# Installs what is missing, builds with warnings as errors, checks the
# formatting and runs the whole test suite.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== format"
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find exporter simulator tests bench -name '*.cc' -o -name '*.h')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files

echo "== build"
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDAWARE_WERROR=ON >/dev/null
cmake --build build/test -j "$jobs"

echo "== test"
cd build/test
ctest --output-on-failure -j "$jobs" --timeout 600
