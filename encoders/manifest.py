"""The manifest beside the exported models: how each file was made, and whether it is intact."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

MODEL_NAME = "all-MiniLM-L6-v2"
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
VARIANT_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx", "fp16": "model.fp16.onnx"}


def model_dir(root: Path) -> Path:
    return root / MODEL_NAME


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def write(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


def problems(directory: Path, required: tuple[str, ...] = ("fp32", "int8")) -> list[str]:
    """What is missing or altered in ``directory``; empty when every file matches its sha256."""
    manifest = read(directory)
    if manifest is None:
        return [f"no readable {MANIFEST} in {directory}"]
    found: list[str] = []
    files = manifest.get("files", {})
    names = [VARIANT_FILES[v] for v in required] + [TOKENIZER]
    for name in names:
        entry = files.get(name)
        path = directory / name
        if entry is None or not path.exists():
            found.append(f"{name} is missing")
        elif path.stat().st_size != entry.get("bytes") or sha256(path) != entry.get("sha256"):
            found.append(f"{name} does not match its sha256 in the manifest")
    return found
