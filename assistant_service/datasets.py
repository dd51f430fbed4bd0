"""Datasets of fine-tuning examples: who may build them, examples written, imported and reviewed,
the split, the report and the export.

Every example is one conversation in Chat Completions format (a system message, the user turn as
the assistant sees it at inference, the ideal answer). Only approved examples are split,
reported on and exported; one chunk's examples always land in the same split, so a test question
never shares its passage with a training one.
"""

import hashlib
import json
import random
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service_kit import Conflict, Forbidden, InvalidInput, NotFound
from service_kit.auth import Principal
from service_kit.db import utcnow
from service_kit.permissions import ASSISTANT_BUILD, COURSES_ADMIN

from . import prompting, report, tokens
from .catalog import Course
from .models import Chunk, Dataset, Example, GenerationRun, Price, Snapshot
from .sources import get_snapshot

STATUSES = ("pending", "approved", "rejected")
ORIGINS = ("generated", "manual", "imported", "demo", "feedback")
KINDS = ("in_scope", "out_of_scope")
SPLITS = ("train", "validation", "test")
DEFAULT_SHARES = (80, 10, 10)
# One import: lines and bytes. A bigger dataset is imported in parts.
IMPORT_MAX_LINES = 20_000
IMPORT_MAX_BYTES = 50 * 1024 * 1024
# An example longer than this is refused outright (training truncates at 65,536 tokens; far
# beyond that it is a mistake, not an example).
EXAMPLE_MAX_CHARS = 400_000
FINE_TUNING_BASE_MODEL = "gpt-4o-mini-2024-07-18"
# Provider model names, fine-tuned ones too ("ft:gpt-4o-mini-2024-07-18:org:suffix:id").
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_builder(principal: Principal, course: Course) -> None:
    """Admins build for every course; teachers (assistant:build) for the courses they teach."""
    if principal.has(COURSES_ADMIN, ASSISTANT_BUILD):
        return
    if principal.has(ASSISTANT_BUILD) and principal.user_id in course.teacher_ids:
        return
    raise Forbidden("Only the course's teachers and admins build its assistant.")


# --- datasets ---------------------------------------------------------------------------------


def create_dataset(session: Session, snapshot: Snapshot, name: str, user_id: int) -> Dataset:
    dataset = Dataset(
        course_id=snapshot.course_id,
        snapshot_id=snapshot.id,
        name=name.strip(),
        created_by=user_id,
        split_seed=0,
        split_shares=list(DEFAULT_SHARES),
    )
    session.add(dataset)
    session.commit()
    return dataset


def list_datasets(session: Session, course_id: int) -> list[Dataset]:
    return list(
        session.scalars(
            select(Dataset).where(Dataset.course_id == course_id).order_by(Dataset.id.desc())
        )
    )


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("No such dataset.")
    return dataset


def counts(session: Session, dataset_id: int) -> dict[str, int]:
    """How many examples the dataset has by status, and in all."""
    rows = session.execute(
        select(Example.status, func.count())
        .where(Example.dataset_id == dataset_id)
        .group_by(Example.status)
    ).all()
    by_status = {status: 0 for status in STATUSES}
    by_status.update({status: count for status, count in rows})
    by_status["total"] = sum(by_status.values())
    return by_status


def delete_dataset(session: Session, dataset: Dataset) -> None:
    session.delete(dataset)
    session.commit()


def update_dataset(session: Session, dataset: Dataset, changes: dict) -> Dataset:
    """Rename a dataset and/or remember the example its reviewer stopped at (one of its own)."""
    if "review_position" in changes:
        _check_review_position(session, dataset, changes["review_position"])
        dataset.review_position = changes["review_position"]
    if "name" in changes:
        dataset.name = changes["name"].strip()
    session.commit()
    return dataset


def _check_review_position(session: Session, dataset: Dataset, example_id: int | None) -> None:
    if example_id is not None:
        example = session.get(Example, example_id)
        if example is None or example.dataset_id != dataset.id:
            raise InvalidInput(
                "The review position is not an example of this dataset.",
                {"review_position": [f"No example {example_id} in this dataset."]},
            )


# --- examples ---------------------------------------------------------------------------------


def fingerprint(messages: list[dict]) -> str:
    """The same conversation gives the same fingerprint, whatever its key order."""
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def format_problems(data: object) -> list[str]:
    """What is wrong with one example's format, in words (empty when it is fine)."""
    return [problem["message"] for problem in report.example_format_errors(data)]


def new_example(
    dataset: Dataset,
    messages: list[dict],
    *,
    origin: str,
    kind: str = "in_scope",
    status: str = "pending",
    chunk_id: int | None = None,
) -> Example:
    """An example for `dataset` (not yet added to a session); InvalidInput when malformed."""
    problems = format_problems({"messages": messages})
    if problems:
        raise InvalidInput("The example is not a valid conversation.", {"messages": problems})
    return Example(
        dataset_id=dataset.id,
        origin=origin,
        kind=kind,
        status=status,
        chunk_id=chunk_id,
        messages=messages,
        fingerprint=fingerprint(messages),
        tokens=tokens.count_messages(messages),
    )


def write_example(
    session: Session,
    dataset: Dataset,
    question: str,
    answer: str,
    chunk_ids: list[int],
    *,
    kind: str = "in_scope",
) -> Example:
    """A teacher's own example: their question and answer over passages of the dataset's
    snapshot, in the order given (the answer cites them as [1], [2], ...)."""
    snapshot = get_snapshot(session, dataset.snapshot_id)
    passages = _passages(session, snapshot, chunk_ids)
    cited = prompting.citations(answer)
    beyond = [number for number in cited if number > len(passages)]
    if beyond:
        raise InvalidInput(
            "The answer cites sources that are not given.",
            {"answer": [f"There is no source [{number}]." for number in beyond]},
        )
    messages = prompting.conversation(snapshot.course_name, question, passages, answer)
    example = new_example(
        dataset,
        messages,
        origin="manual",
        kind=kind,
        status="approved",  # written by the teacher: reviewed by its author
        chunk_id=chunk_ids[0] if chunk_ids else None,
    )
    session.add(example)
    _touch(dataset)
    session.commit()
    return example


def _passages(session: Session, snapshot: Snapshot, chunk_ids: list[int]) -> list:
    sources = {source.text_sha256: source for source in snapshot.sources}
    chunks = {
        chunk.id: chunk
        for chunk in session.scalars(select(Chunk).where(Chunk.id.in_(chunk_ids or [-1])))
    }
    passages = []
    for chunk_id in chunk_ids:
        chunk = chunks.get(chunk_id)
        if chunk is None or chunk.text_sha256 not in sources:
            raise InvalidInput(
                "A source is not a passage of this dataset's materials.",
                {"chunk_ids": [f"No passage {chunk_id} in this dataset's snapshot."]},
            )
        material = sources[chunk.text_sha256]
        passages.append(prompting.Source(material.material_id, material.title, chunk.content))
    return passages


def get_example(session: Session, example_id: int) -> Example:
    example = session.get(Example, example_id)
    if example is None:
        raise NotFound("No such example.")
    return example


def list_examples(
    session: Session,
    dataset_id: int,
    *,
    status: str | None = None,
    split: str | None = None,
    origin: str | None = None,
):
    """The dataset's examples in review order (oldest first), as a query to paginate."""
    query = select(Example).where(Example.dataset_id == dataset_id)
    if status:
        query = query.where(Example.status == status)
    if split:
        query = query.where(Example.split == split)
    if origin:
        query = query.where(Example.origin == origin)
    return query.order_by(Example.id)


def update_example(session: Session, example: Example, changes: dict) -> Example:
    """Change an example's review status, kind, or conversation (an edited answer)."""
    if "messages" in changes:
        edited = new_example(
            get_dataset(session, example.dataset_id), changes["messages"], origin=example.origin
        )
        example.messages, example.fingerprint = edited.messages, edited.fingerprint
        example.tokens = edited.tokens
    if "answer" in changes:
        messages = [dict(message) for message in example.messages]
        last = next(
            (m for m in reversed(messages) if m.get("role") == "assistant"),
            None,
        )
        if last is None:
            raise InvalidInput("The example has no answer to edit.")
        last["content"] = changes["answer"].strip()
        return update_example(
            session, example, {**_without(changes, "answer"), "messages": messages}
        )
    if "status" in changes:
        example.status = changes["status"]
    if "kind" in changes:
        example.kind = changes["kind"]
    example.updated_at = utcnow()
    _touch(session.get(Dataset, example.dataset_id))
    session.commit()
    return example


def _without(changes: dict, key: str) -> dict:
    return {name: value for name, value in changes.items() if name != key}


def review_many(session: Session, dataset: Dataset, example_ids: list[int], status: str) -> int:
    """Set the status of several examples of `dataset` at once; returns how many changed."""
    result = session.execute(
        update(Example)
        .where(Example.dataset_id == dataset.id, Example.id.in_(example_ids))
        .values(status=status, updated_at=utcnow())
    )
    _touch(dataset)
    session.commit()
    return result.rowcount


def delete_example(session: Session, example: Example) -> None:
    session.delete(example)
    session.commit()


def _touch(dataset: Dataset | None) -> None:
    if dataset is not None:
        dataset.updated_at = utcnow()


# --- import -----------------------------------------------------------------------------------


def import_jsonl(session: Session, dataset: Dataset, lines: Iterable[bytes]) -> int:
    """Add every line of a JSONL file as a pending example, or none at all: any bad line makes
    an InvalidInput whose `errors` name each bad line and what is wrong with it."""
    examples: list[Example] = []
    errors: dict[str, list[str]] = {}
    for number, raw in enumerate(lines, start=1):
        if number > IMPORT_MAX_LINES:
            errors["file"] = [f"More than {IMPORT_MAX_LINES} lines; import the file in parts."]
            break
        problems, data = _parse_line(raw)
        if not problems and data is not None:
            problems = format_problems(data)
        if problems:
            errors[f"line {number}"] = problems
            if len(errors) >= 100:
                errors["file"] = ["Too many bad lines; only the first 100 are listed."]
                break
            continue
        if data is not None:
            examples.append(new_example(dataset, data["messages"], origin="imported"))
    if errors:
        raise InvalidInput(
            "The file has lines that are not valid examples; nothing was imported.", errors
        )
    if not examples:
        raise InvalidInput("The file holds no examples.")
    session.add_all(examples)
    _touch(dataset)
    session.commit()
    return len(examples)


def _parse_line(raw: bytes) -> tuple[list[str], dict | None]:
    if not raw.strip():
        return [], None  # blank lines are allowed, as in OpenAI's files
    if len(raw) > EXAMPLE_MAX_CHARS * 4:
        return [f"The example is longer than {EXAMPLE_MAX_CHARS:,} characters."], None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ["The line is not UTF-8 text."], None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return ["The line is not valid JSON."], None
    if isinstance(data, dict) and len(text) > EXAMPLE_MAX_CHARS:
        return [f"The example is longer than {EXAMPLE_MAX_CHARS:,} characters."], None
    return [], data


# --- split, report, export --------------------------------------------------------------------


def split_dataset(
    session: Session, dataset: Dataset, *, seed: int, shares: tuple[int, int, int]
) -> dict[str, int]:
    """Assign every approved example to train / validation / test: whole chunks at a time,
    shuffled by `seed`, filling each split up to its share. Returns the counts per split."""
    approved = list(
        session.scalars(
            select(Example)
            .where(Example.dataset_id == dataset.id, Example.status == "approved")
            .order_by(Example.id)
        )
    )
    groups: dict[str, list[Example]] = {}
    for example in approved:
        key = f"chunk-{example.chunk_id}" if example.chunk_id else f"example-{example.id}"
        groups.setdefault(key, []).append(example)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    total = len(approved)
    targets = {name: total * share / 100 for name, share in zip(SPLITS, shares, strict=True)}
    assigned = {name: 0 for name in SPLITS}
    for key in keys:
        # The split furthest below its target takes the next group (test and validation first
        # on a tie, so small datasets still hold some out).
        name = max(
            reversed(SPLITS),
            key=lambda split: (
                (targets[split] - assigned[split]) / max(targets[split], 1e-9)
                if targets[split]
                else float("-inf")
            ),
        )
        for example in groups[key]:
            example.split = name
        assigned[name] += len(groups[key])
    session.execute(
        update(Example)
        .where(Example.dataset_id == dataset.id, Example.status != "approved")
        .values(split=None)
    )
    dataset.split_seed, dataset.split_shares = seed, list(shares)
    _touch(dataset)
    session.commit()
    return assigned


def prices(session: Session, model: str = FINE_TUNING_BASE_MODEL) -> dict[str, float]:
    price = session.get(Price, model)
    if price is None:
        return dict(report.DEFAULT_PRICES)
    return {
        "training": float(price.training or 0),
        "input": float(price.input),
        "cached_input": float(price.cached_input),
        "output": float(price.output),
    }


def list_prices(session: Session) -> list[Price]:
    return list(session.scalars(select(Price).order_by(Price.model)))


def set_price(session: Session, model: str, values: dict) -> Price:
    """Create or update one model's prices (USD per 1M tokens)."""
    if not MODEL_NAME.fullmatch(model):
        raise InvalidInput(
            "Not a model name.",
            {"model": ["Letters, digits and . _ : - only, up to 128 characters."]},
        )
    price = session.get(Price, model) or Price(model=model)
    for name in ("training", "input", "cached_input", "output"):
        if name in values:
            value = values[name]
            setattr(price, name, None if value is None else Decimal(str(value)))
    price.updated_at = utcnow()
    session.add(price)
    session.commit()
    return price


def dataset_report(session: Session, dataset: Dataset) -> dict:
    """The validation report of the approved examples, as split now."""
    approved = session.execute(
        select(Example.id, Example.split, Example.messages)
        .where(Example.dataset_id == dataset.id, Example.status == "approved")
        .order_by(Example.id)
    ).all()
    unsplit = sum(1 for row in approved if row.split is None)
    inputs = [
        report.ReportInput(id=row.id, split=row.split or "train", data={"messages": row.messages})
        for row in approved
    ]
    built = report.as_dict(report.build_report(inputs, prices(session)))
    built["unsplit"] = unsplit
    return built


def export_lines(session: Session, dataset: Dataset, split: str) -> Iterator[str]:
    """The approved examples of one split as JSONL lines (UTF-8 text, not \\u escapes)."""
    query = (
        select(Example.messages)
        .where(
            Example.dataset_id == dataset.id,
            Example.status == "approved",
            Example.split == split,
        )
        .order_by(Example.id)
        .execution_options(yield_per=500)
    )
    for messages in session.scalars(query):
        yield json.dumps({"messages": messages}, ensure_ascii=False, separators=(",", ":")) + "\n"


def ensure_no_running_generation(session: Session, dataset: Dataset) -> None:
    """Conflict while a generation run of the dataset is queued or running."""
    running = session.scalar(
        select(func.count())
        .select_from(GenerationRun)
        .where(
            GenerationRun.dataset_id == dataset.id,
            GenerationRun.status.in_(("queued", "running")),
        )
    )
    if running:
        raise Conflict("Examples are being generated for this dataset; wait or cancel first.")
