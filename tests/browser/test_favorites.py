"""The Sider: "+" → "✔" with a toast, "−" with a toast, the list after a reload, reordering by
drag and drop and by keyboard (saved on the server), and favorites whose course is gone."""

import uuid

from playwright.sync_api import expect

from tests.browser.actions import (
    course_card,
    log_in,
    login_via_form,
    open_catalog,
    open_portal,
    resume_session,
    sider,
    sider_names,
    toast,
)
from tests.browser.system import DEMO_ADMIN

COURSES = ["Алгоритмы и структуры данных", "Математический анализ", "Программирование на Python"]


def course_ids(portal, names):
    by_name = {c["name"]: c["id"] for c in portal.api("GET", "/api/courses").json()}
    return [by_name[name] for name in names]


def saved_order(portal, token):
    response = portal.api("GET", "/api/user/courses", token)
    assert response.status_code == 200
    return [entry["course_id"] for entry in response.json()]


def user_with_favorites(portal, names):
    """A new student whose Sider already holds `names`, in that order: their token pair."""
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    portal.add_favorites(tokens["access_token"], course_ids(portal, names))
    return tokens


def test_plus_adds_to_the_sider_and_minus_removes_surviving_reloads(page, portal, screenshot):
    email, password = portal.register_user()
    open_portal(page)
    log_in(page, email, password)
    expect(sider(page).get_by_text("Здесь пока пусто.")).to_be_visible()
    open_catalog(page)

    for name in COURSES:
        button = course_card(page, name).get_by_role(
            "button", name=f"Добавить «{name}» в избранное"
        )
        expect(button).to_have_text("+")
        button.click()
        added = course_card(page, name).get_by_role("button", name=f"«{name}» уже в избранном")
        expect(added).to_have_text("✔")
        expect(toast(page, f"Курс «{name}» добавлен в избранное")).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text="добавлен в избранное").first
    ).to_be_attached()
    assert sider_names(page) == COURSES

    page.reload()
    expect(sider(page).locator(".fav-name")).to_have_text(COURSES)
    open_catalog(page)
    expect(course_card(page, COURSES[0]).locator(".fav-btn")).to_have_text("✔")
    catalog = page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True)
    catalog.click()
    expect(catalog).to_have_attribute("aria-expanded", "false")
    sider(page).get_by_role("link", name=COURSES[0]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSES[0])
    expect(sider(page).get_by_role("link", name=COURSES[0])).to_have_attribute(
        "aria-current", "page"
    )
    screenshot(page, "sider.png")

    sider(page).get_by_role("button", name=f"Убрать «{COURSES[1]}» из избранного").click()
    expect(toast(page, f"Курс «{COURSES[1]}» удалён из избранного")).to_be_visible()
    expect(sider(page).locator(".fav-name")).to_have_text([COURSES[0], COURSES[2]])

    page.reload()
    expect(sider(page).locator(".fav-name")).to_have_text([COURSES[0], COURSES[2]])
    open_catalog(page)
    expect(course_card(page, COURSES[1]).locator(".fav-btn")).to_have_text("+")


def test_plus_when_logged_out_asks_to_log_in_then_adds(page, portal):
    email, password = portal.register_user()
    open_portal(page)
    open_catalog(page)
    name = COURSES[2]
    course_card(page, name).get_by_role("button", name=f"Добавить «{name}» в избранное").click()

    dialog = page.get_by_role("dialog", name="Вход")
    expect(dialog).to_contain_text("Войдите, чтобы добавлять курсы в избранное.")
    login_via_form(page, email, password)

    expect(toast(page, f"Курс «{name}» добавлен в избранное")).to_be_visible()
    expect(course_card(page, name).locator(".fav-btn")).to_have_text("✔")
    expect(sider(page).locator(".fav-name")).to_have_text([name])


def test_drag_and_drop_reorders_and_the_order_is_saved(page, portal):
    tokens = user_with_favorites(portal, COURSES)
    resume_session(page, tokens["refresh_token"])
    items = sider(page).locator(".fav-item")
    expect(sider(page).locator(".fav-name")).to_have_text(COURSES)

    with page.expect_response(
        lambda r: r.url.endswith("/api/user/courses/order") and r.request.method == "PUT"
    ) as saved:
        items.nth(2).locator(".drag-handle").drag_to(items.nth(0).locator(".drag-handle"))
    assert saved.value.status == 200

    expected = [COURSES[2], COURSES[0], COURSES[1]]
    expect(sider(page).locator(".fav-name")).to_have_text(expected)
    assert saved_order(portal, tokens["access_token"]) == course_ids(portal, expected)

    page.reload()
    expect(sider(page).locator(".fav-name")).to_have_text(expected)


def test_keyboard_reorders_with_buttons_and_alt_arrows(page, portal):
    tokens = user_with_favorites(portal, COURSES)
    resume_session(page, tokens["refresh_token"])
    panel = sider(page)
    expect(panel.locator(".fav-name")).to_have_text(COURSES)
    expect(panel.get_by_role("button", name=f"Переместить «{COURSES[0]}» выше")).to_be_disabled()

    with page.expect_response(lambda r: r.url.endswith("/api/user/courses/order")):
        panel.get_by_role("button", name=f"Переместить «{COURSES[0]}» ниже").click()
    expect(panel.locator(".fav-name")).to_have_text([COURSES[1], COURSES[0], COURSES[2]])
    # Focus stays on the moved course's button, so the key can be pressed again.
    expect(panel.get_by_role("button", name=f"Переместить «{COURSES[0]}» ниже")).to_be_focused()
    expect(page.locator("#sider-live")).to_have_text(f"«{COURSES[0]}»: позиция 2 из 3")

    panel.get_by_role("link", name=COURSES[2]).focus()
    with page.expect_response(lambda r: r.url.endswith("/api/user/courses/order")):
        page.keyboard.press("Alt+ArrowUp")
    expected = [COURSES[1], COURSES[2], COURSES[0]]
    expect(panel.locator(".fav-name")).to_have_text(expected)
    expect(panel.get_by_role("link", name=COURSES[2])).to_be_focused()
    assert saved_order(portal, tokens["access_token"]) == course_ids(portal, expected)


def test_a_favorite_whose_course_was_withdrawn_shows_as_unavailable(page, portal):
    admin = portal.access_token(*DEMO_ADMIN)
    created = portal.api(
        "POST",
        "/api/courses",
        admin,
        json={
            "name": f"Спецкурс {uuid.uuid4().hex[:6]}",
            "description": "Факультатив",
            "semester": 8,
        },
    )
    assert created.status_code == 201, created.text
    course = created.json()
    tokens = user_with_favorites(portal, [COURSES[0]])
    portal.add_favorites(tokens["access_token"], (course["id"],))
    withdrawn = portal.api(
        "PATCH", f"/api/courses/{course['id']}", admin, json={"is_active": False}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    resume_session(page, tokens["refresh_token"])
    gone = sider(page).locator(".fav-item.is-unavailable")
    expect(gone).to_have_count(1)
    expect(gone).to_contain_text(f"Курс №{course['id']}")
    expect(gone).to_contain_text("Курс недоступен")
    expect(gone.get_by_role("link")).to_have_count(0)

    gone.get_by_role("button", name=f"Убрать «Курс №{course['id']}» из избранного").click()
    expect(toast(page, "удалён из избранного")).to_be_visible()
    expect(sider(page).locator(".fav-name")).to_have_text([COURSES[0]])
