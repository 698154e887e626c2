#!/bin/sh
# Gets podman ready to build the Dockerfile on a machine with no registry:
#  - /etc/containers/containers.conf selects runc and drops the default
#    ulimits when the file does not exist yet (Debian's podman with crun
#    fails on kernels with a hybrid cgroup layout);
#  - the base images the Dockerfile starts FROM (debian:bookworm and
#    debian:bookworm-slim) are made with debootstrap from Debian's mirror
#    and imported, unless they are already there.
# Needs root, podman, runc and debootstrap (deploy/install-deps.sh --image).
# MIRROR overrides the Debian mirror (default http://deb.debian.org/debian).
set -eu
mirror=${MIRROR:-http://deb.debian.org/debian}
conf=/etc/containers/containers.conf

if [ ! -e "$conf" ]; then
  echo "writing $conf (runtime runc, no default ulimits)"
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# Podman with Debian's runc: crun cannot handle a hybrid cgroup layout, and
# setting the default ulimits is not permitted in every environment.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
CONF
fi

have() { podman image exists "$1"; }
if have docker.io/library/debian:bookworm && have docker.io/library/debian:bookworm-slim; then
  exit 0
fi

root=$(mktemp -d /var/tmp/debian-bookworm.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
  { cat "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# The suites Debian's own images list, so that images get security updates.
cat >"$root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
# As in Debian's own images: apt keeps no package caches in image layers.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
import() { tar -C "$root" --numeric-owner -c . | podman import --quiet - "$1" >/dev/null; }
import docker.io/library/debian:bookworm

# -slim as Debian's slim images do it: dpkg leaves out documentation, man
# pages and translations from now on, and those already there go.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
import docker.io/library/debian:bookworm-slim
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep 'library/debian'
