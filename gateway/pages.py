"""The web UI: `/` is gateway/web/index.html, other paths are files under gateway/web."""

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

WEB_DIR = Path(__file__).resolve().parent / "web"

pages = Blueprint("pages", __name__)

# Shown only while the web UI has not been built into gateway/web yet.
_PLACEHOLDER = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Курсы</title></head>
<body><h1>Курсы</h1><p>Веб-интерфейс ещё не установлен. API: <a href="/api/docs">/api/docs</a></p>
</body></html>
"""


@pages.get("/")
def index():
    """The single page of the web UI."""
    if not (WEB_DIR / "index.html").is_file():
        return Response(_PLACEHOLDER, mimetype="text/html")
    return send_from_directory(WEB_DIR, "index.html")


@pages.get("/<path:filename>")
def web_file(filename: str):
    """A static file of the web UI (scripts, styles, images); revalidated via ETag."""
    return send_from_directory(WEB_DIR, filename)
