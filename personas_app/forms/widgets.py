"""Widgets and fields for the persona editor: write-only secrets and lists typed as text or picked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.forms.utils import ErrorList


class SecretInput(forms.PasswordInput):
    """A write-only input: always rendered empty; blank means "keep the stored value"."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False
        )


class ListInput(forms.TextInput):
    """A text input whose posted values may come several times (from checkboxes of a picker)."""

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> Any:
        getlist = getattr(data, "getlist", None)
        values = getlist(name) if getlist else [data.get(name, "")]
        return ", ".join(v for v in values if v is not None)


_SPLIT = re.compile(r"[,\n]+")


class ListField(forms.CharField):
    """A list of short strings typed comma- or line-separated (document ids, tags)."""

    widget = ListInput

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return [item.strip() for item in _SPLIT.split(text) if item.strip()]

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value


class LinesField(forms.CharField):
    """A list of sentences, one per line (awareness queries)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value


class InlineErrorList(ErrorList):
    template_name = "django/forms/errors/list/ul.html"
