"""The desk in Debian's Chromium, as she uses it: on a phone (390×844, no page wider than the screen: tables
become cards) and on a desktop (what to approve first, within the first screen); finding a person by name;
confirming a suggestion. Screenshots in test-artifacts/infosocial/."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from dyade.auth import issue_token
from dyade.contracts import Criterion, ReferralFiled, ReferralSuggested, ReferrerType
from dyade.contracts.referrals import ReferralPayload, ReferralSuggestedPayload
from dyade.kafka import make_producer, publish, wait_until

from infosocial_helpers import SW_A, SW_B, create_active, frame_body, known_to_intake

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "infosocial"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LONG_REASON = ("Appels récurrents concernant la personne (30 jours) — intervention policière à haut risque possible "
               "lors d'une intervention antérieure, proche à joindre avant toute approche")
NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def desk_data(infosocial, broker, api, sw, triage, intake_url, token):
    """Something of everything on the desk: a frame waiting for approval, an active one, suggestions with long
    reasons, referrals filed by people, a person intake knows by name, in one sector."""
    unique = uuid.uuid4().hex[:8]
    sector = f"S{unique}"
    producer = make_producer(broker.bootstrap_servers)
    named = known_to_intake(intake_url, token, {"first_name": "Marie-Ève", "last_name": f"Desrochers-Longpré{unique}",
                                                "birth_date": "1979-10-03"})
    keys = [named] + ["p_" + uuid.uuid4().hex[:20] for _ in range(5)]
    suggestion_ids = []
    for i, key in enumerate(keys):
        call = f"C-web-{unique}-{i}"
        triage.add_call(key, call, NOW - timedelta(hours=i), sector=sector)
        criteria = ((Criterion.DANGEROSITE_IMMINENTE, Criterion.RECURRENCE) if i % 2 == 0
                    else (Criterion.RECURRENCE, Criterion.INTERVENTION_HAUT_RISQUE, Criterion.IMPLICATION_PARTENAIRES))
        payload = ReferralSuggestedPayload(suggestion_id=f"S-web-{unique}-{i}", person_key=key, call_id=call,
                                           criteria=criteria, reasons=(LONG_REASON, "Menaces de mort (danger imminent)"),
                                           ruleset_version="triage-r2-web")
        publish(producer, ReferralSuggested.new(payload=payload, occurred_at=NOW - timedelta(hours=i),
                                                source="triage", correlation_id=call)).get(timeout=10)
        suggestion_ids.append(payload.suggestion_id)
    referral_ids = []
    for i, key in enumerate("p_" + uuid.uuid4().hex[:20] for _ in range(3)):
        call = f"C-web-{unique}-r{i}"
        triage.add_call(key, call, NOW, sector=sector)
        rid = f"R-web-{unique}-{i}"
        payload = ReferralPayload(referral_id=rid, referrer_type=ReferrerType.PARTENAIRE_COMMUNAUTAIRE,
                                  referrer_key="k_partenaire", person_key=key,
                                  criteria=(Criterion.DANGEROSITE_PREVISIBLE, Criterion.COMPLEXITE_INTERVENTION),
                                  linked_call_ids=(call,), summary="Suivi demandé par l'organisme")
        publish(producer, ReferralFiled.new(payload=payload, occurred_at=NOW, source="intake",
                                            correlation_id=rid)).get(timeout=10)
        referral_ids.append(rid)
    producer.close()
    active = "p_" + uuid.uuid4().hex[:20]
    create_active(api, sw, active, display_name=f"Active {unique}")
    waiting = known_to_intake(intake_url, token, {"first_name": "Lucie", "last_name": f"Bergeron{unique}",
                                                  "birth_date": "1988-02-29"})
    assert api.post("/v1/frames", json=frame_body(waiting, display_name=f"À approuver {unique}"),
                    headers=sw[0]).status_code == 201
    wait_until(lambda: all(api.get(f"/v1/suggestions/{s}", headers=sw[0]).status_code == 200
                           for s in suggestion_ids) and
               all(api.get(f"/v1/referrals/{r}", headers=sw[0]).status_code == 200 for r in referral_ids),
               timeout=60)
    wait_until(lambda: api.get("/v1/desk/suggestions", params={"sector": sector}, headers=sw[0]).json()["total"]
               == len(keys), timeout=60, interval=0.2)
    return {"sector": sector, "named": named, "last_name": f"Desrochers-Longpré{unique}", "active": active,
            "waiting": waiting, "waiting_name": f"Lucie Bergeron{unique} (1988-02-29)", "suggestions": suggestion_ids,
            "referrals": referral_ids, "unique": unique}


def signed_in(browser, base, settings, viewport, subject=SW_A):
    ctx = browser.new_context(locale="fr-CA", viewport=viewport)
    page = ctx.new_page()
    page.goto(base + "/?access_token=" + issue_token(settings.dyade_token_secret, subject=subject,
                                                      role="social_worker"))
    page.wait_for_url(base + "/")
    return ctx, page


def fits(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.browser
def test_the_desk_fits_a_phone(browser, infosocial, settings, desk_data, reading_from, intake_url):
    reading_from(intake_url)
    base, _ = infosocial
    ctx, page = signed_in(browser, base, settings, PHONE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    s = desk_data["sector"]
    for name, path in (("desk", f"/?secteur={s}"), ("suggestions", f"/suggestions?secteur={s}"),
                       ("caseload", "/suivis?equipe=1"), ("frames", "/fiches?liste=approbations"),
                       ("person", f"/personnes/{desk_data['active']}"), ("search", "/recherche"),
                       ("desk-en", f"/?secteur={s}&lang=en")):
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
        width, screen = fits(page)
        assert width <= screen, f"{path}: {width} px wide on a {screen} px screen"
    # on the phone the tables are cards: a row is as wide as the screen, its cells stacked
    page.goto(base + f"/suggestions?secteur={s}&lang=fr")
    row = page.locator(f"tr[data-suggestion='{desk_data['suggestions'][0]}']")
    box = row.bounding_box()
    assert box["width"] <= PHONE["width"] and row.locator("td").first.bounding_box()["width"] > 300
    assert "Dangerosité imminente" in row.inner_text() and "dangerosite_imminente" not in row.inner_text()
    ctx.close()


@pytest.mark.browser
def test_on_a_desktop_what_to_approve_is_on_the_first_screen(browser, infosocial, settings, desk_data, reading_from,
                                                              intake_url):
    reading_from(intake_url)
    base, _ = infosocial
    ctx, page = signed_in(browser, base, settings, DESKTOP, subject=SW_B)
    page.goto(base + f"/?secteur={desk_data['sector']}")
    approvals = page.locator("#approbations")
    assert approvals.bounding_box()["y"] < DESKTOP["height"]
    assert page.locator("#revisions").bounding_box()["y"] < DESKTOP["height"]
    assert int(page.locator("#n-approbations").inner_text()) >= 1
    assert page.locator("#references tbody tr").count() == len(desk_data["referrals"])
    width, screen = fits(page)
    assert width <= screen
    page.screenshot(path=str(ARTIFACTS / "desktop-desk.png"), full_page=True)
    page.goto(base + f"/suggestions?secteur={desk_data['sector']}")
    rows = page.locator("#suggestions tbody tr")
    assert rows.count() == len(desk_data["suggestions"])
    first_three = [rows.nth(i).locator(".why").inner_text() for i in range(3)]
    assert all("Dangerosité imminente" in x for x in first_three)  # imminent danger ranked first
    page.screenshot(path=str(ARTIFACTS / "desktop-suggestions.png"), full_page=True)
    # the lists name a person as intake discloses her to this social worker, else by her key; never by the name
    # kept beside the frame (« À approuver … », « Active … »)
    unique = desk_data["unique"]
    for path in ("/", "/fiches", "/fiches?liste=approbations", "/suivis?equipe=1"):
        page.goto(base + path)
        text = page.inner_text("body")
        assert f"À approuver {unique}" not in text and f"Active {unique}" not in text, path
    page.goto(base + "/fiches")
    assert page.locator(f"#fiches a[href='/personnes/{desk_data['active']}']").inner_text() == desk_data["active"]
    assert page.locator(f"#fiches a[href='/personnes/{desk_data['waiting']}']").inner_text() == \
        desk_data["waiting_name"]
    # approving from the panel
    page.goto(base + "/")
    approvals.locator("a", has_text=desk_data["waiting_name"]).first.click()
    page.click("#approve")
    page.wait_for_url("**/personnes/*?msg=*")
    assert page.locator("#frame-status").inner_text() == "active"
    ctx.close()


@pytest.mark.browser
def test_finding_a_person_by_name_on_the_phone(browser, infosocial, settings, desk_data, reading_from, intake_url,
                                              token):
    reading_from(intake_url)
    base, _ = infosocial
    ctx, page = signed_in(browser, base, settings, PHONE)
    page.fill("#form-recherche input[name=nom]", desk_data["last_name"])
    page.fill("#form-recherche input[name=prenom]", "Marie-Ève")
    page.fill("#form-recherche input[name=naissance]", "1979-10-03")
    page.click("#form-recherche button")
    page.wait_for_url(base + "/recherche")
    result = page.locator("#resultat")
    assert f"Marie-Ève {desk_data['last_name']} (1979-10-03)" in result.inner_text()
    assert "à confirmer" in result.inner_text()  # her open suggestion
    assert desk_data["last_name"] not in page.url
    width, screen = fits(page)
    assert width <= screen
    page.screenshot(path=str(ARTIFACTS / "phone-search-result.png"), full_page=True)
    page.click("#ouvrir")
    page.wait_for_url(f"**/personnes/{desk_data['named']}")
    assert desk_data["last_name"] in page.locator(".identity").inner_text()
    reads = httpx.get(intake_url + "/v1/persons/identity-reads", params={"person_key": desk_data["named"]},
                      headers=token("admin")).json()
    assert ("intervenante-a", "infosocial: recherche par nom et date de naissance") in \
        [(x["subject"], x["purpose"]) for x in reads]
    ctx.close()


@pytest.mark.browser
def test_confirming_and_dismissing_suggestions_in_the_page(browser, infosocial, settings, desk_data, api, sw):
    base, _ = infosocial
    ctx, page = signed_in(browser, base, settings, PHONE)
    s = desk_data["sector"]
    page.goto(base + f"/suggestions?secteur={s}")
    keep, drop = desk_data["suggestions"][1], desk_data["suggestions"][2]
    row = page.locator(f"tr[data-suggestion='{keep}']")
    row.locator("form.confirm input[name=note]").fill("à évaluer cette semaine")
    row.locator("form.confirm button").click()
    page.wait_for_url(f"**/suggestions?secteur={s}&msg=*")
    assert "confirmée" in page.locator(".msg").inner_text()
    assert page.locator(f"tr[data-suggestion='{keep}']").count() == 0
    row = page.locator(f"tr[data-suggestion='{drop}']")
    row.locator("details summary").click()
    row.locator("form.dismiss select[name=motif]").select_option("autre")
    row.locator("form.dismiss button").click()
    page.wait_for_url("**/suggestions?*error=*")
    assert "préciser" in page.locator(".err[role=alert]").inner_text()
    row = page.locator(f"tr[data-suggestion='{drop}']")
    row.locator("details summary").click()
    row.locator("form.dismiss select[name=motif]").select_option("hors_territoire")
    row.locator("form.dismiss button").click()
    page.wait_for_url("**/suggestions?*msg=*")
    assert api.get(f"/v1/suggestions/{drop}", headers=sw[0]).json()["dismiss_reason"] == "hors_territoire"
    page.goto(base + f"/?secteur={s}")
    assert page.locator(f"tr[data-referral='{keep}']").count() == 1
    assert "Suggestion du triage confirmée" in page.locator(f"tr[data-referral='{keep}']").inner_text()
    page.screenshot(path=str(ARTIFACTS / "phone-desk-after-confirm.png"), full_page=True)
    ctx.close()
