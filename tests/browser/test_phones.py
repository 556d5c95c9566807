"""On a phone (390 px wide) no main page scrolls sideways: wide tables scroll inside their own
region, which a keyboard can reach, and everything else wraps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import Workspace
from tests.browser.conftest import login
from tests.browser.test_accessibility import PAGES, Seeded, seed_pages
from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}

# The elements wider than the window, to say what overflows when the check fails.
WIDER_THAN_THE_WINDOW = """
() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && !clipped(el) && getComputedStyle(el).position !== "fixed") {
      found.push(name(el) + " (" + Math.round(box.right) + "px)");
    }
  }
  return found.slice(0, 12);
}
"""


@pytest.fixture
def seeded(workspace: Workspace, alice: Any, bob: Any, tavus: EmulatorState) -> Seeded:
    return seed_pages(workspace=workspace, alice=alice, bob=bob, tavus=tavus)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def sideways_overflow(page: Page) -> list[str]:
    """What sticks out past the window's right edge; empty when the page does not scroll sideways."""
    fits = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return [] if fits else page.evaluate(WIDER_THAN_THE_WINDOW) or ["(something)"]


def test_the_login_page_fits_a_phone(phone: Page, live_server: Any, db: None) -> None:
    phone.goto(f"{live_server.url}/accounts/login/")

    overflow = sideways_overflow(phone)
    assert not overflow, f"wider than the window: {overflow}"


@pytest.mark.parametrize("name", list(PAGES))
def test_the_main_pages_fit_a_phone(
    phone: Page, live_server: Any, seeded: Seeded, name: str
) -> None:
    login(phone, live_server, "alice", PASSWORD)
    phone.goto(live_server.url + seeded.url(PAGES[name]))
    phone.wait_for_load_state("networkidle")

    overflow = sideways_overflow(phone)
    assert not overflow, f"wider than the window: {overflow}"
