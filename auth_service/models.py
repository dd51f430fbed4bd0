"""The auth tables: users, roles and their permissions, refresh tokens, login throttle counters."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service_kit.db import UTCDateTime, utcnow

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit
FULL_NAME_MAX_LENGTH = 200
# Folding can lengthen text (NFKC, "ß" → "ss"); Postgres refuses, never truncates, longer values.
SEARCH_TEXT_MAX_LENGTH = 4 * (EMAIL_MAX_LENGTH + FULL_NAME_MAX_LENGTH)


class Base(DeclarativeBase):
    pass


role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    permissions: Mapped[list[Permission]] = relationship(
        secondary=role_permissions, lazy="selectin", order_by=Permission.name
    )

    @property
    def permission_names(self) -> list[str]:
        return [permission.name for permission in self.permissions]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored normalised (NFKC, lower case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(FULL_NAME_MAX_LENGTH))
    # fold(email) + "\n" + fold(full_name): what the admin's user search matches, alike on
    # SQLite and Postgres (see service_kit.text).
    search_text: Mapped[str] = mapped_column(String(SEARCH_TEXT_MAX_LENGTH))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Access tokens issued before this moment are refused for writes by every service (set on
    # deactivation, role change, password change and "log out everywhere"); see revocations.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, index=True
    )

    # When the owner proved the address (a link from a mail); None: unverified, no writes yet.
    # Accounts made by an admin or through a university provider are verified from the start.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    role: Mapped[Role] = relationship(lazy="joined")

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class RefreshToken(Base):
    """One refresh token, stored as its SHA-256; every rotation adds one to the same family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # All tokens descended from one login; reuse of a spent one revokes them all.
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set (with revoked_at) when the token was spent for a new pair, not revoked otherwise: a
    # second use within the rotation grace is a benign race, not a theft.
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The OpenID Connect provider the login came through (None: a password login); rotation
    # keeps it, so logging out knows whose session to end as well.
    identity_provider: Mapped[str | None] = mapped_column(String(40), nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class ExternalIdentity(Base):
    """An account's identity at an OpenID Connect provider: the provider's `iss` and `sub`.

    Accounts are found by these two, never by email alone: an address can be reassigned at the
    provider or typed into another provider's profile, a subject cannot."""

    __tablename__ = "external_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_external_identities_issuer_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    # The configured provider's name (e.g. "university"), for logs and logout.
    provider: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class EmailToken(Base):
    """A single-use link sent by mail (verification, password reset), stored as its SHA-256."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "verify" or "reset"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address it was sent to: a verification proves this address, not a later one.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class OutgoingMail(Base):
    """A message waiting for the worker (the outbox): written in the request's transaction, so
    a mail is never lost between the database and the queue. Its text is emptied once sent:
    it held a single-use link."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A worker is sending it until then: a retry and the sweep do not send it twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class LoginThrottleCounter(Base):
    """One login or registration counter when REDIS_URL is not set (see throttle.py).

    `key` is "<kind>:<sha256>", so no address or email is stored here. Times are epoch seconds.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # No attempt of this key is checked before this moment (the progressive delay).
    not_before: Mapped[float] = mapped_column(Float)
    # The counter is void from this moment on (a row past it reads as zero).
    expires_at: Mapped[float] = mapped_column(Float, index=True)
