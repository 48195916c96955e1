"""The dashboard, opened in Debian's Chromium after signing in through the login form, draws its charts."""
from __future__ import annotations

from pathlib import Path

import pytest

from dyade.auth import issue_token

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT = ROOT / "test-artifacts" / "analytics-dashboard.png"
CHARTS = ("chart-repeat-trend", "chart-before-after", "chart-mh-weeks", "chart-gu", "chart-latency", "chart-dyads")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

# Counts the non-transparent pixels of a canvas: a drawn chart has thousands, an empty one none.
INK = """(id) => { const c = document.getElementById(id); const d = c.getContext('2d')
  .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""


@pytest.mark.browser
def test_dashboard_draws_its_charts_in_chromium(server, history, settings):
    from playwright.sync_api import sync_playwright
    base = server[1]
    token = issue_token(settings.dyade_token_secret, subject="analyste-test", role="analyst")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800}, locale="fr-CA")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: errors.append(f"external request {req.url}")
                    if not req.url.startswith(base) else None)
            page.goto(f"{base}/?sector={history.sector}&window_days=60")
            assert "/login" in page.url  # not signed in yet
            page.fill("textarea[name=token]", "pas-un-jeton")
            page.click("button[type=submit]")
            assert page.locator(".error").inner_text().startswith("Jeton invalide")
            page.fill("textarea[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-charts-ready='1']", timeout=30_000)
            assert page.url.startswith(f"{base}/?sector={history.sector}")
            for chart in CHARTS:
                assert page.get_attribute(f"#{chart}", "data-drawn") == "1", chart
                assert page.evaluate(INK, chart) > 500, f"{chart} is blank"
            assert page.locator("#kpi-cohort").inner_text() == "6"
            assert history.dyad("D1") in page.locator("#dyads-table").inner_text()
            assert f"l_{history.u}_hot" in page.locator("#locations-table").inner_text()
            assert page.locator("html").get_attribute("lang") == "fr"
            assert not errors, errors
            page.goto(f"{base}/?sector={history.sector}&lang=en")
            assert page.locator("h1").inner_text() == "Dyade — Program figures"
            page.goto(f"{base}/?sector={history.sector}&window_days=60")
            page.wait_for_selector("body[data-charts-ready='1']", timeout=30_000)
            ARTIFACT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
        finally:
            browser.close()
    assert ARTIFACT.stat().st_size > 10_000
