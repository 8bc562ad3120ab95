#!/usr/bin/env bash
# Provide the base image every image of ours builds FROM. Without a reachable registry, bootstrap it locally
# with debootstrap + docker import (about 30 s) and tag it with the name the Dockerfiles use.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
RUN_DIR=${RUN_DIR:-$PWD/.run}
say() { printf '[base-image] %s\n' "$*" >&2; }

docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then say "pulled $IMAGE"; exit 0; fi

say "$IMAGE cannot be pulled here: building it locally with debootstrap + docker import"
[ "$(id -u)" = 0 ] || { say "ERROR: debootstrap needs root"; exit 1; }
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >"$RUN_DIR/apt-debootstrap.log" 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >"$RUN_DIR/apt-debootstrap.log" 2>&1; }
fi
rootfs="$RUN_DIR/rootfs-bookworm"
rm -rf "$rootfs"; mkdir -p "$RUN_DIR"
debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$RUN_DIR/debootstrap.log" 2>&1 \
  || { say "ERROR: debootstrap failed (see $RUN_DIR/debootstrap.log)"; exit 1; }
# Slim it the way the official -slim image is: no docs, man pages or package lists.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
rm -rf "$rootfs"
say "built $IMAGE locally ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
