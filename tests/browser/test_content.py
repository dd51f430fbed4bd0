"""Material content in the browser: a teacher writes a Markdown body with a preview, uploads a
file with a progress bar, cancels and removes uploads; the material page shows the rendered body
and the file card; hostile bodies run nothing; search shows highlighted snippets."""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.actions import assert_accessible, open_portal, resume_session, toast
from tests.browser.system import DEMO_TEACHER

MARKDOWN_BODY = """# Рекурсия и стек вызовов

Функция, которая вызывает **саму себя**, должна иметь *базовый случай*.

## Пример на Python

```python
def factorial(n: int) -> int:
    return 1 if n <= 1 else n * factorial(n - 1)  # LONG_COMMENT
```

| n | n! |
|---|----|
| 3 | 6  |
| 5 | 120 |

- первый пункт
- второй пункт
""".replace("LONG_COMMENT", "очень длинный комментарий, " * 6)

XSS_BODY = """# Проверка безопасности

<script>alert(1)</script>

<img src=x onerror=alert(1)>

[x](javascript:alert(1))

<svg onload=alert(1)>

[d](data:text/html,<script>alert(1)</script>)

Обычный текст после опасных вставок.
"""


def taught_course(portal, token) -> dict:
    taught = portal.api("GET", "/api/teacher/courses", token).json()
    assert taught, "the demo teacher teaches some demo courses"
    return taught[0]


def new_material(portal, token, course_id, title, **fields) -> dict:
    """A material of its own for each test, so tests never see each other's changes."""
    response = portal.api(
        "POST",
        f"/api/courses/{course_id}/materials",
        token,
        json={"lesson_number": 42, "material_type_code": "lecture", "title": title, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


def stored_material(portal, course_id, material_id) -> dict:
    response = portal.api("GET", f"/api/courses/{course_id}/materials/{material_id}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def teacher(page, portal):
    """The demo teacher, logged in in the page; returns (access token, a course they teach)."""
    tokens = portal.login(*DEMO_TEACHER)
    resume_session(page, tokens["refresh_token"])
    return tokens["access_token"], taught_course(portal, tokens["access_token"])


def open_editor(page: Page, course_id: int, material: dict):
    page.goto(f"/#/courses/{course_id}/materials/{material['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(material["title"])
    page.get_by_role("button", name=f"Изменить «{material['title']}»").click()
    dialog = page.get_by_role("dialog", name="Изменить материал")
    expect(dialog).to_be_visible()
    return dialog


def test_teacher_writes_markdown_sees_preview_and_the_rendered_page(
    page, portal, teacher, screenshot
):
    token, course = teacher
    material = new_material(portal, token, course["id"], "Рекурсия: конспект")
    dialog = open_editor(page, course["id"], material)

    body = dialog.get_by_label("Текст материала (Markdown)")
    body.fill(MARKDOWN_BODY)
    dialog.get_by_role("tab", name="Предпросмотр").click()
    expect(dialog.get_by_role("tab", name="Предпросмотр")).to_have_attribute(
        "aria-selected", "true"
    )
    preview = dialog.locator(".preview-output .material-body")
    # The page's h1 is the material's title: the body's headings come one level below it.
    expect(preview.locator("h2")).to_have_text("Рекурсия и стек вызовов")
    expect(preview.locator("h3").first).to_have_text("Пример на Python")
    expect(preview.locator("pre code")).to_contain_text("def factorial(n: int)")
    expect(preview.locator("table td").first).to_have_text("3")
    screenshot(page, "teacher-preview.png")

    # The arrow keys go back to the text, and the preview follows further edits.
    dialog.get_by_role("tab", name="Предпросмотр").press("ArrowLeft")
    expect(dialog.get_by_role("tab", name="Текст")).to_be_focused()
    expect(body).to_be_visible()
    body.press("End")
    body.type("\n## Итоги\n")
    dialog.get_by_role("tab", name="Предпросмотр").click()
    expect(preview.locator("h3").last).to_have_text("Итоги")

    dialog.get_by_role("button", name="Сохранить").click()
    expect(dialog).to_be_hidden()
    expect(toast(page, f"Материал «{material['title']}» сохранён")).to_be_visible()
    assert stored_material(portal, course["id"], material["id"])["body"].startswith("# Рекурсия")

    rendered = page.locator(".material-page .material-body")
    expect(rendered.locator("h2")).to_have_text("Рекурсия и стек вызовов")
    expect(page.get_by_role("heading", level=1)).to_have_text(material["title"])
    expect(rendered.locator("strong")).to_have_text("саму себя")
    expect(rendered.locator("pre code")).to_contain_text("factorial(n - 1)")
    expect(rendered.locator("table th").first).to_have_text("n")
    # A long line scrolls inside its code block, never the page.
    code_block = rendered.locator("pre")
    assert code_block.evaluate("(pre) => pre.scrollWidth > pre.clientWidth")
    assert code_block.evaluate("(pre) => getComputedStyle(pre).overflowX") == "auto"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)
    screenshot(page, "material-body.png", full_page=True)


def choose_file(page: Page, dialog, name: str, data: bytes, mime: str = "text/plain") -> None:
    with page.expect_file_chooser() as chooser:
        dialog.get_by_role("button", name=re.compile("^(Выбрать|Заменить) файл$")).click()
    chooser.value.set_files({"name": name, "mimeType": mime, "buffer": data})


def test_upload_shows_progress_and_the_file_card(page, portal, teacher, screenshot):
    token, course = teacher
    material = new_material(portal, token, course["id"], "Конспект с файлом")
    dialog = open_editor(page, course["id"], material)
    assert_accessible(page, ".editor-dialog")

    name = "Конспект лекции №1.txt"
    data = ("Рекурсия — это вызов функции из неё самой.\n" * 12_000).encode()
    choose_file(page, dialog, name, data)
    progress = dialog.locator(".upload-progress")
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    expect(progress.locator(".upload-percent")).to_have_text("100%")
    expect(dialog.get_by_text(f"Файл «{name}» загружен.")).to_be_visible()
    card = dialog.locator(".file-card")
    expect(card.locator(".file-name")).to_have_text(name)
    expect(dialog.get_by_role("button", name="Заменить файл")).to_be_visible()
    dialog.locator(".upload-progress").scroll_into_view_if_needed()
    screenshot(page, "teacher-file.png")

    stored = stored_material(portal, course["id"], material["id"])
    assert stored["file"]["name"] == name
    assert stored["file"]["size"] == len(data)

    # The file is kept at once: closing the editor without saving shows it on the page.
    dialog.get_by_role("button", name="Отмена").click()
    expect(dialog).to_be_hidden()
    card = page.locator(".material-page .file-card")
    expect(card.locator(".file-name")).to_have_text(name)
    expect(card.locator(".file-facts")).to_have_text(re.compile(r"^Текст · \d{3} КБ$"))
    # Nobody runs the text extraction worker here, so the text stays queued.
    expect(card.get_by_role("status")).to_have_text("Текст извлекается…")
    download = card.get_by_role("link", name=re.compile("Скачать"))
    expect(download).to_have_attribute("download", name)
    href = download.get_attribute("href")
    assert href == stored["file"]["url"]
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.body() == data
    assert "attachment" in answer.headers["content-disposition"]

    with page.expect_download() as downloaded:
        download.click()
    assert downloaded.value.suggested_filename == name
    assert_accessible(page)


def test_a_student_sees_the_file_card_without_the_extraction_state(page, portal):
    token = portal.access_token(*DEMO_TEACHER)
    course = taught_course(portal, token)
    material = new_material(portal, token, course["id"], "Файл для студентов")
    response = portal.api(
        "PUT",
        f"/api/courses/{course['id']}/materials/{material['id']}/file",
        token,
        files={"file": ("Задание.txt", "Решите задачи 1–5.".encode())},
    )
    assert response.status_code == 200, response.text
    open_portal(page, f"/#/courses/{course['id']}/materials/{material['id']}")
    card = page.locator(".material-page .file-card")
    expect(card.locator(".file-name")).to_have_text("Задание.txt")
    expect(card.get_by_role("link", name=re.compile("Скачать"))).to_be_visible()
    expect(card.locator(".extraction")).to_have_count(0)


def test_cancel_during_a_large_upload_leaves_no_file(page, portal, teacher, tmp_path):
    token, course = teacher
    material = new_material(portal, token, course["id"], "Большой файл")
    dialog = open_editor(page, course["id"], material)
    big = tmp_path / "Большая лекция.txt"
    big.write_bytes(b"lecture notes line\n" * (40 * 1024 * 1024 // 19))
    # Slow the upload to ~4 MB/s, as over a real network, so there is time to cancel it.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": 4 * 1024 * 1024,
        },
    )
    with page.expect_file_chooser() as chooser:
        dialog.get_by_role("button", name="Выбрать файл").click()
    chooser.value.set_files(big)

    percent = dialog.locator(".upload-percent")
    expect(percent).to_have_text(re.compile(r"^([1-9]|[1-8]\d)%$"))
    dialog.get_by_role("button", name="Отменить загрузку").click()
    expect(dialog.get_by_text("Загрузка отменена.")).to_be_visible()
    expect(dialog.locator(".upload-progress")).to_be_hidden()
    expect(dialog.locator(".file-card")).to_have_count(0)
    expect(dialog.get_by_role("button", name="Выбрать файл")).to_be_enabled()

    # Give the server time to notice the broken request: still no file.
    time.sleep(1.5)
    stored = stored_material(portal, course["id"], material["id"])
    assert stored["file"] is None
    assert stored["has_file"] is False


def test_remove_file_asks_first(page, portal, teacher):
    token, course = teacher
    material = new_material(portal, token, course["id"], "Файл на удаление")
    response = portal.api(
        "PUT",
        f"/api/courses/{course['id']}/materials/{material['id']}/file",
        token,
        files={"file": ("Старые слайды.txt", "Устаревшее содержание.".encode())},
    )
    assert response.status_code == 200, response.text
    dialog = open_editor(page, course["id"], material)
    expect(dialog.locator(".file-card .file-name")).to_have_text("Старые слайды.txt")

    dialog.get_by_role("button", name="Удалить файл").click()
    confirm = page.get_by_role("dialog", name="Подтверждение")
    expect(confirm).to_contain_text("Удалить файл «Старые слайды.txt» из материала?")
    confirm.get_by_role("button", name="Отмена").click()
    expect(confirm).to_be_hidden()
    expect(dialog).to_be_visible()
    assert stored_material(portal, course["id"], material["id"])["file"] is not None

    dialog.get_by_role("button", name="Удалить файл").click()
    page.get_by_role("dialog", name="Подтверждение").get_by_role(
        "button", name="Удалить файл"
    ).click()
    expect(dialog.get_by_text("Файл «Старые слайды.txt» удалён.")).to_be_visible()
    expect(dialog.locator(".file-card")).to_have_count(0)
    expect(dialog.get_by_role("button", name="Выбрать файл")).to_be_focused()
    assert stored_material(portal, course["id"], material["id"])["file"] is None

    dialog.get_by_role("button", name="Отмена").click()
    expect(page.locator(".material-page .file-card")).to_have_count(0)


def test_a_refused_file_is_explained(page, portal, teacher, console_problems):
    console_problems.expect(r"status of 415")
    token, course = teacher
    material = new_material(portal, token, course["id"], "Неподходящий файл")
    dialog = open_editor(page, course["id"], material)
    choose_file(
        page, dialog, "program.exe", b"MZ\x90\x00" + b"\x00" * 2000, "application/x-msdownload"
    )
    error = dialog.locator(".upload-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(re.compile(r"^Файл не принят: .+"))
    expect(dialog.locator(".file-card")).to_have_count(0)
    assert stored_material(portal, course["id"], material["id"])["file"] is None


def test_hostile_bodies_run_nothing(page, portal, teacher, console_problems):
    token, course = teacher
    material = new_material(portal, token, course["id"], "Проверка вставок", body=XSS_BODY)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"/#/courses/{course['id']}/materials/{material['id']}")
    body = page.locator(".material-page .material-body")
    expect(body.locator("h2")).to_have_text("Проверка безопасности")
    expect(body).to_contain_text("Обычный текст после опасных вставок.")
    for tag in ("script", "img", "svg", "iframe", "object", "embed"):
        expect(body.locator(tag)).to_have_count(0)
    links = body.locator("a")
    for index in range(links.count()):
        href = links.nth(index).get_attribute("href") or ""
        assert not re.match(r"\s*(javascript|data|vbscript):", href, re.I), href
    assert body.evaluate(
        "(node) => [...node.querySelectorAll('*')].every("
        "(el) => [...el.attributes].every((a) => !a.name.startsWith('on')))"
    )

    # The editor's preview shows the same body just as safely.
    page.get_by_role("button", name=f"Изменить «{material['title']}»").click()
    dialog = page.get_by_role("dialog", name="Изменить материал")
    dialog.get_by_role("tab", name="Предпросмотр").click()
    preview = dialog.locator(".preview-output .material-body")
    expect(preview.locator("h2")).to_have_text("Проверка безопасности")
    for tag in ("script", "img", "svg"):
        expect(preview.locator(tag)).to_have_count(0)
    page.wait_for_timeout(500)  # time for anything that would fire late
    assert dialogs == []
    assert console_problems.messages == []


def search_box(page: Page):
    return page.get_by_role("searchbox", name="Поиск курса")


def test_header_search_shows_material_snippets(page, portal, teacher, screenshot):
    token, course = teacher
    material = new_material(
        portal,
        token,
        course["id"],
        "Динамическое программирование",
        body="Мемоизация хранит ответы подзадач, чтобы не считать их заново.",
    )
    open_portal(page)
    search_box(page).fill("мемоизация")
    results = page.locator("#search-results")
    expect(results).to_be_visible()
    hit = results.locator(".search-hit[data-kind=material]", has_text=material["title"])
    expect(hit).to_be_visible()
    expect(hit).to_contain_text(course["name"])
    expect(hit.locator(".type-badge")).to_have_text("Лекция")
    mark = hit.locator(".snippet mark").first
    expect(mark).to_have_text(re.compile("мемоизаци", re.I))
    screenshot(page, "search.png")

    hit.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/courses/{course['id']}/materials/{material['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(material["title"])
    expect(page.get_by_role("navigation", name="Все курсы")).to_be_hidden()


def test_header_search_finds_courses(page, portal):
    courses = portal.api("GET", "/api/courses").json()
    course = courses[0]
    word = course["name"].split()[0]
    open_portal(page)
    search_box(page).fill(word)
    hit = page.locator("#search-results .search-hit[data-kind=course]", has_text=course["name"])
    expect(hit.first).to_be_visible()
    expect(hit.first.locator(".snippet mark, .search-hit-title").first).to_be_visible()
    hit.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/courses/{course['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(course["name"])


def test_course_search_shows_material_hits(page, portal, teacher):
    token, course = teacher
    material = new_material(
        portal,
        token,
        course["id"],
        "Хвостовая рекурсия",
        body="Хвостовой вызов не растит стек, если язык его оптимизирует.",
    )
    page.goto(f"/#/courses/{course['id']}")
    box = page.get_by_role("searchbox", name="Поиск по материалам курса")
    box.fill("хвостовой вызов")
    hit = page.locator(".course-search .search-hit", has_text=material["title"])
    expect(hit).to_be_visible()
    expect(hit.locator(".snippet mark").first).to_have_text(re.compile("хвостов", re.I))
    expect(page.locator(".course-search .search-hit[data-kind=course]")).to_have_count(0)
    # A query too short to send shows nothing.
    box.fill("х")
    expect(page.locator(".course-search-results")).to_be_hidden()
    box.fill("хвостовой вызов")
    hit.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(material["title"])


def test_header_search_keeps_filtering_when_content_search_fails(page, portal, console_problems):
    console_problems.expect(r"status of 503")
    page.route(
        "**/api/search?*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"code": 503, "status": "Service Unavailable", "message": "down"}',
        ),
    )
    courses = portal.api("GET", "/api/courses").json()
    course = courses[0]
    open_portal(page)
    with page.expect_response("**/api/search?*"):
        search_box(page).fill(course["name"])
    panel = page.get_by_role("navigation", name="Все курсы")
    expect(panel.locator(".course-link", has_text=course["name"]).first).to_be_visible()
    expect(panel.locator(".course-link mark").first).to_be_visible()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(panel.locator(".error-box")).to_have_count(0)


def test_phone_material_page_keeps_code_inside(phone_page, portal):
    teacher_token = portal.access_token(*DEMO_TEACHER)
    course = taught_course(portal, teacher_token)
    material = new_material(
        portal, teacher_token, course["id"], "Код на телефоне", body=MARKDOWN_BODY
    )
    open_portal(phone_page, f"/#/courses/{course['id']}/materials/{material['id']}")
    body = phone_page.locator(".material-body")
    expect(body.locator("pre")).to_be_visible()
    assert phone_page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert body.locator("pre").evaluate("(pre) => pre.scrollWidth > pre.clientWidth")
