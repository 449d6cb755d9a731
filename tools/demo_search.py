"""The demo's searches: the same queries for two shoppers of the replay and for anyone, with
what each shopper did before, so the difference and its reasons show."""

from __future__ import annotations

import aiohttp

from core.settings import Settings
from feature_store.clients import redis_client
from feature_store.keys import Keys

QUERIES = ("gift", "bag", "heart")


async def show_searches(
    settings: Settings, users: list[str], queries: tuple[str, ...] = QUERIES
) -> None:
    base = f"http://{settings.web_host}:{settings.web_port}"
    token = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    async with aiohttp.ClientSession() as session:
        for user in users:
            async with session.get(f"{base}/users/{user}", headers=token) as response:
                held = await response.json() if response.status == 200 else {}
            recent = [r["item_id"] for r in ((held.get("state") or {}).get("recent_items") or [])]
            names = await titles(settings, list(reversed(recent))[:4])
            print(f"shopper {user} lately: {', '.join(names) or '(nothing held)'}", flush=True)
        for query in queries:
            print(f"search '{query}':", flush=True)
            who: str | None
            for who in [None, *users]:
                params = {"q": query, "k": "3", **({"user_id": who} if who else {})}
                async with session.get(f"{base}/search", params=params) as response:
                    body = await response.json()
                if response.status != 200:
                    print(f"  {who or 'anyone'}: {response.status} {body}", flush=True)
                    continue
                hits = "; ".join(
                    f"{n}. {hit['title'] or hit['item_id']} ({hit['reason']})"
                    for n, hit in enumerate(body["items"], 1)
                )
                took = sum(body["timings_ms"].values())
                print(f"  {who or 'anyone':>14}: {hits} [{took:.1f} ms]", flush=True)


async def titles(settings: Settings, items: list[str]) -> list[str]:
    """The catalogue's titles of ``items`` (the id where it has none)."""
    keys = Keys(settings.redis_prefix)
    client = redis_client(settings.redis_url, settings.redis_cluster)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.hget(keys.item(item), "title")
            found = await pipe.execute()
    finally:
        await client.aclose()
    return [t.decode() if t else item for item, t in zip(items, found, strict=True)]
