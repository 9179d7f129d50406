"""MongoDB documents of the hours service, including its read models fed by other services' events."""
import uuid
from datetime import date

import mongoengine as me
from plumbing.outbox import OutboxDocument

from .domain import CONTRACT_TYPES, MODES, EligibilityWindow, LotHolding, Period

DECLARATION_STATUSES = ("submitted", "validated", "rejected", "superseded")
EXIT_REVIEWS = ("pending", "confirmed", "rejected")


def new_id() -> str:
    return uuid.uuid4().hex


class Contractor(me.Document):
    id = me.StringField(primary_key=True)  # SIRET
    name = me.StringField(required=True)
    territories = me.ListField(me.StringField())  # where facilitators follow it
    created_by = me.StringField()
    meta = {"collection": "contractors", "indexes": ["territories", "name"]}


class ApiKey(OutboxDocument):
    id = me.StringField(primary_key=True)  # the public key id, part of the key itself
    contractor_siret = me.StringField(required=True)
    key_hash = me.StringField(required=True)
    label = me.StringField()
    created_at = me.DateTimeField(required=True)
    created_by = me.StringField()
    revoked_at = me.DateTimeField()
    expires_at = me.DateTimeField()  # set when rotated: the end of the grace period
    replaces = me.StringField()  # the key id this one was rotated from
    replaced_by = me.StringField()
    meta = {"collection": "api_keys", "indexes": ["contractor_siret"]}


class ApiKeyUse(me.Document):
    """A key's requests in one day (UTC); kept apart so that a use never races a revocation.

    Written by one upsert per request ($inc, and the last use as an ISO string: some MongoDB-protocol
    servers store a $set date as text)."""
    id = me.StringField(primary_key=True)  # key id | YYYY-MM-DD
    key_id = me.StringField(required=True)
    day = me.StringField(required=True)  # YYYY-MM-DD
    requests = me.IntField(default=0)
    last_used_at = me.StringField()  # ISO 8601, UTC
    meta = {"collection": "api_key_daily_uses", "indexes": [("key_id", "-day")]}


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


class EligibilityPeriod(me.EmbeddedDocument):
    """One eligibility decision of a participant (a grant or renewal), as its later revocation or end left it."""
    id = me.StringField()  # the participants service's decision id (absent from events published before it)
    eligible_from = me.DateField(required=True)
    eligible_until = me.DateField(required=True)
    revoked_on = me.DateField()

    def to_domain(self) -> EligibilityWindow:
        return EligibilityWindow(self.eligible_from, self.eligible_until, self.revoked_on)


class ParticipantWindow(me.Document):
    """Read model from participants' events: when a participant's hours count (every eligibility decision,
    so that a past line is judged under the one in force over its period) and when they left the clause."""
    id = me.StringField(primary_key=True)  # opaque participant id
    territory = me.StringField()
    periods = me.EmbeddedDocumentListField(EligibilityPeriod)  # oldest first
    exited_on = me.DateField()
    # the only window, in documents written before ``periods``
    eligible_from = me.DateField()
    eligible_until = me.DateField()
    revoked_on = me.DateField()
    meta = {"collection": "participant_windows"}

    def all_periods(self) -> list[EligibilityPeriod]:
        if self.periods or self.eligible_from is None:
            return list(self.periods)
        return [EligibilityPeriod(eligible_from=self.eligible_from, eligible_until=self.eligible_until,
                                  revoked_on=self.revoked_on)]

    def to_domain(self) -> tuple[EligibilityWindow, ...]:
        return tuple(p.to_domain() for p in self.all_periods())


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
    """One line (lot, participant, period) and every version of it: a correction is one write of this
    document, so the unique line key, the old version becoming superseded, the new version and the
    event all change together. Top-level status and figures are the current version's (for queries)."""
    id = me.StringField(primary_key=True, default=new_id)  # also the first version's id
    line_key = me.StringField(required=True, unique=True)  # lot, participant, period: one line each
    lot_id = me.StringField(required=True)
    participant_id = me.StringField(required=True)
    contractor_siret = me.StringField(required=True)
    month = me.StringField(required=True)  # YYYY-MM, the period's (progress is counted per month)
    period_start = me.DateField()  # absent from lines stored before dated periods: see period()
    period_end = me.DateField()
    territories = me.ListField(me.StringField())  # the lot's
    participant_territory = me.StringField()  # for progress broken down per territory
    status = me.StringField(required=True, choices=DECLARATION_STATUSES)  # the current version's
    centihours = me.IntField(required=True, min_value=1)  # the current version's
    submitted_at = me.DateTimeField(required=True)  # the first version's: the queue's order
    version_ids = me.ListField(me.StringField())  # every version's id: finds a line from any of them
    versions = me.EmbeddedDocumentListField(DeclarationVersion)
    # Set when the participant's exit, recorded late, falls before the period: the territory's facilitators
    # confirm the line (it keeps counting) or reject it (it stops counting).
    exit_review = me.StringField(choices=EXIT_REVIEWS)
    exited_on = me.DateField()
    exit_reviewed_by = me.StringField()
    exit_reviewed_at = me.DateTimeField()
    # The Idempotency-Key request that wrote the line (idempotency.request_key): its retry, when the first
    # attempt wrote the line but died before its answer was kept, gets the line back rather than a conflict.
    request_key = me.StringField()
    meta = {"collection": "declarations",
            "indexes": ["lot_id", "contractor_siret", "version_ids", ("status", "submitted_at"),
                        ("participant_id", "month"), ("exit_review", "submitted_at")]}

    @property
    def current(self) -> DeclarationVersion:
        return self.versions[-1]

    def period(self) -> Period:
        if self.period_start is None:  # stored when every line was a month
            return Period.of_month(date.fromisoformat(f"{self.month}-01"))
        return Period(self.period_start, self.period_end)

    # The queue's order: oldest first; the lines sent at once by month, then as their unique key orders them
    QUEUE_ORDER = ("submitted_at", "month", "line_key")

    def version(self, version_id: str) -> DeclarationVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)


class ReportedMonth(me.Document):
    """A lot's month that has lines, and the day the first was declared: the reporting calendar reads these (a
    lot's months) rather than its lines (hundreds). Written with each new line (a line's lot and month never
    change); ``reported_months.rebuild`` makes them again from the lines."""
    id = me.StringField(primary_key=True)  # "<lot_id>|<month>"
    lot_id = me.StringField(required=True)
    month = me.StringField(required=True)  # YYYY-MM
    first_declared_at = me.DateTimeField(required=True)
    meta = {"collection": "reported_months", "indexes": ["lot_id"]}


class DeclarationSettings(me.Document):
    """A territory's choices for the lines of its lots; a territory without one takes the region file's
    defaults (auto_validation, monthly_ceiling_hours). Written whole (PUT)."""
    id = me.StringField(primary_key=True)  # territory
    auto_validation = me.BooleanField(required=True)
    monthly_ceiling_centihours = me.IntField(min_value=1)  # None: the region file's default
    reporting_due_day = me.IntField(min_value=1, max_value=28)  # None: the region file's default
    updated_at = me.DateTimeField(required=True)
    updated_by = me.StringField()
    meta = {"collection": "territory_settings"}


class IdempotentRequest(me.Document):
    """The first answer to a request sent with an Idempotency-Key, replayed to its retries. The answer is
    kept as compressed JSON text: whatever names or text it echoes (a NUL, a key starting with $), the
    database stores it, and a 10,000-line report stays far below a document's 16 MB."""
    id = me.StringField(primary_key=True)  # contractor SIRET | endpoint | key
    request_hash = me.StringField(required=True)
    status = me.IntField(required=True)
    answer = me.BinaryField()  # zlib of the JSON body
    body = me.DictField()  # the body itself, in records written before ``answer``
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "idempotent_requests"}


class UploadReport(me.Document):
    """The refused rows of an uploaded file, as read, with their reasons: downloadable to fix and send
    again. Purged after a while (the purge-upload-reports command)."""
    id = me.StringField(primary_key=True, default=new_id)
    contractor_siret = me.StringField(required=True)
    territories = me.ListField(me.StringField())  # the lots' (their facilitators may read it)
    created_at = me.DateTimeField(required=True)
    rows = me.ListField(me.DictField())  # {row, values, rule, reason}, the first ones when there are many
    omitted = me.IntField(default=0)  # refused rows left out, to keep the document bounded
    meta = {"collection": "upload_reports", "indexes": ["created_at"]}


class MonthWithoutHours(OutboxDocument):
    """A company's explicit statement that a lot had no insertion hours in a month, with its reason: the
    month counts as declared in the reporting calendar."""
    id = me.StringField(primary_key=True)  # lot id | YYYY-MM
    lot_id = me.StringField(required=True)
    contractor_siret = me.StringField(required=True)
    month = me.StringField(required=True)
    reason = me.StringField(required=True)
    territories = me.ListField(me.StringField())
    declared_at = me.DateTimeField(required=True)
    declared_by = me.StringField()
    meta = {"collection": "months_without_hours", "indexes": ["contractor_siret", "lot_id"]}


class ReportingReminder(OutboxDocument):
    """A reminder sent about a month missing at its due date (kind first) or N days later (second, which
    also alerts the facilitators). Its id makes a second one of the same kind impossible."""
    id = me.StringField(primary_key=True)  # siret | lot id | YYYY-MM | kind
    contractor_siret = me.StringField(required=True)
    lot_id = me.StringField(required=True)
    month = me.StringField(required=True)
    kind = me.StringField(required=True, choices=("first", "second"))
    due_date = me.DateField(required=True)
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "reporting_reminders", "indexes": ["contractor_siret", "lot_id"]}


OUTBOX_DOCUMENTS = [Declaration, ApiKey, MonthWithoutHours, ReportingReminder]
