"""Students ask a course's assistant: retrieval over the course's passages, the answer streamed.

The question goes with the best passages of the course's newest snapshot (BM25 over Snowball
stems, strictly this course) quoted as numbered sources, in exactly the user turn the datasets
train on (prompting.py). The answer streams as Server-Sent Events: `sources` first, then `delta`
pieces, then `done` with the stored answer, whose citations are resolved to the course's
materials and whose citations of sources that were not given are dropped; a comment line keeps
the stream alive while the model thinks. Limits come first: the assistant switched off, a
per-user rate and daily token cap, and the course's monthly budget, from which each answer
reserves its worst case before the call and settles the real cost from the response's usage —
so concurrent askers together never exceed it.
"""

import json
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openai
from sqlalchemy import String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service_kit import DomainError, NotFound, UpstreamUnavailable
from service_kit.db import Database, utcnow

from . import datasets, pricing, prompting, sources, tokens
from .catalog import Catalog
from .generation import Provider, describe, needs_key
from .models import (
    ChatMessage,
    Chunk,
    Conversation,
    CourseSettings,
    CourseSpend,
    Evaluation,
    Example,
    FineTuningJob,
    GenerationRun,
    Snapshot,
)
from .retrieval import Index, Passage

log = logging.getLogger(__name__)

SOURCES_PER_ANSWER = 5
MAX_ANSWER_TOKENS = 800
HEARTBEAT_SECONDS = 2.0
CHAT_NO_KEY = needs_key("Answering students")


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class AssistantOff(DomainError):
    status = 503
    retry_after = 60


@dataclass(frozen=True)
class Limits:
    enabled: bool
    per_minute: int
    daily_tokens: int

    @classmethod
    def from_config(cls, config: dict) -> "Limits":
        return cls(
            enabled=config["ASSISTANT_CHAT_ENABLED"],
            per_minute=config["ASSISTANT_RATE_PER_MINUTE"],
            daily_tokens=config["ASSISTANT_DAILY_TOKENS"],
        )


# --- retrieval ---------------------------------------------------------------------------------


# Where a chunk comes from: its material's id and title, and the headings it falls under.
ChunkSource = tuple[int, str, str]


class IndexCache:
    """BM25 indexes of snapshots' passages, built once per snapshot and kept (a few, LRU).

    A new snapshot, or a worker just started, may meet a burst of questions at once: one of them
    builds the index and the others wait for it, instead of each building its own (over 5,000
    chunks a build takes about a second of CPU; when fifty students asking a cold worker each
    built one, all under one GIL, every one of them waited past the gateway's 5 s timeout).
    What is kept is plain data (an Index of arrays and strings, tuples of ids and titles), not
    ORM objects: nothing of a request's session outlives it, and the garbage collector has
    almost nothing to scan.
    """

    def __init__(self, size: int = 32):
        self.size = size
        self._indexes: OrderedDict[int, tuple[Index, dict[int, ChunkSource]]] = OrderedDict()
        self._building: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, snapshot: Snapshot) -> tuple[Index, dict[int, ChunkSource]]:
        """The snapshot's index, and each chunk's (material id, title, heading) by chunk id."""
        with self._lock:
            built = self._cached(snapshot.id)
            if built is not None:
                return built
            building = self._building.setdefault(snapshot.id, threading.Lock())
        with building:
            with self._lock:
                built = self._cached(snapshot.id)
            if built is not None:  # built by the question this one waited for
                return built
            try:
                built = _build_index(session, snapshot)
                with self._lock:
                    self._indexes[snapshot.id] = built
                    while len(self._indexes) > self.size:
                        self._indexes.popitem(last=False)
            finally:
                with self._lock:
                    self._building.pop(snapshot.id, None)
        return built

    def _cached(self, snapshot_id: int) -> tuple[Index, dict[int, ChunkSource]] | None:
        built = self._indexes.get(snapshot_id)
        if built is not None:
            self._indexes.move_to_end(snapshot_id)
        return built


def _build_index(session: Session, snapshot: Snapshot) -> tuple[Index, dict[int, ChunkSource]]:
    pairs = sources.snapshot_chunks(session, snapshot)
    index = Index([Passage(chunk.id, chunk.content) for _, chunk in pairs])
    chunk_sources = {
        chunk.id: (material.material_id, material.title, chunk.heading) for material, chunk in pairs
    }
    return index, chunk_sources


def retrieve(
    session: Session, index_cache: IndexCache, snapshot: Snapshot, question: str
) -> list[dict]:
    """The passages that best answer `question`, numbered as the model will see them."""
    index, chunk_sources = index_cache.get(session, snapshot)
    found = []
    for number, (passage, _score) in enumerate(index.search(question, SOURCES_PER_ANSWER), 1):
        material_id, title, heading = chunk_sources[passage.id]
        found.append(
            {
                "n": number,
                "material_id": material_id,
                "title": title,
                "heading": heading,
                "chunk_id": passage.id,
                "text": passage.text,
            }
        )
    return found


# --- limits and spend --------------------------------------------------------------------------


def check_limits(session: Session, limits: Limits, settings: CourseSettings, user_id: int):
    if not limits.enabled or not settings.chat_enabled:
        raise AssistantOff("The course assistant is switched off for now.")
    minute_ago = utcnow() - timedelta(minutes=1)
    recent = session.scalar(
        select(func.count())
        .select_from(ChatMessage)
        .where(
            ChatMessage.user_id == user_id,
            ChatMessage.role == "user",
            ChatMessage.created_at >= minute_ago,
        )
    )
    if recent >= limits.per_minute:
        raise TooManyRequests(
            f"At most {limits.per_minute} questions a minute; wait a little.", retry_after=60
        )
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = session.scalar(
        select(
            func.coalesce(func.sum(ChatMessage.prompt_tokens + ChatMessage.completion_tokens), 0)
        ).where(ChatMessage.user_id == user_id, ChatMessage.created_at >= midnight)
    )
    if used >= limits.daily_tokens:
        seconds = int((midnight + timedelta(days=1) - now).total_seconds()) + 1
        raise TooManyRequests(
            "Today's share of the assistant is used up; it renews at midnight (UTC).",
            retry_after=seconds,
        )


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def reserve(session: Session, settings: CourseSettings, amount: Decimal) -> str | None:
    """Set `amount` aside from the course's monthly budget, atomically; TooManyRequests when it
    does not fit. Returns the month it was reserved in (None: no budget, nothing reserved)."""
    budget = settings.monthly_chat_budget_usd
    if budget is None:
        return None
    month = month_of(utcnow())
    _ensure_spend_row(session, settings.course_id, month)
    granted = session.execute(
        update(CourseSpend)
        .where(
            CourseSpend.course_id == settings.course_id,
            CourseSpend.month == month,
            CourseSpend.spent_usd + CourseSpend.reserved_usd + amount <= budget,
        )
        .values(reserved_usd=CourseSpend.reserved_usd + amount)
    ).rowcount
    session.commit()
    if not granted:
        raise TooManyRequests(
            "This course's assistant has used its budget for the month.", retry_after=3600
        )
    return month


def _ensure_spend_row(session: Session, course_id: int, month: str) -> None:
    if session.get(CourseSpend, (course_id, month)) is None:
        session.add(CourseSpend(course_id=course_id, month=month))
        try:
            session.commit()
        except IntegrityError:  # created at this instant by another asker
            session.rollback()


def spent_this_month(session: Session, course_id: int) -> Decimal:
    row = session.get(CourseSpend, (course_id, month_of(utcnow())))
    return row.spent_usd if row is not None else Decimal(0)


def settle(
    session: Session, course_id: int, month: str | None, reserved: Decimal, cost: Decimal
) -> None:
    """Replace a reservation by the real cost (or record the cost where there is no budget)."""
    month = month or month_of(utcnow())
    _ensure_spend_row(session, course_id, month)
    session.execute(
        update(CourseSpend)
        .where(CourseSpend.course_id == course_id, CourseSpend.month == month)
        .values(
            reserved_usd=CourseSpend.reserved_usd - reserved,
            spent_usd=CourseSpend.spent_usd + cost,
        )
    )
    session.commit()


# --- asking ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything a streamed answer needs, decided before the response starts."""

    conversation: Conversation
    question: ChatMessage
    sources: list[dict]
    messages: list[dict]
    model: str
    month: str | None
    reserved: Decimal
    prices: pricing.Prices


def prepare(
    session: Session,
    catalog: Catalog,
    index_cache: IndexCache,
    provider: Provider,
    limits: Limits,
    *,
    base_model: str,
    course_id: int,
    user_id: int,
    question: str,
    conversation_id: int | None,
) -> Prepared:
    """Check the limits, retrieve the sources, store the question and reserve the spend."""
    course = catalog.course(course_id)
    if not provider.configured:
        raise AssistantOff(CHAT_NO_KEY)
    settings = session.get(CourseSettings, course_id) or CourseSettings(
        course_id=course_id, chat_enabled=True
    )
    check_limits(session, limits, settings, user_id)
    snapshot = sources.latest_snapshot(session, course_id) or sources.take_snapshot(
        session, catalog, course_id, user_id
    )
    found = retrieve(session, index_cache, snapshot, question)
    passages = [prompting.Source(s["material_id"], s["title"], s["text"]) for s in found]
    messages = prompting.conversation(course.name, question, passages)
    model = settings.chat_model or base_model
    prices = pricing.prices_for(session, model)
    worst = pricing.cost_of(
        prices, pricing.Usage(prompt=tokens.count_messages(messages), completion=MAX_ANSWER_TOKENS)
    )
    # Reserved before the question is stored, so a question the budget refuses leaves no
    # conversation behind; without a budget nothing is set aside and settling gives nothing back.
    month = reserve(session, settings, worst)
    reserved = worst if month is not None else Decimal(0)
    try:
        conversation = _conversation(session, user_id, course_id, conversation_id, question)
        asked = ChatMessage(
            conversation_id=conversation.id, user_id=user_id, role="user", content=question.strip()
        )
        session.add(asked)
        conversation.updated_at = utcnow()
        session.commit()
    except Exception:
        session.rollback()
        settle(session, course_id, month, reserved, Decimal(0))
        raise
    public = [
        {key: s[key] for key in ("n", "material_id", "title", "heading", "chunk_id")} for s in found
    ]
    return Prepared(conversation, asked, public, messages, model, month, reserved, prices)


def _conversation(
    session: Session, user_id: int, course_id: int, conversation_id: int | None, question: str
) -> Conversation:
    if conversation_id is not None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.user_id != user_id:
            raise NotFound("No such conversation.")  # another's is as absent as a missing one
        if conversation.course_id != course_id:
            raise NotFound("No such conversation in this course.")
        return conversation
    conversation = Conversation(user_id=user_id, course_id=course_id, title=question.strip()[:80])
    session.add(conversation)
    session.flush()
    return conversation


def open_stream(session: Session, client: openai.OpenAI, prepared: Prepared):
    """Start the model's streamed answer; a provider that refuses or is down is a 503 now,
    before any byte of the response is sent, and the reservation is given back."""
    try:
        return client.chat.completions.create(
            model=prepared.model,
            messages=prepared.messages,
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=MAX_ANSWER_TOKENS,
            temperature=0.2,
        )
    except openai.APIError as error:
        course_id = prepared.conversation.course_id
        settle(session, course_id, prepared.month, prepared.reserved, Decimal(0))
        raise UpstreamUnavailable(describe(error)) from error


def events(database: Database, prepared: Prepared, stream) -> Iterator[str]:
    """The answer as Server-Sent Events; stores it and settles the spend when it ends."""
    yield _event("sources", {"conversation_id": prepared.conversation.id,
                             "sources": prepared.sources})  # fmt: skip
    pieces: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read, args=(stream, pieces), daemon=True)
    reader.start()
    text, usage, failure = [], None, None
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                yield ": thinking\n\n"  # keeps proxies and the gateway's read timeout content
                continue
            if kind == "delta":
                text.append(value)
                yield _event("delta", {"text": value})
            elif kind == "usage":
                usage = value
            elif kind == "error":
                failure = value
                break
            else:
                break
    finally:
        stream.close()  # the client left, or the answer is complete
        answer = _finish(database, prepared, "".join(text), usage, failure)
    if failure:
        yield _event("error", {"message": failure})
    else:
        yield _event("done", answer)


def _read(stream, pieces: queue.Queue) -> None:
    try:
        for chunk in stream:
            if chunk.usage is not None:
                pieces.put(("usage", chunk.usage))
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    pieces.put(("delta", choice.delta.content))
        pieces.put(("end", None))
    except openai.APIError as error:
        pieces.put(("error", describe(error)))
    except Exception as error:  # a dropped connection mid-stream, after the client left, ...
        pieces.put(("error", f"The answer was cut off: {type(error).__name__}."))


def _finish(database: Database, prepared: Prepared, text: str, usage, failure) -> dict:
    answer, cited = prompting.keep_given(text, len(prepared.sources))
    if usage is not None:
        used = pricing.Usage.of(usage)
    else:  # cut off before the usage chunk: count what was sent and received
        used = pricing.Usage(
            prompt=tokens.count_messages(prepared.messages), completion=tokens.count(text)
        )
    prompt, completion = used.prompt, used.completion
    cost = pricing.cost_of(prepared.prices, used)
    with database.session() as session:
        settle(session, prepared.conversation.course_id, prepared.month, prepared.reserved, cost)
        if failure and not answer:
            return {}
        stored = ChatMessage(
            conversation_id=prepared.conversation.id,
            user_id=prepared.conversation.user_id,
            role="assistant",
            content=answer,
            sources=prepared.sources,
            citations=cited,
            model=prepared.model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
        )
        session.add(stored)
        session.commit()
        return {
            "message_id": stored.id,
            "answer": answer,
            "citations": [prepared.sources[n - 1] for n in cited],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        }


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


# --- conversations and feedback ----------------------------------------------------------------


def list_conversations(session: Session, user_id: int, course_id: int | None = None):
    query = select(Conversation).where(Conversation.user_id == user_id)
    if course_id is not None:
        query = query.where(Conversation.course_id == course_id)
    return list(session.scalars(query.order_by(Conversation.updated_at.desc())))


def own_conversation(session: Session, user_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise NotFound("No such conversation.")
    return conversation


def delete_conversation(session: Session, conversation: Conversation) -> None:
    session.delete(conversation)
    session.commit()


def give_feedback(
    session: Session, user_id: int, message_id: int, rating: int, comment: str | None
) -> ChatMessage:
    message = session.get(ChatMessage, message_id)
    if message is None or message.user_id != user_id or message.role != "assistant":
        raise NotFound("No such answer.")
    message.feedback, message.feedback_comment = rating, (comment or None)
    session.commit()
    return message


def feedback_to_examples(session: Session, dataset, limit: int = 200) -> int:
    """Answers of the dataset's course with feedback become pending examples to review: the
    question, the sources it was given and the answer (a 👎's comment is the reviewer's cue)."""
    rated = session.scalars(
        select(ChatMessage)
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(Conversation.course_id == dataset.course_id, ChatMessage.feedback.is_not(None))
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    ).all()
    added = 0
    known = set(
        session.scalars(select(Example.fingerprint).where(Example.dataset_id == dataset.id))
    )
    snapshot = sources.get_snapshot(session, dataset.snapshot_id)
    for answer in rated:
        question = session.scalar(
            select(ChatMessage)
            .where(
                ChatMessage.conversation_id == answer.conversation_id,
                ChatMessage.role == "user",
                ChatMessage.id < answer.id,
            )
            .order_by(ChatMessage.id.desc())
        )
        if question is None:
            continue
        chunk_texts = _chunk_texts(session, [s.get("chunk_id") for s in answer.sources])
        passages = [
            prompting.Source(s["material_id"], s["title"], chunk_texts.get(s.get("chunk_id"), ""))
            for s in answer.sources
        ]
        messages = prompting.conversation(
            snapshot.course_name, question.content, passages, answer.content
        )
        example = datasets.new_example(dataset, messages, origin="feedback")
        if example.fingerprint in known:
            continue
        known.add(example.fingerprint)
        session.add(example)
        added += 1
    session.commit()
    return added


def _chunk_texts(session: Session, chunk_ids: list) -> dict[int, str]:
    ids = [chunk_id for chunk_id in chunk_ids if isinstance(chunk_id, int)]
    return {
        chunk.id: chunk.content
        for chunk in session.scalars(select(Chunk).where(Chunk.id.in_(ids or [-1])))
    }


def usage(session: Session, course_id: int) -> dict:
    """What the course's assistant has used: the chat by month (answers, tokens, spend) and what
    building it cost (generation, fine-tuning, evaluation)."""
    month = func.substr(func.cast(ChatMessage.created_at, String), 1, 7)
    rows = session.execute(
        select(
            month.label("month"),
            func.count(),
            func.coalesce(func.sum(ChatMessage.prompt_tokens), 0),
            func.coalesce(func.sum(ChatMessage.completion_tokens), 0),
            func.coalesce(func.sum(ChatMessage.cost_usd), 0),
        )
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(Conversation.course_id == course_id, ChatMessage.role == "assistant")
        .group_by(month)
        .order_by(month.desc())
    ).all()
    by_month = [
        {"month": m, "answers": n, "prompt_tokens": int(p), "completion_tokens": int(c),
         "cost_usd": float(cost)}
        for m, n, p, c, cost in rows
    ]  # fmt: skip
    generation = session.scalar(
        select(func.coalesce(func.sum(GenerationRun.cost_usd), 0))
        .join(datasets.Dataset, datasets.Dataset.id == GenerationRun.dataset_id)
        .where(datasets.Dataset.course_id == course_id)
    )
    tuning = session.scalar(
        select(func.coalesce(func.sum(FineTuningJob.cost_usd), 0)).where(
            FineTuningJob.course_id == course_id
        )
    )
    evaluating = session.scalar(
        select(func.coalesce(func.sum(Evaluation.cost_usd), 0)).where(
            Evaluation.course_id == course_id
        )
    )
    this_month = session.get(CourseSpend, (course_id, month_of(utcnow())))
    return {
        "course_id": course_id,
        "chat_by_month": by_month,
        "chat_this_month": {
            "spent_usd": float(this_month.spent_usd) if this_month else 0.0,
            "reserved_usd": float(this_month.reserved_usd) if this_month else 0.0,
        },
        "generation_usd": float(generation or 0),
        "fine_tuning_usd": float(tuning or 0),
        "evaluation_usd": float(evaluating or 0),
    }
