#!/usr/bin/env bash
# One-time (and idempotent) set-up of a development machine:
#   a Python virtual environment in .venv with Pulse and its dev/bench extras,
#   Debian's redis-server, and the Kafka broker's jars from Maven Central.
#   --export also installs the model-export extra (torch, transformers: a multi-GB download),
#   which the test suite needs for its PyTorch parity checks.
# Re-running it does only what is missing or out of date.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

PYTHON="${PULSE_PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "setup: Python 3.11+ is needed (found $("$PYTHON" --version 2>&1)); set PULSE_PYTHON"; exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  say "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
extras="dev,bench"
if [[ "${1:-}" == "--export" ]] || grep -q "export" .venv/.pulse-installed 2>/dev/null; then
  extras="dev,bench,export"
fi
stamp="$(sha256sum pyproject.toml | cut -c1-16) $extras"
if [[ "$(cat .venv/.pulse-installed 2>/dev/null)" != "$stamp" ]]; then
  say "setup: installing Pulse with extras [$extras] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e ".[$extras]" >&2
  .venv/bin/python -m pip check >&2
  echo "$stamp" > .venv/.pulse-installed
fi
"$ROOT/infra/redis.sh" install
"$ROOT/infra/kafka.sh" fetch
say "setup: done"
