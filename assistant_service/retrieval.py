"""Which of a course's passages answer a question: BM25 over Snowball stems.

The same stems as the catalog's search (service_kit.text), so "сортировки" finds a passage about
"сортировка". An index is built once per set of passages (a snapshot's chunks) and kept, so a
query costs a few dictionary look-ups per word of the question.
"""

import math
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
        self.passages = list(passages)
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._lengths: list[int] = []
        for position, passage in enumerate(self.passages):
            terms = Counter(stem(word) for word in words(passage.text))
            self._lengths.append(sum(terms.values()))
            for term, count in terms.items():
                self._postings.setdefault(term, []).append((position, count))
        total = len(self.passages)
        self._average_length = (sum(self._lengths) / total) if total else 0.0
        self._idf = {
            term: math.log(1 + (total - len(postings) + 0.5) / (len(postings) + 0.5))
            for term, postings in self._postings.items()
        }

    def search(self, query: str, limit: int = 5) -> list[tuple[Passage, float]]:
        """The best `limit` passages for `query` with their scores, best first (ties: by id)."""
        scores: dict[int, float] = {}
        average = self._average_length or 1.0
        for term in dict.fromkeys(stem(word) for word in words(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = self._idf[term]
            for position, count in postings:
                norm = K1 * (1 - B + B * self._lengths[position] / average)
                scores[position] = scores.get(position, 0.0) + idf * count * (K1 + 1) / (
                    count + norm
                )
        ranked = sorted(scores.items(), key=lambda item: (-item[1], self.passages[item[0]].id))
        return [(self.passages[position], score) for position, score in ranked[:limit]]
