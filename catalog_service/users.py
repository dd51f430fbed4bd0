"""Accounts as the catalog sees them: does a user exist, and is the account active?

The catalog owns no users; auth does. `services.assign_teacher` takes any `UserDirectory`; the
route passes `AuthUsers`, which asks auth's admin-only `GET /api/auth/users/{id}` with the
admin caller's own `Authorization` header (the catalog holds no credentials of its own), over
one pooled `ServiceClient` per app. Auth down, slow or answering nonsense → UpstreamUnavailable
(503); the caller's token refused by auth → the same 401/403 the caller would get there.
"""

from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app, request

from service_kit import Forbidden, Unauthorized, UpstreamUnavailable
from service_kit.http_client import ServiceClient


@dataclass(frozen=True)
class Account:
    id: int
    is_active: bool


class UserDirectory(Protocol):
    def account(self, user_id: int) -> Account | None:
        """The account, or None when no user has this id; UpstreamUnavailable when the
        question cannot be answered."""


class AuthUsers:
    """The auth service's users, asked with the caller's credentials."""

    def __init__(self, client: ServiceClient, authorization: str | None):
        self.client = client
        self.authorization = authorization

    def account(self, user_id: int) -> Account | None:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        response = self.client.request("GET", f"/api/auth/users/{user_id}", headers=headers)
        if response.status_code == 404:
            return None
        if response.status_code == 401:
            raise Unauthorized("The auth service did not accept your token.")
        if response.status_code == 403:
            raise Forbidden("You may not look up users (users:admin is needed).")
        body = self.client.json_of(response)
        if not (
            isinstance(body, dict)
            and body.get("id") == user_id
            and isinstance(body.get("is_active"), bool)
        ):
            raise UpstreamUnavailable("The auth service sent an unexpected document.")
        return Account(id=user_id, is_active=body["is_active"])


def auth_client(app: Flask) -> ServiceClient:
    """One pooled client per app, made on first use."""
    client = app.extensions.get("auth_users_client")
    if client is None:
        client = ServiceClient(
            app.config["AUTH_URL"], name="auth", connect_timeout=0.5, read_timeout=2.0
        )
        client = app.extensions.setdefault("auth_users_client", client)
    return client


def users_for_this_request() -> AuthUsers:
    """Auth's users, asked as the caller of the current request."""
    return AuthUsers(auth_client(current_app), request.headers.get("Authorization"))
