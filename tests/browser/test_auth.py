"""Login, registration and logout; the refresh token keeps a user logged in across reloads from
an HttpOnly cookie no script can read, while the access token never leaves memory; a 401 renews
the pair once for all waiting calls."""

import json
import uuid

from playwright.sync_api import expect

from tests.browser.actions import (
    REFRESH_TOKEN_KEY,
    open_portal,
    resume_session,
    sider,
    toast,
)

STORED = """() => JSON.stringify({
    local: Object.assign({}, localStorage),
    session: Object.assign({}, sessionStorage),
    cookies: document.cookie,
})"""


def test_register_then_reload_keeps_the_user_and_logout_ends_it(page, portal, screenshot):
    email = f"anna-{uuid.uuid4().hex[:10]}@example.edu"
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Регистрация").click()
    dialog = page.get_by_role("dialog", name="Регистрация")
    dialog.get_by_label("Имя и фамилия").fill("Анна Иванова")
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill("anna-password-1")
    dialog.get_by_role("button", name="Зарегистрироваться").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#account")).to_contain_text("Анна Иванова")
    expect(sider(page).get_by_text("Здесь пока пусто.")).to_be_visible()

    # Before: the 30-day refresh token sat in localStorage, in reach of any script.
    stored = json.dumps(json.loads(page.evaluate(STORED)))
    cookie = refresh_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/auth"
    assert cookie["value"] not in stored and REFRESH_TOKEN_KEY not in stored
    # The access token (a JWT) lives in memory only.
    assert "eyJ" not in stored

    page.reload()
    expect(page.locator("#account")).to_contain_text("Анна Иванова")
    renewed = refresh_cookie(page)["value"]
    assert renewed != cookie["value"]  # rotated on the way

    page.get_by_role("button", name="Выйти").click()
    expect(toast(page, "Вы вышли из системы")).to_be_visible()
    expect(page.locator("#account").get_by_role("button", name="Войти")).to_be_visible()
    page.wait_for_function("() => !localStorage.getItem('coursePortal.signedIn')")
    assert refresh_cookie(page) is None
    revoked = portal.api("POST", "/api/auth/refresh", json={"refresh_token": renewed})
    assert revoked.status_code == 401

    page.reload()
    expect(page.locator("#account").get_by_role("button", name="Войти")).to_be_visible()
    expect(sider(page)).to_contain_text("Войдите, чтобы собирать здесь курсы")


def refresh_cookie(page):
    cookies = [c for c in page.context.cookies() if c["name"] == "portal_refresh"]
    return cookies[0] if cookies else None


def test_a_token_an_earlier_version_stored_is_moved_into_the_cookie(page, portal):
    email, password = portal.register_user()
    resume_session(page, portal.login(email, password)["refresh_token"])
    assert page.evaluate(f"() => localStorage.getItem('{REFRESH_TOKEN_KEY}')") is None
    assert refresh_cookie(page)["httpOnly"]
    page.reload()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def test_login_form_reports_a_wrong_password_and_then_logs_in(
    page, portal, console_problems, screenshot
):
    console_problems.expect(r"status of 401")
    email, password = portal.register_user()
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    dialog = page.get_by_role("dialog", name="Вход")
    expect(dialog.get_by_label("Электронная почта")).to_be_focused()
    dialog.get_by_label("Электронная почта").fill("student@example.edu")  # a stable picture
    screenshot(page, "login.png")
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill("not-the-password")
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(dialog.get_by_role("alert")).to_have_text("Неверная почта или пароль.")
    expect(dialog.get_by_label("Пароль")).to_be_focused()

    dialog.get_by_label("Пароль").fill(password)
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def test_empty_login_form_is_caught_before_sending(page, portal):
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    dialog = page.get_by_role("dialog", name="Вход")
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(dialog.get_by_role("alert")).to_have_text("Введите почту и пароль.")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_a_revoked_refresh_token_just_means_logged_out(page, portal, console_problems):
    console_problems.expect(r"status of 401")
    email, password = portal.register_user()
    revoked = portal.login(email, password)["refresh_token"]
    assert portal.api("POST", "/api/auth/logout", json={"refresh_token": revoked}).ok
    page.goto("/")
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [REFRESH_TOKEN_KEY, revoked])
    page.reload()
    expect(page.locator("#account").get_by_role("button", name="Войти")).to_be_visible()
    page.wait_for_function(f"() => localStorage.getItem('{REFRESH_TOKEN_KEY}') === null")


def test_a_401_renews_the_tokens_once_for_all_waiting_requests(page, portal, console_problems):
    console_problems.expect(r"status of 401")
    email, password = portal.register_user()
    resume_session(page, portal.login(email, password)["refresh_token"])

    # The access token is refused once per endpoint, as if it had just expired.
    refused = set()

    def refuse_once(route):
        key = route.request.url
        if key in refused:
            route.continue_()
            return
        refused.add(key)
        route.fulfill(
            status=401,
            content_type="application/json",
            body='{"code": 401, "status": "Unauthorized", "message": "expired"}',
        )

    page.route("**/api/user/courses", refuse_once)
    page.route("**/api/auth/me", refuse_once)
    refreshes = []
    page.on(
        "request",
        lambda r: r.url.endswith("/api/auth/refresh") and refreshes.append(r),
    )
    results = page.evaluate(
        """async () => {
            const { api } = await import("/api.js");
            const [favorites, me] = await Promise.all([api.favorites(), api.me()]);
            return { favorites, email: me.email };
        }"""
    )
    assert results == {"favorites": [], "email": email}
    assert len(refreshes) == 1
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
