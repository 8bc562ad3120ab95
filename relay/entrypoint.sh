#!/bin/bash
# Render the relay's configuration from the environment, check it, then run carbon-c-relay in the
# foreground. carbon-c-relay reads no environment itself, hence this step.
#   RELAY_DESTINATIONS  carbon-caches as host:port=instance, separated by spaces or commas (required).
#                       The instance names the node in the hash ring: keep them stable (a, b, ...).
#   RELAY_REPLICATION   copies of every series, on distinct caches (1 .. number of caches; default 1)
#   RELAY_HASH          carbon_ch (default: the ring of carbon-relay and graphite-web) or fnv1a_ch
#   RELAY_QUEUE_SIZE    points queued per cache while it is slow or away before dropping (200000)
#   RELAY_BATCH_SIZE    points sent per batch (2500); RELAY_WORKERS: dispatcher threads (default: cores)
#   RELAY_STATS_INTERVAL seconds between carbon.relays.<RELAY_NAME>.* reports (10); RELAY_NAME (relay)
set -euo pipefail
die() { echo "relay: $*" >&2; exit 64; }
conf=/run/carbon-c-relay/relay.conf

destinations_env=${RELAY_DESTINATIONS:-}
read -r -a destinations <<<"${destinations_env//,/ }"
[ "${#destinations[@]}" -gt 0 ] || die "RELAY_DESTINATIONS is empty: expected host:port=instance ..."
for d in "${destinations[@]}"; do
  [[ $d =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}=[A-Za-z0-9_-]+$ ]] \
    || die "RELAY_DESTINATIONS entry '$d' is invalid: expected host:port=instance (e.g. carbon-a:2003=a)"
done
replication=${RELAY_REPLICATION:-1}
[[ $replication =~ ^[0-9]+$ ]] && [ "$replication" -ge 1 ] && [ "$replication" -le "${#destinations[@]}" ] \
  || die "RELAY_REPLICATION='$replication' is invalid: expected 1 to ${#destinations[@]} (the number of caches)"
hash=${RELAY_HASH:-carbon_ch}
case $hash in carbon_ch|fnv1a_ch) ;; *) die "RELAY_HASH='$hash' is invalid: expected carbon_ch or fnv1a_ch" ;; esac
interval=${RELAY_STATS_INTERVAL:-10}
[[ $interval =~ ^[0-9]+$ ]] && [ "$interval" -ge 1 ] || die "RELAY_STATS_INTERVAL='$interval' is not a number of seconds"
for name in RELAY_QUEUE_SIZE RELAY_BATCH_SIZE RELAY_WORKERS; do
  value=${!name:-}
  [ -z "$value" ] || [[ $value =~ ^[1-9][0-9]*$ ]] || die "$name='$value' is not a positive integer"
done
relay_name=${RELAY_NAME:-relay}
[[ $relay_name =~ ^[A-Za-z0-9_-]+$ ]] || die "RELAY_NAME='$relay_name' must be one path node"

{
  echo "# Generated at start from the environment by /usr/local/bin/entrypoint.sh."
  echo "listen type linemode 2003 proto tcp 2003 proto udp ;"
  echo "cluster caches $hash replication $replication"
  printf '    %s\n' "${destinations[@]}"
  echo "    ;"
  echo "statistics submit every $interval seconds reset counters after interval send to caches stop ;"
  echo "include /etc/carbon-c-relay/aggregations.conf ;"
  echo "match * send to caches stop ;"
} >"$conf"

carbon-c-relay -t -t -f "$conf" >/dev/null 2>&1 || { cat "$conf" >&2; carbon-c-relay -t -t -f "$conf" >&2 || true; die "invalid configuration"; }
args=(-f "$conf" -H "$relay_name" -q "${RELAY_QUEUE_SIZE:-200000}" -b "${RELAY_BATCH_SIZE:-2500}")
[ -z "${RELAY_WORKERS:-}" ] || args+=(-w "$RELAY_WORKERS")
exec carbon-c-relay "${args[@]}"
