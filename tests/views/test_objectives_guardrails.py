"""Objectives and guardrails in the editor and on the detail page: picked by name from Tavus's
lists, sent as exactly the ops that changed, the legacy guardrail set kept as it is."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.utils.datastructures import MultiValueDict

from personas_app.devtools.emulator import EmulatorState
from tests.builders import persona_doc
from tests.formdata import form_data

OBJECTIVE = "o5e1d9c7a2b4"  # collect_contact_details
NO_MEDICAL_ADVICE, NO_COMPETITORS = "g1f4a8c2e9b0", "g7d2b5e1a0c3"
HTMX = {"HTTP_HX_REQUEST": "true"}
_LOADER = re.compile(r'<div hx-get="([^"]+)" hx-trigger="load"[^>]*>')
_DIV = re.compile(r"<div\b|</div>")


def _edit_url(persona_id: str) -> str:
    return f"/w/acme/personas/{persona_id}/edit/"


def _with_pickers(client: Any, page: str) -> str:
    """The page as a browser shows it once htmx has loaded every picker into its <div>."""
    while match := _LOADER.search(page):
        fragment = client.get(html.unescape(match.group(1)), **HTMX)
        assert fragment.status_code == 200
        depth, end = 1, match.end()
        for tag in _DIV.finditer(page, match.end()):
            depth += 1 if tag.group() == "<div" else -1
            if depth == 0:
                end = tag.start()
                break
        opened = match.group().replace(' hx-trigger="load"', "")  # loaded: do not load again
        page = page[: match.start()] + opened + fragment.content.decode() + page[end:]
    return page


def _editor_with_pickers(client: Any, persona_id: str) -> tuple[str, MultiValueDict]:
    response = client.get(_edit_url(persona_id))
    assert response.status_code == 200
    page = _with_pickers(client, response.content.decode())
    return page, form_data(page)


def _post(client: Any, persona_id: str, data: MultiValueDict, **values: list[str]) -> Any:
    posted = dict(data.lists())  # the test client would keep only the last of repeated values
    posted.update(values)
    return client.post(_edit_url(persona_id), {**posted, "submit": ["apply"]})


def _patches(tavus: EmulatorState) -> list[Any]:
    return [r.body for r in tavus.requests if r.method == "PATCH"]


# -- The editor -------------------------------------------------------------------------------


def test_editor_has_an_objectives_and_guardrails_section_loading_its_pickers(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(guardrail_ids=[NO_COMPETITORS]))

    body = bob_client.get(_edit_url(persona_id)).content.decode()

    assert "Objectives &amp; guardrails" in body
    assert 'hx-get="/w/acme/pickers/objectives/?current=" hx-trigger="load"' in body
    assert f'hx-get="/w/acme/pickers/guardrails/?ids={NO_COMPETITORS}&amp;tags="' in body
    # Before htmx loads the pickers (or without JS), plain fields hold the ids.
    assert 'name="identity-objectives_id"' in body
    assert f'name="identity-guardrail_ids" value="{NO_COMPETITORS}"' in body


def test_pickers_list_objectives_and_guardrails_by_name_with_their_tags(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())

    page, _ = _editor_with_pickers(bob_client, persona_id)

    assert "collect_contact_details" in page and "qualify_lead" in page
    assert "no_medical_advice" in page and "tags: compliance, healthcare" in page
    assert f'value="{OBJECTIVE}"' in page and f'value="{NO_COMPETITORS}"' in page
    assert 'name="identity-guardrail_tags" value="sales"' in page


def test_picking_an_objective_and_two_guardrails_sends_exactly_those_ops(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    _, data = _editor_with_pickers(bob_client, persona_id)

    response = _post(
        bob_client,
        persona_id,
        data,
        **{
            "identity-objectives_id": [OBJECTIVE],
            "identity-guardrail_ids": [NO_MEDICAL_ADVICE, NO_COMPETITORS],
        },
    )

    assert response.status_code == 302
    (ops,) = _patches(tavus)
    assert sorted(ops, key=lambda op: op["path"]) == [
        {"op": "add", "path": "/guardrail_ids", "value": [NO_MEDICAL_ADVICE, NO_COMPETITORS]},
        {"op": "add", "path": "/objectives_id", "value": OBJECTIVE},
    ]
    assert tavus.personas[persona_id]["guardrail_ids"] == [NO_MEDICAL_ADVICE, NO_COMPETITORS]


def test_picking_a_guardrail_tag_sends_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    _, data = _editor_with_pickers(bob_client, persona_id)

    _post(bob_client, persona_id, data, **{"identity-guardrail_tags": ["compliance"]})

    assert _patches(tavus) == [[{"op": "add", "path": "/guardrail_tags", "value": ["compliance"]}]]


def test_clearing_the_objective_and_the_guardrails_removes_them(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(objectives_id=OBJECTIVE, guardrail_ids=[NO_COMPETITORS])
    )
    _, data = _editor_with_pickers(bob_client, persona_id)
    data.setlist("identity-objectives_id", [""])  # the "None" radio
    del data["identity-guardrail_ids"]  # no box checked: nothing is posted

    _post(bob_client, persona_id, data)

    (ops,) = _patches(tavus)
    assert sorted(ops, key=lambda op: op["path"]) == [
        {"op": "remove", "path": "/guardrail_ids"},
        {"op": "remove", "path": "/objectives_id"},
    ]


def test_untouched_editor_with_loaded_pickers_sends_nothing(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    # Ids in another order than Tavus lists them, one Tavus does not know, a tag no guardrail
    # carries: the pickers post them back exactly as they were.
    persona_id = tavus.put_persona(
        persona_doc(
            objectives_id=OBJECTIVE,
            guardrail_ids=[NO_COMPETITORS, "gmissing", NO_MEDICAL_ADVICE],
            guardrail_tags=["sales", "nobody_has_it"],
            document_ids=["d2468101214", "d1234567890"],
            document_tags=["product_info"],
        )
    )
    page, data = _editor_with_pickers(bob_client, persona_id)

    response = _post(bob_client, persona_id, data)

    assert "(not in your guardrail list)" in page and "(no guardrail has it yet)" in page
    assert response.status_code == 302
    assert _patches(tavus) == []


def test_pickers_degrade_to_text_inputs_of_ids_when_tavus_cannot_list_them(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(guardrail_ids=[NO_COMPETITORS]))
    editor = bob_client.get(_edit_url(persona_id)).content.decode()
    for loaded_first in ("replicas", "documents"):  # cached: the next two reads are ours
        bob_client.get(f"/w/acme/pickers/{loaded_first}/", **HTMX)
    tavus.fail_next(2, 500, methods={"GET"})

    page = _with_pickers(bob_client, editor)
    data = form_data(page)
    response = _post(
        bob_client,
        persona_id,
        data,
        **{"identity-guardrail_ids": [f"{NO_COMPETITORS}, {NO_MEDICAL_ADVICE}"]},
    )

    assert "The guardrail list could not be loaded" in page
    assert "The objectives list could not be loaded" in page
    assert f'id="guardrail-ids" name="identity-guardrail_ids" value="{NO_COMPETITORS}"' in page
    assert response.status_code == 302
    assert _patches(tavus) == [
        [
            {
                "op": "add",
                "path": "/guardrail_ids/1",
                "value": NO_MEDICAL_ADVICE,
            }
        ]
    ]


def test_pickers_are_cached_per_workspace(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    for _ in range(2):
        bob_client.get("/w/acme/pickers/objectives/", **HTMX)
        bob_client.get("/w/acme/pickers/guardrails/", **HTMX)

    assert tavus.count(path_prefix="/v2/objectives") == 1
    assert tavus.count(path_prefix="/v2/guardrails") == 1


@pytest.mark.parametrize("picker", ["objectives", "guardrails"])
def test_pickers_are_refused_to_outsiders_and_anonymous_users(
    charlie_client: Any, client: Any, workspace: Any, picker: str
) -> None:
    url = f"/w/acme/pickers/{picker}/"

    assert charlie_client.get(url).status_code == 404
    assert client.get(url)["Location"].startswith("/accounts/login/")


def test_a_viewer_may_load_the_pickers(member_client: Any, tavus: EmulatorState) -> None:
    viewer = member_client("viewer")

    body = viewer.get("/w/acme/pickers/guardrails/", **HTMX).content.decode()

    assert "no_pricing_promises" in body


# -- The legacy guardrail set -----------------------------------------------------------------


def test_legacy_guardrail_set_is_shown_read_only_and_kept_when_saving_something_else(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(guardrails_id="g12345"))
    page, data = _editor_with_pickers(bob_client, persona_id)

    response = _post(bob_client, persona_id, data, **{"identity-persona_name": ["Renamed"]})

    assert "g12345" in page
    assert "A legacy guardrail set; new personas use individual guardrails." in page
    assert 'name="identity-guardrails_id"' not in page
    assert response.status_code == 302
    assert _patches(tavus) == [[{"op": "replace", "path": "/persona_name", "value": "Renamed"}]]
    assert tavus.personas[persona_id]["guardrails_id"] == "g12345"


# -- The detail page --------------------------------------------------------------------------


def test_detail_page_shows_ids_then_loads_names_after_the_page(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(
            default_replica_id="r90bbd427f71",
            objectives_id=OBJECTIVE,
            guardrail_ids=[NO_MEDICAL_ADVICE, "gmissing"],
        )
    )
    url = f"/w/acme/personas/{persona_id}/"

    before = tavus.count()
    page = bob_client.get(url).content.decode()
    assert tavus.count() - before == 1  # the page itself reads only the persona
    settings = bob_client.get(f"{url}?names=1", **HTMX).content.decode()

    assert f'hx-get="{url}?names=1" hx-trigger="load"' in page
    assert "r90bbd427f71" in page
    assert "Anna - Studio (r90bbd427f71)" in settings
    assert f"collect_contact_details ({OBJECTIVE})" in settings
    assert f"no_medical_advice ({NO_MEDICAL_ADVICE})" in settings and "gmissing" in settings
    assert "<html" not in settings


def test_detail_page_names_from_the_cached_lists_without_asking_tavus_again(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(objectives_id=OBJECTIVE, guardrail_ids=[NO_COMPETITORS])
    )
    url = f"/w/acme/personas/{persona_id}/"
    bob_client.get(f"{url}?names=1", **HTMX)

    before = tavus.count()
    page = bob_client.get(url).content.decode()

    assert tavus.count() - before == 1
    assert "Anna - Studio (r90bbd427f71)" in page
    assert f"no_competitors ({NO_COMPETITORS})" in page
    assert "?names=1" not in page


def test_detail_page_keeps_ids_when_the_names_cannot_be_read(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(objectives_id=OBJECTIVE))
    url = f"/w/acme/personas/{persona_id}/"
    page = bob_client.get(url).content.decode()
    tavus.fail_next(1, 500, methods={"GET"})

    names = bob_client.get(f"{url}?names=1", **HTMX)

    assert OBJECTIVE in page and "collect_contact_details" not in page
    assert names.status_code == 204  # htmx swaps nothing: the page keeps showing the ids
