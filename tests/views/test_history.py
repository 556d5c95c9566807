"""A persona's history: timeline with per-layer diffs, versions, compare, revert, outside changes."""

from __future__ import annotations

import copy
import html
import re
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, ChangeRequest
from personas_app.persona.patching import apply_patch, minimal_patch
from personas_app.persona.redaction import SECRET_MARKER
from personas_app.services import personas as persona_service
from personas_app.services.workspaces import tavus_client_for
from personas_app.tavus import TavusError
from personas_app.views.history import _applied
from tests import strategies
from tests.builders import persona_doc


def _live(workspace: Any, persona_id: str) -> dict[str, Any]:
    return tavus_client_for(workspace).get_persona(persona_id)


def _edit(workspace: Any, actor: Any, persona_id: str, ops: list[dict[str, Any]]) -> AuditEvent:
    """One edit through the dashboard's normal path; returns its audit record."""
    persona_service.persona_apply_patch(
        workspace=workspace,
        persona_id=persona_id,
        ops=ops,
        before=_live(workspace, persona_id),
        actor=actor,
    )
    return AuditEvent.objects.filter(persona_id=persona_id).latest("id")


def _create(workspace: Any, actor: Any, **overrides: Any) -> tuple[str, AuditEvent]:
    persona_id = persona_service.persona_create(
        workspace=workspace, document=persona_doc(**overrides), actor=actor
    )
    return persona_id, AuditEvent.objects.filter(persona_id=persona_id).latest("id")


def _page(client: Any, url: str) -> str:
    """The page's HTML with entities decoded, so JSON in <pre> reads as typed."""
    return html.unescape(client.get(url).content.decode())


def _url(persona_id: str, rest: str = "history/") -> str:
    return f"/w/acme/personas/{persona_id}/{rest}"


class _Since:
    """The emulator's requests made after this point (the fixtures' own setup calls left out)."""

    def __init__(self, tavus: EmulatorState) -> None:
        self.tavus, self.start = tavus, len(tavus.requests)

    def patches(self) -> list[Any]:
        return [r.body for r in self.tavus.requests[self.start :] if r.method == "PATCH"]

    def count(self, method: str | None = None) -> int:
        return sum(1 for r in self.tavus.requests[self.start :] if method in (None, r.method))


def _no_server_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in {"created_at", "updated_at"}}


@pytest.fixture
def edited(workspace: Any, bob: Any, tavus: EmulatorState) -> dict[str, Any]:
    """A persona created by bob, then edited twice (one field each time)."""
    persona_id, created = _create(workspace, bob, persona_name="Front Desk")
    first = _edit(
        workspace,
        bob,
        persona_id,
        [{"op": "replace", "path": "/persona_name", "value": "Night Desk"}],
    )
    second = _edit(
        workspace,
        bob,
        persona_id,
        [{"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-5.2"}],
    )
    return {
        "id": persona_id,
        "created": created,
        "first": first,
        "second": second,
        "log": _Since(tavus),
    }


# -- Access --------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Any, edited: dict[str, Any]) -> None:
    response = client.get(_url(edited["id"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_outsider_gets_404_on_every_history_page(
    charlie_client: Any, edited: dict[str, Any]
) -> None:
    pid, first = edited["id"], edited["first"].pk
    for url in (
        _url(pid),
        _url(pid, f"history/{first}/"),
        _url(pid, f"compare/?a={first}"),
        _url(pid, f"history/{first}/revert/"),
    ):
        assert charlie_client.get(url).status_code == 404


def test_viewer_cannot_revert(
    member_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    viewer = member_client("viewer")
    url = _url(edited["id"], f"history/{edited['first'].pk}/revert/")

    assert viewer.get(url).status_code == 403
    assert viewer.post(url).status_code == 403
    assert edited["log"].patches() == []


def test_event_of_another_persona_is_404(bob_client: Any, edited: dict[str, Any]) -> None:
    assert bob_client.get(_url("p-other", f"history/{edited['first'].pk}/")).status_code == 404


# -- Timeline ------------------------------------------------------------------------------------


def test_history_shows_each_version_with_its_per_layer_diff(
    member_client: Any, edited: dict[str, Any]
) -> None:
    viewer = member_client("viewer")

    response = viewer.get(_url(edited["id"]))

    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "History of Night Desk" in body
    ids = [int(n) for n in re.findall(r'<li id="event-(\d+)"', body)]
    assert ids == [edited["second"].pk, edited["first"].pk, edited["created"].pk]
    second = body.split(f'id="event-{edited["second"].pk}"')[1].split("</li>")[0]
    assert "Language model" in second and "LLM model" in second
    assert "tavus-gpt-oss" in second and "tavus-gpt-5.2" in second
    first = body.split(f'id="event-{edited["first"].pk}"')[1].split("</li>")[0]
    assert "Identity" in first and "Persona name" in first and "Front Desk" in first
    assert "/persona_name" in first  # the JSON Patch behind it
    assert "Revert to this version" not in body  # a viewer cannot revert


def test_timeline_shows_when_each_version_was_made_to_the_second(
    bob_client: Any, workspace: Any, bob: Any
) -> None:
    at = datetime(2026, 3, 5, 9, 7, 41, 123456, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=at):
        persona_id, _ = _create(workspace, bob)

    body = bob_client.get(_url(persona_id)).content.decode()

    assert '<time datetime="2026-03-05T09:07:41.123456+00:00">5 Mar 2026, 09:07:41</time>' in body


def test_editor_sees_revert_links_on_older_versions_only(
    bob_client: Any, edited: dict[str, Any]
) -> None:
    body = _page(bob_client, _url(edited["id"]))

    newest = body.split(f'id="event-{edited["second"].pk}"')[1].split("</li>")[0]
    older = body.split(f'id="event-{edited["first"].pk}"')[1].split("</li>")[0]
    assert "Revert to this version" not in newest and "Last known version" in newest
    assert f"history/{edited['first'].pk}/revert/" in older


def test_history_page_makes_no_upstream_request(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    pid, first = edited["id"], edited["first"].pk
    bob_client.get(_url(pid))
    bob_client.get(_url(pid, f"history/{first}/"))
    bob_client.get(_url(pid, f"compare/?a={first}&b={edited['second'].pk}"))

    assert edited["log"].count() == 0


def test_failed_attempt_is_shown_greyed_with_tavus_message(
    bob_client: Any, workspace: Any, bob: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    tavus.fail_next(1, 400, body={"error": "Invalid replica_uuid"}, methods={"PATCH"})
    with pytest.raises(TavusError):
        _edit(
            workspace,
            bob,
            edited["id"],
            [{"op": "replace", "path": "/default_replica_id", "value": "r-nope"}],
        )
    failed = AuditEvent.objects.latest("id")

    body = bob_client.get(_url(edited["id"])).content.decode()

    assert f'<li id="event-{failed.pk}" class="card version failed">' in body
    assert "Invalid replica_uuid" in body and "r-nope" in body


def test_a_changed_secret_is_listed_as_changed_hidden(
    bob_client: Any, workspace: Any, bob: Any
) -> None:
    persona_id, _ = _create(workspace, bob, layers={"llm": {"model": "own", "api_key": "sk-OLD"}})
    event = _edit(
        workspace,
        bob,
        persona_id,
        [{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-NEW-SECRET"}],
    )

    body = _page(bob_client, _url(persona_id))

    entry = body.split(f'id="event-{event.pk}"')[1].split("</li>")[0]
    assert "Endpoint API key" in entry and "changed (hidden)" in entry
    assert "sk-" not in body


def test_history_is_keyset_paginated(
    bob_client: Any, workspace: Any, bob: Any, tavus: EmulatorState
) -> None:
    persona_id, _ = _create(workspace, bob)
    for n in range(30):
        tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": f"v{n}"}])
        persona_service.persona_fetch(workspace=workspace, persona_id=persona_id)
    all_ids = list(
        AuditEvent.objects.filter(persona_id=persona_id)
        .order_by("-id")
        .values_list("id", flat=True)
    )

    pages = [bob_client.get(_url(persona_id)).content.decode()]
    while older := re.search(r'<a href="([^"]+)" rel="next"', pages[-1]):
        assert len(pages) < 10
        pages.append(
            bob_client.get(_url(persona_id) + older.group(1).replace("&amp;", "&")).content.decode()
        )

    seen = [int(n) for page in pages for n in re.findall(r'<li id="event-(\d+)"', page)]
    assert seen == all_ids and len(all_ids) == 31
    assert len(pages) == 4  # 10 versions a page
    # The oldest entry on page 1 still gets its diff (its previous version is on page 2).
    oldest_on_first_page = pages[0].split("</ol>")[0].rsplit("<li", 1)[1]
    assert "v19" in oldest_on_first_page and "v20" in oldest_on_first_page


def test_whole_versions_are_linked_not_inlined_in_the_timeline(
    bob_client: Any, workspace: Any, bob: Any
) -> None:
    persona_id, created = _create(workspace, bob, system_prompt="Prompt-of-the-first-version")
    _edit(workspace, bob, persona_id, [{"op": "replace", "path": "/context", "value": "New"}])

    timeline = _page(bob_client, _url(persona_id))
    version = _page(bob_client, _url(persona_id, f"history/{created.pk}/"))

    first = timeline.split(f'id="event-{created.pk}"')[1].split("</li>")[0]
    assert "Prompt-of-the-first-version" not in timeline  # neither its settings nor the body sent
    assert (
        f'href="/w/acme/personas/{persona_id}/history/{created.pk}/">See all its settings' in first
    )
    assert "Prompt-of-the-first-version" in version


def _change_block(page: str, event_id: int) -> str:
    """An entry's "what changed" part: its diff tables and JSON Patch."""
    entry = page.split(f'id="event-{event_id}"')[1].split("</li>")[0]
    return entry.split('<div class="layer-diff">')[1]


def test_a_page_seen_before_reads_no_snapshot_and_shows_the_same_diffs(
    bob_client: Any, workspace: Any, bob: Any, edited: dict[str, Any]
) -> None:
    first_view = bob_client.get(_url(edited["id"])).content.decode()
    new = _edit(workspace, bob, edited["id"], [{"op": "replace", "path": "/context", "value": "Z"}])

    with CaptureQueriesContext(connection) as after_an_edit:
        second_view = bob_client.get(_url(edited["id"])).content.decode()
    with CaptureQueriesContext(connection) as again:
        bob_client.get(_url(edited["id"]))

    def snapshot_reads(captured: CaptureQueriesContext) -> int:
        return sum(bool(re.search(r'"(before|after)"(, | FROM)', q["sql"])) for q in captured)

    assert snapshot_reads(after_an_edit) == 1  # the new version and the one before it
    assert snapshot_reads(again) == 0
    for event in (edited["second"], edited["first"]):
        assert _change_block(second_view, event.pk) == _change_block(first_view, event.pk)
    newest = html.unescape(_change_block(second_view, new.pk))
    assert "Acme sells garden tools." in newest and '"value": "Z"' in newest


def test_failed_attempts_do_not_add_a_query_each(
    bob_client: Any,
    workspace: Any,
    bob: Any,
    edited: dict[str, Any],
    tavus: EmulatorState,
    django_assert_max_num_queries: Any,
) -> None:
    def fail(value: str) -> None:
        tavus.fail_next(1, 400, body={"error": "Invalid"}, methods={"PATCH"})
        with pytest.raises(TavusError):
            _edit(
                workspace,
                bob,
                edited["id"],
                [{"op": "replace", "path": "/context", "value": value}],
            )

    fail("one")
    with CaptureQueriesContext(connection) as one_failure:
        bob_client.get(_url(edited["id"]))
    for n in range(4):
        fail(f"more {n}")

    with django_assert_max_num_queries(len(one_failure.captured_queries)):
        body = bob_client.get(_url(edited["id"])).content.decode()
    assert body.count('class="card version failed"') == 5 and "more 3" in body


@settings(max_examples=300, deadline=None)
@given(strategies.related_pairs())
def test_a_failed_attempt_is_replayed_like_apply_patch_without_touching_the_version(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    before, edited = pair
    ops = minimal_patch(before, edited)
    kept = copy.deepcopy(before)

    assert _applied(before, ops) == apply_patch(before, ops)
    assert before == kept


def test_htmx_request_gets_only_the_timeline(bob_client: Any, edited: dict[str, Any]) -> None:
    body = bob_client.get(_url(edited["id"]), HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="timeline">') and "<html" not in body


def test_deletion_is_in_the_timeline_and_its_page_shows_the_persona_before(
    bob_client: Any, workspace: Any, bob: Any, edited: dict[str, Any]
) -> None:
    persona_service.persona_delete(
        workspace=workspace,
        persona_id=edited["id"],
        before=_live(workspace, edited["id"]),
        actor=bob,
    )
    deleted = AuditEvent.objects.latest("id")

    timeline = _page(bob_client, _url(edited["id"]))
    page = _page(bob_client, _url(edited["id"], f"history/{deleted.pk}/"))

    assert f'<li id="event-{deleted.pk}" class="card version marker">' in timeline
    assert "Deleted" in timeline
    assert "The persona just before" in page and "Night Desk" in page


def test_history_of_an_unknown_persona_says_there_is_none_yet(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.get(_url("p-never-seen")).content.decode()
    assert "No history yet" in body and tavus.count() == 0


# -- One version ---------------------------------------------------------------------------------


def test_version_page_shows_the_redacted_snapshot_and_summary(
    bob_client: Any, workspace: Any, bob: Any
) -> None:
    persona_id, created = _create(
        workspace,
        bob,
        layers={
            "llm": {
                "model": "own",
                "base_url": "https://llm.example.com",
                "api_key": "sk-live-SECRET123",
                "headers": {"Authorization": "Bearer tok-SECRET"},
            }
        },
    )

    body = _page(bob_client, _url(persona_id, f"history/{created.pk}/"))

    assert "The persona at this version" in body
    assert "Custom LLM base URL" in body and "https://llm.example.com" in body
    assert "Endpoint API key" in body and "(hidden)" in body
    assert "The whole version as JSON" in body and f'"persona_id": "{persona_id}"' in body
    assert "SECRET" not in body


# -- Compare -------------------------------------------------------------------------------------


def test_compare_shows_the_per_layer_diff_and_patch_between_two_versions(
    bob_client: Any, edited: dict[str, Any]
) -> None:
    a, b = edited["created"], edited["second"]

    body = _page(bob_client, _url(edited["id"], f"compare/?a={a.pk}&b={b.pk}"))

    assert "Version A" in body and "Version B" in body
    assert "Persona name" in body and "LLM model" in body
    assert "Front Desk" in body and "Night Desk" in body
    assert '"path": "/persona_name"' in body and '"path": "/layers/llm/model"' in body


def test_compare_defaults_b_to_the_last_known_version(
    bob_client: Any, edited: dict[str, Any]
) -> None:
    body = bob_client.get(_url(edited["id"], f"compare/?a={edited['first'].pk}")).content.decode()
    assert (
        "LLM model" in body and "Persona name" not in body.split("From version A to version B")[1]
    )


def test_compare_with_a_bad_id_explains_instead_of_failing(
    bob_client: Any, edited: dict[str, Any]
) -> None:
    response = bob_client.get(_url(edited["id"], "compare/?a=999999&b=nonsense"))
    assert response.status_code == 200
    assert "Choose two versions of this persona to compare" in response.content.decode()


# -- Revert --------------------------------------------------------------------------------------


def test_revert_preview_reads_the_live_persona_once_and_sends_nothing(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    response = bob_client.get(_url(edited["id"], f"history/{edited['first'].pk}/revert/"))

    body = response.content.decode()
    assert response.status_code == 200
    log = edited["log"]
    assert log.count("GET") == 1 and log.count("PATCH") == 0
    assert (
        "Secret fields (API keys) are not part of history; they keep their current values" in body
    )
    assert "tavus-gpt-5.2" in body and "tavus-gpt-oss" in body
    assert "Revert now" in body


def test_revert_sends_the_minimal_patch_and_restores_the_version(
    bob_client: Any, workspace: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    created = edited["created"]

    response = bob_client.post(_url(edited["id"], f"history/{created.pk}/revert/"))

    assert response.status_code == 302
    assert response["Location"] == _url(edited["id"])
    assert edited["log"].patches() == [
        [
            {"op": "replace", "path": "/persona_name", "value": "Front Desk"},
            {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"},
        ]
    ]
    live = _live(workspace, edited["id"])
    assert minimal_patch(live, created.after) == []
    assert _no_server_fields(live)["persona_name"] == "Front Desk"


def test_revert_to_the_previous_version_sends_only_the_field_that_changed(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    bob_client.post(_url(edited["id"], f"history/{edited['first'].pk}/revert/"))

    assert edited["log"].patches() == [
        [{"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"}]
    ]


def test_revert_is_audited_and_shown_in_the_timeline(
    bob_client: Any, edited: dict[str, Any]
) -> None:
    first = edited["first"]
    bob_client.post(_url(edited["id"], f"history/{first.pk}/revert/"))

    event = AuditEvent.objects.latest("id")
    assert event.action == "persona.reverted" and event.actor_name == "bob"
    assert event.note.startswith("Reverted to version from ") and f"(#{first.pk})" in event.note
    page = bob_client.get(_url(edited["id"])).content.decode()
    assert f'<li id="event-{event.pk}"' in page and "Reverted" in page
    assert "Reverted to the version from" in page  # the success message


def test_revert_keeps_live_secrets_and_never_sends_the_marker(
    bob_client: Any, workspace: Any, bob: Any, tavus: EmulatorState
) -> None:
    llm = {
        "model": "own-model",
        "base_url": "https://llm.example.com",
        "api_key": "sk-live-OLD",
        "headers": {"Authorization": "Bearer tok-OLD"},
    }
    persona_id, created = _create(workspace, bob, persona_name="Keeper", layers={"llm": llm})
    _edit(
        workspace,
        bob,
        persona_id,
        [{"op": "replace", "path": "/persona_name", "value": "Keeper 2"}],
    )
    # Someone rotates the keys in the Tavus portal; the dashboard notices on its next read.
    tavus.edit_persona(
        persona_id,
        [
            {"op": "replace", "path": "/layers/llm/api_key", "value": "sk-live-NEW"},
            {
                "op": "replace",
                "path": "/layers/llm/headers/Authorization",
                "value": "Bearer tok-NEW",
            },
            {
                "op": "add",
                "path": "/layers/tts",
                "value": {"tts_engine": "cartesia", "api_key": "tts-NEW"},
            },
        ],
    )

    log = _Since(tavus)
    preview = bob_client.get(_url(persona_id, f"history/{created.pk}/revert/")).content.decode()
    bob_client.post(_url(persona_id, f"history/{created.pk}/revert/"))

    assert "Endpoint API key" in preview
    assert not any(new in preview for new in ("sk-live-NEW", "tok-NEW", "tts-NEW"))
    [patch] = log.patches()
    assert SECRET_MARKER not in str(patch) and "sk-live-OLD" not in str(patch)
    assert {"op": "replace", "path": "/persona_name", "value": "Keeper"} in patch
    live = _live(workspace, persona_id)
    assert live["persona_name"] == "Keeper"
    assert live["layers"]["llm"]["api_key"] == "sk-live-NEW"
    assert live["layers"]["llm"]["headers"] == {"Authorization": "Bearer tok-NEW"}
    assert "tts" not in live["layers"]  # the voice layer did not exist in that version


def test_revert_when_already_matching_sends_nothing(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    second = edited["second"]

    preview = bob_client.get(_url(edited["id"], f"history/{second.pk}/revert/")).content.decode()
    response = bob_client.post(_url(edited["id"], f"history/{second.pk}/revert/"), follow=True)

    assert "The persona already matches this version; nothing would be sent." in preview
    assert (
        "The persona already matches this version; nothing was sent." in response.content.decode()
    )
    assert edited["log"].patches() == []


def test_revert_refused_by_tavus_is_explained_and_recorded(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    tavus.fail_next(1, 400, body={"error": "Invalid persona configuration"}, methods={"PATCH"})

    response = bob_client.post(_url(edited["id"], f"history/{edited['first'].pk}/revert/"))

    assert response.status_code == 200
    assert "Invalid persona configuration" in response.content.decode()
    failed = AuditEvent.objects.latest("id")
    assert (failed.action, failed.outcome, failed.http_status) == ("persona.reverted", "error", 400)


def test_revert_is_not_applied_when_the_persona_changed_since_the_preview(
    bob_client: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    url = _url(edited["id"], f"history/{edited['created'].pk}/revert/")
    preview = bob_client.get(url).content.decode()
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', preview).group(1)  # type: ignore[union-attr]
    tavus.edit_persona(
        edited["id"], [{"op": "replace", "path": "/context", "value": "Portal edit"}]
    )

    response = bob_client.post(url, {"fingerprint": fingerprint})

    assert response.status_code == 200
    assert "The persona changed since you opened this page" in response.content.decode()
    assert edited["log"].patches() == []


def test_revert_in_a_workspace_that_requires_review_becomes_a_change_request(
    bob_client: Any, workspace: Any, edited: dict[str, Any]
) -> None:
    workspace.requires_approval = True
    workspace.save()
    url = _url(edited["id"], f"history/{edited['first'].pk}/revert/")

    preview = bob_client.get(url).content.decode()
    response = bob_client.post(url)

    assert "This workspace requires review: propose this revert as a change request" in preview
    assert "Revert now" not in preview and "Propose this revert for review" in preview
    change_request = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/reviews/{change_request.pk}/"
    assert change_request.kind == "revert" and change_request.status == "open"
    assert change_request.persona_id == edited["id"]
    assert change_request.ops == [
        {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"}
    ]
    assert edited["log"].patches() == []


def test_revert_of_a_persona_deleted_on_tavus_is_explained(
    bob_client: Any, workspace: Any, edited: dict[str, Any]
) -> None:
    tavus_client_for(workspace).delete_persona(edited["id"])  # deleted in the Tavus portal

    response = bob_client.get(_url(edited["id"], f"history/{edited['first'].pk}/revert/"))

    assert response.status_code == 200
    assert "no longer exists on Tavus" in response.content.decode()
    assert "Revert now" not in response.content.decode()


def test_revert_of_a_failed_attempt_is_explained(
    bob_client: Any, workspace: Any, bob: Any, edited: dict[str, Any], tavus: EmulatorState
) -> None:
    tavus.fail_next(1, 400, methods={"PATCH"})
    with pytest.raises(TavusError):
        _edit(workspace, bob, edited["id"], [{"op": "replace", "path": "/context", "value": "x"}])
    failed = AuditEvent.objects.latest("id")

    response = bob_client.get(_url(edited["id"], f"history/{failed.pk}/revert/"))

    assert response.status_code == 200
    assert "not a version of the persona" in response.content.decode()


# -- Outside changes -----------------------------------------------------------------------------


def test_outside_edit_is_detected_recorded_and_shown_with_its_diff(
    bob_client: Any, workspace: Any, bob: Any, tavus: EmulatorState
) -> None:
    persona_id, created = _create(workspace, bob)
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/layers/stt/hotwords", "value": "Acme, rake"}]
    )

    fetched = persona_service.persona_fetch(workspace=workspace, persona_id=persona_id)

    event = fetched.outside_change
    assert event is not None and event.action == "persona.changed_outside"
    assert event.before == created.after
    assert event.after["layers"]["stt"]["hotwords"] == "Acme, rake"
    body = _page(bob_client, _url(persona_id))
    entry = body.split(f'id="event-{event.pk}"')[1].split("</li>")[0]
    assert "Changed outside the dashboard" in entry
    assert "Speech recognition" in entry and "Hotwords" in entry
    assert "Acme, trowel" in entry and "Acme, rake" in entry
    assert '"path": "/layers/stt/hotwords"' in entry  # the patch worked out from the two versions


def test_outside_change_include_links_to_the_history(
    workspace: Any, bob: Any, tavus: EmulatorState
) -> None:
    persona_id, _ = _create(workspace, bob)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Changed"}])
    event = persona_service.persona_fetch(workspace=workspace, persona_id=persona_id).outside_change

    html = render_to_string("includes/_outside_change.html", {"outside_change": event})
    nothing = render_to_string("includes/_outside_change.html", {"outside_change": None})

    assert "Changed outside the dashboard since its last known version" in html
    assert f"/w/acme/personas/{persona_id}/history/#event-{event.pk}" in html  # type: ignore[union-attr]
    assert "see what changed" in html
    assert nothing.strip() == ""
