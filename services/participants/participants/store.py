"""MongoDB documents of the participants service (string ids: the identifiers the API shows).

A participant's identity, contacts and evidence stay in this service: its events carry none.
"""
import uuid

import mongoengine as me
from plumbing import search
from plumbing.months import month_of
from plumbing.outbox import OutboxDocument

from .domain import AGE_BANDS, CONTRACT_TYPES, CRITERIA, DECISION_KINDS, OUTCOMES, REGISTERED, SEXES, STATUSES


def new_id() -> str:
    return uuid.uuid4().hex


class Evidence(me.EmbeddedDocument):
    """What the facilitator saw: a kind, a reference and a date, never the document itself."""
    kind = me.StringField(required=True)
    reference = me.StringField(required=True)
    date = me.DateField(required=True)
    prescriber = me.StringField()


class Criterion(me.EmbeddedDocument):
    """As claimed; the domain checked the attributes its code needs (others are kept as given)."""
    code = me.StringField(required=True, choices=CRITERIA)
    benefit = me.StringField()
    months = me.IntField()
    reason = me.StringField()
    evidence = me.EmbeddedDocumentField(Evidence)  # its own evidence, when not the shared one


class Eligibility(me.EmbeddedDocument):
    decision_id = me.StringField()  # the grant or renewal in the history (absent before the history was kept)
    criteria = me.EmbeddedDocumentListField(Criterion, required=True)
    evidence = me.EmbeddedDocumentField(Evidence)  # shared by the criteria without their own
    eligible_from = me.DateField(required=True)
    eligible_until = me.DateField(required=True)  # last counting day, inclusive
    validated_by = me.StringField(required=True)
    revoked_on = me.DateField()
    revocation_reason = me.StringField()
    ending_notice_sent = me.BooleanField(default=False)
    ended_notice_sent = me.BooleanField(default=False)


class EligibilityDecision(me.EmbeddedDocument):
    """One decision of the eligibility history, never rewritten: a grant or renewal (with its criteria and
    evidence), a revocation, or the end of the counting window."""
    id = me.StringField(required=True, default=new_id)
    kind = me.StringField(required=True, choices=DECISION_KINDS)
    effective_on = me.DateField(required=True)  # entry, revocation day, or the window's last day
    eligible_from = me.DateField(required=True)  # of the eligibility the decision is about
    eligible_until = me.DateField(required=True)  # its last counting day as planned
    criteria = me.EmbeddedDocumentListField(Criterion)
    evidence = me.EmbeddedDocumentField(Evidence)
    decided_by = me.StringField(required=True)
    decided_at = me.DateTimeField(required=True)
    reason = me.StringField()


class PathEntry(me.EmbeddedDocument):
    """A stretch of work on a lot of a market."""
    id = me.StringField(required=True, default=new_id)
    lot_id = me.StringField(required=True)
    employer_siret = me.StringField(required=True)
    start = me.DateField(required=True)
    end = me.DateField()
    contract_type = me.StringField(required=True, choices=CONTRACT_TYPES)
    recorded_by = me.StringField()


class Exit(me.EmbeddedDocument):
    outcome = me.StringField(required=True, choices=OUTCOMES)
    exit_date = me.DateField(required=True)
    recorded_by = me.StringField()


# Kept after an erasure or an anonymisation: nothing in them identifies a person.
STATISTICS_FIELDS = ("territory", "sex", "age_band", "qpv", "categories", "outcome")
IDENTITY_FIELDS = ("first_name", "last_name", "birth_date", "commune", "email", "phone")


class Participant(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    territory = me.StringField(required=True)
    # identity: required by the API, absent once erased
    first_name = me.StringField()
    last_name = me.StringField()
    birth_date = me.DateField()
    commune = me.StringField()
    email = me.StringField()
    phone = me.StringField()
    lookalike_key = me.StringField()  # digest of the names and birth date, to warn of duplicates
    name_starts = me.ListField(me.StringField())  # the names' word starts, folded (see clean): the list's search
    # statistics (kept after erasure)
    sex = me.StringField(choices=SEXES)
    qpv = me.BooleanField(default=False)  # lives in a priority neighbourhood
    age_band = me.StringField(choices=AGE_BANDS)  # at entry in the clause (at registration before)
    categories = me.ListField(me.StringField(choices=CRITERIA))  # of the last eligibility granted
    outcome = me.StringField(choices=OUTCOMES)
    # follow-up
    status = me.StringField(default=REGISTERED, choices=STATUSES)
    eligibility = me.EmbeddedDocumentField(Eligibility)  # the current or last one
    eligibility_history = me.EmbeddedDocumentListField(EligibilityDecision)  # oldest first
    window_notice_due = me.DateField()  # next day the scheduled window check has something to say
    window_end = me.DateField()  # the counting window's last day (see clean), top-level for lists to filter and sort
    window_end_month = me.StringField()  # its month: the windows ending soon found by index (plumbing.months)
    path = me.EmbeddedDocumentListField(PathEntry)
    exit = me.EmbeddedDocumentField(Exit)
    exited_on = me.DateField()  # = exit.exit_date, top-level for the retention query
    registered_by = me.StringField()
    registered_on = me.DateField()
    erased_on = me.DateField()
    erasure_reason = me.StringField(choices=("request", "retention"))
    meta = {"collection": "participants",
            "indexes": [("territory", "status"), ("territory", "lookalike_key"), "window_notice_due",
                        ("territory", "exited_on"), "name_starts", "window_end_month"]}
    # what clean() writes, from what (``refresh-derived-fields`` writes it in documents older than a field)
    derived_fields = {"window_end": ("eligibility",), "window_end_month": ("eligibility",),
                      "name_starts": ("first_name", "last_name")}

    def clean(self):
        """Run before every write, so what derives from the record follows it (an erasure empties both): the
        window ends on the revocation's day if revoked, else on the planned one; the names' word starts."""
        eligibility = self.eligibility
        self.window_end = (eligibility.revoked_on or eligibility.eligible_until) if eligibility else None
        self.window_end_month = month_of(self.window_end)
        self.name_starts = search.word_starts(self.first_name, self.last_name)


class AccessLogEntry(me.Document):
    """Who read, changed, exported or erased which participant, and when (no personal data)."""
    id = me.StringField(primary_key=True, default=new_id)
    participant_id = me.StringField(required=True)
    territory = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    subject = me.StringField(required=True)
    role = me.StringField(required=True)
    action = me.StringField(required=True)
    meta = {"collection": "access_log", "indexes": [("participant_id", "at")]}


class ParticipantSettings(me.Document):
    """What the operators of a territory set; unset values fall back to the service's defaults."""
    id = me.StringField(primary_key=True)  # the territory
    counting_window_months = me.IntField(min_value=1, max_value=120)
    retention_months = me.IntField(min_value=1, max_value=240)
    evidence_max_age_months = me.IntField(min_value=1, max_value=60)
    updated_by = me.StringField()
    updated_at = me.DateTimeField()
    meta = {"collection": "territory_settings"}


OUTBOX_DOCUMENTS = [Participant]
