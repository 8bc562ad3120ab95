#!/usr/bin/env bash
# Stop the dockerd that scripts/ensure-docker.sh started (by its own pid); leave any other engine alone.
set -uo pipefail
cd "$(dirname "$0")/.."
pidfile=${RUN_DIR:-$PWD/.run}/dockerd.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  echo "[docker] stopping the dockerd started by make (pid $pid)" >&2
  kill -TERM "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f "$pidfile"
