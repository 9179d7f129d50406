"""Service layer: what the notifications service does, called by the API and by the worker."""
import logging
from datetime import datetime, timezone

import mongoengine as me
from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import Alert, Recipient

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AlreadyRegistered(Exception):
    """This e-mail already receives the alerts of this territory."""


def add_recipient(data: dict, created_by: str) -> Recipient:
    recipient = Recipient(territory=data["territory"], name=data["name"], email=data["email"],
                          created_by=created_by, created_at=_now())
    try:
        recipient.save(force_insert=True)
    except me.NotUniqueError:
        raise AlreadyRegistered() from None
    log.info("recipient added", extra={"recipient_id": recipient.id, "territory": recipient.territory})
    return recipient


def active_emails(territories) -> list[str]:
    """The e-mails of the active recipients of these territories, each once."""
    return sorted({r.email for r in Recipient.objects(territory__in=list(territories), active=True)
                   .only("email")})


def alert_view(alert: Alert, reader: str) -> dict:
    """An alert as a reader sees it: whether they read it, how many people it reached (not who)."""
    return {**alert.to_mongo().to_dict(), "id": alert.id, "read": reader in alert.read_by,
            "recipients_count": len(alert.recipients)}


@retry_on_conflict
def mark_read(alert_id: str, reader: str) -> Alert:
    alert = Alert.objects.get(id=alert_id)
    if reader in alert.read_by:
        return alert
    alert.read_by = list(alert.read_by) + [reader]  # whole-list $set: portable on every server
    return alert.commit()


# --- events from the markets service ---------------------------------------------------------
def apply_lot_event(event: Event) -> None:
    """Raise the alert a lot event calls for, once per event and kind."""
    try:
        draft = domain.alert_for(event.type, event.payload)
    except domain.IncompleteEvent as exc:
        raise Unapplicable(str(exc)) from None
    if draft is None:
        return
    if not event.territories:
        raise Unapplicable("event without territories: nobody to alert")
    alert_id = f"{event.id}:{draft.kind.value}"
    if Alert.objects(id=alert_id).count():
        return  # redelivered: keep the alert as it is (recipients, readers)
    alert = Alert(id=alert_id, kind=draft.kind.value, severity=draft.severity, title=draft.title,
                  message=draft.message, territories=list(event.territories), lot_id=draft.lot_id,
                  market_id=draft.market_id, created_at=_now(), recipients=active_emails(event.territories))
    try:
        alert.commit()
    except me.NotUniqueError:
        return
    log.info("alert raised", extra={"alert_id": alert.id, "kind": alert.kind, "lot_id": alert.lot_id,
                                    "recipients_count": len(alert.recipients)})


EVENT_HANDLERS = {"lot.quota_reached": apply_lot_event, "lot.status_changed": apply_lot_event}
CONSUMES = ["markets"]  # the services whose events this one applies
