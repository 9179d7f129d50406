"""MongoDB documents of the notifications service (string ids: the identifiers the API shows)."""
import uuid

import mongoengine as me
from plumbing.outbox import VersionedDocument

from .domain import ALERT_STATUSES, AUDIENCES, CALM_STATES, CHANNELS, DELIVERY_STATUSES, KINDS, MODES, SEVERITIES


def new_id() -> str:
    return uuid.uuid4().hex


class Recipient(me.Document):
    """A contact who may receive alerts: a facilitator of a territory's partner structure, a buyer's or
    a contractor's contact, or a partner's information system (through its webhook)."""
    id = me.StringField(primary_key=True, default=new_id)
    territory = me.StringField(required=True)
    name = me.StringField(required=True)
    email = me.StringField(required=True)
    active = me.BooleanField(default=True)
    audience = me.StringField(default="facilitator", choices=AUDIENCES)
    organisation = me.StringField()  # the partner structure (or company, or buyer) the contact works for
    buyer_id = me.StringField()  # for a buyer's contact
    contractor_siret = me.StringField()  # for a contractor's contact
    webhook_url = me.StringField()
    webhook_secret = me.StringField()  # needed in clear to sign; never returned after it was shown once
    webhook_set_at = me.DateTimeField()
    created_by = me.StringField()
    created_at = me.DateTimeField()
    person = me.StringField()  # the signed-in person this contact is (their own subscriptions), by token subject
    meta = {"collection": "recipients",
            "indexes": [{"fields": ["territory", "email"], "unique": True}, ("territory", "active"), "buyer_id",
                        "contractor_siret", "person"]}


class Subscription(me.Document):
    """A recipient wants one kind of alert on one channel, at once or in the daily digest."""
    id = me.StringField(primary_key=True)  # f"{recipient_id}:{kind}:{channel}"
    recipient_id = me.StringField(required=True)
    kind = me.StringField(required=True, choices=KINDS)
    channel = me.StringField(required=True, choices=CHANNELS)
    mode = me.StringField(required=True, choices=MODES)
    meta = {"collection": "subscriptions", "indexes": ["recipient_id", ("kind", "mode")]}


class Alert(VersionedDocument):
    """One alert per situation (the same lot in the same state): a redelivered event adds nothing."""
    id = me.StringField(primary_key=True)  # the situation key, see domain
    kind = me.StringField(required=True, choices=KINDS)
    severity = me.StringField(required=True, choices=SEVERITIES)
    title = me.StringField(required=True)
    message = me.StringField(required=True)
    territories = me.ListField(me.StringField(), required=True)  # every territory of the event
    lot_id = me.StringField()
    market_id = me.StringField()
    buyer_id = me.StringField()
    contractor_siret = me.StringField()
    context = me.DictField()  # market and lot names, opaque ids
    figures = me.DictField()
    source_event_id = me.StringField()
    created_at = me.DateTimeField(required=True)
    recipients = me.ListField(me.StringField())  # e-mails of the active facilitators at creation
    read_by = me.ListField(me.StringField())  # subjects of the people who read it
    status = me.StringField(default="open", choices=ALERT_STATUSES)
    acknowledged_by = me.StringField()
    acknowledged_at = me.DateTimeField()
    resolved_by = me.StringField()
    resolved_at = me.DateTimeField()
    resolution_note = me.StringField()
    fanned_out = me.BooleanField(default=False)  # its immediate deliveries exist
    calm = me.StringField(choices=CALM_STATES)  # a lot's status change: held for the quiet period, or not mailed
    meta = {"collection": "alerts", "indexes": [("territories", "-created_at"), "lot_id", "fanned_out",
                                                "created_at", "buyer_id", "contractor_siret", "source_event_id"]}


class Delivery(VersionedDocument):
    """One message to one recipient on one channel; its id makes a second one impossible."""
    id = me.StringField(primary_key=True)  # f"{alert_id}:{recipient_id}:{channel}" or a digest's
    alert_ids = me.ListField(me.StringField(), required=True)  # one, or the day's for a digest
    recipient_id = me.StringField(required=True)
    channel = me.StringField(required=True, choices=CHANNELS)
    mode = me.StringField(required=True, choices=MODES)
    digest_day = me.StringField()
    territories = me.ListField(me.StringField())  # of its alerts: who may look at it
    status = me.StringField(default="pending", choices=DELIVERY_STATUSES)
    attempts = me.ListField(me.DictField())  # {"at", "outcome", "detail"} — the delivery log
    next_attempt_at = me.DateTimeField(required=True)
    lease_until = me.DateTimeField()  # a sender holds it until then
    created_at = me.DateTimeField(required=True)
    sent_at = me.DateTimeField()
    meta = {"collection": "deliveries", "indexes": [("status", "next_attempt_at"), "alert_ids", "recipient_id"]}


class LotView(VersionedDocument):
    """What the notifications service knows of a lot from the markets and hours events (a read model)."""
    id = me.StringField(primary_key=True)  # the lot id
    market_id = me.StringField()
    market_reference = me.StringField()
    market_title = me.StringField()
    lot_number = me.IntField()
    lot_title = me.StringField()
    territories = me.ListField(me.StringField())
    buyer_id = me.StringField()
    contractor_siret = me.StringField()
    start_date = me.DateField()
    end_date = me.DateField()
    quota_hours = me.FloatField()
    realised_hours = me.FloatField(default=0)
    declared_hours = me.FloatField(default=0)
    status = me.StringField()
    market_status = me.StringField()
    awarded = me.BooleanField(default=False)
    last_declaration_on = me.DateField()
    meta = {"collection": "lot_views", "indexes": ["awarded", "market_id"]}




OUTBOX_DOCUMENTS = []  # the service publishes no events
