"""Which events and situations deserve an alert, what it says, who may receive it, and how a delivery is
retried and signed. Plain Python: no Flask, no Mongo, no Kafka."""
import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

NBSP = "\u00a0"  # keeps "1 250,5 h" on one line
CENTI = Decimal("0.01")


class Kind(str, Enum):
    QUOTA_REACHED = "quota_reached"
    AT_RISK = "at_risk"
    BEHIND = "behind"
    BACK_ON_TRACK = "back_on_track"
    NO_DECLARATION = "no_declaration"
    END_APPROACHING = "end_approaching"
    WINDOW_ENDING = "window_ending"
    DECLARATION_REJECTED = "declaration_rejected"
    NEXT_STEP_DUE = "next_step_due"
    DECLARATION_REMINDER = "declaration_reminder"
    DECLARATION_MISSING = "declaration_missing"


KINDS = [k.value for k in Kind]
SEVERITY = {Kind.QUOTA_REACHED: "info", Kind.AT_RISK: "warning", Kind.BEHIND: "critical",
            Kind.BACK_ON_TRACK: "info", Kind.NO_DECLARATION: "warning", Kind.END_APPROACHING: "critical",
            Kind.WINDOW_ENDING: "warning", Kind.DECLARATION_REJECTED: "warning", Kind.NEXT_STEP_DUE: "info",
            Kind.DECLARATION_REMINDER: "warning", Kind.DECLARATION_MISSING: "critical"}
SEVERITIES = ("info", "warning", "critical")

TITLES_FR = {Kind.QUOTA_REACHED: "Objectif d'heures atteint", Kind.AT_RISK: "Lot à risque",
             Kind.BEHIND: "Lot en retard", Kind.BACK_ON_TRACK: "Lot revenu dans la trajectoire",
             Kind.NO_DECLARATION: "Aucune déclaration d'heures récente",
             Kind.END_APPROACHING: "Fin du marché proche avec un retard d'heures",
             Kind.WINDOW_ENDING: "Fenêtre de comptage d'un participant bientôt close",
             Kind.DECLARATION_REJECTED: "Déclaration d'heures refusée",
             Kind.NEXT_STEP_DUE: "Prochaine étape de promotion auprès d'un acheteur",
             Kind.DECLARATION_REMINDER: "Relance : déclaration d'heures attendue",
             Kind.DECLARATION_MISSING: "Déclaration d'heures manquante malgré deux relances"}
CONCLUSIONS_FR = {
    Kind.QUOTA_REACHED: ".",
    Kind.AT_RISK: " : l'avancement est en retard sur les heures attendues à ce jour.",
    Kind.BEHIND: " : moins de la moitié des heures attendues à ce jour.",
    Kind.BACK_ON_TRACK: " : l'avancement est de nouveau conforme aux heures attendues.",
}

# Who may receive (and see) each kind of alert besides the facilitators of its territories.
FACILITATOR, BUYER, CONTRACTOR = "facilitator", "buyer", "contractor"
AUDIENCES = ("facilitator", "buyer", "contractor")
_LOT_AUDIENCE = frozenset({FACILITATOR, BUYER, CONTRACTOR})
AUDIENCE_OF = {Kind.QUOTA_REACHED: _LOT_AUDIENCE, Kind.AT_RISK: _LOT_AUDIENCE, Kind.BEHIND: _LOT_AUDIENCE,
               Kind.BACK_ON_TRACK: _LOT_AUDIENCE, Kind.NO_DECLARATION: _LOT_AUDIENCE,
               Kind.END_APPROACHING: _LOT_AUDIENCE,
               Kind.WINDOW_ENDING: frozenset({FACILITATOR}),  # participants' matters stay with facilitators
               Kind.DECLARATION_REJECTED: frozenset({CONTRACTOR}),
               Kind.NEXT_STEP_DUE: frozenset({FACILITATOR}),  # the promotion log is the facilitators' own
               Kind.DECLARATION_REMINDER: frozenset({CONTRACTOR}),
               Kind.DECLARATION_MISSING: frozenset({FACILITATOR})}
# Mailed to every active contact of their audience, subscribed or not: a company is reminded of what it owes.
ALWAYS_EMAILED = frozenset({Kind.DECLARATION_REMINDER})
# A lot's status changes: mailed only once a quiet period has passed without another change (calm alerts).
STATUS_KINDS = (Kind.AT_RISK, Kind.BEHIND, Kind.BACK_ON_TRACK)
# held: mailed once the quiet period has passed; replaced / reverted: never mailed, kept in the feed
CALM_STATES = ("held", "replaced", "reverted")
CALM_LABELS_FR = {
    "held": "Envoyée après une période de calme sans nouveau changement d'état",
    "replaced": "Non envoyée : un autre changement d'état a suivi pendant la période de calme",
    "reverted": "Non envoyée : le lot est revenu à son état précédent pendant la période de calme"}


def kinds_for(audience: str) -> list[str]:
    return [k.value for k, audiences in AUDIENCE_OF.items() if audience in audiences]


def vocabulary() -> dict:
    """Every code the API answers with its French label (what the pages' filters and forms offer), and for
    each kind of alert its severity and who may receive it."""
    def pairs(labels):
        return [{"code": code, "label": label} for code, label in labels.items()]
    return {"kinds": [{"code": k.value, "label": TITLES_FR[k], "severity": SEVERITY[k],
                       "audiences": sorted(AUDIENCE_OF[k])} for k in Kind],
            "severities": pairs(SEVERITY_LABELS_FR), "statuses": pairs(ALERT_STATUS_LABELS_FR),
            "channels": pairs(CHANNEL_LABELS_FR), "modes": pairs(MODE_LABELS_FR),
            "delivery_statuses": pairs(DELIVERY_STATUS_LABELS_FR)}


CHANNELS = ("email", "webhook")
MODES = ("immediate", "daily_digest")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
# failed: the last attempt failed and another one is planned (never dropped); cancelled: the recipient
# was deactivated or lost its webhook before it could be delivered
DELIVERY_STATUSES = ("pending", "sent", "failed", "cancelled")
# What the pages show for each code (the web application takes them from the API's answers).
KIND_LABELS_FR = {k.value: title for k, title in TITLES_FR.items()}
SEVERITY_LABELS_FR = {"info": "Information", "warning": "Attention", "critical": "Urgent"}
ALERT_STATUS_LABELS_FR = {"open": "Ouverte", "acknowledged": "Prise en charge", "resolved": "Résolue"}
CHANNEL_LABELS_FR = {"email": "Courriel", "webhook": "Webhook"}
MODE_LABELS_FR = {"immediate": "Immédiatement", "daily_digest": "Dans le récapitulatif quotidien"}
DELIVERY_STATUS_LABELS_FR = {"pending": "En attente", "sent": "Envoyé", "failed": "En échec, nouvel essai prévu",
                             "cancelled": "Annulé"}

# lot.status_changed alerts on these statuses only; "reached" is alerted through lot.quota_reached
ALERTING_STATUSES = {"at_risk": Kind.AT_RISK, "behind": Kind.BEHIND}
LOT_FIELDS = ("lot_id", "market_id", "market_reference", "market_title", "lot_title")
RUNNING_MARKET_STATUSES = ("awarded", "in_execution")
FINISHED_LOT_STATUSES = ("reached", "closed_with_shortfall")


class IncompleteEvent(ValueError):
    """The event lacks a field the alert needs: it can never be turned into an alert."""


@dataclass(frozen=True)
class AlertDraft:
    kind: Kind
    severity: str
    title: str
    message: str
    lot_id: str | None
    market_id: str | None
    # The situation the alert is about: one alert per key, whatever delivers the event again.
    key: str = ""
    context: dict = field(default_factory=dict)  # market and lot names, ids: what a message shows
    figures: dict = field(default_factory=dict)  # hours and dates


def format_hours(hours) -> str:
    """Hours the French way: 1250.5 -> "1 250,5 h", 833.0 -> "833 h" (at most two decimals)."""
    value = Decimal(str(hours)).quantize(CENTI, rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{value:,.2f}".partition(".")
    fraction = fraction.rstrip("0")
    return whole.replace(",", NBSP) + (f",{fraction}" if fraction else "") + f"{NBSP}h"


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def format_date(day: date) -> str:
    """12 mars 2027; 1er mars 2027."""
    return f"{'1er' if day.day == 1 else day.day} {MONTHS_FR[day.month - 1]} {day.year}"


def _lot_label(lot: dict) -> str:
    return (f"Lot {lot['lot_number']} « {lot['lot_title']} » du marché {lot['market_reference']} "
            f"({lot['market_title']})")


def _lot_context(payload: dict) -> dict:
    lot = {name: _text(payload, name) for name in LOT_FIELDS}
    lot["lot_number"] = _number(payload, "lot_number", types=(int,))
    for name in ("buyer_id", "contractor_siret", "lead_territory"):
        if isinstance(payload.get(name), str) and payload[name]:
            lot[name] = payload[name]
    return lot


def _draft(kind: Kind, message: str, key: str, context: dict, figures: dict) -> AlertDraft:
    return AlertDraft(kind=kind, severity=SEVERITY[kind], title=TITLES_FR[kind], message=message,
                      lot_id=context.get("lot_id"), market_id=context.get("market_id"), key=key,
                      context=context, figures=figures)


def alert_for(event_type: str, payload: dict) -> AlertDraft | None:
    """The alert a markets event calls for, or None; raises IncompleteEvent on a missing field."""
    if event_type == "lot.quota_reached":
        kind = Kind.QUOTA_REACHED
    elif event_type == "lot.status_changed":
        status = _text(payload, "status")
        kind = ALERTING_STATUSES.get(status)
        if kind is None and status == "on_track" and payload.get("previous_status") in ALERTING_STATUSES:
            kind = Kind.BACK_ON_TRACK
        if kind is None:
            return None
    else:
        return None
    lot = _lot_context(payload)
    realised, quota = _number(payload, "realised_hours"), _number(payload, "quota_hours")
    figures = {"realised_hours": realised, "quota_hours": quota}
    if isinstance(payload.get("expected_hours"), (int, float)) and not isinstance(payload["expected_hours"], bool):
        figures["expected_hours"] = payload["expected_hours"]
    message = (f"{_lot_label(lot)} : {format_hours(realised)} réalisées sur un objectif de "
               f"{format_hours(quota)}{CONCLUSIONS_FR[kind]}")
    if event_type == "lot.status_changed":  # what a revert is judged by (calm alerts)
        lot = {**lot, "status": status, "previous_status": payload.get("previous_status")}
    if kind == Kind.QUOTA_REACHED:
        key = f"{kind.value}:{lot['lot_id']}:{quota}"  # reached once per quota (an amendment may raise it)
    else:  # the same status with the same hours and quota is the same situation
        key = f"{kind.value}:{lot['lot_id']}:{round(realised * 100)}:{quota}"
    return _draft(kind, message, key, lot, figures)


def window_ending_alert(payload: dict) -> AlertDraft:
    """A participant's counting window ends soon: only the opaque id leaves the participants service."""
    participant_id, territory = _text(payload, "participant_id"), _text(payload, "territory")
    until = _date(payload, "eligible_until")
    message = (f"La fenêtre de comptage du participant {participant_id} se termine le {format_date(until)} : "
               "ses heures ne compteront plus au-delà. Prévoyez la suite de son parcours.")
    figures = {"eligible_until": until.isoformat()}
    if isinstance(payload.get("days_left"), int):
        figures["days_left"] = payload["days_left"]
    return _draft(Kind.WINDOW_ENDING, message, f"{Kind.WINDOW_ENDING.value}:{participant_id}:{until.isoformat()}",
                  {"participant_id": participant_id, "territory": territory}, figures)


def declaration_rejected_alert(payload: dict, lot: dict | None = None) -> AlertDraft:
    """A declaration refused by a facilitator: the contractor learns which line, and why.

    ``lot`` is what the read model knows about the lot (names), when it knows it."""
    declaration_id, lot_id = _text(payload, "declaration_id"), _text(payload, "lot_id")
    siret, month = _text(payload, "contractor_siret"), _text(payload, "month")
    centihours = _number(payload, "centihours", types=(int,))
    reason = payload.get("reason") if isinstance(payload.get("reason"), str) and payload["reason"] else None
    context = {"lot_id": lot_id, "declaration_id": declaration_id, "contractor_siret": siret}
    if lot and lot.get("market_reference"):
        context.update({k: lot[k] for k in ("market_id", "market_reference", "market_title", "lot_number",
                                            "lot_title", "buyer_id") if lot.get(k) is not None})
        where = _lot_label(context)
    else:
        where = f"Lot {lot_id}"
    message = (f"{where} : la déclaration {declaration_id} de {format_hours(centihours / 100)} pour {month} "
               f"a été refusée{f' ({reason})' if reason else ''}. Corrigez-la et déclarez-la de nouveau.")
    return _draft(Kind.DECLARATION_REJECTED, message, f"{Kind.DECLARATION_REJECTED.value}:{declaration_id}",
                  context, {"hours": centihours / 100, "month": month, "reason": reason})


def next_step_alert(payload: dict) -> AlertDraft:
    """A next step agreed with a buyer comes due (the markets service's promotion log)."""
    action_id, buyer, siret = _text(payload, "action_id"), _text(payload, "buyer_name"), _text(payload, "buyer_siret")
    step, due, held = _text(payload, "next_step"), _date(payload, "next_step_on"), _date(payload, "date")
    what = f" ({payload['kind_label']})" if isinstance(payload.get("kind_label"), str) else ""
    message = (f"Promotion de la clause auprès de {buyer} (SIRET {siret}) : prochaine étape « {step} » prévue le "
               f"{format_date(due)}, convenue le {format_date(held)}{what}.")
    return _draft(Kind.NEXT_STEP_DUE, message, f"{Kind.NEXT_STEP_DUE.value}:{action_id}:{due.isoformat()}",
                  {"action_id": action_id, "buyer_siret": siret, "buyer_name": buyer},
                  {"next_step_on": due.isoformat(), "next_step": step})


def reminder_alerts(payload: dict, lot: dict | None = None) -> list[AlertDraft]:
    """A month missing at its due date (the hours service's reporting calendar): the company's reminder,
    and after the second one the facilitators' alert. ``lot`` is what the read model knows of the lot."""
    siret, lot_id, month, kind = (_text(payload, name) for name in ("contractor_siret", "lot_id", "month", "kind"))
    due = _date(payload, "due_date")
    context = {"lot_id": lot_id, "contractor_siret": siret}
    if payload.get("market_id"):
        context["market_id"] = payload["market_id"]
    if lot and lot.get("market_reference"):
        context.update({k: lot[k] for k in ("market_id", "market_reference", "market_title", "lot_number",
                                            "lot_title", "buyer_id") if lot.get(k) is not None})
        where = _lot_label(context)
    else:
        where = f"Lot {lot_id}"
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise IncompleteEvent("payload field month is not YYYY-MM") from None
    month_fr = f"{MONTHS_FR[first.month - 1]} {first.year}"
    figures = {"month": month, "due_date": due.isoformat()}
    second = kind == "second"
    message = (f"{where} : les heures d'insertion de {month_fr} étaient à déclarer au plus tard le "
               f"{format_date(due)} et ne le sont pas. Déclarez-les, ou déclarez un mois sans heures d'insertion "
               f"en indiquant pourquoi.{' Seconde relance : les facilitateurs du territoire sont prévenus.' if second else ''}")
    drafts = [_draft(Kind.DECLARATION_REMINDER, message,
                     f"{Kind.DECLARATION_REMINDER.value}:{siret}:{lot_id}:{month}:{kind}", context, figures)]
    if second:
        drafts.append(_draft(Kind.DECLARATION_MISSING,
                             f"{where} : l'entreprise (SIRET {siret}) n'a pas déclaré les heures de {month_fr}, "
                             f"dues le {format_date(due)}, malgré deux relances.",
                             f"{Kind.DECLARATION_MISSING.value}:{siret}:{lot_id}:{month}", context, figures))
    return drafts


# --- time-based rules ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LotFacts:
    """What the read model knows about a lot, for the rules that time alone triggers."""
    lot_id: str
    market_id: str
    market_reference: str
    market_title: str
    lot_number: int
    lot_title: str
    start_date: date
    end_date: date
    quota_hours: float
    realised_hours: float = 0
    status: str | None = None
    market_status: str | None = "awarded"
    last_declaration_on: date | None = None
    buyer_id: str | None = None
    contractor_siret: str | None = None

    def context(self) -> dict:
        context = {name: getattr(self, name) for name in ("lot_id", "market_id", "market_reference",
                                                           "market_title", "lot_number", "lot_title")}
        for name in ("buyer_id", "contractor_siret"):
            if getattr(self, name):
                context[name] = getattr(self, name)
        return context


def running(lot: LotFacts, today: date) -> bool:
    """Awarded, its market executing, between its dates, and not finished."""
    return (lot.market_status in RUNNING_MARKET_STATUSES and lot.start_date <= today <= lot.end_date
            and lot.status not in FINISHED_LOT_STATUSES)


def linear_expected_hours(lot: LotFacts, today: date) -> float:
    total = (lot.end_date - lot.start_date).days
    elapsed = min(max((today - lot.start_date).days, 0), total)
    return lot.quota_hours * elapsed / total if total > 0 else float(lot.quota_hours)


def no_declaration_alert(lot: LotFacts, today: date, days: int) -> AlertDraft | None:
    """No declaration for ``days`` days on a running lot (counted from its start when none came yet)."""
    if not running(lot, today):
        return None
    since = max(lot.last_declaration_on or lot.start_date, lot.start_date)
    silent = (today - since).days
    if silent < days:
        return None
    what = (f"aucune déclaration d'heures depuis le {format_date(lot.last_declaration_on)}"
            if lot.last_declaration_on else f"aucune déclaration d'heures depuis le début, le {format_date(since)}")
    message = (f"{_lot_label(lot.context())} : {what} ({silent} jours). {format_hours(lot.realised_hours)} "
               f"réalisées sur un objectif de {format_hours(lot.quota_hours)}.")
    return _draft(Kind.NO_DECLARATION, message, f"{Kind.NO_DECLARATION.value}:{lot.lot_id}:{since.isoformat()}",
                  lot.context(), {"days_without_declaration": silent, "last_declaration_on":
                                  lot.last_declaration_on.isoformat() if lot.last_declaration_on else None,
                                  "realised_hours": lot.realised_hours, "quota_hours": lot.quota_hours})


def end_approaching_alert(lot: LotFacts, today: date, ratio: float) -> AlertDraft | None:
    """``ratio`` of the execution period has passed and fewer hours than expected are realised."""
    if not running(lot, today):
        return None
    total = (lot.end_date - lot.start_date).days
    if total <= 0 or (today - lot.start_date).days < ratio * total:
        return None
    expected = round(linear_expected_hours(lot, today), 2)
    if lot.realised_hours >= expected:
        return None
    days_left = (lot.end_date - today).days
    message = (f"{_lot_label(lot.context())} : le marché se termine le {format_date(lot.end_date)} "
               f"(dans {days_left} jours) avec {format_hours(lot.realised_hours)} réalisées pour "
               f"{format_hours(expected)} attendues à ce jour et un objectif de {format_hours(lot.quota_hours)}.")
    return _draft(Kind.END_APPROACHING, message,
                  f"{Kind.END_APPROACHING.value}:{lot.lot_id}:{lot.end_date.isoformat()}", lot.context(),
                  {"realised_hours": lot.realised_hours, "expected_hours": expected, "quota_hours": lot.quota_hours,
                   "end_date": lot.end_date.isoformat(), "days_left": days_left,
                   "shortfall_hours": round(lot.quota_hours - lot.realised_hours, 2)})


# --- deliveries ------------------------------------------------------------------------------------
def delivery_id(alert_id: str, recipient_id: str, channel: str) -> str:
    """One delivery per alert, recipient and channel: the unique id is what prevents a second send."""
    return f"{alert_id}:{recipient_id}:{channel}"


def digest_id(day: date, recipient_id: str, channel: str) -> str:
    return f"digest-{day.isoformat()}:{recipient_id}:{channel}"


def retry_delay_s(attempts: int, base_s: float, max_s: float) -> float:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base… capped at max_s."""
    return min(base_s * 2 ** max(attempts - 1, 0), max_s)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: HMAC-SHA256 over "timestamp.body" with the subscriber's secret."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- where a webhook may point ------------------------------------------------------------------------
# A webhook is a URL a user gives and the platform calls: without this rule it reaches the internal network
# (databases, the broker, cloud metadata) and its delivery log tells which ports answer.
ADDRESS_CLASSES_FR = (("is_unspecified", "adresse non spécifiée"), ("is_loopback", "boucle locale"),
                      ("is_link_local", "lien local"), ("is_multicast", "multidiffusion"),
                      ("is_reserved", "adresse réservée"), ("is_private", "réseau privé"))


def address_refusal(address: str) -> str | None:
    """Why the platform may not call this IP address (French, for the delivery log), or None when it may."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:  # an IPv6 address that carries an IPv4 one reaches that one (Teredo is refused whole)
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    for test, label in ADDRESS_CLASSES_FR:
        if getattr(ip, test):
            return label
    return None if ip.is_global else "réseau privé"  # shared address space (100.64.0.0/10) and the like


def parse_allowed_hosts(entries) -> tuple[frozenset[str], tuple]:
    """An operator's allow-list: host names, IP addresses and networks (``127.0.0.1``, ``10.0.0.0/8``)."""
    names, networks = set(), []
    for entry in (e.strip() for e in entries if e.strip()):
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def webhook_address_refusal(host: str, address: str, allowed: tuple[frozenset[str], tuple]) -> str | None:
    """Why a webhook to ``host``, resolved to ``address``, may not be called; None when it may (a public
    address, or a host or network the operator's allow-list names)."""
    names, networks = allowed
    if host.lower().rstrip(".") in names or any(ipaddress.ip_address(address) in n for n in networks):
        return None
    reason = address_refusal(address)
    return reason and f"adresse refusée : {reason}"


# --- payload checks ----------------------------------------------------------------------------------
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


def _date(payload: dict, name: str) -> date:
    try:
        return date.fromisoformat(_text(payload, name))
    except ValueError:
        raise IncompleteEvent(f"payload field {name} is not a date") from None
