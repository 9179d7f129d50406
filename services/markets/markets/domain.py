"""Quota sizing and progress rules. Plain Python: no Flask, no Mongo, no Kafka."""
from dataclasses import dataclass
from datetime import date
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


def expected_hours(quota: float, start: date, end: date, on: date) -> float:
    """Hours expected by ``on`` when the quota is spread linearly over the execution period."""
    if on < start:
        return 0.0
    if on >= end:
        return float(quota)
    return quota * (on - start).days / (end - start).days


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
                    tolerance: float = 0.2) -> Status:
    """Where a lot stands against its expected curve.

    at risk: behind the expected hours by more than ``tolerance`` (default 20%);
    behind: below half of the expected hours; reached: the quota is done.
    """
    if quota > 0 and realised >= quota:
        return Status.REACHED
    if closed:
        return Status.CLOSED_WITH_SHORTFALL
    if expected <= 0:
        return Status.NOT_STARTED if realised == 0 else Status.ON_TRACK
    if realised < expected / 2:
        return Status.BEHIND
    if realised < expected * (1 - tolerance):
        return Status.AT_RISK
    return Status.ON_TRACK
