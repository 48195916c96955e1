"""dyade.access: the need-to-know rule, without any service."""
from __future__ import annotations

import pytest

from dyade import access
from dyade.auth import Principal
from dyade.contracts import Role

D1 = Principal("membre-D1", Role.DYAD, sector="S1", dyad_id="D1")
D2 = Principal("membre-D2", Role.DYAD, sector="S2", dyad_id="D2")
NO_CLAIMS = Principal("x", Role.DYAD)
NO_SECTOR = Principal("x", Role.DYAD, dyad_id="D1")
NO_DYAD = Principal("x", Role.DYAD, sector="S1")


def test_a_dyad_sees_what_is_routed_to_it_or_in_its_sector():
    assert access.may_see(D1, sectors=["S1"])
    assert access.may_see(D1, dyad_ids=["D1"], sectors=["S2"])   # a neighbour sector's call sent to D1
    assert not access.may_see(D1, dyad_ids=["D2"], sectors=["S2"])
    assert not access.may_see(D2, sectors=["S1"])
    assert not access.may_see(D1, dyad_ids=[None], sectors=[None])  # no sector: the supervisor's
    assert access.may_see(D1, sectors=["S2", "S1"])               # any of them


@pytest.mark.parametrize("role", [r for r in Role if r != Role.DYAD])
def test_other_roles_are_not_limited_by_sector(role):
    p = Principal("x", role)
    assert not access.scoped(p) and access.may_see(p, sectors=["S9"]) and access.missing_claims(p) == ()
    access.require(p, sectors=["S9"])  # no exception: their role check is the endpoint's


@pytest.mark.parametrize("who, missing, named", [
    (NO_CLAIMS, ("dyad", "sector"), "`dyad` (la dyade) ni `sector` (le secteur)"),
    (NO_SECTOR, ("sector",), "`sector` (le secteur)"),
    (NO_DYAD, ("dyad",), "`dyad` (la dyade)"),
])
def test_a_dyad_token_without_its_claims_is_refused_naming_them(who, missing, named):
    assert access.missing_claims(who) == missing
    assert not access.may_see(who, dyad_ids=["D1"], sectors=["S1"])
    with pytest.raises(access.AccessDenied) as exc:
        access.require(who, dyad_ids=["D1"], sectors=["S1"])
    assert exc.value.status_code == 403
    assert named in exc.value.detail and "jeton de dyade sans revendication" in exc.value.detail


def test_out_of_sector_says_so_in_french():
    with pytest.raises(access.AccessDenied) as exc:
        access.require(D1, dyad_ids=["D2"], sectors=["S2"], what="l'alerte A-1")
    assert exc.value.detail == "l'alerte A-1 : hors de votre secteur (votre secteur : S1, votre dyade : D1)"


VIEW = {"interventions_a_privilegier": ["Parler calmement"], "interventions_a_eviter": [],
        "contacts": [{"name": "Sœur", "role": "proche", "phone": "450-555-0101"}], "niveau_tolerance": "faible",
        "mode_liberation": None, "risques": ["Fugue"], "particularites": None, "legal_basis": "consentement"}


def test_frame_views_follow_info_social():
    from services.infosocial.domain.visibility import VIEW_OF_ROLE
    assert VIEW_OF_ROLE == access.FRAME_VIEWS  # one table
    assert access.police_view_for(Role.DYAD, VIEW) == VIEW
    assert access.police_view_for(Role.OFFICER, VIEW) == VIEW
    assert access.police_view_for(Role.DISPATCH, VIEW) == {"risques": ["Fugue"]}
    for role in (Role.SUPERVISOR, Role.ADMIN, Role.CALLTAKER, Role.PARTNER, Role.ANALYST):
        assert access.police_view_for(role, VIEW) is None, role
    assert access.frame_view(Role.SUPERVISOR) is None
    assert set(access.POLICE_VIEW_FIELDS) == set(VIEW)
