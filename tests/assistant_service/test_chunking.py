"""Chunking a material's Markdown: every chunk fits the budget, nothing but headings and
whitespace is lost, code fences stay balanced, and each chunk knows its heading path. The checks
parse Markdown on their own, with none of the module's code."""

import re
import time
from pathlib import Path

import pytest
import tiktoken

from assistant_service import tokens
from assistant_service.chunking import Chunk, chunk_text

DEMO = Path(__file__).resolve().parents[2] / "catalog_service" / "demo_content" / "algorithms"
DEMO_FILES = sorted(DEMO.glob("*.md"))

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CLOSING_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")


@pytest.fixture(scope="module")
def encoding() -> tiktoken.Encoding:
    tokens.encoding()  # prepares tiktoken's cache
    return tiktoken.get_encoding("o200k_base")


def lines_outside_fences(text: str) -> tuple[list[str], bool]:
    """The lines that are neither fence lines nor inside a fence, and whether one is left open."""
    outside, fence = [], None
    for line in text.splitlines():
        if fence is None:
            opening = FENCE.match(line)
            if opening:
                fence = opening[1]
            else:
                outside.append(line)
        else:
            closing = CLOSING_FENCE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
    return outside, fence is not None


def content(text: str, *, drop_headings: bool) -> str:
    """The text without fence lines, (optionally) heading lines, and whitespace."""
    kept, fence = [], None
    for line in text.splitlines():
        if fence is None:
            opening = FENCE.match(line)
            if opening:
                fence = opening[1]
                continue
            if drop_headings and HEADING.match(line):
                continue
        else:
            closing = CLOSING_FENCE.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
                continue
        kept.append(line)
    return re.sub(r"\s+", "", "".join(kept))


def check_invariants(text: str, chunks: list[Chunk], max_tokens: int, encoding) -> None:
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        exact = len(encoding.encode_ordinary(chunk.text))
        assert chunk.tokens == exact
        assert exact <= max_tokens
        assert chunk.text == chunk.text.strip() and chunk.text
        _, left_open = lines_outside_fences(chunk.text)
        assert not left_open, f"unbalanced fence in chunk {chunk.index}"
    joined = "\n".join(chunk.text for chunk in chunks)
    assert content(joined, drop_headings=False) == content(text, drop_headings=True)


@pytest.mark.parametrize("path", DEMO_FILES, ids=[path.name for path in DEMO_FILES])
def test_demo_materials_chunk_within_the_budget_losing_nothing(path, encoding):
    text = path.read_text(encoding="utf-8")
    chunks = chunk_text(text)
    check_invariants(text, chunks, 800, encoding)
    title = text.splitlines()[0].removeprefix("# ")
    assert all(chunk.heading.startswith(title) for chunk in chunks)
    # Every heading with text under it names a chunk.
    recorded = {part for chunk in chunks for part in chunk.heading.split(" › ")}
    outside, _ = lines_outside_fences(text)
    for number, line in enumerate(outside):
        following = next((other for other in outside[number + 1 :] if other.strip()), "")
        if HEADING.match(line) and following and not HEADING.match(following):
            assert line.lstrip("#").strip() in recorded


@pytest.mark.parametrize("path", DEMO_FILES, ids=[path.name for path in DEMO_FILES])
def test_demo_materials_hold_under_a_small_budget(path, encoding):
    # Small enough that code blocks and paragraphs must be cut.
    text = path.read_text(encoding="utf-8")
    chunks = chunk_text(text, max_tokens=60, min_tokens=20)
    check_invariants(text, chunks, 60, encoding)


def test_heading_paths_of_a_lecture():
    text = (DEMO / "lecture-03.md").read_text(encoding="utf-8")
    headings = [chunk.heading for chunk in chunk_text(text)]
    assert "Сортировки: слиянием, быстрая, пирамидальная › Быстрая сортировка" in headings
    lab = chunk_text((DEMO / "lab-02.md").read_text(encoding="utf-8"))
    assert "Реализация двоичной кучи › Задание › Часть 1. Класс BinaryHeap" in [
        chunk.heading for chunk in lab
    ]


def test_heading_path_follows_levels():
    text = "# A\n\nпод А\n\n## B\n\nпод B\n\n### C\n\nпод C\n\n## D ##\n\nпод D\n\n# E\n\nпод E"
    chunks = chunk_text(text)
    assert [(chunk.heading, chunk.text) for chunk in chunks] == [
        ("A", "под А"),
        ("A › B", "под B"),
        ("A › B › C", "под C"),
        ("A › D", "под D"),
        ("E", "под E"),
    ]


def test_text_before_any_heading_has_an_empty_path():
    chunks = chunk_text("Вступление.\n\n# Глава\n\nТекст главы.")
    assert [(chunk.heading, chunk.text) for chunk in chunks] == [
        ("", "Вступление."),
        ("Глава", "Текст главы."),
    ]


def test_setext_headings():
    text = "Лекция 1\n========\n\nВведение.\n\nАлгоритмы\n---------\n\nОпределение."
    chunks = chunk_text(text)
    assert [(chunk.heading, chunk.text) for chunk in chunks] == [
        ("Лекция 1", "Введение."),
        ("Лекция 1 › Алгоритмы", "Определение."),
    ]


def test_a_list_followed_by_a_rule_is_not_a_heading():
    chunks = chunk_text("# Тема\n\n- пункт\n---\n\nдальше")
    assert [chunk.heading for chunk in chunks] == ["Тема"]
    assert "- пункт\n---" in chunks[0].text


def test_hashes_inside_code_are_not_headings():
    text = "# Код\n\n```python\n# комментарий\nx = 1\n```\n\nПосле кода."
    chunks = chunk_text(text)
    assert [chunk.heading for chunk in chunks] == ["Код"]
    assert chunks[0].text == "```python\n# комментарий\nx = 1\n```\n\nПосле кода."


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "# Только заголовок\n\n## И ещё один"])
def test_nothing_to_chunk(text):
    assert chunk_text(text) == []


def paragraph(number: int, sentences: int = 6) -> str:
    return " ".join(
        f"Абзац {number}, предложение {i}: быстрая сортировка делит массив по опорному элементу."
        for i in range(sentences)
    )


def test_small_paragraphs_under_one_heading_are_merged():
    text = "# Тема\n\n" + "\n\n".join(paragraph(n, 1) for n in range(5)) + "\n\n## Другая\n\nОдин."
    chunks = chunk_text(text)
    assert [chunk.heading for chunk in chunks] == ["Тема", "Тема › Другая"]
    assert chunks[0].text == "\n\n".join(paragraph(n, 1) for n in range(5))


def test_a_long_section_is_cut_into_even_chunks(encoding):
    paragraphs = [paragraph(n) for n in range(12)]
    sizes = [len(encoding.encode_ordinary(p)) for p in paragraphs]
    text = "# Тема\n\n" + "\n\n".join(paragraphs)
    chunks = chunk_text(text, max_tokens=800, min_tokens=300)
    check_invariants(text, chunks, 800, encoding)
    # As few chunks as the budget allows (greedy filling is the fewest for an ordered sequence,
    # a paragraph break being one token), none a small leftover, every paragraph whole.
    fewest, filled = 1, 0
    for size in sizes:
        if filled and filled + 1 + size > 800:
            fewest, filled = fewest + 1, size
        else:
            filled += size + (1 if filled else 0)
    assert fewest > 1 and len(chunks) == fewest
    assert all(chunk.tokens >= 300 for chunk in chunks)
    spread = max(chunk.tokens for chunk in chunks) - min(chunk.tokens for chunk in chunks)
    assert spread <= max(sizes)
    assert all(sum(p in chunk.text for chunk in chunks) == 1 for p in paragraphs)


def test_an_overlong_paragraph_is_cut_at_sentence_ends(encoding):
    text = paragraph(0, sentences=80)
    chunks = chunk_text(text, max_tokens=300, min_tokens=100)
    check_invariants(text, chunks, 300, encoding)
    assert len(chunks) > 1
    assert all(chunk.text.endswith("элементу.") for chunk in chunks)
    assert all(chunk.text.startswith("Абзац 0, предложение") for chunk in chunks)


def test_an_overlong_code_block_is_cut_between_lines_and_refenced(encoding):
    body = [f"    values.append({i} * {i})  # квадрат числа {i}" for i in range(400)]
    text = "# Код\n\nПеред кодом.\n\n~~~python\n" + "\n".join(body) + "\n~~~\n\nПосле кода."
    chunks = chunk_text(text, max_tokens=200, min_tokens=50)
    check_invariants(text, chunks, 200, encoding)
    code_chunks = [chunk for chunk in chunks if "~~~python" in chunk.text]
    assert len(code_chunks) > 1
    seen = []
    for chunk in code_chunks:
        lines = chunk.text.splitlines()
        start, end = lines.index("~~~python"), len(lines) - 1 - lines[::-1].index("~~~")
        seen.extend(lines[start + 1 : end])
    assert seen == body  # every line whole, once, in order


def test_a_code_block_that_fits_is_never_cut():
    code = "```python\ndef f():\n\n    return 1\n\n\ndef g():\n    return 2\n```"
    text = "# Тема\n\n" + paragraph(1, 9) + "\n\n" + code + "\n\n" + paragraph(2, 9)
    chunks = chunk_text(text, max_tokens=250, min_tokens=50)
    assert sum(code in chunk.text for chunk in chunks) == 1


def test_fences_with_longer_runs_and_tildes_stay_balanced(encoding):
    text = (
        "# Markdown\n\n````markdown\nПример:\n```python\nprint(1)\n```\n````\n\n"
        "~~~\n``` не закрывает\n~~~\n\nТекст."
    )
    chunks = chunk_text(text)
    check_invariants(text, chunks, 800, encoding)
    assert len(chunks) == 1


def test_an_unclosed_fence_is_closed_in_its_chunk(encoding):
    text = "# Код\n\n```python\nx = 1\ny = 2"
    chunks = chunk_text(text)
    assert [chunk.text for chunk in chunks] == ["```python\nx = 1\ny = 2\n```"]
    check_invariants(text, chunks, 800, encoding)


def test_a_code_block_with_a_huge_fence_line_is_cut_as_text(encoding):
    opening = "```" + " ".join(f"атрибут{i}" for i in range(40))
    text = opening + "\n" + "\n".join(f"x = {i}" for i in range(100)) + "\n```"
    chunks = chunk_text(text, max_tokens=64, min_tokens=0)
    assert all(len(encoding.encode_ordinary(chunk.text)) <= 64 for chunk in chunks)
    joined = re.sub(r"\s+", "", "".join(chunk.text for chunk in chunks))
    assert joined == re.sub(r"\s+", "", text)


def test_a_word_longer_than_the_budget_is_cut_between_characters(encoding):
    text = "Начало " + "абвгд" * 2000 + " конец."
    chunks = chunk_text(text, max_tokens=100, min_tokens=0)
    check_invariants(text, chunks, 100, encoding)


def test_chunking_is_deterministic():
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in DEMO_FILES[:4])
    assert chunk_text(text) == chunk_text(text)


def test_a_100k_character_text_chunks_quickly(encoding):
    demo = "\n\n".join(path.read_text(encoding="utf-8") for path in DEMO_FILES)
    text = demo
    while len(text) < 100_000:
        text += "\n\n" + demo
    started = time.perf_counter()
    chunks = chunk_text(text)
    elapsed = time.perf_counter() - started
    check_invariants(text, chunks, 800, encoding)
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_a_100k_character_paragraph_chunks_quickly(encoding):
    text = paragraph(0, sentences=1300)
    assert len(text) >= 100_000
    started = time.perf_counter()
    chunks = chunk_text(text)
    elapsed = time.perf_counter() - started
    check_invariants(text, chunks, 800, encoding)
    assert elapsed < 3.0, f"{elapsed:.2f} s"


@pytest.mark.parametrize(("max_tokens", "min_tokens"), [(31, 0), (800, -1), (800, 801)])
def test_budgets_are_checked(max_tokens, min_tokens):
    with pytest.raises(ValueError):
        chunk_text("Текст.", max_tokens=max_tokens, min_tokens=min_tokens)
