"""Accounts by email, end to end: auth under gunicorn, its worker (the huey consumer) and a real
SMTP server process with STARTTLS and a login. Every link a test follows is read from a
delivered message, as its owner would."""

import re
import statistics
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select, update

from auth_service.keys import create_key_file
from auth_service.models import Base, EmailToken, OutgoingMail
from tests.support.databases import clear_tables
from tests.support.processes import ServerProcess, TaskConsumer
from tests.support.smtp_server import SmtpServerProcess

pytestmark = pytest.mark.e2e

TIMEOUT = 10
PASSWORD = "first-password-1"
PUBLIC_URL = "http://portal.test"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/#/(verify-email|reset-password)\?token=([\w-]+)")


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    with SmtpServerProcess(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="module")
def stack(auth_database, smtp, tmp_path_factory):
    directory = tmp_path_factory.mktemp("var")
    key_file = directory / "jwt-private.pem"
    create_key_file(key_file)
    env = {
        "DATABASE_URL": auth_database,
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "VAR_DIR": str(directory),  # the task queue's SQLite file, shared by both processes
        "REDIS_URL": "",
        "PUBLIC_BASE_URL": PUBLIC_URL,
        "MAIL_RETRY_SECONDS": "1",
        **smtp.env,
    }
    with (
        ServerProcess("auth_service:create_app()", env, workers=2, threads=4) as auth,
        TaskConsumer("auth_service.tasks.huey", env, directory / "worker.log") as worker,
    ):
        yield auth, worker


@pytest.fixture
def url(stack, auth_database):
    clear_tables(auth_database, Base.metadata, keep=("roles", "permissions", "role_permissions"))
    return stack[0].url


def new_email() -> str:
    return f"ann-{uuid.uuid4().hex[:10]}@example.edu"


def link_in(message, page: str) -> str:
    """The token of the message's link to `page`; the HTML part carries the same link."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    found = [token for kind, token in LINK.findall(text) if kind == page]
    assert found, text
    assert found[0] in html
    return found[0]


def register(url: str, email: str) -> dict:
    response = requests.post(
        url + "/api/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Анна Ли"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def login(url: str, email: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(
        url + "/api/auth/login", json={"email": email, "password": password}, timeout=TIMEOUT
    )


def me(url: str, access_token: str) -> dict:
    return requests.get(
        url + "/api/auth/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT
    ).json()


def post(url: str, path: str, body: dict) -> requests.Response:
    return requests.post(url + path, json=body, timeout=TIMEOUT)


def test_a_new_account_is_verified_by_the_link_in_its_mail(url, smtp):
    email = new_email()
    account = register(url, email)
    assert account["email_verified"] is False
    before = me(url, login(url, email).json()["access_token"])
    assert before["permissions"] == []  # reads only, until the address is proven

    (message,) = smtp.wait_for(email)
    assert message["Subject"] == "Подтвердите адрес почты"
    (sender,) = message["From"].addresses
    assert sender.addr_spec == "noreply@portal.test" and sender.display_name.startswith("Портал")
    assert "Анна Ли" in message.get_body(("plain",)).get_content()
    token = link_in(message, "verify-email")

    verified = post(url, "/api/auth/verify-email", {"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    after = me(url, login(url, email).json()["access_token"])
    assert after["permissions"] == ["assistant:use", "favorites:write"]

    again = post(url, "/api/auth/verify-email", {"token": token})
    assert again.status_code == 410
    assert again.json()["message"] == "This link has already been used."


def test_a_tampered_or_foreign_link_is_refused(url, smtp):
    email = new_email()
    register(url, email)
    token = link_in(smtp.wait_for(email)[0], "verify-email")

    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:20], "x" * 43):
        response = post(url, "/api/auth/verify-email", {"token": forged})
        assert response.status_code == 400, forged
        assert "not valid" in response.json()["message"]
    # A verification link is no reset link.
    reset = post(url, "/api/auth/password-reset/confirm", {"token": token, "password": "x" * 12})
    assert reset.status_code == 400


def test_an_expired_link_is_refused(url, smtp, auth_database):
    email = new_email()
    register(url, email)
    token = link_in(smtp.wait_for(email)[0], "verify-email")
    engine = create_engine(auth_database)
    with engine.begin() as connection:
        connection.execute(update(EmailToken).values(expires_at=EmailToken.created_at))
    engine.dispose()

    response = post(url, "/api/auth/verify-email", {"token": token})
    assert response.status_code == 410
    assert "expired" in response.json()["message"]


def test_forgotten_password_reset_by_mail_ends_every_old_session(url, smtp):
    email = new_email()
    register(url, email)
    old_session = login(url, email).json()

    requested = post(url, "/api/auth/password-reset", {"email": email.upper()})
    assert requested.status_code == 202
    reset_mail = smtp.wait_for(email, count=2)[-1]
    assert reset_mail["Subject"] == "Смена пароля"
    token = link_in(reset_mail, "reset-password")

    done = post(
        url, "/api/auth/password-reset/confirm", {"token": token, "password": "new-pass-22"}
    )
    assert done.status_code == 204, done.text

    assert login(url, email, "new-pass-22").status_code == 200
    assert login(url, email, PASSWORD).status_code == 401
    refresh = post(url, "/api/auth/refresh", {"refresh_token": old_session["refresh_token"]})
    assert refresh.status_code == 401
    revoked = requests.get(url + "/.well-known/revocations.json", timeout=TIMEOUT).json()
    assert (
        str(me(url, login(url, email, "new-pass-22").json()["access_token"])["id"])
        in (revoked["revocations"])
    )
    notice = smtp.wait_for(email, count=3)[-1]
    assert notice["Subject"] == "Пароль изменён"
    assert "reset-password" not in notice.get_body(("plain",)).get_content()

    reused = post(url, "/api/auth/password-reset/confirm", {"token": token, "password": "x" * 12})
    assert reused.status_code == 410
    # The reset link proved the address too.
    assert me(url, login(url, email, "new-pass-22").json()["access_token"])["email_verified"]


def test_an_unknown_address_gets_the_same_answer_in_the_same_time(url, smtp):
    known = new_email()
    register(url, known)

    def timed(email: str) -> tuple[float, int, dict]:
        started = time.perf_counter()
        response = post(url, "/api/auth/password-reset", {"email": email})
        return time.perf_counter() - started, response.status_code, response.json()

    known_answers = [timed(known) for _ in range(3)]  # three mails: the address's limit
    unknown_answers = [timed(new_email()) for _ in range(3)]
    assert {(status, str(body)) for _t, status, body in known_answers} == {
        (status, str(body)) for _t, status, body in unknown_answers
    }
    known_ms = statistics.median(t for t, _s, _b in known_answers) * 1000
    unknown_ms = statistics.median(t for t, _s, _b in unknown_answers) * 1000
    # The same class: no password hash on either path, a few milliseconds of database apart.
    assert abs(known_ms - unknown_ms) < 50, (known_ms, unknown_ms)

    # Past the address's limit the answer stays the same, and no more mail goes out.
    assert timed(known)[1:] == known_answers[0][1:]
    time.sleep(1)
    assert len(smtp.messages(known)) == 1 + 3


def test_mail_waits_out_an_smtp_outage_and_is_delivered(url, smtp, auth_database):
    email = new_email()
    smtp.stop()
    try:
        register(url, email)
        engine = create_engine(auth_database)
        deadline = time.monotonic() + 20
        failed = None
        while time.monotonic() < deadline and not failed:
            with engine.connect() as connection:
                failed = connection.execute(
                    select(OutgoingMail.attempts, OutgoingMail.last_error).where(
                        OutgoingMail.recipient == email
                    )
                ).first()
            failed = failed if failed and failed.last_error else None
            time.sleep(0.2)
        assert failed, "the worker never tried"
        assert "Connection" in failed.last_error or "refused" in failed.last_error.lower()
    finally:
        smtp.start()

    (message,) = smtp.wait_for(email, timeout=30)
    assert link_in(message, "verify-email")
    with engine.connect() as connection:
        sent = connection.execute(
            select(OutgoingMail.sent_at, OutgoingMail.text).where(OutgoingMail.recipient == email)
        ).one()
    engine.dispose()
    assert sent.sent_at is not None
    assert sent.text == ""  # the link left with the mail; the outbox keeps no copy


def test_a_verification_mail_is_sent_again_at_most_once_a_minute(url, smtp):
    email = new_email()
    register(url, email)
    token = login(url, email).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    first = requests.post(url + "/api/auth/verify-email/resend", headers=headers, timeout=TIMEOUT)
    second = requests.post(url + "/api/auth/verify-email/resend", headers=headers, timeout=TIMEOUT)

    assert first.status_code == 202
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) > 0
    assert len(smtp.wait_for(email, count=2)) == 2
