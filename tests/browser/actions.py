"""What a person does on the portal's pages, as Playwright steps the tests share."""

import json
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
REFRESH_TOKEN_KEY = "coursePortal.refreshToken"


def open_portal(page: Page, path: str = "/") -> None:
    page.goto(path)
    expect(page.locator("#account")).not_to_contain_text("Вход…")


def catalog_toggle(page: Page) -> Locator:
    return page.get_by_role("button", name="ВСЕ КУРСЫ", exact=True)


def open_catalog(page: Page) -> Locator:
    """Opens "ВСЕ КУРСЫ" and waits for the list; returns the panel."""
    toggle = catalog_toggle(page)
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    panel = page.get_by_role("navigation", name="Все курсы")
    expect(panel).to_be_visible()
    expect(panel.locator(".course-card").first).to_be_visible()
    return panel


def course_card(page: Page, name: str) -> Locator:
    return page.locator(".course-card").filter(has=page.locator(".course-link", has_text=name))


def visible_course_names(page: Page) -> list[str]:
    return page.locator("#catalog .course-link").all_inner_texts()


def sider(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Избранное")


def sider_names(page: Page) -> list[str]:
    return [name.strip() for name in sider(page).locator(".fav-name").all_inner_texts()]


def login_via_form(page: Page, email: str, password: str) -> None:
    dialog = page.get_by_role("dialog", name="Вход")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill(password)
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(dialog).to_be_hidden()


def log_in(page: Page, email: str, password: str) -> None:
    """Through the header's "Войти" button and the login form."""
    page.locator("#account").get_by_role("button", name="Войти").click()
    login_via_form(page, email, password)
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def resume_session(page: Page, refresh_token: str, path: str = "/") -> None:
    """Open the portal as a browser that logged in earlier: only the refresh token is stored."""
    page.goto("/")
    page.evaluate(
        "([key, token]) => localStorage.setItem(key, token)",
        [REFRESH_TOKEN_KEY, refresh_token],
    )
    if path != "/":
        page.goto(path)  # the same document: only the hash changes
    page.reload()  # a new start of the app, which renews the stored session
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def toast(page: Page, text: str) -> Locator:
    return page.locator(".toast", has_text=text)


def serious_accessibility_violations(page: Page, context: str | None = None) -> list[dict]:
    """axe-core's serious and critical findings for the page as it is now."""
    if not page.evaluate("() => Boolean(window.axe)"):
        # Evaluated through the DevTools protocol: a <script> tag would be inline code, which
        # the page's Content-Security-Policy rightly refuses.
        page.evaluate(AXE_SCRIPT.read_text())
    results = page.evaluate(
        """async (context) => {
            // A dialog fading in or a button easing into its hover colour has, for a moment,
            // colours that are neither its own nor the ones the user reads: axe measures
            // whatever is on screen, so every finite animation ends before it looks.
            const finite = document.getAnimations().filter(
                (a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
            await Promise.all(finite.map((a) => a.finished.catch(() => null)));
            const result = await axe.run(context || document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }""",
        context,
    )
    return [v for v in results if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Page, context: str | None = None) -> None:
    violations = serious_accessibility_violations(page, context)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=2)


def wait_until(check, timeout=20.0, what="the condition"):
    """`check()`'s first truthy value, asked every 0.1 s (an API's state, not the page's: for the
    page, Playwright's `expect` waits by itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
