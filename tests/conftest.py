"""Shared fixtures: the Tavus emulator on a loopback port, the cast of users, a workspace wired to it.

Tavus is never mocked: the dashboard talks over real HTTP to personas_app.devtools.emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from personas_app.devtools.emulator import EmulatorState, RunningEmulator, start_emulator
from personas_app.models import Role, Workspace
from tests.builders import make_member, make_user, make_workspace

# Playwright's sync API runs an event loop in the test thread; the ORM calls that browser tests make
# between page actions are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def tavus_server() -> Iterator[RunningEmulator]:
    server = start_emulator(EmulatorState(api_key="test-tavus-key-0001"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    """An emulator with seeded data, for the client and emulator tests (apart from tavus_server)."""
    server = start_emulator()
    yield server
    server.stop()


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> EmulatorState:
    """The seeded emulator's state with no knobs and an empty request log."""
    emulator_server.state.reset()
    return emulator_server.state


@pytest.fixture
def tavus(tavus_server: RunningEmulator) -> Iterator[EmulatorState]:
    """The emulator's state, reset before each test; set knobs and read its request log."""
    tavus_server.state.reset()
    yield tavus_server.state
    tavus_server.state.reset()


@pytest.fixture(autouse=True)
def _fast_and_clean(settings: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TAVUS_TIMEOUT_READ = 5.0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db: None) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> Any:
    return make_user("bob")


@pytest.fixture
def charlie(db: None) -> Any:
    return make_user("charlie")


@pytest.fixture
def workspace(
    alice: Any, bob: Any, tavus: EmulatorState, tavus_server: RunningEmulator
) -> Workspace:
    """alice is its admin, bob an editor; its active key is the emulator's."""
    ws = make_workspace(owner=alice, base_url=tavus_server.url, api_key=tavus.api_key)
    make_member(ws, bob, Role.EDITOR)
    return ws


@pytest.fixture
def erin(workspace: Workspace) -> Any:
    """A reviewer in the workspace (alice is its admin, bob an editor)."""
    user = make_user("erin")
    make_member(workspace, user, Role.REVIEWER)
    return user


@pytest.fixture
def erin_client(erin: Any) -> Client:
    return _client_for(erin)


# -- A second Tavus account, for promotion between workspaces ----------------------------------


@pytest.fixture(scope="session")
def prod_tavus_server() -> Iterator[RunningEmulator]:
    """Another emulator with its own key: the Tavus account of a "production" workspace."""
    server = start_emulator(EmulatorState(api_key="prod-tavus-key-0002"))
    yield server
    server.stop()


@pytest.fixture
def prod_tavus(prod_tavus_server: RunningEmulator) -> Iterator[EmulatorState]:
    """The second emulator's state, reset before and after each test."""
    prod_tavus_server.state.reset()
    yield prod_tavus_server.state
    prod_tavus_server.state.reset()


@pytest.fixture
def production(
    alice: Any, bob: Any, prod_tavus: EmulatorState, prod_tavus_server: RunningEmulator
) -> Workspace:
    """A second workspace on its own Tavus account: alice is its admin, bob an editor."""
    ws = make_workspace(
        owner=alice,
        base_url=prod_tavus_server.url,
        api_key=prod_tavus.api_key,
        name="Production",
        slug="production",
    )
    make_member(ws, bob, Role.EDITOR)
    return ws


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice: Any) -> Client:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob: Any) -> Client:
    return _client_for(bob)


@pytest.fixture
def charlie_client(charlie: Any) -> Client:
    return _client_for(charlie)


@pytest.fixture
def member_client(workspace: Workspace) -> Any:
    """Make a client for a new user with the given role in the workspace: member_client("viewer")."""

    def make(role: str, username: str | None = None) -> Client:
        user = make_user(username or f"{role}-user")
        make_member(workspace, user, role)
        return _client_for(user)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser/ carries the browser marker."""
    for item in items:
        if "/tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
