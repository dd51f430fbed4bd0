"""Property-based fuzzing of the merged OpenAPI document against the whole portal.

Every operation the gateway documents is called with cases schemathesis generates from the
spec: valid ones (positive) and ones that break it (negative), as an admin, a teacher, a
student and anonymously. Two checks: no 5xx ever, and every answer matches the response schema
the spec documents. Bounded: a fixed number of examples per operation and role, a time budget
for the whole run (well under 3 minutes), no shrinking. The figures are printed (`-s`).
"""

import time
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

ROLES = ("admin", "teacher", "student", None)
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
BUDGET_SECONDS = 150
CHECKS = [not_a_server_error, response_schema_conformance]


def run_operation(operation, mode, role, base_url, session, figures, failures, deadline):
    headers = {"Authorization": f"Bearer {role[1]}"} if role[1] else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimise
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        if time.monotonic() > deadline:
            return
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=15)
        figures["cases"] += 1
        figures[f"status {response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as error:  # a check failed: report them all
            failures.append(
                f"{operation.label} [{mode.value}, {role[0]}]"
                f" → {response.status_code}: {str(error)[:600]}\n"
                f"    reproduce: {case.as_curl_command(headers=headers)[:600]}"
            )

    try:
        call()
    except Unsatisfiable:  # negative mode, and nothing in the operation to break
        figures["unbreakable"] += 1


def test_merged_spec_holds_against_the_portal(sqlite_portal):
    started = time.monotonic()
    deadline = started + BUDGET_SECONDS
    schema = schemathesis.openapi.from_url(sqlite_portal.url + "/api/docs/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]

    figures: Counter = Counter()
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            for name in ROLES:
                role = (name or "anonymous", sqlite_portal.tokens.get(name))
                for mode in EXAMPLES:
                    run_operation(
                        operation,
                        mode,
                        role,
                        sqlite_portal.url,
                        session,
                        figures,
                        failures,
                        deadline,
                    )
    elapsed = time.monotonic() - started

    statuses = ", ".join(f"{key}: {figures[key]}" for key in sorted(figures) if "xx" in key)
    print(
        f"\nschemathesis {schemathesis.__version__}: {len(operations)} operations, "
        f"{figures['cases']} cases ({statuses}), {len(failures)} failures, {elapsed:.1f} s"
    )
    for failure in failures:
        print(failure)
    assert time.monotonic() < deadline + 30, "the run went past its time budget"
    assert figures["cases"] >= len(operations) * len(ROLES) * 4, "too few cases ran"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])
