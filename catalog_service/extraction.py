"""Text from a material's file, for search and for the course assistant.

Parsers of untrusted documents run in a child process with a wall-clock limit, a CPU limit and an
address-space limit, so a hostile file (a decompression bomb, a parser that loops) costs one child
and ends as a failed extraction with a reason the teacher can read; the worker goes on.

`python -m catalog_service.extraction KIND PATH MAX_CHARS` is that child: it prints one JSON
object, {"text": ...} or {"error": ...}.
"""

import json
import resource
import subprocess
import sys
from pathlib import Path

MAX_PAGES = 500
MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space for the child


class ExtractionFailed(Exception):
    """The file's text could not be read; `reason` is shown to the teacher."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def extract_bounded(path: Path, kind: str, *, timeout: float, max_chars: int) -> str:
    """The text of the file at `path`, read by a child process under limits."""
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "catalog_service.extraction", kind, str(path), str(max_chars)],
            capture_output=True,
            timeout=timeout,
            preexec_fn=_limit_child(timeout),
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ExtractionFailed(f"Разбор файла не уложился в {timeout:g} с.") from error
    try:
        answer = json.loads(finished.stdout)
    except ValueError as error:
        # Killed by a limit (memory, CPU) or crashed before it could answer.
        raise ExtractionFailed("Файл слишком сложен для разбора или повреждён.") from error
    if "error" in answer:
        raise ExtractionFailed(answer["error"])
    return answer["text"]


def _limit_child(timeout: float):
    def apply_limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        cpu = int(timeout) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    return apply_limits


def extract(kind: str, path: Path, max_chars: int) -> str:
    """The text of one file, at most `max_chars` characters (in this process: no limits)."""
    readers = {
        "pdf": _pdf,
        "docx": _docx,
        "pptx": _pptx,
        "odt": _opendocument,
        "odp": _opendocument,
        "ipynb": _notebook,
        "md": _plain,
        "txt": _plain,
    }
    if kind not in readers:
        raise ExtractionFailed("Из файлов этого типа текст не извлекается.")
    text = readers[kind](path, max_chars)
    return _tidy(text)[:max_chars]


def _tidy(text: str) -> str:
    """Drop characters Postgres cannot store and trailing blanks; keep paragraphs."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip()


def _pdf(path: Path, max_chars: int) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionFailed("PDF зашифрован паролем.")
        if _pdf_has_javascript(reader):
            raise ExtractionFailed("PDF содержит JavaScript; такой файл не разбирается.")
        parts, size = [], 0
        for page in reader.pages[:MAX_PAGES]:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size >= max_chars:
                break
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise ExtractionFailed(f"PDF повреждён: {error}") from error
    return "\n\n".join(parts)


def _pdf_has_javascript(reader) -> bool:
    root = reader.trailer["/Root"]
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        return True
    action = root.get("/OpenAction")
    if action is not None:
        action = action.get_object()
        if isinstance(action, dict) and action.get("/S") == "/JavaScript":
            return True
    return "/AA" in root


def _docx(path: Path, max_chars: int) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as error:
        raise ExtractionFailed(f"DOCX повреждён: {error}") from error
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _pptx(path: Path, max_chars: int) -> str:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        presentation = Presentation(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as error:
        raise ExtractionFailed(f"PPTX повреждён: {error}") from error
    slides = []
    for number, slide in enumerate(presentation.slides, start=1):
        lines = [f"Слайд {number}"]
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    lines.append(" | ".join(cell.text for cell in row.cells))
        slides.append("\n".join(lines))
    return "\n\n".join(slides)


def _opendocument(path: Path, max_chars: int) -> str:
    from odf import teletype
    from odf import text as odf_text
    from odf.opendocument import load

    try:
        document = load(str(path))
    except Exception as error:  # odfpy raises whatever its XML parser or zipfile raises
        raise ExtractionFailed(f"Документ OpenDocument повреждён: {error}") from error
    parts = []
    for element in document.getElementsByType(odf_text.H) + document.getElementsByType(odf_text.P):
        parts.append(teletype.extractText(element))
    return "\n".join(parts)


def _notebook(path: Path, max_chars: int) -> str:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, RecursionError) as error:
        raise ExtractionFailed("Блокнот Jupyter повреждён.") from error
    parts = []
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            source = f"```\n{source}\n```"
        parts.append(source)
    return "\n\n".join(parts)


def _plain(path: Path, max_chars: int) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        return handle.read(max_chars)


def main(argv: list[str]) -> None:
    kind, path, max_chars = argv[0], Path(argv[1]), int(argv[2])
    try:
        answer = {"text": extract(kind, path, max_chars)}
    except ExtractionFailed as error:
        answer = {"error": error.reason}
    except MemoryError:
        answer = {"error": "Файл слишком велик для разбора."}
    except RecursionError:
        answer = {"error": "Файл слишком сложен для разбора."}
    except Exception as error:  # a parser's own bug must still end as a reason, not a crash
        answer = {"error": f"Файл не удалось разобрать ({type(error).__name__})."}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
