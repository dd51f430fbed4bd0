"""The favourites table: which courses a user keeps in the Sider, and in what order."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service_kit.db import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class UserCourse(Base):
    """One favourite: a course of the catalog (no foreign key across services) for one user."""

    __tablename__ = "user_courses"
    __table_args__ = (
        # The constraint that makes concurrent adds of the same course safe (ON CONFLICT).
        UniqueConstraint("user_id", "course_id", name="uq_user_courses_user_course"),
        # Every read lists one user's favourites in their saved order.
        Index("ix_user_courses_user_position", "user_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    course_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
