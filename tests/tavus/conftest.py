"""Fixtures for the Tavus client and emulator tests: one emulator per session, reset per test.

Named emulator_server / emu so they never clash with the project-wide fixtures in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from personas_app.tavus.emulator import EmulatorState, RunningEmulator, start_emulator


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    server = start_emulator()
    yield server
    server.stop()


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> EmulatorState:
    """The emulator's state with seeded data, no knobs and an empty request log."""
    emulator_server.state.reset()
    return emulator_server.state
