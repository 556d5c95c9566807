"""Read a rendered form the way a browser would submit it, so view tests post what people post."""

from __future__ import annotations

from html.parser import HTMLParser

from django.utils.datastructures import MultiValueDict


class _FormReader(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: list[tuple[str, str]] = []
        self._textarea: list[str] | None = None
        self._select: list[str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("name"):
                self.values.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea = [a.get("name", ""), ""]
        elif tag == "select":
            self._select = [a.get("name", ""), None, None]
        elif tag == "option" and self._select is not None:
            if self._select[2] is None:
                self._select[2] = a.get("value", "")
            if "selected" in a:
                self._select[1] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.values.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            name, chosen, first = self._select
            self.values.append((str(name), str(chosen if chosen is not None else first or "")))
            self._select = None


def form_data(html: str, form_id: str = "editor") -> MultiValueDict:
    """The values a browser would post from the form with this id."""
    reader = _FormReader(form_id)
    reader.feed(html)
    data: MultiValueDict = MultiValueDict()
    for name, value in reader.values:
        data.appendlist(name, value)
    return data


def with_values(data: MultiValueDict, values: dict[str, str]) -> MultiValueDict:
    """A copy of posted data with some fields set, as if the user typed them."""
    copy = data.copy()
    for name, value in values.items():
        copy.setlist(name, [value])
    return copy
