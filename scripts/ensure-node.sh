#!/usr/bin/env bash
# Make `node` and `npm` usable for grafana/schema-check: use them if present; on a bare Debian/Ubuntu
# machine as root, install Debian's nodejs and npm (any Node >= 14.17 runs TypeScript 5.5).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-$PWD/.run}
mkdir -p "$RUN_DIR"
say() { printf '[node] %s\n' "$*" >&2; }
die() { printf '[node] ERROR: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
  || die "node and npm are missing and cannot be installed here: need root and apt-get (Debian/Ubuntu), or install Node.js"
say "installing Debian's nodejs and npm (as root; log: $RUN_DIR/apt-node.log)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >"$RUN_DIR/apt-node.log" 2>&1 || die "apt-get update failed (see $RUN_DIR/apt-node.log)"
packages=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
apt-get install -y -q "${packages[@]}" >>"$RUN_DIR/apt-node.log" 2>&1 \
  || die "installing ${packages[*]} failed (see $RUN_DIR/apt-node.log)"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || die "node or npm still missing after the install"
