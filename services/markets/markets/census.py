"""The region's procurement census from the open data (DECP): import, adoption per buyer and year,
where to act, a directory entry or a market made from the census.

Contracts are stored one document per DECP ``id`` and buyer SIRET (the record's key), so importing a
file again updates them and never doubles them. Facilitators see a census buyer when it belongs to
their territories: through the directory when the buyer is in it, else through the départements
where its contracts are carried out.
"""
import calendar
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

import mongoengine as me
from plumbing import region
from plumbing.validation import siret_valid
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from . import decp, domain, handlers
from .store import Buyer, Market, new_id

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = Decimal(90000)  # the national census counts contracts of 90,000 € or more
DEFAULT_HOURLY_COST = Decimal(30)
DEFAULT_INSERTION_RATE = Decimal("0.05")
# CPV divisions (the code's first two digits) whose works and services lend themselves to a clause, and the
# share of their amount that pays labour. Supplies (divisions 03 to 44 and 48) are left out.
DEFAULT_FAMILIES = [
    ("45", "Travaux de construction", "0.40"), ("50", "Réparation et entretien", "0.60"),
    ("55", "Hôtellerie et restauration", "0.45"), ("60", "Transport", "0.50"),
    ("77", "Espaces verts, agriculture, sylviculture", "0.65"), ("79", "Services aux entreprises (accueil, "
                                                                     "sécurité, sondages…)", "0.55"),
    ("85", "Santé et action sociale", "0.70"), ("90", "Propreté, déchets, assainissement", "0.65"),
    ("92", "Loisirs, culture et sport", "0.50"), ("98", "Autres services collectifs et personnels", "0.50"),
]
# The national share of contracts with a social consideration (the OECP's census), and the target of the
# national plan for sustainable procurement.
NATIONAL_SHARES = {2018: 0.10, 2021: 0.132, 2022: 0.223, 2023: 0.187}
NATIONAL_TARGET = 0.30
BATCH = 1000  # records written at once
MAX_EXAMPLES = 50  # refused records named in a report (the counts cover them all)


# --- documents --------------------------------------------------------------------------------
class CensusContract(me.Document):
    """A contract of the open data, as last imported (modifications applied)."""
    id = me.StringField(primary_key=True)  # f"{buyer_siret}:{decp_id}"
    decp_id = me.StringField(required=True)
    buyer_siret = me.StringField(required=True)
    buyer_siren = me.StringField(required=True)
    buyer_name = me.StringField()
    kind = me.StringField()
    nature = me.StringField()
    object = me.StringField()
    cpv = me.StringField()
    amount_cents = me.IntField()
    duration_months = me.IntField()
    notification_date = me.StringField()  # YYYY-MM-DD
    year = me.IntField()
    place_code = me.StringField()
    place_type = me.StringField()
    departement = me.StringField()
    contractors = me.ListField(me.DictField())
    social = me.ListField(me.StringField())
    version = me.IntField(default=0)
    modifications = me.ListField(me.IntField())
    digest = me.StringField()  # of the values above but the contractors: tells an import what changed
    market_id = me.StringField()  # the platform's market made from it
    source = me.StringField()
    imported_at = me.DateTimeField()
    meta = {"collection": "census_contracts", "indexes": ["buyer_siret", "buyer_siren", "year"]}


class CensusTable(me.Document):
    """The regional table: threshold, hourly cost, rate and labour share of each CPV family (one document)."""
    id = me.StringField(primary_key=True, default="region")
    threshold = me.DecimalField(precision=2, force_string=True)
    hourly_cost = me.DecimalField(precision=2, force_string=True)
    insertion_rate = me.DecimalField(precision=4, force_string=True)
    families = me.ListField(me.DictField())  # code, label, labour_share (as text)
    updated_by = me.StringField()
    updated_at = me.DateTimeField()
    meta = {"collection": "census_table"}


class CensusImport(me.Document):
    """What an import read, kept and refused, kept for the operators."""
    id = me.StringField(primary_key=True, default=new_id)
    source = me.StringField()
    format = me.StringField()
    started_at = me.DateTimeField()
    report = me.DictField()
    imported_by = me.StringField()
    meta = {"collection": "census_imports", "indexes": ["-started_at"]}


# --- the regional table -----------------------------------------------------------------------
def table() -> dict:
    stored = CensusTable.objects(id="region").first()
    if stored is None:
        return {"threshold": DEFAULT_THRESHOLD, "hourly_cost": DEFAULT_HOURLY_COST,
                "insertion_rate": DEFAULT_INSERTION_RATE, "defaults": True, "updated_by": None, "updated_at": None,
                "families": [{"code": c, "label": label, "labour_share": Decimal(s)} for c, label, s in DEFAULT_FAMILIES]}
    return {"threshold": stored.threshold, "hourly_cost": stored.hourly_cost, "insertion_rate": stored.insertion_rate,
            "defaults": False, "updated_by": stored.updated_by, "updated_at": stored.updated_at,
            "families": [{**f, "labour_share": Decimal(f["labour_share"])} for f in stored.families]}


def put_table(data: dict, updated_by: str) -> dict:
    CensusTable(id="region", threshold=data["threshold"], hourly_cost=data["hourly_cost"],
                insertion_rate=data["insertion_rate"],
                families=[{**f, "labour_share": str(f["labour_share"])} for f in data["families"]],
                updated_by=updated_by, updated_at=datetime.now(timezone.utc)).save()
    return table()


# --- import -----------------------------------------------------------------------------------
@dataclass
class Report:
    source: str
    format: str
    read: int = 0
    out_of_region: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: dict = field(default_factory=dict)  # reason -> count
    examples: list = field(default_factory=list)  # the first refusals: position, id, reason
    seconds: float = 0

    def refuse(self, refusal: decp.Refusal) -> None:
        self.refused[refusal.reason] = self.refused.get(refusal.reason, 0) + 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"position": refusal.position, "decp_id": refusal.decp_id, "reason": refusal.reason})

    def as_dict(self) -> dict:
        kept = self.created + self.updated + self.unchanged
        refused = sum(self.refused.values())
        where = "ligne" if self.format == "csv" else "enregistrement"
        return {"source": self.source, "format": self.format, "read": self.read, "kept": kept,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "out_of_region": self.out_of_region, "refused": refused,
                "refusals": [{"reason": r, "count": n} for r, n in sorted(self.refused.items(), key=lambda p: -p[1])],
                "examples": self.examples, "seconds": round(self.seconds, 2),
                "summary": (f"{self.read} {where}(s) lu(s) : {kept} retenu(s) pour la région ({self.created} "
                            f"nouveau(x), {self.updated} mis à jour, {self.unchanged} inchangé(s)), "
                            f"{self.out_of_region} hors de la région, {refused} refusé(s).")}


def region_departements() -> set[str]:
    return {t.departement for t in region.current().territories.values()}


def import_file(stream, source: str, format_: str | None = None, imported_by: str | None = None) -> dict:
    """Import a DECP file (binary stream): keep the region's contracts, update those known, report.

    Kept: carried out in one of the region's départements, or bought by a buyer of the directory
    (SIRET or SIREN). Raises ``decp.UnreadableFile`` when the file is not one this reader knows."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    format_ = format_ or decp.sniff_format(stream)
    report = Report(source=source[:200], format=format_)
    departements = region_departements()
    sirets = set(Buyer.objects.distinct("siret"))
    known = _known_contracts()
    batch: list[decp.Record] = []
    try:
        _read(stream, format_, report, departements, sirets, batch, source, known)
    finally:  # a file broken halfway keeps what was read before the break
        if batch:
            _write(batch, report, source, known)
    report.seconds = time.perf_counter() - clock
    result = report.as_dict()
    CensusImport(source=report.source, format=format_, started_at=started, report=result,
                 imported_by=imported_by).save()
    log.info("census imported", extra={k: result[k] for k in ("read", "kept", "out_of_region", "refused")})
    return result


def _read(stream, format_, report: Report, departements, sirets, batch: list, source: str, known) -> None:
    sirens = {s[:9] for s in sirets}
    for head, whole in decp.records(stream, format_):
        report.read += 1
        if isinstance(head, decp.Refusal):
            report.refuse(head)
            continue
        if head.departement not in departements and head.buyer_siret not in sirets \
                and head.buyer_siret[:9] not in sirens:
            report.out_of_region += 1
            continue
        record = whole()
        if isinstance(record, decp.Refusal):
            report.refuse(record)
            continue
        batch.append(record)
        if len(batch) >= BATCH:
            _write(batch, report, source, known)
            batch.clear()


FIELDS = ("decp_id", "buyer_siret", "buyer_name", "kind", "nature", "object", "cpv", "amount_cents",
          "duration_months", "notification_date", "place_code", "place_type", "departement", "social", "version",
          "modifications")


@dataclass
class Known:
    """What the import needs of a stored contract to tell whether a record changes it."""
    version: int
    digest: str  # of its values but the contractors
    contractors: list[dict]


def _values(record: decp.Record) -> dict:
    values = {name: getattr(record, name) for name in FIELDS}
    values.update(buyer_siren=record.buyer_siret[:9], year=int(record.notification_date[:4]))
    values["digest"] = hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()
    return values


def _known_contracts() -> dict[str, Known]:
    """Every stored contract's version, digest and contractors: read once per import, because the store
    answers one query over the region's census far quicker than a lookup per record."""
    return {doc["_id"]: Known(doc.get("version", 0), doc.get("digest", ""), doc.get("contractors", []))
            for doc in CensusContract._get_collection().find({}, {"version": 1, "digest": 1, "contractors": 1})}


def _change(known: Known | None, record: decp.Record) -> dict | None:
    """What a record changes in a stored contract (None: nothing). A whole record (JSON) replaces an older
    or equal version; a CSV row replaces an older version and adds its contractor to the same version."""
    if known is None:
        return {**_values(record), "contractors": record.contractors}
    if record.version < known.version:
        return None
    if record.version == known.version and not record.complete:
        ids = {c["id"] for c in known.contractors}
        extra = [c for c in record.contractors if c["id"] not in ids]
        return {"contractors": known.contractors + extra} if extra else None
    values = _values(record)
    if values["digest"] == known.digest and record.contractors == known.contractors:
        return None
    return {**values, "contractors": record.contractors}


def _write(batch: list[decp.Record], report: Report, source: str, known: dict[str, Known]) -> None:
    """Each record counts as created, updated or unchanged; then the new contracts are inserted in bulk
    (an upsert costs the store a query per document) and the changed ones updated."""
    fresh: dict[str, dict] = {}
    updates: list[UpdateOne] = []
    now = datetime.now(timezone.utc)
    for record in batch:
        before = known.get(record.key)
        change = _change(before, record)
        if change is None:
            report.unchanged += 1
            continue
        stamped = {**change, "source": source[:200], "imported_at": now}
        if before is None:
            report.created += 1
            fresh[record.key] = {"_id": record.key, **stamped}
        else:
            report.updated += 1
            if record.key in fresh:
                fresh[record.key].update(stamped)
            else:
                updates.append(UpdateOne({"_id": record.key}, {"$set": stamped}))
        merged = fresh.get(record.key) or {**vars(before), **change}
        known[record.key] = Known(merged["version"], merged["digest"], merged["contractors"])
    collection = CensusContract._get_collection()
    if fresh:
        try:
            collection.insert_many(list(fresh.values()), ordered=False)
        except BulkWriteError as exc:  # another import inserted some meanwhile: those are replaced
            documents = list(fresh.values())
            if any(error["code"] != 11000 for error in exc.details["writeErrors"]):
                raise
            collection.bulk_write([ReplaceOne({"_id": documents[e["index"]]["_id"]}, documents[e["index"]],
                                              upsert=True) for e in exc.details["writeErrors"]])
    if updates:
        collection.bulk_write(updates, ordered=True)


# --- who sees which census buyer ------------------------------------------------------------------
@dataclass
class CensusBuyer:
    siret: str
    name: str | None
    directory: Buyer | None
    territories: list[str]
    contracts: list[dict]


def _directory_match(sirets: set[str]) -> dict[str, Buyer]:
    """Census SIRETs matched to the directory: the same SIRET, else the one directory buyer of the SIREN."""
    buyers = list(Buyer.objects(siret__in=list(sirets))) if sirets else []
    by_siret = {b.siret: b for b in buyers}
    missing = {s[:9] for s in sirets if s not in by_siret}
    by_siren: dict[str, list[Buyer]] = {}
    for buyer in Buyer.objects.only("id", "siret", "name", "territory", "buyer_type"):
        if buyer.siret[:9] in missing:
            by_siren.setdefault(buyer.siret[:9], []).append(buyer)
    return {s: by_siret.get(s) or (by_siren[s[:9]][0] if len(by_siren.get(s[:9], [])) == 1 else None)
            for s in sirets}


PROJECTION = {"_id": 1, "decp_id": 1, "buyer_siret": 1, "buyer_name": 1, "object": 1, "cpv": 1, "amount_cents": 1,
              "notification_date": 1, "year": 1, "departement": 1, "social": 1, "contractors": 1, "market_id": 1,
              "duration_months": 1, "nature": 1}


def census_buyers(territories, siret: str | None = None) -> list[CensusBuyer]:
    """The census's buyers the caller may see (one of ``territories``), with their contracts."""
    query = {"buyer_siret": siret} if siret else {}
    by_siret: dict[str, list[dict]] = {}
    for contract in CensusContract._get_collection().find(query, PROJECTION):
        by_siret.setdefault(contract["buyer_siret"], []).append(contract)
    matched = _directory_match(set(by_siret))
    of_departement: dict[str, list[str]] = {}
    for territory in region.current().territories.values():
        of_departement.setdefault(territory.departement, []).append(territory.id)
    wanted, found = set(territories), []
    for buyer_siret, contracts in by_siret.items():
        directory = matched[buyer_siret]
        if directory is not None:
            scope = [directory.territory]
        else:
            scope = sorted({t for c in contracts for t in of_departement.get(c.get("departement"), [])})
        if wanted & set(scope):
            name = directory.name if directory else next((c["buyer_name"] for c in contracts if c.get("buyer_name")),
                                                          None)
            found.append(CensusBuyer(buyer_siret, name, directory, scope, contracts))
    return found


def _visible_contract(contract_id: str, territories) -> tuple[dict, CensusBuyer] | None:
    contract = CensusContract._get_collection().find_one({"_id": contract_id}, PROJECTION)
    if contract is None:
        return None
    for buyer in census_buyers(territories, contract["buyer_siret"]):
        return contract, buyer
    return None


# --- adoption -----------------------------------------------------------------------------------
def adoption(contracts: list[dict], threshold_cents: int) -> dict:
    """Contracts at or above the threshold, their amount, and the share with each social consideration."""
    counted = [c for c in contracts if c["amount_cents"] >= threshold_cents]
    total = sum(c["amount_cents"] for c in counted)

    def part(test) -> dict:
        chosen = [c for c in counted if test(c["social"])]
        amount = sum(c["amount_cents"] for c in chosen)
        return {"contracts": len(chosen), "amount": amount / 100,
                "share": round(len(chosen) / len(counted), 4) if counted else None,
                "amount_share": round(amount / total, 4) if total else None}
    return {"contracts": len(counted), "amount": total / 100,
            "clause": part(lambda s: decp.CLAUSE in s), "reserved": part(lambda s: decp.RESERVED in s),
            "criterion": part(lambda s: decp.CRITERION in s), "none": part(lambda s: not s),
            "any": part(bool)}


def threshold_cents() -> int:
    return int(table()["threshold"] * 100)


def _buyer_view(buyer: CensusBuyer) -> dict:
    return {"siret": buyer.siret, "name": buyer.name, "territories": buyer.territories,
            "directory_buyer_id": buyer.directory.id if buyer.directory else None}


def adoption_by_buyer(territories, year: int | None = None, siret: str | None = None) -> list[dict]:
    """One row per buyer and year: its contracts and the share with a clause, reserved, a criterion, none."""
    threshold, rows = threshold_cents(), []
    for buyer in census_buyers(territories, siret):
        years = sorted({c["year"] for c in buyer.contracts if year is None or c["year"] == year})
        for each in years:
            rows.append({**_buyer_view(buyer), "year": each,
                         **adoption([c for c in buyer.contracts if c["year"] == each], threshold)})
    return sorted(rows, key=lambda r: (-r["year"], -r["amount"], r["siret"]))


# --- where to act -----------------------------------------------------------------------------------
def potential_hours(contract: dict, settings: dict, shares: dict[str, Decimal]) -> int:
    """The insertion hours a contract could have carried: amount × labour share of its CPV family × rate ÷
    hourly cost; 0 when its family does not lend itself to a clause."""
    share = shares.get(contract["cpv"][:2])
    if share is None:
        return 0
    return domain.size_quota(Decimal(contract["amount_cents"]) / 100, share, settings["insertion_rate"],
                             settings["hourly_cost"]).hours


def where_to_act(territories, year: int | None = None, contracts_shown: int = 20) -> list[dict]:
    """The buyers with no social consideration in their contracts (of ``year``, or of every year),
    ranked by the insertion hours their contracts at or above the threshold could have carried."""
    settings = table()
    shares = {f["code"]: f["labour_share"] for f in settings["families"]}
    labels = {f["code"]: f["label"] for f in settings["families"]}
    threshold, ranked = int(settings["threshold"] * 100), []
    for buyer in census_buyers(territories):
        contracts = [c for c in buyer.contracts if year is None or c["year"] == year]
        if not contracts or any(c["social"] for c in contracts):
            continue
        lending = []
        for contract in contracts:
            hours = potential_hours(contract, settings, shares) if contract["amount_cents"] >= threshold else 0
            if hours:
                lending.append({"id": contract["_id"], "decp_id": contract["decp_id"], "object": contract["object"],
                                "cpv": contract["cpv"], "family": labels[contract["cpv"][:2]],
                                "amount": contract["amount_cents"] / 100,
                                "notification_date": contract["notification_date"], "potential_hours": hours})
        if lending:
            lending.sort(key=lambda c: (-c["potential_hours"], c["id"]))
            ranked.append({**_buyer_view(buyer), "contracts": len(contracts),
                           "amount": sum(c["amount_cents"] for c in contracts) / 100,
                           "potential_hours": sum(c["potential_hours"] for c in lending),
                           "contracts_lending_themselves": len(lending), "examples": lending[:contracts_shown]})
    return sorted(ranked, key=lambda b: (-b["potential_hours"], b["siret"]))


# --- one step from the census to the platform ------------------------------------------------------------
def add_to_directory(siret: str, data: dict, created_by: str, territories) -> Buyer:
    """A census buyer joins the directory: its name from the census unless one is given."""
    found = census_buyers(territories, siret)
    if not found:
        raise handlers.Refused(404, "Acheteur absent du recensement de vos territoires.")
    if found[0].directory is not None and found[0].directory.siret == siret:
        raise handlers.Refused(409, "Cet acheteur est déjà dans l'annuaire.")
    if not siret_valid(siret):
        raise handlers.Refused(422, "Le SIRET publié pour cet acheteur a une clé de contrôle invalide : "
                                    "enregistrez-le dans l'annuaire avec son SIRET corrigé.")
    name = data.get("name") or found[0].name
    if not name:
        raise handlers.Refused(422, "Les données publiées ne donnent pas le nom de cet acheteur : précisez-le (name).")
    return handlers.create_buyer({"name": name, "siret": siret, "buyer_type": data["buyer_type"],
                                  "territory": data["territory"], "contacts": []}, created_by)


CPV_WITH_KEY = re.compile(r"^\d{8}-\d$")  # what a market's cpv_code takes
CLAUSE_KIND_OF = [(decp.RESERVED, "reserved_contract"), (decp.CLAUSE, "execution_condition"),
                  (decp.CRITERION, "award_criterion")]


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def nature_of(cpv: str) -> str:
    division = int(cpv[:2])
    return "works" if division == 45 else "supplies" if division < 45 or division == 48 else "services"


def make_market(contract_id: str, territories, created_by: str) -> Market:
    """A census contract with a social consideration becomes a market of the platform, pre-filled: buyer,
    object, CPV, dates, and a first lot with its amount, sized from the regional table and awarded to
    the contract's company when it has a SIRET."""
    found = _visible_contract(contract_id, territories)
    if found is None:
        raise handlers.Refused(404, "Marché du recensement introuvable dans vos territoires.")
    contract, buyer = found
    if not contract["social"]:
        raise handlers.Refused(409, "Ce marché ne porte aucune considération sociale : rien à suivre sur la plateforme.")
    if buyer.directory is None:
        raise handlers.Refused(422, "Acheteur absent de l'annuaire : ajoutez-le d'abord "
                                    f"(POST /api/v1/census/buyers/{buyer.siret}/directory).")
    if not set(territories) & {buyer.directory.territory}:
        raise handlers.Refused(403, "Vous n'intervenez pas sur le territoire de cet acheteur.")
    collection = CensusContract._get_collection()
    # claimed first, so that two facilitators clicking at once make one market
    if not collection.update_one({"_id": contract_id, "market_id": None}, {"$set": {"market_id": "pending"}}).matched_count:
        raise handlers.Refused(409, "Un marché de la plateforme a déjà été créé à partir de celui-ci.")
    try:
        market = _create_market(contract, buyer.directory, created_by)
    except BaseException:
        collection.update_one({"_id": contract_id}, {"$set": {"market_id": None}})
        raise
    collection.update_one({"_id": contract_id}, {"$set": {"market_id": market.id}})
    return market


def _create_market(contract: dict, buyer: Buyer, created_by: str) -> Market:
    start = date.fromisoformat(contract["notification_date"])
    end = _add_months(start, max(contract.get("duration_months") or 12, 1))
    cpv = contract["cpv"]
    market = handlers.create_market({
        "reference": contract["decp_id"][:64], "title": contract["object"][:300], "nature": nature_of(cpv),
        "cpv_code": cpv if CPV_WITH_KEY.match(cpv) else None, "clause_kind": next(kind for flag, kind in CLAUSE_KIND_OF if flag in contract["social"]),
        "lead_territory": buyer.territory, "associated_territories": [], "state_market": False,
        "notification_date": start, "start_date": start, "end_date": end}, buyer, created_by)
    settings = table()
    share = {f["code"]: f["labour_share"] for f in settings["families"]}.get(cpv[:2])
    if share is None:  # a family the table does not size: the facilitator adds the lot
        return Market.objects.get(id=market.id)
    lot = handlers.add_lot(market, {"number": 1, "title": contract["object"][:300],
                                    "amount_excl_vat": Decimal(contract["amount_cents"]) / 100, "labour_share": share,
                                    "insertion_rate": settings["insertion_rate"], "hourly_cost": settings["hourly_cost"]})
    company = next((c for c in contract["contractors"] if (c.get("id_type") or "SIRET").upper() == "SIRET"
                    and siret_valid(c["id"])), None)
    if company:
        handlers.award_lot(lot.id, company["id"], company.get("name") or f"Titulaire SIRET {company['id']}")
    return Market.objects.get(id=market.id)
