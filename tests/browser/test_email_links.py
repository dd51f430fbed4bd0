"""The mails' links in a real browser: "Забыли пароль?" from the login form to a working new
password, following the link of the message the SMTP server received; and a new account's
verification link."""

import re
import uuid

from playwright.sync_api import expect

from tests.browser.actions import assert_accessible, open_portal, toast

LINK = re.compile(r"http://127\.0\.0\.1:\d+/#/(?:reset-password|verify-email)\?token=[\w-]+")


def link_of(message) -> str:
    return LINK.search(message.get_body(("plain",)).get_content()).group(0)


def test_forgotten_password_to_a_working_new_one(page, portal, console_problems):
    email, old_password = portal.register_user()
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Войти").click()
    dialog = page.get_by_role("dialog", name="Вход")
    dialog.get_by_role("button", name="Забыли пароль?").click()

    dialog = page.get_by_role("dialog", name="Восстановление пароля")
    assert_accessible(page)
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_role("button", name="Отправить ссылку").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Если аккаунт с адресом {email} есть")
    expect(dialog.get_by_role("button", name="Вернуться ко входу")).to_be_focused()

    message = portal.smtp.wait_for(email, count=2)[-1]  # after the verification mail
    assert message["Subject"] == "Смена пароля"
    page.goto(link_of(message))
    expect(page).to_have_url(portal.url + "/#/")  # the token left the address at once

    dialog = page.get_by_role("dialog", name="Новый пароль")
    expect(dialog.get_by_label("Новый пароль")).to_be_focused()
    assert_accessible(page)
    dialog.get_by_label("Новый пароль").fill("brand-new-password-1")
    dialog.get_by_role("button", name="Сохранить пароль").click()
    expect(toast(page, "Пароль изменён. Войдите с новым паролем.")).to_be_visible()

    dialog = page.get_by_role("dialog", name="Вход")
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill("brand-new-password-1")
    dialog.get_by_role("button", name="Войти", exact=True).click()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    assert (
        portal.api(
            "POST", "/api/auth/login", json={"email": email, "password": old_password}
        ).status_code
        == 401
    )

    # The link worked once.
    console_problems.expect(r"status of 410 .*/api/auth/password-reset/confirm")
    page.goto(link_of(message))
    page.get_by_role("dialog", name="Новый пароль").get_by_label("Новый пароль").fill("x" * 12)
    page.get_by_role("button", name="Сохранить пароль").click()
    expect(page.get_by_role("alert").filter(has_text="Эта ссылка уже использована")).to_be_visible()


def test_a_new_account_verifies_its_address_from_the_mail(page, portal):
    email = f"verify-{uuid.uuid4().hex[:10]}@example.edu"
    open_portal(page)
    page.locator("#account").get_by_role("button", name="Регистрация").click()
    dialog = page.get_by_role("dialog", name="Регистрация")
    dialog.get_by_label("Имя и фамилия").fill("Вера Новикова")
    dialog.get_by_label("Электронная почта").fill(email)
    dialog.get_by_label("Пароль").fill("vera-password-1")
    dialog.get_by_role("button", name="Зарегистрироваться").click()

    notice = page.locator("#account-notice")
    expect(notice).to_contain_text(f"Мы отправили ссылку на {email}")
    assert_accessible(page)

    (message,) = portal.smtp.wait_for(email)
    page.goto(link_of(message))
    expect(toast(page, "Почта подтверждена")).to_be_visible()
    expect(notice).to_be_hidden()
    token = portal.access_token(email, "vera-password-1")
    assert portal.api("GET", "/api/auth/me", token).json()["permissions"] == [
        "assistant:use",
        "favorites:write",
    ]
