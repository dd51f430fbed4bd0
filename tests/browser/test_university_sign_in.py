"""Signing in with the university account in a real browser: the button of the login form, the
provider's own sign-in page (a real OpenID Connect provider process), and back in the portal
logged in, with the Sider loaded; logging out ends the provider's session too."""

import re
import uuid

import requests
from playwright.sync_api import Route, expect

from tests.browser.actions import open_portal, sider

# The provider's pages link a stylesheet on a CDN; nothing here may reach outside the machine.
OUTSIDE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


def serve_nothing(route: Route) -> None:
    route.fulfill(status=200, content_type="text/css", body="")


def first_sign_in_tokens(portal, sub: str) -> dict:
    """The same flow as the browser's, by HTTP through the gateway: the account now exists."""
    browser = requests.Session()
    started = browser.get(
        portal.url + "/api/auth/oidc/university/login", allow_redirects=False, timeout=10
    )
    at_provider = requests.post(
        started.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=10
    )
    browser.get(at_provider.headers["Location"], allow_redirects=False, timeout=10)
    return browser.post(
        portal.url + "/api/auth/refresh", json={}, headers={"X-CSRF": "1"}, timeout=10
    ).json()


def test_sign_in_with_the_university_account_and_out_again(page, portal):
    page.context.route(OUTSIDE, serve_nothing)
    sub = f"ivanova-{uuid.uuid4().hex[:6]}"
    portal.oidc.set_user(
        sub,
        {"email": f"{sub}@uni.example.edu", "name": "Мария Иванова", "groups": ["students"]},
    )
    portal.add_favorites(first_sign_in_tokens(portal, sub)["access_token"], (1, 2))

    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    page.get_by_role("dialog", name="Вход").get_by_role(
        "button", name="Войти через университет"
    ).click()

    # The provider's page, not the portal's.
    expect(page).to_have_url(re.compile(re.escape(portal.oidc.issuer) + "/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(re.compile(re.escape(portal.url) + "/#/"))
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    expect(page.locator("#account")).to_contain_text("Мария Иванова")
    expect(sider(page).locator(".fav-item")).to_have_count(2)

    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_url(re.compile(re.escape(portal.oidc.issuer) + "/oauth2/end_session"))
    page.get_by_role("button", name="End session").click()

    expect(page).to_have_url(portal.url + "/")
    expect(page.locator("#account").get_by_role("button", name="Войти")).to_be_visible()


def test_a_sign_in_cancelled_at_the_provider_is_said_in_words(page, portal):
    page.context.route(OUTSIDE, serve_nothing)
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    page.get_by_role("button", name="Войти через университет").click()
    page.get_by_role("button", name="Deny").click()

    expect(page.locator(".toast")).to_contain_text("Вход через университет отменён.")
    expect(page).to_have_url(portal.url + "/#/")  # the error code left the address
    expect(page.locator("#account").get_by_role("button", name="Войти")).to_be_visible()


def test_a_password_account_is_linked_after_its_password(page, portal):
    """The provider names an address that has a password account: the portal asks for the
    password first, then links the university account, and from then on it signs in alone."""
    page.context.route(OUTSIDE, serve_nothing)
    email, password = portal.register_user()
    sub = f"linked-{uuid.uuid4().hex[:6]}"
    portal.oidc.set_user(sub, {"email": email, "name": "Пётр Ли", "groups": []})

    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    page.get_by_role("button", name="Войти через университет").click()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()

    dialog = page.get_by_role("dialog", name="Вход")
    expect(dialog).to_contain_text("Аккаунт с этой почтой уже есть")
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill(password)
    dialog.get_by_role("button", name="Войти", exact=True).click()
    # Linking: the provider once more (its own session would skip this page in real life).
    expect(page).to_have_url(re.compile(re.escape(portal.oidc.issuer) + "/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()

    # The university account alone opens the same account now.
    tokens = first_sign_in_tokens(portal, sub)
    assert portal.api("GET", "/api/auth/me", tokens["access_token"]).json()["email"] == email
