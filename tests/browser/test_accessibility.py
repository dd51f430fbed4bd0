"""axe-core finds no serious or critical problem in the main views, and the keyboard alone
reaches everything: "ВСЕ КУРСЫ", a course, its materials, and back."""

import re

from playwright.sync_api import expect

from tests.browser.actions import (
    assert_accessible,
    open_catalog,
    open_portal,
    resume_session,
    sider,
)
from tests.browser.system import DEMO_TEACHER


def test_public_views_have_no_serious_violations(page, portal):
    open_portal(page)
    assert_accessible(page)  # start page, catalog closed

    open_catalog(page)
    assert_accessible(page)

    page.get_by_label("Поиск курса").fill("нет такого курса")
    expect(page.get_by_text("Ничего не найдено")).to_be_visible()
    assert_accessible(page)

    page.goto("/#/courses/1")
    expect(page.locator(".material-row").first).to_be_visible()
    assert_accessible(page)

    page.goto("/#/courses/1?type=lab")
    expect(page.locator(".material-row").first).to_be_visible()
    page.locator(".material-row").first.get_by_role("link").click()
    expect(page.get_by_role("button", name="Назад")).to_be_visible()
    assert_accessible(page)

    page.locator("#account").get_by_role("button", name="Войти").click()
    expect(page.get_by_role("dialog", name="Вход")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("dialog").get_by_role("button", name="Зарегистрироваться").click()
    expect(page.get_by_role("dialog", name="Регистрация")).to_be_visible()
    assert_accessible(page)


def test_logged_in_views_have_no_serious_violations(page, portal):
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    portal.add_favorites(tokens["access_token"], (1, 2, 3))
    resume_session(page, tokens["refresh_token"], "/#/courses/2")
    expect(sider(page).locator(".fav-item")).to_have_count(3)
    expect(page.locator(".material-row").first).to_be_visible()
    assert_accessible(page)


def test_teacher_views_have_no_serious_violations(page, portal):
    tokens = portal.login(*DEMO_TEACHER)
    course = portal.api("GET", "/api/teacher/courses", tokens["access_token"]).json()[0]
    resume_session(page, tokens["refresh_token"], f"/#/courses/{course['id']}")
    expect(page.get_by_role("button", name="+ Добавить материал")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="+ Добавить материал").click()
    expect(page.get_by_role("dialog", name="Новый материал")).to_be_visible()
    assert_accessible(page)


def test_phone_views_have_no_serious_violations(phone_page, portal):
    page = phone_page
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    portal.add_favorites(tokens["access_token"], (1,))
    resume_session(page, tokens["refresh_token"])
    assert_accessible(page)
    page.get_by_role("button", name=re.compile(r"^Избранное")).click()
    expect(sider(page)).to_be_visible()
    page.wait_for_timeout(350)
    assert_accessible(page)


def test_keyboard_alone_reaches_a_course_and_its_material(page, portal):
    open_portal(page)
    expect(page.locator("#catalog .course-card").first).to_be_attached()
    # The first Tab shows the skip link, then the header's controls follow in order.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Перейти к содержимому")).to_be_focused()
    toggle = page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True)
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Поиск курса")).to_be_focused()
    page.keyboard.type("базы")
    expect(page.locator("#catalog .course-card")).to_have_count(1)
    page.keyboard.press("Enter")  # from the search box: to the first result
    link = page.locator("#catalog .course-link").first
    expect(link).to_be_focused()
    # Focus is visible.
    outline = link.evaluate("node => getComputedStyle(node).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Базы данных")
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    page.keyboard.press("Escape")
    first_material = page.locator(".material-link").first
    first_material.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Назад")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.get_by_role("button", name="Назад").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Базы данных")

    page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True).click()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
