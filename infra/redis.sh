#!/usr/bin/env bash
# Redis on 127.0.0.1 (Debian's redis-server, installed when missing), AOF on (everysec).
#   infra/redis.sh install|start|stop|status
# Port: PULSE_REDIS_PORT (6379). Data: var/redis. Log: var/log/redis.log.
set -euo pipefail
source "$(dirname "$0")/common.sh"

PIDFILE="$RUN/redis.pid"
DATA="$VAR/redis"

install() {
  if command -v redis-server >/dev/null; then return 0; fi
  say "redis: installing Debian's redis-server"
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
}

start() {
  if pid_alive "$PIDFILE" && port_open "$REDIS_PORT"; then
    say "redis: already running on 127.0.0.1:$REDIS_PORT"; return 0
  fi
  if port_open "$REDIS_PORT"; then
    say "redis: port $REDIS_PORT is taken by another process; set PULSE_REDIS_PORT"; exit 1
  fi
  install
  mkdir -p "$DATA"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --pidfile "$PIDFILE" \
      --logfile "$LOGS/redis.log" --dir "$DATA" --appendonly yes --appendfsync everysec \
      --save "" >&2
  for _ in $(seq 1 40); do
    if [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; then
      say "redis: ready on 127.0.0.1:$REDIS_PORT (log: $LOGS/redis.log)"; return 0
    fi
    sleep 0.25
  done
  say "redis: not ready after 10 s; see $LOGS/redis.log"; exit 1
}

status() {
  if pid_alive "$PIDFILE" && port_open "$REDIS_PORT"; then
    echo "redis: running on 127.0.0.1:$REDIS_PORT (pid $(cat "$PIDFILE"))"
  else
    echo "redis: stopped"; return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" redis ;;
  status) status ;;
  *) say "usage: $0 install|start|stop|status"; exit 2 ;;
esac
