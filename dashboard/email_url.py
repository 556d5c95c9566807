"""EMAIL_URL, one address for how the dashboard sends email, read into Django's email settings.

    console://                                  print emails on the console (the default)
    smtp://user:password@mail.example.com:587?tls=1   SMTP with STARTTLS
    smtp://mail.example.com:25                  SMTP without encryption (a local relay)
    smtps://user:password@mail.example.com      SMTP over TLS from the start (port 465)
    dummy://                                    send nothing
    file:///var/lib/persona-studio/emails       write each email to a file in that folder

The user and the password are percent-decoded (write an @ in a user name as %40). Wiring only:
no Django imports beyond its exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class EmailConfig:
    """Django's EMAIL_* settings as EMAIL_URL gives them."""

    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    file_path: str = ""


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, [""])[-1].strip().lower() in _TRUE


def parse_email_url(url: str) -> EmailConfig:
    """Read an EMAIL_URL; ImproperlyConfigured (never quoting the password) when it is unusable."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _BACKENDS:
        raise ImproperlyConfigured(
            f"EMAIL_URL must start with one of {', '.join(f'{s}://' for s in _BACKENDS)}; "
            f"it starts with “{scheme}://”."
        )
    if scheme in {"console", "dummy"}:
        return EmailConfig(backend=_BACKENDS[scheme])
    if scheme == "file":
        if not parts.path or parts.path == "/":
            raise ImproperlyConfigured(
                "EMAIL_URL file:// names no folder, e.g. file:///srv/emails."
            )
        return EmailConfig(backend=_BACKENDS[scheme], file_path=unquote(parts.path))
    query = parse_qs(parts.query)
    use_ssl = scheme == "smtps" or _flag(query, "ssl")
    use_tls = _flag(query, "tls")
    if use_ssl and use_tls:
        raise ImproperlyConfigured(
            "EMAIL_URL asks for both TLS from the start (smtps:// or ssl=1) and STARTTLS (tls=1): "
            "choose one."
        )
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no mail server, e.g. smtp://mail.example.com.")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port that is not a number.") from None
    return EmailConfig(
        backend=_BACKENDS[scheme],
        host=parts.hostname,
        port=port or (465 if use_ssl else 587 if use_tls else 25),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
    )
