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
# The compiled kernels (kernels/, Rust) are built by maturin from crates.io sources: cargo
# (rustup's, 1.74 or later) must be on PATH or in ~/.cargo/bin.
if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
kernels="$(cat kernels/Cargo.toml kernels/Cargo.lock kernels/pyproject.toml kernels/*.pyi kernels/src/*.rs | sha256sum | cut -c1-16)"
stamp="$(sha256sum pyproject.toml | cut -c1-16) $kernels $extras"
if [[ "$(cat .venv/.pulse-installed 2>/dev/null)" != "$stamp" ]]; then
  if ! command -v cargo >/dev/null; then
    say "setup: Rust's cargo is needed to build kernels/ (https://rustup.rs: curl ... | sh, or your distribution's rustup)"; exit 1
  fi
  say "setup: installing Pulse with extras [$extras] and its compiled kernels into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q ./kernels -e ".[$extras]" >&2
  .venv/bin/python -m pip check >&2
  echo "$stamp" > .venv/.pulse-installed
fi
"$ROOT/infra/redis.sh" install
"$ROOT/infra/kafka.sh" fetch
say "setup: done"
