"""A material's Markdown body, rendered to HTML that is safe to insert into the page.

markdown-it (CommonMark + tables and strikethrough) with raw HTML off renders; the nh3 sanitiser
(Ammonia) then keeps only an allow-list of tags and attributes, and links only to http(s) and
mailto. Images are dropped: a remote image would load from anywhere the body names, and a
material's pictures belong in its file. The HTML is rendered when the body is written and stored.
"""

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote",
    "ul", "ol", "li", "strong", "em", "s", "del", "code", "pre", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "code": {"class"},  # the fence's language, "language-python"
    "th": {"style"},
    "td": {"style"},
}
ALLOWED_STYLES = {"text-align"}


def markdown_parser() -> MarkdownIt:
    """The configured parser, for code that walks its tokens (the demo handouts)."""
    return _markdown


def render_markdown(body: str) -> str:
    if not body.strip():
        return ""
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties=ALLOWED_STYLES,
        strip_comments=True,
    )


def markdown_to_text(body: str) -> str:
    """The words of a Markdown body without its markup (for search and snippets)."""
    if not body.strip():
        return ""
    parts = []
    for token in _markdown.parse(body):
        if token.type == "inline":
            parts.append("".join(child.content for child in token.children or () if child.content))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content.rstrip())
    return "\n".join(part for part in parts if part)
