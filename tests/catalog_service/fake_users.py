"""Stand-ins for auth's users in catalog tests (services.assign_teacher takes any directory)."""

import pytest

from catalog_service import routes
from catalog_service.users import Account


class FakeUsers:
    """An in-memory user directory: `FakeUsers({5: True, 6: False})` knows user 5 (active)
    and user 6 (deactivated); `FakeUsers(everyone=True)` knows every id, active."""

    def __init__(self, accounts: dict[int, bool] | None = None, *, everyone: bool = False):
        self.accounts = dict(accounts or {})
        self.everyone = everyone
        self.asked: list[int] = []

    def account(self, user_id: int) -> Account | None:
        self.asked.append(user_id)
        if self.everyone:
            return Account(user_id, True)
        if user_id not in self.accounts:
            return None
        return Account(user_id, self.accounts[user_id])


def route_users(monkeypatch: pytest.MonkeyPatch, users) -> None:
    """Make the catalog's API ask `users` instead of the auth service."""
    monkeypatch.setattr(routes, "users_for_this_request", lambda: users)
