"""A call goes all the way: accepted at intake, triaged (with reasons), routed to the on-duty dyad of its
sector, seen live on the field app in Chromium, acknowledged there, and counted by analytics."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dyade.kafka import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]


def url(platform, service: str, path: str) -> str:
    return platform.settings.url_of(service) + path


def crisis_call(call_id: str, sector: str, **over) -> dict:
    body = {
        "call_id": call_id, "revision": 1,
        "received_at": (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(),
        "nature_code": "SUIC", "priority": 1,
        "location": {"address": "1200 boulevard des Seigneurs", "sector": sector},
        "persons": [{"first_name": "Jean-François", "last_name": "Tremblay", "birth_date": "1981-04-12",
                     "role": "sujet"}],
        "caller_relation": "famille", "flags": ["idees_suicidaires", "plan_suicidaire"],
        "narrative": "Sa sœur appelle: il parle de mettre fin à ses jours ce soir, il a un plan.",
    }
    body.update(over)
    return body


def get_json(client, platform, service, path, headers):
    r = client.get(url(platform, service, path), headers=headers)
    return r.json() if r.status_code == 200 else None


def test_a_crisis_call_reaches_the_dyad_with_its_reasons(platform, client, headers_for, unique):
    sector = f"E{unique}"
    r = client.put(url(platform, "notifier", f"/v1/dyads/D{unique}"), headers=headers_for("supervisor"),
                   json={"name": "Dyade test", "sector": sector, "shifts": ALWAYS,
                         "members": [{"name": "Agente Roy", "role": "policier"},
                                     {"name": "Marc Côté", "role": "intervenant"}]})
    assert r.status_code in (200, 201), r.text

    call_id = f"E2E-{unique}"
    dispatch = headers_for("dispatch")
    r = client.post(url(platform, "intake", "/v1/calls"), json=crisis_call(call_id, sector), headers=dispatch)
    assert r.status_code == 202, r.text

    decision = wait_until(lambda: get_json(client, platform, "triage", f"/v1/calls/{call_id}/decision",
                                           headers_for("dispatch")), timeout=60, interval=0.3)
    text = str(decision)
    assert "imminent" in text  # suicidal ideation with a plan (C-SSRS) is imminent danger
    assert "Tremblay" not in text and "Jean" not in text  # triage only knows the pseudonymous key

    dyad = headers_for("dyad", subject="agente-roy", dyad_id=f"D{unique}", sector=sector)
    alerts = wait_until(lambda: [a for a in (get_json(client, platform, "notifier", "/v1/alerts", dyad) or {})
                                 .get("alerts", []) if a.get("call_id") == call_id], timeout=60, interval=0.3)
    assert alerts[0]["dyad_id"] == f"D{unique}"


@pytest.mark.browser
def test_an_alert_posted_at_intake_is_acknowledged_on_the_field_app(platform, client, headers_for, unique):
    from playwright.sync_api import expect, sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium manquant: apt-get install -y chromium")
    sector = f"B{unique}"
    client.put(url(platform, "notifier", f"/v1/dyads/B{unique}"), headers=headers_for("supervisor"),
               json={"name": "Dyade de nuit", "sector": sector, "shifts": ALWAYS,
                     "members": [{"name": "Agent Gagnon", "role": "policier"},
                                 {"name": "Julie Roy", "role": "intervenant"}]}).raise_for_status()
    from dyade.auth import issue_token
    jwt = issue_token(platform.settings.dyade_token_secret, subject="agent-gagnon", role="dyad",
                      dyad_id=f"B{unique}", sector=sector)
    base = platform.settings.url_of("notifier")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
        page.goto(f"{base}/")
        page.fill("#token", jwt)
        page.click("button[type=submit]")
        expect(page.locator("#live")).to_have_text("En direct", timeout=30_000)

        call_id = f"UI-{unique}"
        r = client.post(url(platform, "intake", "/v1/calls"), headers=headers_for("dispatch"),
                        json=crisis_call(call_id, sector, persons=[
                            {"first_name": "Sylvie", "last_name": "Bélanger", "birth_date": "1975-09-30",
                             "role": "sujet"}]))
        assert r.status_code == 202, r.text
        card = page.locator("[data-alert]").filter(has_text="mettre fin à ses jours")
        expect(card).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "alerte-recue.png"))
        card.first.click()
        dialog = page.locator("#detail")
        dialog.locator("[data-action=acknowledge]").click()
        expect(dialog.locator("#d-state")).to_have_text("prise en charge", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "alerte-prise-en-charge.png"))
        browser.close()

    dyad = headers_for("dyad", subject="agent-gagnon", dyad_id=f"B{unique}", sector=sector)
    alert = wait_until(lambda: [a for a in get_json(client, platform, "notifier", "/v1/alerts", dyad)["alerts"]
                                if a.get("call_id") == call_id and a.get("state") == "acknowledged"], timeout=30)
    assert alert
    # analytics hears about it through alerts.changed.v1: one alert, acknowledged, with a time to acknowledge
    def dyad_row():
        body = get_json(client, platform, "analytics", "/v1/figures/dyads", headers_for("analyst")) or {}
        rows = [d for d in body.get("dyads", []) if d["dyad_id"] == f"B{unique}" and d["acknowledged"] == 1]
        return rows[0] if rows else None
    row = wait_until(dyad_row, timeout=60, interval=0.5)
    assert row["alerts"] == 1 and row["time_to_ack_s"]["n"] == 1


def test_a_call_with_every_field_at_its_longest_is_alerted_and_counted(platform, client, headers_for, unique):
    """What intake accepts, every service after it can store: a sector and a nature code of the longest
    length intake allows (dyade.contracts.vocabulary), an address of 200 characters. Before, the notifier
    kept 16 characters of sector and 32 of nature code: such a call was dead-lettered, and no dyad heard of it."""
    from dyade.contracts.vocabulary import NATURE_CODE_MAX_LENGTH, SECTOR_MAX_LENGTH
    sector = (f"L{unique}" + "x" * SECTOR_MAX_LENGTH)[:SECTOR_MAX_LENGTH]
    nature = (f"N-{unique}-" + "9" * NATURE_CODE_MAX_LENGTH)[:NATURE_CODE_MAX_LENGTH]
    table = f"longue-{unique}"
    r = client.put(url(platform, "intake", f"/v1/code-tables/{table}"), headers=headers_for("admin"),
                   json={"description": "codes longs", "source_system": "rao-long", "unknown_code": "reject",
                         "codes": {nature: "suicidaire"}, "reason": "essai des longueurs"})
    assert r.status_code == 201, r.text
    r = client.put(url(platform, "notifier", f"/v1/dyads/L{unique}"), headers=headers_for("supervisor"),
                   json={"name": "Dyade longue", "sector": sector, "shifts": ALWAYS,
                         "members": [{"name": "Agente Roy", "role": "policier"},
                                     {"name": "Marc Côté", "role": "intervenant"}]})
    assert r.status_code in (200, 201), r.text
    call_id = (f"LONG-{unique}-" + "0" * 64)[:64]
    address = ("1200 boulevard des Seigneurs Est, appartement du fond, " * 5)[:200]
    body = crisis_call(call_id, sector, nature_code=nature, location={"address": address, "sector": sector})
    r = client.post(url(platform, "intake", f"/v1/calls?code_table={table}"), json=body,
                    headers=headers_for("dispatch"))
    assert r.status_code == 202, r.text

    dyad = headers_for("dyad", subject="agente-roy", dyad_id=f"L{unique}", sector=sector)
    [alert] = wait_until(lambda: [a for a in (get_json(client, platform, "notifier", "/v1/alerts", dyad) or {})
                                  .get("alerts", []) if a.get("call_id") == call_id], timeout=60, interval=0.3)
    assert alert["dyad_id"] == f"L{unique}" and alert["sector"] == sector
    overview = wait_until(lambda: (get_json(client, platform, "analytics", f"/v1/figures/overview?sector={sector}",
                                            headers_for("analyst")) or {}).get("calls"), timeout=60, interval=0.5)
    assert overview == 1
