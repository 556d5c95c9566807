"""Compiled hot-path queries give what the ORM gives, and sessions and users behave as Django's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from personas_app.compiled import CompiledQuery, NotCompilable
from personas_app.models import Membership
from tests.builders import make_user


def _by_user(user_id: int) -> Any:
    return Membership.objects.filter(user_id=user_id).values_list(
        "role", "created_at", "workspace__slug", "workspace__requires_approval"
    )


def test_rows_equal_the_orm_with_converted_values(workspace: Any, alice: Any) -> None:
    compiled = CompiledQuery(_by_user, ["int"])

    rows = compiled.rows(alice.pk)

    assert rows == list(_by_user(alice.pk))
    assert rows[0][1].tzinfo is not None  # an aware datetime, as the ORM gives
    assert rows[0][3] is False  # a boolean, also on SQLite
    assert compiled.rows(alice.pk + 1000) == []


def test_arguments_are_parameters_never_sql(workspace: Any) -> None:
    compiled = CompiledQuery(
        lambda slug: Membership.objects.filter(workspace__slug=slug).values_list("role"), ["str"]
    )
    assert compiled.rows("acme' OR '1'='1") == []
    assert len(compiled.rows("acme")) == 2


def test_an_argument_used_twice_is_bound_in_both_places(workspace: Any, alice: Any) -> None:
    def mine_or_named(user_id: int) -> Any:
        return Membership.objects.filter(
            Q(user_id=user_id) | Q(user__id=user_id, role="nobody")
        ).values_list("role")

    compiled = CompiledQuery(mine_or_named, ["int"])

    assert compiled.rows(alice.pk) == list(mine_or_named(alice.pk))
    assert compiled.rows(alice.pk + 1000) == []


def test_a_queryset_whose_argument_is_transformed_is_refused(db: None) -> None:
    compiled = CompiledQuery(
        lambda slug: Membership.objects.filter(workspace__slug__icontains=slug).values_list("role"),
        ["str"],
    )
    with pytest.raises(NotCompilable):
        compiled.rows("acme")


def test_an_expired_session_is_logged_out(alice: Any, workspace: Any) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/w/acme/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get("/w/acme/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_user_is_logged_out_on_the_next_request(alice: Any, workspace: Any) -> None:
    client = Client()
    client.force_login(alice)
    alice.is_active = False
    alice.save()

    response = client.get("/w/acme/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deleted_users_session_is_anonymous(db: None) -> None:
    user = make_user("temp")
    client = Client()
    client.force_login(user)
    user.delete()

    assert client.get("/w/acme/").status_code == 302


def test_login_and_logout_work_with_the_compiled_reads(alice: Any, workspace: Any) -> None:
    client = Client()
    alice.set_password("a-long-password-1")
    alice.save()
    assert (
        client.post(
            "/accounts/login/", {"username": "alice", "password": "a-long-password-1"}
        ).status_code
        == 302
    )
    assert client.get("/w/acme/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/w/acme/").status_code == 302


def test_observed_queries_are_seen_as_any_other(workspace: Any, alice: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    compiled = CompiledQuery(_by_user, ["int"])
    compiled.rows(alice.pk)  # compiled, and run on the driver's cursor
    wrapped: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        wrapped.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured:
        assert compiled.rows(alice.pk) == list(_by_user(alice.pk))
    with connection.execute_wrapper(wrapper):
        compiled.rows(alice.pk)

    assert len(captured) == 2  # the compiled read and the ORM's
    assert len(wrapped) == 1 and "personas_app_membership" in wrapped[0]


def test_a_failing_compiled_query_raises_djangos_error(workspace: Any, alice: Any) -> None:
    from django.db import DatabaseError, connection

    compiled = CompiledQuery(_by_user, ["int"])
    compiled.rows(alice.pk)
    compiled._local.compiled = type(compiled._local.compiled)(
        **{**compiled._local.compiled.__dict__, "lean_sql": "SELECT * FROM no_such_table"}
    )

    with pytest.raises(DatabaseError):
        compiled.rows(alice.pk)
    connection.close_if_unusable_or_obsolete()


def test_a_session_whose_stored_text_changes_is_read_anew(
    alice: Any, bob: Any, workspace: Any
) -> None:
    alices, bobs = Client(), Client()
    alices.force_login(alice)
    bobs.force_login(bob)
    assert alices.get("/w/acme/").context["user"] == alice  # decoded, and kept

    session = Session.objects.get(session_key=alices.cookies["sessionid"].value)
    session.session_data = Session.objects.get(
        session_key=bobs.cookies["sessionid"].value
    ).session_data
    session.save()
    assert alices.get("/w/acme/").context["user"] == bob

    session.session_data = session.session_data[:-4] + "AAAA"  # a text that does not verify
    session.save()
    assert alices.get("/w/acme/").status_code == 302


def test_a_password_change_logs_out_the_other_sessions_on_workspace_pages(
    alice: Any, workspace: Any
) -> None:
    elsewhere = Client()
    elsewhere.force_login(alice)
    assert elsewhere.get("/w/acme/").status_code == 200
    alice.set_password("a-new-long-password-2")
    alice.save()

    response = elsewhere.get("/w/acme/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert elsewhere.get("/w/acme/").status_code == 302  # the session was flushed


def test_a_workspace_page_reads_session_user_and_membership_in_one_query(
    alice: Any, workspace: Any
) -> None:
    # Each query before a live page's call to Tavus delays the page: one, once the process has
    # seen the session (the first page of a session reads the session first, then the rest).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(alice)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/w/acme/keys/").status_code == 200
    with CaptureQueriesContext(connection) as again:
        assert client.get("/w/acme/keys/").status_code == 200

    def reads(sql: str) -> set[str]:
        return {t for t in ("django_session", "personas_app_membership", "auth_user") if t in sql}

    assert [reads(q["sql"]) for q in first[:2]] == [
        {"django_session"},
        {"personas_app_membership", "auth_user"},
    ]
    assert reads(again[0]["sql"]) == {"django_session", "personas_app_membership", "auth_user"}
    assert not any(reads(q["sql"]) & {"django_session", "auth_user"} for q in again[1:])


def test_a_session_that_names_another_user_than_last_time_is_read_for_that_user(
    alice: Any, bob: Any, workspace: Any
) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/w/acme/").context["user"] == alice  # the process now guesses alice
    key = client.cookies["sessionid"].value
    other = Client()
    other.force_login(bob)
    session = Session.objects.get(session_key=key)
    session.session_data = Session.objects.get(
        session_key=other.cookies["sessionid"].value
    ).session_data
    session.save()

    response = client.get("/w/acme/")

    assert response.status_code == 200 and response.context["user"] == bob
    assert response.context["request"].membership.user_id == bob.pk


def test_the_session_check_a_user_gets_follows_a_password_changed_mid_request(
    alice: Any,
) -> None:
    from django.contrib.auth.base_user import AbstractBaseUser

    from personas_app.auth import ModelBackend

    user = ModelBackend().get_user(alice.pk)
    before = user.get_session_auth_hash()
    assert before == AbstractBaseUser.get_session_auth_hash(alice)  # Django's own value

    user.set_password("a-new-long-password-3")  # as a password-change view would, then
    after = user.get_session_auth_hash()  # update_session_auth_hash() stores this

    assert after != before
    assert after == AbstractBaseUser.get_session_auth_hash(user)
