"""The committed Postman collection covers the API as it is now, and every request in it
checks its outcome. (scripts/run-newman.sh runs it against the real processes.)"""

import json
import re
import runpy

import pytest

from service_kit.config import REPO_ROOT

COLLECTION = REPO_ROOT / "docs" / "postman" / "course-portal.postman_collection.json"


@pytest.fixture(scope="module")
def builder() -> dict:
    return runpy.run_path(str(REPO_ROOT / "scripts" / "build-postman-collection.py"))


@pytest.fixture(scope="module")
def requests_in_collection() -> list[dict]:
    collection = json.loads(COLLECTION.read_text())
    return [item for folder in collection["item"] for item in folder["item"]]


def _operation(item: dict) -> str:
    request = item["request"]
    path = "/".join(
        "{" + part[1:] + "}" if part.startswith(":") else part for part in request["url"]["path"]
    )
    return f"{request['method']} /{path}"


def test_every_operation_of_the_api_has_a_request(builder, requests_in_collection):
    api = builder["operations"](builder["merged_openapi"]())
    in_collection = {_operation(item) for item in requests_in_collection}
    assert api - in_collection == set(), "run scripts/build-postman-collection.py"
    assert in_collection - api == set(), "requests for operations the API no longer has"


def test_the_collection_is_the_scenario_the_builder_describes(builder, requests_in_collection):
    steps = [step for _folder, folder_steps in builder["FOLDERS"] for step in folder_steps]
    assert [(item["name"], _operation(item)) for item in requests_in_collection] == [
        (step.name, step.operation) for step in steps
    ], "docs/postman is stale: run scripts/build-postman-collection.py"


def test_every_request_asserts_its_status_and_request_id(requests_in_collection):
    for item in requests_in_collection:
        (tests,) = [event for event in item["event"] if event["listen"] == "test"]
        script = "\n".join(tests["script"]["exec"])
        assert re.search(r"pm\.response\.to\.have\.status\(\d{3}\)", script), item["name"]
        assert "X-Request-ID" in script, item["name"]


def test_documented_answers_are_checked_against_their_schema(builder):
    spec = builder["merged_openapi"]()
    steps = [step for _folder, folder_steps in builder["FOLDERS"] for step in folder_steps]
    checked = 0
    for step in steps:
        schema = builder["_response_schema"](spec, step)
        script = "\n".join(builder["_test_script"](step, schema))
        if step.status < 400 and schema is not None:
            assert "jsonSchema(" in script, step.name
            checked += 1
    assert checked >= 25


def test_no_secrets_or_machine_addresses_are_committed(requests_in_collection):
    text = COLLECTION.read_text()
    assert "{{adminPassword}}" in text and "{{teacherPassword}}" in text
    assert not re.search(r"eyJ[\w-]{20,}\.[\w-]{20,}\.[\w-]{20,}", text)  # no real tokens
    assert "18000" not in text
