"""MongoDB documents of the hours service, including its read models fed by other services' events."""
import uuid

import mongoengine as me
from plumbing.outbox import OutboxDocument

from .domain import CONTRACT_TYPES, MODES, EligibilityWindow, LotHolding

DECLARATION_STATUSES = ("submitted", "validated", "rejected")


def new_id() -> str:
    return uuid.uuid4().hex


class Contractor(me.Document):
    id = me.StringField(primary_key=True)  # SIRET
    name = me.StringField(required=True)
    territories = me.ListField(me.StringField())  # where facilitators follow it
    created_by = me.StringField()
    meta = {"collection": "contractors"}


class ApiKey(OutboxDocument):
    id = me.StringField(primary_key=True)  # the public key id, part of the key itself
    contractor_siret = me.StringField(required=True)
    key_hash = me.StringField(required=True)
    label = me.StringField()
    created_at = me.DateTimeField(required=True)
    created_by = me.StringField()
    revoked_at = me.DateTimeField()
    meta = {"collection": "api_keys", "indexes": ["contractor_siret"]}


class ApiKeyUse(me.Document):
    """When a key was last used; kept apart so that a use never races a revocation."""
    id = me.StringField(primary_key=True)  # key id
    last_used_at = me.DateTimeField(required=True)
    meta = {"collection": "api_key_uses"}


class HeldLot(me.Document):
    """Read model from markets' lot.awarded: who holds which lot, and when it runs."""
    id = me.StringField(primary_key=True)  # lot id
    market_id = me.StringField()
    contractor_siret = me.StringField(required=True)
    territories = me.ListField(me.StringField())
    start_date = me.DateField(required=True)
    end_date = me.DateField(required=True)
    meta = {"collection": "held_lots"}

    def to_domain(self) -> LotHolding:
        return LotHolding(self.id, self.contractor_siret, self.start_date, self.end_date)


class ParticipantWindow(me.Document):
    """Read model from participants' eligibility events: when a participant's hours count."""
    id = me.StringField(primary_key=True)  # opaque participant id
    territory = me.StringField()
    eligible_from = me.DateField()
    eligible_until = me.DateField()
    revoked_on = me.DateField()
    meta = {"collection": "participant_windows"}

    def to_domain(self) -> EligibilityWindow | None:
        if self.eligible_from is None:
            return None
        return EligibilityWindow(self.eligible_from, self.eligible_until, self.revoked_on)


class Declaration(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    line_key = me.StringField(required=True, unique=True)  # lot, participant, month: one line each
    lot_id = me.StringField(required=True)
    participant_id = me.StringField(required=True)
    contractor_siret = me.StringField(required=True)
    month = me.StringField(required=True)  # YYYY-MM
    centihours = me.IntField(required=True, min_value=1)
    mode = me.StringField(required=True, choices=MODES)
    employer_siret = me.StringField()
    contract_type = me.StringField(choices=CONTRACT_TYPES)
    territories = me.ListField(me.StringField())  # the lot's
    participant_territory = me.StringField()  # for progress broken down per territory
    status = me.StringField(required=True, choices=DECLARATION_STATUSES)
    submitted_at = me.DateTimeField(required=True)
    validated_at = me.DateTimeField()
    validated_by = me.StringField()
    meta = {"collection": "declarations", "indexes": ["lot_id", "contractor_siret"]}

    @property
    def hours(self) -> float:
        return self.centihours / 100


OUTBOX_DOCUMENTS = [Declaration, ApiKey]
