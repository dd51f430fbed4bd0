"""A 390 px wide phone: nothing wider than the screen, the Sider as a drawer, and every view
reachable by touch."""

import re

from playwright.sync_api import expect

from tests.browser.actions import open_catalog, resume_session, sider

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
COURSES = ["Алгоритмы и структуры данных", "Базы данных"]


def test_phone_layout_with_the_sider_as_a_drawer(phone_page, portal, screenshot):
    page = phone_page
    email, password = portal.register_user()
    tokens = portal.login(email, password)
    ids = {course["name"]: course["id"] for course in portal.api("GET", "/api/courses").json()}
    portal.add_favorites(tokens["access_token"], [ids[name] for name in COURSES])
    resume_session(page, tokens["refresh_token"])
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    drawer = sider(page)
    # Its name carries the number of favorites.
    toggle = page.get_by_role("button", name=re.compile(r"^Избранное \d+$"))
    expect(drawer).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    screenshot(page, "phone.png")

    toggle.tap()
    expect(drawer).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(drawer.locator(".fav-item")).to_have_count(2)
    page.wait_for_timeout(350)  # the slide-in, for the picture
    screenshot(page, "phone-sider.png")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(toggle).to_be_focused()

    panel = open_catalog(page)
    cards = panel.locator(".course-card")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert first["width"] > 300  # one column, full width
    assert second["y"] > first["y"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "phone-courses.png")

    panel.get_by_role("link", name="Базы данных").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Базы данных")
    expect(page.locator(".material-row").first).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.locator(".material-row").first.get_by_role("link").tap()
    expect(page.get_by_role("button", name="Назад")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_role("button", name="Назад").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Базы данных")

    # A course chosen in the drawer opens and the drawer gets out of the way.
    toggle.tap()
    drawer.get_by_role("link", name=COURSES[0]).tap()
    expect(drawer).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSES[0])
