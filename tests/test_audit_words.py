"""Every audit action the dashboard writes reads in plain words and can be filtered on."""

from __future__ import annotations

import re
from pathlib import Path

from personas_app.audit_words import ACTION_GROUPS, AUDIT_ACTIONS

APP = Path(__file__).resolve().parent.parent / "personas_app"
_ACTION = re.compile(
    r'"((?:persona|key|member|invitation|review|conversation|workspace)\.[a-z_]+)"'
)


def _written_actions() -> set[str]:
    found: set[str] = set()
    for source in [*APP.glob("services/*.py"), *APP.glob("views/*.py")]:
        found |= set(_ACTION.findall(source.read_text()))
    return found


def test_every_written_action_has_plain_words() -> None:
    missing = _written_actions() - set(AUDIT_ACTIONS)
    assert not missing, f"audit actions without plain words: {sorted(missing)}"


def test_every_action_is_offered_in_the_filter() -> None:
    offered = {action for _, items in ACTION_GROUPS for action, _ in items}
    assert offered == set(AUDIT_ACTIONS)


def test_only_review_events_that_sent_something_are_titled_applied() -> None:
    from personas_app.audit_words import version_title

    assert version_title("review.applied") == "Applied from a review"
    for action in ("review.conflict", "review.updated", "review.apply_failed"):
        assert "Applied" not in version_title(action)
    assert "nothing sent" in version_title("review.conflict")
