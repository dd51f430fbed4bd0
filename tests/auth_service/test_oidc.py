"""Signing in through a provider, at the service layer: accounts by issuer and subject, roles
from the directory, linking, provider-only domains; and the providers' settings."""

import pytest
from sqlalchemy import select

from auth_service import services
from auth_service.models import ExternalIdentity, RefreshToken, User
from auth_service.oidc import (
    Identity,
    Provider,
    SignInFailed,
    parse_role_map,
    providers_from_environment,
    safe_next_path,
)
from service_kit import Forbidden

ISSUER = "https://idp.uni.example"


def identity(sub="s-1", email="ann@uni.example", role=None, issuer=ISSUER, name="Ann Lee"):
    return Identity(
        provider="university",
        issuer=issuer,
        subject=sub,
        email=email,
        full_name=name,
        role=role,
    )


def test_a_first_sign_in_creates_the_account(session, settings, verifier):
    pair = services.sign_in_with_provider(session, settings, identity(role="teacher"))

    user = session.scalar(select(User))
    assert (user.email, user.full_name, user.role.name) == ("ann@uni.example", "Ann Lee", "teacher")
    assert user.password_hash == "" and user.is_active
    assert verifier.verify(pair.access_token)["sub"] == str(user.id)
    token = session.scalar(select(RefreshToken))
    assert token.identity_provider == "university"


def test_the_account_is_found_by_issuer_and_subject_not_by_email(session, settings):
    services.sign_in_with_provider(session, settings, identity(sub="s-1"))
    services.sign_in_with_provider(session, settings, identity(sub="s-1", email="new@uni.example"))

    assert session.scalar(select(User.email)) == "ann@uni.example"
    assert len(session.scalars(select(ExternalIdentity)).all()) == 1
    # Another issuer's subject "s-1" is another person: the address is taken, so no way in.
    with pytest.raises(SignInFailed) as refused:
        services.sign_in_with_provider(session, settings, identity(issuer="https://other.example"))
    assert refused.value.code == "link_required"


def test_an_existing_password_account_is_never_joined_by_email_alone(session, settings, hasher):
    owner, _created = services.save_user(session, hasher, "ann@uni.example", "pw-123456", "student")
    with pytest.raises(SignInFailed) as refused:
        services.sign_in_with_provider(session, settings, identity())
    assert refused.value.code == "link_required"

    services.sign_in_with_provider(session, settings, identity(), link_user_id=owner.id)
    linked = session.scalar(select(ExternalIdentity))
    assert linked.user_id == owner.id


def test_an_identity_links_to_one_account_only(session, settings, hasher):
    services.sign_in_with_provider(session, settings, identity())
    other, _created = services.save_user(session, hasher, "bob@example.org", "pw-123456", "student")

    with pytest.raises(SignInFailed) as refused:
        services.sign_in_with_provider(session, settings, identity(), link_user_id=other.id)
    assert refused.value.code == "denied"


def test_the_directory_sets_the_role_at_every_sign_in(session, settings):
    services.sign_in_with_provider(session, settings, identity(role="teacher"))
    user = session.scalar(select(User))
    assert user.tokens_valid_after is None

    services.sign_in_with_provider(session, settings, identity(role="student"))
    session.refresh(user)
    assert user.role.name == "student"
    assert user.tokens_valid_after is not None  # the teacher's access tokens: no more writes


def test_without_a_role_claim_the_portal_keeps_its_own_role(session, settings, hasher):
    services.sign_in_with_provider(session, settings, identity())
    user = session.scalar(select(User))
    services.update_user(session, actor_id=0, user_id=user.id, changes={"role": "teacher"})

    services.sign_in_with_provider(session, settings, identity(role=None))
    session.refresh(user)
    assert user.role.name == "teacher"


def test_a_deactivated_account_cannot_sign_in(session, settings):
    services.sign_in_with_provider(session, settings, identity())
    user = session.scalar(select(User))
    services.update_user(session, actor_id=0, user_id=user.id, changes={"is_active": False})

    with pytest.raises(SignInFailed) as refused:
        services.sign_in_with_provider(session, settings, identity())
    assert refused.value.code == "denied"


def test_a_provider_without_a_verified_email_cannot_create_accounts(session, settings):
    with pytest.raises(SignInFailed) as refused:
        services.sign_in_with_provider(session, settings, identity(email=None))
    assert refused.value.code == "misconfigured"


def test_an_account_without_a_password_refuses_every_password(session, settings, hasher, throttle):
    services.sign_in_with_provider(session, settings, identity())
    with pytest.raises(Exception, match="Incorrect email or password"):
        services.login(session, hasher, throttle, settings, "ann@uni.example", "", client="c")


def test_provider_only_domains_refuse_passwords(session, settings, hasher, throttle):
    domains = frozenset({"uni.example"})
    with pytest.raises(Forbidden):
        services.register(
            session, hasher, throttle, "x@UNI.example", "pw-123456", "X", "c", domains
        )
    with pytest.raises(Forbidden):
        services.login(session, hasher, throttle, settings, "x@uni.example", "pw", "c", domains)


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"groups": ["teachers"]}, "teacher"),
        ({"groups": ["teachers", "admins"]}, "admin"),
        ({"groups": "teachers"}, "teacher"),
        ({"groups": ["students", "unknown"]}, "student"),
        ({"groups": []}, "student"),
        ({}, "student"),
        ({"groups": [{"not": "a string"}]}, "student"),
    ],
)
def test_group_claims_map_to_the_strongest_role(claims, role):
    provider = Provider(
        "university",
        ISSUER,
        "portal",
        "",
        role_claim="groups",
        role_map={"teachers": "teacher", "admins": "admin"},
    )
    assert provider.role_for(claims) == role


def test_a_nested_claim_is_reached_by_a_dotted_path():
    provider = Provider(
        "kc", ISSUER, "portal", "", role_claim="realm_access.roles", role_map={"staff": "teacher"}
    )
    assert provider.role_for({"realm_access": {"roles": ["staff"]}}) == "teacher"
    assert provider.role_for({"realm_access": "staff"}) == "student"
    assert Provider("kc", ISSUER, "portal", "").role_for({"groups": ["staff"]}) is None


def test_providers_come_from_the_environment():
    assert providers_from_environment({}) == ()
    one = providers_from_environment(
        {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "portal", "OIDC_ROLE_MAP": "t=teacher"}
    )
    assert [(p.name, p.issuer, p.button_label, dict(p.role_map)) for p in one] == [
        ("university", ISSUER, "Войти через университет", {"t": "teacher"})
    ]
    two = providers_from_environment(
        {
            "OIDC_PROVIDERS": "university, staff-ad",
            "OIDC_ISSUER": ISSUER,
            "OIDC_CLIENT_ID": "portal",
            "OIDC_STAFF_AD_ISSUER": "https://login.example/tenant/v2.0",
            "OIDC_STAFF_AD_CLIENT_ID": "portal-staff",
            "OIDC_STAFF_AD_BUTTON_LABEL": "Войти как сотрудник",
        }
    )
    assert [(p.name, p.client_id, p.button_label) for p in two] == [
        ("university", "portal", "Войти через университет"),
        ("staff-ad", "portal-staff", "Войти как сотрудник"),
    ]


@pytest.mark.parametrize(
    "environ",
    [
        {"OIDC_ISSUER": ISSUER},  # no client id
        {"OIDC_PROVIDERS": "Bad Name", "OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "x"},
        {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "x", "OIDC_ROLE_MAP": "teachers=boss"},
    ],
)
def test_a_wrong_setting_stops_the_service_with_its_name(environ):
    with pytest.raises(ValueError, match="OIDC"):
        providers_from_environment(environ)


def test_role_maps_are_read_from_text():
    assert parse_role_map(" teachers=teacher , /uni/staff=admin,") == {
        "teachers": "teacher",
        "/uni/staff": "admin",
    }


@pytest.mark.parametrize(
    ("requested", "landing"),
    [
        ("/#/courses/3?type=lab", "/#/courses/3?type=lab"),
        (None, "/#/"),
        ("https://evil.example/", "/#/"),
        ("//evil.example/#/", "/#/"),
        ("/api/auth/logout", "/#/"),
        ("/#/courses/3\r\nSet-Cookie: x", "/#/"),
    ],
)
def test_only_web_ui_routes_are_landing_pages(requested, landing):
    assert safe_next_path(requested) == landing


# --- the endpoints, with the provider unreachable or misconfigured ------------------------------


def oidc_app(app_config, issuer, **settings):
    from auth_service import create_app

    config = {
        **app_config,
        "PUBLIC_BASE_URL": "http://portal.test",
        "OIDC_PROVIDERS": (Provider("university", issuer, "portal", "secret"),),
        "OIDC_STATE_SECRET": "s" * 40,
        **settings,
    }
    return create_app(config)


def test_an_unreachable_provider_sends_the_browser_back_with_a_reason(app_config):
    from tests.support.processes import free_port

    client = oidc_app(app_config, f"http://127.0.0.1:{free_port()}").test_client()

    response = client.get("/api/auth/oidc/university/login?next=/%23/courses/3")

    assert response.status_code == 302
    assert response.location == (
        "http://portal.test/#/courses/3?signin_error=unavailable&provider=university"
    )


def test_a_short_state_secret_stops_the_service(app_config):
    with pytest.raises(ValueError, match="OIDC_STATE_SECRET"):
        oidc_app(app_config, ISSUER, OIDC_STATE_SECRET="short")


def test_without_providers_the_sign_in_endpoints_are_404_and_the_list_empty(client):
    assert client.get("/api/auth/providers").get_json() == []
    for path in ("/api/auth/oidc/university/login", "/api/auth/oidc/university/callback"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["message"] == "No such sign-in provider."


def test_a_callback_with_garbage_is_refused_in_words_not_a_500(app_config):
    client = oidc_app(app_config, ISSUER).test_client()
    client.set_cookie("portal_oidc", "garbage.not-signed", path="/api/auth/oidc")

    for query in ("", "?state=x", "?code=x", "?state=%00&code=%ff", "?error=x" + "y" * 5000):
        response = client.get("/api/auth/oidc/university/callback" + query)
        assert response.status_code == 302, query
        assert "signin_error=" in response.location
