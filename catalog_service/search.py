"""Full-text search over courses and materials, the same on SQLite and PostgreSQL.

Words are folded (case, ё→е, NFKC) and reduced to their Snowball stems in Python ("лекция",
"лекции", "лекциях" → "лекц"; Latin words by the English stemmer), and the stems are stored in
`title_stems` / `text_stems` columns on every write. The database then matches stems only: a
GIN index over `to_tsvector('simple', …)` on PostgreSQL, an FTS5 table kept by triggers on
SQLite. Both see the same tokens, so both find the same rows: every word of the query, in any
order, the last one also as a prefix (typing "сортир" already finds "сортировка"). `%`, `_` and
other punctuation are not words and match nothing by themselves.

Courses and materials are ranked together by one score computed here from the stems (a match
in a title counts more than in the text), so the order does not depend on the backend. A hit's
snippet is a window of its text with the matching words marked, as data segments.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, column, func, literal_column, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session, contains_eager, undefer

from service_kit.text import WORD, fold, stem, words

from .models import Course, Material
from .rendering import markdown_to_text

QUERY_MAX_LENGTH = 100
# Matching rows ranked per query (see _ranked).
CANDIDATES = 500
LIMIT_DEFAULT = 20
LIMIT_MAX = 50
MAX_TERMS = 12
# Enough text to index for any real lecture; a huge extracted book is indexed from its start.
INDEXED_CHARS = 300_000
SNIPPET_SOURCE_CHARS = 20_000
SNIPPET_WIDTH = 220

# PostgreSQL keeps each row's document vector in a generated `search_fts` column (title stems
# weighted A, text stems B) with a GIN index over it (migration 0004): matching and ranking read
# it instead of parsing the stems again for every row.
PG_VECTOR_COLUMN = "search_fts"


def stems(text: str) -> str:
    """The stems of `text`, space-separated, as the search columns store them."""
    return " ".join(stem(word) for word in words(text[:INDEXED_CHARS]))


def course_columns(name: str, description: str) -> dict[str, str]:
    return {"title_stems": stems(name), "text_stems": stems(description)}


def material_columns(
    title: str, description: str, body: str, extracted_text: str | None
) -> dict[str, str]:
    text_parts = [description, markdown_to_text(body), extracted_text or ""]
    return {
        "title_stems": stems(title),
        "text_stems": stems("\n".join(part for part in text_parts if part)),
    }


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """The stems to find, all of them; the last one also matches as a prefix."""

    terms: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> "Query":
        terms = tuple(dict.fromkeys(stem(word) for word in words(query)))[:MAX_TERMS]
        return cls(terms)

    def matches(self, word_stem: str) -> bool:
        return word_stem in self.terms[:-1] or (
            bool(self.terms) and word_stem.startswith(self.terms[-1])
        )

    def tsquery(self) -> str:
        *exact, last = self.terms
        return " & ".join([*exact, f"{last}:*"])

    def fts5(self) -> str:
        *exact, last = self.terms
        return " AND ".join([*(f'"{term}"' for term in exact), f'"{last}" *'])


@dataclass
class Hit:
    kind: str  # course | material
    course: Course
    material: Material | None = None
    score: float = 0.0
    snippet: list[dict] = field(default_factory=list)


def search(
    session: Session,
    query: str,
    *,
    course_id: int | None = None,
    type_code: str | None = None,
    limit: int = LIMIT_DEFAULT,
) -> list[Hit]:
    """Courses and materials matching every word of `query`, best first."""
    parsed = Query.parse(query)
    if not parsed.terms:
        return []
    if _on_postgres(session):
        # A generic plan (psycopg prepares repeated statements) cannot know how rare the words
        # are, and scans every row for a rare one; each search is planned for its own words.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    hits = []
    if course_id is None and type_code is None:
        hits += [Hit("course", course) for course in _courses(session, parsed, limit)]
    hits += [
        Hit("material", material.course, material)
        for material in _materials(session, parsed, course_id, type_code, limit)
    ]
    for order, hit in enumerate(hits):
        _score(hit, parsed, order)
    hits.sort(key=lambda hit: hit.score, reverse=True)
    hits = hits[:limit]
    _add_snippets(session, hits, parsed)
    return hits


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _courses(session: Session, query: Query, limit: int) -> Sequence[Course]:
    matching = select(Course.id).where(Course.is_active, Course.deleted_at.is_(None))
    statement = select(Course)
    return session.scalars(
        _ranked(session, "courses", Course.id, matching, statement, query, limit)
    ).all()


def _materials(
    session: Session, query: Query, course_id: int | None, type_code: str | None, limit: int
) -> Sequence[Material]:
    matching = (
        select(Material.id)
        .join(Course, Course.id == Material.course_id)
        .where(Course.is_active, Course.deleted_at.is_(None), Material.deleted_at.is_(None))
    )
    if course_id is not None:
        matching = matching.where(Material.course_id == course_id)
    if type_code is not None:
        matching = matching.where(Material.type_code == type_code)
    statement = (
        select(Material)
        .join(Material.course)
        .options(contains_eager(Material.course), undefer(Material.title_stems))
    )
    ranked = _ranked(session, "materials", Material.id, matching, statement, query, limit)
    return session.scalars(ranked).unique().all()


def _ranked(session: Session, table: str, id_column, matching, statement, query: Query, limit):
    """`statement` narrowed to the rows of `matching` that hold every query term, best first.

    Ranking costs a little per matching row, and a common word matches most of a large
    catalog: so at most CANDIDATES matching rows (found through the full-text index) are
    ranked. A rare word's matches are all ranked; a common word's first CANDIDATES are.
    """
    if _on_postgres(session):
        vector = literal_column(f"{table}.{PG_VECTOR_COLUMN}")
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), query.tsquery())
        candidates = matching.where(vector.op("@@")(tsquery)).limit(CANDIDATES).subquery()
        rank = func.ts_rank(vector, tsquery).desc()
    else:
        fts = sql_table(f"{table}_fts", column("rowid"))
        candidates = (
            matching.add_columns(literal_column(f"bm25({table}_fts, 4.0, 1.0)").label("rank"))
            .join(fts, fts.c.rowid == id_column)
            .where(literal_column(fts.name).op("MATCH")(bindparam("fts_query", query.fts5())))
            .limit(CANDIDATES)
            .subquery()
        )
        rank = candidates.c.rank
    return (
        statement.join(candidates, candidates.c.id == id_column)
        .order_by(rank, id_column)
        .limit(limit)
    )


def _score(hit: Hit, query: Query, order: int) -> None:
    """Every hit has every word somewhere; words in its title add to that, and the database's
    own rank orders hits within a kind. The same formula on both backends."""
    row = hit.material or hit.course
    title = set((row.title_stems or "").split())
    in_title = sum(1 for term in query.terms if _found(term, title, query))
    hit.score = round(1 + 2 * in_title / len(query.terms) + 1 / (order + 10), 4)


def _found(term: str, stems_present: Iterable[str], query: Query) -> bool:
    if term != query.terms[-1]:
        return term in stems_present
    return any(present.startswith(term) for present in stems_present)


# --- snippets --------------------------------------------------------------------------------


def _add_snippets(session: Session, hits: list[Hit], query: Query) -> None:
    material_ids = [hit.material.id for hit in hits if hit.material is not None]
    texts = {}
    if material_ids:
        rows = session.execute(
            select(
                Material.id,
                func.substr(Material.body, 1, SNIPPET_SOURCE_CHARS),
                func.substr(Material.extracted_text, 1, SNIPPET_SOURCE_CHARS),
            ).where(Material.id.in_(material_ids))
        )
        texts = {row[0]: (markdown_to_text(row[1] or ""), row[2] or "") for row in rows}
    for hit in hits:
        if hit.material is None:
            sources = [hit.course.description, hit.course.name]
        else:
            body, extracted = texts.get(hit.material.id, ("", ""))
            sources = [body, extracted, hit.material.description, hit.material.title]
        hit.snippet = snippet(sources, query)


def snippet(sources: list[str], query: Query) -> list[dict]:
    """A window of the first source that has a match, its matching words marked."""
    for source in sources:
        for match in WORD.finditer(source):
            if query.matches(stem(fold(match.group()))):
                return _window(source, match.start(), query)
    return _segments(_cut(sources[0] if sources else "", 0, SNIPPET_WIDTH), query)


def _window(source: str, first: int, query: Query) -> list[dict]:
    start = max(0, first - SNIPPET_WIDTH // 4)
    if start:
        space = source.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    return _segments(_cut(source, start, start + SNIPPET_WIDTH), query)


def _cut(source: str, start: int, end: int) -> str:
    piece = " ".join(source[start:end].split())
    if end < len(source):
        piece = piece.rsplit(" ", 1)[0] + " …"
    return ("… " if start else "") + piece


def _segments(piece: str, query: Query) -> list[dict]:
    segments: list[dict] = []
    position = 0
    for match in WORD.finditer(piece):
        if query.matches(stem(fold(match.group()))):
            if match.start() > position:
                segments.append({"text": piece[position : match.start()], "match": False})
            segments.append({"text": match.group(), "match": True})
            position = match.end()
    if position < len(piece):
        segments.append({"text": piece[position:], "match": False})
    return segments
