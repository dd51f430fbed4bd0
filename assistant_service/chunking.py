"""Splitting a material's Markdown text into chunks of a token budget, along its structure.

Each chunk becomes one quoted source of a dataset example, so it should read as a whole: a chunk
never spans two headings, paragraphs are kept whole when they fit, and a fenced code block is
kept whole and balanced (every chunk that holds code opens and closes its fence, unless the
opening fence line alone nearly fills the budget, when the block is cut as plain text). The heading
lines themselves are not repeated in the text; a chunk carries the path of headings it falls
under instead ("Лекция 2. Сортировки › Быстрая сортировка"). Apart from heading lines and
whitespace, the chunks of a text hold all of it, in order; the only additions are the fence
lines repeated around the parts of a code block that had to be cut, and a closing fence for a
block the text left open.

Within one heading, consecutive blocks (paragraphs, lists, tables, code blocks) are packed into
as few chunks as fit `max_tokens`, and among those packings the one is chosen whose chunks fall
least below `min_tokens` and are most even, so a long section becomes chunks of similar size
rather than full ones and a scrap. A block longer than `max_tokens` is cut first: a paragraph at
sentence ends and line breaks (then between words, then between characters), a code block
between lines (a single overlong line between characters). Sizes are estimated by adding the
token counts of the parts; every chunk is then counted exactly, and one the estimate got wrong is
repacked greedily with exact counts, so no chunk exceeds `max_tokens`. The result depends only on
the text and the two budgets.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant_service import tokens

HEADING_SEPARATOR = " › "
PARAGRAPH_SEPARATOR = "\n\n"
# Below this a budget cannot hold a fenced line or a sentence usefully.
SMALLEST_MAX_TOKENS = 32

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_A_SETEXT_TITLE = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])(?:\s|$)")
# Fences may be indented (inside list items); a backtick fence's info string has no backtick.
_FENCE_OPENING = re.compile(r"^([ \t]*)(`{3,}(?=[^`]*$)|~{3,})")
_FENCE_CLOSING = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")
# Where an overlong paragraph may be cut: after a sentence's end (., !, ?, … possibly followed by
# a closing quote or bracket) before anything but a lowercase letter, or at a line break.
_SENTENCE_OR_LINE_BREAK = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][»\"')\]]))[ \t]+(?=[^\sa-zа-яё])|[ \t]*\n\s*"
)
_WHITESPACE = re.compile(r"\s+")

Unit = tuple[str, str]  # (the whitespace before it, the text)
Wrap = Callable[[str], str]


@dataclass(frozen=True)
class Chunk:
    """One chunk of a material: its position, the heading path it falls under, its text."""

    index: int
    heading: str
    text: str
    tokens: int


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Code:
    opening: str
    lines: tuple[str, ...]
    closing: str

    @property
    def text(self) -> str:
        return "\n".join((self.opening, *self.lines, self.closing))

    def wrap(self, body: str) -> str:
        return f"{self.opening}\n{body}\n{self.closing}"


_Block = _Paragraph | _Code


def chunk_text(text: str, *, max_tokens: int = 800, min_tokens: int = 300) -> list[Chunk]:
    """The chunks of a Markdown text, each at most `max_tokens`, in the order of the text."""
    if max_tokens < SMALLEST_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {SMALLEST_MAX_TOKENS}")
    if not 0 <= min_tokens <= max_tokens:
        raise ValueError("min_tokens must be between 0 and max_tokens")
    chunks: list[Chunk] = []
    for heading, blocks in _sections(text):
        pieces: list[Unit] = []
        for block in blocks:
            fitted = _fit(block, max_tokens, min_tokens)
            pieces.extend((PARAGRAPH_SEPARATOR, piece) for piece in fitted)
        for piece, size in _pack(pieces, max_tokens, min_tokens):
            chunks.append(Chunk(index=len(chunks), heading=heading, text=piece, tokens=size))
    return chunks


def heading_title(raw: str | None) -> str:
    """The text of an ATX heading without its optional closing run of '#'."""
    return _CLOSING_HASHES.sub("", (raw or "").strip()).strip()


def _sections(text: str) -> list[tuple[str, list[_Block]]]:
    """The text's blocks grouped by the heading path they fall under, headings left out."""
    sections: list[tuple[str, list[_Block]]] = []
    path: list[tuple[int, str]] = []
    blocks: list[_Block] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(_Paragraph("\n".join(paragraph).strip()))
            paragraph.clear()

    def start_section(level: int, title: str) -> None:
        end_paragraph()
        if blocks:
            sections.append((_heading_path(path), list(blocks)))
            blocks.clear()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))

    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        fence = _FENCE_OPENING.match(line)
        if fence:
            end_paragraph()
            body, closing, index = _code_body(lines, index, fence[1], fence[2])
            blocks.append(_Code(opening=line, lines=tuple(body), closing=closing))
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            start_section(len(heading[1]), heading_title(heading[2]))
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and len(paragraph) == 1 and not _NOT_A_SETEXT_TITLE.match(paragraph[0]):
            title = paragraph.pop().strip()
            start_section(1 if underline[1][0] == "=" else 2, title)
            continue
        if line.strip():
            paragraph.append(line)
        else:
            end_paragraph()
    end_paragraph()
    if blocks:
        sections.append((_heading_path(path), blocks))
    return sections


def _code_body(lines: list[str], start: int, indent: str, fence: str) -> tuple[list[str], str, int]:
    """The lines of a code block opened before `start`, its closing fence, and the next index."""
    for index in range(start, len(lines)):
        closing = _FENCE_CLOSING.match(lines[index])
        if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
            return lines[start:index], lines[index], index + 1
    # An unclosed fence runs to the end of the text; close it so the chunk stays balanced.
    return lines[start:], indent + fence, len(lines)


def _heading_path(path: list[tuple[int, str]]) -> str:
    return HEADING_SEPARATOR.join(title for _, title in path if title)


def _fit(block: _Block, max_tokens: int, min_tokens: int) -> list[str]:
    """The block as one piece if it fits `max_tokens`, else cut into pieces that each fit."""
    if tokens.count(block.text) <= max_tokens:
        return [block.text]
    if isinstance(block, _Code):
        overhead = tokens.count(block.wrap("")) + 2
        if max_tokens - overhead >= SMALLEST_MAX_TOKENS // 2:
            units: list[Unit] = []
            for line in block.lines:
                line_units = _cut(line, max_tokens - overhead, level=len(_CUTS))
                units.append(("\n", line_units[0][1]))
                units.extend(line_units[1:])
            return [piece for piece, _ in _pack(units, max_tokens, min_tokens, block.wrap)]
        # Fence lines too long to repeat: the block is cut as plain text.
    return [piece for piece, _ in _pack(_cut(block.text, max_tokens), max_tokens, min_tokens)]


_CUTS = (_SENTENCE_OR_LINE_BREAK, _WHITESPACE)


def _cut(text: str, limit: int, level: int = 0) -> list[Unit]:
    """`text` cut at the coarsest boundaries that give parts of at most `limit` tokens each."""
    if level == len(_CUTS):
        return _cut_characters(text, limit)
    units: list[Unit] = []
    start, gap = 0, ""
    for boundary in _CUTS[level].finditer(text):
        if boundary.start() > start:
            units.append((gap, text[start : boundary.start()]))
            gap = ""
        gap += boundary.group()
        start = boundary.end()
    if start < len(text) or not units:
        units.append((gap, text[start:]))
    result: list[Unit] = []
    for (unit_gap, unit), size in zip(units, tokens.count_many([u for _, u in units]), strict=True):
        if size <= limit:
            result.append((unit_gap, unit))
        else:
            finer = _cut(unit, limit, level + 1)
            result.append((unit_gap, finer[0][1]))
            result.extend(finer[1:])
    return result


def _cut_characters(text: str, limit: int) -> list[Unit]:
    """`text` cut between characters into the longest parts of at most `limit` tokens."""
    units: list[Unit] = []
    rest = text
    while rest:
        # Gallop to a prefix that is too long, then bisect; only short prefixes get encoded.
        fits, too_long = 0, min(len(rest), 4 * limit + 4)
        while tokens.count(rest[:too_long]) <= limit:
            if too_long == len(rest):
                units.append(("", rest))
                return units
            fits, too_long = too_long, min(len(rest), 2 * too_long)
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if tokens.count(rest[:middle]) <= limit:
                fits = middle
            else:
                too_long = middle
        fits = max(fits, 1)  # a character is at most 4 tokens, and limit is larger
        units.append(("", rest[:fits]))
        rest = rest[fits:]
    return units or [("", "")]


def _render(units: list[Unit], wrap: Wrap | None) -> str:
    body = units[0][1] + "".join(gap + unit for gap, unit in units[1:])
    return wrap(body) if wrap else body


def _pack(
    units: list[Unit], max_tokens: int, min_tokens: int, wrap: Wrap | None = None
) -> list[tuple[str, int]]:
    """Consecutive units joined into the fewest, most even texts of at most `max_tokens` each.

    Returns each text with its exact token count. Each unit alone must fit.
    """
    if not units:
        return []
    sizes = tokens.count_many([unit for _, unit in units])
    gaps = [0, *tokens.count_many([gap for gap, _ in units[1:]])]
    overhead = tokens.count(wrap("")) if wrap else 0
    # reach[i]: the estimated tokens of units[:i] joined, each gap counted with the unit after it.
    reach = [0]
    for gap, size in zip(gaps, sizes, strict=True):
        reach.append(reach[-1] + gap + size)

    # best[i]: the cost of the best packing of units[:i] as (chunks, Σ shortfall², Σ slack²).
    best: list[tuple[int, int, int]] = [(0, 0, 0)]
    start_of_last: list[int] = [0]
    for end in range(1, len(units) + 1):
        choice: tuple[tuple[int, int, int], int] | None = None
        upto = overhead + reach[end]
        for start in range(end - 1, -1, -1):
            size = upto - reach[start] - gaps[start]
            if size > max_tokens and start < end - 1:
                break
            chunks, shortfall, slack = best[start]
            if size < min_tokens:
                shortfall += (min_tokens - size) ** 2
            if size < max_tokens:
                slack += (max_tokens - size) ** 2
            cost = (chunks + 1, shortfall, slack)
            if choice is None or cost < choice[0]:
                choice = (cost, start)
        assert choice is not None
        best.append(choice[0])
        start_of_last.append(choice[1])

    groups: list[list[Unit]] = []
    end = len(units)
    while end > 0:
        start = start_of_last[end]
        groups.append(units[start:end])
        end = start
    groups.reverse()

    packed: list[tuple[str, int]] = []
    texts = [_render(group, wrap) for group in groups]
    for group, text, size in zip(groups, texts, tokens.count_many(texts), strict=True):
        if size <= max_tokens:
            packed.append((text, size))
        else:
            packed.extend(_pack_exactly(group, max_tokens, wrap))
    return packed


def _pack_exactly(units: list[Unit], max_tokens: int, wrap: Wrap | None) -> list[tuple[str, int]]:
    """Units joined greedily, counting every candidate exactly: the fallback of `_pack`."""
    packed: list[tuple[str, int]] = []
    start = 0
    while start < len(units):
        end = start + 1
        text = _render(units[start:end], wrap)
        size = tokens.count(text)
        while end < len(units):
            longer = _render(units[start : end + 1], wrap)
            longer_size = tokens.count(longer)
            if longer_size > max_tokens:
                break
            end, text, size = end + 1, longer, longer_size
        packed.append((text, size))
        start = end
    return packed
