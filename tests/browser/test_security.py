"""Data from the API is shown as text, never run as markup."""

import uuid

from playwright.sync_api import expect

from tests.browser.actions import course_card, open_catalog, open_portal
from tests.browser.system import DEMO_ADMIN

MARKUP = '<img src="x" onerror="window.__injected = 1"><b>жирный</b>'


def test_course_and_material_text_is_never_interpreted_as_html(page, portal):
    admin = portal.access_token(*DEMO_ADMIN)
    name = f"Курс {uuid.uuid4().hex[:6]} {MARKUP}"
    course = portal.api(
        "POST", "/api/courses", admin, json={"name": name, "description": MARKUP, "semester": 8}
    )
    assert course.status_code == 201, course.text
    course_id = course.json()["id"]
    material = portal.api(
        "POST",
        f"/api/courses/{course_id}/materials",
        admin,
        json={
            "lesson_number": 1,
            "material_type_code": "lecture",
            "title": MARKUP,
            "description": MARKUP,
            "file_url": "https://files.example.edu/x.pdf",
        },
    )
    assert material.status_code == 201, material.text

    try:
        open_portal(page)
        open_catalog(page)
        card = course_card(page, name)
        expect(card.locator(".course-link")).to_have_text(name)
        card.locator(".course-link").focus()
        expect(card.locator(".course-tooltip")).to_have_text(MARKUP)
        card.locator(".course-link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        expect(page.locator(".material-title")).to_have_text(MARKUP)
        page.locator(".material-link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(MARKUP)
        expect(page.locator(".material-description")).to_have_text(MARKUP)
        assert page.locator("main img, #catalog img").count() == 0
        assert page.evaluate("() => window.__injected") is None
    finally:
        portal.api("PATCH", f"/api/courses/{course_id}", admin, json={"is_active": False})
