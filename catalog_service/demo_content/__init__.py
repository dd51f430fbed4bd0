"""Teaching texts of the demo catalog, and the files attached to two of its materials.

Each course with texts has a folder named by its slug in `demo_data.COURSES`; a material's text is
`<type_code>-<lesson number, 2 digits>.md` (`lecture-01.md`, `seminar-03.md`, `lab-02.md`),
Markdown in Russian that starts with `# <the material's title>`.

`demo_attachments()` builds, at seed time, a PDF handout of the first algorithms lecture and a DOCX
of the first algorithms lab from those same texts. Both are byte-for-byte reproducible: dates in
their metadata are fixed (and so are the DOCX's zip entry times), so a re-seed gives equal files.
The PDF embeds DejaVu fonts (`fonts/`, licence in `fonts/LICENSE`) for Cyrillic text.

fpdf2 and python-docx are imported only inside `demo_attachments()`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
FONTS = ROOT / "fonts"

# Creation and modification date written into the generated files.
DEMO_DATE = datetime(2024, 9, 2, 9, 0, tzinfo=UTC)

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FILE_NAME = re.compile(r"(lecture|seminar|lab)-(\d{2})\.md")


@dataclass(frozen=True)
class DemoAttachment:
    slug: str
    type_code: str
    lesson_number: int
    file_name: str
    content: bytes
    content_type: str


def material_bodies(slug: str) -> dict[tuple[str, int], str]:
    """The texts of a course's materials by (type_code, lesson_number); empty for a course
    without texts."""
    if not _SLUG.fullmatch(slug):
        return {}
    folder = ROOT / slug
    if not folder.is_dir():
        return {}
    bodies = {}
    for path in sorted(folder.iterdir()):
        match = _FILE_NAME.fullmatch(path.name)
        if match:
            bodies[(match[1], int(match[2]))] = path.read_text(encoding="utf-8")
    return bodies


def demo_attachments() -> list[DemoAttachment]:
    """Files to attach to demo materials, generated from the texts above."""
    algorithms = material_bodies("algorithms")
    return [
        DemoAttachment(
            slug="algorithms",
            type_code="lecture",
            lesson_number=1,
            file_name="Лекция 1. Введение в алгоритмы.pdf",
            content=markdown_to_pdf(
                algorithms[("lecture", 1)],
                course="Алгоритмы и структуры данных",
                label="Лекция 1",
            ),
            content_type=PDF_TYPE,
        ),
        DemoAttachment(
            slug="algorithms",
            type_code="lab",
            lesson_number=1,
            file_name="Лабораторная работа 1. Сортировки.docx",
            content=markdown_to_docx(
                algorithms[("lab", 1)],
                course="Алгоритмы и структуры данных",
                label="Лабораторная работа 1",
            ),
            content_type=DOCX_TYPE,
        ),
    ]


# --- A small Markdown reader: just the constructs the texts use -------------------------------


@dataclass(frozen=True)
class Block:
    kind: str  # heading, paragraph, bullet, number, quote, code, table
    text: str = ""
    level: int = 0  # heading level, or list nesting depth
    language: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_BULLET = re.compile(r"( *)[-*]\s+(.*)")
_NUMBER = re.compile(r"( *)(\d+)\.\s+(.*)")
_TABLE_RULE = re.compile(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?")


def parse_markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
        elif stripped.startswith("```"):
            language = stripped[3:].strip()
            i += 1
            code = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence
            blocks.append(Block("code", "\n".join(code), language=language))
        elif match := _HEADING.fullmatch(stripped):
            blocks.append(Block("heading", match[2], level=len(match[1])))
            i += 1
        elif stripped.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                row = lines[i].strip()
                if not _TABLE_RULE.fullmatch(row):
                    rows.append(tuple(cell.strip() for cell in row.strip("|").split("|")))
                i += 1
            blocks.append(Block("table", rows=tuple(rows)))
        elif stripped.startswith(">"):
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip().lstrip(">").strip())
                i += 1
            blocks.append(Block("quote", " ".join(quote)))
        elif match := _BULLET.fullmatch(line):
            blocks.append(Block("bullet", match[2], level=len(match[1]) // 2))
            i += 1
        elif match := _NUMBER.fullmatch(line):
            blocks.append(Block("number", f"{match[2]}. {match[3]}", level=len(match[1]) // 2))
            i += 1
        else:
            paragraph = [stripped]
            i += 1
            while i < len(lines) and _continues_paragraph(lines[i]):
                paragraph.append(lines[i].strip())
                i += 1
            blocks.append(Block("paragraph", " ".join(paragraph)))
    return blocks


def _continues_paragraph(line: str) -> bool:
    stripped = line.strip()
    return bool(
        stripped
        and not stripped.startswith(("```", "#", "|", ">"))
        and not _BULLET.fullmatch(line)
        and not _NUMBER.fullmatch(line)
    )


_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def inline_spans(text: str) -> Iterator[tuple[str, str]]:
    """(style, text) pieces of a line: style is "", "code", "bold" or "italic"."""
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            yield "", text[position : match.start()]
        if match[1] is not None:
            yield "code", match[1]
        elif match[2] is not None:
            yield "bold", match[2]
        else:
            yield "italic", match[3]
        position = match.end()
    if position < len(text):
        yield "", text[position:]


def plain(text: str) -> str:
    return "".join(piece for _, piece in inline_spans(text))


# --- PDF ------------------------------------------------------------------------------------

_PDF_SIZES = {1: 18, 2: 14, 3: 12}


def markdown_to_pdf(text: str, *, course: str, label: str) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    blocks = parse_markdown(text)
    title = blocks[0].text if blocks and blocks[0].kind == "heading" else label

    class Handout(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", size=8)
            self.set_text_color(110)
            self.cell(0, 5, f"{course} · {label}", new_x="LMARGIN", new_y="NEXT")
            self.ln(3)
            self.set_text_color(0)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("DejaVu", size=8)
            self.set_text_color(110)
            self.cell(0, 10, f"{self.page_no()}", align="C")
            self.set_text_color(0)

    pdf = Handout(format="A4")
    pdf.set_creation_date(DEMO_DATE)
    pdf.set_title(f"{label}. {title}")
    pdf.set_subject(course)
    pdf.set_author("Кафедра прикладной информатики")
    pdf.set_lang("ru")
    pdf.add_font("DejaVu", fname=str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVuMono", fname=str(FONTS / "DejaVuSansMono.ttf"))
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    def write(line: str, size: float = 10.5, indent: float = 0, height: float = 5.5) -> None:
        pdf.set_font("DejaVu", size=size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(0, height, plain(line), align="L", new_x="LMARGIN", new_y="NEXT")

    for block in blocks:
        if block.kind == "heading":
            size = _PDF_SIZES.get(block.level, 11)
            pdf.ln(4 if block.level > 1 else 0)
            write(block.text, size=size, height=size * 0.5)
            pdf.ln(2)
        elif block.kind == "paragraph":
            write(block.text)
            pdf.ln(2)
        elif block.kind == "bullet":
            write(f"•  {block.text}", indent=4 + 6 * block.level)
            pdf.ln(1)
        elif block.kind == "number":
            write(block.text, indent=4 + 6 * block.level)
            pdf.ln(1)
        elif block.kind == "quote":
            pdf.set_draw_color(160)
            top = pdf.get_y()
            write(block.text, indent=6)
            pdf.line(pdf.l_margin + 2, top, pdf.l_margin + 2, pdf.get_y())
            pdf.ln(2)
        elif block.kind == "code":
            pdf.set_font("DejaVuMono", size=8.5)
            pdf.set_fill_color(243, 243, 243)
            pdf.multi_cell(0, 4.3, block.text, fill=True, padding=2, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif block.kind == "table":
            pdf.set_font("DejaVu", size=9)
            with pdf.table(
                text_align="LEFT",
                line_height=5,
                headings_style=FontFace(fill_color=(230, 230, 230)),
            ) as table:
                for row in block.rows:
                    cells = table.row()
                    for cell in row:
                        cells.cell(plain(cell))
            pdf.ln(3)
    return bytes(pdf.output())


# --- DOCX -----------------------------------------------------------------------------------

CODE_FONT = "Courier New"


def markdown_to_docx(text: str, *, course: str, label: str) -> bytes:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, RGBColor

    blocks = parse_markdown(text)
    title = blocks[0].text if blocks and blocks[0].kind == "heading" else label

    document = Document()
    properties = document.core_properties
    properties.title = f"{label}. {title}"
    properties.subject = course
    properties.author = "Кафедра прикладной информатики"
    properties.last_modified_by = "Кафедра прикладной информатики"
    properties.language = "ru-RU"
    properties.revision = 1
    naive_date = DEMO_DATE.replace(tzinfo=None)
    properties.created = naive_date
    properties.modified = naive_date
    properties.last_printed = naive_date

    code_style = document.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    code_style.base_style = document.styles["Normal"]
    _set_font(code_style.font, CODE_FONT, Pt(9))
    code_style.paragraph_format.space_before = Pt(4)
    code_style.paragraph_format.space_after = Pt(8)

    subtitle = document.add_paragraph(f"{course} · {label}")
    subtitle.runs[0].font.color.rgb = RGBColor(0x6E, 0x6E, 0x6E)

    for block in blocks:
        if block.kind == "heading":
            document.add_heading(plain(block.text), level=min(block.level - 1, 4))
        elif block.kind in ("paragraph", "quote"):
            _add_inline(document.add_paragraph(), block.text, Pt)
        elif block.kind == "bullet":
            style = "List Bullet" if block.level == 0 else "List Bullet 2"
            _add_inline(document.add_paragraph(style=style), block.text, Pt)
        elif block.kind == "number":
            _add_inline(document.add_paragraph(), block.text, Pt)
        elif block.kind == "code":
            document.add_paragraph(block.text, style="Code")
        elif block.kind == "table":
            columns = max(len(row) for row in block.rows)
            table = document.add_table(rows=0, cols=columns)
            table.style = "Table Grid"
            for index, row in enumerate(block.rows):
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=False):
                    run = cell.paragraphs[0].add_run(plain(value))
                    run.bold = index == 0
            document.add_paragraph()

    buffer = io.BytesIO()
    document.save(buffer)
    return _normalized_zip(buffer.getvalue())


def _set_font(font: Any, name: str, size: Any) -> None:
    """Font name for every script (python-docx sets only the Latin ones), and size."""
    from docx.oxml.ns import qn

    font.name = name
    font.size = size
    fonts = font.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _add_inline(paragraph: Any, text: str, points: Any) -> None:
    for style, piece in inline_spans(text):
        run = paragraph.add_run(piece)
        if style == "code":
            _set_font(run.font, CODE_FONT, points(9.5))
        elif style == "bold":
            run.bold = True
        elif style == "italic":
            run.italic = True


def _normalized_zip(data: bytes) -> bytes:
    """The same archive with fixed entry times, so equal documents give equal bytes."""
    stamp = DEMO_DATE.timetuple()[:6]
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, source.read(entry.filename))
    return output.getvalue()
