"""MongoDB documents of the participants service (string ids: portable across MongoDB servers).

A participant's identity, contacts and evidence stay in this service: its events carry none.
"""
import uuid

import mongoengine as me
from plumbing.outbox import OutboxDocument

from .domain import CRITERIA, REGISTERED, SEXES, STATUSES


def new_id() -> str:
    return uuid.uuid4().hex


class Criterion(me.EmbeddedDocument):
    """As claimed; the domain checked the attributes its code needs (others are kept as given)."""
    code = me.StringField(required=True, choices=CRITERIA)
    benefit = me.StringField()
    months = me.IntField()
    reason = me.StringField()


class Evidence(me.EmbeddedDocument):
    """What the facilitator saw: a kind, a reference and a date, never the document itself."""
    kind = me.StringField(required=True)
    reference = me.StringField(required=True)
    date = me.DateField(required=True)
    prescriber = me.StringField()


class Eligibility(me.EmbeddedDocument):
    criteria = me.EmbeddedDocumentListField(Criterion, required=True)
    evidence = me.EmbeddedDocumentField(Evidence, required=True)
    eligible_from = me.DateField(required=True)
    eligible_until = me.DateField(required=True)  # last counting day, inclusive
    validated_by = me.StringField(required=True)
    revoked_on = me.DateField()
    revocation_reason = me.StringField()


class Participant(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    territory = me.StringField(required=True)
    first_name = me.StringField(required=True)
    last_name = me.StringField(required=True)
    birth_date = me.DateField(required=True)
    sex = me.StringField(required=True, choices=SEXES)
    commune = me.StringField(required=True)
    qpv = me.BooleanField(default=False)  # lives in a priority neighbourhood
    email = me.StringField()
    phone = me.StringField()
    status = me.StringField(default=REGISTERED, choices=STATUSES)
    eligibility = me.EmbeddedDocumentField(Eligibility)  # the current or last one
    registered_by = me.StringField()
    registered_on = me.DateField()
    meta = {"collection": "participants", "indexes": [("territory", "status")]}


OUTBOX_DOCUMENTS = [Participant]
