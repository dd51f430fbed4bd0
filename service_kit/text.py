"""Text as search compares it, the same on SQLite and PostgreSQL.

The database only ever compares folded strings byte for byte, so SQLite (whose `lower` and
`LIKE` fold only ASCII) and Postgres (whatever its collation) answer alike.
"""

import unicodedata

LIKE_ESCAPE = "\\"


def fold(text: str) -> str:
    """NFKC, case-folded, ё→е, no control or format characters, whitespace runs as one space."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    visible = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(visible.split())


def escape_like(text: str) -> str:
    """`%`, `_` and the escape character itself as literal characters in a LIKE pattern."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
