"""Teaching texts of the demo catalog, and the files attached to two of its materials.

Each course with texts has a folder named by its slug in `demo_data.COURSES`; a material's text is
`<type_code>-<lesson number, 2 digits>.md` (`lecture-01.md`, `seminar-03.md`, `lab-02.md`),
Markdown in Russian that starts with `# <the material's title>`.

`demo_attachments()` builds, at seed time, a PDF handout of the first algorithms lecture and a DOCX
of the first algorithms lab from those same texts (`handouts.py`, reading them with the portal's
markdown-it parser in `blocks.py`). Both are byte-for-byte reproducible, so a re-seed gives equal
files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .handouts import DEMO_DATE, DOCX_TYPE, PDF_TYPE, markdown_to_docx, markdown_to_pdf

__all__ = [
    "DEMO_DATE",
    "DOCX_TYPE",
    "PDF_TYPE",
    "DemoAttachment",
    "demo_attachments",
    "material_bodies",
]

ROOT = Path(__file__).resolve().parent

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
