"""The assistant end to end as real processes: the gateway, the assistant and its worker, the
catalog, and the OpenAI stand-in — generation with progress and cancel, review, split, report
and export through the gateway, on each database backend."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from assistant_service import prompting
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
            "ASSISTANT_JOB_POLL_SECONDS": "0.5",
            "LOG_LEVEL": "WARNING",
        }
        # Threads enough for twenty students asking at once, in the assistant and in the
        # gateway's share for it.
        with (
            ServerProcess("assistant_service:create_app()", env, threads=24) as assistant,
            TaskConsumer("assistant_service.tasks.huey", env, directory / "worker.log"),
            ServerProcess(
                "gateway:create_app()",
                {
                    "ASSISTANT_URL": assistant.url,
                    "CATALOG_URL": catalog_world.url,
                    "AUTH_URL": f"http://127.0.0.1:{free_port()}",
                    "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",
                    "AUTH_JWKS_URL": token_issuer.jwks_url,
                    "GATEWAY_UPSTREAM_CONCURRENCY": "24",
                },
                threads=32,
            ) as gateway,
        ):
            yield Stack(gateway.url, token_issuer)


class Stack:
    def __init__(self, url: str, issuer):
        self.url = url
        self.teacher = {"Authorization": f"Bearer {issuer.token(TEACHER, 'teacher')}"}
        self.admin = {"Authorization": f"Bearer {issuer.token(1, 'admin')}"}

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


def example_line(number: int) -> str:
    messages = prompting.conversation(
        "Алгоритмы и структуры данных",
        f"Вопрос номер {number}?",
        [prompting.Source(1, "Лекция", f"Текст {number}.")],
        f"Ответ номер {number} [1].",
    )
    return json.dumps({"messages": messages}, ensure_ascii=False)


def imported_dataset(stack: Stack, course_id: int, examples: int) -> dict:
    """A dataset of `examples` imported, approved and split examples."""
    dataset = stack.call("POST", f"/courses/{course_id}/datasets", json={"name": "Импорт"}).json()
    path = f"/datasets/{dataset['id']}"
    lines = "\n".join(example_line(number) for number in range(examples))
    stack.call("POST", f"{path}/import", files={"file": ("d.jsonl", lines)})
    listed = stack.call("GET", f"{path}/examples", params={"page_size": 100}).json()
    ids = [example["id"] for example in listed]
    stack.call("POST", f"{path}/review", json={"example_ids": ids, "status": "approved"})
    stack.call("POST", f"{path}/split", json={"seed": 2})
    return dataset


def test_a_fine_tuning_job_through_the_gateway_reaches_its_model_and_loss_curve(
    stack, catalog_world, openai_server
):
    openai_server.reset()
    openai_server.configure_jobs(advance_on_retrieve=True)
    dataset = imported_dataset(stack, catalog_world.course_id, 30)
    started = stack.call("POST", f"/datasets/{dataset['id']}/jobs", json={"suffix": "algo"})
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    job = stack.wait_for_run(location, lambda job: job["status"] in ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    assert (
        job["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:")
        and "algo" in job["fine_tuned_model"]
    )
    assert job["cost_usd"] == pytest.approx(job["trained_tokens"] * 3.0 / 1_000_000)
    assert job["events"] and job["checkpoints"]
    curve = requests.get(stack.url + location + "/metrics", headers=stack.teacher, timeout=10)
    points = curve.json()
    assert len(points) >= 2 and points[0]["step"] < points[-1]["step"]
    assert points[-1]["train_loss"] < points[0]["train_loss"]
    listed = stack.call("GET", f"/courses/{catalog_world.course_id}/jobs").json()
    assert job["id"] in {item["id"] for item in listed}


def test_a_failed_job_shows_the_providers_reason_and_a_cancelled_one_stops(
    stack, catalog_world, openai_server
):
    openai_server.reset()
    openai_server.configure_jobs(advance_on_retrieve=False)  # they wait until told
    course = catalog_world.course_id
    failing, cancelled = (
        stack.call("POST", f"/datasets/{imported_dataset(stack, course, 20)['id']}/jobs", json={})
        for _ in range(2)
    )
    assert failing.status_code == cancelled.status_code == 202
    submitted = stack.wait_for_run(failing.headers["Location"], lambda job: job["provider_job_id"])
    openai_server.fail_job(submitted["provider_job_id"], "The job failed due to an invalid file.",
                           code="invalid_training_file")  # fmt: skip
    failed = stack.wait_for_run(failing.headers["Location"], lambda job: job["status"] == "failed")
    assert "invalid file" in failed["error"] and failed["cost_usd"] in (None, 0)
    stack.wait_for_run(cancelled.headers["Location"], lambda job: job["provider_job_id"])
    asked = stack.call("POST", cancelled.headers["Location"].removeprefix("/api/assistant")
                       + "/cancel")  # fmt: skip
    assert asked.status_code in (200, 202), asked.text
    stopped = stack.wait_for_run(
        cancelled.headers["Location"], lambda job: job["status"] == "cancelled"
    )
    assert stopped["fine_tuned_model"] is None
    assert any(request["path"].endswith("/cancel") for request in openai_server.requests())


def test_a_job_over_the_courses_budget_is_refused(stack, catalog_world, openai_server):
    openai_server.reset()
    course = catalog_world.course_id
    dataset = imported_dataset(stack, course, 20)
    committed = stack.call("GET", f"/courses/{course}/settings").json()["committed_usd"]
    budget = requests.put(
        stack.url + f"/api/assistant/courses/{course}/settings",
        json={"training_budget_usd": committed + 0.000001},
        headers=stack.admin,
        timeout=10,
    )
    assert budget.status_code == 200
    refused = stack.call("POST", f"/datasets/{dataset['id']}/jobs", json={})
    assert refused.status_code == 409 and "budget" in refused.json()["message"]
    teacher_sets = stack.call("PUT", f"/courses/{course}/settings", json={"training_budget_usd": 1})
    assert teacher_sets.status_code == 403
    requests.put(
        stack.url + f"/api/assistant/courses/{course}/settings",
        json={"training_budget_usd": None},
        headers=stack.admin,
        timeout=10,
    )


def test_a_student_asks_through_the_gateway_and_the_answer_streams(
    stack, catalog_world, openai_server, token_issuer
):
    openai_server.reset()
    openai_server.script_chat(["Алгоритм — это конечная последовательность шагов [1]."])
    student = {"Authorization": f"Bearer {token_issuer.token(31, 'student')}"}
    with requests.post(
        stack.url + f"/api/assistant/courses/{catalog_world.course_id}/chat",
        json={"question": "Что такое алгоритм?"},
        headers=student,
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines(decode_unicode=True) if line]
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert events[0] == "sources" and events[-1] == "done" and "delta" in events
    done = json.loads(lines[-1].removeprefix("data: "))
    assert done["answer"] == "Алгоритм — это конечная последовательность шагов [1]."
    assert done["citations"][0]["material_id"] in catalog_world.material_ids.values()


def test_a_fine_tuned_model_is_activated_and_rolled_back(stack, catalog_world, openai_server,
                                                         token_issuer):  # fmt: skip
    openai_server.reset()
    openai_server.configure_jobs(advance_on_retrieve=True)
    course = catalog_world.course_id
    dataset = imported_dataset(stack, course, 20)
    location = stack.call("POST", f"/datasets/{dataset['id']}/jobs", json={}).headers["Location"]
    job = stack.wait_for_run(location, lambda job: job["status"] == "succeeded")
    evaluated = stack.call("POST", f"/jobs/{job['id']}/evaluations")
    assert evaluated.status_code == 202, evaluated.text
    report = stack.wait_for_run(
        evaluated.headers["Location"], lambda report: report["status"] in ("succeeded", "failed")
    )
    assert report["status"] == "succeeded" and report["items"] >= 1
    assert report["tuned"]["correctness"]["mean"] is not None
    pairs = stack.call("GET", f"/evaluations/{report['id']}/pairs").json()
    picked = stack.call(
        "PUT", f"/evaluations/{report['id']}/pairs/{pairs[0]['item_id']}", json={"pick": "B"}
    )
    assert picked.json()["pick"] == "B"
    chosen = stack.call("PUT", f"/courses/{course}/model", json={"model": job["fine_tuned_model"]})
    assert chosen.status_code == 200 and chosen.json()["active_model"] == job["fine_tuned_model"]
    refused = stack.call("PUT", f"/courses/{course}/model", json={"model": "ft:someone-else"})
    assert refused.status_code == 422
    student = {"Authorization": f"Bearer {token_issuer.token(33, 'student')}"}
    answered = requests.post(
        stack.url + f"/api/assistant/courses/{course}/chat",
        json={"question": "Что такое стек?"}, headers=student, timeout=30,
    )  # fmt: skip
    assert answered.status_code == 200
    assert (
        openai_server.requests("/chat/completions")[-1]["json"]["model"] == job["fine_tuned_model"]
    )
    back = stack.call("POST", f"/courses/{course}/model/rollback")
    assert back.json()["model"] is None and back.json()["active_model"] == "gpt-4o-mini"


def test_twenty_students_at_once_never_spend_past_the_courses_budget(
    stack, catalog_world, openai_server, token_issuer
):
    """Each answer reserves its worst case before the provider is asked and settles from the
    response's usage, so askers racing for the last of a month's budget cannot overspend it."""
    openai_server.reset()
    course = catalog_world.course_id
    admin = {"headers": stack.admin, "timeout": 10}
    prices = requests.get(stack.url + "/api/assistant/prices", **admin).json()
    listed = next(price for price in prices if price["model"] == "gpt-4o-mini")
    # A thousand times the list price, so a budget of a few dollars lasts a few answers; each
    # answer is held by the provider a moment so that the askers overlap.
    dear = {"input": 150, "cached_input": 75, "output": 600}
    assert requests.put(stack.url + "/api/assistant/prices/gpt-4o-mini", json=dear, **admin).ok
    budget = 3.0
    settings = stack.url + f"/api/assistant/courses/{course}/settings"
    spent_before = stack.call("GET", f"/courses/{course}/usage").json()["chat_this_month"]
    assert requests.put(
        settings, json={"monthly_chat_budget_usd": spent_before["spent_usd"] + budget}, **admin
    ).ok
    openai_server.delay_next(0.4, count=20, path_prefix="/chat/completions")

    def ask(student: int) -> int:
        token = token_issuer.token(student, "student")
        with requests.post(
            stack.url + f"/api/assistant/courses/{course}/chat",
            json={"question": f"Что такое очередь? ({student})"},
            headers={"Authorization": f"Bearer {token}"},
            stream=True,
            timeout=60,
        ) as response:
            if response.status_code == 200:
                assert b"event: done" in response.content
            else:
                assert response.headers["Content-Type"] == "application/json"
            return response.status_code

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(ask, range(400, 420)))
        usage = stack.call("GET", f"/courses/{course}/usage").json()["chat_this_month"]
    finally:
        requests.put(settings, json={"monthly_chat_budget_usd": None}, **admin)
        original = {name: listed[name] for name in ("training", "input", "cached_input", "output")}
        requests.put(stack.url + "/api/assistant/prices/gpt-4o-mini", json=original, **admin)
    assert set(statuses) == {200, 429}, statuses  # some answered, the rest refused in words
    assert usage["reserved_usd"] == 0  # every reservation settled
    assert spent_before["spent_usd"] < usage["spent_usd"] <= spent_before["spent_usd"] + budget
