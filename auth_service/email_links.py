"""Accounts by email: the verification of a new account's address, "Забыли пароль?", and the
outbox the worker delivers from. Plain functions over a session, raising domain errors.

A link carries a random token; only its SHA-256 is stored. Each works once and expires (24 h
for a verification, 1 h for a reset). A mail is written to the outbox in the same transaction as
the token it carries, and the worker sends it, retrying until the SMTP server takes it.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service_kit import Conflict, Forbidden
from service_kit.db import utcnow
from service_kit.errors import DomainError

from .mail import (
    Letter,
    MailSettings,
    Transport,
    build_message,
    password_changed_letter,
    reset_letter,
    verification_letter,
)
from .models import EmailToken, OutgoingMail, User
from .oidc import email_domain
from .passwords import PasswordHasher
from .services import find_user, normalize_email, revoke_user_tokens
from .throttle import LoginThrottle

log = logging.getLogger(__name__)

VERIFY, RESET = "verify", "reset"
LIFETIMES = {VERIFY: timedelta(hours=24), RESET: timedelta(hours=1)}
# The same answer whether or not the address has an account: nobody learns which exist.
RESET_REQUESTED = (
    "If an account with this address exists, a link to set a new password is on its way to it."
)
# A message is sent at most this often; the sweep gives up after this many attempts.
MAX_ATTEMPTS = 12
CLAIM_SECONDS = 120


class LinkNotValid(DomainError):
    status = 400


class LinkGone(DomainError):
    """The link was real, but it expired or was used: ask for a new one."""

    status = 410


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_link(session: Session, settings: MailSettings, user: User, purpose: str) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        EmailToken(
            user=user,
            purpose=purpose,
            token_hash=hash_token(token),
            email=user.email,
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    # The token rides in the fragment: browsers never send it to a server, so it stays out of
    # access logs and Referer headers; the web UI posts it to the API.
    page = "verify-email" if purpose == VERIFY else "reset-password"
    return f"{settings.public_base_url.rstrip('/')}/#/{page}?token={token}"


def queue_mail(session: Session, recipient: str, letter: Letter) -> OutgoingMail:
    """Put a message in the outbox; the caller commits, then hands its id to the worker."""
    message = OutgoingMail(
        recipient=recipient,
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
        created_at=utcnow(),
        attempts=0,
    )
    session.add(message)
    return message


def start_verification(session: Session, settings: MailSettings, user: User) -> OutgoingMail:
    """A verification link for the account's address, in the outbox."""
    link = _new_link(session, settings, user, VERIFY)
    return queue_mail(session, user.email, verification_letter(user.full_name, link))


def resend_verification(
    session: Session, settings: MailSettings, throttle: LoginThrottle, user: User
) -> OutgoingMail:
    if user.email_verified:
        raise Conflict("This address is already verified.")
    throttle.check_verification_resend(str(user.id))
    return start_verification(session, settings, user)


def _redeem(session: Session, token: str, purpose: str) -> EmailToken:
    """The link's row, marked used (a conditional update: of two uses exactly one wins)."""
    row = session.scalar(select(EmailToken).where(EmailToken.token_hash == hash_token(token)))
    if row is None or row.purpose != purpose:
        raise LinkNotValid("This link is not valid: it may have been copied incompletely.")
    now = utcnow()
    if row.used_at is not None:
        raise LinkGone("This link has already been used.")
    if row.expires_at <= now:
        raise LinkGone("This link has expired: ask for a new one.")
    if not row.user.is_active:
        raise LinkGone("This account has been deactivated.")
    spent = session.execute(
        update(EmailToken)
        .where(EmailToken.id == row.id, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise LinkGone("This link has already been used.")
    return row


def verify_email(session: Session, token: str) -> User:
    row = _redeem(session, token, VERIFY)
    user = row.user
    if row.email != user.email:
        raise LinkGone("This link was sent to an address the account no longer has.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    session.commit()
    log.info("email verified", extra={"fields": {"user_id": user.id}})
    return user


def request_password_reset(
    session: Session,
    settings: MailSettings,
    throttle: LoginThrottle,
    email: str,
    client: str,
) -> OutgoingMail | None:
    """A reset link for the account of `email`, if there is one and the address has not had
    too many already; the caller answers the same in every case."""
    email = normalize_email(email)
    throttle.check_reset_request(client)  # 429 alike for every address
    if not throttle.reset_mail_allowed(email):
        log.info("password reset: too many for one address, none sent")
        return None
    user = find_user(session, email)
    if user is None or not user.is_active:
        return None
    link = _new_link(session, settings, user, RESET)
    return queue_mail(session, user.email, reset_letter(user.full_name, link))


def reset_password(
    session: Session,
    hasher: PasswordHasher,
    token: str,
    password: str,
    provider_only_domains: frozenset[str] = frozenset(),
) -> OutgoingMail:
    """The new password of the link's account. Every login of the account ends: its refresh
    tokens now, its access tokens for writes within seconds. A notice goes to the address."""
    row = _redeem(session, token, RESET)
    user = row.user
    if email_domain(user.email) in provider_only_domains:
        raise Forbidden("This account signs in through the university account only.")
    user.password_hash = hasher.hash(password)
    if user.email_verified_at is None and row.email == user.email:
        user.email_verified_at = utcnow()  # the link proved the address
    # Other reset links of the account die with this one.
    session.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user.id,
            EmailToken.purpose == RESET,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    revoke_user_tokens(session, user)
    notice = queue_mail(session, user.email, password_changed_letter(user.full_name, utcnow()))
    session.commit()
    log.info("password reset", extra={"fields": {"user_id": user.id}})
    return notice


def deliver(
    session: Session, settings: MailSettings, transport: Transport, message_id: int
) -> bool:
    """Send one message of the outbox; True once it is sent (now or before).

    The row is claimed first (a conditional update), so a retry and the sweep never send it
    twice at once. A failure is recorded and raised again: the queue retries."""
    now = utcnow()
    claimed = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.id == message_id,
            OutgoingMail.sent_at.is_(None),
            (OutgoingMail.claimed_until.is_(None)) | (OutgoingMail.claimed_until < now),
        )
        .values(
            attempts=OutgoingMail.attempts + 1,
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
        )
    )
    session.commit()
    message = session.get(OutgoingMail, message_id)
    if message is None:
        return False
    if message.sent_at is not None:
        return True
    if claimed.rowcount != 1:
        return False  # another worker has it right now
    try:
        letter = Letter(message.subject, message.text, message.html)
        transport.send(build_message(settings, message.recipient, letter))
    except Exception as error:
        message.last_error = f"{type(error).__name__}: {error}"[:500]
        message.claimed_until = None
        session.commit()
        log.warning(
            "mail not delivered, will retry",
            extra={"fields": {"message_id": message_id, "attempts": message.attempts}},
        )
        raise
    message.sent_at = utcnow()
    message.claimed_until = None
    message.last_error = None
    # The text held a single-use link: nothing of it is kept once it left.
    message.text = message.html = ""
    session.commit()
    log.info("mail delivered", extra={"fields": {"message_id": message_id}})
    return True


def waiting_mail(session: Session, older_than: timedelta) -> list[int]:
    """Messages not sent yet and not being sent, whose task may have been lost."""
    now = utcnow()
    return list(
        session.scalars(
            select(OutgoingMail.id)
            .where(
                OutgoingMail.sent_at.is_(None),
                OutgoingMail.created_at < now - older_than,
                OutgoingMail.attempts < MAX_ATTEMPTS,
                (OutgoingMail.claimed_until.is_(None)) | (OutgoingMail.claimed_until < now),
            )
            .order_by(OutgoingMail.id)
            .limit(500)
        )
    )
