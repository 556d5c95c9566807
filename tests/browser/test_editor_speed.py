"""How fast the editor feels with a large persona (50 tools of 10 parameters) in Chromium, with the Tavus
emulator answering after L ms. The figures are printed (run with -s), never asserted: timings on a shared
machine would make a flaky test. What is asserted is the behaviour: no navigation, the new row focused, the
preview showing the keystroke.

Measured (each after a warm-up):
- edit page: DOMContentLoaded after navigation start (budget L + 300 ms);
- adding a tool or a parameter: click to the new row's first field focused, the swap settled (budget
  150 ms at p95);
- the preview: a keystroke to the preview showing it, minus the 300 ms typing delay (budget 150 ms).
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from playwright.sync_api import Page

from bench.docs import large_persona
from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD

LATENCY_MS = 100
RUNS = 12
DEBOUNCE_MS = 300

# Click a button, then wait (one frame at a time) until the element `focus_id` has the focus and
# the new fragment is ready for the next click (htmx has processed its buttons).
CLICK_UNTIL_FOCUSED = """
([buttonId, focusId]) => new Promise((resolve) => {
  const t0 = performance.now();
  document.getElementById(buttonId).click();
  const check = () => {
    const active = document.activeElement;
    const button = document.getElementById(buttonId);
    const ready = button && button["htmx-internal-data"] && !button.classList.contains("htmx-request");
    if (active && active.id === focusId && ready) resolve(performance.now() - t0);
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})
"""
# Every request answered (app.js marks the body busy while one is out).
IDLE = "() => !document.body.hasAttribute('aria-busy')"

# Type into a field (as an input event), then wait until the preview shows the text.
TYPE_UNTIL_PREVIEWED = """
(token) => new Promise((resolve) => {
  const field = document.getElementById("id_identity-context");
  field.value = "Customers call about " + token;
  const t0 = performance.now();
  field.dispatchEvent(new Event("input", { bubbles: true }));
  const check = () => {
    if (document.getElementById("preview").textContent.includes(token)) resolve(performance.now() - t0);
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})
"""


def _summary(name: str, values: list[float], budget: str) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<42} p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
        f"max {ordered[-1]:7.1f} ms   ({len(ordered)} runs; budget {budget})"
    )


def test_the_editor_of_a_large_persona_answers_quickly(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(large_persona(tools=50, params=10))
    tavus.set_latency(LATENCY_MS)
    login(page, live_server, "bob", PASSWORD)
    url = f"{live_server.url}/w/acme/personas/{persona_id}/edit/"

    loaded: list[float] = []
    for run in range(RUNS + 1):
        page.goto(url, wait_until="domcontentloaded")
        timing = page.evaluate(
            "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
        )
        if run:
            loaded.append(float(timing))
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#llm-tools .tool").count() == 50

    add_tool: list[float] = []
    for k in range(RUNS + 1):
        took = page.evaluate(CLICK_UNTIL_FOCUSED, ["llm-tools-add", f"llm-tools-{50 + k}-label"])
        page.wait_for_timeout(50)
        page.wait_for_function(IDLE)
        if k:
            add_tool.append(float(took))

    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__sameDocument = true")
    page.click("#llm-tools-0-edit")
    page.wait_for_function("() => document.activeElement.id === 'llm-tools-0-name'")
    page.wait_for_timeout(50)
    page.wait_for_function(IDLE)
    add_param: list[float] = []
    for k in range(RUNS + 1):
        took = page.evaluate(
            CLICK_UNTIL_FOCUSED, ["llm-tools-0-addparam", f"llm-tools-0-p{10 + k}-name"]
        )
        page.wait_for_timeout(50)
        page.wait_for_function(IDLE)
        if k:
            add_param.append(float(took))

    previewed: list[float] = []
    for k in range(RUNS + 1):
        took = page.evaluate(TYPE_UNTIL_PREVIEWED, f"token{k}x")
        page.wait_for_timeout(50)
        page.wait_for_function(IDLE)
        if k:
            previewed.append(float(took) - DEBOUNCE_MS)

    assert page.evaluate("window.__sameDocument === true")  # no navigation
    print()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"Editor, large persona (50 tools x 10 parameters), emulator latency L = {LATENCY_MS} ms, "
        f"{os.cpu_count()} cores, load average {load}"
    )
    print(_summary("edit page DOMContentLoaded", loaded, f"L + 300 = {LATENCY_MS + 300} ms"))
    print(_summary("add a tool (click to new row focused)", add_tool, "150 ms p95"))
    print(_summary("add a parameter (click to new row focused)", add_param, "150 ms p95"))
    print(_summary("preview after a keystroke, minus 300 ms delay", previewed, "150 ms"))
