"""A teacher adds, edits and deletes materials of the courses they teach, and sees no such
controls elsewhere; a student never sees them."""

import re

from playwright.sync_api import expect

from tests.browser.actions import open_portal, resume_session, toast
from tests.browser.system import DEMO_TEACHER


def taught_and_other_course(portal, token):
    taught = portal.api("GET", "/api/teacher/courses", token).json()
    assert taught, "the demo teacher teaches some demo courses"
    taught_ids = {course["id"] for course in taught}
    other = next(c for c in portal.api("GET", "/api/courses").json() if c["id"] not in taught_ids)
    return taught[0], other


def test_teacher_adds_edits_and_deletes_a_material(page, portal, screenshot):
    tokens = portal.login(*DEMO_TEACHER)
    course, other = taught_and_other_course(portal, tokens["access_token"])
    # Each test run has a fresh portal, and the test deletes what it adds.
    title = "Разбор контрольной работы"
    resume_session(page, tokens["refresh_token"], f"/#/courses/{course['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(course["name"])

    page.get_by_role("button", name="+ Добавить материал").click()
    dialog = page.get_by_role("dialog", name="Новый материал")
    dialog.get_by_label("Тип").select_option(label="Семинар")
    dialog.get_by_label("Номер занятия").fill("9")
    dialog.get_by_label("Название").fill(title)
    dialog.get_by_label("Описание").fill("Решения задач с пояснениями.")
    dialog.get_by_label("Ссылка на файл").fill("javascript:alert(1)")
    dialog.get_by_role("button", name="Добавить").click()
    # Only http(s) links are accepted, before anything is sent.
    expect(dialog.get_by_text("Нужна ссылка, начинающаяся с http:// или https://.")).to_be_visible()
    expect(dialog.get_by_label("Ссылка на файл")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Ссылка на файл").fill("https://files.example.edu/test/solutions.pdf")
    screenshot(page, "teacher-editor.png")
    dialog.get_by_role("button", name="Добавить").click()
    expect(dialog).to_be_hidden()
    expect(toast(page, f"Материал «{title}» добавлен")).to_be_visible()
    row = page.locator(".material-row", has_text=title)
    expect(row).to_be_visible()
    expect(row.locator(".lesson-number")).to_have_text("9")
    expect(row.locator(".type-badge")).to_have_text("Семинар")

    row.get_by_role("button", name=f"Изменить «{title}»").click()
    dialog = page.get_by_role("dialog", name="Изменить материал")
    expect(dialog.get_by_label("Описание")).to_have_value("Решения задач с пояснениями.")
    new_title = title + " (исправлено)"
    dialog.get_by_label("Название").fill(new_title)
    dialog.get_by_role("button", name="Сохранить").click()
    expect(toast(page, f"Материал «{new_title}» сохранён")).to_be_visible()
    row = page.locator(".material-row", has_text=new_title)
    expect(row).to_be_visible()
    material_id = int(row.get_attribute("data-material-id"))
    stored = portal.api("GET", f"/api/courses/{course['id']}/materials/{material_id}").json()
    assert stored["title"] == new_title
    assert stored["file_url"] == "https://files.example.edu/test/solutions.pdf"

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(new_title)
    page.get_by_role("button", name=f"Удалить «{new_title}»").click()
    confirm = page.get_by_role("dialog", name="Подтверждение")
    expect(confirm).to_contain_text(f"Удалить материал «{new_title}»?")
    confirm.get_by_role("button", name="Удалить").click()
    expect(toast(page, f"Материал «{new_title}» удалён")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"#/courses/{course['id']}$"))
    expect(page.locator(".material-row").first).to_be_visible()
    expect(page.locator(".material-row", has_text=new_title)).to_have_count(0)
    gone = portal.api("GET", f"/api/courses/{course['id']}/materials/{material_id}")
    assert gone.status_code == 404

    page.goto(f"/#/courses/{other['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(other["name"])
    expect(page.locator(".material-row").first).to_be_visible()
    expect(page.get_by_role("button", name="+ Добавить материал")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Изменить"))).to_have_count(0)


def test_a_student_sees_no_edit_controls(page, portal):
    email, password = portal.register_user()
    teacher = portal.access_token(*DEMO_TEACHER)
    course, _other = taught_and_other_course(portal, teacher)
    resume_session(page, portal.login(email, password)["refresh_token"])
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(course["name"])
    expect(page.locator(".material-row").first).to_be_visible()
    expect(page.get_by_role("button", name="+ Добавить материал")).to_have_count(0)
    expect(page.locator(".material-controls")).to_have_count(0)


def test_logged_out_visitor_sees_no_edit_controls(page, portal):
    open_portal(page, "/#/courses/1")
    expect(page.locator(".material-row").first).to_be_visible()
    expect(page.locator(".material-controls")).to_have_count(0)
