"""Service layer: what the participants service does, called by the API.

Events and logs name a participant by id only: never a name, a contact, a birth date or evidence.
"""
import logging
from datetime import date

from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import Criterion, Eligibility, Evidence, Participant

log = logging.getLogger(__name__)

SERVICE = "participants"


def _event(type_: str, participant: Participant, payload: dict) -> Event:
    return Event(type=type_, producer=SERVICE, key=participant.id, territories=[participant.territory],
                 payload={"participant_id": participant.id, "territory": participant.territory, **payload})


def register(data: dict, registered_by: str, today: date | None = None) -> Participant:
    today = today or date.today()
    participant = Participant(**data, registered_by=registered_by, registered_on=today)
    participant.record(_event("participant.registered", participant, {
        "sex": participant.sex, "age_band": domain.age_band(participant.birth_date, today),
        "qpv": participant.qpv}))
    participant.commit()
    log.info("participant registered", extra={"participant_id": participant.id,
                                              "territory": participant.territory})
    return participant


@retry_on_conflict
def grant_eligibility(participant_id: str, data: dict, validated_by: str, window_months: int) -> Participant:
    """Check the criteria on the entry date and open the counting window (raises domain errors)."""
    participant = Participant.objects.get(id=participant_id)
    criteria = [domain.Criterion(**c) for c in data["criteria"]]
    eligible_until = domain.grant(participant.status, criteria, participant.birth_date,
                                  data["eligible_from"], window_months)
    participant.status = domain.ELIGIBLE
    participant.eligibility = Eligibility(
        criteria=[Criterion(**c) for c in data["criteria"]], evidence=Evidence(**data["evidence"]),
        eligible_from=data["eligible_from"], eligible_until=eligible_until, validated_by=validated_by)
    participant.record(_event("eligibility.granted", participant, {
        "categories": [c.code for c in criteria], "eligible_from": data["eligible_from"].isoformat(),
        "eligible_until": eligible_until.isoformat()}))
    participant.commit()
    log.info("eligibility granted", extra={"participant_id": participant.id})
    return participant


@retry_on_conflict
def revoke_eligibility(participant_id: str, reason: str, revoked_on: date) -> Participant:
    participant = Participant.objects.get(id=participant_id)
    current = participant.eligibility
    domain.revoke(participant.status, current.eligible_from if current else revoked_on, revoked_on)
    participant.status = domain.REVOKED
    # A new embedded document is rewritten whole by $set: a dotted $set of a date is not portable.
    participant.eligibility = Eligibility(**{**{name: current[name] for name in Eligibility._fields},
                                             "revoked_on": revoked_on, "revocation_reason": reason})
    participant.record(_event("eligibility.revoked", participant, {"revoked_on": revoked_on.isoformat()}))
    participant.commit()
    log.info("eligibility revoked", extra={"participant_id": participant.id})
    return participant


EVENT_HANDLERS: dict = {}
CONSUMES: list[str] = []  # the worker consumes nothing; it runs to relay this service's outbox
