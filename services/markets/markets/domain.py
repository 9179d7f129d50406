"""Quota sizing and progress rules. Plain Python: no Flask, no Mongo, no Kafka."""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

HOUR = Decimal(1)


@dataclass(frozen=True)
class QuotaBreakdown:
    amount_excl_vat: Decimal
    labour_share: Decimal
    insertion_rate: Decimal
    hourly_cost: Decimal
    labour_amount: Decimal  # amount x labour share
    insertion_amount: Decimal  # labour amount x insertion rate
    exact_hours: Decimal  # insertion amount / hourly cost
    hours: int  # rounded half up to the whole hour


def size_quota(amount_excl_vat, labour_share, insertion_rate, hourly_cost) -> QuotaBreakdown:
    """hours = amount excl. VAT x labour share x insertion rate / hourly labour cost.

    Computed in decimals and rounded half up to the whole hour (833.33 -> 833, 833.5 -> 834).
    """
    amount, share, rate, cost = (Decimal(str(v)) for v in (amount_excl_vat, labour_share,
                                                             insertion_rate, hourly_cost))
    if amount < 0 or not (0 < share <= 1) or not (0 < rate <= 1) or cost <= 0:
        raise ValueError("amount >= 0, 0 < labour share <= 1, 0 < insertion rate <= 1, hourly cost > 0")
    labour = amount * share
    insertion = labour * rate
    exact = insertion / cost
    return QuotaBreakdown(amount, share, rate, cost, labour, insertion, exact,
                          int(exact.quantize(HOUR, rounding=ROUND_HALF_UP)))


USUAL_RATES = (Decimal("0.05"), Decimal("0.10"), Decimal("0.15"), Decimal("0.20"))


def hours_at_usual_rates(amount_excl_vat, labour_share, hourly_cost) -> dict[str, int]:
    """What the simulator shows a buyer: the quota at 5, 10, 15 and 20 %."""
    return {f"{int(rate * 100)}%": size_quota(amount_excl_vat, labour_share, rate, hourly_cost).hours
            for rate in USUAL_RATES}


def expected_hours(quota: float, start: date, end: date, on: date, ramp_days: int = 0) -> float:
    """Hours expected by ``on``: the quota spread linearly over the execution period.

    A territory may set a ramp: nothing is expected during the first ``ramp_days`` (hours
    often start after the site opens), then the quota is spread over the rest of the period.
    """
    curve_start = start + timedelta(days=ramp_days)
    if on >= end:
        return float(quota)
    if on <= curve_start:
        return 0.0
    return quota * (on - curve_start).days / (end - curve_start).days


class Status(str, Enum):
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"
    REACHED = "reached"
    CLOSED_WITH_SHORTFALL = "closed_with_shortfall"


STATUS_LABELS_FR = {
    Status.NOT_STARTED: "non démarré", Status.ON_TRACK: "dans les temps", Status.AT_RISK: "à risque",
    Status.BEHIND: "en retard", Status.REACHED: "objectif atteint",
    Status.CLOSED_WITH_SHORTFALL: "clos avec un déficit d'heures",
}


def progress_status(quota: float, realised: float, expected: float, *, closed: bool = False,
                    tolerance: float = 0.2, behind_ratio: float = 0.5) -> Status:
    """Where a lot stands against its expected curve.

    at risk: behind the expected hours by more than ``tolerance`` (default 20%);
    behind: below ``behind_ratio`` of the expected hours (default half); reached: the quota is done.
    """
    if quota > 0 and realised >= quota:
        return Status.REACHED
    if closed:
        return Status.CLOSED_WITH_SHORTFALL
    if expected <= 0:
        return Status.NOT_STARTED if realised == 0 else Status.ON_TRACK
    if realised < expected * behind_ratio:
        return Status.BEHIND
    if realised < expected * (1 - tolerance):
        return Status.AT_RISK
    return Status.ON_TRACK


# --- what buyers and markets are, in French (the pages show these labels) -------------------------
NATURE_LABELS_FR = {"works": "travaux", "services": "services", "supplies": "fournitures"}
BUYER_TYPE_LABELS_FR = {
    "commune": "commune", "intercommunality": "intercommunalité", "departement": "département",
    "region": "région", "state": "État", "social_landlord": "bailleur social", "hospital": "établissement de santé",
    "other_public_body": "autre organisme public"}
CLAUSE_KIND_LABELS_FR = {
    "execution_condition": "condition d'exécution", "award_criterion": "critère d'attribution",
    "reserved_contract": "marché réservé", "insertion_object": "marché d'insertion (objet du marché)"}
NO_CLAUSE_LABEL_FR = "sans clause sociale"


# --- a market's lifecycle ---------------------------------------------------------------------
MARKET_STATUSES = ("draft", "awarded", "in_execution", "completed", "closed")
MARKET_STATUS_LABELS_FR = {"draft": "en préparation", "awarded": "attribué", "in_execution": "en exécution",
                           "completed": "achevé", "closed": "clos"}
_NEXT = {"draft": "awarded", "awarded": "in_execution", "in_execution": "completed", "completed": "closed"}


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str):
        expected = _NEXT.get(current)
        then = (f"l'étape suivante est « {MARKET_STATUS_LABELS_FR[expected]} »" if expected
                else "il ne peut plus changer")
        super().__init__(f"Un marché « {MARKET_STATUS_LABELS_FR[current]} » ne peut pas passer à "
                         f"« {MARKET_STATUS_LABELS_FR.get(wanted, wanted)} » : {then}.")


def next_status(current: str) -> str | None:
    """The one step a market may take from ``current`` (None: closed, it stays so)."""
    return _NEXT.get(current)


def check_transition(current: str, wanted: str) -> None:
    """Markets move one step at a time: draft → awarded → in execution → completed → closed."""
    if _NEXT.get(current) != wanted:
        raise IllegalTransition(current, wanted)



# --- progress broken down, and drawn month by month ----------------------------------------------
@dataclass(frozen=True)
class Fact:
    """One declaration's hours, as the progress sees them."""
    centihours: int
    state: str  # submitted | validated | rejected | superseded
    month: str | None = None  # YYYY-MM
    mode: str | None = None
    territory: str | None = None


def breakdown(facts: list[Fact], by: str) -> dict[str, dict[str, float]]:
    """Realised (validated) and declared (submitted) hours per value of ``by`` (month, mode, territory)."""
    totals: dict[str, dict[str, int]] = {}
    for fact in facts:
        if fact.state not in ("validated", "submitted"):
            continue
        entry = totals.setdefault(getattr(fact, by) or "inconnu", {"validated": 0, "submitted": 0})
        entry[fact.state] += fact.centihours
    return {key: {"realised_hours": t["validated"] / 100, "declared_hours": t["submitted"] / 100}
            for key, t in sorted(totals.items())}


def month_starts(start: date, end: date) -> list[date]:
    months, current = [], start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


def monthly_series(facts: list[Fact], quota: int, start: date, end: date, ramp_days: int = 0) -> list[dict]:
    """Month by month over the execution period: realised vs expected, cumulated, ready to draw."""
    per_month = breakdown(facts, "month")
    series, cumulated = [], 0.0
    for first in month_starts(start, end):
        key = f"{first:%Y-%m}"
        month_end = min((first + timedelta(days=32)).replace(day=1) - timedelta(days=1), end)
        realised = per_month.get(key, {}).get("realised_hours", 0.0)
        cumulated += realised
        series.append({"month": key, "realised_hours": realised,
                       "declared_hours": per_month.get(key, {}).get("declared_hours", 0.0),
                       "cumulative_realised_hours": round(cumulated, 2),
                       "cumulative_expected_hours": round(expected_hours(quota, start, end, month_end,
                                                                         ramp_days), 2)})
    return series
