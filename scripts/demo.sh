#!/bin/sh
# Installs what is missing, builds, and runs the exporter against the CMDB
# simulator over HTTPS (a throwaway CA), with the shipped example config.
# Ctrl-C stops both. DEMO_EXIT=1 stops once the first scrape has been shown.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh --demo
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DCLOUDAWARE_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j "$jobs" --target cmdb_simulator cloudaware_exporter

demo="$PWD/.demo"
mkdir -p "$demo"
simulator/gen-certs.sh "$demo/certs"
sim_port=${SIM_PORT:-8443}
web=${EXPORTER_ADDRESS:-127.0.0.1:9866}
umask 077
printf 'demo-secret\n' > "$demo/client_secret"
umask 022

rm -f "$demo/sim.port"
build/demo/simulator/cmdb_simulator --listen=127.0.0.1:"$sim_port" \
  --tls-cert="$demo/certs/server.pem" --tls-key="$demo/certs/server.key" \
  --client-id=demo-client --client-secret=demo-secret --records=20000 \
  --port-file="$demo/sim.port" >"$demo/simulator.log" 2>&1 &
sim=$!
exporter=""
cleanup() {
  set +e
  [ -n "$exporter" ] && kill "$exporter" 2>/dev/null
  kill "$sim" 2>/dev/null
  wait 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do [ -s "$demo/sim.port" ] && break; sleep 0.1; done
[ -s "$demo/sim.port" ] || { cat "$demo/simulator.log"; exit 1; }

# OpenSSL's SSL_CERT_FILE makes the exporter trust the throwaway CA without
# a ca_file in the shipped config.
CLOUDAWARE_URL="https://localhost:$sim_port" \
CLOUDAWARE_CLIENT_ID=demo-client \
CLOUDAWARE_CLIENT_SECRET_FILE="$demo/client_secret" \
SSL_CERT_FILE="$demo/certs/ca.pem" \
  build/demo/exporter/cloudaware_exporter \
  --config.file=deploy/examples/cloudaware_exporter.yml \
  --web.listen-address="$web" >"$demo/exporter.log" 2>&1 &
exporter=$!

echo "== waiting for the first poll cycle"
ready=""
for _ in $(seq 1 120); do
  if curl -sf "http://$web/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$exporter" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "the exporter did not become ready; its log:"
  cat "$demo/exporter.log"
  exit 1
fi

echo
echo "== a sample of http://$web/metrics"
# Up to three series of each cloudaware_ metric.
curl -s "http://$web/metrics" | awk '/^cloudaware_/ { split($0, p, /[{ ]/); if (n[p[1]]++ < 3) print }' | head -60
echo
echo "Exporter:   http://$web/ (queries and their status), http://$web/metrics"
echo "Simulator:  https://localhost:$sim_port (CA $demo/certs/ca.pem), request log at /_sim/requests"
echo "Config:     deploy/examples/cloudaware_exporter.yml; logs in $demo/"
[ "${DEMO_EXIT:-0}" = 1 ] && exit 0
echo "Press Ctrl-C to stop."
wait "$exporter"
