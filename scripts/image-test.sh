#!/bin/sh
# Builds the exporter and simulator images from the Dockerfile with podman and
# checks them: they run as uid 65532 with a read-only root file system, the
# exporter container polls the simulator container over HTTPS and serves
# every query of the shipped example config, the image's HEALTHCHECK passes,
# and no compiler or curl is inside. Prints the image sizes.
# Needs root (podman as root with runc; see scripts/podman-setup.sh).
# IMAGE_TEST_REUSE=1 tests the images of the last run instead of building.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh --image
scripts/podman-setup.sh

revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
exporter_image=localhost/cloudaware_exporter:test
simulator_image=localhost/cloudaware_cmdb_simulator:test
work=$(mktemp -d /var/tmp/cloudaware-image-test.XXXXXX)
sim=cloudaware-image-test-sim-$$
exp=cloudaware-image-test-exporter-$$
cleanup() {
  # The exporter first: it lives in the simulator's network namespace.
  podman rm -f -t 2 "$exp" >/dev/null 2>&1 || true
  podman rm -f -t 2 "$sim" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }

echo "== build (revision $revision)"
# --format docker keeps the HEALTHCHECK (the OCI format has no field for it).
build() {
  podman build --pull=never --network host --format docker --layers \
    --build-arg CLOUDAWARE_REVISION="$revision" --target "$1" -t "$2" . \
    >"$work/build-$1.log" 2>&1 || { tail -50 "$work/build-$1.log"; fail "podman build --target $1"; }
}
t0=$(date +%s)
if [ "${IMAGE_TEST_REUSE:-0}" = 1 ] && podman image exists "$exporter_image" &&
  podman image exists "$simulator_image"; then
  echo "IMAGE_TEST_REUSE=1: testing the images already built"
else
  build simulator "$simulator_image"
  build exporter "$exporter_image"
  echo "built both images in $(($(date +%s) - t0)) s"
fi

echo "== image configuration"
for image in "$exporter_image" "$simulator_image"; do
  user=$(podman image inspect -f '{{.Config.User}}' "$image")
  [ "$user" = "65532:65532" ] || fail "$image runs as '$user', not 65532:65532"
  uid=$(podman run --rm --read-only --no-healthcheck --entrypoint /usr/bin/id "$image" -u)
  [ "$uid" = 65532 ] || fail "$image runs as uid $uid"
  # No compiler, no curl: neither the programs nor their packages.
  found=$(podman run --rm --read-only --no-healthcheck --entrypoint /bin/sh "$image" -c '
    for p in cc c++ gcc g++ cpp clang clang++ ld as make cmake curl wget; do
      command -v "$p"
    done
    dpkg-query -W -f "\${Package}\n" | grep -E "^(gcc|g\+\+|cpp|clang|binutils|make|cmake|libcurl|curl|wget)(-[0-9.]+)?$" || true')
  [ -z "$found" ] || fail "$image carries build tools or curl: $found"
  echo "$image: user $user, no compiler, no curl"
done
label=$(podman image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$exporter_image")
[ "$label" = "$revision" ] || fail "revision label '$label', want '$revision'"
version=$(podman run --rm --read-only --no-healthcheck "$exporter_image" --version)
echo "$version"
case "$version" in
  *unknown*) fail "--version says unknown" ;;
  *"$revision"*) ;;
  *) fail "--version does not name revision $revision" ;;
esac

echo "== exporter container against simulator container over HTTPS"
simulator/gen-certs.sh "$work/certs"
printf 'image-test-secret\n' >"$work/client_secret"
# The containers run as uid 65532: the throwaway key and secret must be
# readable to it.
chmod 0755 "$work/certs"
chmod 0644 "$work/certs"/* "$work/client_secret"
# The exporter joins the simulator's network namespace (its own, no other
# interface than loopback): the two talk over 127.0.0.1 like a pod, and
# nothing is published on the host's ports.
podman run -d --name "$sim" --network none --read-only --cap-drop ALL \
  --security-opt no-new-privileges -v "$work/certs:/certs:ro" "$simulator_image" \
  --listen=127.0.0.1:8443 --tls-cert=/certs/server.pem --tls-key=/certs/server.key \
  --client-id=image-test-client --client-secret=image-test-secret --records=2000 >/dev/null
podman run -d --name "$exp" --network "container:$sim" --read-only --cap-drop ALL \
  --security-opt no-new-privileges --health-interval disable \
  -e CLOUDAWARE_URL=https://localhost:8443 -e CLOUDAWARE_CLIENT_ID=image-test-client \
  -e CLOUDAWARE_CLIENT_SECRET_FILE=/etc/cloudaware_exporter/client_secret \
  -e SSL_CERT_FILE=/certs/ca.pem \
  -v "$work/certs:/certs:ro" -v "$work/client_secret:/etc/cloudaware_exporter/client_secret:ro" \
  "$exporter_image" >/dev/null 2>"$work/run.err" || { cat "$work/run.err"; fail "podman run"; }
pid=$(podman inspect -f '{{.State.Pid}}' "$sim")
# The host's curl inside the pair's network namespace.
get() { nsenter -t "$pid" -n curl -fsS --max-time 10 "http://127.0.0.1:9866$1"; }
ready=""
for _ in $(seq 1 120); do
  if get /-/ready >/dev/null 2>&1; then ready=1; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$exp")" = true ] || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "--- exporter log"; podman logs "$exp" 2>&1 | tail -30
  echo "--- simulator log"; podman logs "$sim" 2>&1 | tail -30
  fail "the exporter did not become ready"
fi
echo "/-/ready answered 200"

get /metrics >"$work/metrics"
# The shipped config's queries are those of the packs it pulls in.
queries=$(sed -n 's/^  - name: \([a-z0-9_]*\)$/\1/p' deploy/examples/packs/*.yml)
metrics=$(sed -n 's/^      - name: \(cloudaware_[a-z0-9_]*\)$/\1/p' deploy/examples/packs/*.yml)
[ -n "$queries" ] && [ -n "$metrics" ] || fail "no queries found in the packs"
n=0
for q in $queries; do
  grep -Eq "^cloudaware_query_success\{([^}]*,)?query=\"$q\"(,[^}]*)?\} 1$" "$work/metrics" ||
    fail "query $q did not succeed: $(grep "query=\"$q\"" "$work/metrics" | head -5)"
  n=$((n + 1))
done
for m in $metrics; do
  grep -Eq "^$m(\{[^}]*\})? [0-9]" "$work/metrics" || fail "no sample of $m"
done
echo "$n queries succeeded; every metric of the example config has samples"

# The HEALTHCHECK from the image, run by podman inside the container (on
# demand: podman's timers need systemd, and the test cannot wait 30 s).
podman healthcheck run "$exp" 2>"$work/health.err" ||
  { cat "$work/health.err"; fail "the image's HEALTHCHECK failed"; }
echo "HEALTHCHECK passed"
podman stop -t 5 "$exp" >/dev/null 2>&1
status=$(podman inspect -f '{{.State.ExitCode}}' "$exp")
[ "$status" = 0 ] || fail "the exporter exited $status on SIGTERM"

echo "== sizes"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E 'cloudaware_(exporter|cmdb_simulator):test|library/debian'
# Each build leaves untagged layers of its build stage (about 500 MB); those
# of earlier days go, today's stay as the cache of the next build.
podman image prune -f --filter until=24h >/dev/null 2>&1 || true
echo "image-test: OK"
