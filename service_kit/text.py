"""Text as search compares it, the same on SQLite and PostgreSQL, in every service.

The database only ever compares folded strings byte for byte, so SQLite (whose `lower` and
`LIKE` fold only ASCII) and Postgres (whatever its collation) answer alike. Words are reduced to
their Snowball stems ("лекция", "лекции", "лекциях" → "лекц"; Latin words by the English
stemmer), so the catalog's search and the assistant's retrieval match the same way.
"""

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

LIKE_ESCAPE = "\\"
WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
_local = threading.local()  # a Snowball stemmer keeps state while it works: one per thread


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


def _stemmers():
    if not hasattr(_local, "russian"):
        _local.russian = snowballstemmer.stemmer("russian")
        _local.english = snowballstemmer.stemmer("english")
    return _local.russian, _local.english


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of one folded word (remembered: a language has far fewer words than texts)."""
    russian, english = _stemmers()
    if _CYRILLIC.search(word):
        return russian.stemWord(word)
    if _LATIN.search(word):
        return english.stemWord(word)
    return word


def words(text: str) -> list[str]:
    """The folded words of `text`."""
    return WORD.findall(fold(text))
