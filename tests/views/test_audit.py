"""The workspace audit page and its exports: access, plain words, filters, keyset pages, redaction."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent
from personas_app.services import personas as persona_service
from personas_app.services.audit import audit_record
from personas_app.services.workspaces import tavus_client_for
from personas_app.tavus import TavusError
from tests.builders import persona_doc

URL = "/w/acme/audit/"
EXPORT = "/w/acme/audit/export/"


def _record(workspace: Any, actor: Any = None, **fields: Any) -> AuditEvent:
    fields.setdefault("action", "persona.patched")
    return audit_record(workspace=workspace, actor=actor, **fields)


def _at(year: int, month: int, day: int) -> Any:
    return mock.patch(
        "django.utils.timezone.now", return_value=datetime(year, month, day, 12, 0, tzinfo=UTC)
    )


def _row_ids(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)"', body)]


def _mixed_ids(body: str, mixed: dict[str, AuditEvent]) -> list[int]:
    """Row ids on the page, leaving out the workspace fixture's own "key.added" record."""
    ours = {e.pk for e in mixed.values()}
    return [n for n in _row_ids(body) if n in ours]


def _older_link(body: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="next"', body)
    return match.group(1).replace("&amp;", "&") if match else None


def _newer_link(body: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="prev"', body)
    return match.group(1).replace("&amp;", "&") if match else None


# -- Access --------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Any, workspace: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_outsider_gets_404(charlie_client: Any, workspace: Any) -> None:
    assert charlie_client.get(URL).status_code == 404
    assert charlie_client.get(EXPORT).status_code == 404


def test_viewer_sees_records_in_plain_words(member_client: Any, workspace: Any, alice: Any) -> None:
    _record(
        workspace,
        alice,
        persona_id="p123",
        persona_name="Front Desk",
        http_status=200,
        after={"persona_id": "p123", "persona_name": "Front Desk"},
    )
    viewer = member_client("viewer")

    response = viewer.get(URL)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Changed the persona" in body
    assert "alice" in body and "Front Desk" in body and "p123" in body
    assert "Succeeded" in body
    assert "/w/acme/personas/p123/history/" in body  # the version's detail page


def test_failed_call_shows_outcome_and_tavus_message(
    bob_client: Any, workspace: Any, bob: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    before = tavus_client_for(workspace).get_persona(persona_id)
    tavus.fail_next(1, 400, body={"error": "Invalid layer configuration"}, methods={"PATCH"})
    with pytest.raises(TavusError):
        persona_service.persona_apply_patch(
            workspace=workspace,
            persona_id=persona_id,
            ops=[{"op": "replace", "path": "/context", "value": "x"}],
            before=before,
            actor=bob,
        )

    body = bob_client.get(URL).content.decode()

    assert "Failed" in body and "Tavus: 400" in body
    assert "Invalid layer configuration" in body


def test_audit_page_makes_no_upstream_request(
    bob_client: Any, workspace: Any, alice: Any, tavus: EmulatorState
) -> None:
    _record(workspace, alice, persona_id="p1", after={"persona_id": "p1"})

    bob_client.get(URL)
    bob_client.get(URL + "?persona=p1")

    assert tavus.count() == 0


def test_other_workspaces_records_are_not_shown(
    bob_client: Any, workspace: Any, alice: Any, tavus_server: Any
) -> None:
    from tests.builders import make_workspace

    other = make_workspace(
        owner=alice, base_url=tavus_server.url, api_key=None, name="Other", slug="other"
    )
    _record(other, alice, persona_id="p-secret-other", persona_name="Other's persona")

    body = bob_client.get(URL).content.decode()

    assert "p-secret-other" not in body


# -- Filters ---------------------------------------------------------------------------------------


@pytest.fixture
def mixed(workspace: Any, alice: Any, bob: Any) -> dict[str, AuditEvent]:
    with _at(2026, 1, 10):
        a = _record(
            workspace, alice, action="persona.created", persona_id="pA", persona_name="Alpha"
        )
    with _at(2026, 2, 10):
        b = _record(workspace, bob, action="persona.patched", persona_id="pB", persona_name="Beta")
    with _at(2026, 3, 10):
        c = _record(workspace, alice, action="key.rotated", target="default (…0001)")
    return {"a": a, "b": b, "c": c}


def test_filter_by_persona_id(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?persona=pB").content.decode()
    assert _row_ids(body) == [mixed["b"].pk]


def test_filter_by_actor(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?actor=alice").content.decode()
    assert _mixed_ids(body, mixed) == [mixed["c"].pk, mixed["a"].pk]
    assert "Beta" not in body


def test_filter_by_action(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?action=key.rotated").content.decode()
    assert _row_ids(body) == [mixed["c"].pk]
    assert '<option value="key.rotated" selected>' in body


def test_filter_by_date_range(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?date_from=2026-02-01&date_to=2026-03-10").content.decode()
    assert _row_ids(body) == [mixed["c"].pk, mixed["b"].pk]

    body = bob_client.get(URL + "?date_to=2026-01-31").content.decode()
    assert _row_ids(body) == [mixed["a"].pk]


def test_date_range_with_no_records_shows_a_plain_message(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    body = bob_client.get(URL + "?date_from=2030-01-01").content.decode()
    assert _row_ids(body) == [] and "No record matches these filters." in body


def test_bad_date_is_explained_and_the_rest_still_filters(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    response = bob_client.get(URL + "?date_from=yesterday&actor=bob")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter a date like 2026-01-31." in body
    assert 'value="yesterday"' in body  # what was typed is kept
    assert _row_ids(body) == [mixed["b"].pk]


def test_end_before_start_is_explained(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?date_from=2026-03-01&date_to=2026-02-01").content.decode()
    assert "The end date is before the start date." in body


def test_htmx_request_gets_only_the_rows(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    body = bob_client.get(URL + "?actor=bob", HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="audit-rows">' in body and "<html" not in body
    assert body.lstrip().startswith('<span id="audit-export" hx-swap-oob="true">')
    assert _row_ids(body) == [mixed["b"].pk]


def test_json_of_a_record_opens_without_javascript(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    event = _record(
        workspace,
        alice,
        persona_id="p9",
        payload=[{"op": "replace", "path": "/context", "value": "Shiny new context"}],
        before={"persona_id": "p9", "context": "Old context"},
        after={"persona_id": "p9", "context": "Shiny new context"},
    )

    closed = bob_client.get(URL).content.decode()
    opened = bob_client.get(URL + f"?show={event.pk}").content.decode()
    fragment = bob_client.get(URL + f"?show={event.pk}", HTTP_HX_REQUEST="true").content.decode()

    assert "Old context" not in closed  # snapshots are loaded only when asked for
    assert "Old context" in opened and "Shiny new context" in opened
    assert "Old context" in fragment and "<html" not in fragment


def test_json_of_a_record_opens_in_its_row(bob_client: Any, workspace: Any, alice: Any) -> None:
    event = _record(
        workspace, alice, persona_id="p9", after={"persona_id": "p9", "context": "Kept"}
    )
    other = _record(workspace, alice, persona_id="p8")

    body = bob_client.get(URL + f"?show={event.pk}&actor=alice").content.decode()

    opened = body[body.index(f'<tr id="event-{event.pk}"') :]
    assert re.match(
        r'<tr id="event-\d+"[^>]*>.*?<details class="event-json"\s+open\s', opened, re.S
    )
    assert "Kept" in opened[: opened.index("</tr>")]
    closed = body[
        body.index(f'<tr id="event-{other.pk}"') : body.index(f'<tr id="event-{event.pk}"')
    ]
    assert "open" not in closed.split("<details", 1)[1].split(">", 1)[0]
    assert f'href="?actor=alice&amp;show={other.pk}#event-{other.pk}"' in closed


# -- What a row shows ----------------------------------------------------------------------------


def test_recorded_text_is_shown_as_text_never_as_markup(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    _record(
        workspace,
        alice,
        persona_id="p1",
        persona_name="<script>alert('name')</script>",
        target='<img src=x onerror="alert(1)">',
        note="Fixed <b>bold</b> & more",
        error=TavusError("refused", status=400, tavus_message="<i>Invalid</i> layer"),
    )

    body = bob_client.get(URL).content.decode()

    assert "<script>alert" not in body and "<img src=x" not in body
    assert "<b>bold</b>" not in body and "<i>Invalid</i>" not in body
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert '<div class="muted small">Fixed &lt;b&gt;bold&lt;/b&gt; &amp; more</div>' in body
    assert "Tavus said: &lt;i&gt;Invalid&lt;/i&gt; layer Try again" in body
    assert '<span class="pill err">Failed</span>' in body and "Tavus: 400" in body


def test_row_shows_when_in_words_and_in_its_machine_form(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    with mock.patch(
        "django.utils.timezone.now",
        return_value=datetime(2026, 3, 5, 9, 7, 41, 123456, tzinfo=UTC),
    ):
        _record(workspace, alice, persona_id="p1")

    body = bob_client.get(URL + "?persona=p1").content.decode()

    assert '<time datetime="2026-03-05T09:07:41.123456+00:00">5 Mar 2026, 09:07</time>' in body


def test_row_links_to_the_persona_its_version_and_its_change_request(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    plain = _record(workspace, alice, persona_id="p1", persona_name="Desk", change_request_id=7)
    odd = _record(workspace, alice, persona_id="p 1?é", action="persona.deleted")
    unnamed = _record(workspace, None, persona_id="p2", action="workspace.key_added")

    body = bob_client.get(URL).content.decode()

    assert (
        '<a href="/w/acme/personas/p1/">Desk</a> <span class="mono muted small">p1</span>' in body
    )
    assert f'<a href="/w/acme/personas/p1/history/{plain.pk}/">View version</a>' in body
    assert '<a href="/w/acme/reviews/7/">Change request #7</a>' in body
    assert '<a href="/w/acme/personas/p%201%3F%C3%A9/">(no name)</a>' in body
    assert f'<a href="/w/acme/personas/p%201%3F%C3%A9/history/{odd.pk}/">View</a>' in body
    unnamed_row = body[body.index(f'<tr id="event-{unnamed.pk}"') :].split("</tr>", 1)[0]
    assert "<td>The dashboard</td>" in unnamed_row
    assert "/history/" not in unnamed_row  # not a persona event: no version to view


def test_filter_form_shows_what_was_typed(bob_client: Any, mixed: dict[str, AuditEvent]) -> None:
    query = "?persona=%3Cb%3E%22x&actor=alice&action=persona.patched&date_from=2026-01-31"

    body = bob_client.get(URL + query).content.decode()

    assert '<input type="text" name="persona" value="&lt;b&gt;&quot;x"' in body
    assert 'name="actor" value="alice" placeholder="e.g. alice" list="audit-actors"' in body
    assert '<option value="persona.patched" selected>' in body
    assert body.count(" selected>") == 1
    assert '<input type="date" name="date_from" value="2026-01-31" id="id_date_from">' in body


def test_a_bad_date_stays_in_its_field_marked_invalid(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    body = bob_client.get(URL + "?date_to=soon").content.decode()

    assert '<input type="date" name="date_to" value="soon" aria-invalid="true"' in body


# -- Keyset pagination ---------------------------------------------------------------------------


def test_walking_120_records_by_keyset_has_no_duplicates_or_gaps(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    for n in range(119):
        _record(workspace, alice, persona_id=f"p{n}")
    # 120 records with the workspace fixture's own "key.added".
    expected = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))
    assert len(expected) == 120

    seen: list[int] = []
    pages = 0
    url: str | None = URL
    while url:
        body = bob_client.get(url if url.startswith("/") else URL + url).content.decode()
        page_ids = _row_ids(body)
        assert len(page_ids) <= 50
        seen += page_ids
        pages += 1
        url = _older_link(body)
    assert seen == expected
    assert pages == 3

    # And back towards the newest, page by page.
    last_page = bob_client.get(URL + f"?before={expected[99]}").content.decode()
    assert _row_ids(last_page) == expected[100:]
    newer = bob_client.get(URL + _newer_link(last_page)).content.decode()  # type: ignore[operator]
    assert _row_ids(newer) == expected[50:100]


def test_pagination_keeps_the_filters(
    bob_client: Any, workspace: Any, alice: Any, bob: Any
) -> None:
    for n in range(110):
        _record(workspace, alice if n % 2 else bob, persona_id="p1")
    _record(workspace, alice, persona_id="p2")

    first = bob_client.get(URL + "?persona=p1&actor=alice").content.decode()
    older = _older_link(first)

    assert older is not None and "persona=p1" in older and "actor=alice" in older
    second = bob_client.get(URL + older).content.decode()
    assert (len(_row_ids(first)), len(_row_ids(second))) == (50, 5)
    assert _older_link(second) is None


def test_listing_never_counts_or_offsets(bob_client: Any, workspace: Any, alice: Any) -> None:
    for n in range(60):
        _record(workspace, alice, persona_id=f"p{n}", action="persona.patched")

    with CaptureQueriesContext(connection) as queries:
        bob_client.get(URL + "?before=40&action=persona.patched&date_from=2000-01-01")
        bob_client.get(URL + "?after=10")
        bob_client.get(EXPORT + "?format=csv").getvalue()

    audit_sql = [
        q["sql"].upper() for q in queries.captured_queries if "AUDITEVENT" in q["sql"].upper()
    ]
    assert audit_sql
    assert not any("OFFSET" in sql or "COUNT(" in sql for sql in audit_sql)


# -- Exports -----------------------------------------------------------------------------------------


def _export(client: Any, query: str) -> Any:
    response = client.get(EXPORT + query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].startswith("attachment;")
    return response


def test_csv_export_has_a_header_and_one_row_per_record(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    response = _export(bob_client, "?format=csv")

    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    rows = [r for r in rows if r["action"] != "key.added"]  # the workspace fixture's own record
    assert response["Content-Type"].startswith("text/csv")
    assert ".csv" in response["Content-Disposition"]
    assert [int(r["id"]) for r in rows] == [mixed["c"].pk, mixed["b"].pk, mixed["a"].pk]
    assert rows[0]["action"] == "key.rotated" and rows[1]["persona_name"] == "Beta"
    assert rows[2]["time"].startswith("2026-01-10")


def test_jsonl_export_lines_parse_and_follow_the_filters(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    response = _export(bob_client, "?format=jsonl&actor=alice&date_from=2026-03-01")

    lines = response.getvalue().decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [mixed["c"].pk]
    assert records[0]["actor"] == "alice" and records[0]["subject"] == "default (…0001)"


def test_export_streams_every_matching_record(bob_client: Any, workspace: Any, alice: Any) -> None:
    for n in range(1203):
        _record(workspace, alice, persona_id="pX" if n % 3 == 0 else "pY")

    body = _export(bob_client, "?format=jsonl&persona=pX").getvalue().decode()

    ids = [json.loads(line)["id"] for line in body.splitlines()]
    assert len(ids) == 401 and len(set(ids)) == 401 and ids == sorted(ids, reverse=True)


def test_exports_never_contain_a_secret(bob_client: Any, workspace: Any, alice: Any) -> None:
    doc = persona_doc(
        layers={
            "llm": {
                "model": "own",
                "base_url": "https://llm.example.com",
                "api_key": "sk-live-SECRET123",
                "headers": {"Authorization": "Bearer tok-SECRET"},
            },
            "tts": {"tts_engine": "elevenlabs", "external_voice_id": "v", "api_key": "tts-SECRET"},
        }
    )
    persona_id = persona_service.persona_create(workspace=workspace, document=doc, actor=alice)

    csv_body = _export(bob_client, "?format=csv").getvalue().decode()
    jsonl_body = _export(bob_client, f"?format=jsonl&persona={persona_id}").getvalue().decode()

    assert persona_id in csv_body and persona_id in jsonl_body
    for body in (csv_body, jsonl_body):
        assert "SECRET" not in body


def test_csv_cells_that_look_like_formulas_are_neutralised(
    bob_client: Any, workspace: Any, alice: Any
) -> None:
    _record(workspace, alice, persona_id="p1", persona_name='=HYPERLINK("http://evil")')

    rows = list(csv.DictReader(io.StringIO(_export(bob_client, "?format=csv").getvalue().decode())))

    assert rows[0]["persona_name"].startswith("'=")


def test_export_links_carry_the_current_filters(
    bob_client: Any, mixed: dict[str, AuditEvent]
) -> None:
    body = bob_client.get(URL + "?actor=alice").content.decode()
    assert "/w/acme/audit/export/?actor=alice&amp;format=csv" in body
    assert "/w/acme/audit/export/?actor=alice&amp;format=jsonl" in body


def test_export_makes_no_upstream_request(
    bob_client: Any, mixed: dict[str, AuditEvent], tavus: EmulatorState
) -> None:
    _export(bob_client, "?format=csv").getvalue()
    assert tavus.count() == 0


def test_filtering_without_a_reload_updates_the_export_links_too(
    bob_client: Any, workspace: Any
) -> None:
    response = bob_client.get("/w/acme/audit/?action=key.added", HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert 'id="audit-export" hx-swap-oob="true"' in body
    assert "format=csv" in body and "action=key.added" in body.split('id="audit-export"')[1]
    assert "(filtered)" in body
