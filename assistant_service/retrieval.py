"""Which of a course's passages answer a question: BM25 over Snowball stems.

The same stems as the catalog's search (service_kit.text), so "сортировки" finds a passage about
"сортировка". An index is built once per set of passages (a snapshot's chunks) and kept, so a
query costs a dictionary look-up per word of the question and one addition per passage that
holds the word.

All postings sit in two flat arrays, grouped by term: the positions of the passages holding the
term and its BM25 weight in each, computed when the index is built; a term maps to its span. A
query adds weights up and keeps the best few on a heap, creating no object the garbage collector
tracks per matching passage. That matters beyond the query's own time: sorting thousands of
(position, score) tuples made every query set off collections that promoted them to the oldest
generation, and the full collections that followed paused the whole worker for tens of
milliseconds. The index itself holds a handful of objects the collector tracks, not a few per
passage, so it does not lengthen those collections.
"""

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from service_kit.text import stem, words

# BM25's usual constants: term-frequency saturation and length normalisation.
K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class Passage:
    id: int
    text: str


class Index:
    """An immutable BM25 index over passages; `search` is thread-safe."""

    def __init__(self, passages: Sequence[Passage]):
        self._ids = array("q", (passage.id for passage in passages))
        self._texts = [passage.text for passage in passages]
        lengths: list[int] = []
        occurrences: dict[str, tuple[list[int], list[int]]] = {}  # term -> positions, counts
        for position, passage in enumerate(passages):
            terms = Counter(stem(word) for word in words(passage.text))
            lengths.append(sum(terms.values()))
            for term, count in terms.items():
                entry = occurrences.get(term)
                if entry is None:
                    entry = occurrences[term] = ([], [])
                entry[0].append(position)
                entry[1].append(count)
        total = len(passages)
        average = (sum(lengths) / total if total else 0.0) or 1.0
        self._positions = array("q")
        self._weights = array("d")
        self._spans: dict[str, tuple[int, int]] = {}
        for term, (positions, counts) in occurrences.items():
            idf = math.log(1 + (total - len(positions) + 0.5) / (len(positions) + 0.5))
            start = len(self._positions)
            self._positions.extend(positions)
            self._weights.extend(
                idf * count * (K1 + 1) / (count + K1 * (1 - B + B * lengths[position] / average))
                for position, count in zip(positions, counts, strict=True)
            )
            self._spans[term] = (start, len(self._positions))

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, limit: int = 5) -> list[tuple[Passage, float]]:
        """The best `limit` passages for `query` with their scores, best first (ties: by id)."""
        scores: dict[int, float] = {}
        score_of = scores.get
        for term in dict.fromkeys(stem(word) for word in words(query)):
            span = self._spans.get(term)
            if span is None:
                continue
            start, end = span
            positions, weights = self._positions[start:end], self._weights[start:end]
            for position, weight in zip(positions, weights, strict=True):
                scores[position] = score_of(position, 0.0) + weight
        ids = self._ids
        best = heapq.nlargest(limit, scores.items(), key=lambda item: (item[1], -ids[item[0]]))
        return [(Passage(ids[position], self._texts[position]), score) for position, score in best]
