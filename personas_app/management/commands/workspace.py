"""Operator commands for workspaces. Keys are read from a named environment variable, never argv.

python manage.py workspace create --name NAME [--slug SLUG] [--base-url URL] [--api-key-env VAR]
python manage.py workspace add-member SLUG USERNAME ROLE
python manage.py workspace rotate-key SLUG --api-key-env VAR [--label LABEL]
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import URLValidator

from ...models import Workspace
from ...services.workspaces import (
    WorkspaceError,
    api_key_add,
    api_key_rotate,
    member_add,
    workspace_create,
)


def _key_from_env(var: str | None) -> str | None:
    if not var:
        return None
    value = os.environ.get(var, "").strip()
    if not value:
        raise CommandError(f"The environment variable {var} is empty or not set.")
    return value


class Command(BaseCommand):
    help = "Create workspaces, add members and rotate Tavus API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a workspace")
        create.add_argument("--name", required=True)
        create.add_argument("--slug")
        create.add_argument("--base-url", default="")
        create.add_argument(
            "--api-key-env", help="Name of the environment variable holding the key"
        )
        member = sub.add_parser("add-member", help="Give an existing user a role in a workspace")
        member.add_argument("slug")
        member.add_argument("username")
        member.add_argument("role", choices=["viewer", "editor", "reviewer", "admin"])
        rotate = sub.add_parser("rotate-key", help="Replace (or add) a workspace's named key")
        rotate.add_argument("slug")
        rotate.add_argument("--api-key-env", required=True)
        rotate.add_argument("--label", default="default")

    def handle(self, *args: object, **options: object) -> None:
        try:
            getattr(self, "_" + str(options["action"]).replace("-", "_"))(options)
        except WorkspaceError as exc:
            raise CommandError(str(exc)) from exc

    def _workspace(self, slug: str) -> Workspace:
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise CommandError(f"No workspace has the short name “{slug}”.")
        return workspace

    def _create(self, options: dict[str, object]) -> None:
        base_url = str(options.get("base_url") or "")
        if base_url:
            try:
                URLValidator()(base_url)
            except ValidationError as exc:
                raise CommandError(f"--base-url “{base_url}” is not a valid URL.") from exc
        key = _key_from_env(options.get("api_key_env"))  # type: ignore[arg-type]
        workspace = workspace_create(
            name=str(options["name"]),
            slug=options.get("slug") or None,  # type: ignore[arg-type]
            base_url=base_url,
            api_key=key,
        )
        with_key = " with an active API key" if key else " (no API key yet)"
        self.stdout.write(f"Created workspace {workspace.slug} “{workspace.name}”{with_key}.")

    def _add_member(self, options: dict[str, object]) -> None:
        workspace = self._workspace(str(options["slug"]))
        membership = member_add(
            workspace=workspace,
            username_or_email=str(options["username"]),
            role=str(options["role"]),
            actor=None,
        )
        self.stdout.write(
            f"Added {membership.user.get_username()} to {workspace.slug} as {membership.role}."
        )

    def _rotate_key(self, options: dict[str, object]) -> None:
        workspace = self._workspace(str(options["slug"]))
        secret = _key_from_env(str(options["api_key_env"]))
        assert secret is not None
        label = str(options["label"])
        key = workspace.api_keys.filter(label=label).first()
        if key is None:
            key = api_key_add(workspace=workspace, label=label, secret=secret, actor=None)
            self.stdout.write(f"Added key “{label}” (…{key.last4}) to {workspace.slug}.")
        else:
            key = api_key_rotate(workspace=workspace, key=key, secret=secret, actor=None)
            self.stdout.write(
                f"Rotated key “{label}” of {workspace.slug}; it now ends in …{key.last4}."
            )
