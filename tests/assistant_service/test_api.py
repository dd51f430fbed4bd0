"""The assistant's API as a teacher, another course's teacher, a student and an admin see it:
the whole path from sources to export, and every refusal."""

import io
import json

import pytest

from assistant_service import datasets, prompting
from assistant_service.generation import NO_KEY_MESSAGE

from .conftest import ADMIN, OTHER_TEACHER, STUDENT, TEACHER


@pytest.fixture
def teacher(bearer):
    return bearer(TEACHER, "teacher")


@pytest.fixture
def dataset(client, teacher, catalog_world):
    response = client.post(
        f"/api/assistant/courses/{catalog_world.course_id}/datasets",
        json={"name": "Набор"},
        headers=teacher,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def example_line(question: str) -> str:
    messages = prompting.conversation(
        "Алгоритмы и структуры данных", question,
        [prompting.Source(1, "Лекция", "Текст.")], "Ответ [1].",
    )  # fmt: skip
    return json.dumps({"messages": messages}, ensure_ascii=False)


def test_a_teacher_goes_from_sources_to_an_exported_dataset(client, teacher, catalog_world):
    course = catalog_world.course_id
    sources = client.get(f"/api/assistant/courses/{course}/sources", headers=teacher).get_json()
    assert sources["snapshot"] is None
    assert {c["change"] for c in sources["changes"]} == {"added"}

    created = client.post(
        f"/api/assistant/courses/{course}/datasets", json={"name": "Набор"}, headers=teacher
    )
    assert created.status_code == 201
    dataset = created.get_json()
    assert dataset["counts"] == {"pending": 0, "approved": 0, "rejected": 0, "total": 0}

    chunks = client.get(f"/api/assistant/datasets/{dataset['id']}/chunks", headers=teacher)
    chunk_ids = [chunk["id"] for chunk in chunks.get_json()]
    assert len(chunk_ids) >= 12
    for number, chunk_id in enumerate(chunk_ids[:12]):
        written = client.post(
            f"/api/assistant/datasets/{dataset['id']}/examples",
            json={"question": f"Вопрос {number}?", "answer": "Ответ [1].",
                  "chunk_ids": [chunk_id]},
            headers=teacher,
        )  # fmt: skip
        assert written.status_code == 201, written.get_json()

    lines = "\n".join(example_line(f"Импорт {n}?") for n in range(3)).encode()
    imported = client.post(
        f"/api/assistant/datasets/{dataset['id']}/import",
        data={"file": (io.BytesIO(lines), "examples.jsonl")},
        headers=teacher,
    )
    assert imported.status_code == 201 and imported.get_json() == {"imported": 3}

    pending = client.get(
        f"/api/assistant/datasets/{dataset['id']}/examples?status=pending", headers=teacher
    )
    pending_ids = [example["id"] for example in pending.get_json()]
    assert len(pending_ids) == 3
    assert json.loads(pending.headers["X-Pagination"])["total"] == 3
    reviewed = client.post(
        f"/api/assistant/datasets/{dataset['id']}/review",
        json={"example_ids": pending_ids[:2], "status": "approved"},
        headers=teacher,
    )
    assert reviewed.get_json() == {"changed": 2}
    rejected = client.patch(
        f"/api/assistant/examples/{pending_ids[2]}", json={"status": "rejected"}, headers=teacher
    )
    assert rejected.get_json()["status"] == "rejected"

    split = client.post(
        f"/api/assistant/datasets/{dataset['id']}/split", json={"seed": 5}, headers=teacher
    )
    assert split.status_code == 200 and sum(split.get_json().values()) == 14

    report = client.get(f"/api/assistant/datasets/{dataset['id']}/report", headers=teacher)
    assert report.status_code == 200

    exported = client.get(
        f"/api/assistant/datasets/{dataset['id']}/export.jsonl?split=train", headers=teacher
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    lines = exported.get_data(as_text=True).splitlines()
    assert len(lines) == split.get_json()["train"]
    assert all(json.loads(line)["messages"][0]["role"] == "system" for line in lines)


def test_without_a_key_generation_says_what_a_key_would_enable(client, teacher, dataset):
    status = client.get("/api/assistant/status", headers=teacher).get_json()
    assert status["provider_configured"] is False
    assert "OPENAI_API_KEY" in status["message"]
    refused = client.post(
        f"/api/assistant/datasets/{dataset['id']}/generate", json={}, headers=teacher
    )
    assert refused.status_code == 409
    assert refused.get_json()["message"] == NO_KEY_MESSAGE


def course_endpoints(course_id: int, dataset_id: int, example_id: int) -> list[tuple]:
    return [
        ("get", f"/api/assistant/courses/{course_id}/sources", None),
        ("post", f"/api/assistant/courses/{course_id}/sources", None),
        ("get", f"/api/assistant/courses/{course_id}/datasets", None),
        ("post", f"/api/assistant/courses/{course_id}/datasets", {"name": "x"}),
        ("get", f"/api/assistant/datasets/{dataset_id}", None),
        ("patch", f"/api/assistant/datasets/{dataset_id}", {"name": "x"}),
        ("delete", f"/api/assistant/datasets/{dataset_id}", None),
        ("get", f"/api/assistant/datasets/{dataset_id}/chunks", None),
        ("get", f"/api/assistant/datasets/{dataset_id}/examples", None),
        ("post", f"/api/assistant/datasets/{dataset_id}/examples",
         {"question": "?", "answer": "!", "chunk_ids": []}),
        ("post", f"/api/assistant/datasets/{dataset_id}/review",
         {"example_ids": [example_id], "status": "approved"}),
        ("post", f"/api/assistant/datasets/{dataset_id}/split", {}),
        ("get", f"/api/assistant/datasets/{dataset_id}/report", None),
        ("get", f"/api/assistant/datasets/{dataset_id}/export.jsonl", None),
        ("post", f"/api/assistant/datasets/{dataset_id}/generate", {}),
        ("get", f"/api/assistant/datasets/{dataset_id}/generations", None),
        ("get", f"/api/assistant/examples/{example_id}", None),
        ("patch", f"/api/assistant/examples/{example_id}", {"status": "approved"}),
        ("delete", f"/api/assistant/examples/{example_id}", None),
    ]  # fmt: skip


@pytest.mark.parametrize("role_user", [("teacher", OTHER_TEACHER), ("student", STUDENT)])
def test_every_endpoint_of_a_course_refuses_others(client, bearer, teacher, dataset,
                                                   catalog_world, role_user):  # fmt: skip
    written = client.post(
        f"/api/assistant/datasets/{dataset['id']}/examples",
        json={"question": "Вопрос?", "answer": "Ответ.", "chunk_ids": []},
        headers=teacher,
    )
    example_id = written.get_json()["id"]
    role, user_id = role_user
    outsider = bearer(user_id, role)
    for method, path, body in course_endpoints(catalog_world.course_id, dataset["id"], example_id):
        response = getattr(client, method)(path, json=body, headers=outsider)
        assert response.status_code == 403, (method, path, response.get_json())
    # Nothing changed for the course's teacher.
    after = client.get(f"/api/assistant/datasets/{dataset['id']}", headers=teacher).get_json()
    assert after["name"] == "Набор" and after["counts"]["total"] == 1


def test_an_admin_builds_for_any_course(client, bearer, catalog_world):
    admin = bearer(ADMIN, "admin")
    created = client.post(
        f"/api/assistant/courses/{catalog_world.other_course_id}/datasets",
        json={"name": "Админ"},
        headers=admin,
    )
    assert created.status_code == 201


def test_without_a_token_everything_is_401(client, catalog_world):
    response = client.get(f"/api/assistant/courses/{catalog_world.course_id}/datasets")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path", ["/api/assistant/datasets/999999", "/api/assistant/examples/999999"]
)
def test_unknown_ids_are_404(client, teacher, path):
    assert client.get(path, headers=teacher).status_code == 404


def test_an_unknown_course_is_404(client, teacher):
    response = client.get("/api/assistant/courses/999999/datasets", headers=teacher)
    assert response.status_code == 404


def test_a_bad_import_lists_each_bad_line_and_stores_nothing(client, teacher, dataset):
    lines = "\n".join(
        [example_line("Хороший?"), "{broken", json.dumps({"messages": [{"role": "robot"}]})]
    )
    response = client.post(
        f"/api/assistant/datasets/{dataset['id']}/import",
        data={"file": (io.BytesIO(lines.encode()), "x.jsonl")},
        headers=teacher,
    )
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["errors"]) == {"line 2", "line 3"}
    counts = client.get(f"/api/assistant/datasets/{dataset['id']}", headers=teacher).get_json()
    assert counts["counts"]["total"] == 0


def test_an_import_over_the_size_limit_is_413(client, teacher, dataset):
    huge = io.BytesIO(b"x" * (datasets.IMPORT_MAX_BYTES + 128 * 1024))
    response = client.post(
        f"/api/assistant/datasets/{dataset['id']}/import",
        data={"file": (huge, "big.jsonl")},
        headers=teacher,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        {"seed": -1},
        {"shares": [50, 50]},
        {"shares": [0, 50, 50]},
        {"shares": [80, 10, 20]},
        {"seed": "7"},
    ],
)
def test_bad_split_settings_are_422(client, teacher, dataset, body):
    response = client.post(
        f"/api/assistant/datasets/{dataset['id']}/split", json=body, headers=teacher
    )
    assert response.status_code == 422


def test_prices_are_data_an_admin_updates(client, bearer, teacher):
    listed = client.get("/api/assistant/prices", headers=teacher).get_json()
    mini = next(p for p in listed if p["model"] == "gpt-4o-mini-2024-07-18")
    assert (mini["training"], mini["input"], mini["cached_input"], mini["output"]) == (
        3.0, 0.3, 0.15, 1.2,
    )  # fmt: skip
    body = {"training": 2.5, "input": 0.25, "cached_input": 0.1, "output": 1.0}
    refused = client.put("/api/assistant/prices/gpt-4o-mini-2024-07-18", json=body, headers=teacher)
    assert refused.status_code == 403
    updated = client.put(
        "/api/assistant/prices/gpt-4o-mini-2024-07-18", json=body, headers=bearer(ADMIN, "admin")
    )
    assert updated.status_code == 200 and updated.get_json()["training"] == 2.5


def test_the_review_position_is_saved_only_for_an_example_of_the_dataset(client, teacher, dataset):
    written = client.post(
        f"/api/assistant/datasets/{dataset['id']}/examples",
        json={"question": "Вопрос?", "answer": "Ответ.", "chunk_ids": []},
        headers=teacher,
    ).get_json()
    path = f"/api/assistant/datasets/{dataset['id']}"
    saved = client.patch(path, json={"review_position": written["id"]}, headers=teacher)
    assert saved.status_code == 200 and saved.get_json()["review_position"] == written["id"]
    refused = client.patch(path, json={"review_position": 999_999}, headers=teacher)
    assert refused.status_code == 422
    assert client.get(path, headers=teacher).get_json()["review_position"] == written["id"]


@pytest.mark.parametrize("model", ["gpt\u202e4o", "a b", "-leading", "x" * 129])
def test_a_price_needs_a_plain_model_name(client, bearer, model):
    body = {"training": 1.0, "input": 0.1, "cached_input": 0.05, "output": 0.4}
    response = client.put(
        f"/api/assistant/prices/{model}", json=body, headers=bearer(ADMIN, "admin")
    )
    assert response.status_code in (404, 422)  # 404: longer than any route takes
    listed = client.get("/api/assistant/prices", headers=bearer(ADMIN, "admin")).get_json()
    assert model not in {price["model"] for price in listed}


def test_the_model_state_names_the_base_model_and_no_recommendation_yet(
    client, bearer, catalog_world, app
):
    state = client.get(
        f"/api/assistant/courses/{catalog_world.other_course_id}/model",
        headers=bearer(ADMIN, "admin"),
    )
    assert state.status_code == 200, state.get_json()
    body = state.get_json()
    assert body["model"] is None and body["previous_model"] is None
    assert body["base_model"] == body["active_model"] == app.config["ASSISTANT_CHAT_MODEL"]
    assert body["choices"] == [] and body["recommended"] == []
