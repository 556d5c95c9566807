"""JSON type aliases shared by the Tavus client, its errors and the emulator.

Kept inside tavus/ so this package stays importable on its own: it must not import
django or anything else from personas_app.
"""

from __future__ import annotations

from typing import TypeAlias

JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None
JSONObject: TypeAlias = dict[str, JSON]
