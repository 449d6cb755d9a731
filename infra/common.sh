# Shared paths and helpers for the infra scripts; sourced, not run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${PULSE_VAR_DIR:-$ROOT/var}"
LOGS="$VAR/log"
RUN="$VAR/run"
KAFKA_PORT="${PULSE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${PULSE_KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${PULSE_REDIS_PORT:-6379}"
mkdir -p "$LOGS" "$RUN"

say() { printf '%s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local pidfile="$1" name="$2" pid
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; say "$name: not running"; return 0; fi
  pid="$(cat "$pidfile")"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$name: did not stop in 30 s, killing"; kill -9 "$pid"; fi
  rm -f "$pidfile"
  say "$name: stopped"
}
