"""Links between a persona and its counterpart in another workspace (staging → production, ...).

A link names one persona on each side by workspace and persona id; it is the same link seen from
either side, and a change can be compared and proposed in either direction. The optional mapping
says which replica and document ids of the source stand for which of the target (ids differ
between Tavus accounts). Names are copied at link time so pages list links without a Tavus call.
The link itself holds no secret.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ..persona.jsontypes import JSON


class PersonaLink(models.Model):
    """A persona in one workspace linked to its counterpart in another."""

    source_workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="persona_links_out"
    )
    source_persona_id = models.CharField("persona id", max_length=64)
    source_persona_name = models.CharField("persona name", max_length=255, blank=True)
    target_workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="persona_links_in"
    )
    target_persona_id = models.CharField("counterpart persona id", max_length=64)
    target_persona_name = models.CharField("counterpart persona name", max_length=255, blank=True)
    # {"replicas": {source id: target id}, "documents": {source id: target id}}
    mapping = models.JSONField("id mapping", default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField("linked by", max_length=150, blank=True)
    created_at = models.DateTimeField("linked", auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "persona link"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "source_workspace",
                    "source_persona_id",
                    "target_workspace",
                    "target_persona_id",
                ],
                name="personalink_unique_pair",
            ),
            models.CheckConstraint(
                condition=~Q(source_workspace=F("target_workspace")),
                name="personalink_across_workspaces",
            ),
        ]
        indexes = [
            models.Index(fields=["source_workspace", "source_persona_id"], name="plink_source"),
            models.Index(fields=["target_workspace", "target_persona_id"], name="plink_target"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.source_persona_id} in workspace {self.source_workspace_id} ↔ "
            f"{self.target_persona_id} in workspace {self.target_workspace_id}"
        )

    def involves(self, *, workspace_id: int, persona_id: str) -> bool:
        """Whether this persona is one of the link's two ends."""
        return (
            self.source_workspace_id == workspace_id and self.source_persona_id == persona_id
        ) or (self.target_workspace_id == workspace_id and self.target_persona_id == persona_id)

    def id_map(self, kind: str, *, from_source: bool) -> dict[str, str]:
        """The `kind` ("replicas" or "documents") mapping, read in the direction of a promotion:
        source → target, or, promoting the other way, target → source."""
        found: JSON = (self.mapping or {}).get(kind) if isinstance(self.mapping, dict) else None
        pairs = (
            {str(k): str(v) for k, v in found.items() if isinstance(v, str)}
            if isinstance(found, dict)
            else {}
        )
        return pairs if from_source else {v: k for k, v in pairs.items()}
