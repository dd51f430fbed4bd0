"""Writes docs/architecture.md: how the processes call each other, and each service's tables.

The tables come from the services' SQLAlchemy models and the gateway's routes from its route
table, so the document cannot drift from the code: tests/deploy/test_architecture_doc.py fails
when the committed file differs from what this script renders.

    .venv/bin/python scripts/architecture_diagram.py           # rewrite the document
    .venv/bin/python scripts/architecture_diagram.py --check   # exit 1 if it is stale
"""

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from sqlalchemy import MetaData, Table
from sqlalchemy.types import TypeDecorator, TypeEngine

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from assistant_service.models import Base as AssistantBase  # noqa: E402
from auth_service.models import Base as AuthBase  # noqa: E402
from catalog_service.models import Base as CatalogBase  # noqa: E402
from favorites_service.models import Base as FavoritesBase  # noqa: E402
from gateway.routes import ROUTES  # noqa: E402
from service_kit.config import DEFAULT_PORTS  # noqa: E402

DOCUMENT = REPO_ROOT / "docs" / "architecture.md"

SERVICES = {
    "catalog": ("catalog_service", CatalogBase.metadata),
    "favorites": ("favorites_service", FavoritesBase.metadata),
    "auth": ("auth_service", AuthBase.metadata),
    "assistant": ("assistant_service", AssistantBase.metadata),
}
# Calls that are not in the gateway's route table, with the code that makes them.
SERVICE_CALLS = [
    ("favorites", "catalog", "GET /api/courses?ids=… (favorites_service/catalog.py)"),
    (
        "assistant",
        "catalog",
        "GET /api/courses/{id}/materials/…/text (assistant_service/catalog.py)",
    ),
]
# Who verifies access tokens against auth's published keys (service_kit.auth).
TOKEN_VERIFIERS = ("gateway", "catalog", "favorites", "assistant")
# Who keeps state in Redis when REDIS_URL is set (else in-process / in its database).
REDIS_USERS = {
    "catalog": "response cache, task queue",
    "auth": "failed-login counts",
    "assistant": "task queue",
}

TYPE_NAMES = {
    "integer": "integer",
    "big_integer": "bigint",
    "small_integer": "smallint",
    "string": "varchar",
    "text": "text",
    "boolean": "boolean",
    "datetime": "timestamp",
}


def _type_name(column_type: TypeEngine) -> tuple[str, str]:
    """Mermaid's type word for a column, and detail that belongs in its comment."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    name = TYPE_NAMES.get(column_type.__visit_name__, column_type.__visit_name__.lower())
    detail = ""
    if name == "timestamp" and getattr(column_type, "timezone", False):
        name = "timestamptz"
    length = getattr(column_type, "length", None)
    if length:
        detail = f"max {length}"
    return name, detail


def _keys(table: Table, column) -> str:
    unique = {
        constraint.columns.keys()[0]
        for constraint in table.constraints
        if constraint.__class__.__name__ == "UniqueConstraint" and len(constraint.columns) == 1
    }
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.foreign_keys:
        keys.append("FK")
    if column.unique or column.name in unique:
        keys.append("UK")
    return ", ".join(keys)


def er_diagram(metadata: MetaData) -> str:
    lines = ["```mermaid", "erDiagram"]
    relations = []
    for table in metadata.sorted_tables:
        lines.append(f"    {table.name} {{")
        for column in table.columns:
            type_name, detail = _type_name(column.type)
            notes = [part for part in (detail, "nullable" if column.nullable else "") if part]
            entry = f"        {type_name} {column.name}"
            if keys := _keys(table, column):
                entry += f" {keys}"
            if notes:
                entry += f' "{", ".join(notes)}"'
            lines.append(entry)
            for foreign_key in column.foreign_keys:
                parent = foreign_key.column.table.name
                optional = "|o" if column.nullable else "||"
                relations.append(f'    {parent} {optional}--o{{ {table.name} : "{column.name}"')
        lines.append("    }")
    lines += relations
    lines.append("```")
    return "\n".join(lines)


def constraints_list(metadata: MetaData) -> str:
    """Composite unique constraints and indexes: what the ER diagram cannot show."""
    items = []
    for table in metadata.sorted_tables:
        for constraint in table.constraints:
            columns = constraint.columns.keys()
            if constraint.__class__.__name__ == "UniqueConstraint" and len(columns) > 1:
                items.append(f"- `{table.name}`: unique ({', '.join(columns)})")
        for index in sorted(table.indexes, key=lambda index: index.name or ""):
            kind = "unique index" if index.unique else "index"
            using = index.dialect_options["postgresql"].get("using")
            suffix = f", {using.upper()} on PostgreSQL" if using else ""
            columns = ", ".join(column.name for column in index.columns)
            items.append(f"- `{table.name}`: {kind} `{index.name}` ({columns}){suffix}")
    return "\n".join(items) if items else "- none beyond the primary keys"


def services_diagram() -> str:
    by_upstream = defaultdict(list)
    for route in ROUTES:
        service = route.service
        # Show a prefix once, not each of its more specific public sub-routes.
        if not any(route.prefix.startswith(other + "/") for other in by_upstream[service]):
            by_upstream[service].append(route.prefix)
    lines = [
        "```mermaid",
        "flowchart LR",
        "    browser([Browser]) -->|HTTP| gateway",
        f'    gateway["gateway :{DEFAULT_PORTS["gateway"]}<br/>web UI, /api/docs, token check"]',
    ]
    for service in SERVICES:
        lines.append(f'    {service}["{service} :{DEFAULT_PORTS[service]}"]')
    for service, prefixes in by_upstream.items():
        lines.append(f'    gateway -->|"{", ".join(prefixes)}"| {service}')
    for caller, callee, what in SERVICE_CALLS:
        lines.append(f'    {caller} -->|"{what}"| {callee}')
    for verifier in TOKEN_VERIFIERS:
        lines.append(f'    {verifier} -.->|"JWKS (cached)"| auth')
    for service in SERVICES:
        lines.append(f"    {service} --> {service}_db[({service} database)]")
    lines.append("    redis[(Redis, optional)]")
    for service, purpose in REDIS_USERS.items():
        lines.append(f'    {service} -.->|"{purpose}"| redis')
    lines.append("```")
    return "\n".join(lines)


def render() -> str:
    parts = [
        "# Architecture",
        "",
        "<!-- Generated by scripts/architecture_diagram.py from the models and the gateway's"
        " route table; do not edit by hand. -->",
        "",
        "## Processes and calls",
        "",
        "Solid arrows are requests on the request path; dotted ones are key fetches and"
        " caches. Every service owns its database: no service reads another's tables, and"
        " there are no foreign keys across services (a `user_id` is an auth user id, a"
        " `course_id` in favorites is a catalog course id, checked over HTTP).",
        "",
        services_diagram(),
    ]
    for service, (package, metadata) in SERVICES.items():
        parts += [
            "",
            f"## {service} database (`{package}/models.py`)",
            "",
            er_diagram(metadata),
            "",
            "Constraints and indexes:",
            "",
            constraints_list(metadata),
        ]
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale")
    arguments = parser.parse_args()
    document = render()
    if arguments.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            print(f"{DOCUMENT.relative_to(REPO_ROOT)} is stale: run {sys.argv[0]}")
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
