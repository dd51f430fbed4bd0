"""Students ask through the app, the official SDK streaming from the stand-in: sources from
this course only, the answer as Server-Sent Events with resolved citations, conversations that
are their owner's alone, feedback, and the limits (switch, rate, budget, no key, provider down)."""

import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from assistant_service import chat, datasets, fine_tuning, prompting
from assistant_service.models import ChatMessage, CourseSpend
from service_kit.db import utcnow

from .conftest import ADMIN, STUDENT, TEACHER

OTHER_STUDENT = 32


@pytest.fixture
def standin(openai_server):
    openai_server.reset()
    return openai_server


@pytest.fixture
def chat_config(app_config, standin) -> dict:
    return {**app_config, "OPENAI_API_KEY": standin.api_key, "OPENAI_BASE_URL": standin.base_url,
            "OPENAI_MAX_RETRIES": 0}  # fmt: skip


@pytest.fixture
def chat_app(chat_config):
    from assistant_service import create_app

    app = create_app(chat_config)
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def ask(chat_app, bearer, catalog_world):
    client = chat_app.test_client()

    def post(question, user=STUDENT, role="student", course=None, **extra):
        return client.post(
            f"/api/assistant/courses/{course or catalog_world.course_id}/chat",
            json={"question": question, **extra},
            headers=bearer(user, role),
        )

    return post


def sse(response) -> list[tuple[str, dict]]:
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = lines[0].removeprefix("event: ")
        events.append((name, json.loads(lines[1].removeprefix("data: "))))
    return events


def test_an_answer_streams_with_sources_of_this_course_and_resolved_citations(
    ask, standin, catalog_world, session
):
    standin.script_chat(["Сортировка слиянием устойчива [1]; см. также [2] и [9]."])
    response = ask("Почему сортировка слиянием устойчивая?")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse(response)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and "delta" in names
    given = events[0][1]["sources"]
    assert 1 <= len(given) <= chat.SOURCES_PER_ANSWER
    assert {s["material_id"] for s in given} <= set(catalog_world.material_ids.values())
    done = events[-1][1]
    assert done["answer"] == "Сортировка слиянием устойчива [1]; см. также [2] и ."
    assert [c["n"] for c in done["citations"]] == [1, 2]
    sent = standin.requests("/chat/completions")[-1]["json"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][1]["content"].startswith(prompting.QUESTION_HEADING)
    stored = session.scalars(select(ChatMessage).order_by(ChatMessage.id)).all()
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].prompt_tokens > 0 and stored[1].cost_usd > 0


def test_a_conversation_goes_on_and_belongs_to_its_owner_alone(ask, chat_app, bearer, standin):
    first = sse(ask("Что такое стек?"))
    conversation_id = first[0][1]["conversation_id"]
    second = sse(ask("А очередь?", conversation_id=conversation_id))
    assert second[0][1]["conversation_id"] == conversation_id
    client = chat_app.test_client()
    mine = client.get(f"/api/assistant/conversations/{conversation_id}",
                      headers=bearer(STUDENT, "student"))  # fmt: skip
    assert [m["role"] for m in mine.get_json()["messages"]] == [
        "user", "assistant", "user", "assistant",
    ]  # fmt: skip
    for user, role in ((OTHER_STUDENT, "student"), (TEACHER, "teacher"), (ADMIN, "admin")):
        headers = bearer(user, role)
        assert client.get(f"/api/assistant/conversations/{conversation_id}",
                          headers=headers).status_code == 404  # fmt: skip
        assert client.get("/api/assistant/conversations", headers=headers).get_json() == []
        assert ask("Продолжу чужой разговор?", user=user, role=role,
                   conversation_id=conversation_id).status_code == 404  # fmt: skip
        assert client.delete(f"/api/assistant/conversations/{conversation_id}",
                             headers=headers).status_code == 404  # fmt: skip
    answer_id = sse(ask("Что такое куча?"))[-1][1]["message_id"]
    assert client.post(f"/api/assistant/messages/{answer_id}/feedback",
                       json={"rating": 1}, headers=bearer(OTHER_STUDENT, "student"),
                       ).status_code == 404  # fmt: skip
    rated = client.post(f"/api/assistant/messages/{answer_id}/feedback",
                        json={"rating": -1, "comment": "Не хватает примера"},
                        headers=bearer(STUDENT, "student"))  # fmt: skip
    assert rated.get_json()["feedback"] == -1
    deleted = client.delete(f"/api/assistant/conversations/{conversation_id}",
                            headers=bearer(STUDENT, "student"))  # fmt: skip
    assert deleted.status_code == 204


def test_without_a_key_the_chat_says_what_a_key_would_enable(app, bearer, catalog_world):
    response = app.test_client().post(
        f"/api/assistant/courses/{catalog_world.course_id}/chat",
        json={"question": "Что такое алгоритм?"},
        headers=bearer(STUDENT, "student"),
    )
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.get_json()["message"]


def test_the_status_tells_students_whether_they_may_ask(
    chat_app, chat_config, app, bearer, session, catalog_world
):
    course, other = catalog_world.course_id, catalog_world.other_course_id
    student = bearer(STUDENT, "student")

    def status(client, query=""):
        response = client.get(f"/api/assistant/status{query}", headers=student)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    client = chat_app.test_client()
    ready = status(client, f"?course_id={course}")
    assert ready["provider_configured"] is True and ready["chat_enabled"] is True
    assert ready["chat_message"] is None
    fine_tuning.update_settings(session, course, {"chat_enabled": False})
    assert status(client, f"?course_id={course}")["chat_enabled"] is False
    assert status(client, f"?course_id={other}")["chat_enabled"] is True
    assert status(client)["chat_enabled"] is True  # no course: the global switch alone
    bad = client.get("/api/assistant/status?course_id=x", headers=student)
    assert bad.status_code == 400

    without_key = status(app.test_client(), f"?course_id={other}")
    assert without_key["provider_configured"] is False
    assert without_key["chat_message"] == chat.CHAT_NO_KEY
    assert "OPENAI_API_KEY" in without_key["chat_message"]

    from assistant_service import create_app

    switched_off = create_app({**chat_config, "ASSISTANT_CHAT_ENABLED": False})
    assert status(switched_off.test_client(), f"?course_id={other}")["chat_enabled"] is False
    switched_off.extensions["database"].dispose()


def test_a_provider_that_is_down_is_a_clear_503(ask, standin, session, catalog_world):
    fine_tuning.update_settings(session, catalog_world.course_id, {"monthly_chat_budget_usd": 5})
    standin.fail_next(500, 3, path_prefix="/chat/completions")
    response = ask("Что такое граф?")
    assert response.status_code == 503
    assert "internal error" in response.get_json()["message"]
    session.expire_all()
    spend = session.get(CourseSpend, (catalog_world.course_id, chat.month_of(utcnow())))
    assert spend.reserved_usd == 0 and spend.spent_usd == 0  # the reservation was given back


def test_the_rate_limit_answers_429_with_retry_after(chat_config, bearer, catalog_world, standin):
    from assistant_service import create_app

    app = create_app({**chat_config, "ASSISTANT_RATE_PER_MINUTE": 2})
    client = app.test_client()
    statuses = [
        client.post(f"/api/assistant/courses/{catalog_world.course_id}/chat",
                    json={"question": f"Вопрос {n}?"}, headers=bearer(STUDENT, "student"),
                    ).status_code
        for n in range(3)
    ]  # fmt: skip
    app.extensions["database"].dispose()
    assert statuses == [200, 200, 429]


def test_the_switch_turns_the_chat_off(chat_config, ask, session, catalog_world):
    fine_tuning.update_settings(session, catalog_world.course_id, {"chat_enabled": False})
    response = ask("Есть кто?")
    assert response.status_code == 503 and "switched off" in response.get_json()["message"]


def test_the_monthly_budget_holds_and_refuses_past_it(
    ask, chat_app, bearer, session, catalog_world, standin
):
    # A thousand times the list price, so a budget of a few dollars lasts a few answers.
    datasets.set_price(session, "gpt-4o-mini", {"input": 150, "cached_input": 75, "output": 600})
    budget = Decimal("5.00")
    fine_tuning.update_settings(
        session, catalog_world.course_id, {"monthly_chat_budget_usd": budget}
    )
    statuses = []
    for asker in range(100, 130):  # one question each: the per-user rate never stops them
        response = ask(f"Вопрос номер {asker}?", user=asker)
        response.get_data()  # the answer streams (and its cost settles) as it is read
        statuses.append(response.status_code)
        if statuses[-1] == 429:
            break
    assert statuses[0] == 200 and statuses[-1] == 429
    assert set(statuses[:-1]) == {200}  # answered until the budget ran out, then refused
    refused = chat_app.test_client().get("/api/assistant/conversations",
                                         headers=bearer(asker, "student"))  # fmt: skip
    assert refused.get_json() == []  # a refused question leaves no conversation behind
    session.expire_all()
    assert Decimal(0) < chat.spent_this_month(session, catalog_world.course_id) <= budget


def test_without_a_budget_an_answer_is_counted_and_nothing_stays_reserved(
    ask, session, catalog_world
):
    sse(ask("Что такое дек?"))
    row = session.get(chat.CourseSpend, (catalog_world.course_id, chat.month_of(chat.utcnow())))
    assert row.spent_usd > 0 and row.reserved_usd == 0


def test_concurrent_reservations_never_exceed_the_budget(database_url, catalog_world):
    """20 askers at once, each reserving its worst case: what is granted fits the budget."""
    from service_kit.db import Database

    database = Database(database_url)
    with database.session() as session:
        settings = fine_tuning.update_settings(
            session, catalog_world.course_id, {"monthly_chat_budget_usd": Decimal("1.00")}
        )
    granted = []

    def asker():
        with database.session() as own:
            mine = own.get(type(settings), catalog_world.course_id)
            try:
                chat.reserve(own, mine, Decimal("0.07"))
                granted.append(1)
            except chat.TooManyRequests:
                pass

    threads = [threading.Thread(target=asker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    database.dispose()
    assert len(granted) == 14  # 14 × 0.07 = 0.98 ≤ 1.00 < 15 × 0.07


def test_rated_answers_flow_back_as_pending_examples(ask, chat_app, bearer, session, catalog_world):
    from assistant_service import sources

    answer_id = sse(ask("Что такое рекурсия?"))[-1][1]["message_id"]
    chat.give_feedback(session, STUDENT, answer_id, -1, "Неточно")
    snapshot = sources.latest_snapshot(session, catalog_world.course_id)
    dataset = datasets.create_dataset(session, snapshot, "Из отзывов", TEACHER)
    assert chat.feedback_to_examples(session, dataset) == 1
    assert chat.feedback_to_examples(session, dataset) == 0  # not twice
    (example,) = session.scalars(select(datasets.Example)).all()
    assert example.origin == "feedback" and example.status == "pending"
    assert "Что такое рекурсия?" in example.messages[1]["content"]


def test_conversations_are_listed_per_course(ask, chat_app, bearer, catalog_world):
    sse(ask("Что такое стек?"))
    client = chat_app.test_client()
    listed = client.get(
        f"/api/assistant/conversations?course_id={catalog_world.course_id}",
        headers=bearer(STUDENT, "student"),
    )
    assert listed.status_code == 200 and len(listed.get_json()) == 1
    other = client.get(
        f"/api/assistant/conversations?course_id={catalog_world.other_course_id}",
        headers=bearer(STUDENT, "student"),
    )
    assert other.get_json() == []
    bad = client.get("/api/assistant/conversations?course_id=x", headers=bearer(STUDENT))
    assert bad.status_code == 400


def test_usage_counts_the_courses_answers_and_spend(ask, chat_app, bearer, catalog_world, standin):
    for question in ("Что такое стек?", "Что такое очередь?"):
        sse(ask(question))
    usage = chat_app.test_client().get(
        f"/api/assistant/courses/{catalog_world.course_id}/usage",
        headers=bearer(TEACHER, "teacher"),
    )
    assert usage.status_code == 200
    (month,) = usage.get_json()["chat_by_month"]
    assert month["answers"] == 2 and month["cost_usd"] > 0
    assert month["month"] == chat.month_of(utcnow())
    assert usage.get_json()["chat_this_month"]["spent_usd"] == pytest.approx(month["cost_usd"])
    student = chat_app.test_client().get(
        f"/api/assistant/courses/{catalog_world.course_id}/usage", headers=bearer(STUDENT)
    )
    assert student.status_code == 403
