"""WSGI entry point (gunicorn dashboard.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# The garbage collector runs between requests, not during them (personas_app/gc_pause.py).
from personas_app.gc_pause import PauseGcDuringRequests

application = PauseGcDuringRequests(get_wsgi_application())
