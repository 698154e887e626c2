#!/bin/sh
# Builds the Debian package (scripts/build-deb.sh, with lintian), then checks
# it on a fresh Debian 12 root (the debian:bookworm image of
# scripts/podman-setup.sh): `apt-get install ./...deb` pulls the runtime
# libraries; the packaged config passes --config.check as the packaged user;
# the unit passes systemd-analyze verify; purge (and autoremove) leaves the
# root as it was. Prints the package's file list.
# PACKAGE_TEST_REUSE=1 tests the package of the last run instead of building.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh --package
if [ "${PACKAGE_TEST_REUSE:-0}" = 1 ] && ls build/deb/cloudaware-exporter_*.deb >/dev/null 2>&1; then
  echo "PACKAGE_TEST_REUSE=1: testing the package already built"
else
  scripts/build-deb.sh
fi
out=$(realpath build/deb)
deb=$(basename "$(ls "$out"/cloudaware-exporter_*.deb)")
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

echo "== files"
dpkg-deb --info "$out/$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$out/$deb"

echo "== every flag of --help is in the man page"
x=$(mktemp -d)
trap 'rm -rf "$x"' EXIT
dpkg-deb -x "$out/$deb" "$x"
man="$x/usr/share/man/man1/cloudaware_exporter.1.gz"
[ -f "$man" ] || fail "no man page"
flags=$("$x/usr/bin/cloudaware_exporter" --help | grep -o -- '--[a-z][a-z.-]*' | sort -u)
[ -n "$flags" ] || fail "--help lists no flags"
for f in $flags; do
  LC_ALL=C MANWIDTH=200 man -P cat -l "$man" 2>/dev/null | grep -q -- "$f" || fail "the man page lacks $f"
done
echo "$(echo "$flags" | wc -l) flags, all in cloudaware_exporter(1)"

echo "== install, check and purge on a fresh Debian 12"
scripts/podman-setup.sh
# What the package leaves: every path outside the package manager's own
# state, logs and caches, and the user and group databases. The tools that
# edit those keep a backup (passwd-, group-, ...): left out as well.
cat >"$x/snapshot.sh" <<'SNAP'
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
  -o -path /pkg -o -path /var/cache -o -path /var/log -o -path /var/lib/dpkg \
  -o -path /var/lib/apt -o -name '*-' -path '/etc/*' \) -prune -o -print | sort
sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow
SNAP
cat >"$x/inside.sh" <<'INSIDE'
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# systemd-analyze comes with systemd, and checks the unit's man: link with
# man-db; installed before the first snapshot, since they bring users and
# files of their own.
apt-get install -y -qq --no-install-recommends systemd man-db >/dev/null
sh /x/snapshot.sh >/tmp/before
echo "-- apt-get install ./$DEB"
cd /pkg
apt-get install -y --no-install-recommends "./$DEB" 2>&1 | grep -E '^(Setting up|Unpacking|The following NEW)' || true
cd /
dpkg -s cloudaware-exporter | grep -E '^(Status|Version|Depends):'
getent passwd cloudaware_exporter
[ "$(stat -c %U:%a /usr/bin/cloudaware_exporter)" = root:755 ]
cat /var/lib/dpkg/info/cloudaware-exporter.conffiles
man -w cloudaware_exporter

echo "-- --config.check of the packaged config as cloudaware_exporter"
# As the unit would run it: the org in /etc/default/cloudaware_exporter, the
# secret root-only in /etc, and a copy for the service where systemd puts
# credentials.
sed -i -e 's|^CLOUDAWARE_URL=$|CLOUDAWARE_URL=https://acme.my.salesforce.com|' \
  -e 's|^CLOUDAWARE_CLIENT_ID=$|CLOUDAWARE_CLIENT_ID=package-test-client|' \
  /etc/default/cloudaware_exporter
(umask 077; printf 'package-test-secret\n' >/etc/cloudaware_exporter/client_secret)
creds=/run/credentials/cloudaware_exporter.service
install -d -m 0700 -o cloudaware_exporter "$creds"
install -m 0400 -o cloudaware_exporter /etc/cloudaware_exporter/client_secret "$creds/client_secret"
set -a; . /etc/default/cloudaware_exporter; set +a
export CLOUDAWARE_CLIENT_SECRET_FILE="$creds/client_secret"
setpriv --reuid=cloudaware_exporter --regid=cloudaware_exporter --init-groups \
  /usr/bin/cloudaware_exporter --config.check --config.file=/etc/cloudaware_exporter/config.yml
# The secret itself stays out of the user's reach.
if setpriv --reuid=cloudaware_exporter --regid=cloudaware_exporter --init-groups \
    cat /etc/cloudaware_exporter/client_secret >/dev/null 2>&1; then
  echo "the packaged user reads /etc/cloudaware_exporter/client_secret"; exit 1
fi
rm -rf "$creds" /etc/cloudaware_exporter/client_secret

echo "-- systemd-analyze verify"
unit=/lib/systemd/system/cloudaware_exporter.service
grep -E '^(ExecStart|User|DynamicUser|EnvironmentFile)=' "$unit"
out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out"; exit 1; }
if echo "$out" | grep -q cloudaware_exporter; then echo "$out"; exit 1; fi
echo "verify: no complaints"

echo "-- purge"
apt-get purge -y -qq cloudaware-exporter >/dev/null
# What the package pulled in goes too, even where something installed
# merely recommends it.
apt-get autoremove --purge -y -qq -o APT::AutoRemove::RecommendsImportant=false >/dev/null
sh /x/snapshot.sh >/tmp/after
if ! diff -u /tmp/before /tmp/after; then
  echo "purge left the root changed"; exit 1
fi
echo "purge: nothing left behind"
INSIDE
podman run --rm --pull=never --network host --no-healthcheck -e DEB="$deb" \
  -v "$out:/pkg:ro" -v "$x:/x:ro" docker.io/library/debian:bookworm sh /x/inside.sh ||
  fail "install test on debian:bookworm"
echo "package-test: OK ($deb)"
