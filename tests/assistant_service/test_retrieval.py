"""BM25 retrieval over a course's passages, and the per-snapshot cache of its indexes: the
ranking BM25 defines, an index the garbage collector has almost nothing to scan in, and one
build per snapshot however many questions arrive at once."""

import gc
import math
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from assistant_service import chat
from assistant_service.retrieval import K1, B, Index, Passage
from service_kit.text import stem, words

PASSAGES = [
    Passage(7, "Сортировка слиянием делит массив пополам и сливает отсортированные половины."),
    Passage(3, "Быстрая сортировка выбирает опорный элемент; в худшем случае работает за n²."),
    Passage(5, "Бинарный поиск в отсортированном массиве находит элемент за логарифм шагов."),
    Passage(2, "Хеш-таблица хранит пары ключ — значение; поиск по ключу в среднем за O(1)."),
    Passage(9, "Сортировка слиянием устойчива: равные элементы сохраняют порядок."),
    Passage(4, "Сортировка слиянием устойчива: равные элементы сохраняют порядок."),
]


def reference_scores(passages: list[Passage], query: str) -> dict[int, float]:
    """BM25 as the textbook writes it, passage id -> score for the passages matching."""
    documents = {p.id: Counter(stem(word) for word in words(p.text)) for p in passages}
    average = sum(sum(terms.values()) for terms in documents.values()) / len(documents)
    scores: dict[int, float] = {}
    for term in set(stem(word) for word in words(query)):
        holding = [pid for pid, terms in documents.items() if term in terms]
        idf = math.log(1 + (len(documents) - len(holding) + 0.5) / (len(holding) + 0.5))
        for pid in holding:
            count, length = documents[pid][term], sum(documents[pid].values())
            norm = count + K1 * (1 - B + B * length / average)
            scores[pid] = scores.get(pid, 0.0) + idf * count * (K1 + 1) / norm
    return scores


@pytest.mark.parametrize(
    "query", ["сортировка слиянием", "поиск в массиве", "устойчивая сортировка", "ключ"]
)
def test_passages_are_ranked_by_their_bm25_score_and_equal_scores_by_id(query):
    expected = reference_scores(PASSAGES, query)

    found = Index(PASSAGES).search(query, limit=10)

    assert [passage.id for passage, _ in found] == sorted(
        expected, key=lambda pid: (-expected[pid], pid)
    )
    for passage, score in found:
        assert score == pytest.approx(expected[passage.id])
        assert passage == next(p for p in PASSAGES if p.id == passage.id)


def test_the_limit_keeps_the_best_and_a_word_found_nowhere_finds_nothing():
    index = Index(PASSAGES)

    best = index.search("сортировка слиянием", limit=2)

    assert [passage.id for passage, _ in best] == [4, 9]  # the same text: the smaller id first
    assert index.search("квазар", limit=5) == []
    assert index.search("", limit=5) == []
    assert len(index) == len(PASSAGES)


def test_a_word_repeated_in_the_question_counts_once():
    index = Index(PASSAGES)

    once = index.search("хеш-таблица", limit=3)
    thrice = index.search("хеш-таблица хеш-таблица хеш-таблица", limit=3)

    assert once == thrice


def tracked_objects_reachable(root: object) -> int:
    """How many objects the garbage collector tracks among the data `root` holds (its class,
    and the modules behind it, left out)."""
    seen, pending, tracked = {id(root)}, [root], 0
    while pending:
        current = pending.pop()
        for referent in gc.get_referents(current):
            if isinstance(referent, type) or id(referent) in seen:
                continue
            seen.add(id(referent))
            if gc.is_tracked(referent):
                tracked += 1
                pending.append(referent)
    return tracked


def test_a_large_index_leaves_the_garbage_collector_almost_nothing_to_scan():
    passages = [
        Passage(number, f"Лекция {number}: сортировка, поиск и графы, задача {number % 97}.")
        for number in range(1, 3001)
    ]
    index = Index(passages)
    gc.collect()  # tuples of untracked values stop being tracked at their first collection

    # The dictionaries of postings and the lists of ids and texts, not an object per passage.
    assert tracked_objects_reachable(index) < 50


class BuildCounter:
    """Stands in for reading a snapshot's chunks: counts builds, holds them until released."""

    def __init__(self):
        self.builds: Counter = Counter()
        self.release = threading.Event()
        self.fail_next = False

    def __call__(self, session, snapshot):
        self.builds[snapshot.id] += 1
        self.release.wait(5)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database went away")
        return Index([Passage(snapshot.id, "текст")]), {snapshot.id: (1, "Лекция", "")}


def test_questions_arriving_together_build_a_snapshot_index_once(monkeypatch):
    builder = BuildCounter()
    monkeypatch.setattr(chat, "_build_index", builder)
    cache = chat.IndexCache()
    snapshot = SimpleNamespace(id=11)
    results = []

    def ask():
        results.append(cache.get(None, snapshot))

    askers = [threading.Thread(target=ask) for _ in range(12)]
    for asker in askers:
        asker.start()
    while builder.builds[11] == 0:
        threading.Event().wait(0.01)
    builder.release.set()
    for asker in askers:
        asker.join(5)

    assert builder.builds[11] == 1
    assert len(results) == 12
    assert all(result is results[0] for result in results)
    cache.get(None, SimpleNamespace(id=12))
    assert builder.builds == Counter({11: 1, 12: 1})


def test_a_failed_build_is_tried_again_by_the_next_question(monkeypatch):
    builder = BuildCounter()
    builder.release.set()
    builder.fail_next = True
    monkeypatch.setattr(chat, "_build_index", builder)
    cache = chat.IndexCache()
    snapshot = SimpleNamespace(id=21)

    with pytest.raises(RuntimeError):
        cache.get(None, snapshot)
    index, chunk_sources = cache.get(None, snapshot)

    assert builder.builds[21] == 2
    assert chunk_sources == {21: (1, "Лекция", "")}
    assert cache.get(None, snapshot)[0] is index


def test_the_cache_keeps_the_newest_snapshots_only(monkeypatch):
    builder = BuildCounter()
    builder.release.set()
    monkeypatch.setattr(chat, "_build_index", builder)
    cache = chat.IndexCache(size=2)

    for snapshot_id in (1, 2, 1, 3, 1, 2):
        cache.get(None, SimpleNamespace(id=snapshot_id))

    # 1 stayed as the most recently used; 2 was evicted by 3 and had to be built again.
    assert builder.builds == Counter({1: 1, 2: 2, 3: 1})
