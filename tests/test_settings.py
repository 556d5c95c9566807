"""Production settings: `check --deploy` is clean, and required secrets are demanded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from dashboard.email_url import EmailConfig, parse_email_url

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEBUG", "SECRET_KEY"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_production_settings() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-8f3k2j",
        ALLOWED_HOSTS="studio.example.com",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_encryption_keys() -> None:
    result = _manage(
        "check",
        DEBUG="0",
        SECRET_KEY="s" * 60,
        ALLOWED_HOSTS="studio.example.com",
        FIELD_ENCRYPTION_KEYS="",
    )

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


# -- EMAIL_URL ------------------------------------------------------------------------------------

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_email_url_smtp_with_starttls_and_a_login() -> None:
    config = parse_email_url("smtp://mailer%40example.com:p%40ss%3Aword@mail.example.com:587?tls=1")

    assert config == EmailConfig(
        backend=SMTP,
        host="mail.example.com",
        port=587,
        user="mailer@example.com",
        password="p@ss:word",
        use_tls=True,
        use_ssl=False,
    )


def test_email_url_smtps_is_tls_from_the_start_on_port_465() -> None:
    config = parse_email_url("smtps://user:secret@mail.example.com")

    assert (config.backend, config.port, config.use_ssl, config.use_tls) == (SMTP, 465, True, False)


def test_email_url_plain_smtp_relay_defaults_to_port_25() -> None:
    config = parse_email_url("smtp://relay.internal")

    assert (config.host, config.port, config.user, config.use_tls) == (
        "relay.internal",
        25,
        "",
        False,
    )


def test_email_url_console_and_dummy() -> None:
    assert parse_email_url("console://").backend == "django.core.mail.backends.console.EmailBackend"
    assert parse_email_url("dummy://").backend == "django.core.mail.backends.dummy.EmailBackend"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://mail.example.com", "must start with one of"),
        ("smtp://u:pw-not-shown@mail.example.com?tls=1&ssl=1", "choose one"),
        ("smtp://", "names no mail server"),
        ("smtp://mail.example.com:abc", "not a number"),
    ],
)
def test_a_bad_email_url_is_refused_without_quoting_the_password(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        parse_email_url(url)
    assert "pw-not-shown" not in str(caught.value)


def test_without_email_url_emails_go_to_the_console_from_default_from_email() -> None:
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.DEFAULT_FROM_EMAIL)",
        DEFAULT_FROM_EMAIL="studio@example.com",
        EMAIL_URL="",
    )

    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.core.mail.backends.console.EmailBackend",
        "studio@example.com",
    ]


def test_email_url_sets_the_smtp_settings() -> None:
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)",
        EMAIL_URL="smtp://mailer:secret@mail.example.com:2525?tls=1",
    )

    assert result.stdout.strip().splitlines()[-1].split() == [
        "mail.example.com",
        "2525",
        "mailer",
        "True",
    ]
