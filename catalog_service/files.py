"""What an uploaded file is, decided by its content (never by its name or the client's
Content-Type), and a name for it that is safe to store and to send back.

Binary formats are recognised by their signatures (the `filetype` library); the Office and
OpenDocument formats are ZIP archives whose directory is then checked, with limits on entry count,
total uncompressed size and compression ratio (a zip bomb is refused before anything unpacks it).
Text formats must be UTF-8 without NUL bytes and must not look like HTML, SVG or XML, which a
browser could be talked into running.
"""

import json
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import filetype

MAX_ZIP_ENTRIES = 10_000
MAX_UNCOMPRESSED = 512 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, over the whole archive
NAME_MAX = 200
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileKind:
    code: str  # also the canonical extension
    content_type: str
    extensions: tuple[str, ...]
    # The worker extracts text from these kinds into the material's text.
    extractable: bool


KINDS = {
    kind.code: kind
    for kind in (
        FileKind("pdf", "application/pdf", ("pdf",), True),
        FileKind(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ("docx",),
            True,
        ),
        FileKind(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ("pptx",),
            True,
        ),
        FileKind(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ("xlsx",),
            False,
        ),
        FileKind("odt", "application/vnd.oasis.opendocument.text", ("odt",), True),
        FileKind("odp", "application/vnd.oasis.opendocument.presentation", ("odp",), True),
        FileKind("png", "image/png", ("png",), False),
        FileKind("jpeg", "image/jpeg", ("jpg", "jpeg"), False),
        FileKind("zip", "application/zip", ("zip",), False),
        FileKind("ipynb", "application/x-ipynb+json", ("ipynb",), True),
        FileKind("md", "text/markdown; charset=utf-8", ("md", "markdown"), True),
        FileKind("csv", "text/csv; charset=utf-8", ("csv",), False),
        FileKind("txt", "text/plain; charset=utf-8", ("txt",), True),
    )
}
ALLOWED = "PDF, DOCX, PPTX, ODT, ODP, XLSX, TXT, MD, CSV, IPYNB, PNG, JPEG, ZIP"

# What filetype calls the formats we accept; everything else it recognises is refused.
_BINARY = {
    "pdf": "pdf",
    "docx": "docx",
    "pptx": "pptx",
    "xlsx": "xlsx",
    "odt": "odt",
    "odp": "odp",
    "png": "png",
    "jpg": "jpeg",
    "zip": "zip",
}
# The member each ZIP-based document must have (checked in the archive's directory).
_REQUIRED_MEMBER = {
    "docx": "word/document.xml",
    "pptx": "ppt/presentation.xml",
    "xlsx": "xl/workbook.xml",
    "odt": "content.xml",
    "odp": "content.xml",
}
_MARKUP_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml")


class RejectedFile(Exception):
    """The content is not one of the allowed kinds, or is unsafe to keep; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sniff(source: BinaryIO, name: str) -> FileKind:
    """The kind of the file in `source` (rewound afterwards); RejectedFile if not allowed."""
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    source.seek(0)
    if not head:
        raise RejectedFile("The file is empty.")
    guess = filetype.guess(head)
    if guess is not None:
        code = _BINARY.get(guess.extension)
        if code is None:
            raise RejectedFile(
                f"Files of this type ({guess.extension}) are not allowed: {ALLOWED}."
            )
        if code in _REQUIRED_MEMBER or code == "zip":
            code = _check_archive(source, code)
        return KINDS[code]
    if head.startswith(b"PK\x03\x04"):  # a ZIP that filetype could not name
        return KINDS[_check_archive(source, "zip")]
    return _text_kind(source, head, name)


def _check_archive(source: BinaryIO, code: str) -> str:
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise RejectedFile("The archive is damaged.") from error
    finally:
        source.seek(0)
    if len(entries) > MAX_ZIP_ENTRIES:
        raise RejectedFile(f"The archive holds more than {MAX_ZIP_ENTRIES} files.")
    unpacked = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries) or 1
    if unpacked > MAX_UNCOMPRESSED or unpacked / packed > MAX_RATIO:
        raise RejectedFile("The archive unpacks to far more than its size (a zip bomb).")
    names = {entry.filename for entry in entries}
    if code == "zip":
        # An Office/OpenDocument file that filetype saw only as a ZIP.
        for document, member in _REQUIRED_MEMBER.items():
            if member in names and document in ("docx", "pptx", "xlsx"):
                return document
        return "zip"
    if _REQUIRED_MEMBER[code] not in names:
        raise RejectedFile(f"The file is not a valid {code.upper()} document.")
    return code


def _text_kind(source: BinaryIO, head: bytes, name: str) -> FileKind:
    if b"\x00" in head:
        raise RejectedFile(f"Files of this type are not allowed: {ALLOWED}.")
    data = source.read()
    source.seek(0)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RejectedFile("Text files must be UTF-8.") from error
    if "\x00" in text:
        raise RejectedFile(f"Files of this type are not allowed: {ALLOWED}.")
    if text.lstrip()[:64].lower().encode().startswith(_MARKUP_STARTS):
        raise RejectedFile("HTML, SVG and XML files are not allowed (a browser could run them).")
    extension = _extension(name)
    if extension == "ipynb":
        if not _is_notebook(text):
            raise RejectedFile("The file is not a valid Jupyter notebook.")
        return KINDS["ipynb"]
    for code in ("md", "csv"):
        if extension in KINDS[code].extensions:
            return KINDS[code]
    return KINDS["txt"]


def _is_notebook(text: str) -> bool:
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(notebook, dict) and isinstance(notebook.get("cells"), list)


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def safe_file_name(name: str | None, kind: FileKind) -> str:
    """The client's file name without any directory, control, format (bidi, zero-width) or
    surrogate characters, at most NAME_MAX characters, ending in an extension of `kind`."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl"))
    name = " ".join(name.split()).strip(". ")
    if _extension(name) not in kind.extensions:
        name = f"{name or 'file'}.{kind.code}"
    if len(name) > NAME_MAX:
        stem, _, extension = name.rpartition(".")
        name = f"{stem[: NAME_MAX - len(extension) - 1].rstrip()}.{extension}"
    return name
