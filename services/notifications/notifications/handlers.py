"""Service layer: what the notifications service does, called by the API, the CLI and the worker."""
import logging
import secrets
import socket
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import mongoengine as me
from plumbing.auth import Principal
from plumbing.contractor_keys import KEY_EVENT_HANDLERS
from plumbing.consumer import Batched, Unapplicable
from plumbing.events import Event
from plumbing.outbox import ConcurrentUpdate, retry_on_conflict
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from . import domain
from .store import Alert, Delivery, LotView, Recipient, Subscription

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# How long a lot's status-change mail waits for the change to be reverted or replaced (calm alerts);
# the worker sets it from NOTIFICATIONS_QUIET_PERIOD_S.
QUIET_PERIOD = timedelta(minutes=15)


def configure(extra: dict) -> None:
    global QUIET_PERIOD
    QUIET_PERIOD = timedelta(seconds=extra["quiet_period_s"])


class AlreadyRegistered(Exception):
    """This e-mail already receives the alerts of this territory."""


class Refused(Exception):
    """A request the business refuses: ``status`` is the HTTP status, the message is French."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- recipients, subscriptions, webhooks ------------------------------------------------------------
def add_recipient(data: dict, created_by: str, person: str | None = None) -> Recipient:
    recipient = Recipient(territory=data["territory"], name=data["name"], email=data["email"],
                          audience=data.get("audience") or domain.FACILITATOR,
                          organisation=data.get("organisation"), buyer_id=data.get("buyer_id"),
                          contractor_siret=data.get("contractor_siret"), created_by=created_by, created_at=_now(),
                          person=person)
    try:
        recipient.save(force_insert=True)
    except me.NotUniqueError:
        raise AlreadyRegistered() from None
    log.info("recipient added", extra={"recipient_id": recipient.id, "territory": recipient.territory})
    return recipient


def _rewrite_recipient(recipient: Recipient, **changes) -> Recipient:
    """Write the recipient whole (a $set of a date is stored as text by some MongoDB-protocol servers)."""
    values = {name: getattr(recipient, name) for name in Recipient._fields}
    fresh = Recipient(**{**values, **changes})
    fresh.save()  # a document built whole: replaces the stored one
    return fresh


def update_recipient(recipient: Recipient, changes: dict) -> Recipient:
    return _rewrite_recipient(recipient, **changes)


# a signed-in person's own address: the alerts meant for their role, for their organisation
def own_recipient(principal: Principal) -> Recipient | None:
    return Recipient.objects(person=principal.subject).first()


def _whose(principal: Principal) -> dict:
    """The audience of the person's role, and for a buyer's or a company's staff member, their organisation."""
    if principal.role == "buyer":
        if not principal.buyer_id:
            raise Refused(403, "Votre compte n'est rattaché à aucun acheteur : il ne reçoit pas d'alertes.")
        return {"audience": domain.BUYER, "buyer_id": principal.buyer_id}
    if principal.role == "contractor":
        return {"audience": domain.CONTRACTOR, "contractor_siret": principal.siret}
    return {"audience": domain.FACILITATOR}


def set_own_recipient(principal: Principal, data: dict) -> Recipient:
    """Create or change the person's own address. An address their territory already alerts, for the same
    audience and nobody's own yet (registered for them by a facilitator), becomes theirs."""
    whose, mine = _whose(principal), own_recipient(principal)
    try:
        if mine is not None:
            return _rewrite_recipient(mine, **data, **whose)
        known = Recipient.objects(territory=data["territory"], email=data["email"]).first()
        if known is None:
            return add_recipient({**data, **whose}, principal.subject, person=principal.subject)
        if known.person or any(getattr(known, name) != value for name, value in whose.items()):
            raise AlreadyRegistered()
        return _rewrite_recipient(known, name=data["name"], person=principal.subject, active=True)
    except me.NotUniqueError:
        raise AlreadyRegistered() from None


def forget(recipient: Recipient) -> None:
    """The contact receives nothing any more: its address and its subscriptions go (its pending messages are
    then cancelled; the delivery log keeps no address)."""
    Subscription.objects(recipient_id=recipient.id).delete()
    recipient.delete()
    log.info("recipient erased", extra={"recipient_id": recipient.id})


class AddressRefused(Exception):
    """The platform does not call this webhook: ``reason`` says why, in French, without the socket's words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def webhook_address(url: str, allowed) -> str:
    """The IP address to call for this webhook, every address its host resolves to having been checked
    (``domain.webhook_address_refusal``); AddressRefused otherwise. Checked when the webhook is set and again
    before each call, since what a name resolves to can change."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except ValueError:
        raise AddressRefused("adresse invalide") from None
    except (OSError, UnicodeError):
        raise AddressRefused("adresse introuvable") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        reason = domain.webhook_address_refusal(parts.hostname, address, allowed)
        if reason:
            raise AddressRefused(reason)
    return addresses[0]


def set_webhook(recipient: Recipient, url: str, allowed) -> tuple[Recipient, str]:
    """Point the recipient's webhook at ``url`` with a new secret, returned once and never shown again."""
    try:
        webhook_address(url, allowed)
    except AddressRefused as refused:
        raise Refused(422, f"La plateforme n'appelle pas ce webhook ({refused.reason}) : seules les adresses "
                           "publiques sont permises, sauf celles qu'un opérateur de la plateforme autorise "
                           "(NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS).") from None
    secret = "whsec_" + secrets.token_urlsafe(32)
    recipient = _rewrite_recipient(recipient, webhook_url=url, webhook_secret=secret, webhook_set_at=_now())
    log.info("webhook set", extra={"recipient_id": recipient.id})
    return recipient, secret


def remove_webhook(recipient: Recipient) -> Recipient:
    return _rewrite_recipient(recipient, webhook_url=None, webhook_secret=None, webhook_set_at=None)


def subscriptions_of(recipient_id: str) -> list[Subscription]:
    return list(Subscription.objects(recipient_id=recipient_id).order_by("kind", "channel"))


def replace_subscriptions(recipient: Recipient, wanted: list[dict]) -> list[Subscription]:
    """The recipient's subscriptions become exactly ``wanted`` (kind, channel, mode)."""
    allowed = set(domain.kinds_for(recipient.audience))
    for item in wanted:
        if item["kind"] not in allowed:
            raise Refused(422, f"Ce destinataire ne peut pas recevoir les alertes « {item['kind']} ».")
        if item["channel"] == "webhook" and not recipient.webhook_url:
            raise Refused(409, "Ce destinataire n'a pas de webhook : un opérateur doit d'abord en déclarer un.")
    keep = {f"{recipient.id}:{i['kind']}:{i['channel']}": i for i in wanted}
    for sub in Subscription.objects(recipient_id=recipient.id):
        if sub.id not in keep:
            sub.delete()
    for sub_id, item in keep.items():
        Subscription(id=sub_id, recipient_id=recipient.id, kind=item["kind"], channel=item["channel"],
                     mode=item["mode"]).save()
    return subscriptions_of(recipient.id)


def recipient_view(recipient: Recipient) -> dict:
    data = {name: getattr(recipient, name) for name in Recipient._fields if name not in ("webhook_secret", "person")}
    data["has_webhook"], data["own"] = bool(recipient.webhook_url), bool(recipient.person)
    return data


def active_emails(territories) -> list[str]:
    """The e-mails of the active facilitators of these territories, each once."""
    return sorted({r.email for r in Recipient.objects(territory__in=list(territories), active=True)
                   .only("email", "audience") if (r.audience or domain.FACILITATOR) == domain.FACILITATOR})


# --- who sees which alert -------------------------------------------------------------------------------
def visible_alerts(principal: Principal):
    """The alerts a caller may see: facilitators and operators those of their territories, buyers and
    contractors their own (of the kinds meant for them)."""
    if principal.role in ("facilitator", "operator"):
        return Alert.objects(territories__in=list(principal.territories))
    if principal.role == "buyer" and principal.buyer_id:
        return Alert.objects(buyer_id=principal.buyer_id, kind__in=domain.kinds_for(domain.BUYER))
    if principal.role == "contractor" and principal.siret:
        return Alert.objects(contractor_siret=principal.siret, kind__in=domain.kinds_for(domain.CONTRACTOR))
    return Alert.objects(id__in=[])


def alert_view(alert: Alert, reader: str) -> dict:
    """An alert as a reader sees it: whether they read it, how many people it reached (not who)."""
    data = alert.to_mongo().to_dict()
    data.pop("recipients", None)
    return {**data, "id": alert.id, "lot_id": alert.lot_id, "market_id": alert.market_id,
            "read": reader in alert.read_by, "recipients_count": len(alert.recipients),
            "status": alert.status or "open", "link": alert_link(alert),
            "calm": alert.calm, "calm_label": domain.CALM_LABELS_FR.get(alert.calm)}


@retry_on_conflict
def mark_read(alert_id: str, reader: str) -> Alert:
    alert = Alert.objects.get(id=alert_id)
    if reader in alert.read_by:
        return alert
    alert.read_by.append(reader)
    return alert.commit()


@retry_on_conflict
def acknowledge(alert_id: str, who: str) -> Alert:
    alert = Alert.objects.get(id=alert_id)
    if (alert.status or "open") != "open":
        return alert
    alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", who, _now()
    if who not in alert.read_by:
        alert.read_by = list(alert.read_by) + [who]
    return alert.commit()


@retry_on_conflict
def resolve(alert_id: str, who: str, note: str | None = None) -> Alert:
    alert = Alert.objects.get(id=alert_id)
    if alert.status == "resolved":
        return alert
    alert.status, alert.resolved_by, alert.resolved_at, alert.resolution_note = "resolved", who, _now(), note
    return alert.commit()


def alert_link(alert: Alert, public_url: str | None = None) -> str | None:
    """Where a reader follows the alert up in the platform (NOTIFICATIONS_PUBLIC_URL)."""
    if public_url is None:
        from flask import current_app, has_app_context
        if not has_app_context():
            return None
        public_url = current_app.extensions["settings"].extra["public_url"]
    base = public_url.rstrip("/")
    context = alert.context or {}
    if alert.lot_id:
        return f"{base}/lots/{alert.lot_id}"
    if context.get("participant_id"):
        return f"{base}/participants/{context['participant_id']}"
    return f"{base}/alerts/{alert.id}"


# --- raising alerts and fanning them out ---------------------------------------------------------
def raise_alert(draft: domain.AlertDraft, territories, source_event_id: str | None = None,
                calm: str | None = None) -> Alert | None:
    """Store the alert of a situation once and create its immediate deliveries (held for the quiet period,
    or none, as ``calm`` says); None when it existed."""
    if not territories:
        raise Unapplicable("no territory: nobody to alert")
    if Alert.objects(id=draft.key).count():
        return None  # the same situation again (or the same event redelivered): nothing new
    context = draft.context
    alert = Alert(id=draft.key, kind=draft.kind.value, severity=draft.severity, title=draft.title,
                  message=draft.message, territories=list(territories), lot_id=draft.lot_id,
                  market_id=draft.market_id, buyer_id=context.get("buyer_id"),
                  contractor_siret=context.get("contractor_siret"), context=context, figures=draft.figures,
                  source_event_id=source_event_id, created_at=_now(), recipients=active_emails(territories),
                  calm=calm)
    try:
        alert.commit()
    except me.NotUniqueError:
        return None
    log.info("alert raised", extra={"alert_id": alert.id, "kind": alert.kind, "lot_id": alert.lot_id,
                                    "recipients_count": len(alert.recipients)})
    fan_out(alert)
    return alert


def audience_of(alert: Alert) -> list[Recipient]:
    """The active recipients an alert concerns: facilitators of its territories, the market's buyer,
    the lot's contractor — each as far as the kind is meant for them."""
    allowed = domain.AUDIENCE_OF[domain.Kind(alert.kind)]
    found = []
    if domain.FACILITATOR in allowed:
        found += [r for r in Recipient.objects(territory__in=list(alert.territories), active=True)
                  if (r.audience or domain.FACILITATOR) == domain.FACILITATOR]
    if domain.BUYER in allowed and alert.buyer_id:
        found += list(Recipient.objects(audience=domain.BUYER, buyer_id=alert.buyer_id, active=True))
    if domain.CONTRACTOR in allowed and alert.contractor_siret:
        found += list(Recipient.objects(audience=domain.CONTRACTOR, contractor_siret=alert.contractor_siret,
                                        active=True))
    return list({r.id: r for r in found}.values())


def fan_out(alert: Alert) -> int:
    """Create one delivery per subscribed recipient and channel (immediate mode), and an e-mail to every
    contact for the kinds always e-mailed; a held status change waits for the quiet period, one replaced or
    reverted is not sent. Safe to repeat."""
    recipients = {r.id: r for r in audience_of(alert)} if alert.calm not in ("replaced", "reverted") else {}
    wanted = {(sub.recipient_id, sub.channel) for sub in Subscription.objects(
        recipient_id__in=list(recipients), kind=alert.kind, mode="immediate")} if recipients else set()
    if domain.Kind(alert.kind) in domain.ALWAYS_EMAILED:
        wanted |= {(recipient_id, "email") for recipient_id in recipients}
    not_before = alert.created_at + QUIET_PERIOD if alert.calm == "held" else None
    created = 0
    for recipient_id, channel in sorted(wanted):
        if channel == "webhook" and not recipients[recipient_id].webhook_url:
            continue
        created += _new_delivery(domain.delivery_id(alert.id, recipient_id, channel), [alert.id],
                                 recipient_id, channel, "immediate", alert.territories, not_before=not_before)
    _mark_fanned_out(alert.id)
    return created


def _new_delivery(delivery_id: str, alert_ids: list[str], recipient_id: str, channel: str, mode: str,
                  territories, digest_day: str | None = None, not_before: datetime | None = None) -> int:
    now = _now()
    try:
        Delivery(id=delivery_id, alert_ids=alert_ids, recipient_id=recipient_id, channel=channel, mode=mode,
                 digest_day=digest_day, territories=list(territories), next_attempt_at=not_before or now,
                 created_at=now).commit()
    except me.NotUniqueError:
        return 0  # it exists: it is (or was) being delivered
    return 1


@retry_on_conflict
def _mark_fanned_out(alert_id: str) -> None:
    alert = Alert.objects.get(id=alert_id)
    if not alert.fanned_out:
        alert.fanned_out = True
        alert.commit()


def fan_out_pending() -> int:
    """Alerts stored whose fan-out was interrupted (a crash between the two writes): finish it."""
    return sum(fan_out(alert) for alert in Alert.objects(fanned_out=False))


# --- events from the markets service -------------------------------------------------------------------
def apply_lot_event(event: Event) -> None:
    """Keep the lot's read model, and raise the alert the event calls for, once per situation."""
    if event.type in ("lot.status_changed", "lot.progress_updated", "lot.quota_changed"):
        _update_lot_from(event)
    try:
        draft = domain.alert_for(event.type, event.payload)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    calm = None
    if event.type == "lot.status_changed" and not Alert.objects(source_event_id=event.id).count():
        calm = _calm_earlier_changes(event.payload.get("lot_id"), event.payload.get("status"))
    if draft is None:
        return
    if not event.territories:
        raise Unapplicable("event without territories: nobody to alert")
    raise_alert(draft, event.territories, event.id, calm)
    if draft.kind == domain.Kind.BACK_ON_TRACK:
        for stale in Alert.objects(lot_id=draft.lot_id, kind__in=[domain.Kind.AT_RISK.value,
                                                                  domain.Kind.BEHIND.value], status="open"):
            resolve(stale.id, "retour dans la trajectoire", "Le lot est revenu dans la trajectoire attendue.")


def _calm_earlier_changes(lot_id, status) -> str:
    """A new status for a lot whose earlier change is still held in its quiet period: that change is not
    mailed (replaced, or reverted when the lot is back where it was before it). Returns how the new
    change's alert is to be held: reverted (not mailed either) or held."""
    since = _now() - QUIET_PERIOD
    held = list(Alert.objects(lot_id=lot_id, calm="held", created_at__gt=since,
                              kind__in=[k.value for k in domain.STATUS_KINDS]).order_by("created_at"))
    reverted = bool(held) and status == (held[0].context or {}).get("previous_status")
    for alert in held:
        _not_mailed(alert.id, "reverted" if reverted else "replaced")
    return "reverted" if reverted else "held"


@retry_on_conflict
def _not_mailed(alert_id: str, calm: str) -> None:
    alert = Alert.objects.get(id=alert_id)
    alert.calm = calm
    alert.commit()
    for delivery in Delivery.objects(alert_ids=alert_id, mode="immediate", status="pending"):
        _cancel(delivery.id, domain.CALM_LABELS_FR[calm])


@retry_on_conflict
def _cancel(delivery_id: str, why: str) -> None:
    delivery = Delivery.objects.get(id=delivery_id)
    if delivery.status == "pending":
        delivery.status = "cancelled"
        delivery.attempts = list(delivery.attempts) + [{"at": _now().isoformat(), "outcome": "cancelled",
                                                        "detail": why}]
        delivery.commit()


def _date(value) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unapplicable(f"not a date: {value!r}") from None


_conflicts = retry(retry=retry_if_exception_type((ConcurrentUpdate, me.NotUniqueError)),
                   stop=stop_after_attempt(20), wait=wait_random(0, 0.05), reraise=True)


@_conflicts
def _change_lot(lot_id: str, change) -> None:
    lot = LotView.objects(id=lot_id).first() or LotView(id=lot_id)
    change(lot)
    lot.commit()  # the whole document: dates stay dates


def _summary(lot: LotView, event: Event) -> None:
    p = event.payload
    for name in ("market_id", "market_reference", "market_title", "lot_number", "lot_title", "buyer_id",
                 "contractor_siret"):
        if p.get(name) is not None:
            setattr(lot, name, p[name])
    if event.territories:
        lot.territories = list(event.territories)


def _update_lot_from(event: Event) -> None:
    p = event.payload
    if not isinstance(p.get("lot_id"), str):
        raise Unapplicable(f"{event.type} without lot_id")

    def change(lot: LotView):
        _summary(lot, event)
        for name in ("realised_hours", "declared_hours", "quota_hours"):
            if isinstance(p.get(name), (int, float)) and not isinstance(p[name], bool):
                setattr(lot, name, float(p[name]))
        if event.type == "lot.status_changed" and isinstance(p.get("status"), str):
            lot.status = p["status"]
    _change_lot(p["lot_id"], change)


def apply_lot_awarded(event: Event) -> None:
    p = event.payload
    if not isinstance(p.get("lot_id"), str):
        raise Unapplicable("lot.awarded without lot_id")
    start, end = _date(p.get("start_date")), _date(p.get("end_date"))

    def change(lot: LotView):
        _summary(lot, event)
        lot.start_date, lot.end_date, lot.awarded = start, end, True
        if isinstance(p.get("quota_hours"), (int, float)):
            lot.quota_hours = float(p["quota_hours"])
        lot.market_status = lot.market_status or "awarded"
    _change_lot(p["lot_id"], change)


def apply_market_status(event: Event) -> None:
    """A market's lifecycle decides whether its lots are running (time-based rules)."""
    p = event.payload
    market_id, status = p.get("market_id"), p.get("status")
    if not isinstance(market_id, str) or not isinstance(status, str):
        raise Unapplicable(f"{event.type} without market_id or status")
    for lot in LotView.objects(market_id=market_id).only("id"):
        _change_lot(lot.id, lambda view: setattr(view, "market_status", status))


# --- events from the hours service ----------------------------------------------------------------
def apply_declarations(events: list[Event]) -> dict[str, str]:
    """The lots' last declaration dates (the "no declaration" rule), one write per lot for a whole
    batch; a rejection alerts the contractor. Returns the events that cannot be applied, with why."""
    refused, by_lot = {}, {}
    for event in events:
        lot_id = event.payload.get("lot_id")
        if isinstance(lot_id, str) and lot_id:
            by_lot.setdefault(lot_id, []).append(event)
        else:
            refused[event.id] = f"{event.type} without lot_id"
    for lot_id, lot_events in by_lot.items():
        _note_declarations(lot_id, lot_events)
    for event in events:
        if event.type == "declaration.rejected" and event.id not in refused:
            try:
                _alert_rejection(event)
            except Unapplicable as exc:
                refused[event.id] = str(exc)
    return refused


def apply_declaration(event: Event) -> None:
    refused = apply_declarations([event])
    if refused:
        raise Unapplicable(refused[event.id])


def _declared_on(event: Event) -> date:
    try:
        return datetime.fromisoformat(event.time).date()
    except ValueError:
        return _now().date()


def _note_declarations(lot_id: str, lot_events: list[Event]) -> None:
    on = max(_declared_on(event) for event in lot_events)
    territories = next((list(e.territories) for e in lot_events if e.territories), [])

    def change(lot: LotView):
        if lot.last_declaration_on is None or on > lot.last_declaration_on:
            lot.last_declaration_on = on
        if not lot.territories and territories:
            lot.territories = territories
    _change_lot(lot_id, change)


def _alert_rejection(event: Event) -> None:
    known = LotView.objects(id=event.payload["lot_id"]).first()
    try:
        draft = domain.declaration_rejected_alert(event.payload, known.to_mongo().to_dict() if known else None)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    raise_alert(draft, event.territories or (known.territories if known else []), event.id)


# --- events from the participants service ---------------------------------------------------------
def apply_window_ending(event: Event) -> None:
    try:
        draft = domain.window_ending_alert(event.payload)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    raise_alert(draft, event.territories or [draft.context["territory"]], event.id)


def apply_window_ended(event: Event) -> None:
    """The window has closed: the "ending soon" alert about it is settled."""
    participant_id, until = event.payload.get("participant_id"), event.payload.get("eligible_until")
    if not isinstance(participant_id, str) or not isinstance(until, str):
        raise Unapplicable("eligibility.window_ended without participant_id or eligible_until")
    alert_id = f"{domain.Kind.WINDOW_ENDING.value}:{participant_id}:{until}"
    if Alert.objects(id=alert_id, status__in=["open", "acknowledged"]).count():
        resolve(alert_id, "fin de la fenêtre de comptage", "La fenêtre de comptage est close.")


# --- events of the promotion log (markets service) ---------------------------------------------------
def apply_next_step_due(event: Event) -> None:
    try:
        draft = domain.next_step_alert(event.payload)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    raise_alert(draft, event.territories, event.id)


# --- the reporting calendar (hours service) ---------------------------------------------------------------
def apply_reminder_due(event: Event) -> None:
    known = LotView.objects(id=event.payload.get("lot_id")).first() if isinstance(
        event.payload.get("lot_id"), str) else None
    try:
        drafts = domain.reminder_alerts(event.payload, known.to_mongo().to_dict() if known else None)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    for draft in drafts:
        raise_alert(draft, event.territories or (known.territories if known else []), event.id)


# --- rules that time alone triggers (a daily command) -----------------------------------------------------
def lot_facts(lot: LotView) -> domain.LotFacts | None:
    if not (lot.awarded and lot.start_date and lot.end_date and lot.market_reference and lot.quota_hours
            is not None and lot.lot_number is not None):
        return None
    return domain.LotFacts(
        lot_id=lot.id, market_id=lot.market_id, market_reference=lot.market_reference,
        market_title=lot.market_title, lot_number=lot.lot_number, lot_title=lot.lot_title,
        start_date=lot.start_date, end_date=lot.end_date, quota_hours=lot.quota_hours,
        realised_hours=lot.realised_hours or 0, status=lot.status, market_status=lot.market_status,
        last_declaration_on=lot.last_declaration_on, buyer_id=lot.buyer_id, contractor_siret=lot.contractor_siret)


def evaluate_rules(settings, today: date | None = None) -> dict:
    """No declaration for N days on a running lot; the end of the contract near with a shortfall."""
    today = today or date.today()
    extra = settings.extra
    raised = {domain.Kind.NO_DECLARATION.value: 0, domain.Kind.END_APPROACHING.value: 0}
    for lot in LotView.objects(awarded=True):
        facts = lot_facts(lot)
        if facts is None:
            continue
        for draft in (domain.no_declaration_alert(facts, today, extra["no_declaration_days"]),
                      domain.end_approaching_alert(facts, today, extra["end_approaching_ratio"])):
            if draft is not None and raise_alert(draft, lot.territories) is not None:
                raised[draft.kind.value] += 1
    return raised


# --- the daily digest ------------------------------------------------------------------------------
def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tz)
    return start.astimezone(timezone.utc), datetime.combine(day + timedelta(days=1), time.min, tz) \
        .astimezone(timezone.utc)


def concerns(alert: Alert, recipient: Recipient) -> bool:
    audience = recipient.audience or domain.FACILITATOR
    if audience not in domain.AUDIENCE_OF[domain.Kind(alert.kind)]:
        return False
    if audience == domain.FACILITATOR:
        return recipient.territory in alert.territories
    if audience == domain.BUYER:
        return bool(alert.buyer_id) and alert.buyer_id == recipient.buyer_id
    return bool(alert.contractor_siret) and alert.contractor_siret == recipient.contractor_siret


def send_digests(settings, day: date) -> int:
    """One delivery per recipient and channel gathering the day's alerts it subscribed to as a digest.

    Run it again for the same day and nothing new is created (the digest's id is the day's)."""
    start, end = day_bounds(day, settings.extra["digest_timezone"])
    wanted: dict[tuple[str, str], set[str]] = {}
    for sub in Subscription.objects(mode="daily_digest"):
        wanted.setdefault((sub.recipient_id, sub.channel), set()).add(sub.kind)
    if not wanted:
        return 0
    alerts = list(Alert.objects(created_at__gte=start, created_at__lt=end, calm__nin=["replaced", "reverted"])
                  .order_by("created_at", "id"))
    recipients = {r.id: r for r in Recipient.objects(id__in=list({rid for rid, _ in wanted}), active=True)}
    created = 0
    for (recipient_id, channel), kinds in sorted(wanted.items()):
        recipient = recipients.get(recipient_id)
        if recipient is None or (channel == "webhook" and not recipient.webhook_url):
            continue
        mine = [a for a in alerts if a.kind in kinds and concerns(a, recipient)]
        if mine:
            territories = sorted({t for a in mine for t in a.territories})
            created += _new_delivery(domain.digest_id(day, recipient_id, channel), [a.id for a in mine],
                                     recipient_id, channel, "daily_digest", territories, day.isoformat())
    return created


# --- a delivery operator's actions --------------------------------------------------------------------
@retry_on_conflict
def retry_now(delivery_id: str) -> Delivery:
    delivery = Delivery.objects.get(id=delivery_id)
    if delivery.status != "sent":
        delivery.next_attempt_at, delivery.lease_until = _now(), None
        delivery.commit()
    return delivery


_DECLARATIONS = Batched(apply_declarations)
EVENT_HANDLERS = {
    "lot.quota_reached": apply_lot_event, "lot.status_changed": apply_lot_event,
    "lot.progress_updated": apply_lot_event, "lot.quota_changed": apply_lot_event,
    "lot.awarded": apply_lot_awarded,
    "market.status_changed": apply_market_status, "market.closed": apply_market_status,
    "declaration.submitted": _DECLARATIONS, "declaration.validated": _DECLARATIONS,
    "declaration.rejected": _DECLARATIONS,
    **KEY_EVENT_HANDLERS,
    "eligibility.window_ending": apply_window_ending, "eligibility.window_ended": apply_window_ended,
    "promotion.next_step_due": apply_next_step_due,
    "reporting.reminder_due": apply_reminder_due,
}
CONSUMES = ["markets", "hours", "participants"]  # the services whose events this one applies
