"""The curated demo dataset: hand-written Russian examples for "Алгоритмы и структуры данных",
drawn from its demo texts (`demo_dataset/algorithms.json`), so the report and the export can be
tried right after `make run`.

Each example names the demo text it quotes (`lecture-02`) and the excerpt; loading maps the text
to the catalog's material of that type and lesson, snapshots the course through the catalog's
API like any teacher's snapshot, and keeps each example with the passage its excerpt comes from,
so the split keeps passages apart.
"""

import json
import logging
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import datasets, prompting, sources
from .catalog import Catalog
from .models import Dataset, Example

log = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "demo_dataset" / "algorithms.json"
DATASET_NAME = "Демонстрационный набор"
SYSTEM_USER = 0  # the snapshot and dataset are made by the portal, not by a person
_MATERIAL = re.compile(r"(lecture|seminar|lab)-(\d{2})")


def load_file(path: Path = DATA_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def seed(session: Session, catalog: Catalog, path: Path = DATA_FILE) -> str:
    """Create the demo dataset once; returns what happened, in a word."""
    data = load_file(path)
    course = catalog.find_course(data["course"])
    if course is None:
        return "no-course"
    exists = session.scalar(
        select(Dataset.id).where(Dataset.course_id == course.id, Dataset.name == DATASET_NAME)
    )
    if exists:
        return "exists"
    snapshot = sources.take_snapshot(session, catalog, course.id, SYSTEM_USER)
    dataset = datasets.create_dataset(session, snapshot, DATASET_NAME, SYSTEM_USER)
    by_material = {
        (source.material_type_code, source.lesson_number): source for source in snapshot.sources
    }
    chunks = sources.snapshot_chunks(session, snapshot)
    for item in data["examples"]:
        passages, chunk_id = [], None
        for quoted in item["sources"]:
            type_code, lesson = _MATERIAL.fullmatch(quoted["material"]).groups()
            material = by_material.get((type_code, int(lesson)))
            if material is None:
                continue
            passages.append(
                prompting.Source(material.material_id, material.title, quoted["excerpt"])
            )
            chunk_id = chunk_id or _chunk_holding(chunks, material, quoted["excerpt"])
        if not passages:
            continue
        messages = prompting.conversation(
            snapshot.course_name, item["question"], passages, item["answer"]
        )
        example: Example = datasets.new_example(
            dataset, messages, origin="demo", kind=item["kind"], status="approved",
            chunk_id=chunk_id,
        )  # fmt: skip
        session.add(example)
    session.commit()
    datasets.split_dataset(session, dataset, seed=0, shares=datasets.DEFAULT_SHARES)
    log.info("demo dataset %s created for course %s", dataset.id, course.id)
    return "created"


def _chunk_holding(chunks, material, excerpt: str) -> int | None:
    start = excerpt.strip()[:80]
    for owner, chunk in chunks:
        if owner.material_id == material.material_id and start in chunk.content:
            return chunk.id
    return None
