#!/usr/bin/env bash
# A local Redis Cluster on 127.0.0.1: three masters, no replicas (Debian's redis-server, in
# cluster mode; slots assigned by `redis-cli --cluster create` on the first start).
#   infra/redis-cluster.sh start|stop|status
# Ports: PULSE_REDIS_CLUSTER_PORTS ("7000 7001 7002"). Data: var/redis-cluster/<port> (AOF on).
# Logs: var/log/redis-cluster-<port>.log. stop stops only the nodes this script started (PID files).
set -euo pipefail
source "$(dirname "$0")/common.sh"

read -r -a PORTS <<<"${PULSE_REDIS_CLUSTER_PORTS:-7000 7001 7002}"
DATA="$VAR/redis-cluster"

pidfile() { echo "$RUN/redis-cluster-$1.pid"; }

cluster_ok() {
  redis-cli -p "${PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

start() {
  "$(dirname "$0")/redis.sh" install
  for port in "${PORTS[@]}"; do
    if pid_alive "$(pidfile "$port")" && port_open "$port"; then continue; fi
    if port_open "$port"; then
      say "redis-cluster: port $port is taken by another process; set PULSE_REDIS_CLUSTER_PORTS"
      exit 1
    fi
    mkdir -p "$DATA/$port"
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$(pidfile "$port")" \
        --logfile "$LOGS/redis-cluster-$port.log" --dir "$DATA/$port" \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
        --appendonly yes --appendfsync everysec --save "" >&2
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 40); do
      [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == "PONG" ]] && break
      sleep 0.25
    done
    [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == "PONG" ]] || {
      say "redis-cluster: node $port not ready after 10 s; see $LOGS/redis-cluster-$port.log"; exit 1; }
  done
  # Slots are assigned once; the nodes remember their cluster in nodes.conf across restarts.
  if [[ "$(redis-cli -p "${PORTS[0]}" cluster info | grep '^cluster_known_nodes:' | tr -d '\r')" == "cluster_known_nodes:1" ]]; then
    local nodes=()
    for port in "${PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >&2
  fi
  for _ in $(seq 1 80); do
    if cluster_ok; then say "redis-cluster: ready on 127.0.0.1:${PORTS[*]}"; return 0; fi
    sleep 0.25
  done
  say "redis-cluster: cluster not ok after 20 s; see $LOGS/redis-cluster-*.log"; exit 1
}

stop() {
  for port in "${PORTS[@]}"; do stop_pid "$(pidfile "$port")" "redis-cluster $port"; done
}

status() {
  for port in "${PORTS[@]}"; do
    pid_alive "$(pidfile "$port")" && port_open "$port" || { echo "redis-cluster: stopped"; return 1; }
  done
  if cluster_ok; then echo "redis-cluster: running on 127.0.0.1:${PORTS[*]}"; else
    echo "redis-cluster: nodes up, cluster not ok"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) say "usage: $0 start|stop|status"; exit 2 ;;
esac
