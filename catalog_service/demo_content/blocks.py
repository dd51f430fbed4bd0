"""A teaching text as a flat list of blocks for the handout writers, read from markdown-it tokens.

The parser is the portal's own (`rendering.markdown_parser()`: CommonMark with tables and
strikethrough, raw HTML off), so a handout reads a body exactly as the material page renders it.
Nesting is kept as a level: a list item's first paragraph becomes a `bullet` or `number` block at
its list depth, further paragraphs and code of the item are `paragraph` and `code` blocks one
level in, and a paragraph in a blockquote is a `quote` block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from markdown_it.token import Token

from catalog_service.rendering import markdown_parser


@dataclass(frozen=True)
class Span:
    """A run of inline text with one style."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    strike: bool = False
    link: str = ""


Cell = tuple[Span, ...]


@dataclass(frozen=True)
class Block:
    kind: str  # heading, paragraph, bullet, number, quote, code, table, rule
    spans: tuple[Span, ...] = ()
    level: int = 0  # heading level; for the others the list nesting depth
    marker: str = ""  # "•" for a bullet, "3." for a number
    code: str = ""
    language: str = ""
    rows: tuple[tuple[Cell, ...], ...] = ()
    header_rows: int = 0

    @property
    def text(self) -> str:
        return plain(self.spans)


def plain(spans: Iterable[Span]) -> str:
    return "".join(span.text for span in spans)


@dataclass
class _Item:
    kind: str
    marker: str
    started: bool = False


def read_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lists: list[str] = []
    items: list[_Item] = []
    quotes = 0
    heading = 0
    rows: list[tuple[Cell, ...]] = []
    header_rows = 0
    row: list[Cell] | None = None
    for token in markdown_parser().parse(text):
        kind = token.type
        if kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = 0
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append("bullet" if kind == "bullet_list_open" else "number")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            marker = "•" if lists[-1] == "bullet" else f"{token.info}{token.markup}"
            items.append(_Item(lists[-1], marker))
        elif kind == "list_item_close":
            item = items.pop()
            if not item.started:  # an empty item, or one that starts with code
                blocks.append(Block(item.kind, level=len(items), marker=item.marker))
        elif kind == "blockquote_open":
            quotes += 1
        elif kind == "blockquote_close":
            quotes -= 1
        elif kind in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            code = token.content.rstrip("\n")
            blocks.append(Block("code", code=code, language=language, level=len(items)))
        elif kind == "hr":
            blocks.append(Block("rule", level=len(items)))
        elif kind == "table_open":
            rows, header_rows = [], 0
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            rows.append(tuple(row))
            row = None
        elif kind == "thead_close":
            header_rows = len(rows)
        elif kind == "table_close":
            blocks.append(Block("table", rows=tuple(rows), header_rows=header_rows))
        elif kind == "inline":
            spans = inline_spans(token)
            if row is not None:
                row.append(spans)
            elif heading:
                blocks.append(Block("heading", spans, level=heading))
            elif items and not items[-1].started:
                item = items[-1]
                item.started = True
                blocks.append(Block(item.kind, spans, level=len(items) - 1, marker=item.marker))
            else:
                blocks.append(Block("quote" if quotes else "paragraph", spans, level=len(items)))
    return blocks


def inline_spans(token: Token) -> tuple[Span, ...]:
    """The styled runs of an `inline` token; neighbours of the same style are merged."""
    spans: list[Span] = []
    bold = italic = strike = 0
    links: list[str] = []

    def add(text: str, *, code: bool = False) -> None:
        span = Span(text, bold > 0, italic > 0, code, strike > 0, links[-1] if links else "")
        if spans and _style(spans[-1]) == _style(span):
            spans[-1] = replace(spans[-1], text=spans[-1].text + text)
        elif text:
            spans.append(span)

    for child in token.children or ():
        kind = child.type
        if kind in ("text", "html_inline"):
            add(child.content)
        elif kind == "code_inline":
            add(child.content, code=True)
        elif kind == "softbreak":
            add(" ")
        elif kind == "hardbreak":
            add("\n")
        elif kind == "image":  # the alt text
            add(child.content)
        elif kind == "strong_open":
            bold += 1
        elif kind == "strong_close":
            bold -= 1
        elif kind == "em_open":
            italic += 1
        elif kind == "em_close":
            italic -= 1
        elif kind == "s_open":
            strike += 1
        elif kind == "s_close":
            strike -= 1
        elif kind == "link_open":
            links.append(str(child.attrGet("href") or ""))
        elif kind == "link_close":
            links.pop()
    return tuple(spans)


def _style(span: Span) -> tuple[bool, bool, bool, bool, str]:
    return span.bold, span.italic, span.code, span.strike, span.link
