"""The demo teaching texts (Markdown beside demo_data.py) and the PDF and DOCX built from them."""

import ast
import io
import re
import zipfile

import pytest

from catalog_service.demo_content import (
    DEMO_DATE,
    DOCX_TYPE,
    PDF_TYPE,
    demo_attachments,
    material_bodies,
)
from catalog_service.demo_content.blocks import Block, Span, read_blocks
from catalog_service.demo_data import COURSES

KINDS = (("lecture", "lectures"), ("seminar", "seminars"), ("lab", "labs"))
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


def titles(slug: str) -> dict[tuple[str, int], str]:
    course = next(c for c in COURSES if c["slug"] == slug)
    result = {}
    for type_code, key in KINDS:
        for number, entry in enumerate(course[key], start=1):
            result[(type_code, number)] = entry[0] if isinstance(entry, tuple) else entry
    return result


ALGORITHMS = material_bodies("algorithms")
PYTHON = material_bodies("python")
ALL_BODIES = [
    pytest.param(slug, key, body, id=f"{slug}-{key[0]}-{key[1]}")
    for slug, bodies in (("algorithms", ALGORITHMS), ("python", PYTHON))
    for key, body in sorted(bodies.items())
]


def test_every_algorithms_material_has_a_body():
    assert set(ALGORITHMS) == set(titles("algorithms"))
    assert len(ALGORITHMS) == 12


def test_python_course_has_at_least_six_bodies_all_for_its_materials():
    assert len(PYTHON) >= 6
    assert set(PYTHON) <= set(titles("python"))


@pytest.mark.parametrize(("slug", "key", "body"), ALL_BODIES)
def test_body_starts_with_the_material_title(slug, key, body):
    assert body.splitlines()[0] == f"# {titles(slug)[key]}"
    prose = FENCE.sub("", body)
    assert len(re.findall(r"^# ", prose, re.MULTILINE)) == 1, "one level-1 heading only"


def test_algorithms_texts_are_long_enough():
    assert sum(len(body) for body in ALGORITHMS.values()) >= 40_000
    short = {key: len(body) for key, body in ALGORITHMS.items() if len(body) < 2_000}
    assert not short


@pytest.mark.parametrize(("slug", "key", "body"), ALL_BODIES)
def test_code_blocks_are_tagged_and_closed(slug, key, body):
    assert body.count("```") % 2 == 0
    blocks = FENCE.findall(body)
    assert all(language for language, _ in blocks), "every fence names its language"
    if key[0] in ("lecture", "lab"):
        assert blocks, "lectures and labs show code"
    if slug == "algorithms":
        assert any(language == "python" for language, _ in blocks)


@pytest.mark.parametrize(("slug", "key", "body"), ALL_BODIES)
def test_python_examples_are_valid_python(slug, key, body):
    for language, code in FENCE.findall(body):
        if language == "python":
            ast.parse(code)


@pytest.mark.parametrize(("slug", "key", "body"), ALL_BODIES)
def test_no_raw_html_outside_code(slug, key, body):
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", body))
    assert not HTML_TAG.search(prose)


def test_unknown_or_odd_slug_has_no_bodies():
    assert material_bodies("calculus") == {}
    assert material_bodies("../algorithms") == {}


SAMPLE = """# Заголовок

Первая строка с **жирным**, *курсивом*
и `кодом`, [ссылка](https://example.org) и ~~зачёркнутым~~.

3. третий пункт
   - вложенный *пункт*
   - ещё один

   продолжение третьего пункта
4. четвёртый

> цитата
> в две строки

```python
print("привет")
```

| Ключ | Значение |
|:---|---:|
| `a` | **1** |

---
"""


def test_read_blocks_keeps_the_structure_of_the_text():
    blocks = read_blocks(SAMPLE)
    assert [(b.kind, b.level, b.marker) for b in blocks] == [
        ("heading", 1, ""),
        ("paragraph", 0, ""),
        ("number", 0, "3."),
        ("bullet", 1, "•"),
        ("bullet", 1, "•"),
        ("paragraph", 1, ""),
        ("number", 0, "4."),
        ("quote", 0, ""),
        ("code", 0, ""),
        ("table", 0, ""),
        ("rule", 0, ""),
    ]
    assert blocks[0].text == "Заголовок"
    assert blocks[3].spans == (Span("вложенный "), Span("пункт", italic=True))
    assert blocks[5].text == "продолжение третьего пункта"
    assert blocks[7].text == "цитата в две строки"
    assert blocks[8] == Block("code", code='print("привет")', language="python")
    table = blocks[9]
    assert table.header_rows == 1
    assert table.rows == (
        ((Span("Ключ"),), (Span("Значение"),)),
        ((Span("a", code=True),), (Span("1", bold=True),)),
    )


def test_inline_spans_carry_the_styles_and_join_soft_breaks():
    paragraph = read_blocks(SAMPLE)[1]
    assert paragraph.spans == (
        Span("Первая строка с "),
        Span("жирным", bold=True),
        Span(", "),
        Span("курсивом", italic=True),
        Span(" и "),
        Span("кодом", code=True),
        Span(", "),
        Span("ссылка", link="https://example.org"),
        Span(" и "),
        Span("зачёркнутым", strike=True),
        Span("."),
    )


def test_markdown_punctuation_is_not_mistaken_for_emphasis():
    (block,) = read_blocks(r"a * b * c, snake_case_name и \*буквально\*")
    assert block.spans == (Span("a * b * c, snake_case_name и *буквально*"),)


def test_lab_text_reads_as_numbered_steps_with_nested_bullets():
    blocks = read_blocks(ALGORITHMS[("lab", 1)])
    task = blocks[[b.text for b in blocks].index("Задание") + 1 :]
    assert [(b.kind, b.level, b.marker) for b in task[:6]] == [
        ("number", 0, "1."),
        ("bullet", 1, "•"),
        ("bullet", 1, "•"),
        ("bullet", 1, "•"),
        ("bullet", 1, "•"),
        ("paragraph", 1, ""),
    ]
    assert task[0].spans[1] == Span("sorting.py", code=True)
    assert Span("случайным", bold=True) in task[3].spans


@pytest.fixture(scope="module")
def attachments():
    return {(a.slug, a.type_code, a.lesson_number): a for a in demo_attachments()}


def test_lecture_handout_is_a_pdf_with_the_lecture_text(attachments):
    from pypdf import PdfReader

    pdf = attachments[("algorithms", "lecture", 1)]
    assert pdf.file_name == "Лекция 1. Введение в алгоритмы.pdf"
    assert pdf.content_type == PDF_TYPE
    assert pdf.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 3
    text = "\n".join(page.extract_text() for page in reader.pages).lower()
    for word in ("введение в алгоритмы", "алгоритм", "инвариант цикла", "евклида", "сортировка"):
        assert word in text
    assert "def insertion_sort" in text
    assert reader.metadata.title == "Лекция 1. Введение в алгоритмы"


def test_lab_handout_is_a_docx_with_headings_and_code(attachments):
    import docx

    lab = attachments[("algorithms", "lab", 1)]
    assert lab.file_name == "Лабораторная работа 1. Сортировки.docx"
    assert lab.content_type == DOCX_TYPE
    document = docx.Document(io.BytesIO(lab.content))
    paragraphs = document.paragraphs
    texts = [p.text for p in paragraphs]
    assert "Практика: Сортировки" in texts
    headings = {p.text for p in paragraphs if p.style.name.startswith("Heading")}
    assert {"Цель работы", "Задание", "Критерии оценивания"} <= headings
    code = [p for p in paragraphs if "def insertion_sort" in p.text]
    assert code
    assert code[0].style.font.name == "Courier New"
    assert document.tables
    step = next(p for p in paragraphs if p.text.startswith("1. Реализуйте в модуле"))
    assert [(r.text, r.font.name) for r in step.runs][2] == ("sorting.py", "Courier New")
    bullets = [p for p in paragraphs if p.style.name == "List Bullet 2"]
    assert any(r.bold and r.text == "случайным" for p in bullets for r in p.runs)
    header = document.tables[0].rows[0].cells[0].paragraphs[0].runs[0]
    assert header.bold


def test_attachments_are_reproducible(attachments):
    again = {(a.slug, a.type_code, a.lesson_number): a for a in demo_attachments()}
    assert again == attachments
    archive = zipfile.ZipFile(io.BytesIO(attachments[("algorithms", "lab", 1)].content))
    assert {entry.date_time for entry in archive.infolist()} == {DEMO_DATE.timetuple()[:6]}
    assert b"D:20240902090000Z" in attachments[("algorithms", "lecture", 1)].content
