"""What the observatory does: fold the other services' events into its read model (live, or rebuilt from
the topics' beginning), and answer statistics, reports and the public figures from it."""
import logging
import time
from collections import defaultdict
from datetime import date

from plumbing import events as envelope
from plumbing.auth import Principal
from plumbing.consumer import Batched, ProcessedEvent
from plumbing.region import current as current_region
from plumbing.replay import TopicsReplay, refuse_while_the_worker_runs
from pymongo import ReplaceOne

from . import domain, snapshot
from .domain import TOTAL, Facts
from .store import FACT_DOCUMENTS, READ_MODEL, LotLines, collection, decode_lines, encode_lines, find_ids

log = logging.getLogger(__name__)

SERVICE = "observatory"
CONSUMES = ["markets", "hours", "participants"]
_CHUNK = 1000


def _by_id(docs) -> dict:
    return {doc["_id"]: doc for doc in docs}


# --- the live read model -------------------------------------------------------------------------------
def apply_events(batch: list[envelope.Event]) -> None:
    """Fold a poll's events into the facts they touch, write those, and record what changed for the web
    processes' snapshots. Idempotent: facts are replaced by id."""
    ids = defaultdict(set)
    for event in batch:
        p = event.payload
        for kind, name in (("markets", "market_id"), ("lots", "lot_id"), ("people", "participant_id")):
            if name in p:
                ids[kind].add(p[name])
    line_lots = {e.payload["lot_id"] for e in batch if e.type in domain.LINE_EVENTS}
    facts = Facts(**{kind: _by_id(find_ids(FACT_DOCUMENTS[kind], ids[kind]))
                     for kind in ("markets", "lots", "people")},
                  lines={line["_id"]: line for doc in find_ids(LotLines, line_lots) for line in decode_lines(doc)})
    for event in batch:
        domain.fold(facts, event)
    for kind in FACT_DOCUMENTS:
        documents = getattr(facts, kind)
        _replace(FACT_DOCUMENTS[kind], [documents[i] for i in facts.changed.get(kind, ())])
    _replace(LotLines, _lot_lines(facts.lines.values()))
    if facts.changed:
        _save_now_and_then(snapshot.record({**facts.changed, "lines": line_lots}))


def _save_now_and_then(generation: int) -> None:
    """Every SAVE_EVERY batches, save the snapshot: a process starting loads it and catches up the batches since.
    Its failure costs only time (processes then read more), never the batch: it is written and recorded."""
    if generation % snapshot.SAVE_EVERY:
        return
    try:
        snapshot.save(snapshot.current())
    except Exception:  # noqa: BLE001 - see above
        log.exception("snapshot not saved; starting processes will catch up from an older one or read the facts")


_BATCH = Batched(apply_events)  # one handler for every type: a poll's events are folded in their order
EVENT_HANDLERS = {kind: _BATCH for kind in (*domain.MARKET_EVENTS, *domain.LOT_EVENTS, *domain.PERSON_EVENTS,
                                            *domain.LINE_EVENTS)}


def _replace(document, docs: list[dict]) -> None:
    for start in range(0, len(docs), _CHUNK):
        collection(document).bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True)
                                         for d in docs[start:start + _CHUNK]], ordered=False)


# --- rebuilding from the topics' beginning ----------------------------------------------------------------
def rebuild(settings, progress=None) -> dict:
    """Read every event of the consumed topics from their beginning up to their current end, fold them in
    memory, replace the read model, and set the worker's consumer group to go on from there.

    Stop the worker first: the group's offsets can only be set while it has no member (``WorkerRunning``)."""
    started = time.perf_counter()
    refuse_while_the_worker_runs(settings)
    with TopicsReplay(settings, CONSUMES) as replay:
        facts, count = Facts(), 0
        for event in replay.events(progress):
            if event.type in EVENT_HANDLERS:
                domain.fold(facts, event)
                count += 1
        read = time.perf_counter()
        refuse_while_the_worker_runs(settings)  # started while we read: it would fold on top of our model
        replace_read_model(facts)
        replay.commit_ends()
    done = time.perf_counter()
    return {"events": count, "lines": len(facts.lines), "seconds": round(done - started, 2),
            "read_seconds": round(read - started, 2), "events_per_second": round(count / max(done - started, 1e-9))}


def replace_read_model(facts: Facts) -> None:
    for document in READ_MODEL:
        collection(document).delete_many({})
    collection(ProcessedEvent).delete_many({})  # the group goes on from the rebuild's end: nothing before counts
    for kind, document in FACT_DOCUMENTS.items():
        _insert(document, list(getattr(facts, kind).values()))
    lot_lines = _lot_lines(facts.lines.values())
    _insert(LotLines, lot_lines, 20)
    # the web processes' snapshot, made from what was just written rather than read back (about 30 s a million)
    rebuilt = snapshot.Snapshot(None, 0)
    rebuilt.markets, rebuilt.lots = dict(facts.markets), dict(facts.lots)
    rebuilt.put_people(facts.people.values())
    rebuilt.put_lines(lot_lines)
    snapshot.new_epoch(rebuilt)


def _lot_lines(lines) -> list[dict]:
    by_lot = defaultdict(list)
    for line in lines:
        by_lot[line["lot_id"]].append(line)
    return [encode_lines(lot_id, sorted(lot_lines, key=lambda line: line["_id"]))
            for lot_id, lot_lines in by_lot.items()]


def _insert(document, docs: list[dict], chunk: int = 10 * _CHUNK) -> None:
    for start in range(0, len(docs), chunk):
        collection(document).insert_many(docs[start:start + chunk], ordered=False)


# --- scope: what a caller may count -----------------------------------------------------------------------
class Scope:
    """The markets and lots a statistic counts: the caller's territories (a buyer: its own markets),
    narrowed to a territory, a buyer or a market when asked."""

    def __init__(self, principal: Principal | None, territory: str | None = None, market_id: str | None = None):
        territories = set(current_region().territories) if principal is None else set(principal.territories)
        if territory:
            territories &= {territory}
        self.snapshot = snapshot.current()
        self.markets = {m["_id"]: m for m in self.snapshot.markets.values()
                        if set(m.get("territories") or ()) & territories
                        and (principal is None or principal.role != "buyer" or m.get("buyer_id") == principal.buyer_id)
                        and (market_id is None or m["_id"] == market_id)}
        self.lots = {lot["_id"]: lot for lot in self.snapshot.lots.values() if lot.get("market_id") in self.markets}

    def lines(self) -> list[dict]:
        return [line for doc in find_ids(LotLines, self.lots) for line in decode_lines(doc)]


def _overlaps(lot: dict, months: tuple[str, str] | None) -> bool:
    if not months or not lot.get("start_date") or not lot.get("end_date"):
        return True
    return lot["start_date"][:7] <= months[1] and lot["end_date"][:7] >= months[0]


# --- statistics -----------------------------------------------------------------------------------------
def statistics(scope: Scope, dimensions: list[str], months: tuple[str, str] | None, threshold: int) -> dict:
    """Hours required, realised and declared, participants and outcomes by up to two dimensions, with the
    margins; every count of people below the threshold hidden, and whatever would give it back."""
    groups = scope.snapshot.tabulate(scope.lots, dimensions, months)
    domain.add_required(groups, [lot for lot in scope.lots.values() if _overlaps(lot, months)], scope.markets,
                        dimensions)
    if not groups:
        groups[tuple(TOTAL for _ in dimensions)] = domain.Group()
    # in the keys' order, not the snapshot's codes' (its history): every process then hides the same cells, or
    # two answers to one query could each give back what the other hides
    groups = dict(sorted(groups.items(), key=lambda kg: _sort_key(kg[0])))
    hidden = domain.suppression({key: domain.participants(g) for key, g in groups.items()}, threshold)
    hidden_outcomes = {o: domain.suppression({key: domain.outcome_count(g, o) for key, g in groups.items()},
                                             threshold) for o in domain.OUTCOMES}
    lot_level = all(domain.DIMENSIONS[d].level == "lot" for d in dimensions)
    names = _names(scope)

    def row(key, group):
        secret = key in hidden
        return {
            "keys": {d: {"code": _code(v), "label": "Total" if v is TOTAL else domain.label(d, v, names)}
                     for d, v in zip(dimensions, key)},
            "hours_required": group.required if lot_level else None,
            "hours_realised": None if secret else group.realised / 100,
            "hours_declared": None if secret else group.declared / 100,
            "participants": None if secret else domain.participants(group),
            "outcomes": {o: None if key in hidden_outcomes[o] else domain.outcome_count(group, o)
                         for o in domain.OUTCOMES},
            "secret": secret or any(key in hidden_outcomes[o] for o in domain.OUTCOMES)}

    rows = sorted(((key, g) for key, g in groups.items() if dimensions and TOTAL not in key),
                  key=lambda kg: _sort_key(kg[0]))
    margins = {d: [row(key, g) for key, g in sorted(groups.items(), key=lambda kg: _sort_key(kg[0]))
                   if key[i] is not TOTAL and all(v is TOTAL for j, v in enumerate(key) if j != i)]
               for i, d in enumerate(dimensions)} if len(dimensions) == 2 else {}
    total_key = tuple(TOTAL for _ in dimensions)
    return {
        "period": {"from": months[0], "to": months[1]} if months else None,
        "dimensions": [{"code": d, "label": domain.DIMENSIONS[d].label} for d in dimensions],
        "threshold": threshold,
        "rows": [row(key, g) for key, g in rows],
        "margins": margins,
        "total": row(total_key, groups[total_key]),
        "outcome_labels": domain.OUTCOME_LABELS_FR,
        "criteria": [{"code": d.code, "label": d.label} for d in domain.DIMENSIONS.values()],
        "notes": _notes(dimensions, lot_level, threshold)}


def _code(value):
    return "total" if value is TOTAL else value


def _sort_key(key):
    return tuple((v is TOTAL, v is None, str(v)) for v in key)


def _names(scope: Scope) -> dict:
    names = {m["buyer_id"]: m.get("buyer_name") for m in scope.markets.values() if m.get("buyer_id")}
    names.update({t.id: t.name for t in current_region().territories.values()})
    return names


def _notes(dimensions, lot_level: bool, threshold: int) -> list[str]:
    notes = [f"Secret statistique : un nombre de personnes de 1 à {threshold - 1} n'est pas publié (« s »), "
             "ni les heures correspondantes, ni une autre case qui permettrait de le retrouver par différence "
             "avec un total.",
             "Heures réalisées : lignes validées ; heures déclarées : lignes en attente de validation."]
    if not lot_level:
        notes.append("Heures exigées : non ventilables selon ces critères (elles se rapportent aux lots).")
    if "public_category" in dimensions:
        notes.append("Une personne relevant de plusieurs publics est comptée dans chacun : les lignes ne "
                     "s'additionnent pas.")
    return notes


# --- reports --------------------------------------------------------------------------------------------
def market_report(market_id: str, principal: Principal, threshold: int) -> dict | None:
    """A buyer's report on one market: quota, realised, the monthly curve, people by public and mode,
    outcomes, the companies. Counts of people follow the statistical secret; hours of the market and of
    its lots are those the markets service shows the buyer."""
    scope = Scope(principal, market_id=market_id)
    market = scope.markets.get(market_id)
    if market is None:
        return None
    lines = [line for line in scope.lines() if line["status"] in domain.COUNTED]
    realised_by_lot, by_month = defaultdict(int), defaultdict(int)
    for line in lines:
        if line["status"] == "validated":
            realised_by_lot[line["lot_id"]] += line["centihours"]
            by_month[line["month"]] += line["centihours"]
    cumulative, curve = 0, []
    for month in sorted(by_month):
        cumulative += by_month[month]
        curve.append({"month": month, "label": domain.month_label(month), "hours": by_month[month] / 100,
                      "cumulative": cumulative / 100})
    lots = sorted(scope.lots.values(), key=lambda lot: lot.get("number") or 0)
    return {
        "market": market, "generated_on": date.today(), "threshold": threshold,
        "quota_hours": sum(lot.get("quota_hours") or 0 for lot in lots),
        "realised_hours": sum(realised_by_lot.values()) / 100,
        "declared_hours": sum(line["centihours"] for line in lines if line["status"] == "submitted") / 100,
        "lots": [{**lot, "realised_hours": realised_by_lot[lot["_id"]] / 100} for lot in lots],
        "curve": curve,
        "by_public": statistics(scope, ["public_category"], None, threshold),
        "by_mode": statistics(scope, ["mode"], None, threshold),
        "by_sex": statistics(scope, ["sex"], None, threshold),
        "companies": _companies(lots, realised_by_lot)}


def _companies(lots, realised_by_lot) -> list[dict]:
    companies = {}
    for lot in lots:
        if lot.get("contractor_siret"):
            company = companies.setdefault(lot["contractor_siret"], {
                "siret": lot["contractor_siret"], "name": lot.get("contractor_name") or lot["contractor_siret"],
                "lots": [], "realised_hours": 0.0})
            company["lots"].append(lot.get("number"))
            company["realised_hours"] += realised_by_lot[lot["_id"]] / 100
    return sorted(companies.values(), key=lambda c: c["name"])


TOP_BUYERS = 10


def panorama(scope: Scope, year: int, threshold: int, territory_name: str) -> dict:
    """A territory's (or the region's) year: hours per year, shares per sector and kind of clause,
    participants per public and sex, outcomes, top buyers; every count of people under the secret."""
    months = (f"{year}-01", f"{year}-12")
    stats = {name: statistics(scope, dims, None if name == "by_year" else months, threshold) for name, dims in (
        ("by_year", ["year"]), ("by_sector", ["sector"]), ("by_clause_kind", ["clause_kind"]),
        ("by_public", ["public_category"]), ("by_sex", ["sex"]), ("by_age_band", ["age_band"]),
        ("by_buyer", ["buyer"]))}
    stats["by_year"]["rows"] = [r for r in stats["by_year"]["rows"] if r["keys"]["year"]["code"] <= str(year)]
    published = [r for r in stats["by_buyer"]["rows"] if r["hours_realised"] is not None]
    stats["top_buyers"] = sorted(published, key=lambda r: -r["hours_realised"])[:TOP_BUYERS]
    return {"year": year, "territory_name": territory_name, "generated_on": date.today(),
            "threshold": threshold, **stats}


def public_figures(threshold: int) -> dict:
    """The region's published figures: aggregates only, every count of people under the secret."""
    scope = Scope(None)
    region = current_region()
    figures = {name: statistics(scope, dims, None, threshold) for name, dims in (
        ("by_year", ["year"]), ("by_sector", ["sector"]), ("by_clause_kind", ["clause_kind"]),
        ("by_sex", ["sex"]), ("by_age_band", ["age_band"]), ("by_public", ["public_category"]),
        ("by_territory", ["territory"]))}
    return {"region": {"id": region.id, "name": region.name}, "generated_on": date.today(),
            "threshold": threshold, **figures}
