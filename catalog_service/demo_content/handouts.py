"""PDF (fpdf2) and DOCX (python-docx) handouts written from a teaching text's blocks.

Both are byte-for-byte reproducible: dates in their metadata are fixed (and so are the DOCX's zip
entry times), so equal texts give equal files. The PDF embeds DejaVu fonts (`fonts/`, licence in
`fonts/LICENSE`) for Cyrillic text; it has no bold or italic faces, so there only code spans
(monospace) and links stand out. fpdf2 and python-docx are imported inside the writers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .blocks import Span, plain, read_blocks

FONTS = Path(__file__).resolve().parent / "fonts"

# Creation and modification date written into the generated files.
DEMO_DATE = datetime(2024, 9, 2, 9, 0, tzinfo=UTC)

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

AUTHOR = "Кафедра прикладной информатики"
CODE_FONT = "Courier New"

# --- PDF ------------------------------------------------------------------------------------

_PDF_SIZES = {1: 18, 2: 14, 3: 12}
_PDF_INDENT = 6  # mm per list level
_LINK_COLOR = (30, 80, 170)


def markdown_to_pdf(text: str, *, course: str, label: str) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    blocks = read_blocks(text)
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
    pdf.set_author(AUTHOR)
    pdf.set_lang("ru")
    pdf.add_font("DejaVu", fname=str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVuMono", fname=str(FONTS / "DejaVuSansMono.ttf"))
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    margin = pdf.l_margin

    def write(
        spans: Iterable[Span],
        size: float = 10.5,
        indent: float = 0,
        height: float = 5.5,
        marker: str = "",
    ) -> None:
        """Styled runs that wrap at `indent` from the margin; a list marker hangs before them."""
        pdf.set_x(margin + indent)
        if marker:
            pdf.set_font("DejaVu", size=size)
            width = max(5.0, pdf.get_string_width(marker) + 2)
            pdf.cell(width, height, marker)
            indent += width
        pdf.set_left_margin(margin + indent)
        for span in spans:
            if span.code:
                pdf.set_font("DejaVuMono", size=size * 0.9)
            else:
                pdf.set_font("DejaVu", size=size)
            if span.link:
                pdf.set_text_color(*_LINK_COLOR)
            pdf.write(height, span.text, link=span.link)
            pdf.set_text_color(0)
        pdf.ln(height)
        pdf.set_left_margin(margin)
        pdf.set_x(margin)

    for block in blocks:
        indent = _PDF_INDENT * block.level
        if block.kind == "heading":
            size = _PDF_SIZES.get(block.level, 11)
            pdf.ln(4 if block.level > 1 else 0)
            write(block.spans, size=size, height=size * 0.5)
            pdf.ln(2)
        elif block.kind == "paragraph":
            write(block.spans, indent=indent + (4 if block.level else 0))
            pdf.ln(2)
        elif block.kind in ("bullet", "number"):
            write(block.spans, indent=4 + indent, marker=block.marker)
            pdf.ln(1)
        elif block.kind == "quote":
            pdf.set_draw_color(160)
            top = pdf.get_y()
            write(block.spans, indent=indent + 6)
            pdf.line(margin + indent + 2, top, margin + indent + 2, pdf.get_y())
            pdf.ln(2)
        elif block.kind == "code":
            pdf.set_font("DejaVuMono", size=8.5)
            pdf.set_fill_color(243, 243, 243)
            pdf.set_x(margin + indent + (4 if block.level else 0))
            pdf.multi_cell(0, 4.3, block.code, fill=True, padding=2, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif block.kind == "rule":
            pdf.set_draw_color(160)
            pdf.line(margin, pdf.get_y() + 2, pdf.w - pdf.r_margin, pdf.get_y() + 2)
            pdf.ln(6)
        elif block.kind == "table":
            pdf.set_font("DejaVu", size=9)
            with pdf.table(
                text_align="LEFT",
                line_height=5,
                first_row_as_headings=block.header_rows > 0,
                headings_style=FontFace(fill_color=(230, 230, 230)),
            ) as table:
                for row in block.rows:
                    cells = table.row()
                    for cell in row:
                        cells.cell(plain(cell))
            pdf.ln(3)
    return bytes(pdf.output())


# --- DOCX -----------------------------------------------------------------------------------


def markdown_to_docx(text: str, *, course: str, label: str) -> bytes:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    blocks = read_blocks(text)
    title = blocks[0].text if blocks and blocks[0].kind == "heading" else label

    document = Document()
    properties = document.core_properties
    properties.title = f"{label}. {title}"
    properties.subject = course
    properties.author = AUTHOR
    properties.last_modified_by = AUTHOR
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

    def indented(paragraph: Any, level: int) -> Any:
        if level:
            paragraph.paragraph_format.left_indent = Pt(18 * level)
        return paragraph

    for block in blocks:
        if block.kind == "heading":
            heading = document.add_heading(level=min(block.level - 1, 4))
            _add_spans(heading, block.spans, Pt)
        elif block.kind == "paragraph":
            _add_spans(indented(document.add_paragraph(), block.level), block.spans, Pt)
        elif block.kind == "quote":
            quote = indented(document.add_paragraph(style="Quote"), block.level)
            _add_spans(quote, block.spans, Pt)
        elif block.kind == "bullet":
            style = "List Bullet" if block.level == 0 else f"List Bullet {min(block.level + 1, 3)}"
            _add_spans(document.add_paragraph(style=style), block.spans, Pt)
        elif block.kind == "number":
            paragraph = indented(document.add_paragraph(f"{block.marker} "), block.level)
            _add_spans(paragraph, block.spans, Pt)
        elif block.kind == "code":
            indented(document.add_paragraph(block.code, style="Code"), block.level)
        elif block.kind == "rule":
            document.add_paragraph("* * *").alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif block.kind == "table":
            columns = max(len(row) for row in block.rows)
            table = document.add_table(rows=0, cols=columns)
            table.style = "Table Grid"
            for index, row in enumerate(block.rows):
                cells = table.add_row().cells
                for cell, spans in zip(cells, row, strict=False):
                    _add_spans(cell.paragraphs[0], spans, Pt, bold=index < block.header_rows)
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


def _add_spans(paragraph: Any, spans: Iterable[Span], points: Any, *, bold: bool = False) -> None:
    for span in spans:
        run = paragraph.add_run(span.text)
        if span.code:
            _set_font(run.font, CODE_FONT, points(9.5))
        if span.bold or bold:
            run.bold = True
        if span.italic:
            run.italic = True
        if span.strike:
            run.font.strike = True
        if span.link:
            run.underline = True


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
