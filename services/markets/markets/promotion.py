"""The promotion log: what facilitators do to win buyers over to the clause, its next steps and their
reminders, and its effect on the buyers' adoption seen in the census."""
from datetime import date, datetime, timedelta, timezone

import mongoengine as me
from plumbing.events import Event
from plumbing.outbox import OutboxDocument, retry_on_conflict

from . import census, handlers
from .store import Buyer, new_id

KINDS = ("individual_meeting", "event", "training", "newsletter", "documentation_sent")
KIND_LABELS_FR = {"individual_meeting": "rendez-vous individuel", "event": "événement", "training": "formation",
                  "newsletter": "lettre d'information", "documentation_sent": "envoi de documentation"}
MEETING = "individual_meeting"  # what "met" means for the effect
REMIND_DAYS_AHEAD = 7  # a next step is recalled this many days before it is due


class PromotionAction(OutboxDocument):
    """An action with a buyer, recorded by a facilitator of one of their territories."""
    id = me.StringField(primary_key=True, default=new_id)
    buyer_siret = me.StringField(required=True)
    buyer_name = me.StringField()
    territory = me.StringField(required=True)
    kind = me.StringField(required=True, choices=KINDS)
    date = me.DateField(required=True)
    people_met = me.ListField(me.DictField())  # professional contacts: name, role, email, phone
    agreed = me.StringField()
    next_step = me.StringField()
    next_step_on = me.DateField()
    next_step_done = me.BooleanField(default=False)
    reminded_for = me.DateField()  # the due date last recalled (a new date is recalled again)
    created_by = me.StringField()
    created_at = me.DateTimeField()
    meta = {"collection": "promotion_actions", "indexes": ["buyer_siret", ("territory", "-date"), "next_step_on"]}


def _buyer_name(siret: str) -> str | None:
    """The buyer's name from the directory or the census; None when neither knows the SIRET."""
    known = Buyer.objects(siret=siret).only("name").first()
    if known:
        return known.name
    contract = census.CensusContract.objects(buyer_siret=siret).only("buyer_name").first()
    return (contract.buyer_name or f"Acheteur SIRET {siret}") if contract else None


def record(data: dict, created_by: str) -> PromotionAction:
    name = _buyer_name(data["buyer_siret"])
    if name is None:
        raise handlers.Refused(422, "Acheteur inconnu : ni dans l'annuaire ni dans le recensement (SIRET "
                                    f"{data['buyer_siret']}).")
    if bool(data.get("next_step")) != bool(data.get("next_step_on")):
        raise handlers.Refused(422, "Une prochaine étape a un libellé et une date (next_step et next_step_on).")
    return PromotionAction(**data, buyer_name=name, created_by=created_by,
                           created_at=datetime.now(timezone.utc)).commit()


@retry_on_conflict
def update(action_id: str, changes: dict) -> PromotionAction:
    action = PromotionAction.objects.get(id=action_id)
    for name, value in changes.items():
        setattr(action, name, value)
    if bool(action.next_step) != bool(action.next_step_on):
        raise handlers.Refused(422, "Une prochaine étape a un libellé et une date (next_step et next_step_on).")
    return action.commit()


# --- reminders ------------------------------------------------------------------------------------
def remind_next_steps(today: date | None = None, days_ahead: int = REMIND_DAYS_AHEAD) -> int:
    """Publish ``promotion.next_step_due`` once per next step due within ``days_ahead`` days (or overdue)
    and not done; the notifications service turns it into a reminder to the territory's facilitators."""
    today = today or date.today()
    reminded = 0
    for action in PromotionAction.objects(next_step_on__lte=today + timedelta(days=days_ahead),
                                          next_step_done=False).only("id"):
        reminded += _remind(action.id)
    return reminded


@retry_on_conflict
def _remind(action_id: str) -> int:
    action = PromotionAction.objects.get(id=action_id)
    if action.next_step_done or action.next_step_on is None or action.reminded_for == action.next_step_on:
        return 0
    action.reminded_for = action.next_step_on
    action.record(Event(type="promotion.next_step_due", producer=handlers.SERVICE, key=action.buyer_siret,
                        territories=[action.territory], payload={
                            "action_id": action.id, "buyer_siret": action.buyer_siret,
                            "buyer_name": action.buyer_name, "territory": action.territory, "kind": action.kind,
                            "kind_label": KIND_LABELS_FR[action.kind], "date": action.date.isoformat(),
                            "next_step": action.next_step, "next_step_on": action.next_step_on.isoformat(),
                            "recorded_by": action.created_by}))
    action.commit()
    return 1


# --- effect -----------------------------------------------------------------------------------------
def _window(contracts: list[dict], start: date, end: date) -> list[dict]:
    return [c for c in contracts if start.isoformat() <= c["notification_date"] < end.isoformat()]


def _year_before_after(contracts: list[dict], pivot: date, threshold: int) -> tuple[dict, dict]:
    before = _window(contracts, census._add_months(pivot, -12), pivot)
    after = _window(contracts, pivot, census._add_months(pivot, 12))
    return census.adoption(before, threshold), census.adoption(after, threshold)


def effect(territories) -> dict:
    """For the buyers met, their adoption in the 12 months before and after the first meeting; the
    same for the buyers not met around the median first meeting; the region's adoption year by year
    against the national figures and target."""
    threshold = census.threshold_cents()
    buyers = census.census_buyers(territories)
    first_meeting: dict[str, date] = {}
    for action in PromotionAction.objects(territory__in=list(territories), kind=MEETING).only("buyer_siret", "date"):
        known = first_meeting.get(action.buyer_siret)
        first_meeting[action.buyer_siret] = min(known, action.date) if known else action.date
    latest = max((c["notification_date"] for b in buyers for c in b.contracts), default=None)
    met, met_before, met_after = [], [], []
    for buyer in buyers:
        pivot = first_meeting.get(buyer.siret)
        if pivot is None:
            continue
        before, after = _year_before_after(buyer.contracts, pivot, threshold)
        met.append({"siret": buyer.siret, "name": buyer.name, "territories": buyer.territories,
                    "first_meeting_on": pivot.isoformat(), "before": before, "after": after,
                    "after_complete": bool(latest) and census._add_months(pivot, 12).isoformat() <= latest})
        met_before += _window(buyer.contracts, census._add_months(pivot, -12), pivot)
        met_after += _window(buyer.contracts, pivot, census._add_months(pivot, 12))
    not_met = [b for b in buyers if b.siret not in first_meeting]
    # the median first meeting (the later middle one of an even count)
    reference = sorted(first_meeting.values())[len(first_meeting) // 2] if first_meeting else None
    comparison = None
    if reference is not None:
        pooled = [c for b in not_met for c in b.contracts]
        before, after = _year_before_after(pooled, reference, threshold)
        comparison = {"reference_date": reference.isoformat(), "buyers": len(not_met), "before": before, "after": after}
    years = sorted({c["year"] for b in buyers for c in b.contracts})
    by_year = []
    for year in years:
        figures = census.adoption([c for b in buyers for c in b.contracts if c["year"] == year], threshold)
        by_year.append({"year": year, "contracts": figures["contracts"], "amount": figures["amount"],
                        "social_share": figures["any"]["share"], "clause_share": figures["clause"]["share"],
                        "national_share": census.NATIONAL_SHARES.get(year), "national_target": census.NATIONAL_TARGET})
    return {"met": sorted(met, key=lambda m: (m["first_meeting_on"], m["siret"])),
            "met_total": {"buyers": len(met), "before": census.adoption(met_before, threshold),
                          "after": census.adoption(met_after, threshold)},
            "not_met": comparison, "region_by_year": by_year}
