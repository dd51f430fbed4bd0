"""Browsing: "ВСЕ КУРСЫ" by semester, live search, hover descriptions, materials with type
chips, a material's details, "Назад", and the URL following every view."""

import itertools
import re

import pytest
from playwright.sync_api import expect

from tests.browser.actions import (
    catalog_toggle,
    course_card,
    open_catalog,
    open_portal,
    visible_course_names,
)

ALGORITHMS = "Алгоритмы и структуры данных"

# Height of the opening list, sampled on every animation frame while it opens.
SAMPLE_OPENING = """() => new Promise((resolve) => {
    const panel = document.getElementById("catalog");
    const heights = [];
    const start = performance.now();
    document.getElementById("catalog-toggle").click();
    const sample = (now) => {
        heights.push(panel.getBoundingClientRect().height);
        if (now - start < 800) requestAnimationFrame(sample); else resolve(heights);
    };
    requestAnimationFrame(sample);
})"""


def wait_for_catalog(page):
    page.wait_for_function("document.querySelectorAll('#catalog .course-card').length > 0")


def test_all_courses_opens_smoothly_grouped_by_semester(page, portal, screenshot):
    semesters = portal.api("GET", "/api/semesters").json()
    open_portal(page)
    wait_for_catalog(page)
    toggle = catalog_toggle(page)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#catalog .course-card").first).to_be_hidden()

    heights = page.evaluate(SAMPLE_OPENING)

    final = heights[-1]
    assert final > 200
    # It grows over several frames, never shrinking on the way: no jump straight to full size.
    in_between = [h for h in heights if 1 < h < final - 1]
    assert len(in_between) >= 3, heights
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(heights)), heights
    expect(toggle).to_have_attribute("aria-expanded", "true")

    panel = page.get_by_role("navigation", name="Все курсы")
    expect(panel.locator(".semester-name")).to_have_text([group["title"] for group in semesters])
    assert [group["title"] for group in semesters][:2] == ["1-й семестр", "2-й семестр"]
    for group in semesters:
        section = panel.get_by_role("region", name=group["title"], exact=True)
        expect(section.get_by_role("heading", name=group["title"], exact=True)).to_be_visible()
        expect(section.locator(".course-link")).to_have_text(
            [course["name"] for course in group["courses"]]
        )
    screenshot(page, "courses.png")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(panel.locator(".course-card").first).to_be_hidden()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("АЛГОРИТМ", ALGORITHMS),  # Cyrillic, other case
        ("python", "Программирование на Python"),  # Latin, other case
        ("распределенные", "Распределённые системы"),  # е finds ё
    ],
)
def test_search_filters_as_you_type_like_the_server(page, portal, typed, expected):
    server = portal.api("GET", "/api/courses/search", params={"query": typed}).json()
    open_portal(page)
    open_catalog(page)
    page.get_by_label("Поиск курса").press_sequentially(typed, delay=20)

    expect(page.locator("#catalog .course-link", has_text=expected)).to_be_visible()
    expect(page.locator("#catalog .course-link")).to_have_count(len(server))
    assert sorted(visible_course_names(page)) == sorted(course["name"] for course in server)
    expect(page.locator("#catalog mark").first).to_be_visible()  # the match is highlighted


def test_search_with_no_match_says_so_and_clearing_restores_the_list(page, portal):
    total = sum(len(group["courses"]) for group in portal.api("GET", "/api/semesters").json())
    open_portal(page)
    search = page.get_by_label("Поиск курса")
    search.fill("кванто́вая хромодинамика 42")  # opens the list by itself
    expect(page.get_by_text("Ничего не найдено")).to_be_visible()
    expect(page.locator("#catalog .course-card")).to_have_count(0)

    search.fill("")
    expect(page.locator("#catalog .course-card")).to_have_count(total)


def test_hover_and_keyboard_focus_show_the_short_description(page, portal):
    open_portal(page)
    open_catalog(page)
    card = course_card(page, ALGORITHMS)
    tooltip = card.get_by_role("tooltip")
    expect(tooltip).to_be_hidden()

    card.locator(".course-link").hover()
    expect(tooltip).to_be_visible()
    expect(tooltip).to_have_text("Изучение основных алгоритмов.")

    page.mouse.move(0, 0)
    expect(tooltip).to_be_hidden()
    card.locator(".course-link").focus()
    expect(tooltip).to_be_visible()
    # Screen readers get it as the link's description.
    expect(card.locator(".course-link")).to_have_accessible_description(
        "Изучение основных алгоритмов."
    )


def test_course_materials_chips_details_and_back(page, portal, screenshot):
    materials = portal.api("GET", "/api/courses/1/materials").json()["materials"]
    seminars = [m for m in materials if m["material_type_code"] == "seminar"]
    open_portal(page)
    open_catalog(page)
    page.get_by_role("link", name=ALGORITHMS).click()

    expect(page).to_have_url(re.compile(r"#/courses/1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ALGORITHMS)
    expect(catalog_toggle(page)).to_have_attribute("aria-expanded", "false")
    rows = page.locator(".material-row")
    expect(rows).to_have_count(len(materials))
    lesson_numbers = [str(m["lesson_number"]) for m in materials]
    expect(rows.locator(".lesson-number")).to_have_text(lesson_numbers)
    expect(rows.locator(".material-title")).to_have_text([m["title"] for m in materials])
    screenshot(page, "materials.png", full_page=True)

    chips = page.get_by_role("navigation", name="Тип материала")
    expect(chips.get_by_role("link")).to_have_text(
        [re.compile(rf"^{label}\s*\d+$") for label in ("Все", "Лекция", "Семинар")]
        + [re.compile(r"^Лабораторная работа\s*\d+$")]
    )
    chips.get_by_role("link", name=re.compile("^Семинар")).click()
    expect(page).to_have_url(re.compile(r"#/courses/1\?type=seminar$"))
    expect(chips.get_by_role("link", name=re.compile("^Семинар"))).to_have_attribute(
        "aria-current", "true"
    )
    expect(rows).to_have_count(len(seminars))
    expect(rows.locator(".type-badge")).to_have_text(["Семинар"] * len(seminars))

    chosen = seminars[1]
    details = portal.api("GET", f"/api/courses/1/materials/{chosen['id']}").json()
    page.get_by_role("link", name=re.compile(re.escape(chosen["title"]))).click()
    expect(page).to_have_url(re.compile(rf"#/courses/1/materials/{chosen['id']}\?type=seminar$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(details["title"])
    facts = page.locator("dl.details")
    expect(facts.locator("div", has_text="Тип").locator("dd")).to_have_text("Семинар")
    expect(facts.locator("div", has_text="Номер занятия").locator("dd")).to_have_text(
        str(details["lesson_number"])
    )
    expect(page.locator(".material-description")).to_have_text(details["description"])
    file_link = page.get_by_role("link", name=re.compile("Открыть файл"))
    expect(file_link).to_have_attribute("href", details["file_url"])
    expect(file_link).to_have_attribute("rel", "noopener noreferrer")
    expect(file_link).to_have_attribute("target", "_blank")
    screenshot(page, "material.png")

    page.get_by_role("button", name="Назад").click()
    expect(page).to_have_url(re.compile(r"#/courses/1\?type=seminar$"))
    expect(rows).to_have_count(len(seminars))
    # Focus returns to the material the user came from.
    expect(page.get_by_role("link", name=re.compile(re.escape(chosen["title"])))).to_be_focused()


def test_back_button_without_history_goes_to_the_materials_list(page, portal):
    material = portal.api("GET", "/api/courses/2/materials").json()["materials"][0]
    open_portal(page, f"/#/courses/2/materials/{material['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(material["title"])
    page.get_by_role("button", name="Назад").click()
    expect(page).to_have_url(re.compile(r"#/courses/2$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Программирование на Python")


def test_url_follows_the_view_through_back_forward_and_reload(page, portal):
    material = portal.api("GET", "/api/courses/1/materials").json()["materials"][2]
    open_portal(page)
    open_catalog(page)
    page.get_by_role("link", name=ALGORITHMS).click()
    page.get_by_role("link", name=re.compile(re.escape(material["title"]))).click()
    title = page.get_by_role("heading", level=1)
    expect(title).to_have_text(material["title"])

    page.go_back()
    expect(page).to_have_url(re.compile(r"#/courses/1$"))
    expect(title).to_have_text(ALGORITHMS)
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Материалы курсов в одном месте")
    page.go_forward()
    expect(title).to_have_text(ALGORITHMS)
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"#/courses/1/materials/{material['id']}$"))
    expect(title).to_have_text(material["title"])

    page.reload()
    expect(title).to_have_text(material["title"])
    expect(page).to_have_title(re.compile(re.escape(material["title"])))


def test_unknown_course_and_bad_address_show_a_message(page, portal, console_problems):
    console_problems.expect(r"status of 404")
    open_portal(page, "/#/courses/999999")
    expect(page.get_by_role("heading", name="Курс не найден")).to_be_visible()
    page.goto("/#/courses/abc")
    expect(page.get_by_role("heading", name="Страница не найдена")).to_be_visible()
    page.get_by_role("link", name="На главную").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Материалы курсов в одном месте")
