"""The dashboard, opened in Debian's Chromium after signing in through the login form, draws its charts, at a
desktop width and on a phone (390 × 844: nothing wider than the screen)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dyade.auth import issue_token

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT = ROOT / "test-artifacts" / "analytics-dashboard.png"
PHONE_ARTIFACT = ROOT / "test-artifacts" / "analytics-dashboard-phone.png"  # the whole page
PHONE_PARTS = {"top": None, "key-figure": "#key-figure", "latency": "#latency-basis >> xpath=.."}  # one screen, two panels
PHONE = {"width": 390, "height": 844}
CHARTS = ("chart-repeat-trend", "chart-before-after", "chart-mh-weeks", "chart-gu", "chart-latency", "chart-dyads")

# Counts the non-transparent pixels of a canvas: a drawn chart has thousands, an empty one none.
INK = """(id) => { const c = document.getElementById(id); const d = c.getContext('2d')
  .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""


@pytest.mark.browser
def test_dashboard_draws_its_charts_in_chromium(browser, server, history, settings):
    base = server[1]
    token = issue_token(settings.dyade_token_secret, subject="analyste-test", role="analyst")
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, locale="fr-CA")
    try:
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
        assert page.locator("#kpi-cohort").inner_text() == "7"
        assert page.locator("#def-cohort").inner_text() == "7 personnes, suivi médian 60 jours"
        assert "heure de Montréal (H" in page.locator("#zone").inner_text()
        assert page.locator("#kpi-suggested").inner_text() == "1"
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
        assert page.evaluate(FITS), "the desktop page is wider than the window"
    finally:
        page.close()
    assert ARTIFACT.stat().st_size > 10_000


# Every chart fits the screen: the document is not wider than the window, nor is any chart's box.
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
CHART_BOXES = """() => [...document.querySelectorAll('canvas')].map(c => {
  const r = c.getBoundingClientRect(); return [c.id, Math.round(r.left), Math.round(r.right), Math.round(r.width)]; })"""


@pytest.mark.browser
def test_dashboard_fits_a_phone(browser, server, history, settings):
    base = server[1]
    token = issue_token(settings.dyade_token_secret, subject="analyste-test", role="analyst")
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="fr-CA")
    try:
        context.add_cookies([{"name": "dyade_token", "value": token, "url": base}])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/?sector={history.sector}&window_days=60")
        page.wait_for_selector("body[data-charts-ready='1']", timeout=30_000)
        width = page.evaluate("window.innerWidth")
        assert width == PHONE["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate(FITS)
        for chart, left, right, w in page.evaluate(CHART_BOXES):
            assert left >= 0 and right <= width, (chart, left, right)
            assert w > 250, (chart, w)  # drawn across the screen, not squeezed
            assert page.evaluate(INK, chart) > 500, f"{chart} is blank"
        assert page.locator("#definition").is_visible()
        assert not errors, errors
        PHONE_ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(PHONE_ARTIFACT), full_page=True)
        for name, selector in PHONE_PARTS.items():
            path = str(PHONE_ARTIFACT).replace(".png", f"-{name}.png")
            (page.locator(selector).screenshot(path=path) if selector else page.screenshot(path=path))
    finally:
        context.close()
    assert PHONE_ARTIFACT.stat().st_size > 10_000
