#!/usr/bin/env bash
# The local stack: Kafka and Redis on 127.0.0.1.
#   infra/stack.sh up|down|status
#   infra/stack.sh run CMD...   start what is not running, run CMD, stop only what it started
set -euo pipefail
HERE="$(dirname "$0")"

case "${1:-}" in
  up) "$HERE/redis.sh" start; "$HERE/kafka.sh" start ;;
  down) "$HERE/kafka.sh" stop; "$HERE/redis.sh" stop ;;
  status) rc=0; "$HERE/redis.sh" status || rc=1; "$HERE/kafka.sh" status || rc=1; exit $rc ;;
  run)
    shift
    started=()
    "$HERE/redis.sh" status >/dev/null || { "$HERE/redis.sh" start; started+=(redis); }
    "$HERE/kafka.sh" status >/dev/null || { "$HERE/kafka.sh" start; started+=(kafka); }
    stop_started() { for s in "${started[@]}"; do "$HERE/$s.sh" stop || true; done; }
    trap stop_started EXIT
    set +e
    "$@"
    rc=$?
    exit $rc
    ;;
  *) echo "usage: $0 up|down|status|run CMD..." >&2; exit 2 ;;
esac
