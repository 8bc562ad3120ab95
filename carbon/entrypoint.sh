#!/bin/bash
# `carbon`: carbon-cache and carbon-aggregator in the foreground; if either exits, stop the other and exit,
# so Docker's restart policy sees the failure. SIGTERM is passed on so the cache flushes on `docker stop`.
# `graphite`: migrate graphite-web's sqlite database, then serve it with gunicorn (graphite_wsgi.py: with the UI's
# static files).
set -euo pipefail
case "${1:-carbon}" in
  carbon)
    rm -f /run/carbon/*.pid   # left by a killed container; carbon refuses to start over them
    pids=()
    for daemon in cache aggregator; do
      /usr/bin/carbon-$daemon --config=/etc/carbon/carbon.conf --nodaemon --pidfile=/run/carbon/$daemon.pid start &
      pids+=($!)
    done
    trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
    wait -n "${pids[@]}" || true
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    ;;
  graphite)
    : "${GRAPHITE_SECRET_KEY:?GRAPHITE_SECRET_KEY must be set (make up writes one into .env)}"
    graphite-manage migrate --noinput >/var/log/graphite/migrate.log 2>&1 || { cat /var/log/graphite/migrate.log; exit 1; }
    exec gunicorn --bind 0.0.0.0:8080 --workers "${GRAPHITE_WORKERS:-2}" --timeout 60 \
         --access-logfile - --error-logfile - graphite_wsgi:application
    ;;
  *) exec "$@" ;;
esac
