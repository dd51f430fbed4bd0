"""docs/architecture.md is what scripts/architecture_diagram.py renders from the code now."""

import re
import runpy

from service_kit.config import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "architecture_diagram.py"


def _script() -> dict:
    return runpy.run_path(str(SCRIPT))


def test_the_committed_document_is_up_to_date():
    committed = (REPO_ROOT / "docs" / "architecture.md").read_text()
    assert committed == _script()["render"](), (
        "docs/architecture.md is stale: run .venv/bin/python scripts/architecture_diagram.py"
    )


def test_every_table_and_column_of_every_service_is_drawn():
    script = _script()
    document = script["render"]()
    for _service, (_package, metadata) in script["SERVICES"].items():
        for table in metadata.sorted_tables:
            assert f"    {table.name} {{" in document
            for column in table.columns:
                assert f" {column.name}" in document


def test_every_gateway_route_appears_in_the_call_diagram():
    script = _script()
    diagram = script["services_diagram"]()
    shown = set(re.findall(r"/api[\w/.-]*", diagram))
    for route in script["ROUTES"]:
        prefix = route.prefix
        assert any(prefix == top or prefix.startswith(top + "/") for top in shown), prefix
