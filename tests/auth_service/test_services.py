"""Accounts, logins and tokens through services.py, against a real database."""

import threading
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from auth_service import services
from auth_service.models import RefreshToken, User
from auth_service.passwords import PasswordHasher
from auth_service.throttle import DatabaseThrottleStore, LoginLimits, LoginThrottle, LoginThrottled
from service_kit import Conflict, InvalidInput, NotFound, Unauthorized
from service_kit.db import utcnow

PASSWORD = "correct-horse"


def login(session, hasher, throttle, settings, email, password=PASSWORD, client="10.0.0.1"):
    return services.login(session, hasher, throttle, settings, email, password, client)


# Registration ------------------------------------------------------------------------------------


def register(session, hasher, email, full_name, client="10.0.0.1", limits=None):
    throttle = LoginThrottle(DatabaseThrottleStore(session), limits or LoginLimits())
    return services.register(session, hasher, throttle, email, PASSWORD, full_name, client)


def test_register_creates_an_active_student_with_a_normalised_email(session, hasher):
    user = register(session, hasher, "  Ann.Lee@Example.EDU ", "  Ann Lee ")
    assert user.id > 0
    assert user.email == "ann.lee@example.edu"
    assert user.full_name == "Ann Lee"
    assert user.role.name == "student"
    assert user.is_active
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_an_email_is_taken_whatever_its_case(session, hasher):
    register(session, hasher, "ann@example.edu", "Ann")
    with pytest.raises(Conflict):
        register(session, hasher, "ANN@Example.edu", "Another Ann")
    assert len(session.scalars(select(User)).all()) == 1


def test_registrations_from_one_address_are_bounded_before_the_hash(session, hasher):
    limits = LoginLimits(registrations_per_client=3)
    for number in range(3):
        register(session, hasher, f"student{number}@example.edu", "S", limits=limits)
    with pytest.raises(LoginThrottled) as throttled:
        register(session, hasher, "one-too-many@example.edu", "S", limits=limits)
    assert 0 < throttled.value.retry_after <= limits.registration_window_seconds
    # Another address (another classroom) is not affected.
    register(session, hasher, "elsewhere@example.edu", "S", client="10.0.0.2", limits=limits)
    assert services.find_user(session, "one-too-many@example.edu") is None


def test_concurrent_registrations_of_one_email_make_one_account(database_url, hasher):
    engine = create_engine(database_url)
    outcomes = []

    def attempt():
        with Session(engine) as own_session:
            try:
                register(own_session, hasher, "race@example.edu", "Racer")
                outcomes.append("created")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"]


# Login -------------------------------------------------------------------------------------------


def test_login_returns_a_verifiable_access_token(
    session, hasher, throttle, settings, verifier, register_user
):
    user = register_user("ann@example.edu", role="teacher")
    pair = login(session, hasher, throttle, settings, "ANN@example.edu")
    claims = verifier.verify(pair.access_token)
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "teacher"
    assert set(claims["perms"]) == {
        "favorites:write",
        "materials:write",
        "assistant:use",
        "assistant:build",
    }
    assert 899 < claims["exp"] - claims["iat"] <= 900
    assert claims["iss"] == settings.issuer and claims["aud"] == settings.audience
    assert len(claims["jti"]) == 32
    assert pair.expires_in == 900 and pair.token_type == "Bearer"
    assert len(pair.refresh_token) >= 43


def test_the_access_token_header_names_its_key_and_type(
    session, hasher, throttle, settings, register_user
):
    register_user("ann@example.edu")
    header = jwt.get_unverified_header(
        login(session, hasher, throttle, settings, "ann@example.edu").access_token
    )
    assert header == {"alg": "RS256", "kid": settings.keys.current().kid, "typ": "at+jwt"}


def test_the_refresh_token_is_stored_only_as_a_hash(
    session, hasher, throttle, settings, register_user
):
    register_user("ann@example.edu")
    pair = login(session, hasher, throttle, settings, "ann@example.edu")
    stored = session.scalars(select(RefreshToken)).one()
    assert stored.token_hash != pair.refresh_token
    assert len(stored.token_hash) == 64
    assert timedelta(days=29) < stored.expires_at - utcnow() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.edu", PASSWORD), ("ann@example.edu", "wrong-password")],
    ids=["unknown email", "wrong password"],
)
def test_bad_credentials_get_one_and_the_same_answer(
    session, hasher, throttle, settings, register_user, email, password
):
    register_user("ann@example.edu")
    with pytest.raises(Unauthorized) as raised:
        login(session, hasher, throttle, settings, email, password)
    assert raised.value.message == services.BAD_CREDENTIALS


def test_a_deactivated_account_cannot_log_in(session, hasher, throttle, settings, register_user):
    user = register_user("ann@example.edu")
    user.is_active = False
    session.commit()
    with pytest.raises(Unauthorized) as raised:
        login(session, hasher, throttle, settings, "ann@example.edu")
    assert raised.value.message == services.BAD_CREDENTIALS


def test_repeated_failures_throttle_before_the_hash_runs(
    session, hasher, throttle, settings, register_user
):
    register_user("ann@example.edu")
    for _ in range(throttle.limits.free_failures):
        with pytest.raises(Unauthorized):
            login(session, hasher, throttle, settings, "ann@example.edu", "wrong-password")
    # From this client even the right password is not checked now: the throttle answers first.
    with pytest.raises(LoginThrottled) as raised:
        login(session, hasher, throttle, settings, "ann@example.edu", PASSWORD)
    assert 0 < raised.value.retry_after <= throttle.limits.window_seconds
    # The owner, from their own address, is not refused because of those failures.
    login(session, hasher, throttle, settings, "ann@example.edu", client="192.0.2.44")


def test_a_successful_login_forgives_earlier_failures(
    session, hasher, throttle, settings, register_user
):
    register_user("ann@example.edu")
    for _round in range(3):
        for _ in range(throttle.limits.free_failures - 1):
            with pytest.raises(Unauthorized):
                login(session, hasher, throttle, settings, "ann@example.edu", "wrong-password")
        login(session, hasher, throttle, settings, "ann@example.edu")


def test_a_hash_with_old_parameters_is_upgraded_at_login(
    session, throttle, settings, register_user
):
    user = register_user("ann@example.edu")
    old_hash = user.password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    login(session, stronger, throttle, settings, "ann@example.edu")
    assert user.password_hash != old_hash
    assert "m=16,t=2,p=1" in user.password_hash


# Refresh and logout ------------------------------------------------------------------------------


@pytest.fixture
def first_pair(session, hasher, throttle, settings, register_user):
    register_user("ann@example.edu")
    return login(session, hasher, throttle, settings, "ann@example.edu")


def test_refresh_rotates_within_the_family(session, settings, verifier, first_pair):
    second = services.refresh(session, settings, first_pair.refresh_token)
    assert second.refresh_token != first_pair.refresh_token
    assert (
        verifier.verify(second.access_token)["sub"]
        == verifier.verify(first_pair.access_token)["sub"]
    )
    tokens = session.scalars(select(RefreshToken).order_by(RefreshToken.id)).all()
    assert len(tokens) == 2
    assert tokens[0].family_id == tokens[1].family_id
    assert tokens[0].revoked_at is not None and tokens[1].revoked_at is None


@pytest.fixture
def no_reuse_grace(monkeypatch):
    """As if every second use of a spent token came after the grace."""
    monkeypatch.setattr(services, "REFRESH_REUSE_GRACE", timedelta(0))


def test_reusing_a_spent_token_revokes_the_whole_family(
    session, settings, first_pair, no_reuse_grace
):
    second = services.refresh(session, settings, first_pair.refresh_token)
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)  # the thief, or the victim
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, second.refresh_token)  # the other party too
    assert all(t.revoked_at for t in session.scalars(select(RefreshToken)))


def test_reuse_after_the_grace_revokes_the_family(session, settings, first_pair):
    second = services.refresh(session, settings, first_pair.refresh_token)
    spent_long_ago = utcnow() - services.REFRESH_REUSE_GRACE - timedelta(seconds=1)
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == services._hash_refresh_token(first_pair.refresh_token))
        .values(revoked_at=spent_long_ago, replaced_at=spent_long_ago)
    )
    session.commit()
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, second.refresh_token)


def test_a_second_use_within_the_grace_gets_a_pair_of_the_same_family(
    session, settings, verifier, first_pair
):
    # Before: two tabs refreshing at once logged the user out (reuse detection fired).
    second = services.refresh(session, settings, first_pair.refresh_token)
    again = services.refresh(session, settings, first_pair.refresh_token)
    assert verifier.verify(again.access_token)["sub"] == verifier.verify(second.access_token)["sub"]
    families = {t.family_id for t in session.scalars(select(RefreshToken))}
    assert len(families) == 1
    # Both parties carry on.
    assert services.refresh(session, settings, second.refresh_token).access_token
    assert services.refresh(session, settings, again.refresh_token).access_token


def test_the_grace_does_not_revive_a_login_that_ended(session, settings, first_pair):
    second = services.refresh(session, settings, first_pair.refresh_token)
    services.logout(session, second.refresh_token)
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)


def test_reuse_leaves_other_logins_alone(
    session, hasher, throttle, settings, first_pair, no_reuse_grace
):
    other_device = login(session, hasher, throttle, settings, "ann@example.edu")
    services.refresh(session, settings, first_pair.refresh_token)
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)
    assert services.refresh(session, settings, other_device.refresh_token).access_token


def test_racing_refreshes_of_one_token_all_stay_logged_in(database_url, settings, first_pair):
    engine = create_engine(database_url)
    outcomes = []
    barrier = threading.Barrier(3)

    def attempt():
        with Session(engine) as own_session:
            barrier.wait()
            try:
                pair = services.refresh(own_session, settings, first_pair.refresh_token)
                outcomes.append(pair.refresh_token)
            except Unauthorized:
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "refused" not in outcomes and len(set(outcomes)) == 3
    with Session(engine) as own_session:
        for token in outcomes:  # every racer's new token works
            assert services.refresh(own_session, settings, token).access_token
    engine.dispose()


@pytest.mark.parametrize("token", ["", "x", "not-a-real-token" * 10, "😀"])
def test_unknown_refresh_tokens_are_refused(session, settings, first_pair, token):
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, token)


def test_an_expired_refresh_token_is_refused(session, settings, first_pair):
    session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)


def test_a_deactivated_user_cannot_refresh(session, settings, first_pair):
    session.execute(update(User).values(is_active=False))
    session.commit()
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)


def test_refresh_carries_the_current_role(session, settings, verifier, first_pair):
    user = session.scalars(select(User)).one()
    services.update_user(session, actor_id=0, user_id=user.id, changes={"role": "teacher"})
    claims = verifier.verify(
        services.refresh(session, settings, first_pair.refresh_token).access_token
    )
    assert claims["role"] == "teacher"


def test_logout_revokes_and_is_idempotent(session, settings, first_pair):
    services.logout(session, first_pair.refresh_token)
    services.logout(session, first_pair.refresh_token)
    services.logout(session, "never-issued")
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, first_pair.refresh_token)


def test_logout_with_a_spent_token_ends_the_login(session, settings, first_pair):
    second = services.refresh(session, settings, first_pair.refresh_token)
    services.logout(session, first_pair.refresh_token)
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, second.refresh_token)


# The caller and the admin's user management -----------------------------------------------------


def test_active_user_refuses_deactivated_or_missing_accounts(session, register_user):
    user = register_user("ann@example.edu")
    assert services.active_user(session, user.id) is user
    user.is_active = False
    session.commit()
    with pytest.raises(Unauthorized):
        services.active_user(session, user.id)
    with pytest.raises(Unauthorized):
        services.active_user(session, user.id + 1000)


def test_list_users_pages_and_searches_email_and_name(session, register_user):
    register_user("ann@example.edu", full_name="Ann Lee")
    register_user("bob@example.edu", full_name="Иван Петров")
    register_user("carl@uni.example", full_name="Carl 100%_Sure")
    page = services.list_users(session, page=1, page_size=2)
    assert page.total == 3 and [u.email for u in page.items] == [
        "ann@example.edu",
        "bob@example.edu",
    ]
    assert [u.email for u in services.list_users(session, page=2, page_size=2).items] == [
        "carl@uni.example"
    ]
    assert [u.email for u in services.list_users(session, "EXAMPLE.EDU").items] == [
        "ann@example.edu",
        "bob@example.edu",
    ]
    assert [u.email for u in services.list_users(session, "lee").items] == ["ann@example.edu"]
    # LIKE wildcards are literal characters.
    assert [u.email for u in services.list_users(session, "%_").items] == ["carl@uni.example"]
    assert services.list_users(session, "_").total == 1
    assert services.list_users(session, "nobody").total == 0


def test_list_users_ignores_cyrillic_letter_case_and_yo(session, register_user):
    register_user("bob@example.edu", full_name="Пётр Семёнов")
    for query in ("ПЁТР", "петр", "семенов", "  Пётр   Семёнов "):
        assert [u.email for u in services.list_users(session, query).items] == [
            "bob@example.edu"
        ], query


def test_a_search_never_matches_across_email_and_name(session, register_user):
    register_user("ann@example.edu", full_name="Lee")
    assert services.list_users(session, "edu lee").total == 0
    assert services.list_users(session, "edulee").total == 0


def test_renaming_through_the_cli_updates_the_search(session, hasher, register_user):
    register_user("ann@example.edu", full_name="Ann Lee")
    services.save_user(session, hasher, "ann@example.edu", "new-password", "student", "Анна Ли")
    assert [u.email for u in services.list_users(session, "анна").items] == ["ann@example.edu"]
    assert services.list_users(session, "lee").total == 0


def test_update_user_changes_role_and_deactivation_revokes_logins(
    session, hasher, throttle, settings, register_user
):
    admin = register_user("admin@example.edu", role="admin")
    ann = register_user("ann@example.edu")
    pair = login(session, hasher, throttle, settings, "ann@example.edu")
    assert services.update_user(session, admin.id, ann.id, {"role": "teacher"}).role.name == (
        "teacher"
    )
    services.update_user(session, admin.id, ann.id, {"is_active": False})
    assert not ann.is_active
    with pytest.raises(Unauthorized):
        services.refresh(session, settings, pair.refresh_token)
    assert services.update_user(session, admin.id, ann.id, {"is_active": True}).is_active


@pytest.mark.parametrize(
    "changes", [{"is_active": False}, {"role": "teacher"}, {"role": "student", "is_active": True}]
)
def test_an_admin_cannot_lock_themself_out(session, register_user, changes):
    admin = register_user("admin@example.edu", role="admin")
    with pytest.raises(Conflict):
        services.update_user(session, admin.id, admin.id, changes)
    session.refresh(admin)
    assert admin.role.name == "admin" and admin.is_active


def test_an_admin_may_touch_their_own_harmless_fields(session, register_user):
    admin = register_user("admin@example.edu", role="admin")
    assert services.update_user(session, admin.id, admin.id, {"role": "admin"}).is_active


def test_update_user_refuses_unknown_users_and_roles(session, register_user):
    ann = register_user("ann@example.edu")
    with pytest.raises(NotFound):
        services.update_user(session, 1, ann.id + 1000, {"role": "teacher"})
    with pytest.raises(InvalidInput):
        services.update_user(session, 1, ann.id, {"role": "superuser"})


# Operator commands -------------------------------------------------------------------------------


def test_save_user_creates_then_updates_by_email(session, hasher):
    user, created = services.save_user(session, hasher, "Op@Example.edu", PASSWORD, "admin")
    assert created and user.role.name == "admin" and user.full_name == "Op"
    again, created = services.save_user(
        session, hasher, "op@example.edu", "new-password", "teacher"
    )
    assert not created and again.id == user.id
    assert again.role.name == "teacher"
    assert hasher.verify(again.password_hash, "new-password")


def test_seed_demo_creates_missing_accounts_only(session, hasher):
    first = services.seed_demo_accounts(session, hasher)
    assert [(u.email, u.role.name, created) for u, created in first] == [
        ("student@example.edu", "student", True),
        ("teacher@example.edu", "teacher", True),
        ("admin@example.edu", "admin", True),
    ]
    teacher = first[1][0]
    teacher.full_name = "Renamed"
    session.commit()
    second = services.seed_demo_accounts(session, hasher)
    assert [created for _u, created in second] == [False, False, False]
    assert second[1][0].full_name == "Renamed"
    assert hasher.verify(teacher.password_hash, "teacher-demo-1")
