"""Real documents of every kind the catalog accepts (and some it must refuse), made by the same
libraries people's tools use, for upload and extraction tests."""

import io
import json
import zipfile
from pathlib import Path

import docx
from fpdf import FPDF
from odf.opendocument import OpenDocumentPresentation, OpenDocumentText
from odf.text import H, P
from pptx import Presentation
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript

FONT = Path(__file__).resolve().parents[2] / "catalog_service/demo_content/fonts/DejaVuSans.ttf"


def pdf(text: str, *, pages: int = 1, filler: int = 0) -> bytes:
    """A PDF with `text` on each page; `filler` adds that many bytes of incompressible data (an
    embedded file) to reach a size."""
    document = FPDF()
    document.add_font("DejaVu", fname=str(FONT))
    document.set_font("DejaVu", size=12)
    for number in range(1, pages + 1):
        document.add_page()
        document.multi_cell(0, 8, f"{text}\nСтраница {number}")
    data = bytes(document.output())
    if filler:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.add_attachment("filler.bin", _incompressible(filler))
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    return data


def _incompressible(size: int) -> bytes:
    import random

    return random.Random(size).randbytes(size)


def pdf_with_javascript(text: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.add_open_action(JavaScript("app.alert('pwned');"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(text: str, password: str = "secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_file(heading: str, paragraphs: list[str]) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_file(slides: list[tuple[str, str]]) -> bytes:
    presentation = Presentation()
    for title, body in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def odt_file(heading: str, paragraphs: list[str]) -> bytes:
    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text=heading))
    for paragraph in paragraphs:
        document.text.addElement(P(text=paragraph))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def odp_file(lines: list[str]) -> bytes:
    from odf.draw import Frame, Page, TextBox
    from odf.style import MasterPage, PageLayout

    document = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    page = Page(masterpagename=master)
    document.presentation.addElement(page)
    frame = Frame(width="20cm", height="10cm", x="1cm", y="1cm")
    page.addElement(frame)
    box = TextBox()
    frame.addElement(box)
    for line in lines:
        box.addElement(P(text=line))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def notebook(markdown: str, code: str) -> bytes:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [markdown]},
        {"cell_type": "code", "metadata": {}, "source": [code], "outputs": []},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def zip_bomb_docx(unpacked: int = 1024 * 1024 * 1024) -> bytes:
    """A DOCX whose one part unpacks to `unpacked` bytes of zeros (a few hundred KB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(unpacked // len(block)):
                part.write(block)
    return out.getvalue()


def png_file() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def zip_file(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
