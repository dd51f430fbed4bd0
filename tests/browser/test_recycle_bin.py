"""A teacher deletes a material by mistake, finds it in the course's "Корзина" (who cannot: a
student, or a teacher elsewhere) and brings it back with "Восстановить"."""

from playwright.sync_api import expect

from tests.browser.actions import AXE_SCRIPT, assert_accessible, open_portal, resume_session, toast
from tests.browser.system import DEMO_TEACHER


def test_a_teacher_restores_a_deleted_material_from_the_recycle_bin(page, portal, screenshot):
    tokens = portal.login(*DEMO_TEACHER)
    token = tokens["access_token"]
    course = portal.api("GET", "/api/teacher/courses", token).json()[0]
    title = "Материал для корзины"
    created = portal.api(
        "POST",
        f"/api/courses/{course['id']}/materials",
        token,
        json={"lesson_number": 11, "material_type_code": "lab", "title": title},
    )
    assert created.status_code == 201, created.text
    material_id = created.json()["id"]

    resume_session(page, tokens["refresh_token"], f"/#/courses/{course['id']}")
    row = page.locator(".material-row", has_text=title)
    expect(row).to_be_visible()
    page.get_by_role("button", name=f"Удалить «{title}»").click()
    confirm = page.get_by_role("dialog", name="Подтверждение")
    expect(confirm).to_contain_text("корзину")
    confirm.get_by_role("button", name="Удалить").click()
    expect(toast(page, f"Материал «{title}» удалён")).to_be_visible()
    expect(page.locator(".material-row", has_text=title)).to_have_count(0)

    toggle = page.get_by_role("button", name="Корзина")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    bin_panel = page.get_by_role("region", name="Корзина")
    binned = bin_panel.locator(".recycle-bin-row", has_text=title)
    expect(binned).to_be_visible()
    expect(binned).to_contain_text("Будет удалён окончательно")
    # axe-core through the DevTools protocol: the portal's CSP refuses inline scripts.
    page.evaluate(AXE_SCRIPT.read_text() + "\n;0")
    assert_accessible(page, ".recycle-bin")
    screenshot(page, "teacher-recycle-bin.png")

    binned.get_by_role("button", name=f"Восстановить «{title}»").click()
    expect(toast(page, f"Материал «{title}» восстановлен")).to_be_visible()
    expect(page.locator(".material-row", has_text=title)).to_be_visible()
    expect(bin_panel.locator(".recycle-bin-row", has_text=title)).to_have_count(0)
    restored = portal.api("GET", f"/api/courses/{course['id']}/materials/{material_id}")
    assert restored.status_code == 200

    portal.api("DELETE", f"/api/courses/{course['id']}/materials/{material_id}", token)


def test_students_see_no_recycle_bin(page, portal):
    course = portal.api("GET", "/api/courses").json()[0]
    open_portal(page, f"/#/courses/{course['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(course["name"])
    expect(page.get_by_role("button", name="Корзина")).to_have_count(0)
