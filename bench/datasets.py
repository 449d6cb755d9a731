"""Texts from the real shop data for benchmarks (paths default to ../shared/data)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from core.errors import ConfigError

DATA = Path("../shared/data")
RETAIL = DATA / "online-retail-uci" / "online_retail.csv.gz"
TAOBAO = DATA / "taobao-userbehavior" / "UserBehavior_first110k.csv.gz"
REVIEWS = DATA / "amazon-reviews-all-beauty" / "All_Beauty_5.json.gz"


def need(path: Path) -> None:
    if not path.exists():
        raise ConfigError(f"{path} not found; pass its path (see the README's 'Data' section)")


def product_names(path: Path = RETAIL) -> list[str]:
    """Distinct Online Retail product names, in first-seen order."""
    need(path)
    seen: dict[str, None] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Description"].strip()
            if name:
                seen.setdefault(name, None)
    return list(seen)


def review_texts(path: Path = REVIEWS) -> list[str]:
    """All_Beauty review texts, de-duplicated on (reviewer, product, time) and non-empty."""
    need(path)
    seen: set[tuple[str, str, int]] = set()
    texts: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            key = (row.get("reviewerID", ""), row.get("asin", ""), row.get("unixReviewTime", 0))
            text = (row.get("reviewText") or "").strip()
            if key in seen or not text:
                continue
            seen.add(key)
            texts.append(text)
    return texts
