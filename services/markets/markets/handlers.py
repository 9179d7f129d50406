"""Service layer: what the markets service does, called by the API, the CLI and the worker."""
from contextvars import ContextVar
from datetime import date, datetime, timezone

from plumbing import region
from plumbing.contractor_keys import KEY_EVENT_HANDLERS
from plumbing.consumer import Batched, Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import Buyer, Lot, LotHours, Market, TerritorySettings, Trade, sum_hours_by_state

SERVICE = "markets"
RUNNING = ("awarded", "in_execution", "completed")  # markets whose lots' progress moves with time


class Refused(Exception):
    """A request the business refuses: ``status`` is the HTTP status, the message is French."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _event(type_: str, key: str, territories, payload: dict) -> Event:
    return Event(type=type_, producer=SERVICE, key=key, territories=list(territories), payload=payload)


def lot_summary(lot: Lot, market: Market) -> dict:
    """The facts about a lot that every lot event carries, so consumers need no lookup."""
    return {"lot_id": lot.id, "market_id": market.id, "market_reference": market.reference,
            "market_title": market.title, "lot_number": lot.number, "lot_title": lot.title,
            "lead_territory": market.lead_territory, "buyer_id": market.buyer_id,
            "contractor_siret": lot.contractor_siret, "state_market": market.state_market, "trade": lot.trade}


def market_payload(market: Market) -> dict:
    return {"market_id": market.id, "reference": market.reference, "title": market.title,
            "buyer_id": market.buyer_id, "buyer_name": market.buyer_name, "buyer_type": market.buyer_type,
            "nature": market.nature,
            "cpv_code": market.cpv_code, "clause_kind": market.clause_kind, "state_market": market.state_market,
            "lead_territory": market.lead_territory, "status": market.status,
            "notification_date": market.notification_date.isoformat() if market.notification_date else None,
            "start_date": market.start_date.isoformat(), "end_date": market.end_date.isoformat()}


# --- buyers -----------------------------------------------------------------------------------
def create_buyer(data: dict, created_by: str) -> Buyer:
    if Buyer.objects(siret=data["siret"]).count():
        raise Refused(409, "Un acheteur avec ce SIRET existe déjà.")
    return Buyer(**data, created_by=created_by).commit()


def buyer_statistics(buyer: Buyer) -> dict:
    """The promotion axis: how many of its markets carry a clause, and the hours they produced."""
    markets = list(Market.objects(buyer_id=buyer.id).only("id", "clause_kind"))
    with_clause = [m.id for m in markets if m.clause_kind]
    realised = sum(lot.realised_centihours for lot in Lot.objects(market_id__in=with_clause)
                   .only("realised_centihours")) if with_clause else 0
    return {"markets": len(markets), "markets_with_clause": len(with_clause),
            "clause_share": round(len(with_clause) / len(markets), 4) if markets else None,
            "realised_hours": realised / 100}


# --- markets ----------------------------------------------------------------------------------
def create_market(data: dict, buyer: Buyer, created_by: str) -> Market:
    territories = [data["lead_territory"]] + [t for t in data.pop("associated_territories", [])
                                              if t != data["lead_territory"]]
    data = {name: value for name, value in data.items() if name != "buyer_id"}
    market = Market(**data, buyer_id=buyer.id, buyer_name=buyer.name, buyer_type=buyer.buyer_type,
                    territories=territories, created_by=created_by)
    market.record(_event("market.created", market.id, territories, market_payload(market)))
    return market.commit()


@retry_on_conflict
def update_market(market_id: str, changes: dict) -> Market:
    market = Market.objects.get(id=market_id)
    changed, changes = sorted(changes), dict(changes)
    if "associated_territories" in changes:
        market.territories = [market.lead_territory] + [t for t in changes.pop("associated_territories")
                                                        if t != market.lead_territory]
    for name, value in changes.items():
        setattr(market, name, value)
    if market.end_date <= market.start_date:
        raise Refused(422, "La date de fin doit suivre la date de début.")
    market.record(_event("market.updated", market.id, market.territories,
                         {**market_payload(market), "changed": changed}))
    return market.commit()


def change_status(market_id: str, wanted: str, today: date | None = None) -> Market:
    market = _move_market(market_id, wanted)
    if wanted == "closed":
        for lot in Lot.objects(market_id=market.id).only("id"):
            refresh_progress(lot.id, today)
    return market


@retry_on_conflict
def _move_market(market_id: str, wanted: str) -> Market:
    market = Market.objects.get(id=market_id)
    try:
        domain.check_transition(market.status, wanted)
    except domain.IllegalTransition as exc:
        raise Refused(409, str(exc)) from None
    previous, market.status = market.status, wanted
    market.record(_event("market.closed" if wanted == "closed" else "market.status_changed", market.id,
                         market.territories, {**market_payload(market), "previous_status": previous}))
    return market.commit()


# --- reference table and territory settings ---------------------------------------------------------
@retry_on_conflict
def put_trade(code: str, data: dict, updated_by: str) -> Trade:
    """Create or change a trade's defaults. Lots keep the values they were sized with."""
    trade = Trade.objects(id=code).first() or Trade(id=code)
    for name, value in data.items():
        setattr(trade, name, value)
    trade.updated_by, trade.updated_at = updated_by, _now()
    return trade.commit()


# Each setting a territory's operators may set, and the region file's default it otherwise takes.
REGION_DEFAULTS = {"ramp_days": "ramp_days", "at_risk_tolerance": "progress_tolerance", "behind_ratio": "behind_ratio"}


# A list of 100 lots judges each one's progress with its territory's settings: within a request they are read once.
_settings_read: ContextVar[dict | None] = ContextVar("territory_settings_read", default=None)


def read_settings_once_per_request() -> None:
    """Run before each request of the web application: what territory_settings reads is kept to its end."""
    _settings_read.set({})


def forget_settings_read(_error=None) -> None:
    """Run at each request's end: a command or a test running in the process after it reads afresh."""
    _settings_read.set(None)


def territory_settings(territory: str) -> dict:
    """How a territory judges progress: what its operators set, else the region file's defaults."""
    kept = _settings_read.get()
    if kept is not None and territory in kept:
        return kept[territory]
    stored = TerritorySettings.objects(id=territory).first() or TerritorySettings(id=territory)
    defaults = region.current().defaults_for(territory)
    settings = {"territory": territory, **{
        name: getattr(defaults, default) if getattr(stored, name) is None else getattr(stored, name)
        for name, default in REGION_DEFAULTS.items()}}
    if kept is not None:
        kept[territory] = settings
    return settings


@retry_on_conflict
def put_territory_settings(territory: str, data: dict, updated_by: str) -> dict:
    settings = TerritorySettings.objects(id=territory).first() or TerritorySettings(id=territory)
    for name, value in data.items():
        setattr(settings, name, value)
    settings.updated_by = updated_by
    settings.commit()
    (_settings_read.get() or {}).pop(territory, None)
    return territory_settings(territory)


def sizing_inputs(data: dict) -> dict:
    """Labour share, hourly cost and rate from the request, completed from the trade's defaults."""
    names = ("labour_share", "hourly_cost", "insertion_rate")
    values = {name: data[name] for name in names if data.get(name) is not None}
    if len(values) < len(names):
        trade = Trade.objects(id=data["trade"]).first() if data.get("trade") else None
        if trade is None:
            missing = ", ".join(n for n in names if n not in values)
            raise Refused(422, f"Précisez {missing}, ou un métier du référentiel qui en donne les valeurs "
                               "par défaut.")
        values = {name: values.get(name, getattr(trade, name)) for name in names}
    return values


def simulate(data: dict) -> dict:
    inputs = sizing_inputs(data)
    sizing = domain.size_quota(data["amount_excl_vat"], inputs["labour_share"], inputs["insertion_rate"],
                               inputs["hourly_cost"])
    return {"hours": sizing.hours, "breakdown": sizing,
            "hours_at_usual_rates": domain.hours_at_usual_rates(data["amount_excl_vat"], inputs["labour_share"],
                                                                inputs["hourly_cost"])}


# --- lots -------------------------------------------------------------------------------------
def _history_entry(lot: Lot, source: str, reason: str | None, on: date | None = None) -> dict:
    return {"date": (on or date.today()).isoformat(), "source": source, "computed_hours": lot.computed_quota_hours,
            "override_hours": lot.override_quota_hours, "quota_hours": lot.quota_hours, "reason": reason,
            "amount_excl_vat": str(lot.amount_excl_vat)}


def add_lot(market: Market, data: dict) -> Lot:
    inputs = sizing_inputs(data)
    sizing = domain.size_quota(data["amount_excl_vat"], inputs["labour_share"], inputs["insertion_rate"],
                               inputs["hourly_cost"])
    lot = Lot(market_id=market.id, number=data["number"], title=data["title"], trade=data.get("trade"),
              amount_excl_vat=sizing.amount_excl_vat, labour_share=sizing.labour_share,
              insertion_rate=sizing.insertion_rate, hourly_cost=sizing.hourly_cost,
              computed_quota_hours=sizing.hours, territories=market.territories,
              start_date=market.start_date, end_date=market.end_date)
    lot.quota_history = [_history_entry(lot, "creation", None)]
    lot.record(_quota_event(lot, market, "lot.quota_set"))
    return lot.commit()


def _quota_event(lot: Lot, market: Market, type_: str, reason: str | None = None) -> Event:
    return _event(type_, lot.id, lot.territories, {
        **lot_summary(lot, market), "quota_hours": lot.quota_hours,
        "computed_quota_hours": lot.computed_quota_hours, "override_quota_hours": lot.override_quota_hours,
        "reason": reason, "start_date": lot.start_date.isoformat(), "end_date": lot.end_date.isoformat()})


@retry_on_conflict
def override_quota(lot_id: str, hours: int, reason: str) -> Lot:
    lot = Lot.objects.get(id=lot_id)
    market = Market.objects.get(id=lot.market_id)
    lot.override_quota_hours, lot.override_reason = hours, reason
    lot.quota_history = list(lot.quota_history) + [_history_entry(lot, "override", reason)]
    lot.record(_quota_event(lot, market, "lot.quota_changed", reason))
    lot.commit()
    return refresh_progress(lot.id)


@retry_on_conflict
def amend(lot_id: str, data: dict) -> Lot:
    """An amendment (avenant): new amount or dates, the quota recomputed, the history dated."""
    lot = Lot.objects.get(id=lot_id)
    market = Market.objects.get(id=lot.market_id)
    for name in ("amount_excl_vat", "start_date", "end_date"):
        if data.get(name) is not None:
            setattr(lot, name, data[name])
    if lot.end_date <= lot.start_date:
        raise Refused(422, "La date de fin doit suivre la date de début.")
    lot.computed_quota_hours = domain.size_quota(lot.amount_excl_vat, lot.labour_share, lot.insertion_rate,
                                                 lot.hourly_cost).hours
    lot.amendments = list(lot.amendments) + [{**{k: str(v) for k, v in data.items() if v is not None}}]
    lot.quota_history = list(lot.quota_history) + [_history_entry(lot, "amendment", data["reason"],
                                                                  data["signed_on"])]
    lot.record(_quota_event(lot, market, "lot.quota_changed", data["reason"]))
    lot.commit()
    return refresh_progress(lot.id)


@retry_on_conflict
def award_lot(lot_id: str, siret: str, name: str) -> Lot:
    lot = Lot.objects.get(id=lot_id)
    market = Market.objects.get(id=lot.market_id)
    if lot.contractor_siret:
        raise Refused(409, "Ce lot est déjà attribué.")
    if market.status not in ("draft", "awarded"):
        raise Refused(409, "Seul un marché en préparation ou attribué peut voir ses lots attribués.")
    lot.contractor_siret, lot.contractor_name = siret, name
    lot.record(_event("lot.awarded", lot.id, lot.territories, {
        **lot_summary(lot, market), "contractor_name": name, "start_date": lot.start_date.isoformat(),
        "end_date": lot.end_date.isoformat(), "quota_hours": lot.quota_hours}))
    lot.commit()
    if market.status == "draft":
        _move_market(market.id, "awarded")
    return lot


@retry_on_conflict
def set_partners(lot_id: str, data: dict) -> Lot:
    lot = Lot.objects.get(id=lot_id)
    lot.co_contractors, lot.subcontractors = data["co_contractors"], data["subcontractors"]
    return lot.commit()


# --- progress ---------------------------------------------------------------------------------
def expected_hours_on(lot: Lot, on: date | None = None) -> float:
    ramp = territory_settings(lot.territories[0])["ramp_days"]
    return domain.expected_hours(lot.quota_hours, lot.start_date, lot.end_date, on or date.today(), ramp)


def progress_view(lot: Lot) -> dict:
    status = domain.Status(lot.progress_status)
    return {"realised_hours": lot.realised_hours, "declared_hours": lot.declared_hours,
            "expected_hours": round(expected_hours_on(lot), 2), "progress_status": status.value,
            "status_label": domain.STATUS_LABELS_FR[status]}


def facts(lot_id: str) -> list[domain.Fact]:
    return [domain.Fact(f.centihours, f.state, f.month, f.mode, f.territory)
            for f in LotHours.objects(lot_id=lot_id).only("centihours", "state", "month", "mode", "territory")]


def progress_detail(lot: Lot) -> dict:
    lot_facts = facts(lot.id)
    ramp = territory_settings(lot.territories[0])["ramp_days"]
    return {**progress_view(lot), "quota_hours": lot.quota_hours,
            "by_month": domain.breakdown(lot_facts, "month"),
            "by_territory": domain.breakdown(lot_facts, "territory"),
            "by_mode": domain.breakdown(lot_facts, "mode"),
            "series": domain.monthly_series(lot_facts, lot.quota_hours, lot.start_date, lot.end_date, ramp)}


@retry_on_conflict
def refresh_progress(lot_id: str, today: date | None = None) -> Lot:
    """Recompute a lot's totals and status from its facts; publish what changed, once."""
    lot = Lot.objects.get(id=lot_id)
    totals = sum_hours_by_state(lot_id)
    if judge_progress(lot, Market.objects.get(id=lot.market_id), totals.get("validated", 0),
                      totals.get("submitted", 0), today):
        lot.commit()
    return lot


def judge_progress(lot: Lot, market: Market, realised: int, declared: int, today: date | None = None) -> bool:
    """Set the lot's totals (centihours) and judge its status; record an event for what changed, once.
    Returns whether anything changed (the lot is then to be committed)."""
    settings = territory_settings(lot.territories[0])
    status = domain.progress_status(lot.quota_hours, realised / 100, expected_hours_on(lot, today),
                                    closed=market.status == "closed",
                                    tolerance=settings["at_risk_tolerance"],
                                    behind_ratio=settings["behind_ratio"]).value
    if (realised, declared, status) == (lot.realised_centihours, lot.declared_centihours, lot.progress_status):
        return False
    summary = lot_summary(lot, market)
    if (realised, declared) != (lot.realised_centihours, lot.declared_centihours):
        lot.realised_centihours, lot.declared_centihours = realised, declared
        lot.record(_event("lot.progress_updated", lot.id, lot.territories, {
            **summary, "realised_hours": realised / 100, "declared_hours": declared / 100,
            "quota_hours": lot.quota_hours}))
    if status != lot.progress_status:
        previous, lot.progress_status = lot.progress_status, status
        # the last changes only: a lot hovering at the edge of a threshold must not grow without end
        lot.status_history = (list(lot.status_history) + [
            {"date": (today or date.today()).isoformat(), "previous_status": previous, "status": status,
             "realised_hours": realised / 100, "expected_hours": round(expected_hours_on(lot, today), 2)}])[-100:]
        lot.record(_event("lot.status_changed", lot.id, lot.territories, {
            **summary, "previous_status": previous, "status": status,
            "realised_hours": realised / 100, "quota_hours": lot.quota_hours,
            "expected_hours": round(expected_hours_on(lot, today), 2)}))
        if status == domain.Status.REACHED.value:
            lot.record(_event("lot.quota_reached", lot.id, lot.territories, {
                **summary, "realised_hours": realised / 100, "quota_hours": lot.quota_hours}))
    return True


def evaluate_running_lots(today: date | None = None) -> int:
    """Time alone moves the expected curve: re-judge every running lot. Returns how many changed."""
    running = [m.id for m in Market.objects(status__in=list(RUNNING)).only("id")]
    changed = 0
    for lot in Lot.objects(market_id__in=running).only("id", "progress_status"):
        if refresh_progress(lot.id, today).progress_status != lot.progress_status:
            changed += 1
    return changed


# --- events from the hours service -----------------------------------------------------------
_STATE_OF = {"declaration.submitted": "submitted", "declaration.validated": "validated",
             "declaration.rejected": "rejected", "declaration.corrected": None}
DECLARATION_EVENTS = frozenset(_STATE_OF)


def declaration_fact(event: Event) -> dict:
    """The fact a declaration event says, as stored (a LotHours document)."""
    p = event.payload
    try:
        return {"_id": p["declaration_id"], "lot_id": p["lot_id"], "centihours": int(p["centihours"]),
                "state": _STATE_OF[event.type] or p["status"], "month": p.get("month"), "mode": p.get("mode"),
                "territory": p.get("territory")}
    except (KeyError, TypeError, ValueError) as exc:
        raise Unapplicable(f"declaration payload incomplete: {exc}") from None


def fold_declaration(event: Event, fact: dict, states: dict[str, str], facts: dict[str, dict]) -> str | None:
    """Fold a declaration's fact into ``facts`` (by id: what is to be written), ``states`` knowing the state of
    every fact known so far, stored or folded.

    A correction is a new declaration that supersedes an older one: the old fact stops counting and the new one
    counts, so progress moves by exactly the difference. A fact never steps back (to submitted once validated or
    rejected; from superseded at all) when a redelivered batch brings an older event again. Returns the id of
    a stored fact (not in ``facts``) that this superseded, to be marked so."""
    old, stored_superseded = event.payload.get("supersedes"), None
    if old and old in states:
        states[old] = "superseded"
        if old in facts:
            facts[old]["state"] = "superseded"
        else:
            stored_superseded = old
    known = states.get(fact["_id"])
    if not (known == "superseded" or (known in ("validated", "rejected") and fact["state"] == "submitted")):
        facts[fact["_id"]], states[fact["_id"]] = fact, fact["state"]
    return stored_superseded


def apply_declarations(events: list[Event]) -> dict[str, str]:
    """Record the declarations' hours under their ids (see fold_declaration), then bring each lot's progress up
    to date once. Returns the events that cannot be applied, with why."""
    refused, parsed = {}, []
    for event in events:
        try:
            parsed.append((event, declaration_fact(event)))
        except Unapplicable as exc:
            refused[event.id] = str(exc)
    lots = {lot.id for lot in Lot.objects(id__in=sorted({f["lot_id"] for _, f in parsed})).only("id")}
    ids = sorted({f["_id"] for _, f in parsed} | {e.payload["supersedes"] for e, _ in parsed
                                                  if e.payload.get("supersedes")})
    states = {f.id: f.state for f in LotHours.objects(id__in=ids).only("id", "state")} if ids else {}
    known_before, facts, superseded = set(states), {}, []
    for event, fact in parsed:
        if fact["lot_id"] not in lots:
            refused[event.id] = f"unknown lot {fact['lot_id']}"
            continue
        stored = fold_declaration(event, fact, states, facts)
        if stored:
            superseded.append(stored)
    collection = LotHours._get_collection()
    new = [fact for fact in facts.values() if fact["_id"] not in known_before]
    if new:  # most facts are new: one bulk insert rather than one upsert each
        collection.insert_many(new, ordered=False)
    for fact in facts.values():
        if fact["_id"] in known_before:
            collection.replace_one({"_id": fact["_id"]}, fact)
    if superseded:
        collection.update_many({"_id": {"$in": superseded}}, {"$set": {"state": "superseded"}})
    for lot_id in sorted({fact["lot_id"] for _, fact in parsed} & lots):
        refresh_progress(lot_id)
    return refused


_DECLARATIONS = Batched(apply_declarations)
EVENT_HANDLERS = {**{type_: _DECLARATIONS for type_ in DECLARATION_EVENTS},
                  **KEY_EVENT_HANDLERS}
CONSUMES = ["hours"]  # the services whose events this one applies
