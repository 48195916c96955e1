"""The program's own definitions, once: triage flags on them and analytics counts by them, so the figure the
director reads and the flag the dyad sees can never disagree.

A *grande utilisatrice* (high utiliser): at least GRANDE_UTILISATRICE_CALLS crisis calls about the person in
GRANDE_UTILISATRICE_DAYS days (Terrebonne's coordinator describes one citizen generating 65 police calls in
six months; « Entretien avec Nathalie L'Heureux, T.S. », Université du Québec en Outaouais)."""
from __future__ import annotations

GRANDE_UTILISATRICE_CALLS = 7
GRANDE_UTILISATRICE_DAYS = 365
