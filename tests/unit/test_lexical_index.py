"""The word index's commit in a thread: searches go on over the index as it was, changes made
meanwhile wait for the next commit, nothing is lost when a commit fails."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ranking.lexical import LexicalIndex


def found(words: LexicalIndex, query: str) -> list[str]:
    return [item for item, _ in words.search(query, 10)]


async def test_searches_go_on_during_a_commit_and_see_its_changes_after() -> None:
    words = LexicalIndex()
    words.upsert("a", "red tea towel")
    words.commit()
    release = threading.Event()
    write = LexicalIndex._write

    def held(writer: object, changes: dict[str, str | None]) -> None:
        release.wait(10)
        write(writer, changes)  # type: ignore[arg-type]

    words._write = held  # type: ignore[method-assign]
    words.upsert("b", "red candle")
    committing = asyncio.ensure_future(words.commit_in_thread())
    await asyncio.sleep(0.05)
    assert found(words, "red") == ["a"] and not committing.done()  # the index as it was
    words.upsert("c", "red mug")  # made meanwhile: kept for the next commit
    assert found(words, "red") == ["a"]  # no second commit while one runs
    release.set()
    await committing
    assert sorted(found(words, "red")) == ["a", "b", "c"]


async def test_changes_whose_commit_failed_are_kept_for_the_next() -> None:
    words = LexicalIndex()
    words.upsert("a", "red tea towel")
    words.commit()

    def failing(writer: object, changes: dict[str, str | None]) -> None:
        raise RuntimeError("the disk is full")

    words._write = failing  # type: ignore[method-assign]
    words.upsert("b", "red candle")
    words.remove("a")
    with pytest.raises(RuntimeError, match="disk is full"):
        await words.commit_in_thread()
    del words._write  # the class's own again
    words.upsert("c", "red mug")
    assert sorted(found(words, "red")) == ["b", "c"]  # a's removal and b were kept


async def test_a_cancelled_caller_leaves_the_commit_to_finish() -> None:
    words = LexicalIndex()
    words.upsert("a", "blue vase")
    caller = asyncio.ensure_future(words.commit_in_thread())
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    for _ in range(200):
        if found(words, "vase"):
            break
        await asyncio.sleep(0.01)
    assert found(words, "vase") == ["a"]


async def test_a_commit_asked_for_during_another_waits_for_it_then_writes() -> None:
    words = LexicalIndex()
    release = threading.Event()
    write = LexicalIndex._write
    batches: list[list[str]] = []

    def held(writer: object, changes: dict[str, str | None]) -> None:
        release.wait(10)
        batches.append(sorted(changes))
        write(writer, changes)  # type: ignore[arg-type]

    words._write = held  # type: ignore[method-assign]
    words.upsert("a", "red tea towel")
    first = asyncio.ensure_future(words.commit_in_thread())
    await asyncio.sleep(0.05)
    words.upsert("b", "red candle")
    second = asyncio.ensure_future(words.commit_in_thread())
    await asyncio.sleep(0.05)
    assert not second.done()  # waits for the first, does not leave b to a search
    release.set()
    await asyncio.gather(first, second)
    assert batches == [["a"], ["b"]]
    assert sorted(found(words, "red")) == ["a", "b"]
