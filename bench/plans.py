"""EXPLAIN ANALYZE of the statements the catalog's search really sends, on the large catalog.

`services.search_courses` runs as it does in the service; every SELECT it issues is captured
with its parameters and explained. The plans go to a text file; the one-line summary per query
names the index each statement used, so a search that stopped using its trigram index (or
started sorting every match) shows up in the benchmark's output, not only in its figures.
"""

import re
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from catalog_service import services
from service_kit.config import normalize_database_url

# One query per kind of plan: rare text, text common in descriptions only, absent text, and
# 1-2 letters (no trigram to search for).
EXPLAINED_QUERIES = ("криптограф", "экзамен", "квазар", "ма", "я")
_INDEX = re.compile(
    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:Backward )?(?:using|on) (\S+)"
)
_EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


def explain_search(url: str, output: Path, queries=EXPLAINED_QUERIES) -> list[str]:
    """Write the plans to `output`; return one summary line per query."""
    engine = create_engine(normalize_database_url(url))
    captured: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "courses" in statement:
            captured.append((statement, parameters))

    summaries, report = [], []
    try:
        for query in queries:
            captured.clear()
            event.listen(engine, "before_cursor_execute", capture)
            with Session(engine) as session:
                services.search_courses(session, query)
            event.remove(engine, "before_cursor_execute", capture)
            parts = []
            with engine.connect() as connection:
                for statement, parameters in captured:
                    plan = "\n".join(
                        row[0]
                        for row in connection.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                        )
                    )
                    report.append(f"-- query {query!r}\n{statement}\n{parameters}\n{plan}\n")
                    indexes = ", ".join(dict.fromkeys(_INDEX.findall(plan))) or "no index"
                    took = _EXECUTION.search(plan)
                    parts.append(f"{indexes} {took.group(1) if took else '?'} ms")
            summaries.append(f"{query!r}: " + "; then ".join(parts))
    finally:
        engine.dispose()
    output.write_text("\n".join(report))
    return summaries
