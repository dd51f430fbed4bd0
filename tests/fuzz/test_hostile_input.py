"""Hostile bodies to EVERY JSON endpoint of the merged spec, through the gateway, as an admin (so
no permission check stops the request before its body is read).

Each must get a 4xx JSON error in the one error shape, never a 5xx, and nothing may be stored:
every table of every service's database reads the same after the suite as before it.
"""

import json
import re
from collections import Counter

import pytest
import requests
from sqlalchemy import MetaData, create_engine, select

SURROGATE = "\\ud800"  # as JSON escapes it
BIDI_AND_CONTROL = ["\u202egnp.exe", "a\u200bb", "\ufeffa", "a\u2066b", "a\x00b", "a\x1bb"]
ONE_MIB = 1024 * 1024


def json_operations(spec: dict) -> list[tuple[str, str, dict]]:
    """(method, path, body schema) of every operation that takes a JSON body."""
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = resolve(spec, content["application/json"]["schema"])
                found.append((method.upper(), path, schema))
    return found


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def hostile_bodies(schema: dict) -> list[tuple[str, str]]:
    """(label, raw JSON text) of the bodies to send to an endpoint with this body schema."""
    properties = schema.get("properties", {})
    strings = [name for name, field in properties.items() if "string" in str(field.get("type"))]
    numbers = [name for name, field in properties.items() if field.get("type") == "integer"]
    bodies = [
        ("nesting 1000 arrays", "[" * 1000 + "]" * 1000),
        ("nesting 1000 objects", '{"a":' * 1000 + "1" + "}" * 1000),
        ("nesting 50 inside a field", json.dumps({"x": 0}).replace("0", "[" * 50 + "]" * 50)),
        ("a surrogate key", '{"' + SURROGATE + '": 1}'),
        ("NaN", '{"x": NaN}'),
        ("a 5000-digit number", '{"x": ' + "9" * 5000 + "}"),
        ("1e999", '{"x": 1e999}'),
        ("not UTF-8", '{"x": "\xff"}'),
        ("truncated", '{"x": '),
        ("empty object", "{}"),
        ("top-level array", "[]"),
        ("top-level string", '"x"'),
        ("top-level number", "1"),
        ("top-level null", "null"),
        ("top-level true", "true"),
    ]
    for name in strings:
        bodies += [
            (f"{name}: a lone surrogate", f'{{"{name}": "a{SURROGATE}"}}'),
            (f"{name}: 900,000 characters", json.dumps({name: "x" * 900_000})),
            (f"{name}: a number", json.dumps({name: 12345})),
            (f"{name}: a list", json.dumps({name: ["a"]})),
            (f"{name}: an object", json.dumps({name: {"a": 1}})),
        ]
        bodies += [
            (f"{name}: {value!r}", json.dumps({name: value}))
            for value in BIDI_AND_CONTROL
            if _refuses_invisible(properties[name])
        ]
    for name in numbers:
        bodies += [
            (f"{name}: 2**64", json.dumps({name: 2**64})),
            (f"{name}: -2**63", json.dumps({name: -(2**63)})),
            (f"{name}: 1e300", json.dumps({name: 1e300})),
            (f"{name}: a string", json.dumps({name: "1"})),
            (f"{name}: true", json.dumps({name: True})),
        ]
    for name, field in properties.items():
        if field.get("type") == "array":
            bodies += [
                (f"{name}: 10,000 items", json.dumps({name: list(range(10_000))})),
                (f"{name}: nested", json.dumps({name: [[1]]})),
                (f"{name}: a string", json.dumps({name: "1,2"})),
            ]
    return bodies


def _refuses_invisible(field: dict) -> bool:
    """Fields the spec documents as one line of visible text (service_kit's SingleLineText)."""
    return "bidi" in field.get("description", "") and field.get("pattern") == r"\S"


def concrete(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: str(ids[match.group(1)]), path)


def snapshot(database_urls: dict[str, str]) -> dict[str, list]:
    """Every row of every table of every service's database."""
    rows = {}
    for package, url in database_urls.items():
        engine = create_engine(url)
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                result = connection.execute(select(table))
                rows[f"{package}.{table.name}"] = sorted(map(repr, result))
        engine.dispose()
    return rows


def test_every_json_endpoint_refuses_hostile_bodies(portal):
    spec = portal.spec()
    operations = json_operations(spec)
    # Every documented JSON body of every service is covered, not just the ones known today.
    assert len(operations) >= 10, operations
    api = portal.system
    admin = {"Authorization": f"Bearer {portal.tokens['admin']}"}
    student_id = api.api("GET", "/api/auth/me", portal.tokens["student"]).json()["id"]
    material = api.api("GET", "/api/courses/1/materials").json()["materials"][0]["id"]
    # The assistant's datasets, examples and runs: ids that exist nowhere, so a body that passes
    # validation meets a 404 and stores nothing.
    absent = 2**31 - 1
    ids = {
        "course_id": 1,
        "material_id": material,
        "user_id": student_id,
        "dataset_id": absent,
        "example_id": absent,
        "run_id": absent,
        "job_id": absent,
        "evaluation_id": absent,
        "item_id": absent,
        "conversation_id": absent,
        "message_id": absent,
        "model": "gpt-4o",
    }

    before = snapshot(api.database_urls)
    figures: Counter = Counter()
    problems = []
    with requests.Session() as session:
        for method, path, schema in operations:
            url = portal.url + concrete(path, ids)
            for label, raw in hostile_bodies(schema):
                data = raw.encode("latin-1" if label == "not UTF-8" else "utf-8")
                response = session.request(
                    method,
                    url,
                    data=data,
                    headers={**admin, "Content-Type": "application/json"},
                    timeout=30,
                )
                figures["requests"] += 1
                figures[str(response.status_code)] += 1
                problem = _problem(response)
                optional = not schema.get("required") and not schema.get("minProperties")
                if label == "empty object" and optional and response.status_code < 300:
                    problem = None  # {} is valid where the spec makes every field optional
                if problem:
                    problems.append(f"{method} {path} [{label}] → {problem}")
    after = snapshot(api.database_urls)

    print(
        f"\nhostile input: {len(operations)} JSON endpoints, {figures['requests']} requests, "
        + ", ".join(f"{code}: {n}" for code, n in sorted(figures.items()) if code != "requests")
    )
    assert not problems, "\n".join(problems)
    changed = [table for table in before if before[table] != after.get(table)]
    assert not changed, f"hostile bodies changed stored rows in {changed}"


def _problem(response: requests.Response) -> str | None:
    """Why this answer is not a 4xx JSON error in the one error shape, or None."""
    if not 400 <= response.status_code < 500:
        return f"{response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} without a JSON body: {response.text[:200]}"
    if not (isinstance(body, dict) and body.get("code") == response.status_code):
        return f"{response.status_code} with another shape: {str(body)[:200]}"
    if "Traceback" in response.text:
        return "a traceback in the answer"
    return None


@pytest.mark.parametrize("size", [ONE_MIB + 1, 5 * ONE_MIB])
def test_bodies_over_the_cap_are_413(portal, size):
    body = json.dumps({"name": "x" * size})
    response = requests.post(
        portal.url + "/api/courses",
        data=body,
        headers={
            "Authorization": f"Bearer {portal.tokens['admin']}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 413 and response.json()["code"] == 413
