"""Service layer: what the markets service does, called by the API and by the worker."""
from datetime import date

from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import Lot, LotHours, Market, sum_hours_by_state

SERVICE = "markets"


def _event(type_: str, key: str, territories, payload: dict) -> Event:
    return Event(type=type_, producer=SERVICE, key=key, territories=list(territories), payload=payload)


def lot_summary(lot: Lot, market: Market) -> dict:
    """The facts about a lot that every markets event carries, so consumers need no lookup."""
    return {"lot_id": lot.id, "market_id": market.id, "market_reference": market.reference,
            "market_title": market.title, "lot_number": lot.number, "lot_title": lot.title,
            "lead_territory": market.lead_territory}


def create_market(data: dict, created_by: str) -> Market:
    territories = [data["lead_territory"]] + [t for t in data.get("associated_territories", [])
                                              if t != data["lead_territory"]]
    market = Market(reference=data["reference"], title=data["title"], buyer_name=data["buyer_name"],
                    nature=data["nature"], lead_territory=data["lead_territory"], territories=territories,
                    state_market=data.get("state_market", False), start_date=data["start_date"],
                    end_date=data["end_date"], created_by=created_by)
    market.record(_event("market.created", market.id, territories, {
        "market_id": market.id, "reference": market.reference, "title": market.title,
        "buyer_name": market.buyer_name, "nature": market.nature, "state_market": market.state_market,
        "lead_territory": market.lead_territory, "start_date": market.start_date.isoformat(),
        "end_date": market.end_date.isoformat()}))
    return market.commit()


def add_lot(market: Market, data: dict) -> Lot:
    sizing = domain.size_quota(data["amount_excl_vat"], data["labour_share"], data["insertion_rate"],
                               data["hourly_cost"])
    lot = Lot(market_id=market.id, number=data["number"], title=data["title"], trade=data.get("trade"),
              amount_excl_vat=sizing.amount_excl_vat, labour_share=sizing.labour_share,
              insertion_rate=sizing.insertion_rate, hourly_cost=sizing.hourly_cost,
              computed_quota_hours=sizing.hours, quota_hours=sizing.hours,
              territories=market.territories, start_date=market.start_date, end_date=market.end_date)
    lot.record(_event("lot.quota_set", lot.id, lot.territories, {
        **lot_summary(lot, market), "quota_hours": lot.quota_hours,
        "computed_quota_hours": lot.computed_quota_hours}))
    return lot.commit()


def award_lot(lot: Lot, market: Market, siret: str, name: str) -> Lot:
    lot.contractor_siret, lot.contractor_name = siret, name
    lot.record(_event("lot.awarded", lot.id, lot.territories, {
        **lot_summary(lot, market), "contractor_siret": siret, "contractor_name": name,
        "start_date": lot.start_date.isoformat(), "end_date": lot.end_date.isoformat(),
        "quota_hours": lot.quota_hours}))
    lot.commit()
    if market.status == "draft":
        _advance_market(market.id, "awarded")
    return lot


@retry_on_conflict
def _advance_market(market_id: str, status: str) -> None:
    market = Market.objects.get(id=market_id)
    market.status = status
    market.commit()


def expected_hours_today(lot: Lot, today: date | None = None) -> float:
    return domain.expected_hours(lot.quota_hours, lot.start_date, lot.end_date, today or date.today())


def progress_view(lot: Lot) -> dict:
    status = domain.Status(lot.progress_status)
    return {"realised_hours": lot.realised_hours, "declared_hours": lot.declared_hours,
            "expected_hours": round(expected_hours_today(lot), 2), "progress_status": status.value,
            "status_label": domain.STATUS_LABELS_FR[status]}


# --- events from the hours service -----------------------------------------------------------
_STATE_OF = {"declaration.submitted": "submitted", "declaration.validated": "validated",
             "declaration.rejected": "rejected"}


def apply_declaration(event: Event) -> None:
    """Record a declaration's hours under its id, then bring the lot's progress up to date."""
    p = event.payload
    try:
        declaration_id, lot_id, centihours = p["declaration_id"], p["lot_id"], int(p["centihours"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unapplicable(f"declaration payload incomplete: {exc}") from None
    if not Lot.objects(id=lot_id).count():
        raise Unapplicable(f"unknown lot {lot_id}")
    state = _STATE_OF[event.type]
    known = LotHours.objects(id=declaration_id).first()
    if not (known and known.state != "submitted" and state == "submitted"):  # never step back
        LotHours(id=declaration_id, lot_id=lot_id, centihours=centihours, state=state,
                 month=p.get("month"), mode=p.get("mode"), territory=p.get("territory")).save()
    refresh_progress(lot_id)


@retry_on_conflict
def refresh_progress(lot_id: str, today: date | None = None) -> Lot:
    """Recompute a lot's totals and status from its facts; publish what changed, once."""
    lot = Lot.objects.get(id=lot_id)
    totals = sum_hours_by_state(lot_id)
    realised, declared = totals.get("validated", 0), totals.get("submitted", 0)
    market = Market.objects.get(id=lot.market_id)
    status = domain.progress_status(lot.quota_hours, realised / 100, expected_hours_today(lot, today),
                                    closed=market.status == "closed").value
    if (realised, declared, status) == (lot.realised_centihours, lot.declared_centihours, lot.progress_status):
        return lot
    summary = lot_summary(lot, market)
    if (realised, declared) != (lot.realised_centihours, lot.declared_centihours):
        lot.realised_centihours, lot.declared_centihours = realised, declared
        lot.record(_event("lot.progress_updated", lot.id, lot.territories, {
            **summary, "realised_hours": realised / 100, "declared_hours": declared / 100,
            "quota_hours": lot.quota_hours}))
    if status != lot.progress_status:
        previous, lot.progress_status = lot.progress_status, status
        lot.record(_event("lot.status_changed", lot.id, lot.territories, {
            **summary, "previous_status": previous, "status": status,
            "realised_hours": realised / 100, "quota_hours": lot.quota_hours}))
        if status == domain.Status.REACHED.value:
            lot.record(_event("lot.quota_reached", lot.id, lot.territories, {
                **summary, "realised_hours": realised / 100, "quota_hours": lot.quota_hours}))
    return lot.commit()


EVENT_HANDLERS = {type_: apply_declaration for type_ in _STATE_OF}
CONSUMES = ["hours"]  # the services whose events this one applies
