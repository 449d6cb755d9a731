"""Data sources turn rows into contract events; every event they yield must validate."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.events import EventKind
from core.validation import validate_dict
from replay import online_retail, synthetic, taobao

RETAIL = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01T08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01T08:26:00,3.39,17850,United Kingdom
C536379,D,Discount,-1,2010-12-01T09:41:00,27.5,14527,United Kingdom
536414,22139,,56,2010-12-01T11:52:00,0,,United Kingdom
549000,85123A,,2,2011-06-01T10:00:00,2.55,13047,United Kingdom
549001,71053,WHITE METAL LANTERN,1,2011-06-01T10:05:00,-1.0,13047,United Kingdom
"""
TAOBAO = """543462,1715,1464116,pv,1511658000
662867,2244074,1575622,cart,1511658001
561558,3611281,965809,fav,1511658002
561558,1715,1464116,buy,1511658003
"""


def gz(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_online_retail(tmp_path: Path) -> None:
    source = online_retail.source(gz(tmp_path, "retail.csv.gz", RETAIL))
    items = list(source.events)
    for kind, event in items:
        validate_dict(kind, event)
    catalog = [e for k, e in items if k is EventKind.CATALOG]
    purchases = [e for k, e in items if k is EventKind.PURCHASE]
    assert [c["item_id"] for c in catalog] == ["85123A", "71053", "D"]
    assert [p["user_id"] for p in purchases] == ["17850", "17850", "13047"]
    assert purchases[0]["ts"] == "2010-12-01T08:26:00+00:00"
    assert purchases[2]["ts"] == "2011-06-01T10:00:00+01:00"  # British Summer Time
    assert purchases[0]["event_id"] == "or-2"
    assert source.skipped.reasons == {
        "cancellation or negative quantity": 1,
        "no customer id": 1,
        "negative price": 1,
    }


def test_taobao(tmp_path: Path) -> None:
    source = taobao.source(gz(tmp_path, "tb.csv.gz", TAOBAO))
    items = list(source.events)
    for kind, event in items:
        validate_dict(kind, event)
    events = [(k, e.get("action")) for k, e in items if k is not EventKind.CATALOG]
    assert events == [
        (EventKind.CLICK, "view"),
        (EventKind.CLICK, "add_to_cart"),
        (EventKind.PURCHASE, None),
    ]
    assert sum(k is EventKind.CATALOG for k, _ in items) == 3
    assert source.skipped.reasons == {"behavior 'fav' has no contract event": 1}
    assert items[-1][1]["ts"] == 1_511_658_003_000


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="README"):
        list(online_retail.source(tmp_path / "nope.csv.gz").events)


def test_synthetic_shop_is_valid_and_deterministic() -> None:
    first = list(synthetic.source(2_000, seed=3).events)
    again = list(synthetic.source(2_000, seed=3).events)
    assert first == again
    kinds = {kind for kind, _ in first}
    assert kinds == set(EventKind)
    for kind, event in first:
        validate_dict(kind, event)
    assert len(first) == 2_000 + 200
