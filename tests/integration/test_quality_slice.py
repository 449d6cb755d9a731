"""A slice of the quality benchmark through Kafka and a real worker gives the direct run's lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.quality_kafka import check_slice
from tests.integration.stack import ROOT

pytestmark = pytest.mark.integration

DATA = ROOT.parent / "shared" / "data" / "online-retail-uci" / "online_retail.csv.gz"


async def test_a_replayed_slice_gives_the_direct_runs_lists() -> None:
    assert DATA.exists(), f"Online Retail is expected at {DATA} (../shared beside the clone)"
    report = await check_slice(60, DATA, Path(ROOT / "onnx_models"))
    assert report.invoices == 60
    # Lines of one invoice are sent together; the worker may still take them in two batches.
    found = json.dumps(report.as_dict())  # whole, for a failure to be read
    assert report.compared >= 50, found
    assert report.identical == report.compared, found
    assert report.items_per_list > 5  # real lists, not empty ones compared
