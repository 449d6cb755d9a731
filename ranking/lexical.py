"""Words over item texts: BM25 by Tantivy (an in-memory index), for the exact words, codes and
brand names a shopper types.

Changes are kept until :meth:`LexicalIndex.commit` (the catalogue follower calls it after each
batch it applies, so a search does not pay for a catalogue load) or the next search. A query
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
        """Apply the changes kept so far, in one commit; the index (None while it is empty)."""
        if self._pending:
            if self._index is None:
                self._index = tantivy.Index(self._schema)
                self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
            writer = self._writer
            assert writer is not None
            for item_id, text in self._pending.items():
                writer.delete_documents_by_term("id", item_id)
                if text is not None:
                    writer.add_document(tantivy.Document(id=item_id, text=text))
            writer.commit()
            self._index.reload()
            self._pending.clear()
        return self._index
