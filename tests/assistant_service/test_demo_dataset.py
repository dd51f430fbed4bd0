"""The curated demo dataset of the algorithms course: hand-written questions and answers whose
sources are passages quoted verbatim from the course's demo teaching texts."""

import json
import re
from collections import Counter
from pathlib import Path

from assistant_service import prompting
from catalog_service.demo_content import material_bodies

DATASET = Path(prompting.__file__).resolve().parent / "demo_dataset" / "algorithms.json"
COURSE = "Алгоритмы и структуры данных"
KINDS = {"in_scope", "out_of_scope"}
MATERIAL = re.compile(r"(lecture|seminar|lab)-(\d{2})")
MINIMUM_PER_TEXT = {"lecture": 3, "seminar": 2, "lab": 2}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")

BODIES = material_bodies("algorithms")


def examples() -> list[dict]:
    return json.loads(DATASET.read_text(encoding="utf-8"))["examples"]


def text_key(material: str) -> tuple[str, int]:
    """("lecture", 2) for "lecture-02"."""
    match = MATERIAL.fullmatch(material)
    assert match, f"not a material name: {material!r}"
    return match[1], int(match[2])


def title(key: tuple[str, int]) -> str:
    assert key in BODIES, f"no demo text {key}"
    first_line = BODIES[key].splitlines()[0]
    assert first_line.startswith("# "), key
    return first_line.removeprefix("# ")


def test_file_is_json_written_for_people():
    text = DATASET.read_text(encoding="utf-8")
    data = json.loads(text)
    assert set(data) == {"course", "examples"}
    assert data["course"] == COURSE
    assert isinstance(data["examples"], list)
    # Indented by 2 and with Cyrillic as is, so that a teacher can read and edit it.
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_every_example_has_the_documented_fields():
    for number, example in enumerate(examples()):
        assert set(example) == {"question", "sources", "answer", "kind"}, number
        assert example["kind"] in KINDS, number
        for field in ("question", "answer"):
            value = example[field]
            assert isinstance(value, str) and value == value.strip() and value, (number, field)
            assert CYRILLIC.search(value), (number, field)
        most = 3 if example["kind"] == "in_scope" else 2
        assert 1 <= len(example["sources"]) <= most, number
        for source in example["sources"]:
            assert set(source) == {"material", "excerpt"}, number
            assert isinstance(source["excerpt"], str), number
            text_key(source["material"])


def test_there_are_enough_examples_of_each_kind():
    kinds = Counter(example["kind"] for example in examples())
    assert sum(kinds.values()) >= 60
    assert kinds["in_scope"] >= 52
    assert kinds["out_of_scope"] >= 8


def test_the_course_has_all_twelve_texts():
    assert sorted(BODIES) == sorted(
        [("lecture", n) for n in range(1, 6)]
        + [("seminar", n) for n in range(1, 5)]
        + [("lab", n) for n in range(1, 4)]
    )


def test_excerpts_are_quoted_verbatim_from_the_named_text():
    misquoted = []
    for number, example in enumerate(examples()):
        for source in example["sources"]:
            key = text_key(source["material"])
            if key not in BODIES or source["excerpt"] not in BODIES[key]:
                misquoted.append((number, source["material"], source["excerpt"][:60]))
    assert misquoted == []


def test_excerpts_are_passages_of_a_useful_length():
    wrong = [
        (number, source["material"], len(source["excerpt"]))
        for number, example in enumerate(examples())
        for source in example["sources"]
        if not 200 <= len(source["excerpt"]) <= 1200
    ]
    assert wrong == []


def test_excerpts_start_with_text_not_with_a_heading():
    # Chunks of a material do not repeat its heading lines, so an excerpt that starts with one
    # could not be traced to the chunk it was quoted from.
    wrong = [
        (number, source["material"], source["excerpt"][:40])
        for number, example in enumerate(examples())
        for source in example["sources"]
        if source["excerpt"].startswith("#") or source["excerpt"] != source["excerpt"].strip()
    ]
    assert wrong == []


def test_every_text_is_covered_by_in_scope_examples():
    covered: Counter[tuple[str, int]] = Counter()
    for example in examples():
        if example["kind"] == "in_scope":
            covered.update({text_key(source["material"]) for source in example["sources"]})
    too_few = {key: covered[key] for key in BODIES if covered[key] < MINIMUM_PER_TEXT[key[0]]}
    assert too_few == {}


def test_in_scope_answers_cite_every_source_and_nothing_else():
    wrong = []
    for number, example in enumerate(examples()):
        if example["kind"] != "in_scope":
            continue
        cited = sorted(prompting.citations(example["answer"]))
        if cited != list(range(1, len(example["sources"]) + 1)):
            wrong.append((number, cited, len(example["sources"])))
    assert wrong == []


def test_out_of_scope_answers_refuse_without_citations():
    wrong = []
    for number, example in enumerate(examples()):
        if example["kind"] != "out_of_scope":
            continue
        answer = example["answer"]
        if prompting.citations(answer) or "не могу" not in answer:
            wrong.append((number, answer))
    assert wrong == []


def test_answers_are_written_not_copied_from_the_excerpts():
    copied = [
        number
        for number, example in enumerate(examples())
        for source in example["sources"]
        if source["excerpt"].strip() in example["answer"] or example["answer"] in source["excerpt"]
    ]
    assert copied == []


def test_questions_are_all_different():
    def normal(question: str) -> str:
        return " ".join(question.casefold().split())

    counts = Counter(normal(example["question"]) for example in examples())
    assert [question for question, count in counts.items() if count > 1] == []


def test_each_example_builds_a_system_user_assistant_conversation():
    system = prompting.system_message(COURSE)
    for number, example in enumerate(examples()):
        sources = [
            prompting.Source(
                material_id=0,
                title=title(text_key(source["material"])),
                text=source["excerpt"],
            )
            for source in example["sources"]
        ]
        messages = prompting.conversation(COURSE, example["question"], sources, example["answer"])
        assert [message["role"] for message in messages] == ["system", "user", "assistant"]
        assert messages[0] == system, number
        user = messages[1]["content"]
        assert example["question"] in user, number
        for position, source in enumerate(sources, start=1):
            assert f'<source id="{position}" title="{source.title}">' in user, number
            assert prompting.quote(source.text) in user, number
        assert messages[2]["content"] == example["answer"], number
