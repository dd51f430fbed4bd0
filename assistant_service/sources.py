"""A course's text-bearing materials, snapshotted from the catalog with their sha256.

A snapshot records which materials held which text at one moment; a dataset is built from one
snapshot, so it can be rebuilt exactly. Texts are stored once by hash and chunked once, so a
snapshot of an unchanged course costs a few rows. Comparing the newest snapshot with the catalog
tells the teacher which materials changed since.
"""

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service_kit import Conflict, NotFound

from . import chunking, tokens
from .catalog import Catalog
from .models import Chunk, Snapshot, SnapshotSource, SourceText

# Text that reads like an instruction to a model rather than teaching material. It is quoted as
# data whatever it says; the teacher is shown the lines so they can decide.
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)"
    r"\s+(instructions|rules|prompts?)"
    r"|(игнорируй|проигнорируй|забудь|отбрось)\s+(все\s+)?(предыдущие\s+|прежние\s+)?"
    r"(инструкции|указания|правила)"
    r"|\b(system prompt|системн\w+ промпт\w*)\b"
    r"|\byou are now\b|\bты теперь\b",
    re.IGNORECASE,
)
WARNING_LINE_CHARS = 200


@dataclass(frozen=True)
class SourceChange:
    material_id: int
    title: str
    change: str  # added | changed | removed | unchanged


def injection_warnings(text: str) -> list[dict]:
    """The lines of `text` that look like instructions to a model: [{line, text}]."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _INJECTION.search(line):
            found.append({"line": number, "text": line.strip()[:WARNING_LINE_CHARS]})
    return found


def store_text(session: Session, text: str) -> SourceText:
    """The stored text with this content, chunked; created on first sight."""
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    stored = session.get(SourceText, sha256)
    if stored is not None:
        return stored
    stored = SourceText(sha256=sha256, text=text, chars=len(text), tokens=tokens.count(text))
    session.add(stored)
    session.flush()  # the text before its chunks (no ORM relationship orders them)
    for piece in chunking.chunk_text(text):
        session.add(
            Chunk(
                text_sha256=sha256,
                position=piece.index,
                heading=piece.heading,
                content=piece.text,
                tokens=piece.tokens,
            )
        )
    session.flush()
    return stored


def take_snapshot(session: Session, catalog: Catalog, course_id: int, user_id: int) -> Snapshot:
    """Read every material of the course that stores text, and record them as a snapshot."""
    course = catalog.course(course_id)
    snapshot = Snapshot(course_id=course_id, course_name=course.name, created_by=user_id)
    session.add(snapshot)
    session.flush()
    position = 0
    for material in catalog.materials(course_id):
        if not material.has_text:
            continue
        served = catalog.material_text(course_id, material.id)
        if served is None or not served.text.strip():
            continue  # gone or emptied between the two calls
        stored = store_text(session, served.text)
        session.add(
            SnapshotSource(
                snapshot_id=snapshot.id,
                position=position,
                material_id=material.id,
                title=material.title,
                material_type_code=material.material_type_code,
                lesson_number=material.lesson_number,
                text_sha256=stored.sha256,
                warnings=injection_warnings(served.text),
            )
        )
        position += 1
    if position == 0:
        session.rollback()
        raise Conflict("No material of this course stores text yet: add a body or a file first.")
    session.commit()
    session.refresh(snapshot)
    return snapshot


def latest_snapshot(session: Session, course_id: int) -> Snapshot | None:
    return session.scalars(
        select(Snapshot).where(Snapshot.course_id == course_id).order_by(Snapshot.id.desc())
    ).first()


def get_snapshot(session: Session, snapshot_id: int, course_id: int | None = None) -> Snapshot:
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or (course_id is not None and snapshot.course_id != course_id):
        raise NotFound("No such snapshot.")
    return snapshot


def changes_since(
    catalog: Catalog, snapshot: Snapshot | None, course_id: int
) -> list[SourceChange]:
    """How the catalog's text-bearing materials differ from `snapshot` (all added if none)."""
    before = {source.material_id: source for source in (snapshot.sources if snapshot else [])}
    changes = []
    for material in catalog.materials(course_id):
        if not material.has_text:
            continue
        served = catalog.material_text(course_id, material.id)
        if served is None:
            continue
        previous = before.pop(material.id, None)
        if previous is None:
            change = "added"
        elif previous.text_sha256 != served.sha256:
            change = "changed"
        else:
            change = "unchanged"
        changes.append(SourceChange(material.id, material.title, change))
    changes.extend(
        SourceChange(gone.material_id, gone.title, "removed") for gone in before.values()
    )
    return changes


def snapshot_chunks(session: Session, snapshot: Snapshot) -> list[tuple[SnapshotSource, Chunk]]:
    """Every chunk of the snapshot with the material it belongs to, in reading order."""
    texts = {source.text_sha256 for source in snapshot.sources}
    by_text: dict[str, list[Chunk]] = {sha256: [] for sha256 in texts}
    for chunk in session.scalars(
        select(Chunk).where(Chunk.text_sha256.in_(texts)).order_by(Chunk.position)
    ):
        by_text[chunk.text_sha256].append(chunk)
    return [(source, chunk) for source in snapshot.sources for chunk in by_text[source.text_sha256]]
