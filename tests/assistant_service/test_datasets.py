"""Datasets through the service layer: examples written, imported and reviewed; the split kept
by chunk; the report and the export of approved examples only."""

import io
import json

import pytest
from sqlalchemy import select

from assistant_service import datasets, prompting, sources
from assistant_service.models import Example
from service_kit import Forbidden, InvalidInput

from .conftest import OTHER_TEACHER, STUDENT, TEACHER, principal


@pytest.fixture
def snapshot(session, catalog, catalog_world):
    return sources.take_snapshot(session, catalog, catalog_world.course_id, TEACHER)


@pytest.fixture
def dataset(session, snapshot):
    return datasets.create_dataset(session, snapshot, "Первый набор", TEACHER)


@pytest.fixture
def chunk_ids(session, snapshot):
    return [chunk.id for _, chunk in sources.snapshot_chunks(session, snapshot)]


def conversation(question: str, answer: str = "Ответ по источнику [1].") -> list[dict]:
    return prompting.conversation(
        "Алгоритмы и структуры данных",
        question,
        [prompting.Source(1, "Лекция 1", "Текст лекции.")],
        answer,
    )


def jsonl(*items) -> io.BytesIO:
    lines = [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
             for item in items]  # fmt: skip
    return io.BytesIO(("\n".join(lines) + "\n").encode())


# --- who builds --------------------------------------------------------------------------------


def test_the_courses_teacher_and_admins_build_others_do_not(catalog, catalog_world):
    course = catalog.course(catalog_world.course_id)
    datasets.check_builder(principal(TEACHER, "teacher"), course)
    datasets.check_builder(principal(1, "admin"), course)
    with pytest.raises(Forbidden):
        datasets.check_builder(principal(OTHER_TEACHER, "teacher"), course)
    with pytest.raises(Forbidden):
        datasets.check_builder(principal(STUDENT, "student"), course)


# --- examples ----------------------------------------------------------------------------------


def test_a_hand_written_example_quotes_its_passages_in_order(session, dataset, chunk_ids):
    example = datasets.write_example(
        session, dataset, "Что такое O-нотация?", "Это оценка роста [1], см. также [2].",
        chunk_ids[:2],
    )  # fmt: skip
    system, user, assistant = example.messages
    assert system["role"] == "system" and "Алгоритмы и структуры данных" in system["content"]
    assert user["content"].startswith(prompting.QUESTION_HEADING)
    assert user["content"].index('<source id="1"') < user["content"].index('<source id="2"')
    assert assistant == {"role": "assistant", "content": "Это оценка роста [1], см. также [2]."}
    assert example.status == "approved" and example.chunk_id == chunk_ids[0]
    assert example.tokens > 0


def test_an_answer_citing_a_source_not_given_is_refused(session, dataset, chunk_ids):
    with pytest.raises(InvalidInput) as refused:
        datasets.write_example(session, dataset, "Вопрос?", "Ответ [1] и [3].", chunk_ids[:2])
    assert refused.value.errors == {"answer": ["There is no source [3]."]}


def test_a_passage_of_another_snapshot_is_refused(session, dataset, catalog, catalog_world):
    other = sources.take_snapshot(session, catalog, catalog_world.other_course_id, 1)
    foreign = sources.snapshot_chunks(session, other)[0][1].id
    with pytest.raises(InvalidInput):
        datasets.write_example(session, dataset, "Вопрос?", "Ответ [1].", [foreign])


def test_an_edited_answer_changes_only_the_assistant_message(session, dataset, chunk_ids):
    example = datasets.write_example(
        session, dataset, "Вопрос?", "Старый ответ [1].", chunk_ids[:1]
    )
    before = example.messages
    edited = datasets.update_example(
        session, example, {"answer": "Новый ответ [1].", "status": "rejected"}
    )
    assert edited.messages[:2] == before[:2]
    assert edited.messages[2]["content"] == "Новый ответ [1]."
    assert edited.status == "rejected"
    assert edited.fingerprint != datasets.fingerprint(before)


# --- import ------------------------------------------------------------------------------------


def test_a_good_jsonl_file_is_imported_as_pending_examples(session, dataset):
    imported = datasets.import_jsonl(
        session, dataset,
        jsonl({"messages": conversation("Первый?")}, "", {"messages": conversation("Второй?")}),
    )  # fmt: skip
    assert imported == 2
    stored = session.scalars(select(Example).where(Example.dataset_id == dataset.id)).all()
    assert [e.status for e in stored] == ["pending", "pending"]
    assert [e.origin for e in stored] == ["imported", "imported"]


def test_a_file_with_bad_lines_names_each_and_stores_nothing(session, dataset):
    bad = jsonl(
        {"messages": conversation("Хороший?")},
        "{not json",
        {"messages": [{"role": "wizard", "content": "x"}]},
        [1, 2, 3],
        {"messages": [{"role": "user", "content": "только вопрос"}]},
    )
    with pytest.raises(InvalidInput) as refused:
        datasets.import_jsonl(session, dataset, bad)
    errors = refused.value.errors
    assert set(errors) == {"line 2", "line 3", "line 4", "line 5"}
    assert errors["line 2"] == ["The line is not valid JSON."]
    assert session.scalars(select(Example).where(Example.dataset_id == dataset.id)).all() == []


def test_invalid_utf8_and_huge_lines_are_refused(session, dataset):
    huge = json.dumps({"messages": conversation("?" + "а" * (datasets.EXAMPLE_MAX_CHARS + 1))})
    with pytest.raises(InvalidInput) as refused:
        datasets.import_jsonl(session, dataset, io.BytesIO(b"\xff\xfe\n" + huge.encode() + b"\n"))
    assert refused.value.errors["line 1"] == ["The line is not UTF-8 text."]
    assert "longer than" in refused.value.errors["line 2"][0]


# --- review, split, report, export -------------------------------------------------------------


def test_bulk_review_touches_only_this_datasets_examples(session, dataset, snapshot):
    other = datasets.create_dataset(session, snapshot, "Другой", TEACHER)
    datasets.import_jsonl(session, dataset, jsonl({"messages": conversation("Один?")}))
    datasets.import_jsonl(session, other, jsonl({"messages": conversation("Два?")}))
    ids = list(session.scalars(select(Example.id)))
    assert datasets.review_many(session, dataset, ids, "approved") == 1
    assert datasets.counts(session, other.id)["approved"] == 0


def make_examples(session, dataset, chunk_ids, per_chunk: int, status: str = "approved"):
    for chunk_id in chunk_ids:
        for number in range(per_chunk):
            session.add(
                datasets.new_example(
                    dataset,
                    conversation(f"Вопрос {chunk_id}-{number}?"),
                    origin="manual",
                    status=status,
                    chunk_id=chunk_id,
                )
            )
    session.commit()


def test_the_split_keeps_each_chunk_in_one_split_and_follows_the_shares(
    session, dataset, chunk_ids
):
    make_examples(session, dataset, chunk_ids[:20], per_chunk=3)
    make_examples(session, dataset, chunk_ids[20:22], per_chunk=2, status="rejected")
    counts = datasets.split_dataset(session, dataset, seed=7, shares=(80, 10, 10))
    assert sum(counts.values()) == 60
    assert counts == {"train": 48, "validation": 6, "test": 6}
    splits_by_chunk: dict[int, set] = {}
    for example in session.scalars(select(Example).where(Example.dataset_id == dataset.id)):
        if example.status == "approved":
            splits_by_chunk.setdefault(example.chunk_id, set()).add(example.split)
        else:
            assert example.split is None
    assert all(len(splits) == 1 for splits in splits_by_chunk.values())


def test_the_same_seed_gives_the_same_split(session, dataset, chunk_ids):
    make_examples(session, dataset, chunk_ids[:20], per_chunk=2)

    def assignment(seed):
        datasets.split_dataset(session, dataset, seed=seed, shares=(80, 10, 10))
        rows = session.execute(select(Example.id, Example.split).order_by(Example.id)).all()
        return [tuple(row) for row in rows]

    first = assignment(3)
    assert assignment(4) != first
    assert assignment(3) == first


def test_the_report_counts_only_approved_examples(session, dataset, chunk_ids):
    make_examples(session, dataset, chunk_ids[:12], per_chunk=1)
    make_examples(session, dataset, chunk_ids[12:15], per_chunk=1, status="pending")
    datasets.split_dataset(session, dataset, seed=0, shares=(80, 10, 10))
    report = datasets.dataset_report(session, dataset)
    assert sum(split["examples"] for split in report["splits"].values()) == 12
    assert report["prices"]["training"] == 3.0


def test_the_export_holds_approved_examples_of_one_split_as_utf8_jsonl(session, dataset, chunk_ids):
    make_examples(session, dataset, chunk_ids[:10], per_chunk=1)
    make_examples(session, dataset, chunk_ids[10:12], per_chunk=1, status="rejected")
    counts = datasets.split_dataset(session, dataset, seed=1, shares=(80, 10, 10))
    exported = {
        split: "".join(datasets.export_lines(session, dataset, split)) for split in datasets.SPLITS
    }
    for split, text in exported.items():
        lines = text.splitlines()
        assert len(lines) == counts[split]
        for line in lines:
            assert "\\u04" not in line and "Вопрос" in line  # Cyrillic as text
            assert list(json.loads(line)) == ["messages"]
