"""MongoDB documents of the notifications service (string ids: portable across MongoDB servers)."""
import uuid

import mongoengine as me
from plumbing.outbox import VersionedDocument

from .domain import SEVERITIES, Kind


def new_id() -> str:
    return uuid.uuid4().hex


class Recipient(me.Document):
    """A facilitator who receives the alerts of one territory."""
    id = me.StringField(primary_key=True, default=new_id)
    territory = me.StringField(required=True)
    name = me.StringField(required=True)
    email = me.StringField(required=True)
    active = me.BooleanField(default=True)
    created_by = me.StringField()
    created_at = me.DateTimeField()
    meta = {"collection": "recipients",
            "indexes": [{"fields": ["territory", "email"], "unique": True}, ("territory", "active")]}


class Alert(VersionedDocument):
    """One alert, keyed by the event that raised it and its kind: a redelivered event adds nothing."""
    id = me.StringField(primary_key=True)  # f"{event id}:{kind}"
    kind = me.StringField(required=True, choices=[k.value for k in Kind])
    severity = me.StringField(required=True, choices=SEVERITIES)
    title = me.StringField(required=True)
    message = me.StringField(required=True)
    territories = me.ListField(me.StringField(), required=True)  # every territory of the event
    lot_id = me.StringField(required=True)
    market_id = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    recipients = me.ListField(me.StringField())  # e-mails of the active recipients at creation
    read_by = me.ListField(me.StringField())  # subjects of the people who read it
    meta = {"collection": "alerts", "indexes": [("territories", "-created_at"), "lot_id"]}


OUTBOX_DOCUMENTS = []  # the service publishes no events yet
