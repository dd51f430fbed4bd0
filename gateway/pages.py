"""The web UI: `/` is gateway/web/index.html, other paths are files under gateway/web."""

from pathlib import Path

from flask import Blueprint, send_from_directory

WEB_DIR = Path(__file__).resolve().parent / "web"

pages = Blueprint("pages", __name__)


@pages.get("/")
def index():
    """The single page of the web UI."""
    return send_from_directory(WEB_DIR, "index.html")


@pages.get("/<path:filename>")
def web_file(filename: str):
    """A static file of the web UI (scripts, styles, images); revalidated via ETag."""
    return send_from_directory(WEB_DIR, filename)
