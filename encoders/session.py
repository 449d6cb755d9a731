"""ONNX Runtime sessions: which provider (CUDA when a GPU is present, else CPU), which model
file for it, and how many threads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort

from core.errors import ConfigError
from encoders import manifest

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "int8", "fp16"]
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

log = logging.getLogger(__name__)


class CudaUnavailable(ConfigError):
    """The CUDA provider was asked for and is compiled in, but did not start (for example a
    missing CUDA or cuDNN library): ONNX Runtime then runs on the CPU without saying so."""


def gpu_present() -> bool:
    """An NVIDIA device node exists (the CUDA provider is compiled into onnxruntime-gpu even
    on machines without a GPU, so its presence in the provider list proves nothing)."""
    return Path("/dev/nvidiactl").exists() or Path("/dev/nvidia0").exists()


def choose_providers(device: Device, available: list[str], has_gpu: bool) -> list[str]:
    if device == "cpu":
        return [CPU]
    cuda_usable = CUDA in available and has_gpu
    if device == "cuda":
        if not cuda_usable:
            raise ConfigError(
                "PULSE_DEVICE=cuda, but "
                + (
                    "no NVIDIA GPU is visible"
                    if CUDA in available
                    else "this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
                )
                + "; use PULSE_DEVICE=auto or cpu"
            )
        return [CUDA, CPU]
    return [CUDA, CPU] if cuda_usable else [CPU]


def choose_precision(precision: Precision, on_cuda: bool, exported: set[str]) -> str:
    """auto: int8 on the CPU; fp16 on CUDA when it was exported, else fp32."""
    if precision == "auto":
        if on_cuda:
            return "fp16" if "fp16" in exported else "fp32"
        return "int8"
    if precision not in exported:
        raise ConfigError(
            f"the {precision} model is not exported; run `pulse export-model` "
            + ("--fp16" if precision == "fp16" else "")
        )
    return precision


@dataclass(frozen=True, slots=True)
class SessionChoice:
    path: Path
    precision: str
    providers: list[str]


def plan(model_root: Path, device: Device, precision: Precision) -> SessionChoice:
    directory = manifest.model_dir(model_root)
    if manifest.read(directory) is None:
        raise ConfigError(
            f"the encoder model in {directory} is not usable (no readable {manifest.MANIFEST}); "
            "run `pulse export-model` (or `make model`)"
        )
    exported = {v for v, name in manifest.VARIANT_FILES.items() if (directory / name).exists()}
    providers = choose_providers(device, ort.get_available_providers(), gpu_present())
    chosen = choose_precision(precision, providers[0] == CUDA, exported)
    found = manifest.problems(directory, (chosen,))
    if found:
        raise ConfigError(
            f"the encoder model in {directory} is not usable ({'; '.join(found)}); "
            "run `pulse export-model` (or `make model`)"
        )
    return SessionChoice(directory / manifest.VARIANT_FILES[chosen], chosen, providers)


def preload_cuda_libraries() -> None:
    """Load CUDA and cuDNN from the ``nvidia-*`` wheels when they are installed (ONNX Runtime
    does not look there by itself); without them the system's libraries are used."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        try:
            preload()
        except OSError as exc:  # a library that is there but does not load: said below
            log.debug("preloading CUDA libraries: %s", exc)


def open_session(choice: SessionChoice, threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle intra-op threads sleep instead of spinning: spinning kept the worker's cores busy
    # between queries and starved its event loop (searches at 200/s, new queries, p99 464.6 ms
    # spinning against 70.4 ms not, back to back; bench/search_latency.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if CUDA in choice.providers:
        preload_cuda_libraries()
    session = ort.InferenceSession(str(choice.path), options, providers=choice.providers)
    if CUDA in choice.providers and CUDA not in session.get_providers():
        raise CudaUnavailable(
            "the CUDA provider did not start (ONNX Runtime fell back to the CPU): install the "
            "CUDA and cuDNN libraries that onnxruntime-gpu needs (`pip install "
            "'onnxruntime-gpu[cuda,cudnn]'`), or set PULSE_DEVICE=cpu"
        )
    return session
