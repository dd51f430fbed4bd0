"""A material's content beyond its fields: one uploaded file and the text taken from it.

The order of an upload is what keeps storage and database in step:
1. the file is complete (the request body was read to its end) and its kind is sniffed;
2. its sha256 is recorded in `stored_files` and committed, *then* the object is written;
3. the material is pointed at it in the transaction that bumps the catalog version.
A failure after 2 leaves an object no material points at; the sweep removes such objects once
they are older than any upload in flight. Objects are never deleted inline: the same content may
be on its way to another material at that moment.
"""

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service_kit import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from service_kit.auth import Principal
from service_kit.db import utcnow

from . import search, services
from .extraction import ExtractionFailed, extract_bounded
from .files import RejectedFile, safe_file_name, sniff
from .models import Material, StoredFile
from .storage import CHUNK, FileStorage

log = logging.getLogger(__name__)

# An object younger than this may belong to an upload still in flight; the sweep leaves it.
SWEEP_GRACE = timedelta(minutes=15)
# A material still "pending" after this lost its task (a worker died): it is queued again
# (TEXT_PENDING_RETRY_AFTER).
PENDING_RETRY_AFTER = timedelta(minutes=10)
# Deleted courses and materials stay in the recycle bin this long (CATALOG_RECYCLE_DAYS).
RECYCLE_DAYS = 30

TextQueue = Callable[[int], None]


# --- upload, replace, remove ----------------------------------------------------------------


def attach_file(
    session: Session,
    storage: FileStorage,
    editor: Principal,
    course_id: int,
    material_id: int,
    upload: BinaryIO,
    name: str | None,
    *,
    max_bytes: int,
    queue_text: TextQueue,
) -> Material:
    """Store `upload` as the material's file (replacing any), and queue its text extraction."""
    services.editable_material(session, editor, course_id, material_id)
    sha256, size = _digest(upload)
    if size == 0:
        raise InvalidInput("The file is empty.", {"file": ["The file is empty."]})
    if size > max_bytes:
        raise PayloadTooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MiB.")
    try:
        kind = sniff(upload, name or "")
    except RejectedFile as error:
        raise UnsupportedMediaType(error.message) from error

    _record_stored_file(session, sha256, size)
    upload.seek(0)
    storage.put(sha256, upload, kind.content_type)

    material = services.get_material(session, course_id, material_id)
    material.file_sha256 = sha256
    material.file_name = safe_file_name(name, kind)
    material.file_size = size
    material.file_kind = kind.code
    material.file_content_type = kind.content_type
    material.text_status = "pending" if kind.extractable else "none"
    material.text_error = None
    material.extracted_text = None
    services.reindex_material(session, material)
    material.updated_at = utcnow()
    services.commit_change(session)
    if kind.extractable:
        queue_text(material.id)
    return material


def remove_file(session: Session, editor: Principal, course_id: int, material_id: int) -> None:
    """Detach the material's file (its object goes with the next sweep if nothing else uses it)."""
    material = services.editable_material(session, editor, course_id, material_id)
    if material.file_sha256 is None:
        return
    for column in ("file_sha256", "file_name", "file_size", "file_kind", "file_content_type"):
        setattr(material, column, None)
    material.text_status, material.text_error, material.extracted_text = "none", None, None
    services.reindex_material(session, material)
    material.updated_at = utcnow()
    services.commit_change(session)


def _digest(upload: BinaryIO) -> tuple[str, int]:
    upload.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := upload.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _record_stored_file(session: Session, sha256: str, size: int) -> None:
    """Note the object before it is written (or refresh the note, so the sweep spares it).

    Plain statements, not the ORM: a sweep deleting this very row holds its lock until it has
    deleted the object, so this waits and then inserts the row afresh.
    """
    for _attempt in range(3):
        refreshed = session.execute(
            update(StoredFile).where(StoredFile.sha256 == sha256).values(created_at=utcnow())
        )
        if not refreshed.rowcount:
            session.execute(
                insert(StoredFile).values(sha256=sha256, size=size, created_at=utcnow())
            )
        try:
            session.commit()
            return
        except IntegrityError:  # recorded at this instant by another upload: refresh it instead
            session.rollback()
    raise RuntimeError(f"could not record stored file {sha256}")


# --- reading --------------------------------------------------------------------------------


def material_file(session: Session, course_id: int, material_id: int) -> Material:
    material = services.get_material(session, course_id, material_id)
    if material.file_sha256 is None:
        raise NotFound("This material has no file.")
    return material


@dataclass(frozen=True)
class MaterialText:
    text: str
    source: str  # body | file | both
    chars: int
    sha256: str


def material_text(session: Session, course_id: int, material_id: int) -> MaterialText:
    """The text a material stores: its body (Markdown), its file's text, or both."""
    material = services.get_material(session, course_id, material_id)
    session.refresh(material, attribute_names=["extracted_text"])
    parts, sources = [], []
    if material.body.strip():
        parts.append(material.body.strip())
        sources.append("body")
    if material.text_status == "ready" and material.extracted_text:
        parts.append(material.extracted_text)
        sources.append("file")
    if not parts:
        raise NotFound("This material stores no text.")
    text = "\n\n".join(parts)
    return MaterialText(
        text=text,
        source="both" if len(sources) == 2 else sources[0],
        chars=len(text),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


# --- the worker's side ----------------------------------------------------------------------


def extract_text(
    session: Session, storage: FileStorage, material_id: int, *, timeout: float, max_chars: int
) -> str:
    """Read the text of a pending material's file into it; returns the status it ended in.

    Idempotent: a material that is not pending (done already, or its file removed) is left
    alone, and the result is written only if the material still has the file that was read.
    """
    material = session.get(Material, material_id)
    if material is None or material.text_status != "pending" or material.file_sha256 is None:
        return "skipped"
    sha256, kind = material.file_sha256, material.file_kind
    fields = (material.title, material.description, material.body)
    session.rollback()  # no transaction held open while the file is read
    with tempfile.TemporaryDirectory(prefix="extract-") as directory:
        path = Path(directory) / f"file.{kind}"
        with path.open("wb") as out:
            for chunk in storage.read(sha256):
                out.write(chunk)
        try:
            text = extract_bounded(path, kind, timeout=timeout, max_chars=max_chars)
            values = {
                "text_status": "ready",
                "text_error": None,
                "extracted_text": text,
                **search.material_columns(*fields, text),
            }
            if not text.strip():
                values = {
                    "text_status": "failed",
                    "text_error": "В файле нет текста (возможно, это скан).",
                    "extracted_text": None,
                }
        except ExtractionFailed as error:
            values = {"text_status": "failed", "text_error": error.reason[:500]}
    written = session.execute(
        update(Material)
        .where(
            Material.id == material_id,
            Material.file_sha256 == sha256,
            Material.text_status == "pending",
        )
        .values(**values, updated_at=utcnow())
    )
    if written.rowcount:
        services.commit_change(session)
    else:
        session.rollback()
    return values["text_status"]


def stale_pending(session: Session, after: timedelta = PENDING_RETRY_AFTER) -> list[int]:
    """Materials whose extraction task was lost (pending for longer than `after`): to queue
    again."""
    cutoff = utcnow() - after
    return list(
        session.scalars(
            select(Material.id).where(
                Material.text_status == "pending", Material.updated_at < cutoff
            )
        )
    )


def purge(session: Session, keep_days: int = RECYCLE_DAYS) -> tuple[int, int]:
    """Delete for good what has been in the recycle bin longer than `keep_days`; returns
    (courses, materials). The objects of their files are then unreferenced: `sweep` takes them."""
    return services.purge_deleted(session, older_than=timedelta(days=keep_days))


def sweep(session: Session, storage: FileStorage, grace: timedelta = SWEEP_GRACE) -> int:
    """Delete objects no material points at, once older than `grace`; returns how many.

    A material in the recycle bin still points at its object: the file survives until `purge`.
    """
    cutoff = utcnow() - grace
    unreferenced = select(StoredFile.sha256).where(
        StoredFile.created_at < cutoff,
        ~exists().where(Material.file_sha256 == StoredFile.sha256),
    )
    removed = 0
    for sha256 in list(session.scalars(unreferenced)):
        # Delete the note first: its row lock makes an upload of the same content wait until
        # the object is gone, and then write it anew.
        gone = session.execute(
            delete(StoredFile).where(
                StoredFile.sha256 == sha256,
                StoredFile.created_at < cutoff,
                ~exists().where(Material.file_sha256 == sha256),
            )
        )
        try:
            if gone.rowcount:
                storage.delete(sha256)
                removed += 1
            session.commit()
        except Exception:
            session.rollback()  # the note stays; the next sweep tries again
            log.exception("could not delete stored file %s", sha256)
    # An upload refreshes its key's note before it writes: a young note may be one in flight.
    in_flight = set(
        session.scalars(select(StoredFile.sha256).where(StoredFile.created_at >= cutoff))
    )
    storage.stale_partial_writes(older_than=grace.total_seconds(), keep=in_flight)
    return removed
