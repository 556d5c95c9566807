"""Personas as code: keep a workspace's personas in git as one JSON file per persona.

python manage.py personas export  --workspace SLUG --dir DIR
python manage.py personas plan    --workspace SLUG --dir DIR            (exit status 2: changes)
python manage.py personas propose --workspace SLUG --dir DIR [--actor USER] [--title T] [--apply]

Files are named <persona_id>.json, keys sorted, two-space indent; created_at, updated_at and
persona_type are left out (Tavus sets them). Secrets are never written: each is a `${env:NAME}`
placeholder (persona/placeholders.py), filled from the environment by `propose`; a missing one
is an error naming it, and nothing is sent. A file without a persona_id is a new persona.
`plan` needs no secret: a placeholder compares equal to the live secret. `propose` opens one
change set for review; with `--apply`, where the workspace needs no approval, it is applied at
once, in this process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import ItemStatus, Workspace
from ...models.reviews import InvalidTransition
from ...persona.jsontypes import JSONObject
from ...persona.payloads import create_payload
from ...persona.placeholders import fill_placeholders, with_placeholders
from ...persona.redaction import redact
from ...persona.safety import UnsafeJSON, loads_checked
from ...services.changesets import (
    ChangeSetError,
    change_set_apply,
    change_set_counts,
    change_set_create_from_documents,
    personas_read,
    plan_persona,
)
from ...services.personas import persona_listing
from ...services.workspaces import NoActiveKey
from ...tavus import TavusError

# Fields Tavus sets: never written to a file, never compared.
_SERVER_FIELDS = ("created_at", "updated_at", "persona_type")
_PAGE = 100
# Exit status of `plan` when anything would change (for CI).
CHANGES_EXIT_STATUS = 2


def _file_text(doc: JSONObject) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _for_file(persona: JSONObject) -> JSONObject:
    kept = {k: v for k, v in persona.items() if k not in _SERVER_FIELDS}
    return with_placeholders(kept, persona_id=str(persona.get("persona_id", "")))


class Command(BaseCommand):
    help = "Export personas to JSON files, plan the changes files make, propose them for review."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("export", "Write one JSON file per persona (secrets as ${env:NAME} placeholders)"),
            ("plan", "Show the JSON Patch each file would send; exit status 2 if any"),
            ("propose", "Open one change set (for review) that makes the personas match the files"),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("--workspace", required=True, help="The workspace's short name")
            action.add_argument("--dir", required=True, type=Path, help="The folder of files")
            if name == "propose":
                action.add_argument("--actor", help="Username the change set is proposed as")
                action.add_argument("--title", default="", help="The change set's title")
                action.add_argument(
                    "--apply",
                    action="store_true",
                    help="Apply at once (only where the workspace needs no approval)",
                )

    def handle(self, *args: object, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"There is no workspace “{options['workspace']}”.")
        try:
            getattr(self, "_" + str(options["action"]))(workspace, options)
        except (TavusError, NoActiveKey) as exc:
            message = exc.user_message if isinstance(exc, TavusError) else str(exc)
            raise CommandError(message) from exc
        except (ChangeSetError, InvalidTransition, PermissionDenied) as exc:
            raise CommandError(str(exc)) from exc

    # -- export --

    def _persona_ids(self, workspace: Workspace) -> list[str]:
        ids: list[str] = []
        page = 1
        while True:
            data = persona_listing(workspace=workspace, page=page, limit=_PAGE, persona_type="user")
            items = data.get("data")
            items = items if isinstance(items, list) else []
            ids += [
                str(p["persona_id"]) for p in items if isinstance(p, dict) and p.get("persona_id")
            ]
            if len(items) < _PAGE:
                return ids
            page += 1

    def _export(self, workspace: Workspace, options: dict[str, Any]) -> None:
        folder: Path = options["dir"]
        folder.mkdir(parents=True, exist_ok=True)
        ids = self._persona_ids(workspace)
        read = personas_read(workspace=workspace, persona_ids=ids)
        written = 0
        for persona_id, persona in read.items():
            if isinstance(persona, TavusError):
                self.stderr.write(f"{persona_id}: not exported: {persona.user_message}")
                continue
            (folder / f"{persona_id}.json").write_text(_file_text(_for_file(persona)))
            written += 1
        self.stdout.write(f"Exported {written} persona(s) to {folder}.")

    # -- reading files --

    def _files(self, folder: Path) -> list[tuple[Path, JSONObject]]:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        found: list[tuple[Path, JSONObject]] = []
        for path in sorted(folder.glob("*.json")):
            try:
                doc = loads_checked(path.read_text())
            except (UnsafeJSON, ValueError) as exc:
                raise CommandError(f"{path}: not a persona document: {exc}") from exc
            if not isinstance(doc, dict):
                raise CommandError(f"{path}: a persona document is a JSON object.")
            found.append((path, {k: v for k, v in doc.items() if k not in _SERVER_FIELDS}))
        return found

    # -- plan --

    def _plan(self, workspace: Workspace, options: dict[str, Any]) -> None:
        files = self._files(options["dir"])
        ids = [str(doc["persona_id"]) for _, doc in files if doc.get("persona_id")]
        live = personas_read(workspace=workspace, persona_ids=ids)
        changes = 0
        for path, doc in files:
            compared, _ = fill_placeholders(doc, None)
            persona_id = str(doc.get("persona_id") or "")
            if not persona_id:
                changes += 1
                payload = redact(create_payload(compared))
                self.stdout.write(f"{path.name}: new persona, created with:")
                self.stdout.write(_file_text(payload))
                continue
            persona = live[persona_id]
            if isinstance(persona, TavusError):
                changes += 1
                self.stdout.write(f"{path.name}: cannot be compared: {persona.user_message}")
                continue
            ops = plan_persona(live=persona, target=compared).ops
            if not ops:
                self.stdout.write(f"{path.name}: no changes")
                continue
            changes += 1
            self.stdout.write(f"{path.name}: {len(ops)} change(s):")
            self.stdout.write(json.dumps(ops, indent=2, ensure_ascii=False))
        summary = f"{changes} of {len(files)} file(s) would change a persona."
        self.stdout.write(summary if changes else "No changes: every persona matches its file.")
        if changes:
            self.stdout.flush()
            sys.exit(CHANGES_EXIT_STATUS)

    # -- propose --

    def _actor(self, username: str | None) -> AbstractBaseUser | None:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user “{username}”.")
        return user

    def _propose(self, workspace: Workspace, options: dict[str, Any]) -> None:
        actor = self._actor(options.get("actor"))
        if options["apply"] and workspace.requires_approval:
            raise CommandError(
                f"The workspace “{workspace.slug}” needs changes approved before they go live: "
                "run propose without --apply, and apply the change set once it is approved."
            )
        files = self._files(options["dir"])
        documents: list[JSONObject] = []
        missing: set[str] = set()
        for _, doc in files:
            filled, names = fill_placeholders(doc, os.environ)
            documents.append(filled)
            missing.update(names)
        if missing:
            raise CommandError(
                "These environment variables are not set, so nothing was sent: "
                + ", ".join(sorted(missing))
            )
        change_set = change_set_create_from_documents(
            workspace=workspace,
            actor=actor,
            documents=documents,
            title=options["title"] or f"Personas from {options['dir'].name or options['dir']}",
            submit=not options["apply"],
        )
        counts = change_set_counts(change_set)
        self.stdout.write(
            f"Change set #{change_set.pk}: {counts[ItemStatus.WAITING]} persona(s) to change, "
            f"{counts[ItemStatus.NO_CHANGE]} unchanged."
        )
        if not options["apply"]:
            self.stdout.write("It waits for review in the dashboard.")
            return
        change_set = change_set_apply(change_set=change_set, actor=actor, background=False)
        for item in change_set.items.order_by("persona_name", "id"):
            extra = f": {item.message}" if item.message else ""
            label = item.persona_name or item.persona_id
            self.stdout.write(f"  {label} ({item.persona_id}): {item.get_status_display()}{extra}")
        self.stdout.write(f"Change set #{change_set.pk}: {change_set.get_status_display()}.")
        counts = change_set_counts(change_set)
        if counts[ItemStatus.CONFLICT] or counts[ItemStatus.FAILED]:
            raise CommandError("Some personas were not changed (see above).")
