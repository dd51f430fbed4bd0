"""The assistant end to end as real processes: the gateway, the assistant and its worker, the
catalog, and the OpenAI stand-in — generation with progress and cancel, review, split, report
and export through the gateway, on each database backend."""

import json
import time

import pytest
import requests

from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess, TaskConsumer, free_port

from .conftest import TEACHER

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(database_backend, catalog_world, token_issuer, openai_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("assistant-stack")
    with migrated_database("assistant_service", database_backend, directory) as url:
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "CATALOG_URL": catalog_world.url,
            "REDIS_URL": "",  # the worker's queue: a SQLite file in this run's VAR_DIR
            "VAR_DIR": str(directory),
            "OPENAI_API_KEY": openai_server.api_key,
            "OPENAI_BASE_URL": openai_server.base_url,
            "OPENAI_MAX_RETRIES": "1",
            "LOG_LEVEL": "WARNING",
        }
        with (
            ServerProcess("assistant_service:create_app()", env) as assistant,
            TaskConsumer("assistant_service.tasks.huey", env, directory / "worker.log"),
            ServerProcess(
                "gateway:create_app()",
                {
                    "ASSISTANT_URL": assistant.url,
                    "CATALOG_URL": catalog_world.url,
                    "AUTH_URL": f"http://127.0.0.1:{free_port()}",
                    "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",
                    "AUTH_JWKS_URL": token_issuer.jwks_url,
                },
                threads=8,
            ) as gateway,
        ):
            yield Stack(gateway.url, token_issuer)


class Stack:
    def __init__(self, url: str, issuer):
        self.url = url
        self.teacher = {"Authorization": f"Bearer {issuer.token(TEACHER, 'teacher')}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, self.url + "/api/assistant" + path, headers=self.teacher, timeout=30, **kwargs
        )

    def wait_for_run(self, location: str, until, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = requests.get(self.url + location, headers=self.teacher, timeout=10).json()
            if until(run):
                return run
            time.sleep(0.2)
        raise AssertionError(f"the run did not get there: {run}")


def test_generate_review_split_report_and_export_through_the_gateway(
    stack, catalog_world, openai_server
):
    openai_server.reset()
    dataset = stack.call(
        "POST", f"/courses/{catalog_world.course_id}/datasets", json={"name": "Сквозной"}
    ).json()
    chunk_ids = [
        chunk["id"] for chunk in stack.call("GET", f"/datasets/{dataset['id']}/chunks").json()
    ]
    started = stack.call(
        "POST",
        f"/datasets/{dataset['id']}/generate",
        json={"questions_per_chunk": 2, "chunk_ids": chunk_ids[:12]},
    )
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    seen_progress = set()
    run = stack.wait_for_run(
        location,
        lambda run: (
            seen_progress.add(run["chunks_done"]) or run["status"] in ("succeeded", "failed")
        ),
    )
    assert run["status"] == "succeeded", run
    assert run["chunks_done"] == run["chunks_total"] == 12
    assert run["examples_created"] >= 12 and run["cost_usd"] > 0

    pending = stack.call(
        "GET", f"/datasets/{dataset['id']}/examples", params={"status": "pending", "page_size": 100}
    ).json()
    assert len(pending) == run["examples_created"]
    approved = stack.call(
        "POST",
        f"/datasets/{dataset['id']}/review",
        json={"example_ids": [e["id"] for e in pending], "status": "approved"},
    ).json()
    assert approved == {"changed": len(pending)}
    split = stack.call("POST", f"/datasets/{dataset['id']}/split", json={"seed": 1}).json()
    report = stack.call("GET", f"/datasets/{dataset['id']}/report").json()
    assert report["splits"]["train"]["examples"] == split["train"]
    assert report["training"]["billed_tokens"] > 0

    exported = stack.call(
        "GET", f"/datasets/{dataset['id']}/export.jsonl", params={"split": "train"}
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("application/jsonl")
    lines = exported.content.decode("utf-8").splitlines()
    assert len(lines) == split["train"]
    assert all(json.loads(line)["messages"][-1]["role"] == "assistant" for line in lines)


def test_a_run_cancelled_through_the_gateway_stops_between_chunks(
    stack, catalog_world, openai_server
):
    openai_server.reset()
    openai_server.delay_next(0.4, count=100, path_prefix="/chat/completions")
    dataset = stack.call(
        "POST", f"/courses/{catalog_world.course_id}/datasets", json={"name": "Отменённый"}
    ).json()
    started = stack.call("POST", f"/datasets/{dataset['id']}/generate", json={})
    location = started.headers["Location"]
    stack.wait_for_run(location, lambda run: run["chunks_done"] >= 1)
    cancelled = requests.post(stack.url + location + "/cancel", headers=stack.teacher, timeout=10)
    assert cancelled.status_code == 200
    run = stack.wait_for_run(location, lambda run: run["status"] == "cancelled")
    assert 1 <= run["chunks_done"] < run["chunks_total"]
    openai_server.reset()
