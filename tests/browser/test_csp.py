"""The Content-Security-Policy in a real browser: the site runs under it, and the check can fail."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_planted_inline_style_and_script_are_blocked_and_reported(contexts):
    page = contexts.new_page()
    page.goto("/about")
    page.evaluate("""() => {
        const box = document.createElement("p");
        box.id = "planted";
        box.setAttribute("style", "color: rgb(255, 0, 0)");
        box.textContent = "planted";
        document.body.append(box);
        const script = document.createElement("script");
        script.textContent = "window.plantedRan = true";
        document.body.append(script);
    }""")
    expect(page.locator("#planted")).to_be_visible()
    assert page.locator("#planted").evaluate("el => getComputedStyle(el).color") != (
        "rgb(255, 0, 0)")
    assert page.evaluate("() => window.plantedRan === undefined")
    found = list(contexts.csp_violations)
    contexts.csp_violations.clear()  # reported as expected: the fixture must not fail on them
    assert any("inline style" in v for v in found), found
    assert any("inline script" in v for v in found), found
