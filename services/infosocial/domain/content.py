"""What a fiche Info-social holds, as the social worker writes it.

Every free-text element carries its *source*:

- ``police``: drawn from the analysis of earlier police interventions (calls, reports, what officers
  saw). It may always reach officers, with or without the person's consent.
- ``sante`` (the default): learned from the person, the family or the health and social-services
  network. It reaches officers only under a legal basis: the person's consent, LRSSS arts. 74–76
  (adapted intervention in a mixed practice) or imminent danger.

The API accepts a plain string where an element is expected; a plain string counts as ``sante``, so
that nothing reaches officers without a basis unless the social worker says it is police-derived:
``{"text": "...", "source": "police"}``.

Suicide-related elements need more than a basis (in the spirit of the Ontario IPC's guidance on disclosing
personal health information to prevent serious harm): without the person's consent, a health-derived element
about suicide reaches officers only when the social worker records, for that element, that the disclosure test
is met — she has reasonable grounds to believe that communicating it is necessary to eliminate or reduce a
significant risk of serious bodily harm — with her justification (`disclosure`; who and when are stamped by
the server when the version is written). An element is suicide-related when she ticks it (`suicide_related`)
or when its text speaks of suicide (`mentions_suicide`: an unticked element cannot slip through).

Every string is a `Line` (names, roles, phones, links, ids: no control character at all) or a `Text`
(elements, reasons, notes, justifications: tab and newlines allowed) of dyade.contracts.text: NUL, other
control characters, lone surrogates and U+FFFE/U+FFFF are a 422 naming the field (the form's page says it
too), never a database error.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from abc import abstractmethod
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Iterable, Iterator, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from dyade.contracts import ConsentStatus, LegalBasis
from dyade.contracts.text import Line, OptLine, OptText, Text
from services.infosocial.domain.review import today_in_montreal

Source = Literal["police", "sante"]
PERSON_KEY = r"^p_[0-9A-Za-z]{4,64}$"
MAX_ITEMS = 30


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _text_to_item(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


# Words of suicide, matched on the folded text (accents dropped, case folded, ’ as '). Over-matching only
# withholds an element the social worker can then tick and justify; missing one would let it through.
_SUICIDE_STEMS = ("suicid", "autoly")  # suicide, suicidaire, se suicider, suicidal; autolyse, geste autolytique
_SUICIDE_PHRASES = re.compile(r"""\b(?:
    (idees?|ideations?|pensees?)\s+(noires?|de\s+mort)
  | (envie|desir|besoin)\s+de\s+mourir | (veu[tx]|voulait|vouloir|souhaite)\s+mourir
  | (se|me|te)\s+tu(er|e|era|erai|erait)\b | s'(est|etait)\s+(presque\s+)?tuee?\b
  | (s|m|t)'enlever\s+la\s+vie | (s|m|t)'(est|etait)\s+enleve\s+la\s+vie
  | (mettre|met|mis|mettra|mettrait)\s+fin\s+a\s+(ses|mes|tes|sa|ma|ta|leurs?)\s+(jours|vie|existence)
  | (veu[tx]|voulait|vouloir|va|allait)\s+en\s+finir | en\s+finir\s+avec\s+(la|sa|ma)\s+vie
  | pendaison | (se|me|te)\s+pendre\b | s'(est\s+)?pendu
  | (surdose|overdose|intoxication|ingestion)\s+(volontaire|intentionnelle)
  | lettre\s+d'adieu
  | (ouvrir|ouvert|trancher|tranche|couper|coupe)\s+les\s+veines
  | (se\s+jeter|sauter)\s+(du|d'un|d'une|de\s+la|en\s+bas\s+du)\s+(pont|toit|balcon|viaduc|fenetre|immeuble)
  | se\s+jeter\s+(devant|sous)\b
  | kill\s+(him|her|my|your|them)sel(f|ves) | end\s+(his|her|my|their)\s+(own\s+)?life
  | intentional\s+overdose | wants?\s+to\s+die
)""", re.VERBOSE)


def fold(text: str) -> str:
    """Accents dropped, case folded, typographic apostrophes and spaces made plain."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"\s+", " ", plain.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'"))


@lru_cache(maxsize=8192)  # every read of a frame asks again of the same texts
def _speaks_of_suicide(text: str) -> bool:
    folded = fold(text)
    return any(stem in folded for stem in _SUICIDE_STEMS) or _SUICIDE_PHRASES.search(folded) is not None


def mentions_suicide(*texts: str | None) -> bool:
    """Whether any of the texts speaks of suicide (suicidaire, idées noires, se tuer, mettre fin à ses jours,
    pendaison, surdose volontaire...)."""
    return any(_speaks_of_suicide(t) for t in texts if t)


class Disclosure(Model):
    """The disclosure test met for one suicide-related element."""
    justification: Text = Field(
        min_length=10, max_length=2000,
        description="Pourquoi communiquer cet élément aux policiers est nécessaire pour éliminer ou réduire un "
                    "risque important de blessures graves.")
    recorded_by: OptLine = Field(None, max_length=100,
                                 description="Consigné par le serveur: l'intervenante qui a écrit la version.")
    recorded_at: AwareDatetime | None = Field(None, description="Consigné par le serveur à l'écriture de la version.")


class SuicideMarks(Model):
    suicide_related: bool = Field(
        False, description="Renseignement lié au suicide (coché par l'intervenante; détecté aussi dans le texte).")
    disclosure: Disclosure | None = Field(
        None, description="Critère de divulgation rempli pour cet élément: sans lui, un élément de santé lié au "
                          "suicide n'est pas communiqué aux policiers sans le consentement de la personne.")

    @abstractmethod
    def texts(self) -> tuple[str | None, ...]:
        """The element's own words (what the detection reads)."""

    def detected(self) -> bool:
        return mentions_suicide(*self.texts())

    def is_suicide_related(self) -> bool:
        return self.suicide_related or self.disclosure is not None or self.detected()

    @model_validator(mode="after")
    def _disclosure_of_health_only(self) -> "SuicideMarks":
        if self.disclosure is not None and getattr(self, "source", "sante") == "police":
            raise ValueError("disclosure: sans objet pour un élément tiré des interventions policières (il est "
                             "toujours communiqué aux policiers)")
        return self


class Item(SuicideMarks):
    text: Text = Field(min_length=1, max_length=1000)
    source: Source = Field("sante", description="police: tiré des interventions policières; sante: tout le reste.")

    def texts(self) -> tuple[str | None, ...]:
        return (self.text,)


ItemIn = Annotated[Item, BeforeValidator(_text_to_item)]


class ContactIn(SuicideMarks):
    name: Line = Field(min_length=1, max_length=200)
    role: Line = Field(min_length=1, max_length=100, description="proche, intervenante CISSS, médecin...")
    phone: OptLine = Field(None, max_length=60, description="Numéro, poste ou précision (« cell. »).")
    when_to_call: OptLine = Field(None, max_length=500)
    source: Source = "sante"

    def texts(self) -> tuple[str | None, ...]:
        return (self.name, self.role, self.when_to_call)


VerdictKind = Literal["non_responsabilite_criminelle", "inaptitude_a_subir_son_proces"]
VERDICT_KINDS: dict[str, tuple[str, str]] = {  # (fr, en)
    "non_responsabilite_criminelle": ("Non-responsabilité criminelle pour cause de troubles mentaux",
                                      "Not criminally responsible on account of mental disorder"),
    "inaptitude_a_subir_son_proces": ("Inaptitude à subir son procès", "Unfit to stand trial"),
}
NCR = LegalBasis.LRSSS_74_76_VERDICT_NCR.value


class Verdict(Model):
    """The verdict that lets the 2024 basis (LegalBasis.LRSSS_74_76_VERDICT_NCR) be recorded. Kept in the frame
    (social workers only): never in the police view, never in an event."""
    kind: VerdictKind = Field(description="non_responsabilite_criminelle ou inaptitude_a_subir_son_proces.")
    date: dt.date = Field(description="Date du verdict.")
    reference: Line = Field(min_length=1, max_length=100,
                            description="Numéro du dossier de la cour, tel que l'intervenante le saisit.")

    @model_validator(mode="after")
    def _past(self) -> "Verdict":
        if self.date > today_in_montreal():
            raise ValueError("verdict.date ne peut pas être dans le futur")
        return self


class ConsentIn(Model):
    status: ConsentStatus
    date: dt.date | None = Field(None, description="Date du consentement ou du refus (défaut: aujourd'hui).")
    scope: list[Annotated[Line, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20,
        description="Partenaires externes à qui la personne permet de communiquer la fiche (CISSS, organisme...).")
    legal_basis: Literal["lrsss_74_76", "lrsss_74_76_verdict_ncr", "danger_imminent"] | None = Field(
        None, description="Sans consentement: base légale permettant de communiquer les éléments de santé "
                          "(lrsss_74_76_verdict_ncr: seulement avec le verdict inscrit dans la fiche).")
    justification: OptText = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> "ConsentIn":
        if self.date and self.date > today_in_montreal():
            raise ValueError("consent.date ne peut pas être dans le futur")
        if self.legal_basis and self.status == ConsentStatus.OBTENU:
            raise ValueError("consent.legal_basis: inutile quand le consentement est obtenu")
        if self.legal_basis and len(self.justification or "") < 10:
            raise ValueError("consent.justification: obligatoire (10 caractères ou plus) avec une base légale "
                             "sans consentement (LRSSS 74–76, LRSSS 74–76 verdict NCR ou danger imminent)")
        return self


class FrameContent(Model):
    """The body of one version of a frame."""
    particularites: ItemIn | None = None
    interventions_a_privilegier: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    interventions_a_eviter: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    niveau_tolerance: ItemIn | None = None
    mode_liberation: ItemIn | None = None
    risques: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    pii_link: OptLine = Field(None, max_length=500, description="Référence au plan d'intervention interdisciplinaire.")
    verdict: Verdict | None = Field(
        None, description="Verdict de non-responsabilité criminelle ou d'inaptitude à subir son procès: condition "
                          "de la base légale lrsss_74_76_verdict_ncr (jamais communiqué aux policiers).")

    def is_empty(self) -> bool:
        return not (self.particularites or self.interventions_a_privilegier or self.interventions_a_eviter
                    or self.contacts or self.niveau_tolerance or self.mode_liberation or self.risques)

    def elements(self) -> Iterator[tuple[str, int | None, SuicideMarks]]:
        """Every element with the field it is in and its place in a list (None: a field of one element)."""
        for name in ELEMENT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, list):
                yield from ((name, i, element) for i, element in enumerate(value))
            elif value is not None:
                yield name, None, value


ELEMENT_FIELDS = ("particularites", "interventions_a_privilegier", "interventions_a_eviter", "contacts",
                  "niveau_tolerance", "mode_liberation", "risques")


def _identity(element: SuicideMarks) -> tuple:
    return (element.text,) if isinstance(element, Item) else (element.name, element.role, element.when_to_call)


def stamp_disclosures(content: FrameContent, previous: Iterable[FrameContent], author: str,
                      now: datetime) -> FrameContent:
    """Who recorded each disclosure test, and when: kept from an earlier version for the same element with the
    same justification, else the author of this version, now. Whatever a client sent for them is not kept."""
    kept: dict[tuple, Disclosure] = {}
    for name, _, element in (e for earlier in previous for e in earlier.elements()):
        if element.disclosure is not None and element.disclosure.recorded_by and element.disclosure.recorded_at:
            kept.setdefault((name, *_identity(element), element.disclosure.justification), element.disclosure)
    data = content.model_dump(mode="python")
    for name, index, element in content.elements():
        if element.disclosure is None:
            continue
        earlier = kept.get((name, *_identity(element), element.disclosure.justification))
        stamp = {"justification": element.disclosure.justification,
                 "recorded_by": earlier.recorded_by if earlier else author,
                 "recorded_at": earlier.recorded_at if earlier else now}
        (data[name] if index is None else data[name][index])["disclosure"] = stamp
    return FrameContent.model_validate(data)


class FrameSubmission(FrameContent):
    """POST /v1/frames and PUT /v1/frames/{id}: a new version, waiting for a second person's approval."""
    person_key: str = Field(pattern=PERSON_KEY, description="Clé pseudonyme de la personne (faite par intake).")
    display_name: OptLine = Field(None, max_length=200, description="Nom affiché (intervenantes seulement).")
    consent: ConsentIn | None = Field(
        None, description="Consentement initial d'une nouvelle fiche (défaut: non demandé). Sur une fiche existante, "
                          "une version ne le change pas: absent, le consentement actuel est gardé; différent, la "
                          "version est refusée (409): il se consigne par POST /v1/frames/{id}/consent.")
    review_due: date | None = Field(None, description="Date de révision (défaut: 12 mois après l'approbation).")
    reason: OptText = Field(None, max_length=500, description="Pourquoi cette version (création, révision annuelle...).")
    owner: OptLine = Field(None, max_length=100, description="Intervenante responsable (défaut: l'autrice).")

    @model_validator(mode="after")
    def _content(self) -> "FrameSubmission":
        if self.is_empty():
            raise ValueError("une fiche doit contenir au moins une particularité, une intervention, un contact, "
                             "un risque, un niveau de tolérance ou un mode de libération")
        if self.review_due and self.review_due <= today_in_montreal():
            raise ValueError("review_due doit être dans le futur")
        if self.consent is not None and self.consent.legal_basis == NCR and self.verdict is None:
            raise ValueError(f"verdict: obligatoire avec la base légale {NCR} (nature du verdict, date, numéro du "
                             "dossier de la cour)")
        return self

    def content(self) -> FrameContent:
        return FrameContent.model_validate(self.model_dump(include=set(FrameContent.model_fields)))


class ConsentRecord(ConsentIn):
    """POST /v1/frames/{id}/consent: takes effect at once (a withdrawal must not wait for an approval)."""
    note: OptText = Field(None, max_length=2000)


DANGER_IMMINENT_DAYS = 3  # an imminent-danger disclosure lapses: the day it is recorded and the next two


def legal_basis_of(status: ConsentStatus | str, override: str | None, recorded_on: date | None = None,
                   today: date | None = None) -> LegalBasis:
    """The basis on which health-derived elements may reach officers. Imminent danger lapses after
    DANGER_IMMINENT_DAYS days: then only police-derived elements remain, until a new basis is recorded."""
    if ConsentStatus(status) == ConsentStatus.OBTENU:
        return LegalBasis.CONSENTEMENT
    if override == LegalBasis.DANGER_IMMINENT.value and danger_lapsed(recorded_on, today):
        return LegalBasis.AUCUNE
    if override:
        return LegalBasis(override)
    return LegalBasis.AUCUNE


def danger_lapsed(recorded_on: date | None, today: date | None) -> bool:
    if recorded_on is None or today is None:
        return False
    return (today - recorded_on).days >= DANGER_IMMINENT_DAYS


class Approval(Model):
    version: int | None = Field(None, ge=1, description="Version approuvée (défaut: la dernière en attente).")
    note: OptText = Field(None, max_length=1000)


class Archive(Model):
    reason: Text = Field(min_length=3, max_length=1000)
