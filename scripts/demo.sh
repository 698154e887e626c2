#!/bin/sh
# Installs what is missing, builds, and starts the CMDB simulator over HTTPS
# with a throwaway CA, then shows a real token request and a SOQL query made
# with curl. Ctrl-C stops it. DEMO_EXIT=1 stops after the round trip.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh --build
for p in openssl curl; do command -v $p >/dev/null || deploy/install-deps.sh; done
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/demo -j "$jobs" --target cmdb_simulator

demo=.demo
mkdir -p "$demo"
tests/simulator/gen-certs.sh "$demo/certs"
port=${SIM_PORT:-8443}
rm -f "$demo/port"
build/demo/tests/cmdb_simulator --listen=127.0.0.1:"$port" \
  --tls-cert="$demo/certs/server.pem" --tls-key="$demo/certs/server.key" \
  --client-id=demo-client --client-secret=demo-secret --records=20000 \
  --port-file="$demo/port" >"$demo/simulator.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do [ -s "$demo/port" ] && break; sleep 0.1; done
[ -s "$demo/port" ] || { cat "$demo/simulator.log"; exit 1; }
url="https://localhost:$port"
ca="$demo/certs/ca.pem"

echo
echo "== token: POST $url/services/oauth2/token (client credentials, verified TLS)"
token_json=$(curl -sS --cacert "$ca" "$url/services/oauth2/token" \
  -d grant_type=client_credentials -d client_id=demo-client -d client_secret=demo-secret)
echo "$token_json" | sed 's/"access_token":"[^"]*"/"access_token":"<redacted>"/'
token=$(echo "$token_json" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')

soql="SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c LIMIT 2000"
echo
echo "== query: $soql"
curl -sS --cacert "$ca" -G "$url/services/data/v66.0/query" \
  --data-urlencode "q=$soql" -H "Authorization: Bearer $token" -D "$demo/headers"
echo
grep -i '^sforce-limit-info' "$demo/headers" || true
echo
echo "The simulator is running at $url (CA: $ca, client demo-client / demo-secret)."
echo "Request log: curl --cacert $ca $url/_sim/requests"
[ "${DEMO_EXIT:-0}" = 1 ] && exit 0
echo "Press Ctrl-C to stop."
wait $sim
