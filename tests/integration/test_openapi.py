"""Every route of a real worker, answering as it does on the real stack, against the OpenAPI
document it serves: each status documented, each body valid by the document's schema."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from core.events import EventKind
from streams.openapi import document
from tests.conformance import conforms
from tests.integration.stack import T0, admin, new_settings, running_shop, send
from tools.harness import input_lag

pytestmark = pytest.mark.integration


async def test_every_route_answers_as_the_document_says() -> None:
    user = f"doc-{uuid.uuid4().hex[:8]}"
    async with running_shop(new_settings()) as settings, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{settings.web_port}"
        token = admin(settings)
        wrong = {"Authorization": "Bearer wrong-token"}
        await send(
            settings,
            [
                (EventKind.CLICK, {"user_id": user, "item_id": item, "ts": T0 + n * 30_000})
                for n, item in enumerate(["C1", "C3", "K1", "K2", "K5"])
            ],
        )
        assert not await input_lag(settings, wait_s=60)
        click = {"type": "click", "user_id": user, "item_id": "K6", "ts": T0 + 999_000}
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("post", "/events", {"json": click}),
            ("post", "/events", {"json": [click, {**click, "ts": "yesterday"}]}),
            ("post", "/events", {"data": b"{not json"}),
            ("get", f"/users/{user}/recommendations", {}),
            ("get", f"/users/{user}/recommendations?k=3&category=Home&exclude=K1,K2", {}),
            ("get", f"/users/{user}/recommendations?in_stock_only=false", {}),
            ("get", "/users/nobody-yet/recommendations", {}),
            ("get", f"/users/{user}/recommendations?k=0", {}),
            ("post", "/recommendations:batch", {"json": {"user_ids": [user, "nobody"], "k": 2}}),
            ("post", "/recommendations:batch", {"json": {"user_ids": []}}),
            ("get", "/items/K1/similar?k=3", {}),
            ("get", "/items/NOPE/similar", {}),
            ("get", "/items/K1/similar?k=x", {}),
            ("get", f"/search?q=tea+towel&user_id={user}&k=3", {}),
            ("get", f"/search?q=candle&user_id={user}&record=true&event_id=doc-search", {}),
            ("get", "/search?q=garden&category=Garden&in_stock_only=false&personalise=0", {}),
            ("get", "/search?q=", {}),
            ("get", "/search?q=tea&record=true", {}),
            ("get", "/trends", {}),
            ("get", "/trends?kind=peak_time", {}),
            ("get", "/trends?kind=intent_shift", {"headers": token}),
            ("get", "/trends?kind=intent_shift", {}),
            ("get", "/trends?kind=intent_shift", {"headers": wrong}),
            ("get", "/trends?kind=weather", {}),
            ("get", f"/users/{user}", {"headers": token}),
            ("get", f"/users/{user}", {}),
            ("get", f"/users/{user}", {"headers": wrong}),
            ("delete", f"/users/{user}", {}),
            ("delete", f"/users/{user}", {"headers": token}),
            ("get", "/health", {}),
            ("get", "/openapi.json", {}),
            ("get", "/", {}),
        ]
        seen: set[tuple[str, str, int]] = set()
        for method, path, kw in calls:
            async with session.request(method, base + path, **kw) as response:
                body = await response.json(content_type=None)
                conforms(method, path, response.status, body)
                seen.add((method, path.split("?")[0], response.status))
        async with session.get(base + "/metrics") as response:
            assert response.content_type == "text/plain"
            conforms("get", "/metrics", response.status, await response.text(), "text/plain")
        async with session.get(base + "/openapi.json") as response:
            served = await response.json()
        async with session.get(base + "/router/") as response:
            hidden = response.status  # Faust's own cluster pages are off
    validate(served)
    assert served == document()
    assert hidden == 404
    statuses = {status for *_, status in seen}
    assert statuses == {200, 202, 400, 401, 403, 404}
