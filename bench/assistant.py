"""The course assistant's figures: one course of CHUNK_TARGET chunks of Russian teaching text.

1. Retrieval and prompt assembly, in this process with the service's own functions on its
   PostgreSQL database: what `chat.prepare` does between finding the course's newest snapshot
   and calling the provider (BM25 over the snapshot's chunks through the service's index cache,
   the messages built by prompting.py, their tokens counted for the spend reservation).
2. The time to the first byte of a streamed answer, `POST /api/assistant/courses/{id}/chat`,
   through the gateway and directly to the assistant, in alternating rounds.
3. STREAMS answers streamed through the gateway at once, the provider (the OpenAI stand-in)
   writing each piece STREAM_PIECE_SECONDS after the one before, so every stream stays open
   while the others start.

The course is written into the catalog with the catalog's own write path and snapshotted with
the assistant's own code (`sources.take_snapshot`, reading the catalog over HTTP and chunking
the texts), exactly as a teacher's "take a snapshot" does.
"""

import http.client
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from assistant_service import chat, prompting, sources, tokens
from assistant_service.catalog import Catalog
from catalog_service import services as catalog_services
from service_kit.auth import Principal
from service_kit.db import Database
from service_kit.permissions import ROLE_PERMISSIONS

from . import content, course_text, load

CHUNK_TARGET = 5_000
TEACHER_ID = 9_001  # after the generated students and the catalog's other teachers
RETRIEVAL_SAMPLES_PER_ROUND = 1_000
# Many short rounds: a burst of other work on the machine then lands on both paths of a round
# alike, and the median over rounds shrugs off the rounds it does not.
TTFB_REQUESTS_PER_ROUND = 10
TTFB_ROUNDS = 24
STREAMS = 50
STREAM_PIECE_SECONDS = 0.1
# The answer the provider streams in the concurrent scenario: 33 pieces, so at
# STREAM_PIECE_SECONDS apart each stream lasts about 3.3 s.
STREAM_ANSWER = (
    "Сортировка слиянием устойчива: при слиянии двух упорядоченных половин из равных элементов "
    "первым берётся элемент левой половины [1]. Поэтому равные ключи сохраняют исходный "
    "порядок, что важно при сортировке по нескольким ключам [2]. Время работы — O(n log n) "
    "в любом случае [1]."
)


# --- the course --------------------------------------------------------------------------------


def load_course(catalog_database_url: str, chunk_target: int = CHUNK_TARGET) -> int:
    """The course and its materials in a migrated catalog, written by the catalog's own
    services (rendered HTML and search stems included, a version bump per write); its id."""
    materials = course_text.course_materials(chunk_target)
    admin = Principal(1, "admin", frozenset(ROLE_PERMISSIONS["admin"]))
    engine = create_engine(catalog_database_url)
    with Session(engine, expire_on_commit=False) as session:
        course = catalog_services.create_course(
            session,
            name=course_text.COURSE_NAME,
            description=course_text.COURSE_DESCRIPTION,
            semester=3,
        )
        catalog_services.assign_teacher(session, course.id, TEACHER_ID)
        for material in materials:
            catalog_services.create_material(
                session, admin, course.id,
                {"lesson_number": material.lesson_number,
                 "material_type_code": material.type_code, "title": material.title,
                 "body": material.body},
            )  # fmt: skip
    engine.dispose()
    return course.id


def take_snapshot(assistant_database_url: str, catalog_url: str, course_id: int) -> dict:
    """The assistant's snapshot of the course, taken by its own code over the catalog's HTTP
    API; how many materials and chunks it holds."""
    database = Database(assistant_database_url)
    try:
        with database.session() as session:
            catalog = Catalog(catalog_url, read_timeout=30)
            snapshot = sources.take_snapshot(session, catalog, course_id, TEACHER_ID)
            chunks = len(sources.snapshot_chunks(session, snapshot))
            return {"snapshot_id": snapshot.id, "materials": len(snapshot.sources),
                    "chunks": chunks}  # fmt: skip
    finally:
        database.dispose()


# --- 1. retrieval and prompt assembly ----------------------------------------------------------


def measure_retrieval(
    database_url: str,
    course_id: int,
    *,
    rounds: int,
    samples_per_round: int = RETRIEVAL_SAMPLES_PER_ROUND,
    questions: tuple[str, ...] = course_text.QUESTIONS,
) -> dict:
    """What the chat route does before it calls the provider, timed question by question:
    a request's session, the course's newest snapshot, `chat.retrieve` through the service's
    `IndexCache`, the messages of `prompting.conversation` and their token count. The first
    question builds the index (timed on its own, not a sample); then `rounds` rounds of
    `samples_per_round` questions."""
    database = Database(database_url)
    index_cache = chat.IndexCache()

    def prepare_prompt(question: str) -> list[dict]:
        with database.session() as session:
            snapshot = sources.latest_snapshot(session, course_id)
            found = chat.retrieve(session, index_cache, snapshot, question)
            passages = [prompting.Source(s["material_id"], s["title"], s["text"]) for s in found]
            messages = prompting.conversation(snapshot.course_name, question, passages)
            tokens.count_messages(messages)
        return found

    try:
        started = time.perf_counter()
        found = prepare_prompt(questions[0])
        cold_ms = (time.perf_counter() - started) * 1000
        if not found:
            raise RuntimeError(f"retrieval found nothing for {questions[0]!r}")
        rng = random.Random(23)
        overall = load.Measurement()
        per_round = []
        for _ in range(rounds):
            measured = load.Measurement()
            order = [questions[i % len(questions)] for i in range(samples_per_round)]
            rng.shuffle(order)
            round_started = time.perf_counter()
            for question in order:
                started = time.perf_counter()
                prepare_prompt(question)
                measured.histogram[round((time.perf_counter() - started) * 1e6)] += 1
            measured.requests = samples_per_round
            measured.seconds = time.perf_counter() - round_started
            per_round.append(measured)
            overall.add(measured)
    finally:
        database.dispose()
    return {
        "measurement": overall,
        "first_question_ms": round(cold_ms, 1),
        "samples": overall.requests,
        "rounds": [_round_figures(m) for m in per_round],
        "p99_ms_spread": _spread([m.percentile_ms(99) for m in per_round]),
        "p50_ms_spread": _spread([m.percentile_ms(50) for m in per_round]),
    }


# --- asking over HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    started: float
    first_byte: float | None  # when the status line and headers had arrived
    ended: float
    status: int | None
    error: str | None  # None: a 200 whose stream ended with `done`

    @property
    def ttfb_ms(self) -> float:
        return ((self.first_byte or self.ended) - self.started) * 1000


class Asker:
    """Questions to one base URL over one keep-alive connection, as a browser sends them."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def ask(self, course_id: int, question: str, token: str) -> Answer:
        body = json.dumps({"question": question}, ensure_ascii=False).encode()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        started = time.perf_counter()
        first_byte, status = None, None
        try:
            self.connection.request(
                "POST", f"/api/assistant/courses/{course_id}/chat", body=body, headers=headers
            )
            response = self.connection.getresponse()
            first_byte, status = time.perf_counter(), response.status
            stream = response.read()
        except (OSError, http.client.HTTPException) as failure:
            self.connection.close()  # the next request connects afresh
            return Answer(started, first_byte, time.perf_counter(), status,
                          f"{type(failure).__name__}: {failure}")  # fmt: skip
        ended = time.perf_counter()
        if status != 200:
            return Answer(started, first_byte, ended, status, f"{status}: {stream[:200]!r}")
        if b"event: done" not in stream or b"event: error" in stream:
            return Answer(started, first_byte, ended, status, f"no done event: {stream[-300:]!r}")
        return Answer(started, first_byte, ended, status, None)

    def close(self) -> None:
        self.connection.close()


# --- 2. time to the first byte -----------------------------------------------------------------


def measure_ttfb(
    direct_url: str,
    gateway_url: str,
    course_id: int,
    token_for: Callable[[], str],
    *,
    rounds: int = TTFB_ROUNDS,
    per_round: int = TTFB_REQUESTS_PER_ROUND,
    questions: tuple[str, ...] = course_text.QUESTIONS,
) -> dict:
    """The time to the first byte of an answer, directly and through the gateway, one request
    at a time on a keep-alive connection each: `rounds` rounds of `per_round` requests per
    path, the order of the paths swapped every round, the same questions on both. Every
    request is another student's (`token_for()`), as the per-user rate limit expects. The
    figure is the median over rounds of (gateway median − direct median). Run it on warm
    workers (`warm_up_workers`): a worker's first question of a snapshot builds its index."""
    askers = {"direct": Asker(direct_url), "gateway": Asker(gateway_url)}
    measured = {via: load.Measurement() for via in askers}
    medians: list[dict[str, float]] = []  # per round: path -> median
    errors: Counter = Counter()
    error_examples: set[str] = set()
    for asker in askers.values():  # the connection, and the gateway's to the assistant
        asker.ask(course_id, questions[0], token_for())
    for number in range(rounds):
        order = list(askers) if number % 2 == 0 else list(reversed(askers))
        medians.append({})
        for via in order:
            samples = []
            round_started = time.perf_counter()
            for index in range(per_round):
                question = questions[(number * per_round + index) % len(questions)]
                answer = askers[via].ask(course_id, question, token_for())
                if answer.error:
                    errors[via] += 1
                    error_examples.add(answer.error[:300])
                    continue
                samples.append(answer.ttfb_ms)
                measured[via].histogram[round(answer.ttfb_ms * 1000)] += 1
            measured[via].requests += len(samples)
            measured[via].seconds += time.perf_counter() - round_started
            if samples:
                medians[-1][via] = statistics.median(samples)
    for asker in askers.values():
        asker.close()
    for via, count in errors.items():
        measured[via].error_kinds["status"] += count
    paired = [m for m in medians if len(m) == 2]
    added = [m["gateway"] - m["direct"] for m in paired]
    return {
        "measurements": measured,
        "gateway_added_ms": round(statistics.median(added), 3) if added else None,
        "gateway_added_ms_spread": _spread(added),
        "gateway_added_ms_quartiles": _quartiles(added),
        "rounds": [
            {"direct_median_ms": round(m["direct"], 2), "gateway_median_ms": round(m["gateway"], 2)}
            for m in paired
        ],
        "requests_per_path": rounds * per_round,
        "error_examples": sorted(error_examples)[:3],
    }


def warm_up_workers(
    base_url: str,
    course_id: int,
    token_for: Callable[[], str],
    count: int = 8,
    questions: tuple[str, ...] = course_text.QUESTIONS,
) -> None:
    """`count` questions at once, twice, on connections of their own, so that every worker of
    the assistant has built the course's index (the first question of a snapshot does). Sent
    to the assistant itself: a cold build may take longer than the gateway's read timeout."""
    for _ in range(2):
        answers = _at_once(base_url, course_id, [token_for() for _ in range(count)], questions)
        failed = [answer.error for answer in answers if answer.error]
        if failed:
            raise RuntimeError(f"the assistant's warm-up failed: {failed[:3]}")


# --- 3. streams at once ------------------------------------------------------------------------


def measure_streams(
    gateway_url: str,
    course_id: int,
    token_for: Callable[[], str],
    provider,
    *,
    streams: int = STREAMS,
    rounds: int = 3,
    piece_seconds: float = STREAM_PIECE_SECONDS,
    answer: str = STREAM_ANSWER,
    watched: dict[str, int] | None = None,
    questions: tuple[str, ...] = course_text.QUESTIONS,
) -> dict:
    """`streams` students ask through the gateway at the same instant while the provider
    writes each answer slowly; per round: the answers that failed (not 200, cut off, no
    `done`), how many streams were open at the same moment, and how long all of them took.
    `watched` names gunicorn masters (name -> pid) whose threads and memory are sampled.
    Run it on warm workers (`warm_up_workers`)."""
    watch = ProcessWatch(watched or {})
    idle = watch.sample()
    measured = load.Measurement()
    figures = []
    for _ in range(rounds):
        provider.reset()
        provider.script_chat([answer] * streams, seconds_between_pieces=piece_seconds)
        tokens_now = [token_for() for _ in range(streams)]
        started = time.perf_counter()
        with watch:
            answers = _at_once(gateway_url, course_id, tokens_now, questions)
        measured.seconds += time.perf_counter() - started
        failed = [a for a in answers if a.error]
        for item in answers:
            if not item.error:
                measured.histogram[round((item.ended - item.started) * 1e6)] += 1
        measured.requests += len(answers) - len(failed)
        measured.error_kinds["status"] += len(failed)
        figures.append(
            {
                "streams": streams,
                "errors": len(failed),
                "error_examples": sorted({a.error for a in failed})[:3],
                "peak_open": peak_open(answers),
                "seconds": round(_span(answers), 2),
                "first_byte_p50_ms": round(statistics.median(a.ttfb_ms for a in answers), 1),
            }
        )
    provider.reset()
    return {
        "measurement": measured,
        "streams": streams,
        "answered": min(f["streams"] - f["errors"] for f in figures),
        "errors": sum(f["errors"] for f in figures),
        "peak_open": min(f["peak_open"] for f in figures),
        "seconds_median": statistics.median(f["seconds"] for f in figures),
        "seconds_spread": _spread([f["seconds"] for f in figures]),
        "piece_seconds": piece_seconds,
        "processes_idle": idle,
        "processes_peak": watch.peak,
        "rounds": figures,
    }


class ProcessWatch:
    """Threads and resident memory of gunicorn masters with their workers, sampled every
    `interval` seconds while the `with` block runs; `peak` keeps the highest of each."""

    def __init__(self, masters: dict[str, int], interval: float = 0.1):
        self.masters = masters
        self.interval = interval
        self.peak: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "threads": content.process_tree_status(pid, "Threads:"),
                "rss_mib": round(content.process_tree_status(pid, "VmRSS:") / 1024, 1),
            }
            for name, pid in self.masters.items()
        }

    def __enter__(self) -> "ProcessWatch":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for name, figures in self.sample().items():
                peak = self.peak.setdefault(name, dict(figures))
                for key, value in figures.items():
                    peak[key] = max(peak[key], value)


def _span(answers: list[Answer]) -> float:
    """Seconds from the first question asked to the last answer's end."""
    return max(a.ended for a in answers) - min(a.started for a in answers)


def peak_open(answers: list[Answer]) -> int:
    """The most streams open at one moment: from their first byte to their end."""
    edges = []
    for answer in answers:
        if answer.first_byte is not None and answer.error is None:
            edges += [(answer.first_byte, 1), (answer.ended, -1)]
    most = current = 0
    for _, step in sorted(edges):  # an end before a start at the same instant
        current += step
        most = max(most, current)
    return most


def _at_once(
    base_url: str, course_id: int, tokens_now: list[str], questions: tuple[str, ...]
) -> list[Answer]:
    """One question per token, each on a connection of its own, all released together."""
    answers: list[Answer | None] = [None] * len(tokens_now)
    barrier = threading.Barrier(len(tokens_now))

    def ask(index: int) -> None:
        asker = Asker(base_url)
        barrier.wait()
        started = time.perf_counter()
        try:
            answers[index] = asker.ask(course_id, questions[index % len(questions)],
                                       tokens_now[index])  # fmt: skip
        except Exception as failure:  # counted as a failed answer, never lost
            answers[index] = Answer(started, None, time.perf_counter(), None, repr(failure))
        finally:
            asker.close()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(tokens_now))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]


# --- figures -----------------------------------------------------------------------------------


def _round_figures(measured: load.Measurement) -> dict:
    return {"p50_ms": measured.percentile_ms(50), "p99_ms": measured.percentile_ms(99)}


def _spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"min": round(min(values), 3), "max": round(max(values), 3)}


def _quartiles(values: list[float]) -> dict | None:
    """The middle half of `values`: where the typical round fell."""
    if len(values) < 2:
        return None
    lower, _, upper = statistics.quantiles(values, n=4)
    return {"p25": round(lower, 3), "p75": round(upper, 3)}
