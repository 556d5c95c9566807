"""Django admin: audit records are read-only; API keys never show or accept a secret here."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import ApiKey, AuditEvent, ChangeRequest, Conversation, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tavus_base_url", "requires_approval", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are added and rotated in the dashboard; the admin shows only their last four characters."""

    list_display = ["label", "workspace", "last4", "is_active", "created_by_name", "created_at"]
    fields = [
        "workspace",
        "label",
        "last4",
        "is_active",
        "created_by_name",
        "created_at",
        "rotated_at",
        "revoked_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "actor_name", "action", "outcome", "persona_id"]
    list_filter = ["action", "outcome"]
    search_fields = ["persona_id", "actor_name", "target"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "workspace", "kind", "status", "author_name", "updated_at"]
    exclude = ["secrets_sealed"]
    readonly_fields = ["base_document", "proposed_document", "ops"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "conversation_id",
        "workspace",
        "persona_id",
        "status",
        "started_by_name",
        "started_at",
    ]
