"""Which markets events deserve an alert, and what it says. Plain Python: no Flask, no Mongo, no Kafka."""
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

NBSP = "\u00a0"  # keeps "1 250,5 h" on one line
CENTI = Decimal("0.01")


class Kind(str, Enum):
    QUOTA_REACHED = "quota_reached"
    AT_RISK = "at_risk"
    BEHIND = "behind"


SEVERITY = {Kind.QUOTA_REACHED: "info", Kind.AT_RISK: "warning", Kind.BEHIND: "critical"}
SEVERITIES = ("info", "warning", "critical")

TITLES_FR = {Kind.QUOTA_REACHED: "Objectif d'heures atteint", Kind.AT_RISK: "Lot à risque",
             Kind.BEHIND: "Lot en retard"}
CONCLUSIONS_FR = {
    Kind.QUOTA_REACHED: ".",
    Kind.AT_RISK: " : l'avancement est en retard sur les heures attendues à ce jour.",
    Kind.BEHIND: " : moins de la moitié des heures attendues à ce jour.",
}

# lot.status_changed alerts on these statuses only; "reached" is alerted through lot.quota_reached
ALERTING_STATUSES = {"at_risk": Kind.AT_RISK, "behind": Kind.BEHIND}
LOT_FIELDS = ("lot_id", "market_id", "market_reference", "market_title", "lot_title")


class IncompleteEvent(ValueError):
    """The event lacks a field the alert needs: it can never be turned into an alert."""


@dataclass(frozen=True)
class AlertDraft:
    kind: Kind
    severity: str
    title: str
    message: str
    lot_id: str
    market_id: str


def format_hours(hours) -> str:
    """Hours the French way: 1250.5 -> "1 250,5 h", 833.0 -> "833 h" (at most two decimals)."""
    value = Decimal(str(hours)).quantize(CENTI, rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{value:,.2f}".partition(".")
    fraction = fraction.rstrip("0")
    return whole.replace(",", NBSP) + (f",{fraction}" if fraction else "") + f"{NBSP}h"


def alert_for(event_type: str, payload: dict) -> AlertDraft | None:
    """The alert a markets event calls for, or None; raises IncompleteEvent on a missing field."""
    if event_type == "lot.quota_reached":
        kind = Kind.QUOTA_REACHED
    elif event_type == "lot.status_changed":
        kind = ALERTING_STATUSES.get(_text(payload, "status"))
        if kind is None:
            return None
    else:
        return None
    lot = {name: _text(payload, name) for name in LOT_FIELDS}
    number = _number(payload, "lot_number", types=(int,))
    realised, quota = _number(payload, "realised_hours"), _number(payload, "quota_hours")
    message = (f"Lot {number} « {lot['lot_title']} » du marché {lot['market_reference']} "
               f"({lot['market_title']}) : {format_hours(realised)} réalisées sur un objectif de "
               f"{format_hours(quota)}{CONCLUSIONS_FR[kind]}")
    return AlertDraft(kind=kind, severity=SEVERITY[kind], title=TITLES_FR[kind], message=message,
                      lot_id=lot["lot_id"], market_id=lot["market_id"])


def _text(payload: dict, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise IncompleteEvent(f"payload field {name} missing or not a text")
    return value


def _number(payload: dict, name: str, types=(int, float)):
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, types) or not (0 <= value < math.inf):
        raise IncompleteEvent(f"payload field {name} missing or not a non-negative number")
    return value
