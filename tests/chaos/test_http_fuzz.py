"""Fuzzed HTTP requests against every route of a real worker: random methods, paths, query
strings, headers, encodings and bodies. None may answer 5xx, and the worker keeps processing."""

from __future__ import annotations

import gzip
import random
import zlib
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from core.events import EventKind
from core.settings import Settings
from tests.integration.stack import new_settings, running_shop
from tests.unit.examples import VALID

REQUESTS = 1_000
ROUTES = [
    "/events",
    "/users/{user}/recommendations",
    "/users/{user}",
    "/recommendations:batch",
    "/items/{user}/similar",
    "/trends",
    "/health",
    "/metrics",
    "/openapi.json",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
USERS = ["u1", "a{b}c", "%7Bx%7D", "x" * 300, "ü", "..", "%00", "a b", ""]
QUERY_KEYS = ["k", "kind", "limit", "category", "exclude", "in_stock_only", "", "k[]"]
QUERY_VALUES = [
    *("1", "0", "-1", "101", "10", "x", "", "1e3", "trending_item", "peak_time", "\u0000"),
    *("intent_shift", "K1,K2", ",,,", "true", "no", "Home > Kitchen"),
]
ENCODINGS = [None, "gzip", "deflate", "br", "identity", "gzip, deflate", "x-unknown"]
TYPES = [None, "application/json", "text/plain", "multipart/form-data; boundary=x"]


def body(rng: random.Random) -> bytes:
    kind = rng.choice(list(EventKind))
    event = {"type": kind.value, **VALID[kind]}
    choices = [
        b"",
        rng.randbytes(rng.randrange(0, 2_000)),
        orjson.dumps(event),
        orjson.dumps([event] * rng.randrange(0, 5)),
        orjson.dumps({"events": [event, {"type": "nope"}]}),
        orjson.dumps(rng.choice([None, 1, "x", [], {}, [[]]])),
        b'{"type": "click", "user_id": ' + b"9" * 400 + b"}",
        orjson.dumps({**event, "ts": rng.choice([0, -1, 2**63, "2099-01-01T00:00:00Z"])}),
        orjson.dumps({"user_ids": rng.choice([[], ["u1", "K1"], ["x" * 200], [1], "u1"])}),
        orjson.dumps({"user_ids": ["u1"], "k": rng.choice([0, 5, "5", None, 1e9])}),
    ]
    return rng.choice(choices)


def encoded(data: bytes, encoding: str | None, rng: random.Random) -> bytes:
    if encoding == "gzip" and rng.random() < 0.5:
        return gzip.compress(data)
    if encoding == "deflate" and rng.random() < 0.5:
        return zlib.compress(data)
    return data  # often a lie: the header says one thing, the body is another


@pytest.fixture(scope="module")
async def shop() -> AsyncIterator[Settings]:
    async with running_shop(new_settings(partitions=3, http_max_body_bytes=64 * 1024)) as s:
        yield s


async def test_fuzzed_requests_never_get_a_5xx_and_the_worker_goes_on(shop: Settings) -> None:
    rng = random.Random(20261126)
    base = f"http://127.0.0.1:{shop.web_port}"
    statuses: Counter[int] = Counter()
    secret = shop.admin_token.get_secret_value()
    server_errors = []
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for _ in range(REQUESTS):
            path = rng.choice(ROUTES).replace("{user}", rng.choice(USERS))
            if rng.random() < 0.1:
                path = rng.choice(["/", "/users/", "/users//recommendations", "/events/x", "/%"])
            params = {
                rng.choice(QUERY_KEYS): rng.choice(QUERY_VALUES) for _ in range(rng.randrange(3))
            }
            headers = {}
            encoding = rng.choice(ENCODINGS)
            if encoding:
                headers["Content-Encoding"] = encoding
            token = rng.choice([None, "Bearer nope", f"Bearer {secret}"])
            if token:
                headers["Authorization"] = token
            content_type = rng.choice(TYPES)
            if content_type:
                headers["Content-Type"] = content_type
            method = rng.choice(METHODS)
            data = encoded(body(rng), encoding, rng) if method in ("POST", "PUT", "PATCH") else None
            try:
                async with session.request(
                    method, base + path, params=params, headers=headers, data=data
                ) as response:
                    await response.read()
                    statuses[response.status] += 1
                    if response.status >= 500:
                        server_errors.append(
                            (
                                method,
                                path,
                                params,
                                headers,
                                data[:80] if data else None,
                                response.status,
                            )
                        )
            except aiohttp.ClientResponseError as exc:
                # aiohttp's own parser refused the request (a 4xx before any Pulse code ran)
                # and its reply did not parse on this side: still not a server error.
                statuses[exc.status] += 1
                if exc.status >= 500:
                    server_errors.append((method, path, params, headers, repr(exc)))
            except aiohttp.ClientError as exc:
                server_errors.append((method, path, params, headers, repr(exc)))
    print(f"\n{REQUESTS} fuzzed requests: {dict(sorted(statuses.items()))}")
    assert server_errors == []
    # The worker still takes events and serves lists.
    async with aiohttp.ClientSession() as session:
        event = {"type": "click", "user_id": "after-fuzz", "item_id": "K1"}
        async with session.post(f"{base}/events", json=event) as response:
            assert response.status == 202
        async with session.get(f"{base}/health") as response:
            assert response.status == 200
