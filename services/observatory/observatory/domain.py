"""The observatory's rules, plain Python: how events fold into facts, how facts group into tables,
French labels, and statistical confidentiality (primary and secondary suppression).

Facts are plain dicts (the documents of ``store.py`` as pymongo reads them), so the live worker and the
rebuild command fold events with the same functions.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from plumbing.vocabulary import MODE_LABELS_FR

# --- French labels ----------------------------------------------------------------------------------
UNKNOWN_FR = "non renseigné"
SECTOR_LABELS_FR = {"works": "travaux", "services": "services", "supplies": "fournitures"}
BUYER_TYPE_LABELS_FR = {
    "commune": "commune", "intercommunality": "intercommunalité", "departement": "département",
    "region": "région", "state": "État", "social_landlord": "bailleur social", "hospital": "établissement de santé",
    "other_public_body": "autre organisme public"}
CLAUSE_KIND_LABELS_FR = {
    "execution_condition": "condition d'exécution", "award_criterion": "critère d'attribution",
    "reserved_contract": "marché réservé", "insertion_object": "marché d'insertion (objet du marché)",
    None: "sans clause"}
CONTRACT_TYPE_LABELS_FR = {
    "cdi": "CDI", "cdd": "CDD", "apprenticeship": "contrat d'apprentissage",
    "professionalisation": "contrat de professionnalisation", "temporary": "intérim",
    "insertion": "contrat d'insertion (CDDI)", "other": "autre contrat"}
EMPLOYER_KIND_LABELS_FR = {"contractor": "l'entreprise attributaire", "other_employer": "un autre employeur"}
SEX_LABELS_FR = {"female": "femmes", "male": "hommes"}
AGE_BAND_LABELS_FR = {"under_26": "moins de 26 ans", "26_49": "26 à 49 ans", "50_plus": "50 ans ou plus"}
CATEGORY_LABELS_FR = {
    "minimum_benefit": "bénéficiaires de minima sociaux", "job_seeker_50_plus": "demandeurs d'emploi de 50 ans ou plus",
    "long_term_job_seeker": "demandeurs d'emploi de longue durée", "rqth": "travailleurs handicapés (RQTH)",
    "under_26_low_qualification": "jeunes de moins de 26 ans peu ou pas qualifiés",
    "siae_employee": "salariés d'une structure d'insertion", "prescriber_derogation": "sur avis d'un prescripteur"}
QPV_LABELS_FR = {True: "habitant un QPV", False: "hors QPV"}
STATE_LABELS_FR = {True: "marchés de l'État", False: "autres acheteurs"}
# What became of a participant; "none" gathers job seeking and any other situation.
OUTCOMES = ("permanent_contract", "fixed_term_6_months_plus", "training", "none")
OUTCOME_LABELS_FR = {"permanent_contract": "CDI", "fixed_term_6_months_plus": "CDD de 6 mois ou plus",
                     "training": "formation", "none": "sans emploi ni formation"}
OUTCOME_OF = {"permanent_contract": "permanent_contract", "fixed_term_6_months_plus": "fixed_term_6_months_plus",
              "training": "training", "job_seeking": "none", "other": "none"}
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")
CPV_DIVISION_LABELS_FR = {
    "03": "produits agricoles, de l'élevage, de la pêche et de la sylviculture", "09": "produits pétroliers, énergie",
    "14": "produits miniers et métaux de base", "15": "produits alimentaires et boissons", "16": "machines agricoles",
    "18": "vêtements et accessoires", "19": "cuir, textiles, plastique et caoutchouc", "22": "imprimés",
    "24": "produits chimiques", "30": "machines et fournitures de bureau et informatiques",
    "31": "équipements électriques et éclairage", "32": "équipements de radio, télévision et télécommunication",
    "33": "matériels médicaux et pharmaceutiques", "34": "équipements de transport",
    "35": "équipements de sécurité, d'incendie, de police et de défense", "37": "instruments de musique, sport, jeux",
    "38": "équipements de laboratoire, d'optique et de précision", "39": "meubles, aménagements et produits de nettoyage",
    "41": "eau collectée et purifiée", "42": "machines industrielles", "43": "machines pour mines et chantiers",
    "44": "structures et matériaux de construction", "45": "travaux de construction",
    "48": "logiciels et systèmes d'information", "50": "services de réparation et d'entretien",
    "51": "services d'installation", "55": "hôtellerie, restauration et commerce de détail",
    "60": "services de transport", "63": "services auxiliaires des transports", "64": "postes et télécommunications",
    "65": "services publics (eau, énergie)", "66": "services financiers et d'assurance", "70": "services immobiliers",
    "71": "architecture, ingénierie et inspection", "72": "services informatiques",
    "73": "recherche et développement", "75": "administration publique et sécurité sociale",
    "76": "services pétroliers et gaziers", "77": "services agricoles, sylvicoles et horticoles",
    "79": "services aux entreprises", "80": "enseignement et formation", "85": "santé et action sociale",
    "90": "assainissement, déchets et environnement", "92": "services récréatifs, culturels et sportifs",
    "98": "autres services collectifs et personnels"}


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS_FR[int(number) - 1]} {year}"


@dataclass(frozen=True)
class Dimension:
    code: str
    label: str  # French, for tables and exports
    level: str  # "lot": known for a lot's quota; "line": only for hours worked; "person": a participant's
    value: callable  # (cell, lot, market, territory_name) -> code(s); a list for several values
    labels: dict | None = None  # code -> French label; None: the code, or ``label_of``


def _lot_territory(cell, lot, market):
    return cell["territory"] if cell is not None else (lot.get("territories") or [None])[0]


DIMENSIONS = {d.code: d for d in (
    Dimension("territory", "Territoire", "lot", _lot_territory),
    Dimension("buyer", "Acheteur", "lot", lambda c, lot, m: m.get("buyer_id")),
    Dimension("buyer_type", "Type d'acheteur", "lot", lambda c, lot, m: m.get("buyer_type"), BUYER_TYPE_LABELS_FR),
    Dimension("sector", "Secteur", "lot", lambda c, lot, m: m.get("nature"), SECTOR_LABELS_FR),
    Dimension("trade", "Corps de métier", "lot", lambda c, lot, m: lot.get("trade")),
    Dimension("cpv_division", "Division CPV", "lot", lambda c, lot, m: (m.get("cpv_code") or "")[:2] or None,
              CPV_DIVISION_LABELS_FR),
    Dimension("clause_kind", "Type de clause", "lot", lambda c, lot, m: m.get("clause_kind"), CLAUSE_KIND_LABELS_FR),
    Dimension("state_market", "Marchés de l'État", "lot", lambda c, lot, m: bool(m.get("state_market")),
              STATE_LABELS_FR),
    Dimension("mode", "Modalité", "line", lambda c, lot, m: c["mode"], MODE_LABELS_FR),
    Dimension("contract_type", "Type de contrat", "line", lambda c, lot, m: c["contract_type"],
              CONTRACT_TYPE_LABELS_FR),
    Dimension("employer_kind", "Employeur", "line", lambda c, lot, m: c["employer_kind"], EMPLOYER_KIND_LABELS_FR),
    Dimension("sex", "Sexe", "person", lambda c, lot, m: c["sex"], SEX_LABELS_FR),
    Dimension("age_band", "Âge à l'entrée", "person", lambda c, lot, m: c["age_band"], AGE_BAND_LABELS_FR),
    Dimension("public_category", "Public", "person", lambda c, lot, m: list(c["categories"]) or [None],
              CATEGORY_LABELS_FR),
    Dimension("qpv", "Quartier prioritaire (QPV)", "person", lambda c, lot, m: c["qpv"], QPV_LABELS_FR),
    Dimension("year", "Année", "line", lambda c, lot, m: c["month"][:4]),
    Dimension("month", "Mois", "line", lambda c, lot, m: c["month"]),
)}


def label(dimension: str, code, names: dict | None = None) -> str:
    """The French label of a value: the table's, else a name the facts gave (buyer, territory), else the code."""
    labels = DIMENSIONS[dimension].labels
    if labels is not None and code in labels:
        return labels[code]
    if dimension == "month" and code:
        return month_label(code)
    if code is None:
        return UNKNOWN_FR
    return (names or {}).get(code, str(code))


# --- folding events into facts ---------------------------------------------------------------------------
MARKET_EVENTS = ("market.created", "market.updated", "market.status_changed", "market.closed")
LOT_EVENTS = ("lot.quota_set", "lot.quota_changed", "lot.awarded", "lot.progress_updated", "lot.status_changed",
              "lot.quota_reached")
PERSON_EVENTS = ("participant.registered", "eligibility.granted", "participant.exited")
LINE_EVENTS = ("declaration.submitted", "declaration.validated", "declaration.rejected", "declaration.corrected")
COUNTED = ("submitted", "validated")  # a line in force: declared, or validated (realised)


@dataclass
class Facts:
    """What a batch of events touches (or, for a rebuild, everything): facts by id."""
    markets: dict = field(default_factory=dict)
    lots: dict = field(default_factory=dict)
    people: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)
    changed: dict = field(default_factory=lambda: defaultdict(set))  # kind -> ids written


def _take(target: dict, payload: dict, names: dict) -> None:
    """Copy the payload's fields that are present (an older event lacks some: the fact keeps its value)."""
    for fact_name, payload_name in names.items():
        if payload_name in payload:
            target[fact_name] = payload[payload_name]


_MARKET_FIELDS = {n: n for n in ("reference", "title", "buyer_id", "buyer_name", "buyer_type", "nature", "cpv_code",
                                 "clause_kind", "state_market", "lead_territory", "status", "start_date", "end_date")}
_LOT_FIELDS = {"market_id": "market_id", "number": "lot_number", "title": "lot_title", "trade": "trade",
               "quota_hours": "quota_hours", "contractor_siret": "contractor_siret",
               "contractor_name": "contractor_name", "start_date": "start_date", "end_date": "end_date"}


def fold(facts: Facts, event) -> None:
    """Apply one event to the facts it concerns (they are in ``facts`` when they exist)."""
    p, kind = event.payload, event.type
    if kind in MARKET_EVENTS:
        market = facts.markets.setdefault(p["market_id"], {"_id": p["market_id"]})
        _take(market, p, _MARKET_FIELDS)
        market["territories"] = list(event.territories)
        facts.changed["markets"].add(market["_id"])
    elif kind in LOT_EVENTS:
        lot = facts.lots.setdefault(p["lot_id"], {"_id": p["lot_id"]})
        _take(lot, p, _LOT_FIELDS)
        lot["territories"] = list(event.territories)
        facts.changed["lots"].add(lot["_id"])
    elif kind in PERSON_EVENTS:
        person = facts.people.setdefault(p["participant_id"], {
            "_id": p["participant_id"], "sex": None, "age_band": None, "qpv": None, "categories": [], "outcome": None})
        person["territory"] = p.get("territory")
        if kind == "participant.exited":
            person["outcome"] = OUTCOME_OF.get(p.get("outcome"), "none")
        else:
            _take(person, p, {"sex": "sex", "age_band": "age_band", "qpv": "qpv"})
            if p.get("categories") or kind == "eligibility.granted":
                person["categories"] = sorted(p.get("categories") or [])
        facts.changed["people"].add(person["_id"])
    elif kind in LINE_EVENTS:
        line = line_fact(p)
        facts.lines[line["_id"]] = line
        facts.changed["lines"].add(line["_id"])


def line_fact(p: dict) -> dict:
    """A declaration line in force, pseudonymous: the participant is an opaque id, the employer a kind."""
    employer = p.get("employer_siret")
    return {"_id": p["line_id"], "declaration_id": p["declaration_id"], "version": p.get("version"),
            "status": p["status"], "lot_id": p["lot_id"], "participant_id": p["participant_id"],
            "month": p["month"], "territory": p.get("territory"), "centihours": int(p["centihours"]),
            "mode": p.get("mode"), "contract_type": p.get("contract_type"),
            "employer_kind": "other_employer" if employer and employer != p.get("contractor_siret") else "contractor",
            "contractor_siret": p.get("contractor_siret")}


# --- tables -----------------------------------------------------------------------------------------
class _Total:
    def __repr__(self):
        return "TOTAL"


TOTAL = _Total()  # a key position that stands for "all values" (a margin); None is a value: "not known"


@dataclass
class Group:
    realised: int = 0
    declared: int = 0
    people: dict = field(default_factory=dict)  # outcome (or None) -> distinct people
    required: int = 0


def _keys(values: list[list]) -> list[tuple]:
    """Every key a lot adds to: each combination of its values, and the margins (TOTAL in a position)."""
    keys = [()]
    for options in values:
        keys = [key + (v,) for key in keys for v in (*options, TOTAL)]
    return keys


def add_required(groups: dict, lots, markets: dict, dimensions: list[str]) -> None:
    """Add these lots' quotas as hours required, only when every dimension is known for a lot."""
    if not all(DIMENSIONS[d].level == "lot" for d in dimensions):
        return
    for lot in lots:
        market = markets.get(lot.get("market_id"), {})
        values = [_as_list(DIMENSIONS[d].value(None, lot, market)) for d in dimensions]
        for key in _keys(values):
            groups.setdefault(key, Group()).required += lot.get("quota_hours") or 0


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def participants(group: Group) -> int:
    return sum(group.people.values())


def outcome_count(group: Group, outcome: str) -> int:
    return group.people.get(outcome, 0)


# --- statistical confidentiality ------------------------------------------------------------------------
def suppression(counts: dict[tuple, int], threshold: int) -> set[tuple]:
    """The keys whose count of people must be hidden.

    Primary: a count from 1 to threshold − 1. Secondary: wherever a total and the cells it adds up have a
    single hidden figure among them (a cell, or the total itself), it could be recomputed from the others:
    the smallest other non-zero cell is hidden too (or, when there is none, the total), until every such
    group has none or at least two hidden figures. A key's
    TOTAL positions make it the total of the keys that give a value there (rows, columns, the grand total).
    """
    hidden = {key for key, count in counts.items() if 0 < count < threshold}
    groups = _groups(list(counts))
    changed = True
    while changed:
        changed = False
        for total, members in groups:
            if sum(1 for key in (*members, total) if key in hidden) != 1:
                continue  # nothing hidden, or two unknowns: the total gives only their sum
            others = [m for m in members if m not in hidden and counts[m] > 0]
            if others:
                hidden.add(min(others, key=lambda m: (counts[m], repr(m))))
            elif total not in hidden:
                hidden.add(total)
            else:
                continue  # a hidden total of published zeros is zero: nothing to protect
            changed = True
    return hidden


def _groups(keys: list[tuple]) -> list[tuple[tuple, list[tuple]]]:
    """(total, the keys it adds up): for each key and each position where it has TOTAL, the keys that
    have a value there and the same values elsewhere."""
    by_total = defaultdict(list)
    for key in keys:
        for position, value in enumerate(key):
            if value is not TOTAL:
                total = key[:position] + (TOTAL,) + key[position + 1:]
                by_total[(total, position)].append(key)
    return [(total, members) for (total, _), members in by_total.items()]
