"""The social worker's page in Debian's Chromium: log in, open the queue, write a frame, have a second
person approve it, see it active; record consent."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dyade.auth import issue_token
from dyade.contracts import Criterion, ReferralFiled, ReferrerType
from dyade.contracts.referrals import ReferralPayload
from dyade.kafka import make_producer, publish, wait_until

from infosocial_helpers import SW_A, SW_B

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "infosocial"


@pytest.mark.browser
def test_queue_write_approve_and_see_active(browser, infosocial, settings, broker, api, sw):
    base, _ = infosocial
    person = "p_" + uuid.uuid4().hex[:20]
    rid = f"R-web-{uuid.uuid4().hex[:8]}"
    payload = ReferralPayload(referral_id=rid, referrer_type=ReferrerType.PREPOSE_911, referrer_key="k_911",
                              person_key=person, criteria=(Criterion.DANGEROSITE_PREVISIBLE,))
    producer = make_producer(broker.bootstrap_servers)
    publish(producer, ReferralFiled.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="intake",
                                        correlation_id=rid)).get(timeout=10)
    producer.close()
    wait_until(lambda: api.get(f"/v1/referrals/{rid}", headers=sw[0]).status_code == 200, timeout=60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    secret = settings.dyade_token_secret

    # Author: logs in with the form, finds the referral in the queue, makes it admissible, writes the frame.
    author = browser.new_context(locale="fr-CA")
    page = author.new_page()
    page.goto(base + "/")
    assert page.get_by_role("heading", name="Connexion").is_visible()
    page.fill("#token", issue_token(secret, subject=SW_A, role="social_worker"))
    page.click("text=Se connecter")
    page.wait_for_url(base + "/")
    page.goto(base + "/?tri=recentes")
    row = page.locator(f"tr[data-referral='{rid}']")
    row.wait_for()
    assert "Reçue" in row.locator(".status").inner_text()
    row.locator("select[name=status]").select_option("admissible")
    row.locator("button").click()
    page.wait_for_url("**/?tri=recentes&msg=*")
    assert "Admissible" in page.locator(f"tr[data-referral='{rid}'] .status").inner_text()
    page.locator(f"tr[data-referral='{rid}'] a", has_text="créer").click()
    page.wait_for_url("**/fiches/nouvelle?person_key=*")
    assert page.input_value("#person_key") == person
    page.fill("#display_name", "Jeanne Web")
    page.fill("#particularites", "Anxiété sévère, suivie au CLSC")
    page.fill("#interventions_a_privilegier", "[police] Se présenter calmement, une seule voix\nProposer d'appeler sa sœur")
    page.fill("#interventions_a_eviter", "[police] Éviter les gyrophares devant l'immeuble")
    page.fill("#contacts", "Sœur ; proche ; 450-555-0199 ; en soirée")
    page.fill("#risques", "[police] Peut se barricader")
    page.select_option("#consent_status", "obtenu")
    page.click("#save")
    page.wait_for_url(f"**/personnes/{person}?msg=*")
    assert "en attente" in page.locator("#frame-status").inner_text()
    page.click("#approve")  # the author tries to approve her own frame
    page.wait_for_url(f"**/personnes/{person}?error=*")
    assert "autre personne" in page.locator(".err[role=alert]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "1-author.png"), full_page=True)

    # Second social worker (access_token link), approves from the queue's list of pending frames.
    approver = browser.new_context(locale="fr-CA")
    page2 = approver.new_page()
    page2.goto(base + "/?access_token=" + issue_token(secret, subject=SW_B, role="social_worker"))
    # the panel names no one by the frame's « Nom »: a person intake did not disclose is shown by her key
    assert "Jeanne Web" not in page2.locator("#a-faire").inner_text()
    page2.locator(f"#approbations a[href='/personnes/{person}']", has_text=person).first.click()
    page2.click("#approve")
    page2.wait_for_url(f"**/personnes/{person}?msg=*")
    assert page2.locator("#frame-status").inner_text() == "active"
    assert "Se présenter calmement" in page2.content()
    page2.screenshot(path=str(ARTIFACTS / "2-approved.png"), full_page=True)

    # Consent refused: the police view loses the health-derived elements at once.
    page2.select_option("#c-status", "refuse")
    page2.fill("#c-note", "refus au téléphone")
    page2.click("#consentement button")
    page2.wait_for_url(f"**/personnes/{person}?msg=*")
    assert "aucune" in page2.locator("#consentement").inner_text()
    police_side = page2.locator("#vue-policiere").inner_text()
    assert "Se présenter calmement" in police_side and "Anxiété" not in police_side
    officer = {"Authorization": "Bearer " + issue_token(secret, subject="agent-9", role="officer")}
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["status"] == "active" and "Anxiété" not in repr(view)
    assert view["police_view"]["interventions_a_privilegier"] == ["Se présenter calmement, une seule voix"]
    # No longer recurrent: triage is told; then the frame is archived and leaves the terminals.
    page2.fill("#o-note", "Hébergée en ressource, situation stable")
    page2.click("#recurrence button")
    page2.wait_for_url(f"**/personnes/{person}?msg=*")
    assert "Triage informé" in page2.locator(".msg").inner_text()
    page2.fill("#a-reason", "Déménagée hors territoire")
    page2.click("#archiver button")
    page2.wait_for_url(f"**/personnes/{person}?msg=*")
    assert api.get(f"/v1/persons/{person}/frame", headers=officer).status_code == 404
    author.close()
    approver.close()


@pytest.mark.browser
def test_other_roles_cannot_use_the_page(browser, infosocial, settings):
    base, _ = infosocial
    ctx = browser.new_context()
    page = ctx.new_page()
    resp = page.goto(base + "/?access_token=" + issue_token(settings.dyade_token_secret, subject="a", role="officer"))
    assert resp.status == 403 and "n'a pas accès" in page.content()
    ctx.close()
