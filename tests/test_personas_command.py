"""Personas as code: `manage.py personas export|plan|propose` against the emulator.

Secrets never reach a file; plan needs none and exits 2 when a file would change a persona;
propose fills placeholders from the environment (a missing one stops everything) and opens one
change set, applied by a real worker once approved.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeSet, ChangeSetStatus, ItemStatus, Workspace
from personas_app.services.changesets import change_set_apply, change_set_approve
from tests.builders import persona_doc
from tests.workers import wait_until, worker_pool

SECRET = "sk-live-files-never-9999"
NEW_SECRET = "sk-live-rotated-1111"
WORKER_ENV = {"TAVUS_TIMEOUT_CONNECT": "0.25", "TAVUS_TIMEOUT_READ": "1", "TAVUS_RETRIES": "0"}


def _run(*args: str) -> tuple[int, str]:
    """(exit status, output) of `manage.py personas ARGS`."""
    out = StringIO()
    try:
        call_command("personas", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _with_key(name: str) -> dict[str, Any]:
    doc = persona_doc(persona_name=name)
    doc["layers"]["llm"] = {
        "model": "my-llm",
        "base_url": "https://llm.example.com/v1",
        "api_key": SECRET,
    }
    return doc


@pytest.mark.django_db
def test_export_writes_one_sorted_file_per_persona_and_never_a_secret(
    workspace: Workspace, tavus: EmulatorState, tmp_path: Path
) -> None:
    with_key = tavus.put_persona(_with_key("Keyed"))
    plain = tavus.put_persona(persona_doc(persona_name="Plain"))
    status, output = _run("export", "--workspace", "acme", "--dir", str(tmp_path))
    assert status == 0, output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{with_key}.json", f"{plain}.json"]
    )
    text = (tmp_path / f"{with_key}.json").read_text()
    assert SECRET not in text
    doc = json.loads(text)
    name = f"PERSONA_{with_key.upper()}_LLM_API_KEY"
    assert doc["layers"]["llm"]["api_key"] == "${env:" + name + "}"
    assert list(doc) == sorted(doc)
    assert "updated_at" not in doc and "persona_type" not in doc


@pytest.mark.django_db
def test_plan_needs_no_secret_and_exits_2_only_when_a_file_changes_a_persona(
    workspace: Workspace, tavus: EmulatorState, tmp_path: Path
) -> None:
    persona_id = tavus.put_persona(_with_key("Keyed"))
    _run("export", "--workspace", "acme", "--dir", str(tmp_path))
    status, output = _run("plan", "--workspace", "acme", "--dir", str(tmp_path))
    assert status == 0, output
    assert "no changes" in output

    path = tmp_path / f"{persona_id}.json"
    doc = json.loads(path.read_text())
    doc["context"] = "Acme sells garden tools and seeds."
    path.write_text(json.dumps(doc))
    status, output = _run("plan", "--workspace", "acme", "--dir", str(tmp_path))
    assert status == 2
    assert f"{persona_id}.json: 1 change(s)" in output
    assert '"path": "/context"' in output
    assert SECRET not in output
    assert tavus.count("PATCH") == 0


@pytest.mark.django_db
def test_plan_shows_a_new_persona_as_its_create_payload(
    workspace: Workspace, tavus: EmulatorState, tmp_path: Path
) -> None:
    (tmp_path / "new.json").write_text(json.dumps(persona_doc(persona_name="Brand new")))
    status, output = _run("plan", "--workspace", "acme", "--dir", str(tmp_path))
    assert status == 2
    assert "new.json: new persona" in output
    assert '"persona_name": "Brand new"' in output


@pytest.mark.django_db
def test_propose_names_a_missing_variable_and_sends_nothing(
    workspace: Workspace, tavus: EmulatorState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    persona_id = tavus.put_persona(_with_key("Keyed"))
    _run("export", "--workspace", "acme", "--dir", str(tmp_path))
    monkeypatch.delenv(f"PERSONA_{persona_id.upper()}_LLM_API_KEY", raising=False)
    requests_before = len(tavus.requests)
    with pytest.raises(CommandError, match=f"PERSONA_{persona_id.upper()}_LLM_API_KEY"):
        _run("propose", "--workspace", "acme", "--dir", str(tmp_path))
    assert len(tavus.requests) == requests_before
    assert not ChangeSet.objects.exists()


@pytest.mark.django_db
def test_propose_apply_sends_the_secret_from_the_environment_where_no_approval_is_needed(
    workspace: Workspace,
    bob: Any,
    tavus: EmulatorState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    persona_id = tavus.put_persona(_with_key("Keyed"))
    _run("export", "--workspace", "acme", "--dir", str(tmp_path))
    monkeypatch.setenv(f"PERSONA_{persona_id.upper()}_LLM_API_KEY", NEW_SECRET)
    status, output = _run(
        "propose", "--workspace", "acme", "--dir", str(tmp_path), "--actor", "bob", "--apply"
    )
    assert status == 0, output
    assert "Applied" in output
    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == NEW_SECRET
    assert tavus.count("PATCH") == 1
    change_set = ChangeSet.objects.get()
    assert NEW_SECRET not in json.dumps(list(change_set.items.values("base", "proposed", "ops")))


@pytest.mark.django_db
def test_propose_apply_is_refused_where_changes_need_approval(
    workspace: Workspace, tavus: EmulatorState, tmp_path: Path
) -> None:
    workspace.requires_approval = True
    workspace.save()
    tavus.put_persona(persona_doc(persona_name="Plain"))
    _run("export", "--workspace", "acme", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match="needs changes approved"):
        _run("propose", "--workspace", "acme", "--dir", str(tmp_path), "--apply")


@pytest.mark.django_db(transaction=True)
def test_export_plan_edit_plan_propose_approve_apply(
    workspace: Workspace,
    bob: Any,
    erin: Any,
    tavus: EmulatorState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace.requires_approval = True
    workspace.save()
    keyed = tavus.put_persona(_with_key("Keyed"))
    others = [tavus.put_persona(persona_doc(persona_name=f"Agent {i}")) for i in range(3)]
    folder = tmp_path / "personas"
    assert _run("export", "--workspace", "acme", "--dir", str(folder))[0] == 0
    assert _run("plan", "--workspace", "acme", "--dir", str(folder))[0] == 0

    path = folder / f"{keyed}.json"
    doc = json.loads(path.read_text())
    doc["layers"]["stt"]["hotwords"] = "Acme, trowel, Sparrow"
    path.write_text(json.dumps(doc, indent=2, sort_keys=True))
    status, output = _run("plan", "--workspace", "acme", "--dir", str(folder))
    assert status == 2
    assert f"{keyed}.json: 1 change(s)" in output
    assert output.count("no changes") == len(others)

    monkeypatch.setenv(f"PERSONA_{keyed.upper()}_LLM_API_KEY", SECRET)
    status, output = _run("propose", "--workspace", "acme", "--dir", str(folder), "--actor", "bob")
    assert status == 0, output
    change_set = ChangeSet.objects.get()
    assert change_set.status == ChangeSetStatus.OPEN
    assert change_set.author == bob
    waiting = change_set.items.get(status=ItemStatus.WAITING)
    assert waiting.persona_id == keyed
    assert waiting.ops == [
        {"op": "replace", "path": "/layers/stt/hotwords", "value": "Acme, trowel, Sparrow"}
    ]
    assert tavus.count("PATCH") == 0

    change_set_approve(change_set=change_set, actor=erin)
    with worker_pool(tmp_path, WORKER_ENV) as pool:
        pool.start()
        change_set_apply(change_set=change_set, actor=bob)

        def finished() -> bool:
            change_set.refresh_from_db()
            return change_set.is_finished

        wait_until(finished, timeout=60, what="the change set to finish", pool=pool)

    assert change_set.status == ChangeSetStatus.APPLIED
    assert tavus.count("PATCH") == 1
    live = tavus.personas[keyed]
    assert live["layers"]["stt"]["hotwords"] == "Acme, trowel, Sparrow"
    assert live["layers"]["llm"]["api_key"] == SECRET
    assert _run("plan", "--workspace", "acme", "--dir", str(folder))[0] == 0
