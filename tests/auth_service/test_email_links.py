"""Verification and password-reset links, and the outbox, at the service layer."""

import email
import email.policy
import smtplib
import ssl
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from auth_service import email_links, services
from auth_service.mail import DirectoryTransport, MailSettings, SmtpTransport
from auth_service.models import EmailToken, OutgoingMail, RefreshToken, User
from service_kit import Conflict, Forbidden
from service_kit.db import utcnow
from tests.support.processes import free_port

PUBLIC_URL = "https://courses.example.edu"


@pytest.fixture
def mail(tmp_path):
    return MailSettings(
        sender="Портал учебных материалов <noreply@example.edu>",
        public_base_url=PUBLIC_URL,
        directory=tmp_path / "mail",
    )


@pytest.fixture
def user(session, hasher, throttle):
    return services.register(session, hasher, throttle, "ann@example.edu", "pw-123456", "Ann", "c")


def token_of(message: OutgoingMail) -> str:
    return message.text.split("?token=", 1)[1].split()[0]


def test_a_verification_link_is_stored_only_as_its_hash(session, mail, user):
    message = email_links.start_verification(session, mail, user)
    session.commit()

    token = token_of(message)
    assert f"{PUBLIC_URL}/#/verify-email?token={token}" in message.text
    assert f"{PUBLIC_URL}/#/verify-email?token={token}" in message.html
    stored = session.scalar(select(EmailToken))
    assert stored.token_hash == email_links.hash_token(token) and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=24)


def test_following_it_verifies_the_address_once(session, mail, user):
    token = token_of(email_links.start_verification(session, mail, user))
    session.commit()
    assert not user.email_verified

    assert email_links.verify_email(session, token).email_verified
    with pytest.raises(email_links.LinkGone, match="already been used"):
        email_links.verify_email(session, token)


def test_an_expired_or_foreign_link_verifies_nothing(session, mail, user):
    token = token_of(email_links.start_verification(session, mail, user))
    session.execute(update(EmailToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()

    with pytest.raises(email_links.LinkGone, match="expired"):
        email_links.verify_email(session, token)
    with pytest.raises(email_links.LinkNotValid):
        email_links.verify_email(session, token + "x")
    assert not session.get(User, user.id).email_verified


def test_a_link_to_an_address_the_account_no_longer_has_is_void(session, mail, user):
    token = token_of(email_links.start_verification(session, mail, user))
    user.email = "changed@example.edu"
    session.commit()
    with pytest.raises(email_links.LinkGone, match="no longer has"):
        email_links.verify_email(session, token)


def test_a_verified_account_gets_no_second_mail(session, mail, user, throttle):
    user.email_verified_at = utcnow()
    session.commit()
    with pytest.raises(Conflict):
        email_links.resend_verification(session, mail, throttle, user)


def test_a_reset_sets_the_password_and_ends_every_login(
    session, mail, user, hasher, throttle, settings
):
    pair = services.login(session, hasher, throttle, settings, "ann@example.edu", "pw-123456", "c")
    message = email_links.request_password_reset(session, mail, throttle, "ANN@example.edu", "c")
    session.commit()
    second = email_links.request_password_reset(session, mail, throttle, "ann@example.edu", "c")
    session.commit()

    notice = email_links.reset_password(session, hasher, token_of(message), "new-password-1")

    assert hasher.verify(session.get(User, user.id).password_hash, "new-password-1")
    assert session.get(User, user.id).tokens_valid_after is not None
    assert session.scalar(select(RefreshToken.revoked_at)) is not None
    with pytest.raises(services.Unauthorized):
        services.refresh(session, settings, pair.refresh_token)
    assert notice.subject == "Пароль изменён" and "?token=" not in notice.text
    # The other link of the same account died with this one.
    with pytest.raises(email_links.LinkGone):
        email_links.reset_password(session, hasher, token_of(second), "another-password")


def test_an_unknown_or_inactive_address_gets_no_mail(session, mail, user, throttle):
    assert email_links.request_password_reset(session, mail, throttle, "nobody@x.org", "c") is None
    user.is_active = False
    session.commit()
    assert email_links.request_password_reset(session, mail, throttle, user.email, "c") is None


def test_an_address_gets_three_reset_mails_an_hour(session, mail, user, throttle):
    sent = [
        email_links.request_password_reset(session, mail, throttle, user.email, f"client-{n}")
        for n in range(5)
    ]
    assert [message is not None for message in sent] == [True, True, True, False, False]


def test_the_outbox_sends_once_and_forgets_the_link(session, mail, user, tmp_path):
    message = email_links.start_verification(session, mail, user)
    session.commit()
    transport = DirectoryTransport(mail.directory)

    assert email_links.deliver(session, mail, transport, message.id)
    assert email_links.deliver(session, mail, transport, message.id)  # already sent: nothing

    (written,) = mail.directory.glob("*.eml")
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "ann@example.edu"
    assert parsed["Subject"] == "Подтвердите адрес почты"
    assert {part.get_content_type() for part in parsed.iter_parts()} == {
        "text/plain",
        "text/html",
    }
    session.refresh(message)
    assert message.sent_at is not None and message.text == "" and message.html == ""


def test_a_failed_delivery_is_recorded_and_raised_for_a_retry(session, mail, user):
    message = email_links.start_verification(session, mail, user)
    session.commit()
    closed = MailSettings(
        sender=mail.sender, public_base_url=PUBLIC_URL, host="127.0.0.1", port=free_port()
    )

    with pytest.raises(OSError):
        email_links.deliver(session, closed, SmtpTransport(closed), message.id)

    session.refresh(message)
    assert message.sent_at is None and message.attempts == 1
    assert "Connection" in message.last_error or "refused" in message.last_error
    assert message.claimed_until is None  # free for the retry
    assert message.text  # nothing lost
    assert email_links.waiting_mail(session, timedelta(0)) == [message.id]


def test_a_message_being_sent_is_not_sent_again_meanwhile(session, mail, user):
    message = email_links.start_verification(session, mail, user)
    message.claimed_until = utcnow() + timedelta(minutes=1)
    session.commit()
    transport = DirectoryTransport(mail.directory)

    assert not email_links.deliver(session, mail, transport, message.id)
    assert not list(mail.directory.glob("*.eml"))
    assert email_links.waiting_mail(session, timedelta(0)) == []


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "tls"])
def test_mail_leaves_over_verified_tls_with_a_login(tmp_path, monkeypatch, implicit_tls):
    from auth_service.mail import build_message, reset_letter
    from tests.support.smtp_server import SmtpServerProcess

    with SmtpServerProcess(tmp_path / "smtp", implicit_tls=implicit_tls) as server:
        env = server.env
        monkeypatch.setenv("SSL_CERT_FILE", env["SSL_CERT_FILE"])  # the test CA
        settings = MailSettings(
            sender=env["SMTP_FROM"],
            public_base_url=PUBLIC_URL,
            host=env["SMTP_HOST"],
            port=int(env["SMTP_PORT"]),
            username=env["SMTP_USERNAME"],
            password=env["SMTP_PASSWORD"],
            tls=env["SMTP_TLS"],
        )
        letter = reset_letter("Ann", f"{PUBLIC_URL}/#/reset-password?token=abc")
        SmtpTransport(settings).send(build_message(settings, "ann@example.edu", letter))
        (received,) = server.wait_for("ann@example.edu")
        assert received["Subject"] == "Смена пароля"

        # The server takes nothing without the login.
        wrong = MailSettings(**{**settings.__dict__, "username": "", "password": ""})
        with pytest.raises(smtplib.SMTPException):
            SmtpTransport(wrong).send(build_message(wrong, "bob@example.edu", letter))
        monkeypatch.delenv("SSL_CERT_FILE")  # no CA: the server's certificate is not believed
        with pytest.raises(ssl.SSLError):
            SmtpTransport(settings).send(build_message(settings, "eve@example.edu", letter))
    assert server.messages("bob@example.edu") == [] == server.messages("eve@example.edu")


def test_registration_can_be_kept_to_the_universitys_domains(session, hasher, throttle):
    allowed = frozenset({"uni.example.edu"})
    with pytest.raises(Forbidden, match=r"@uni\.example\.edu"):
        services.register(
            session,
            hasher,
            throttle,
            "x@gmail.example",
            "pw-123456",
            "X",
            "c",
            allowed_domains=allowed,
        )
    user = services.register(
        session,
        hasher,
        throttle,
        "X@Uni.Example.edu",
        "pw-123456",
        "X",
        "c",
        allowed_domains=allowed,
    )
    assert user.email == "x@uni.example.edu" and not user.email_verified
