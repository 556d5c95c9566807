"""The app's URLs. Every URL under w/<slug>/ has a permission rule in permissions.URL_RULES."""

from __future__ import annotations

from django.urls import path

from .views import (
    changesets,
    conversations,
    history,
    home,
    invitations,
    notifications,
    personas,
    promotion,
    reviews,
    workspaces,
)

app_name = "personas"

persona_urls = [
    path("w/<slug:slug>/", personas.persona_list, name="persona_list"),
    path("w/<slug:slug>/personas/new/", personas.persona_create, name="persona_create"),
    path(
        "w/<slug:slug>/personas/new/preview/",
        personas.persona_create_preview,
        name="persona_create_preview",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/", personas.persona_detail, name="persona_detail"
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/edit/", personas.persona_edit, name="persona_edit"
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/edit/preview/",
        personas.persona_edit_preview,
        name="persona_edit_preview",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/migrate-legacy/",
        personas.persona_migrate_legacy,
        name="persona_migrate_legacy",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/delete/",
        personas.persona_delete,
        name="persona_delete",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/export/",
        personas.persona_export,
        name="persona_export",
    ),
    path("w/<slug:slug>/pickers/replicas/", personas.picker_replicas, name="picker_replicas"),
    path("w/<slug:slug>/pickers/documents/", personas.picker_documents, name="picker_documents"),
    path("w/<slug:slug>/pickers/objectives/", personas.picker_objectives, name="picker_objectives"),
    path("w/<slug:slug>/pickers/guardrails/", personas.picker_guardrails, name="picker_guardrails"),
]

history_urls = [
    path(
        "w/<slug:slug>/personas/<str:persona_id>/history/",
        history.persona_history,
        name="persona_history",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/history/<int:event_id>/",
        history.persona_version,
        name="persona_version",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/compare/",
        history.persona_compare,
        name="persona_compare",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/history/<int:event_id>/revert/",
        history.persona_revert,
        name="persona_revert",
    ),
    path("w/<slug:slug>/audit/", history.audit_list, name="audit_list"),
    path("w/<slug:slug>/audit/export/", history.audit_export, name="audit_export"),
]

review_urls = [
    path("w/<slug:slug>/reviews/", reviews.review_queue, name="review_queue"),
    path("w/<slug:slug>/reviews/<int:cr_id>/", reviews.review_detail, name="review_detail"),
    path("w/<slug:slug>/reviews/<int:cr_id>/edit/", reviews.review_edit, name="review_edit"),
    path("w/<slug:slug>/reviews/<int:cr_id>/submit/", reviews.review_submit, name="review_submit"),
    path(
        "w/<slug:slug>/reviews/<int:cr_id>/comment/", reviews.review_comment, name="review_comment"
    ),
    path("w/<slug:slug>/reviews/<int:cr_id>/decide/", reviews.review_decide, name="review_decide"),
    path("w/<slug:slug>/reviews/<int:cr_id>/apply/", reviews.review_apply, name="review_apply"),
    path("w/<slug:slug>/reviews/<int:cr_id>/close/", reviews.review_close, name="review_close"),
    path(
        "w/<slug:slug>/reviews/<int:cr_id>/refresh/", reviews.review_refresh, name="review_refresh"
    ),
]

changeset_urls = [
    path("w/<slug:slug>/change-sets/", changesets.changeset_list, name="changeset_list"),
    path("w/<slug:slug>/change-sets/new/", changesets.changeset_new, name="changeset_new"),
    path(
        "w/<slug:slug>/change-sets/new/preview/",
        changesets.changeset_preview,
        name="changeset_preview",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/",
        changesets.changeset_detail,
        name="changeset_detail",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/submit/",
        changesets.changeset_submit,
        name="changeset_submit",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/comment/",
        changesets.changeset_comment,
        name="changeset_comment",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/decide/",
        changesets.changeset_decide,
        name="changeset_decide",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/apply/",
        changesets.changeset_apply,
        name="changeset_apply",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/close/",
        changesets.changeset_close,
        name="changeset_close",
    ),
    path(
        "w/<slug:slug>/change-sets/<int:cs_id>/revert/",
        changesets.changeset_revert,
        name="changeset_revert",
    ),
]

conversation_urls = [
    path(
        "w/<slug:slug>/personas/<str:persona_id>/try/",
        conversations.conversation_start,
        name="conversation_start",
    ),
    path("w/<slug:slug>/conversations/", conversations.conversation_list, name="conversation_list"),
    path(
        "w/<slug:slug>/conversations/end-mine/",
        conversations.conversation_end_mine,
        name="conversation_end_mine",
    ),
    path(
        "w/<slug:slug>/conversations/<str:conversation_id>/",
        conversations.conversation_status,
        name="conversation_status",
    ),
    path(
        "w/<slug:slug>/conversations/<str:conversation_id>/end/",
        conversations.conversation_end,
        name="conversation_end",
    ),
]

workspace_urls = [
    path("w/<slug:slug>/members/", workspaces.member_list, name="member_list"),
    path("w/<slug:slug>/members/add/", workspaces.member_add, name="member_add"),
    path("w/<slug:slug>/members/<int:member_id>/role/", workspaces.member_role, name="member_role"),
    path(
        "w/<slug:slug>/members/<int:member_id>/remove/",
        workspaces.member_remove,
        name="member_remove",
    ),
    path("w/<slug:slug>/keys/", workspaces.key_list, name="key_list"),
    path("w/<slug:slug>/keys/add/", workspaces.key_add, name="key_add"),
    path("w/<slug:slug>/keys/<int:key_id>/test/", workspaces.key_test, name="key_test"),
    path("w/<slug:slug>/keys/<int:key_id>/rotate/", workspaces.key_rotate, name="key_rotate"),
    path("w/<slug:slug>/keys/<int:key_id>/activate/", workspaces.key_activate, name="key_activate"),
    path("w/<slug:slug>/keys/<int:key_id>/revoke/", workspaces.key_revoke, name="key_revoke"),
    path("w/<slug:slug>/settings/", workspaces.workspace_settings, name="workspace_settings"),
    # required reviewers
    path(
        "w/<slug:slug>/settings/review-rules/add/",
        workspaces.review_rule_create,
        name="review_rule_create",
    ),
    path(
        "w/<slug:slug>/settings/review-rules/<int:rule_id>/remove/",
        workspaces.review_rule_delete,
        name="review_rule_delete",
    ),
]

promotion_urls = [
    path(
        "w/<slug:slug>/personas/<str:persona_id>/links/",
        promotion.persona_link,
        name="persona_link",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/links/<int:link_id>/delete/",
        promotion.persona_unlink,
        name="persona_unlink",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/promote/<int:link_id>/",
        promotion.persona_promote,
        name="persona_promote",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/promote/<int:link_id>/propose/",
        promotion.persona_promote_propose,
        name="persona_promote_propose",
    ),
]

notification_urls = [
    path("notifications/", notifications.notification_list, name="notification_list"),
    path(
        "notifications/read-all/",
        notifications.notification_read_all,
        name="notification_read_all",
    ),
    path(
        "notifications/<int:notification_id>/",
        notifications.notification_go,
        name="notification_go",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        notifications.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/preferences/",
        notifications.notification_preferences,
        name="notification_preferences",
    ),
    path(
        "w/<slug:slug>/personas/<str:persona_id>/follow/",
        notifications.persona_follow,
        name="persona_follow",
    ),
]

# Invitations by email: managed by admins under the workspace; the link's page is outside it and
# answers anonymous visitors too (permissions.ANONYMOUS_URLS).
invitation_urls = [
    path(
        "w/<slug:slug>/invitations/new/",
        workspaces.invitation_create,
        name="invitation_create",
    ),
    path(
        "w/<slug:slug>/invitations/<int:invitation_id>/resend/",
        workspaces.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "w/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        workspaces.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
]

urlpatterns = [
    path("", home.home, name="home"),
    *persona_urls,
    *history_urls,
    *review_urls,
    *changeset_urls,
    *conversation_urls,
    *workspace_urls,
    *promotion_urls,
    *notification_urls,
    *invitation_urls,
]
