"""live.overlap: a page prepared from the last answer is used only when Tavus answered exactly that.

Runs the real client against the emulator over HTTP; `prepare` records what it was given.
"""

from __future__ import annotations

from typing import Any

import pytest

from personas_app import live
from personas_app.devtools.emulator import EmulatorState, RunningEmulator
from personas_app.tavus import TavusClient, TavusNotFound
from personas_app.tavus.client import listing_from_body, persona_from_body


@pytest.fixture
def client(emulator_server: RunningEmulator, emu: EmulatorState) -> TavusClient:
    live.forget_answers()
    return TavusClient(emu.api_key, emulator_server.url, timeout=(1.0, 2.0), max_retries=0)


def _view(client: TavusClient, persona_id: str, seen: list[Any]) -> tuple[Any, Any]:
    def prepare(persona: Any) -> str:
        seen.append(persona)
        return f"page of {persona['persona_name']}"

    return live.overlap(
        ("persona", "ws", persona_id),
        lambda reuse: client.get_persona(persona_id, reuse=reuse),
        persona_from_body,
        prepare,
    )


# An answer that arrives before the early page is ready is used as it is (the page is then
# prepared from it), so the tests that expect an early page give the emulator some latency.


def test_first_view_has_nothing_to_prepare_early(client: TavusClient, emu: EmulatorState) -> None:
    persona_id = emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})
    seen: list[Any] = []

    persona, early = _view(client, persona_id, seen)

    assert persona["persona_name"] == "Kai"
    assert early is None and seen == []


def test_same_answer_again_uses_the_page_prepared_while_waiting(
    client: TavusClient, emu: EmulatorState
) -> None:
    persona_id = emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})
    _view(client, persona_id, [])
    emu.set_latency(200)  # the answer takes longer than preparing, as Tavus's does
    seen: list[Any] = []

    persona, early = _view(client, persona_id, seen)

    assert early == "page of Kai"
    assert seen == [persona]  # prepared once, from a value equal to the answer, which is returned
    assert persona == client.get_persona(persona_id)


def test_changed_answer_discards_the_early_page(client: TavusClient, emu: EmulatorState) -> None:
    persona_id = emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})
    _view(client, persona_id, [])
    emu.edit_persona(persona_id, [{"op": "replace", "path": "/persona_name", "value": "Noa"}])

    persona, early = _view(client, persona_id, [])

    assert early is None
    assert persona["persona_name"] == "Noa"


def test_a_failing_early_prepare_costs_nothing_but_time(
    client: TavusClient, emu: EmulatorState
) -> None:
    persona_id = emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})
    _view(client, persona_id, [])

    def broken(persona: Any) -> str:
        raise ValueError("a template bug")

    persona, early = live.overlap(
        ("persona", "ws", persona_id),
        lambda reuse: client.get_persona(persona_id, reuse=reuse),
        persona_from_body,
        broken,
    )

    assert early is None and persona["persona_name"] == "Kai"


def test_tavus_errors_propagate_even_with_a_remembered_answer(
    client: TavusClient, emu: EmulatorState
) -> None:
    persona_id = emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})
    _view(client, persona_id, [])
    del emu.personas[persona_id]

    with pytest.raises(TavusNotFound):
        _view(client, persona_id, [])


def test_answers_are_remembered_per_key_and_at_most_remembered(
    client: TavusClient, emu: EmulatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live._answers, "size", 2)
    ids = [emu.put_persona({"persona_name": f"P{n}", "system_prompt": "Hi."}) for n in range(3)]
    for persona_id in ids:
        _view(client, persona_id, [])

    # The oldest was forgotten; the two newest are prepared early, each from its own answer.
    emu.set_latency(200)
    assert _view(client, ids[0], [])[1] is None
    assert _view(client, ids[2], [])[1] == "page of P2"


def test_a_listing_seen_again_is_prepared_early_and_a_new_persona_is_not_missed(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.put_persona({"persona_name": "Kai", "system_prompt": "Hi."})

    def view() -> tuple[Any, Any]:
        return live.overlap(
            ("personas", "ws", 1),
            lambda reuse: client.list_personas(persona_type="user", reuse=reuse),
            listing_from_body,
            lambda listing: [p["persona_name"] for p in listing["data"]],
        )

    view()
    emu.set_latency(200)
    assert view()[1] == ["Kai"]
    emu.put_persona({"persona_name": "Noa", "system_prompt": "Hi."})
    listing, early = view()
    assert early is None
    assert [p["persona_name"] for p in listing["data"]] == ["Noa", "Kai"]
