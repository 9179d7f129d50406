"""MongoDB documents of the hours service, including its read models fed by other services' events."""
import uuid

import mongoengine as me
from plumbing.outbox import OutboxDocument

from .domain import CONTRACT_TYPES, MODES, EligibilityWindow, LotHolding

DECLARATION_STATUSES = ("submitted", "validated", "rejected", "superseded")


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

    def to_domain(self, market_status: str | None = None) -> LotHolding:
        return LotHolding(self.id, self.contractor_siret, self.start_date, self.end_date, market_status)


class MarketState(me.Document):
    """Read model from markets' status events: whether a market's lots are in execution."""
    id = me.StringField(primary_key=True)  # market id
    status = me.StringField(required=True)
    meta = {"collection": "market_states"}


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


class DeclarationVersion(me.EmbeddedDocument):
    """One version of a line. A correction adds a version and never rewrites an older one's figures."""
    id = me.StringField(required=True)  # the declaration id the API and the events name
    number = me.IntField(required=True)
    centihours = me.IntField(required=True, min_value=1)
    mode = me.StringField(required=True, choices=MODES)
    employer_siret = me.StringField()
    contract_type = me.StringField(choices=CONTRACT_TYPES)
    status = me.StringField(required=True, choices=DECLARATION_STATUSES)
    submitted_at = me.DateTimeField(required=True)
    submitted_by = me.StringField()
    validated_at = me.DateTimeField()
    validated_by = me.StringField()
    rejected_at = me.DateTimeField()
    rejected_by = me.StringField()
    rejection_reason = me.StringField()
    correction_reason = me.StringField()
    supersedes = me.StringField()
    superseded_by = me.StringField()


class Declaration(OutboxDocument):
    """One line (lot, participant, month) and every version of it: a correction is one write of this
    document, so the unique line key, the old version becoming superseded, the new version and the
    event all change together. Top-level status and figures are the current version's (for queries)."""
    id = me.StringField(primary_key=True, default=new_id)  # also the first version's id
    line_key = me.StringField(required=True, unique=True)  # lot, participant, month: one line each
    lot_id = me.StringField(required=True)
    participant_id = me.StringField(required=True)
    contractor_siret = me.StringField(required=True)
    month = me.StringField(required=True)  # YYYY-MM
    territories = me.ListField(me.StringField())  # the lot's
    participant_territory = me.StringField()  # for progress broken down per territory
    status = me.StringField(required=True, choices=DECLARATION_STATUSES)  # the current version's
    centihours = me.IntField(required=True, min_value=1)  # the current version's
    submitted_at = me.DateTimeField(required=True)  # the first version's: the queue's order
    version_ids = me.ListField(me.StringField())  # found with $in (portable on every server)
    versions = me.EmbeddedDocumentListField(DeclarationVersion)
    meta = {"collection": "declarations",
            "indexes": ["lot_id", "contractor_siret", "version_ids", ("status", "submitted_at")]}

    @property
    def current(self) -> DeclarationVersion:
        return self.versions[-1]

    def version(self, version_id: str) -> DeclarationVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)


class IdempotentRequest(me.Document):
    """The first answer to a request sent with an Idempotency-Key, replayed to its retries."""
    id = me.StringField(primary_key=True)  # contractor SIRET | endpoint | key
    request_hash = me.StringField(required=True)
    status = me.IntField(required=True)
    body = me.DictField()
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "idempotent_requests"}


OUTBOX_DOCUMENTS = [Declaration, ApiKey]
