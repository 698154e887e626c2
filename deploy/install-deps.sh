#!/bin/sh
# Installs the Debian 12 packages cloudaware_exporter needs, and only those.
# Idempotent: when everything is present it changes nothing and needs no
# network.
#   deploy/install-deps.sh           build and test (the default)
#   deploy/install-deps.sh --build   build only
#   deploy/install-deps.sh --demo    build, plus what scripts/demo.sh drives
#   deploy/install-deps.sh --runtime what the built binary needs to run
#   deploy/install-deps.sh --bench   build, plus what bench/*.sh drive
#   deploy/install-deps.sh --image   what scripts/image-test.sh drives (podman)
#   deploy/install-deps.sh --package build, plus what scripts/build-deb.sh and
#                                    scripts/package-test.sh drive
set -eu

build="g++ cmake make pkg-config ca-certificates
  prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev
  libcrypt-dev zlib1g-dev libboost-dev"
# openssl makes the throwaway certificates, curl drives the demo, prometheus
# brings promtool, clang-format checks the formatting, tinyproxy is the real
# proxy of the proxy test, clang and its runtime build the fuzzers,
# prometheus-alertmanager delivers the end-to-end test's alerts, chromium
# renders the landing page.
test="googletest libgtest-dev libgmock-dev openssl curl prometheus clang-format
  tinyproxy clang libclang-rt-14-dev prometheus-alertmanager chromium"
# openssl makes the demo's throwaway certificates, curl polls and scrapes.
demo="openssl curl"
# wrk loads the endpoints, nginx serves the same bytes as a yardstick, openssl
# and curl drive the simulator's HTTPS and the readiness polls, python3 holds
# the slow clients of bench/slow_clients.sh.
bench="wrk nginx-light openssl curl python3"
# podman with Debian's runc, debootstrap for the base images; openssl makes
# the certificates, curl asks the containers.
image="podman runc debootstrap openssl curl"
# Debian's packaging tools, help2man and man-db for the man page, systemd for
# systemd-analyze verify; the fresh root to install into comes from podman.
package="dpkg-dev debhelper fakeroot lintian help2man man-db systemd podman runc
  debootstrap"
runtime="ca-certificates libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
  libcpp-httplib0.11 libyaml-cpp0.7 libssl3 libcrypt1 zlib1g"

case "${1:-}" in
  "") want="$build $test" ;;
  --build) want="$build" ;;
  --demo) want="$build $demo" ;;
  --runtime) want="$runtime" ;;
  --bench) want="$build $bench" ;;
  --image) want="$image" ;;
  --package) want="$build $package" ;;
  *) echo "usage: $0 [--build|--demo|--runtime|--bench|--image|--package]" >&2; exit 2 ;;
esac

missing=""
for pkg in $want; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq --no-install-recommends $missing
