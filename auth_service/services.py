"""Accounts, logins and tokens: plain functions over a session, raising domain errors."""

import hashlib
import logging
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service_kit import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from service_kit.db import utcnow
from service_kit.pagination import Page, paginate
from service_kit.permissions import USERS_ADMIN
from service_kit.text import fold

from .keys import SigningKeys
from .models import ExternalIdentity, RefreshToken, Role, User
from .oidc import DENIED, LINK_REQUIRED, MISCONFIGURED, Identity, SignInFailed, email_domain
from .passwords import PasswordHasher
from .throttle import LoginThrottle

log = logging.getLogger(__name__)

ACCESS_TOKEN_SECONDS = 15 * 60
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
# A refresh token spent this recently may be presented again (two tabs, a retried request racing
# the first) and gets a fresh pair of the same family instead of counting as theft.
REFRESH_REUSE_GRACE = timedelta(seconds=20)
# Revocations are published while an access token issued before them could still be accepted:
# its lifetime plus the verifiers' leeway, plus a margin.
REVOCATION_PUBLISH_SECONDS = ACCESS_TOKEN_SECONDS + 30 + 60
DEFAULT_ROLE = "student"
# One message for an unknown email, a wrong password and a deactivated account: the answer
# must not tell an attacker which accounts exist.
BAD_CREDENTIALS = "Incorrect email or password."
BAD_REFRESH_TOKEN = "The refresh token is invalid, expired or revoked."


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    keys: SigningKeys


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int = ACCESS_TOKEN_SECONDS
    token_type: str = "Bearer"


def normalize_email(email: str) -> str:
    """The one spelling an address is stored and looked up in: NFKC, trimmed, lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def _set_identity(user: User, email: str, full_name: str) -> None:
    user.email, user.full_name = email, full_name
    user.search_text = f"{fold(email)}\n{fold(full_name)}"


def _role(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise InvalidInput(f"Unknown role {name!r}.", {"role": ["Unknown role."]})
    return role


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def register(
    session: Session,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    email: str,
    password: str,
    full_name: str,
    client: str,
    provider_only_domains: frozenset[str] = frozenset(),
    allowed_domains: frozenset[str] = frozenset(),
) -> User:
    """A new student account, its address not verified yet; 409 when the address is taken,
    whatever its letter case.

    The per-client limit counts every request and runs first, before the existence check and
    the hash, so probing which emails have accounts is exactly as slow as registering. (The 409
    itself still tells a prober, within that limit, that an account exists; closing that needs
    email verification, where "check your inbox" is the only answer.)
    """
    email = normalize_email(email)
    throttle.check_registration(client)
    _refuse_provider_only(email, provider_only_domains)
    if allowed_domains and email_domain(email) not in allowed_domains:
        domains = ", ".join(f"@{domain}" for domain in sorted(allowed_domains))
        raise Forbidden(f"Only addresses {domains} may register.")
    if find_user(session, email) is not None:
        raise Conflict("An account with this email already exists.")
    user = User(
        password_hash=hasher.hash(password), role=_role(session, DEFAULT_ROLE), is_active=True
    )
    _set_identity(user, email, full_name.strip())
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # registered by a concurrent request since the check above
        session.rollback()
        raise Conflict("An account with this email already exists.") from None
    return user


def save_user(
    session: Session,
    hasher: PasswordHasher,
    email: str,
    password: str,
    role: str,
    full_name: str | None = None,
) -> tuple[User, bool]:
    """Create the account, or set the password and role of the existing one (operator CLI).

    Returns the user and whether it was created."""
    role_row = _role(session, role)
    user = find_user(session, email)
    created = user is None
    if user is None:
        user = User()
        _set_identity(user, normalize_email(email), full_name or email.split("@")[0])
        session.add(user)
    elif full_name:
        _set_identity(user, user.email, full_name)
    user.password_hash = hasher.hash(password)
    if not created:
        # A new password (and perhaps role) ends every earlier login and access token.
        revoke_user_tokens(session, user)
    user.role = role_row
    user.is_active = True
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # an operator vouches for the address
    session.commit()
    return user, created


def issue_access_token(settings: TokenSettings, user: User) -> str:
    key = settings.keys.current()
    # To the microsecond (RFC 7519 allows a fractional NumericDate), like a revocation's
    # not-before: a token issued just before a revocation is refused, one just after is not.
    now = round(time.time(), 6)
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(user.id),
        "role": user.role.name,
        # An unverified address browses and reads; its role's permissions (writes) wait for
        # the link in the verification mail.
        "perms": user.role.permission_names if user.email_verified else [],
        "email_verified": user.email_verified,
        "iat": now,
        "exp": int(now) + ACCESS_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims,
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )


def _hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _issue_pair(
    session: Session,
    settings: TokenSettings,
    user: User,
    family_id: str,
    identity_provider: str | None = None,
) -> TokenPair:
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=_hash_refresh_token(refresh_token),
            family_id=family_id,
            expires_at=utcnow() + REFRESH_TOKEN_LIFETIME,
            identity_provider=identity_provider,
        )
    )
    return TokenPair(issue_access_token(settings, user), refresh_token)


def login(
    session: Session,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    settings: TokenSettings,
    email: str,
    password: str,
    client: str,
    provider_only_domains: frozenset[str] = frozenset(),
) -> TokenPair:
    email = normalize_email(email)
    _refuse_provider_only(email, provider_only_domains)
    # Checked and counted as a failure in one atomic step, before the hash: a refused guess
    # costs no CPU, and parallel guesses cannot all pass one check.
    throttle.reserve(email, client)
    user = find_user(session, email)
    # An account made through a provider has no password: checked against the dummy hash, so
    # its answer takes as long as any other.
    matches = hasher.verify(user.password_hash if user and user.password_hash else None, password)
    if user is None or not matches or not user.is_active:
        log.info("login failed", extra={"fields": {"client": client, "user_id": user and user.id}})
        raise Unauthorized(BAD_CREDENTIALS)
    throttle.succeeded(email, client)
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    pair = _issue_pair(session, settings, user, family_id=uuid.uuid4().hex)
    session.commit()
    return pair


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def refresh(session: Session, settings: TokenSettings, refresh_token: str) -> TokenPair:
    """Spend a refresh token for a new pair of the same family.

    A token that was already spent means two parties hold it, one of them a thief: the whole
    family is revoked, so both must log in again. One exception: a token spent by rotation no
    more than `REFRESH_REUSE_GRACE` ago, whose family is still alive, is a benign race (two tabs,
    a retried request) and gets a fresh pair of the same family.
    """
    token = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh_token(refresh_token))
    )
    if token is None:
        raise Unauthorized(BAD_REFRESH_TOKEN)
    now = utcnow()
    if token.expires_at <= now or not token.user.is_active:
        raise Unauthorized(BAD_REFRESH_TOKEN)
    # Spending is a conditional update, so of two concurrent uses exactly one wins.
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, replaced_at=now)
    )
    if spent.rowcount != 1:
        session.refresh(token)
        if not _within_reuse_grace(session, token, now):
            _revoke_family(session, token.family_id)
            session.commit()
            log.warning(
                "refresh token reused: family revoked", extra={"fields": {"user_id": token.user_id}}
            )
            raise Unauthorized(BAD_REFRESH_TOKEN)
    pair = _issue_pair(session, settings, token.user, token.family_id, token.identity_provider)
    session.commit()
    return pair


def _within_reuse_grace(session: Session, token: RefreshToken, now: datetime) -> bool:
    """Spent by rotation (not revoked) a moment ago, and its family still has a live token."""
    if token.replaced_at is None or token.revoked_at != token.replaced_at:
        return False
    if now - token.replaced_at > REFRESH_REUSE_GRACE:
        return False
    live = session.scalar(
        select(RefreshToken.id)
        .where(RefreshToken.family_id == token.family_id, RefreshToken.revoked_at.is_(None))
        .limit(1)
    )
    return live is not None


def logout(session: Session, refresh_token: str) -> str | None:
    """End the login the token belongs to; unknown or spent tokens are fine (idempotent).

    Returns the identity provider the login came through (None for a password login), whose
    own session the browser may end as well."""
    row = session.execute(
        select(RefreshToken.family_id, RefreshToken.identity_provider).where(
            RefreshToken.token_hash == _hash_refresh_token(refresh_token)
        )
    ).first()
    if row is None:
        return None
    _revoke_family(session, row.family_id)
    session.commit()
    return row.identity_provider


def not_before_seconds(moment: datetime | None) -> float | None:
    """A revocation moment as the epoch seconds (to the microsecond) verifiers compare `iat`
    with: a token issued before it is refused for writes."""
    return None if moment is None else round(moment.timestamp(), 6)


def revoke_user_tokens(session: Session, user: User) -> None:
    """End everything issued to the user so far: refresh tokens at once, access tokens for
    writes as soon as the verifiers have the new revocation list (seconds). The caller commits.
    """
    now = utcnow()
    user.tokens_valid_after = now
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def logout_everywhere(session: Session, user_id: int) -> None:
    """Every login of the caller ends: all refresh tokens, and the access tokens for writes."""
    revoke_user_tokens(session, active_user(session, user_id))
    session.commit()


def recent_revocations(session: Session) -> dict[str, int]:
    """User id -> not-before (epoch seconds) of the revocations an access token may still be
    alive for; older ones need no publishing, every token issued before them has expired."""
    since = utcnow() - timedelta(seconds=REVOCATION_PUBLISH_SECONDS)
    rows = session.execute(
        select(User.id, User.tokens_valid_after).where(User.tokens_valid_after > since)
    )
    return {str(user_id): not_before_seconds(moment) for user_id, moment in rows}


def active_user(session: Session, user_id: int) -> User:
    """The caller named by a valid token; 401 if the account is gone or deactivated since."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This account is no longer active.")
    return user


def list_users(
    session: Session,
    query: str | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> Page:
    """Users by id; `query` matches part of the email or full name, ignoring case (and ё/е)."""
    statement = select(User)
    if query and fold(query):
        statement = statement.where(User.search_text.contains(fold(query), autoescape=True))
    return paginate(session, statement.order_by(User.id), page, page_size)


def update_user(session: Session, actor_id: int, user_id: int, changes: dict[str, Any]) -> User:
    """Change a user's role and/or active flag (admin). An admin cannot lock themself out."""
    user = get_user(session, user_id)
    role = _role(session, changes["role"]) if "role" in changes else user.role
    is_active = changes.get("is_active", user.is_active)
    if user.id == actor_id and (not is_active or USERS_ADMIN not in role.permission_names):
        raise Conflict("You cannot deactivate yourself or take away your own admin rights.")
    if user.is_active and not is_active:
        # A deactivated account keeps no way back in: its refresh tokens die now, its access
        # tokens are refused for writes within seconds.
        revoke_user_tokens(session, user)
    elif role.id != user.role_id:
        # The old role's access tokens carry its permissions: refused for writes within
        # seconds. The refresh tokens live on; the next refresh carries the new role.
        user.tokens_valid_after = utcnow()
    user.role = role
    user.is_active = is_active
    if changes.get("email_verified") and user.email_verified_at is None:
        user.email_verified_at = utcnow()  # its next token (a refresh) carries the permissions
    session.commit()
    return user


def _refuse_provider_only(email: str, provider_only_domains: frozenset[str]) -> None:
    if email_domain(email) in provider_only_domains:
        raise Forbidden(
            f"Addresses @{email_domain(email)} sign in through the university account only."
        )


def sign_in_with_provider(
    session: Session,
    settings: TokenSettings,
    identity: Identity,
    link_user_id: int | None = None,
) -> TokenPair:
    """The portal's own token pair for someone an OpenID Connect provider vouches for.

    The account is found by the provider's issuer and subject. A first sign-in creates it (just
    in time), unless a password account already has the address: that one is joined only when
    its owner, signed in with the password, asked for the link (`link_user_id`), so nobody
    gains an account by naming its address at some provider. With roles from the directory,
    the role is set on every sign-in; a change ends the old role's access tokens for writes at
    once, as an admin's demotion does. Raises SignInFailed."""
    linked = session.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.issuer == identity.issuer,
            ExternalIdentity.subject == identity.subject,
        )
    )
    if link_user_id is not None:
        user = _link(session, identity, linked, link_user_id)
    elif linked is not None:
        user = linked.user
        linked.last_sign_in_at = utcnow()
    else:
        user = _create_from_identity(session, identity)
    if not user.is_active:
        raise SignInFailed(DENIED, "This account has been deactivated.")
    if identity.role is not None and identity.role != user.role.name:
        if user.id is not None:
            user.tokens_valid_after = utcnow()
        log.info(
            "role set from the directory",
            extra={"fields": {"user_id": user.id, "from": user.role.name, "to": identity.role}},
        )
        user.role = _role(session, identity.role)
    session.flush()
    pair = _issue_pair(
        session, settings, user, family_id=uuid.uuid4().hex, identity_provider=identity.provider
    )
    try:
        session.commit()
    except IntegrityError:  # the same first sign-in, twice at once: the other one won
        session.rollback()
        return sign_in_with_provider(session, settings, identity)
    return pair


def _link(
    session: Session, identity: Identity, linked: ExternalIdentity | None, user_id: int
) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise SignInFailed(DENIED, "The account to link no longer exists.")
    if linked is not None and linked.user_id != user.id:
        raise SignInFailed(DENIED, "This university account is already linked to another one.")
    if linked is None:
        session.add(_identity_row(identity, user))
    return user


def _create_from_identity(session: Session, identity: Identity) -> User:
    if identity.email is None:
        raise SignInFailed(
            MISCONFIGURED,
            "The provider sent no verified email address (ask for the `email` scope).",
        )
    email = normalize_email(identity.email)
    if find_user(session, email) is not None:
        raise SignInFailed(
            LINK_REQUIRED,
            "An account with this address exists: sign in with its password, then link the "
            "university account to it.",
        )
    user = User(
        password_hash="",
        role=_role(session, identity.role or DEFAULT_ROLE),
        is_active=True,
        email_verified_at=utcnow(),  # the provider verified it (unverified ones give none)
    )
    _set_identity(user, email, identity.full_name or email.split("@")[0])
    session.add(user)
    session.add(_identity_row(identity, user))
    log.info("account created at first sign-in", extra={"fields": {"provider": identity.provider}})
    return user


def _identity_row(identity: Identity, user: User) -> ExternalIdentity:
    return ExternalIdentity(
        user=user,
        issuer=identity.issuer,
        subject=identity.subject,
        provider=identity.provider,
        last_sign_in_at=utcnow(),
    )


DEMO_ACCOUNTS = (
    ("student@example.edu", "student-demo-1", "student", "Demo Student"),
    ("teacher@example.edu", "teacher-demo-1", "teacher", "Demo Teacher"),
    ("admin@example.edu", "admin-demo-1", "admin", "Demo Admin"),
)


def seed_demo_accounts(session: Session, hasher: PasswordHasher) -> list[tuple[User, bool]]:
    """The demo accounts, created only where missing (an existing one is left as it is)."""
    results = []
    for email, password, role, full_name in DEMO_ACCOUNTS:
        user = find_user(session, email)
        if user is None:
            user, _created = save_user(session, hasher, email, password, role, full_name)
            results.append((user, True))
        else:
            results.append((user, False))
    return results
