"""Helpers for the browser tests: screenshots, logging in through the form, axe-core."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000

_seq = itertools.count(1)


def unique(prefix: str) -> str:
    """A value no other test of this session uses (the server's database lives for the session)."""
    return f"{prefix}{os.getpid()}n{next(_seq)}"


class Screenshots:
    """Full-page screenshots of one journey at a phone and a desktop width."""

    def __init__(self, journey: str) -> None:
        self.journey = journey
        self.step = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> None:
        """artifacts/screenshots/<journey>-<nn>-<name>-<width>.png at 390 and 1280 px wide.

        Journeys run at phone size, so the page (and the map's fitted view) is laid out
        for the phone first; widening it afterwards keeps everything in view.
        """
        self.step += 1
        original = page.viewport_size or DESKTOP
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            path = SCREENSHOTS / f"{self.journey}-{self.step:02d}-{name}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        page.set_viewport_size(original)


def log_in(page: Page, email_address: str, password: str = PASSWORD) -> None:
    """Log in through the form reached from the header's "Log in" link."""
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail address").fill(email_address)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("You are logged in.").wait_for()


# WCAG 2.2 level A and AA (with 2.0 and 2.1's), and axe's best practices.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")


def axe_violations(page: Page, impacts: tuple[str, ...] = ("minor", "moderate", "serious",
                                                           "critical")) -> list[dict[str, Any]]:
    """Inject axe-core into the page, run the AXE_TAGS rules, and keep the violations of these
    impacts (every impact unless told)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the site's CSP refuses inline scripts.
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async tags => await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", list(AXE_TAGS))
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as lines: id, impact, help, then each node's selector and what failed."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)
