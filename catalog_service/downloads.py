"""A material's file as an HTTP answer: always an attachment (never rendered by the browser),
with its original name (RFC 6266 `filename*`), a strong ETag (the content's sha256), and single
byte ranges, so an interrupted download resumes where it stopped."""

from urllib.parse import quote

from flask import Response, request
from werkzeug.datastructures import ContentRange

from service_kit.errors import error_response

from .models import Material
from .storage import FileStorage


def file_response(material: Material, storage: FileStorage) -> Response:
    etag, size = material.file_sha256, material.file_size
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        _describe(response, material)
        return response
    start, stop = 0, size
    requested = request.range
    if requested is not None and len(requested.ranges) == 1 and _if_range_holds(etag):
        bounds = requested.range_for_length(size)
        if bounds is None:
            return error_response(
                416, "The range is outside the file.", headers={"Content-Range": f"bytes */{size}"}
            )
        start, stop = bounds
    body = storage.read(etag, start, stop - 1) if stop > start else iter(())
    response = Response(body, status=206 if (start, stop) != (0, size) else 200)
    response.direct_passthrough = True
    response.content_length = stop - start
    if response.status_code == 206:
        response.content_range = ContentRange("bytes", start, stop, size)
    _describe(response, material)
    return response


def _if_range_holds(etag: str) -> bool:
    """A Range with If-Range applies only if the client's copy is this very content."""
    if_range = request.if_range
    if if_range.etag is None and if_range.date is None:
        return True
    return if_range.etag == etag


def _describe(response: Response, material: Material) -> None:
    response.headers["Content-Type"] = material.file_content_type
    response.headers["Content-Disposition"] = content_disposition(material.file_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Even if a browser were told to show it, it may run nothing and load nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(material.file_sha256)


def content_disposition(name: str) -> str:
    """`attachment` with the exact name as RFC 5987 UTF-8 (every current browser reads it) and,
    for the oldest clients, the name itself when it is plain ASCII, else `file.<extension>`."""
    extension = name.rpartition(".")[2] if "." in name else ""
    plain = name.isascii() and name.isprintable() and not any(ch in name for ch in '"\\;')
    fallback = name if plain else (f"file.{extension}" if extension.isascii() else "file")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
