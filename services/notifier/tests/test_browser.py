"""The field app in Debian's Chromium: log in with a dyad token, see a triage decision appear live with
where to go, open it (police view), acknowledge it (the button goes, a confirmation shows), and find
AlertChanged(acknowledged) on the topic; one entry per follow-up; the supervisor's console on a desktop
(grid, filters, counts, sort, pages, bulk close) and on a phone."""
from __future__ import annotations

from pathlib import Path

import pytest

from dyade.kafka import wait_until
from services.notifier.tests.conftest import (ALWAYS, alert_for, alerted, busy, call_update, decision, frame, put_dyad,
                                              send)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "notifier"


@pytest.mark.browser
def test_alert_appears_live_and_is_acknowledged_in_the_app(browser, notifier, http, base_url, supervisor, producer,
                                                            clock, unique, settings, alert_events):
    from playwright.sync_api import expect
    from dyade.auth import issue_token

    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_b{unique}"
    send(producer, frame(person))
    wait_until(lambda: _has_frame(notifier, person), timeout=60)
    jwt = issue_token(settings.dyade_token_secret, subject="agente-nuit", role="dyad", dyad_id=f"A{unique}",
                      sector=f"X{unique}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
    try:
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
                                persons=[person], summary="Homme agité devant le dépanneur, connu du programme",
                                address="4500 bloc boul. Saint-Laurent", lat=45.52, lon=-73.59, nature_code="10-17"))
        alert = alert_for(notifier, f"ui-{unique}")
        card = page.locator(f"[data-alert='{alert.alert_id}']")
        expect(card).to_contain_text("Dyade prioritaire", timeout=30_000)
        expect(card).to_contain_text("Homme agité devant le dépanneur")
        expect(card).to_contain_text(f"4500 bloc boul. Saint-Laurent · secteur X{unique}")
        expect(card.locator("a[href='geo:45.52,-73.59']")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "liste.png"))

        card.click()
        dialog = page.locator("#detail")
        expect(dialog).to_contain_text("Parler calmement, proposer un café", timeout=15_000)
        expect(dialog).to_contain_text("Uniformes multiples à la porte")
        expect(dialog.locator("a[href='tel:450-555-0101']")).to_be_visible()
        where = dialog.locator("#d-where")
        expect(where).to_contain_text("4500 bloc boul. Saint-Laurent")
        expect(where).to_contain_text("Nature 10-17")
        expect(where.locator("a[href='geo:45.52,-73.59']")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "detail.png"))
        ack = dialog.locator("[data-action=acknowledge]")
        expect(ack).to_be_visible()
        ack.click()
        expect(dialog.locator("#d-state")).to_have_text("prise en charge", timeout=15_000)
        expect(ack).to_be_hidden()                               # the primary button does not stay
        expect(dialog.locator("#d-confirm")).to_be_visible()     # and the dyad sees it worked
        expect(dialog.locator("#d-confirm")).to_contain_text("Prise en charge à")
        expect(page.locator("#toast")).to_have_text("Alerte prise en charge")
        expect(card.locator(".badge.state")).to_have_text("prise en charge")
        page.screenshot(path=str(ARTIFACTS / "prise-en-charge.png"))
        dialog.locator("[data-close]").click()

        # a follow-up reminder is one entry on the home screen, not three
        sw = {"Authorization": "Bearer " + issue_token(settings.dyade_token_secret, subject="ts", role="social_worker")}
        r = http.put(f"/v1/persons/{person}/followup-plan", headers=sw, json={
            "dyad_id": f"A{unique}", "every_minutes": 240, "person_label": "M. B.",
            "first_due_at": clock().isoformat()})
        assert r.status_code == 200, r.text
        notifier.tick(clock())
        entries = page.locator(f"[data-followup='{person}']")
        expect(entries).to_have_count(1, timeout=15_000)
        expect(entries).to_contain_text("Suivi à faire — M. B.")
        expect(entries).to_contain_text("4500 bloc boul. Saint-Laurent")   # the person's last known place
        page.reload()
        expect(page.locator("#live")).to_have_text("En direct", timeout=30_000)
        expect(page.locator(f"[data-followup='{person}']")).to_have_count(1)
        expect(page.locator("#alerts [data-alert]").filter(has_text="Suivi prévu")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "suivis.png"))
        page.set_viewport_size({"width": 1366, "height": 900})   # a desktop: the width is used, not a centred phone
        alerts_box = page.locator(".panel-main").bounding_box()
        today_box = page.locator(".panel-side").bounding_box()
        assert today_box["x"] > alerts_box["x"] + alerts_box["width"] - 1 and alerts_box["width"] > 700
        page.screenshot(path=str(ARTIFACTS / "dyade-bureau.png"))
    finally:
        page.close()
    assert errors == []
    states = alert_events.wait_for(alert.alert_id, "acknowledged")
    assert states[0] == "created" and states[-1] == "acknowledged" and "seen" in states


def _has_frame(notifier, person):
    from services.notifier.adapters.models import FrameRow
    with notifier.sessions() as s:
        return s.get(FrameRow, person) is not None


@pytest.mark.browser
def test_supervisor_sees_a_call_missed_for_capacity_and_closes_it(browser, notifier, http, base_url, supervisor,
                                                                  producer, clock, unique, settings, alert_events):
    from playwright.sync_api import expect
    from dyade.auth import issue_token

    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    send(producer, call_update(f"occ-{unique}", "on_scene", at=clock(), dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"), timeout=60)
    alert = alerted(notifier, producer, f"cap-{unique}", sector=f"X{unique}", at=clock())
    assert alert.state == "missed_for_capacity"
    jwt = issue_token(settings.dyade_token_secret, subject="superviseure", role="supervisor")
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
    try:
        page.goto(f"{base_url}/connexion")
        page.fill("#token", jwt)
        page.click("button[type=submit]")
        card = page.locator(f"[data-alert='{alert.alert_id}']")
        expect(card).to_contain_text("manquée (capacité)", timeout=30_000)
        expect(page.locator("#counts [data-state=missed_for_capacity]")).to_be_visible()
        card.click()
        dialog = page.locator("#detail")
        expect(dialog.locator("[data-action=acknowledge]")).to_be_hidden()
        dialog.locator("summary", has_text="Terminer").click()
        dialog.locator("select[name=disposition]").select_option("aucune_intervention")
        dialog.locator("form[data-form=close] button").click()
        expect(card).to_have_count(0, timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "supervision.png"))
    finally:
        page.close()
    assert alert_events.wait_for(alert.alert_id, "closed")[-1] == "closed"


@pytest.mark.browser
def test_supervisor_console_on_a_desktop_filters_sorts_pages_and_closes_in_bulk(
        browser, notifier, http, base_url, supervisor, producer, clock, unique, settings, alert_events):
    from datetime import timedelta

    from playwright.sync_api import expect
    from dyade.auth import issue_token

    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    put_dyad(http, supervisor, f"B{unique}", f"Y{unique}", shifts=ALWAYS)
    now = clock()
    made = {}
    for i in range(6):
        sector = f"X{unique}" if i < 4 else f"Y{unique}"
        level = "securite_policiers" if i == 1 else "dyade_suggeree"
        send(producer, decision(f"w{i}-{unique}", sector=sector, at=now - timedelta(minutes=i), level=level,
                                address=f"{100 * (i + 1)} bloc rue Test"))
        made[i] = alert_for(notifier, f"w{i}-{unique}").alert_id
    jwt = issue_token(settings.dyade_token_secret, subject="superviseure", role="supervisor")
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="fr-CA")
    try:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base_url}/connexion")
        page.fill("#token", jwt)
        page.click("button[type=submit]")
        expect(page.locator("#live")).to_have_text("En direct", timeout=30_000)
        table = page.locator("#table")
        expect(table.locator("thead")).to_be_visible()       # a grid that uses the width, not the phone cards
        assert table.bounding_box()["width"] > 900
        page.select_option("#filters select[name=sector]", f"X{unique}")
        rows = page.locator("#alerts tr[data-alert]")
        expect(rows).to_have_count(4, timeout=15_000)
        expect(page.locator("#page-info")).to_contain_text("4 alerte(s)")
        for i in range(4):
            expect(page.locator(f"[data-alert='{made[i]}']")).to_be_visible()
        expect(page.locator(f"[data-alert='{made[4]}']")).to_have_count(0)
        page.select_option("#filters select[name=level]", "securite_policiers")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-alert", made[1])
        page.select_option("#filters select[name=level]", "")
        expect(rows).to_have_count(4)
        page.select_option("#filters select[name=sort]", "last_call_at:desc")   # latest call first: w0 … w3
        expect(rows.nth(3)).to_have_attribute("data-alert", made[3])
        assert [rows.nth(i).get_attribute("data-alert") for i in range(4)] == [made[i] for i in range(4)]
        page.select_option("#filters select[name=sort]", "level:desc")
        expect(rows.first).to_have_attribute("data-alert", made[1])
        page.select_option("#filters select[name=per_page]", "25")
        chip = page.locator("#counts [data-state=created], #counts [data-state=delivered]").first
        expect(chip).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "console-bureau.png"), full_page=True)

        # bulk close two of them with a reason
        page.locator(f"[data-alert='{made[2]}'] td.pick input").check()
        page.locator(f"[data-alert='{made[3]}'] td.pick input").check()
        bulk = page.locator("#bulk")
        expect(bulk).to_be_visible()
        expect(bulk).to_contain_text("2 sélectionnée(s)")
        bulk.locator("input[name=reason]").fill("doublons d'un même événement")
        bulk.locator("button[type=submit]").click()
        expect(page.locator("#toast")).to_contain_text("2 alerte(s) fermée(s)")
        expect(rows).to_have_count(2, timeout=15_000)
        expect(bulk).to_be_hidden()
        page.select_option("#filters select[name=state]", "closed")
        expect(rows).to_have_count(2)
        expect(page.locator("#counts [data-state=closed]")).to_contain_text("2")

        # paging: one per page over the sector's open alerts
        page.select_option("#filters select[name=state]", "")
        page.evaluate("document.querySelector('#filters select[name=per_page]').append(new Option('1', '1'))")
        page.select_option("#filters select[name=per_page]", "1")
        expect(rows).to_have_count(1)
        expect(page.locator("#page-info")).to_contain_text("Page 1 / 2")
        page.click("#next")
        expect(page.locator("#page-info")).to_contain_text("Page 2 / 2")
        expect(page.locator("#next")).to_be_disabled()

        # the same console on a phone: rows become cards, filters still there
        page.set_viewport_size({"width": 390, "height": 844})
        expect(table.locator("thead")).to_be_hidden()
        expect(page.locator("#filters select[name=sector]")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "console-telephone.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert alert_events.wait_for(made[2], "closed")[-1] == "closed"
