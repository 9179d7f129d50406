"""Sending deliveries: French e-mails over SMTP and signed webhooks, retried with exponential backoff.

A delivery is claimed with a lease (a revision-checked write) before it is sent, so two senders (the
worker's loop and the ``deliver-pending`` command) never send the same one at once. Its outcome is
written with every attempt kept. A sender that dies between the send and that write leaves the lease to
expire and the delivery is sent again: the receiver can recognise it by ``X-Clause-Delivery`` (webhooks)
or by its ``Message-ID`` (e-mails), which are the same for every attempt.
"""
import hashlib
import http.client
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from plumbing.outbox import ConcurrentUpdate, retry_on_conflict
from prometheus_client import Gauge

from . import domain, handlers
from .store import Alert, Delivery, Recipient

log = logging.getLogger(__name__)

_templates = Environment(loader=PackageLoader("notifications", "templates"),
                         autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True)

FIGURE_LABELS_FR = {
    "realised_hours": "Heures réalisées", "expected_hours": "Heures attendues à ce jour",
    "quota_hours": "Objectif d'heures", "declared_hours": "Heures déclarées, non encore validées",
    "shortfall_hours": "Heures restant à réaliser", "end_date": "Fin du marché", "days_left": "Jours restants",
    "days_without_declaration": "Jours sans déclaration", "last_declaration_on": "Dernière déclaration",
    "eligible_until": "Fin de la fenêtre de comptage", "hours": "Heures déclarées", "month": "Mois",
    "reason": "Motif du refus", "next_step": "Prochaine étape", "next_step_on": "Échéance",
    "due_date": "Date limite de déclaration",
}


# Labelled: nothing is written before the worker's sender sets it, so the web app's /metrics leaves it out.
PENDING_DELIVERIES = Gauge("clause_deliveries_pending",
                           "Deliveries not sent yet, by status: pending (never tried) or failed (waiting for "
                           "their next attempt).", ["status"])


class SendFailed(Exception):
    """The mail server or the webhook receiver did not take the message; it will be retried."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _figure(name: str, value) -> str:
    if value is None:
        return "—"
    if name.endswith("_hours") or name == "hours":
        return domain.format_hours(value)
    if name.endswith(("_date", "_on", "_until")):
        return domain.format_date(date.fromisoformat(value))
    return str(value)


def alert_content(alert: Alert, public_url: str) -> dict:
    """What a message says about an alert: lot and market data and opaque ids, never a person's identity."""
    context = alert.context or {}
    return {
        "id": alert.id, "kind": alert.kind, "severity": alert.severity, "title": alert.title,
        "message": alert.message, "territories": list(alert.territories), "lot_id": alert.lot_id,
        "market_id": alert.market_id,
        "market": {"reference": context.get("market_reference"), "title": context.get("market_title")},
        "lot": {"number": context.get("lot_number"), "title": context.get("lot_title")},
        "participant_id": context.get("participant_id"), "declaration_id": context.get("declaration_id"),
        "figures": dict(alert.figures or {}), "link": handlers.alert_link(alert, public_url),
        "created_at": alert.created_at.isoformat(),
    }


def _rows(content: dict) -> list[tuple[str, str]]:
    return [(FIGURE_LABELS_FR.get(name, name), _figure(name, value)) for name, value in content["figures"].items()
            if value is not None]


def render_email(alerts: list[Alert], recipient: Recipient, public_url: str, digest_day: str | None = None):
    """(subject, text, html) of the French e-mail of one alert or of a day's digest."""
    contents = [{**alert_content(a, public_url), "rows": _rows(alert_content(a, public_url))} for a in alerts]
    if digest_day:
        day = domain.format_date(date.fromisoformat(digest_day))
        subject = f"[Clauses sociales] Récapitulatif du {day} : {len(contents)} alerte{'s' if len(contents) > 1 else ''}"
    else:
        first = contents[0]
        where = (f" — {first['market']['reference']}, lot {first['lot']['number']}"
                 if first["market"]["reference"] else "")
        subject = f"[Clauses sociales] {first['title']}{where}"
    values = {"recipient_name": recipient.name, "alerts": contents, "digest_day": digest_day and
              domain.format_date(date.fromisoformat(digest_day)), "public_url": public_url.rstrip("/")}
    return subject, _templates.get_template("alert.txt").render(**values), \
        _templates.get_template("alert.html").render(**values)


# What the delivery log says of a failed call (French, for facilitators; the socket's own words go to the
# logs): never enough to map the network behind the platform, and addresses there are not called at all.
_FAILURES_FR = ((TimeoutError, "délai dépassé"), (ConnectionRefusedError, "connexion refusée"),
                (ssl.SSLCertVerificationError, "certificat TLS refusé"),
                (ssl.SSLError, "échec de la connexion chiffrée (TLS)"),
                (ConnectionError, "connexion interrompue"), (http.client.HTTPException, "réponse illisible"),
                (OSError, "serveur injoignable"))


def _failure_fr(exc: Exception) -> str:
    return next(label for kind, label in _FAILURES_FR if isinstance(exc, kind))


def send_email(extra: dict, to: str, subject: str, text: str, html: str, delivery_id: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = extra["smtp_from"]
    message["To"] = formataddr(("", to)) if "<" not in to else to
    message["Date"] = format_datetime(_now())
    # The same for every attempt: a receiver that got one already recognises it.
    message["Message-ID"] = f"<{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}@clauses-sociales>"
    message["X-Clause-Delivery"] = delivery_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    try:
        with smtplib.SMTP(extra["smtp_host"], extra["smtp_port"], timeout=extra["smtp_timeout_s"]) as smtp:
            if extra["smtp_starttls"]:
                smtp.starttls()
            if extra["smtp_username"]:
                smtp.login(extra["smtp_username"], extra["smtp_password"] or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(f"serveur de courriel : réponse {exc.smtp_code}") from exc
    except smtplib.SMTPException as exc:
        raise SendFailed("serveur de courriel : envoi refusé") from exc
    except OSError as exc:
        raise SendFailed(f"serveur de courriel : {_failure_fr(exc)}") from exc


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the address that was checked, not to what the name resolves to a moment later
    (DNS rebinding); the Host header and the TLS certificate are still checked against the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, tls: bool):
        super().__init__(host, port, timeout=timeout)
        self.address, self.tls = address, tls

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.tls:
            self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def webhook_body(delivery: Delivery, alerts: list[Alert], public_url: str) -> bytes:
    return json.dumps({"delivery_id": delivery.id, "type": "digest" if delivery.digest_day else "alert",
                       "digest_day": delivery.digest_day,
                       "alerts": [alert_content(a, public_url) for a in alerts]},
                      ensure_ascii=False, separators=(",", ":")).encode()


def send_webhook(extra: dict, url: str, secret: str, body: bytes, delivery_id: str, kind: str) -> int:
    try:
        address = handlers.webhook_address(url, extra["webhook_allowed"])
    except handlers.AddressRefused as refused:
        raise SendFailed(refused.reason) from None
    parts = urlsplit(url)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "clauses-sociales-notifications/1",
               "X-Clause-Signature": domain.sign(secret, timestamp, body), "X-Clause-Timestamp": timestamp,
               "X-Clause-Delivery": delivery_id, "X-Clause-Event": kind}
    connection = _PinnedConnection(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   address, extra["webhook_timeout_s"], tls=parts.scheme == "https")
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise SendFailed(_failure_fr(exc)) from exc
    finally:
        connection.close()
    if not 200 <= status < 300:  # a redirect too: it is not followed
        raise SendFailed(f"réponse HTTP {status}")
    return status


# --- the delivery loop --------------------------------------------------------------------------------
def _claim(delivery_id: str, now: datetime, lease_s: float) -> Delivery | None:
    delivery = Delivery.objects(id=delivery_id).first()
    if delivery is None or delivery.status not in ("pending", "failed") or delivery.next_attempt_at > now \
            or (delivery.lease_until and delivery.lease_until > now):
        return None
    delivery.lease_until = now + timedelta(seconds=lease_s)
    try:
        return delivery.commit()
    except ConcurrentUpdate:
        return None  # another sender took it


@retry_on_conflict
def _record(delivery_id: str, outcome: str, detail: str, extra: dict) -> Delivery:
    delivery = Delivery.objects.get(id=delivery_id)
    now = _now()
    delivery.attempts = list(delivery.attempts) + [{"at": now.isoformat(), "outcome": outcome, "detail": detail}]
    delivery.lease_until = None
    if outcome == "sent":
        delivery.status, delivery.sent_at = "sent", now
    elif outcome == "cancelled":
        delivery.status = "cancelled"
    else:
        delivery.status = "failed"
        failures = sum(1 for a in delivery.attempts if a["outcome"] == "failed")
        delay = domain.retry_delay_s(failures, extra["retry_base_s"], extra["retry_max_s"])
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delivery.commit()


def _send(delivery: Delivery, extra: dict) -> tuple[str, str]:
    recipient = Recipient.objects(id=delivery.recipient_id).first()
    if recipient is None or not recipient.active:
        return "cancelled", "destinataire désactivé ou supprimé"
    by_id = {a.id: a for a in Alert.objects(id__in=list(delivery.alert_ids))}
    alerts = [by_id[i] for i in delivery.alert_ids if i in by_id]
    if not alerts:
        return "cancelled", "alerte introuvable"
    public_url = extra["public_url"]
    if delivery.channel == "email":
        subject, text, html = render_email(alerts, recipient, public_url, delivery.digest_day)
        send_email(extra, recipient.email, subject, text, html, delivery.id)
        return "sent", "accepté par le serveur SMTP"
    if not recipient.webhook_url or not recipient.webhook_secret:
        return "cancelled", "webhook supprimé"
    kind = "digest" if delivery.digest_day else alerts[0].kind
    status = send_webhook(extra, recipient.webhook_url, recipient.webhook_secret,
                          webhook_body(delivery, alerts, public_url), delivery.id, kind)
    return "sent", f"réponse HTTP {status}"


def deliver_one(delivery_id: str, extra: dict, now: datetime | None = None) -> str | None:
    """Try one due delivery; returns its outcome, or None when it was not due or another sender has it."""
    delivery = _claim(delivery_id, now or _now(), lease_s=max(60.0, 3 * extra["smtp_timeout_s"],
                                                              3 * extra["webhook_timeout_s"]))
    if delivery is None:
        return None
    try:
        outcome, detail = _send(delivery, extra)
    except SendFailed as exc:
        outcome, detail = "failed", str(exc)[:500]
        cause = repr(exc.__cause__) if exc.__cause__ else None  # for the operators' logs only
    _record(delivery.id, outcome, detail, extra)
    log_extra = {"delivery_id": delivery.id, "channel": delivery.channel, "outcome": outcome,
                 "attempt": len(delivery.attempts) + 1}
    if outcome == "failed":
        log.warning("delivery failed; retried later", extra={**log_extra, "detail": detail, "error": cause})
    else:
        log.info("delivery done", extra=log_extra)
    return outcome


def deliver_due(extra: dict, limit: int = 200, stop: threading.Event | None = None) -> dict:
    """Finish interrupted fan-outs, then try every delivery whose time has come. Returns outcome counts.

    With ``stop``, it returns as soon as it is set (what is left is still due next time)."""
    handlers.fan_out_pending()
    now = _now()
    counts = {"sent": 0, "failed": 0, "cancelled": 0}
    due = [d.id for d in Delivery.objects(status__in=["pending", "failed"], next_attempt_at__lte=now)
           .order_by("next_attempt_at").only("id").limit(limit)]
    for delivery_id in due:
        if stop is not None and stop.is_set():
            break
        outcome = deliver_one(delivery_id, extra, now)
        if outcome:
            counts[outcome] += 1
    return counts


def delivery_loop(extra: dict, stop: threading.Event) -> None:
    """The worker's sender: every NOTIFICATIONS_DELIVERY_INTERVAL_S, deliver what is due, until ``stop``."""
    while not stop.is_set():
        try:
            counts = deliver_due(extra, stop=stop)
            busy = counts["sent"] + counts["failed"] + counts["cancelled"] > 0
            for status in ("pending", "failed"):
                PENDING_DELIVERIES.labels(status).set(Delivery.objects(status=status).count())
        except Exception:  # noqa: BLE001 - keep delivering; every delivery stays in the database
            if stop.is_set():
                return
            log.exception("delivery loop failed; trying again")
            busy = False
        if not busy:
            stop.wait(extra["delivery_interval_s"])
