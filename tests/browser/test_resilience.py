"""One service down, the rest of the page keeps working and says clearly what is missing."""

import pytest
from playwright.sync_api import expect

from tests.browser.actions import (
    course_card,
    open_catalog,
    open_portal,
    resume_session,
    sider,
    toast,
)

UPSTREAM_FAILURE = r"status of 50[234]"


@pytest.fixture
def stopped(portal):
    """stopped("favorites") takes that service down for the rest of the test."""
    names = []

    def stop(name):
        portal.stop(name)
        names.append(name)

    yield stop
    for name in names:
        portal.start(name)


def test_favorites_down_catalog_still_works(page, portal, stopped, console_problems):
    console_problems.expect(UPSTREAM_FAILURE)
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    portal.add_favorites(tokens["access_token"], (1,))
    stopped("favorites")

    resume_session(page, tokens["refresh_token"])
    panel = sider(page)
    expect(panel.get_by_role("alert")).to_contain_text(
        "Избранное временно недоступно: сервис не отвечает."
    )
    open_catalog(page)
    expect(page.locator("#catalog .course-card")).not_to_have_count(0)
    name = "Математический анализ"
    course_card(page, name).get_by_role("button", name=f"Добавить «{name}» в избранное").click()
    expect(toast(page, "Не удалось добавить курс: сервис временно недоступен.")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="Не удалось добавить курс")).to_be_attached()
    expect(course_card(page, name).locator(".fav-btn")).to_have_text("+")

    course_card(page, "Алгоритмы и структуры данных").get_by_role("link").click()
    expect(page.locator(".material-row").first).to_be_visible()

    portal.start("favorites")
    panel.get_by_role("button", name="Повторить").click()
    expect(panel.locator(".fav-name")).to_have_text(["Алгоритмы и структуры данных"])


def test_catalog_down_shows_a_message_and_recovers(page, portal, stopped, console_problems):
    console_problems.expect(UPSTREAM_FAILURE)
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    portal.add_favorites(tokens["access_token"], (2,))
    stopped("catalog")

    resume_session(page, tokens["refresh_token"])
    page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True).click()
    catalog = page.get_by_role("navigation", name="Все курсы")
    expect(catalog.get_by_role("alert")).to_contain_text(
        "Не удалось загрузить список курсов: сервис каталога недоступен."
    )
    # The favorites service still answers, without course details.
    expect(sider(page).locator(".fav-item")).to_have_count(1)
    expect(sider(page)).to_contain_text("Сведения о курсе временно недоступны")

    page.goto("/#/courses/2")
    expect(page.get_by_role("heading", name="Ошибка загрузки")).to_be_visible()
    expect(page.locator("#view").get_by_role("alert")).to_contain_text(
        "сервис каталога временно недоступен"
    )

    portal.start("catalog")
    page.locator("#view").get_by_role("button", name="Повторить").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Программирование на Python")
    # The list stayed open above the course page, still showing its error.
    expect(page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True)).to_have_attribute(
        "aria-expanded", "true"
    )
    catalog.get_by_role("button", name="Повторить").click()
    expect(catalog.locator(".course-link", has_text="Базы данных")).to_be_visible()


def test_whole_api_unreachable_page_still_renders(page, portal, stopped, console_problems):
    console_problems.expect(UPSTREAM_FAILURE)
    for name in ("catalog", "favorites", "auth"):
        stopped(name)
    open_portal(page)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True).click()
    expect(page.get_by_role("navigation", name="Все курсы").get_by_role("alert")).to_be_visible()
    page.locator("#account").get_by_role("button", name="Войти").click()
    dialog = page.get_by_role("dialog", name="Вход")
    dialog.get_by_label("Электронная почта").fill("someone@example.edu")
    dialog.get_by_label("Пароль").fill("password-123")
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Сервис входа временно недоступен. Попробуйте позже."
    )
