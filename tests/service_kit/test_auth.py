"""The token verifier every process uses, against real tokens and a JWKS served over HTTP."""

import logging
import socket
import time

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint

from service_kit import create_service_app
from service_kit.auth import (
    InvalidToken,
    KeysUnavailable,
    Principal,
    TokenVerifier,
    bearer_token,
    current_principal,
    init_auth,
    parse_jwks,
    parse_revocations,
    require_auth,
    require_permission,
    revocations_url_for,
)
from tests.support.tokens import TokenIssuer


@pytest.fixture(scope="module")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


@pytest.fixture
def own_issuer():
    """An issuer a test may rotate or stop without disturbing the others."""
    with TokenIssuer() as token_issuer:
        yield token_issuer


def verifier_for(issuer: TokenIssuer, **options) -> TokenVerifier:
    return TokenVerifier(issuer.jwks_url, issuer.issuer, issuer.audience, **options)


def test_a_genuine_token_yields_its_claims(issuer):
    claims = verifier_for(issuer).verify(issuer.token(42, "teacher"))
    assert claims["sub"] == "42"
    assert claims["role"] == "teacher"
    assert "materials:write" in claims["perms"]


def test_the_principal_carries_id_role_and_permissions(issuer):
    principal = verifier_for(issuer).principal(issuer.token(7, "student"))
    assert principal == Principal(7, "student", frozenset({"favorites:write", "assistant:use"}))
    assert principal.has("favorites:write")
    assert not principal.has("favorites:write", "materials:write")


def test_every_forgery_is_refused(issuer):
    verifier = verifier_for(issuer)
    accepted = []
    for kind, token in issuer.forged_tokens(5).items():
        try:
            verifier.verify(token)
            accepted.append(kind)
        except InvalidToken:
            pass
    assert accepted == []


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x" * 9000,
        "ä.ö.ü",
        "eyJhbGciOiJSUzI1NiJ9",
        "e30.e30.",
        "W10.e30.e30",  # header is a JSON list
        "bnVsbA.e30.e30",  # header is JSON null
        "!!!!.????.####",
        None,
        12345,
        ["a", "b"],
        b"bytes.are.not",
    ],
)
def test_hostile_input_is_an_invalid_token_not_a_crash(issuer, token):
    with pytest.raises(InvalidToken):
        verifier_for(issuer).verify(token)


@pytest.mark.parametrize("sub", ["0", "01", " 1", "1 ", "١٢", "1e3", "9" * 19, "+1"])
def test_the_subject_must_be_a_positive_decimal_id(issuer, sub):
    with pytest.raises(InvalidToken):
        verifier_for(issuer).verify(issuer.token(sub))


@pytest.mark.parametrize(
    "overrides",
    [
        {"perms": "users:admin"},
        {"perms": [1, 2]},
        {"role": ["admin"], "permissions": []},
    ],
)
def test_malformed_role_or_permissions_are_refused(issuer, overrides):
    with pytest.raises(InvalidToken):
        verifier_for(issuer).verify(issuer.token(3, **overrides))


def test_a_type_claim_marks_an_access_token_too(issuer):
    token = issuer.token(3, headers={"typ": "JWT"}, type="access")
    assert verifier_for(issuer).verify(token)["sub"] == "3"


def test_a_refresh_type_claim_is_not_an_access_token(issuer):
    token = issuer.token(3, headers={"typ": "JWT"}, type="refresh")
    with pytest.raises(InvalidToken):
        verifier_for(issuer).verify(token)


def test_clock_skew_within_thirty_seconds_is_tolerated(issuer):
    now = int(time.time())
    verifier = verifier_for(issuer)
    assert verifier.verify(issuer.token(1, exp=now - 20, iat=now - 900))
    assert verifier.verify(issuer.token(1, iat=now + 20))
    with pytest.raises(InvalidToken):
        verifier.verify(issuer.token(1, exp=now - 40, iat=now - 900))
    with pytest.raises(InvalidToken):
        verifier.verify(issuer.token(1, iat=now + 120))


def test_a_verified_token_is_refused_once_it_expires(issuer):
    verifier = TokenVerifier(issuer.jwks_url, issuer.issuer, issuer.audience, leeway=0)
    token = issuer.token(1, exp=int(time.time()) + 1)
    assert verifier.verify(token)["sub"] == "1"
    assert verifier.verify(token)["sub"] == "1"  # from the cache
    time.sleep(1.1)
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_the_cache_of_verified_tokens_is_bounded(issuer):
    verifier = verifier_for(issuer, cache_size=3)
    tokens = [issuer.token(user_id) for user_id in range(1, 8)]
    for token in tokens:
        verifier.verify(token)
    assert 1 <= len(verifier._verified) <= 3
    assert [verifier.verify(token)["sub"] for token in tokens] == [str(n) for n in range(1, 8)]


def test_keys_are_fetched_once_and_cached(own_issuer):
    verifier = verifier_for(own_issuer)
    for user_id in range(1, 20):
        verifier.verify(own_issuer.token(user_id))
    assert own_issuer.jwks_requests == 1


def test_a_rotated_key_is_fetched_on_first_sight(own_issuer):
    # No refetch pause: here the rotation follows the first fetch within milliseconds.
    verifier = verifier_for(own_issuer, refetch_interval=0)
    old_token = own_issuer.token(1)
    verifier.verify(old_token)
    new_kid = own_issuer.rotate()
    claims = verifier.verify(own_issuer.token(2))
    assert claims["sub"] == "2"
    assert new_kid in verifier.key_ids
    assert own_issuer.jwks_requests == 2
    assert verifier.verify(old_token)["sub"] == "1"  # the previous key is still published


def test_unknown_kids_refetch_at_most_once_per_interval(own_issuer):
    verifier = verifier_for(own_issuer, refetch_interval=60)
    verifier.verify(own_issuer.token(1))
    for attempt in range(25):
        with pytest.raises(InvalidToken):
            verifier.verify(own_issuer.token(1, headers={"kid": f"made-up-{attempt}"}))
    assert own_issuer.jwks_requests == 1  # the first fetch was less than a minute ago


def test_an_unknown_kid_refetches_again_once_the_interval_passed(own_issuer):
    verifier = verifier_for(own_issuer, refetch_interval=0.2)
    verifier.verify(own_issuer.token(1))
    time.sleep(0.25)
    own_issuer.rotate()
    assert verifier.verify(own_issuer.token(2))["sub"] == "2"
    assert own_issuer.jwks_requests == 2


def test_known_keys_survive_the_jwks_server_going_down(own_issuer):
    verifier = verifier_for(own_issuer, refetch_interval=0, max_key_age=0)
    verifier.verify(own_issuer.token(1))
    own_issuer.stop()
    # Every verification now tries a refetch (max age 0) and fails; the cached key still works.
    assert verifier.verify(own_issuer.token(2))["sub"] == "2"
    with pytest.raises(InvalidToken):
        verifier.verify(own_issuer.token(3, headers={"kid": "rotated-while-down"}))


def test_a_withdrawn_key_is_dropped_once_the_keys_are_old(own_issuer):
    verifier = verifier_for(own_issuer, refetch_interval=0, max_key_age=0.2)
    old_token = own_issuer.token(1)
    verifier.verify(old_token)
    own_issuer.rotate(keep_previous=False)
    time.sleep(0.25)
    with pytest.raises(InvalidToken):
        verifier.verify(old_token)


def test_no_reachable_jwks_means_keys_unavailable_not_invalid():
    verifier = TokenVerifier("http://127.0.0.1:9/jwks.json", "iss", "aud", fetch_timeout=0.5)
    with TokenIssuer(issuer="iss", audience="aud") as issuer:
        token = issuer.token(1)
    with pytest.raises(KeysUnavailable):
        verifier.verify(token)
    with pytest.raises(KeysUnavailable):
        verifier.ensure_keys()


def test_a_jwks_server_that_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections queue up in the kernel; nothing ever reads them
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks.json"
    try:
        verifier = TokenVerifier(url, "iss", "aud", fetch_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(KeysUnavailable):
            verifier.ensure_keys()
        assert time.monotonic() - started < 2
    finally:
        silent.close()


def test_parse_jwks_keeps_only_usable_rs256_signing_keys(issuer):
    good = issuer.jwks()["keys"][0]
    document = {
        "keys": [
            good,
            {**good, "kid": "for-encryption", "use": "enc"},
            {**good, "kid": "other-alg", "alg": "RS512"},
            {**good, "kid": ""},
            {**good, "kid": "broken", "n": "!!"},
            {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
            "not a key",
        ]
    }
    assert set(parse_jwks(document)) == {good["kid"]}


@pytest.mark.parametrize("document", [{}, {"keys": []}, {"keys": "x"}, [], None])
def test_parse_jwks_refuses_documents_without_keys(document):
    with pytest.raises(ValueError):
        parse_jwks(document)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc.def.ghi ", "abc.def.ghi"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer a b", None),
        ("abc.def.ghi", None),
    ],
)
def test_bearer_token_reads_only_bearer_headers(header, token):
    assert bearer_token(header) == token


# In a Flask service -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(issuer):
    app, api = create_service_app(
        "probe",
        __name__,
        {
            "TESTING": True,
            "AUTH_JWKS_URL": issuer.jwks_url,
            "JWT_ISSUER": issuer.issuer,
            "JWT_AUDIENCE": issuer.audience,
        },
        title="probe",
        database=False,
    )
    init_auth(app)
    blp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @blp.route("/me")
    class Me(MethodView):
        @require_auth
        def get(self):
            """Who am I."""
            principal = current_principal()
            return {"user_id": principal.user_id, "role": principal.role}

    @blp.route("/materials")
    class Materials(MethodView):
        @require_permission("materials:write")
        def post(self):
            """Write a material."""
            return {"written_by": current_principal().user_id}, 201

    api.register_blueprint(blp)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_missing_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/api/probe/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["code"] == 401
    assert response.json["status"] == "Unauthorized"
    assert response.json["message"]


def test_a_forged_token_is_401_invalid_token(client, issuer):
    response = client.get("/api/probe/me", headers=bearer(issuer.token_alg_none(1)))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert "invalid_token" in challenge


def test_a_valid_token_reaches_the_view_and_the_request_log(client, issuer, caplog):
    with caplog.at_level(logging.INFO, logger="request"):
        response = client.get("/api/probe/me", headers=bearer(issuer.token(12, "teacher")))
    assert response.status_code == 200
    assert response.json == {"user_id": 12, "role": "teacher"}
    logged = [r.fields for r in caplog.records if getattr(r, "fields", None)]
    assert logged[-1]["user_id"] == 12


def test_a_missing_permission_is_403(client, issuer):
    response = client.post("/api/probe/materials", headers=bearer(issuer.token(3, "student")))
    assert response.status_code == 403
    assert response.json["code"] == 403
    assert "materials:write" in response.json["message"]


def test_a_granted_permission_passes(client, issuer):
    response = client.post("/api/probe/materials", headers=bearer(issuer.token(4, "teacher")))
    assert response.status_code == 201
    assert response.json == {"written_by": 4}


def test_permission_checks_still_want_a_token_first(client):
    assert client.post("/api/probe/materials").status_code == 401


def test_the_bearer_scheme_is_documented(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    me = spec["paths"]["/api/probe/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    materials = spec["paths"]["/api/probe/materials"]["post"]
    assert {"401", "403"} <= set(materials["responses"])


def test_readiness_reports_the_jwks(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["checks"]["jwks"] == "ok"


def test_readiness_fails_while_the_jwks_cannot_be_loaded():
    app, _api = create_service_app(
        "probe",
        __name__,
        {"AUTH_JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json"},
        title="probe",
        database=False,
    )
    init_auth(app)
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["jwks"] == "unavailable"


# Revocation: a user's earlier tokens refused for writes ----------------------------------------


def revocation_app(issuer: TokenIssuer, **options):
    """The probe app with its own verifier, so each test has its own revocation list."""
    app, api = create_service_app(
        "probe-revocation",
        __name__,
        {"TESTING": True, "JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience},
        title="probe",
        database=False,
    )
    verifier = TokenVerifier(
        issuer.jwks_url,
        issuer.issuer,
        issuer.audience,
        revocations_url=revocations_url_for(issuer.jwks_url),
        **options,
    )
    init_auth(app, verifier)
    blp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @blp.route("/materials")
    class Materials(MethodView):
        @require_permission("materials:write")
        def get(self):
            """Read materials."""
            return {"read_by": current_principal().user_id}

        @require_permission("materials:write")
        def post(self):
            """Write a material."""
            return {"written_by": current_principal().user_id}, 201

    @blp.route("/notes")
    class Notes(MethodView):
        @require_auth
        def put(self):
            """Write a note."""
            return {"ok": True}

    api.register_blueprint(blp)
    return app.test_client()


def test_the_revocation_list_lives_beside_the_jwks():
    assert (
        revocations_url_for("http://auth:8003/.well-known/jwks.json")
        == "http://auth:8003/.well-known/revocations.json"
    )


def test_a_revoked_teachers_old_token_cannot_write_within_seconds(own_issuer):
    # Before: a deactivated or demoted teacher's token still created materials for 15 minutes.
    client = revocation_app(own_issuer, revocations_interval=0.2)
    old_token = own_issuer.token(7, "teacher")
    assert client.post("/api/probe/materials", headers=bearer(old_token)).status_code == 201
    own_issuer.revoke(7)
    time.sleep(0.3)
    refused = client.post("/api/probe/materials", headers=bearer(old_token))
    assert refused.status_code == 401
    assert "revoked" in refused.json["message"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.put("/api/probe/notes", headers=bearer(old_token)).status_code == 401
    # Reads stay open to the token until it expires.
    assert client.get("/api/probe/materials", headers=bearer(old_token)).status_code == 200
    # Tokens issued after the revocation, and other users' tokens, write as before.
    new_token = own_issuer.token(7, "teacher", iat=own_issuer.revocations["7"])
    assert client.post("/api/probe/materials", headers=bearer(new_token)).status_code == 201
    other = own_issuer.token(8, "teacher")
    assert client.post("/api/probe/materials", headers=bearer(other)).status_code == 201


def test_the_list_is_fetched_lazily_and_at_most_once_per_interval(own_issuer):
    client = revocation_app(own_issuer, revocations_interval=60)
    token = own_issuer.token(7, "teacher")
    client.get("/api/probe/materials", headers=bearer(token))
    assert own_issuer.revocations_requests == 0  # reads never need it
    for _ in range(5):
        client.post("/api/probe/materials", headers=bearer(token))
    assert own_issuer.revocations_requests == 1


def test_writes_fail_closed_once_the_list_is_older_than_the_grace(own_issuer):
    client = revocation_app(own_issuer, revocations_interval=0.1, revocations_grace=0.5)
    token = own_issuer.token(7, "teacher")
    assert client.post("/api/probe/materials", headers=bearer(token)).status_code == 201
    own_issuer.stop()
    time.sleep(0.2)
    # Within the grace the last list still serves ...
    assert client.post("/api/probe/materials", headers=bearer(token)).status_code == 201
    time.sleep(0.5)
    # ... then writes are refused (503), reads go on.
    unavailable = client.post("/api/probe/materials", headers=bearer(token))
    assert unavailable.status_code == 503
    assert client.get("/api/probe/materials", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"revocations": []},
        {"revocations": {"abc": 1}},
        {"revocations": {"7": "soon"}},
        {"revocations": {"7": True}},
        {"revocations": {"-7": 1}},
    ],
)
def test_malformed_revocation_lists_are_refused(document):
    with pytest.raises(ValueError):
        parse_revocations(document)
    assert parse_revocations({"revocations": {"7": 100}}) == {7: 100}


def test_concurrent_first_writes_wait_for_the_revocation_list_instead_of_failing():
    """32 writes arrive together before the list was ever loaded: all wait for the one fetch."""
    import threading

    from service_kit.auth import RevocationList

    fetched = []

    def slow_source():
        fetched.append(1)
        time.sleep(0.3)
        return {"revocations": {}}

    revocations = RevocationList(slow_source)
    barrier = threading.Barrier(32)
    outcomes = []

    def write():
        barrier.wait()
        try:
            revocations.not_before(7)
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=write) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * 32 and len(fetched) == 1
