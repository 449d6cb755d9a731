"""The tokenizer runs in its caller's thread: no thread pool of the library's beside the
worker's event loop, unless it is asked for (an encoder on CUDA) or ``TOKENIZERS_PARALLELISM``
says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import os
from pathlib import Path
from encoders import manifest
from encoders.tokenizer import TextTokenizer
before = len(os.listdir("/proc/self/task"))
tok = TextTokenizer(manifest.model_dir(Path("onnx_models")) / manifest.TOKENIZER, pool=POOL)
texts = [f"scented candle gift set number {i} " * 8 for i in range(256)]
for _ in range(5):
    tok(texts)
print(before, len(os.listdir("/proc/self/task")), os.environ["TOKENIZERS_PARALLELISM"])
"""


def threads_after_tokenising(parallelism: str | None, pool: bool = False) -> tuple[int, int, str]:
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    if parallelism is not None:
        env["TOKENIZERS_PARALLELISM"] = parallelism
    out = subprocess.run(
        [sys.executable, "-c", f"POOL = {pool}\n{SCRIPT}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    before, after, setting = out.stdout.split()
    return int(before), int(after), setting


def test_batches_are_tokenised_without_a_thread_pool_by_default() -> None:
    before, after, setting = threads_after_tokenising(None)
    assert setting == "false" and after == before


def test_the_environment_can_ask_for_the_pool() -> None:
    before, after, setting = threads_after_tokenising("true")
    assert setting == "true" and after > before  # the pool's threads: one per core


def test_a_tokenizer_that_asks_for_the_pool_gets_it_unless_the_environment_says_no() -> None:
    before, after, setting = threads_after_tokenising(None, pool=True)
    assert setting == "true" and after > before
    before, after, setting = threads_after_tokenising("false", pool=True)
    assert setting == "false" and after == before
