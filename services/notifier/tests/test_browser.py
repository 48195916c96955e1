"""The field app in Debian's Chromium: log in with a dyad token, see a triage decision appear live,
open it (police view), acknowledge it, and find AlertChanged(acknowledged) on the topic."""
from __future__ import annotations

from pathlib import Path

import pytest

from dyade.kafka import wait_until
from services.notifier.tests.conftest import (ALWAYS, alert_for, busy, call_update, decision, frame, put_dyad,
                                              send)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "notifier"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@pytest.mark.browser
def test_alert_appears_live_and_is_acknowledged_in_the_app(notifier, http, base_url, supervisor, producer,
                                                            clock, unique, settings, alert_events):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium manquant: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright
    from dyade.auth import issue_token

    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_b{unique}"
    send(producer, frame(person))
    wait_until(lambda: _has_frame(notifier, person), timeout=60)
    jwt = issue_token(settings.dyade_token_secret, subject="agente-nuit", role="dyad", dyad_id=f"A{unique}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base_url}/")
        expect(page).to_have_url(f"{base_url}/connexion")
        page.fill("#token", "pas-un-jeton-valide")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("Jeton invalide")
        page.fill("#token", jwt)
        page.click("button[type=submit]")
        expect(page.locator("#live")).to_have_text("En direct", timeout=30_000)
        expect(page.locator("#empty")).to_be_visible()

        send(producer, decision(f"ui-{unique}", sector=f"X{unique}", at=clock(), level="dyade_prioritaire",
                                persons=[person], summary="Homme agité devant le dépanneur, connu du programme"))
        alert = alert_for(notifier, f"ui-{unique}")
        card = page.locator(f"[data-alert='{alert.alert_id}']")
        expect(card).to_contain_text("Dyade prioritaire", timeout=30_000)
        expect(card).to_contain_text("Homme agité devant le dépanneur")
        page.screenshot(path=str(ARTIFACTS / "liste.png"))

        card.click()
        dialog = page.locator("#detail")
        expect(dialog).to_contain_text("Parler calmement, proposer un café", timeout=15_000)
        expect(dialog).to_contain_text("Uniformes multiples à la porte")
        expect(dialog.locator("a[href='tel:450-555-0101']")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "detail.png"))
        dialog.locator("[data-action=acknowledge]").click()
        expect(dialog.locator("#d-state")).to_have_text("prise en charge", timeout=15_000)
        browser.close()
    assert errors == []
    states = alert_events.wait_for(alert.alert_id, "acknowledged")
    assert states[0] == "created" and states[-1] == "acknowledged" and "seen" in states


def _has_frame(notifier, person):
    from services.notifier.models import FrameRow
    with notifier.sessions() as s:
        return s.get(FrameRow, person) is not None


@pytest.mark.browser
def test_supervisor_sees_a_call_missed_for_capacity_and_closes_it(notifier, http, base_url, supervisor, producer,
                                                                  clock, unique, settings, alert_events):
    from playwright.sync_api import expect, sync_playwright
    from dyade.auth import issue_token

    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    send(producer, call_update(f"occ-{unique}", "on_scene", at=clock(), dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"), timeout=60)
    send(producer, decision(f"cap-{unique}", sector=f"X{unique}", at=clock()))
    alert = alert_for(notifier, f"cap-{unique}")
    assert alert.state == "missed_for_capacity"
    jwt = issue_token(settings.dyade_token_secret, subject="superviseure", role="supervisor")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
        page.goto(f"{base_url}/connexion")
        page.fill("#token", jwt)
        page.click("button[type=submit]")
        card = page.locator(f"[data-alert='{alert.alert_id}']")
        expect(card).to_contain_text("manquée (capacité)", timeout=30_000)
        card.click()
        dialog = page.locator("#detail")
        expect(dialog.locator("[data-action=acknowledge]")).to_be_hidden()
        dialog.locator("summary", has_text="Terminer").click()
        dialog.locator("select[name=disposition]").select_option("aucune_intervention")
        dialog.locator("form[data-form=close] button").click()
        expect(card).to_have_count(0, timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "supervision.png"))
        browser.close()
    assert alert_events.wait_for(alert.alert_id, "closed")[-1] == "closed"
