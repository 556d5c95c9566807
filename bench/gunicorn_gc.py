"""gunicorn settings for `bench/run.py --gc-freeze`: each worker moves everything it loaded at start
(Django, the app, templates) out of the garbage collector's reach, so collections triggered by a
request's allocations stop re-scanning them. Measures what such a deploy setting would buy."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    gc.collect()
    gc.freeze()
