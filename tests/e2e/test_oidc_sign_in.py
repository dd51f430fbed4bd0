"""Signing in with the university account, end to end: a real OpenID Connect provider process
(its own keys, sign-in form, single-use codes), the auth service under gunicorn, HTTP only.

A `requests.Session` plays the browser: it keeps the portal's cookies and follows nothing by
itself, so each hop of the flow is seen. The provider signs whatever claims a test gives a user,
so a token with another audience, issuer, nonce or expiry is a real, validly signed token.
"""

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, select

from auth_service.keys import create_key_file
from auth_service.models import Base, User
from tests.support.databases import clear_tables
from tests.support.oidc_provider import OidcProviderProcess
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e

TIMEOUT = 10
CLIENT_ID = "course-portal"
UNIVERSITY = "uni.example.edu"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with OidcProviderProcess(tmp_path_factory.mktemp("oidc") / "provider.log") as process:
        yield process


@pytest.fixture(scope="module")
def auth(auth_database, provider, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("keys") / "jwt-private.pem"
    create_key_file(key_file)
    env = {
        "DATABASE_URL": auth_database,
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "REDIS_URL": "",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": "portal-secret",
        "OIDC_ROLE_CLAIM": "groups",
        "OIDC_ROLE_MAP": "teachers=teacher,portal-admins=admin",
        "OIDC_STATE_SECRET": "x" * 40,
        "OIDC_ONLY_DOMAINS": UNIVERSITY,
    }
    process = ServerProcess("auth_service:create_app()", env, workers=2, threads=4)
    # The provider sends the browser back to the portal's public address: here, auth itself.
    process.env["PUBLIC_BASE_URL"] = process.url
    with process:
        yield process


@pytest.fixture
def url(auth, auth_database):
    clear_tables(auth_database, Base.metadata, keep=("roles", "permissions", "role_permissions"))
    return auth.url


def new_subject(provider, groups=(), **claims) -> str:
    sub = f"u-{uuid.uuid4().hex[:10]}"
    provider.set_user(
        sub,
        {
            "email": f"{sub}@{UNIVERSITY}",
            "email_verified": True,
            "name": "Ann Lee",
            "groups": list(groups),
            **claims,
        },
    )
    return sub


def start(browser: requests.Session, url: str, next_path: str | None = None) -> str:
    """The portal's redirect to the provider's sign-in page."""
    params = {"next": next_path} if next_path else None
    response = browser.get(
        url + "/api/auth/oidc/university/login",
        params=params,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def authorize(authorization_url: str, sub: str, action: str | None = None) -> str:
    """The user signs in at the provider's page; its redirect back to the portal."""
    data = {"sub": sub} if action is None else {"action": action}
    response = requests.post(authorization_url, data=data, allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def callback(browser: requests.Session, callback_url: str) -> str:
    response = browser.get(callback_url, allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code == 302, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.headers["Location"]


def sign_in(url: str, sub: str, browser: requests.Session | None = None) -> tuple[str, dict]:
    """A whole sign-in; the page the browser lands on and the portal's tokens."""
    browser = browser or requests.Session()
    landing = callback(browser, authorize(start(browser, url), sub))
    assert signin_error(landing) is None
    return landing, portal_tokens(browser, url)


def portal_tokens(browser: requests.Session, url: str) -> dict:
    """What the web UI does on load: trade the refresh cookie for an access token."""
    response = browser.post(
        url + "/api/auth/refresh", json={}, headers={"X-CSRF": "1"}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return response.json()


def me(url: str, access_token: str) -> dict:
    response = requests.get(
        url + "/api/auth/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()


def signin_error(location: str) -> str | None:
    fragment = urlsplit(location).fragment  # "/?signin_error=..."
    return parse_qs(fragment.partition("?")[2]).get("signin_error", [None])[0]


def test_the_providers_are_listed_for_the_login_form(url):
    response = requests.get(url + "/api/auth/providers", timeout=TIMEOUT)
    assert response.json() == [
        {
            "name": "university",
            "label": "Войти через университет",
            "login_url": "/api/auth/oidc/university/login",
        }
    ]


def test_the_authorization_request_carries_pkce_state_and_nonce(url, provider):
    location = start(requests.Session(), url)
    assert location.startswith(provider.issuer + "/oauth2/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["redirect_uri"] == [url + "/api/auth/oidc/university/callback"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_first_sign_in_creates_the_user_with_the_directory_role(url, provider, auth_database):
    sub = new_subject(provider, groups=["teachers", "students"])
    landing, tokens = sign_in(url, sub)

    assert landing == url + "/#/"
    account = me(url, tokens["access_token"])
    assert account["email"] == f"{sub}@{UNIVERSITY}"
    assert account["full_name"] == "Ann Lee"
    assert account["role"] == "teacher"
    assert "refresh_token" not in tokens  # a browser's stays in the HttpOnly cookie
    engine = create_engine(auth_database)
    with engine.connect() as connection:
        password_hash = connection.scalar(
            select(User.password_hash).where(User.id == account["id"])
        )
    engine.dispose()
    assert password_hash == ""  # no password: the account signs in through the provider only


def test_a_second_sign_in_is_the_same_user_and_lands_where_it_started(url, provider):
    sub = new_subject(provider)
    _landing, first = sign_in(url, sub)

    browser = requests.Session()
    landing = callback(browser, authorize(start(browser, url, "/#/courses/3?type=lab"), sub))
    second = portal_tokens(browser, url)

    assert landing == url + "/#/courses/3?type=lab"
    assert me(url, second["access_token"])["id"] == me(url, first["access_token"])["id"]


def test_another_site_as_the_landing_page_is_ignored(url, provider):
    sub = new_subject(provider)
    browser = requests.Session()
    landing = callback(browser, authorize(start(browser, url, "https://evil.example/"), sub))
    assert landing == url + "/#/"


def test_a_changed_group_changes_the_role_and_revokes_the_old_tokens(url, provider):
    sub = new_subject(provider, groups=["teachers"])
    _landing, as_teacher = sign_in(url, sub)
    user = me(url, as_teacher["access_token"])
    assert user["role"] == "teacher"

    provider.set_user(sub, {"email": user["email"], "groups": []})  # left the teachers' group
    _landing, as_student = sign_in(url, sub)

    assert me(url, as_student["access_token"])["role"] == "student"
    revoked = requests.get(url + "/.well-known/revocations.json", timeout=TIMEOUT).json()
    # The teacher's access tokens are refused for writes from now on, as after a demotion.
    assert revoked["revocations"][str(user["id"])] >= time.time() - 60

    provider.set_user(sub, {"email": user["email"], "groups": ["portal-admins", "teachers"]})
    _landing, as_admin = sign_in(url, sub)
    assert me(url, as_admin["access_token"])["role"] == "admin"


def test_a_tampered_state_is_refused(url, provider):
    sub = new_subject(provider)
    browser = requests.Session()
    back = authorize(start(browser, url), sub)
    forged = back.replace("state=", "state=x")

    assert signin_error(callback(browser, forged)) == "state_invalid"
    assert "portal_refresh" not in browser.cookies


def test_a_callback_from_another_browser_is_refused(url, provider):
    """Login CSRF: an attacker's own code and state, planted in a victim's browser."""
    sub = new_subject(provider)
    attacker = requests.Session()
    back = authorize(start(attacker, url), sub)

    victim = requests.Session()
    assert signin_error(callback(victim, back)) == "state_invalid"


def test_a_replayed_code_is_refused(url, provider):
    sub = new_subject(provider)
    browser = requests.Session()
    back = authorize(start(browser, url), sub)
    sign_in_cookie = browser.cookies.get("portal_oidc")
    callback(browser, back)

    # The same browser again: its sign-in is used up.
    assert signin_error(callback(browser, back)) == "state_invalid"
    # A copy of the cookie from before the first use: the provider refuses the spent code.
    replayer = requests.Session()
    replayer.cookies.set("portal_oidc", sign_in_cookie, path="/api/auth/oidc")
    assert signin_error(callback(replayer, back)) == "code_rejected"
    assert "portal_refresh" not in replayer.cookies


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"nonce": "another-sign-in"}, "wrong_nonce"),
        ({"aud": "another-client"}, "wrong_audience"),
        ({"aud": ["another-client"], "azp": "another-client"}, "wrong_audience"),
        ({"exp": 1_000_000_000}, "token_expired"),
        ({"iss": "https://idp.elsewhere.example"}, "wrong_issuer"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused(url, provider, claims, code):
    sub = new_subject(provider, **claims)
    browser = requests.Session()
    landing = callback(browser, authorize(start(browser, url), sub))

    assert signin_error(landing) == code
    assert "portal_refresh" not in browser.cookies


def test_cancelling_at_the_provider_is_told_in_words(url):
    browser = requests.Session()
    back = authorize(start(browser, url), sub="", action="deny")
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]

    assert signin_error(callback(browser, back)) == "cancelled"


def test_an_unknown_provider_is_a_json_404(url):
    response = requests.get(url + "/api/auth/oidc/nope/login", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json()["message"] == "No such sign-in provider."


def test_a_password_account_is_linked_only_after_its_password(url, provider):
    email = f"ann-{uuid.uuid4().hex[:8]}@example.org"
    registered = requests.post(
        url + "/api/auth/register",
        json={"email": email, "password": "correct-horse", "full_name": "Ann"},
        timeout=TIMEOUT,
    )
    assert registered.status_code == 201
    sub = new_subject(provider, email=email)

    # The provider naming the address is not enough to enter the account.
    browser = requests.Session()
    assert signin_error(callback(browser, authorize(start(browser, url), sub))) == "link_required"

    password_login = requests.post(
        url + "/api/auth/login",
        json={"email": email, "password": "correct-horse"},
        timeout=TIMEOUT,
    ).json()
    linking = requests.Session()
    started = linking.post(
        url + "/api/auth/oidc/university/link",
        headers={"Authorization": f"Bearer {password_login['access_token']}"},
        timeout=TIMEOUT,
    )
    assert started.status_code == 200, started.text
    callback(linking, authorize(started.json()["authorization_url"], sub))
    linked = portal_tokens(linking, url)
    assert me(url, linked["access_token"])["email"] == email

    # From now on the university account alone signs in to it.
    _landing, later = sign_in(url, sub)
    assert me(url, later["access_token"])["id"] == registered.json()["id"]


def test_university_addresses_have_no_password_login_or_registration(url):
    email = f"someone@{UNIVERSITY}"
    registered = requests.post(
        url + "/api/auth/register",
        json={"email": email, "password": "correct-horse", "full_name": "Someone"},
        timeout=TIMEOUT,
    )
    assert registered.status_code == 403
    assert "university account" in registered.json()["message"]
    login = requests.post(
        url + "/api/auth/login",
        json={"email": email.upper(), "password": "correct-horse"},
        timeout=TIMEOUT,
    )
    assert login.status_code == 403


def test_logging_out_ends_the_provider_session_too(url, provider):
    sub = new_subject(provider)
    browser = requests.Session()
    callback(browser, authorize(start(browser, url), sub))

    response = browser.post(url + "/api/auth/logout", json={}, headers={"X-CSRF": "1"})

    assert response.status_code == 200
    end_session = urlsplit(response.json()["end_session_url"])
    assert f"{end_session.scheme}://{end_session.netloc}" == provider.issuer
    assert parse_qs(end_session.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [url + "/"],
    }
    refresh = browser.post(url + "/api/auth/refresh", json={}, headers={"X-CSRF": "1"})
    assert refresh.status_code == 401
