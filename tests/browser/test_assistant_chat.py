"""Students ask the course assistant in the browser: the answer streams in piece by piece from
the OpenAI stand-in, its citations lead to the cited materials, a slow answer can be stopped,
conversations are listed, reopened, continued and deleted, feedback is stored, refusals (rate,
budget, provider down, switched off, no key) are said in words while the page keeps working,
one student never sees another's conversations, and axe-core finds nothing serious."""

import itertools
import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.actions import (
    assert_accessible,
    login_via_form,
    resume_session,
    toast,
    wait_until,
)
from tests.browser.system import DEMO_ADMIN
from tests.browser.system import DEMO_DATASET_COURSE as COURSE

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
# Every change of the newest answer's text (and which citations are links then), and every
# announcement of the page's live region, as the page sees them.
RECORD_THE_ANSWER = """() => {
  window.answerStates = [];
  window.announcements = [];
  const thread = document.querySelector('.ask-thread');
  const announcer = document.querySelector('.ask-chat > [role=status]');
  new MutationObserver(() => {
    const body = thread.querySelector('.ask-answer:last-child .ask-text');
    if (!body) return;
    const links = [...body.querySelectorAll('a.ask-cite')];
    // The text as shown: a citation's words for screen readers left out.
    const text = [...body.childNodes]
      .map((node) => (links.includes(node) ? node.firstChild.textContent : node.textContent))
      .join('');
    const cites = links.map((link) => link.firstChild.textContent);
    const last = window.answerStates[window.answerStates.length - 1];
    if (!last || last.text !== text) window.answerStates.push({text, cites});
  }).observe(thread, {subtree: true, childList: true, characterData: true});
  new MutationObserver(() => {
    if (announcer.textContent) window.announcements.push(announcer.textContent);
  }).observe(announcer, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture
def standin(portal):
    """The OpenAI stand-in, with no scripted answer, delay or failure left over."""
    portal.openai.reset()
    yield portal.openai
    portal.openai.reset()


@pytest.fixture(scope="module")
def course_id(portal) -> int:
    courses = portal.api("GET", "/api/courses").json()
    return next(course["id"] for course in courses if course["name"] == COURSE)


@pytest.fixture
def student(portal) -> dict:
    """A new student's token pair: nobody else's conversations, limits or feedback."""
    return portal.login(*portal.register_user())


def ask_path(course_id: int, conversation_id: int | None = None) -> str:
    query = f"?conversation={conversation_id}" if conversation_id else ""
    return f"/#/courses/{course_id}/ask{query}"


def events_of(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if lines:
            name = lines[0].removeprefix("event: ")
            events.append((name, json.loads(lines[1].removeprefix("data: "))))
    return events


def ask_by_api(portal, token, course_id, question, conversation_id=None):
    """The response of one question asked through the gateway, read to its end."""
    body = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    return portal.api("POST", f"/api/assistant/courses/{course_id}/chat", token, json=body)


def answered(portal, token, course_id, question, conversation_id=None) -> dict:
    """Asks through the API; the conversation's id and the `done` event's data."""
    response = ask_by_api(portal, token, course_id, question, conversation_id)
    assert response.status_code == 200, response.text
    events = events_of(response.text)
    assert events[-1][0] == "done", events
    return {"conversation_id": events[0][1]["conversation_id"], **events[-1][1]}


def conversation(portal, token, conversation_id) -> dict:
    response = portal.api("GET", f"/api/assistant/conversations/{conversation_id}", token)
    assert response.status_code == 200, response.text
    return response.json()


def question_box(page: Page):
    return page.get_by_role("textbox", name="Ваш вопрос")


def ask(page: Page, question: str) -> None:
    box = question_box(page)
    box.fill(question)
    box.press("Enter")


def last_answer(page: Page):
    return page.locator(".ask-thread .ask-answer").last


def open_chat(page: Page, refresh_token: str, course_id: int, conversation_id=None) -> None:
    resume_session(page, refresh_token, ask_path(course_id, conversation_id))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вопросы ассистенту")
    expect(page.locator(".ask-history-body .loading")).to_have_count(0)


def test_an_answer_streams_in_and_its_citation_leads_to_the_material(
    page, portal, standin, student, course_id, screenshot
):
    resume_session(page, student["refresh_token"], f"/#/courses/{course_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE)
    page.get_by_role("link", name="Спросить ассистента").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Вопросы ассистенту")
    expect(page.get_by_text("Разговоров пока нет")).to_be_visible()

    scripted = (
        "Сортировка слиянием устойчива [1]: равные элементы не меняются местами. "
        "Подробнее — в разборе алгоритма [2]; источника [9] среди данных нет."
    )
    standin.script_chat([scripted], seconds_between_pieces=0.12)
    page.evaluate(RECORD_THE_ANSWER)
    ask(page, "Почему сортировка слиянием устойчива?")
    answer = last_answer(page)
    stop = page.get_by_role("button", name="Остановить")
    expect(stop).to_be_visible()
    expect(answer).to_have_attribute("aria-busy", "true")
    expect(question_box(page)).to_be_focused()
    expect(answer.get_by_role("button", name="Ответ помог")).to_be_visible(timeout=15_000)
    expect(stop).to_be_hidden()

    # The text grew in many steps as the pieces arrived; [9], a source the model was not
    # given, was never a link, and the stored answer the service sent last has dropped it.
    states = [s for s in page.evaluate("window.answerStates") if s["text"].startswith("Сорт")]
    growing, final = states[:-1], states[-1]
    assert len(growing) >= 5, states
    pairs = itertools.pairwise(growing)
    assert all(later["text"].startswith(earlier["text"]) for earlier, later in pairs)
    # (The last piece may come in one read with `done`, and then is seen with it.)
    assert scripted.startswith(growing[-1]["text"])
    assert any("[9]" in s["text"] for s in growing)
    assert all("[9]" not in s["cites"] for s in states)
    assert final == {"text": scripted.replace("[9]", ""), "cites": ["[1]", "[2]"]}
    expect(answer).not_to_have_attribute("aria-busy", "true")
    # The live region spoke twice: when asked, and the answer once complete, not each piece.
    page.wait_for_function("() => window.announcements.length >= 2")
    announcements = page.evaluate("window.announcements")
    assert announcements == [
        "Вопрос отправлен. Ассистент отвечает…",
        f"Ответ ассистента: {final['text']}",
    ]

    # The sources it cites are listed under it; the URL now names the conversation.
    expect(answer.locator(".ask-source")).to_have_count(2)
    expect(answer.locator(".ask-source-number")).to_have_text(["[1]", "[2]"])
    expect(page).to_have_url(re.compile(r"/ask\?conversation=\d+$"))
    history = page.locator(".ask-conversation")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Почему сортировка слиянием устойчива?")
    expect(history.first.get_by_role("link")).to_have_attribute("aria-current", "page")
    screenshot(page, "assistant-chat.png")

    citation = answer.locator("a.ask-cite").first
    title = citation.get_attribute("title")
    href = citation.get_attribute("href")
    assert re.fullmatch(rf"#/courses/{course_id}/materials/\d+", href)
    expect(citation).to_have_accessible_name(f"[1] (источник: {title})")
    citation.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def test_a_forged_stream_links_only_named_sources_and_its_markup_stays_text(
    page, portal, student, course_id
):
    """Whatever a stream says, [n] is a link only to a source it named with a material id, and
    markup in the answer is shown as characters, never made into elements."""
    material = portal.api("GET", f"/api/courses/{course_id}/materials").json()["materials"][0]
    sources = [
        {"n": 1, "material_id": material["id"], "title": material["title"], "heading": ""},
        {"n": 2, "material_id": "1; javascript:alert(1)", "title": "Подделка", "heading": ""},
    ]
    text = 'См. [1], [2] и [3]. <img src=x onerror="window.forged = 1">'
    stream = "".join(
        f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        for name, data in (
            ("sources", {"conversation_id": None, "sources": sources}),
            ("delta", {"text": text}),
            ("done", {"message_id": 1, "answer": text, "citations": sources}),
        )
    )
    page.route(
        re.compile(r"/api/assistant/courses/\d+/chat$"),
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=stream),
    )
    open_chat(page, student["refresh_token"], course_id)
    ask(page, "Что угодно?")
    answer = last_answer(page)
    expect(answer.get_by_role("button", name="Ответ помог")).to_be_visible()
    expect(answer.locator(".ask-text")).to_contain_text('<img src=x onerror="window.forged = 1">')
    expect(answer.locator("a.ask-cite")).to_have_count(1)
    expect(answer.locator("a.ask-cite")).to_have_attribute(
        "href", f"#/courses/{course_id}/materials/{material['id']}"
    )
    expect(answer.locator(".ask-source")).to_have_count(1)
    assert page.locator(".ask-thread img").count() == 0
    assert page.evaluate("() => window.forged") is None


def test_a_slow_answer_is_stopped_and_keeps_what_was_written(
    page, portal, standin, student, course_id
):
    open_chat(page, student["refresh_token"], course_id)
    scripted = " ".join(f"слово{n}" for n in range(80))
    standin.script_chat([scripted], seconds_between_pieces=0.2)
    ask(page, "Расскажи очень подробно про деревья")
    answer = last_answer(page)
    expect(answer.locator(".ask-text")).to_contain_text("слово3")
    page.get_by_role("button", name="Остановить").click()
    expect(answer.locator(".ask-note")).to_have_text(
        "Ответ остановлен: показано то, что ассистент успел написать."
    )
    expect(page.get_by_role("button", name="Остановить")).to_be_hidden()
    expect(question_box(page)).to_be_focused()
    kept = answer.locator(".ask-text").inner_text()
    page.wait_for_timeout(600)  # three more pieces' time: nothing more arrives
    assert answer.locator(".ask-text").inner_text() == kept
    assert scripted.startswith(kept) and len(kept) < len(scripted) / 2
    expect(page.get_by_role("status").filter(has_text="Ответ остановлен.")).to_be_attached()

    # The service kept the partial answer too, and the chat goes on in the same conversation.
    conversation_id = int(re.search(r"conversation=(\d+)", page.url)[1])
    token = student["access_token"]

    def stored_answers():
        messages = conversation(portal, token, conversation_id)["messages"]
        return [m["content"] for m in messages if m["role"] == "assistant"]

    stored = wait_until(stored_answers, what="the stopped answer to be stored")
    assert scripted.startswith(stored[0]) and len(stored[0]) < len(scripted)
    ask(page, "А коротко?")
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    expect(page.locator(".ask-thread .ask-question")).to_have_count(2)
    messages = conversation(portal, token, conversation_id)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]


def test_conversations_are_reopened_rated_and_deleted_and_nobody_elses(
    page, portal, standin, student, course_id
):
    token = student["access_token"]
    standin.script_chat(["Стек — это структура LIFO [1]."])
    first = answered(portal, token, course_id, "Что такое стек?")
    second = answered(portal, token, course_id, "Что такое очередь?")
    # No colour transitions: axe must see each control's final colours.
    page.emulate_media(reduced_motion="reduce")
    open_chat(page, student["refresh_token"], course_id)
    rows = page.locator(".ask-conversation")
    expect(rows.locator(".ask-conversation-title")).to_have_text(
        ["Что такое очередь?", "Что такое стек?"]
    )

    rows.filter(has_text="Что такое стек?").get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"\?conversation={first['conversation_id']}$"))
    expect(page.get_by_role("heading", level=2, name="Что такое стек?")).to_be_visible()
    expect(page.locator(".ask-question .ask-text")).to_have_text(["Что такое стек?"])
    answer = last_answer(page)
    expect(answer.locator(".ask-text")).to_contain_text("Стек — это структура LIFO [1]")
    expect(answer.locator("a.ask-cite")).to_have_text([re.compile(r"^\[1\] \(источник: .+\)$")])
    expect(answer.locator(".ask-source-number")).to_have_text(["[1]"])

    # 👎 is saved at once, then a comment with it; both are the service's after a reload.
    answer.get_by_role("button", name="Ответ не помог").click()
    expect(answer.get_by_role("status")).to_have_text("Оценка сохранена. Спасибо!")
    expect(answer.get_by_role("button", name="Ответ не помог")).to_have_attribute(
        "aria-pressed", "true"
    )
    answer.get_by_label("Комментарий к оценке (необязательно)").fill("Не хватает примера")
    answer.get_by_role("button", name="Сохранить комментарий").click()
    expect(answer.get_by_role("status")).to_have_text("Комментарий сохранён. Спасибо!")
    stored = conversation(portal, token, first["conversation_id"])["messages"][-1]
    assert (stored["feedback"], stored["feedback_comment"]) == (-1, "Не хватает примера")
    assert_accessible(page)
    page.reload()
    answer = last_answer(page)
    expect(answer.get_by_role("button", name="Ответ не помог")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(answer.get_by_role("button", name="Ответ помог")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(answer.get_by_label("Комментарий к оценке (необязательно)")).to_have_value(
        "Не хватает примера"
    )

    # The reopened conversation goes on.
    ask(page, "А где он используется?")
    expect(page.locator(".ask-thread .ask-answer")).to_have_count(2)
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    messages = conversation(portal, token, first["conversation_id"])["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "Что такое стек?",
        "А где он используется?",
    ]
    assert_accessible(page)

    # Deleting another conversation leaves this one open; deleting this one starts a new one.
    rows.filter(has_text="Что такое очередь?").get_by_role("button", name="Удалить").click()
    dialog = page.get_by_role("dialog", name="Подтверждение")
    expect(dialog).to_contain_text("Удалить разговор «Что такое очередь?»?")
    dialog.get_by_role("button", name="Удалить").click()
    expect(toast(page, "Разговор удалён")).to_be_visible()
    expect(rows).to_have_count(1)
    gone = portal.api("GET", f"/api/assistant/conversations/{second['conversation_id']}", token)
    assert gone.status_code == 404
    rows.first.get_by_role("button", name="Удалить").click()
    page.get_by_role("dialog", name="Подтверждение").get_by_role("button", name="Удалить").click()
    expect(page).to_have_url(re.compile(rf"/courses/{course_id}/ask$"))
    expect(page.get_by_role("heading", level=2, name="Новый разговор")).to_be_visible()
    expect(page.get_by_text("Разговоров пока нет")).to_be_visible()
    listed = portal.api("GET", f"/api/assistant/conversations?course_id={course_id}", token)
    assert listed.json() == []


def test_another_student_sees_none_of_the_conversations(
    page, portal, standin, student, course_id, console_problems
):
    console_problems.expect(r"status of 404")
    mine = answered(portal, student["access_token"], course_id, "Что такое граф?")
    other = portal.login(*portal.register_user())
    open_chat(page, other["refresh_token"], course_id, mine["conversation_id"])
    expect(page.get_by_text("Разговор не найден: возможно, его удалили.")).to_be_visible()
    expect(page.get_by_text("Что такое граф?")).to_have_count(0)
    expect(page.get_by_text("Разговоров пока нет")).to_be_visible()
    # Asking here starts the other student's own conversation.
    ask(page, "Что такое дерево?")
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    expect(page.locator(".ask-conversation-title")).to_have_text(["Что такое дерево?"])
    theirs = conversation(portal, student["access_token"], mine["conversation_id"])
    assert [m["content"] for m in theirs["messages"] if m["role"] == "user"] == ["Что такое граф?"]


def test_refusals_are_said_in_words_and_the_page_keeps_working(
    page, portal, standin, student, course_id, console_problems
):
    console_problems.expect(r"status of (429|503)")
    open_chat(page, student["refresh_token"], course_id)

    # The provider is down: said so, the question is back in the field, and a retry answers.
    standin.fail_next(500, path_prefix="/chat/completions")
    ask(page, "Что такое куча?")
    problem = page.locator(".ask-error .error-box")
    expect(problem).to_contain_text(
        "Ответа нет: поставщик модели сейчас недоступен. У поставщика модели внутренняя ошибка."
    )
    expect(page.locator(".ask-thread .ask-message")).to_have_count(0)
    expect(question_box(page)).to_have_value("Что такое куча?")
    problem.get_by_role("button", name="Повторить").click()
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    expect(problem).to_have_count(0)
    expect(question_box(page)).to_have_value("")  # asked again, no longer waiting in the field
    conversation_id = int(re.search(r"conversation=(\d+)", page.url)[1])

    # Past the questions a minute allowed: 429, with the wait the service asks for.
    token = student["access_token"]
    for _ in range(12):
        if ask_by_api(portal, token, course_id, "Ещё?", conversation_id).status_code == 429:
            break
    else:
        pytest.fail("the rate limit never answered 429")
    question_box(page).fill("И ещё один вопрос?")
    page.get_by_role("button", name="Спросить").click()
    expect(problem).to_contain_text("Слишком много вопросов — попробуйте через 60 с.")
    expect(question_box(page)).to_have_value("И ещё один вопрос?")
    # The rest of the page works: the history opens the conversation with its answers.
    page.locator(".ask-conversation-link").first.click()
    expect(page.locator(".ask-question .ask-text").first).to_have_text("Что такое куча?")
    expect(page.locator(".ask-thread .ask-answer").first.locator(".ask-feedback")).to_be_visible()


def test_a_course_out_of_budget_switched_off_or_without_a_key_says_so(
    page, portal, standin, student, course_id, console_problems
):
    console_problems.expect(r"status of 429")
    admin = portal.access_token(*DEMO_ADMIN)
    settings = f"/api/assistant/courses/{course_id}/settings"

    def put(values):
        response = portal.api("PUT", settings, admin, json=values)
        assert response.status_code == 200, response.text

    put({"monthly_chat_budget_usd": 0})
    try:
        open_chat(page, student["refresh_token"], course_id)
        ask(page, "Что такое хеш-таблица?")
        expect(page.locator(".ask-error")).to_contain_text(
            "Ассистент этого курса израсходовал бюджет на месяц."
        )
        put({"monthly_chat_budget_usd": None, "chat_enabled": False})
        page.goto(f"/#/courses/{course_id}")
        page.reload()  # the page keeps a course's status for half a minute
        link = page.get_by_role("link", name="Спросить ассистента")
        expect(link).to_have_accessible_description("Сейчас выключен")
        link.click()
        expect(page.locator(".ask-status")).to_contain_text("Ассистент курса сейчас выключен.")
        expect(question_box(page)).to_be_disabled()
        expect(page.get_by_role("button", name="Спросить")).to_be_disabled()
        # The history still works, and the question the budget refused left nothing in it.
        expect(page.get_by_text("Разговоров пока нет")).to_be_visible()
        expect(page.locator(".ask-conversation")).to_have_count(0)
    finally:
        put({"monthly_chat_budget_usd": None, "chat_enabled": True})

    message = "Answering students needs a model provider: set OPENAI_API_KEY."
    page.route(
        re.compile(r"/api/assistant/status\?"),
        lambda route: route.fulfill(
            json={"provider_configured": False, "chat_enabled": True, "chat_message": message}
        ),
    )
    page.reload()
    notice = page.locator(".ask-status")
    expect(notice).to_contain_text("не настроен ключ поставщика модели (OPENAI_API_KEY)")
    expect(notice).to_contain_text("ассистент отвечал бы на вопросы по материалам курса")
    expect(notice.locator("[lang='en']")).to_have_text(message)
    expect(question_box(page)).to_be_disabled()


def test_a_visitor_is_asked_to_log_in_first(page, portal, course_id):
    email, password = portal.register_user()
    page.goto(f"/#/courses/{course_id}")
    expect(page.locator(".material-row").first).to_be_visible()
    page.get_by_role("button", name="Спросить ассистента").click()
    expect(page.get_by_role("dialog", name="Вход")).to_contain_text(
        "Войдите, чтобы задать вопрос ассистенту курса."
    )
    login_via_form(page, email, password)
    expect(page).to_have_url(re.compile(rf"/courses/{course_id}/ask$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вопросы ассистенту")
    # Shift+Enter is a new line, Enter on an empty field asks nothing and says why.
    box = question_box(page)
    box.press("Enter")
    expect(box).to_have_accessible_description(re.compile("^Enter — отправить.*Напишите вопрос"))
    box.press_sequentially("Строка один")
    box.press("Shift+Enter")
    box.press_sequentially("строка два")
    expect(box).to_have_value("Строка один\nстрока два")
    expect(page.locator(".ask-thread .ask-message")).to_have_count(0)


def test_the_chat_fits_a_phone(phone_page, portal, standin, student, course_id):
    page = phone_page
    first = answered(portal, student["access_token"], course_id, "Что такое сортировка?")
    open_chat(page, student["refresh_token"], course_id, first["conversation_id"])
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    chat, history = page.locator(".ask-chat").bounding_box(), page.locator(".ask-history")
    assert chat["width"] > 300 and history.bounding_box()["y"] > chat["y"]  # one column
    question_box(page).tap()
    page.keyboard.type("Коротко: что такое массив?")
    page.get_by_role("button", name="Спросить").tap()
    expect(page.locator(".ask-thread .ask-answer")).to_have_count(2)
    expect(last_answer(page).get_by_role("button", name="Ответ помог")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
