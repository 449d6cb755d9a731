"""The admin routes and the request-time filters through the API's handlers (a fake worker):
the token (none, malformed, wrong, right; compared in constant time), the refusal to start on
the default token, forgetting and data access, and any query giving 200 or a 400 with a
reason."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ServiceError
from core.settings import DEFAULT_ADMIN_TOKEN, Settings, admin_token_problem
from streams.api import Api
from streams.worker import Worker
from tests.unit.test_api import TOKEN, FakeWorker

RIGHT = f"Bearer {TOKEN}"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", f"Basic {TOKEN}", TOKEN])
async def test_no_bearer_token_is_a_401_that_says_how(header: str | None) -> None:
    worker = FakeWorker()
    reply = await Api(worker).delete_user("u1", header)
    assert reply.status == 401 and reply.body["error"]["code"] == "unauthorised"
    assert "Authorization: Bearer" in reply.body["error"]["message"]
    assert reply.headers == {"WWW-Authenticate": 'Bearer realm="pulse-admin"'}
    assert worker.forgotten == []


@pytest.mark.parametrize("token", [TOKEN[:-1], TOKEN + "x", "change-me", TOKEN.upper()])
async def test_a_wrong_token_is_a_403(token: str) -> None:
    worker = FakeWorker()
    api = Api(worker)
    for reply in (
        await api.delete_user("u1", f"Bearer {token}"),
        await api.get_user("u1", f"Bearer {token}"),
    ):
        assert reply.status == 403 and reply.body["error"]["code"] == "forbidden"
    assert worker.forgotten == []


async def test_the_right_token_forgets_with_202_and_shows_what_is_held() -> None:
    worker = FakeWorker()
    api = Api(worker)
    gone = await api.delete_user("u1", RIGHT)
    assert gone.status == 202 and gone.body["complete_by"] > gone.body["forgotten_at"]
    assert worker.forgotten == ["u1"]
    held = await api.get_user("u1", f"bearer  {TOKEN} ")  # scheme in any case, spaces trimmed
    assert held.status == 200 and held.body["state"] is None


async def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("streams.api.hmac.compare_digest", spy)
    api = Api(FakeWorker())
    assert (await api.get_user("u1", "Bearer nope")).status == 403
    assert (await api.get_user("u1", RIGHT)).status == 200
    assert calls == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


async def test_forgetting_needs_a_possible_id_and_a_reachable_kafka() -> None:
    worker = FakeWorker()
    long = await Api(worker).delete_user("x" * 129, RIGHT)
    assert (long.status, long.body["error"]["code"]) == (400, "out_of_range")
    worker.fail = True
    away = await Api(worker).delete_user("u1", RIGHT)
    assert (away.status, away.body["error"]["code"]) == (503, "unavailable")
    off = await Api(FakeWorker(personalising=False)).delete_user("u1", RIGHT)
    assert (off.status, off.body["error"]["code"]) == (503, "not_personalising")


async def test_intent_shifts_name_shoppers_so_only_the_admin_reads_them() -> None:
    api = Api(FakeWorker())
    assert (await api.get_trends({"kind": "intent_shift"})).status == 401
    assert (await api.get_trends({"kind": "intent_shift"}, "Bearer nope")).status == 403
    assert (await api.get_trends({"kind": "intent_shift"}, RIGHT)).status == 200
    assert (await api.get_trends({"kind": "trending_item"})).status == 200


async def test_metrics_need_the_token_only_when_so_configured() -> None:
    assert Api(FakeWorker()).get_metrics().status == 200
    guarded = Api(FakeWorker(metrics_admin_only=True))
    assert guarded.get_metrics().status == 401
    assert guarded.get_metrics(RIGHT).status == 200


def test_the_default_or_a_short_token_refuses_to_start_and_says_how_to_set_one() -> None:
    default = admin_token_problem(Settings())
    assert default is not None and DEFAULT_ADMIN_TOKEN in default
    assert "PULSE_ADMIN_TOKEN" in default and "PULSE_DEV=true" in default
    assert "shorter than 16" in (admin_token_problem(Settings(admin_token="short")) or "")
    assert admin_token_problem(Settings(dev=True)) is None
    assert admin_token_problem(Settings(admin_token=TOKEN)) is None


async def test_a_worker_with_the_default_token_does_not_start() -> None:
    worker = Worker(Settings())
    with pytest.raises(ServiceError, match="PULSE_ADMIN_TOKEN is the default"):
        await worker.start()
    await worker.redis.aclose()


async def test_filters_reach_the_worker_parsed() -> None:
    worker = FakeWorker()
    query = {"k": "2", "category": "Home > Kitchen", "exclude": "a, b,,c", "in_stock_only": "no"}
    reply = await Api(worker).get_recommendations("u1", query)
    assert reply.status == 200 and len(reply.body["items"]) == 2
    assert worker.rules is not None
    assert (worker.rules.category, worker.rules.in_stock_only) == ("Home > Kitchen", False)
    assert worker.rules.exclude == {"a", "b", "c"}


QUERY_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "1", "10", "101", "-1", "1e3", "true", "false", "yes", "x" * 400]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=40_000),
)
QUERY_NAMES = st.sampled_from(["k", "category", "exclude", "in_stock_only", "limit", "other"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(QUERY_NAMES, QUERY_VALUES, max_size=5), st.text(max_size=200))
async def test_any_query_and_user_id_get_200_or_a_400_with_a_reason(
    query: dict[str, str], user_id: str
) -> None:
    reply = await Api(FakeWorker()).get_recommendations(user_id, query)
    assert reply.status in (200, 400)
    if reply.status == 400:
        body: dict[str, Any] = reply.body or {}
        assert body["error"]["code"] and body["error"]["message"]
