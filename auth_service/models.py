"""The auth tables: users, roles and their permissions, refresh tokens, failed logins."""

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table
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

    role: Mapped[Role] = relationship(lazy="joined")


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """A failed login, counted per account and per client when REDIS_URL is not set.

    `key` is "account:<sha256>" or "client:<sha256>", so no address or email is stored here.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_failed_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
