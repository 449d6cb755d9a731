"""Words over item texts: BM25 by Tantivy (an in-memory index), for the exact words, codes and
brand names a shopper types.

Changes are kept until :meth:`LexicalIndex.commit` or the next search. The catalogue follower
calls :meth:`LexicalIndex.commit_in_thread` after each batch it applies: Tantivy's commit takes
about 110 ms (it lets go of the GIL), which on the event loop held every search in flight; in a
thread, searches go on meanwhile over the index as it was, and see the batch once it is in. A query
is a shopper's text, not a query language: its words are matched whatever their punctuation
(Tantivy's lenient parser over the text with its operators taken out), stemmed in English, any
word enough.

>>> words = LexicalIndex()
>>> words.upsert("a", "Tea towel, red"); words.upsert("b", "Red candle"); words.upsert("c", "Mug")
>>> [item for item, _ in words.search("red TOWELS!", 5)]
['a', 'b']
>>> words.remove("a"); [item for item, _ in words.search("towel", 5)]
[]
"""

from __future__ import annotations

import asyncio
import re

import tantivy

# Characters Tantivy's query parser reads as syntax; a shopper's query is words only.
_SYNTAX = re.compile(r"[^\w]+")
# Tantivy wants at least this much heap for its single indexing thread.
_WRITER_HEAP = 15_000_000


class LexicalIndex:
    def __init__(self) -> None:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
        self._schema = builder.build()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        # item -> its new text, or None when it was removed; applied at the next search
        self._pending: dict[str, str | None] = {}
        # a commit running in a thread (the writer is its until it ends)
        self._running: asyncio.Future[None] | None = None

    def upsert(self, item_id: str, text: str) -> None:
        self._pending[item_id] = text

    def remove(self, item_id: str) -> None:
        self._pending[item_id] = None

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` items whose texts match ``query`` best (BM25), best first; none when the
        query holds no word."""
        words = _SYNTAX.sub(" ", query).strip().lower()  # "AND", "OR", "NOT" are words too
        if not words or k <= 0:
            return []
        index = self.commit()
        if index is None:
            return []
        parsed, _errors = index.parse_query_lenient(words, ["text"])
        searcher = index.searcher()
        hits = searcher.search(parsed, k).hits
        return [(searcher.doc(address)["id"][0], float(score)) for score, address in hits]

    def commit(self) -> tantivy.Index | None:
        """Apply the changes kept so far, in one commit; the index (None while it is empty).
        While a commit runs in a thread, the changes since wait for the next commit."""
        if self._pending and self._running is None:
            index, writer = self._open()
            self._write(writer, self._pending)
            index.reload()
            self._pending = {}
        return self._index

    async def commit_in_thread(self) -> None:
        """:meth:`commit`, the writing in a thread; after the commit already running, if one
        is. A caller that is cancelled leaves it to finish; changes whose commit fails are kept
        for the next one."""
        while self._running is not None:
            await asyncio.wait([self._running])
        if not self._pending:
            return
        changes, self._pending = self._pending, {}
        index, writer = self._open()
        future = asyncio.get_running_loop().run_in_executor(None, self._write, writer, changes)
        self._running = future

        def finished(done: asyncio.Future[None]) -> None:
            self._running = None
            if done.cancelled() or done.exception() is not None:
                self._pending = {**changes, **self._pending}  # newer changes win
            else:
                index.reload()

        future.add_done_callback(finished)
        await asyncio.shield(future)

    def _open(self) -> tuple[tantivy.Index, tantivy.IndexWriter]:
        if self._index is None or self._writer is None:
            self._index = tantivy.Index(self._schema)
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        return self._index, self._writer

    @staticmethod
    def _write(writer: tantivy.IndexWriter, changes: dict[str, str | None]) -> None:
        for item_id, text in changes.items():
            writer.delete_documents_by_term("id", item_id)
            if text is not None:
                writer.add_document(tantivy.Document(id=item_id, text=text))
        writer.commit()
