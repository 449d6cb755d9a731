#!/usr/bin/env bash
# Apache Kafka 4.x, single node, KRaft mode, on 127.0.0.1.
#   infra/kafka.sh fetch|start|stop|status
# Jars come from Maven Central through `mvn` (infra/kafka/pom.xml) and are cached in
# infra/kafka/libs. Storage is formatted on first start (var/kafka). Ports: PULSE_KAFKA_PORT
# (9092) and PULSE_KAFKA_CONTROLLER_PORT (9093). Log: var/log/kafka.log.
set -euo pipefail
source "$(dirname "$0")/common.sh"

HERE="$ROOT/infra/kafka"
LIBS="$HERE/libs"
DATA="$VAR/kafka/data"
CONF="$VAR/kafka/server.properties"
PIDFILE="$RUN/kafka.pid"
LOG="$LOGS/kafka.log"

fetch() {
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { say "kafka: Maven (mvn) is needed to fetch the broker's jars"; exit 1; }
  command -v java >/dev/null || { say "kafka: Java 17+ is needed to run the broker"; exit 1; }
  say "kafka: fetching broker jars from Maven Central (once)"
  rm -rf "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
  touch "$LIBS/.complete"
}

configure() {
  mkdir -p "$DATA"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA@#$DATA#g" "$HERE/server.properties.in" > "$CONF"
  if [[ ! -f "$DATA/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java -Dlog4j2.configurationFile="$HERE/log4j2.yaml" -cp "$LIBS/*" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$CONF" >>"$LOG" 2>&1
    say "kafka: formatted storage in $DATA (cluster $cluster_id)"
  fi
}

start() {
  if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then
    say "kafka: already running on 127.0.0.1:$KAFKA_PORT"; return 0
  fi
  if port_open "$KAFKA_PORT"; then
    say "kafka: port $KAFKA_PORT is taken by another process; set PULSE_KAFKA_PORT"; exit 1
  fi
  fetch
  configure
  local mark; mark=$(wc -l <"$LOG" 2>/dev/null || echo 0)
  nohup setsid java -Xms256m -Xmx${PULSE_KAFKA_HEAP:-1g} -XX:+UseG1GC \
      -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
      -cp "$LIBS/*" kafka.Kafka "$CONF" >>"$LOG" 2>&1 < /dev/null &
  echo $! >"$PIDFILE"
  # A broker with many partitions on disk takes a while to load them: wait up to 3 minutes
  # (PULSE_KAFKA_START_TIMEOUT_S).
  local wait_s=${PULSE_KAFKA_START_TIMEOUT_S:-180}
  for _ in $(seq 1 $((wait_s * 2))); do
    if ! pid_alive "$PIDFILE"; then
      say "kafka: the broker exited during start; last lines of $LOG:"; tail -20 "$LOG" >&2; exit 1
    fi
    if port_open "$KAFKA_PORT" && tail -n +"$((mark + 1))" "$LOG" | grep -q "Kafka Server started"; then
      say "kafka: ready on 127.0.0.1:$KAFKA_PORT (log: $LOG)"; return 0
    fi
    sleep 0.5
  done
  local parts; parts=$(find "$DATA" -mindepth 1 -maxdepth 1 -type d -name '*-[0-9]*' | wc -l)
  say "kafka: not ready after $wait_s s; see $LOG. It holds $parts partitions in $DATA and loads" \
      "them all before it starts (test and benchmark runs that were killed leave their topics" \
      "behind); it goes on starting: run this again to wait longer, or set" \
      "PULSE_KAFKA_START_TIMEOUT_S"
  exit 1
}

status() {
  if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then
    echo "kafka: running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"))"
  else
    echo "kafka: stopped"; return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" kafka ;;
  status) status ;;
  *) say "usage: $0 fetch|start|stop|status"; exit 2 ;;
esac
