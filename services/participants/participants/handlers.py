"""Service layer: what the participants service does, called by the API and the scheduled commands.

Events and logs name a participant by id only: never a name, a contact, a birth date or evidence.
Every read or change of a participant's record is written to the access log, with who did it.
"""
import logging
from datetime import date, datetime, timezone

from plumbing import region, search
from plumbing.auth import Principal
from plumbing.events import Event
from plumbing.months import spanned_months_filter
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import (IDENTITY_FIELDS, AccessLogEntry, Criterion, Eligibility, EligibilityDecision, Evidence, Exit,
                    Participant, PathEntry, ParticipantSettings)

log = logging.getLogger(__name__)

SERVICE = "participants"
SYSTEM_ROLE = "system"

ACTION_LABELS_FR = {
    "read": "consultation de la fiche", "create": "création de la fiche", "import": "création par import",
    "update": "rectification de l'identité", "grant": "validation de l'éligibilité",
    "revoke": "révocation de l'éligibilité", "path": "mise à jour du parcours", "exit": "sortie du dispositif",
    "window_notice": "avis sur la fenêtre de comptage", "export": "export des données (droit d'accès)",
    "erase": "effacement des données personnelles",
    "anonymise": "anonymisation (durée de conservation écoulée)",
}


class LookAlike(Exception):
    """Someone with the same names and birth date is already followed in the territory."""

    def __init__(self, existing_ids: list[str]):
        super().__init__("look-alike participant")
        self.existing_ids = existing_ids


class Erased(Exception):
    """The participant's personal data were erased: only anonymous statistics remain."""

    def __init__(self, erased_on: date):
        super().__init__("participant erased")
        self.erased_on = erased_on


class PathEntryNotFound(Exception):
    pass


def now() -> datetime:
    return datetime.now(timezone.utc)


def system_actor(command: str) -> Principal:
    """Who the access log names for a scheduled command."""
    return Principal(subject=f"commande planifiée {command}", role=SYSTEM_ROLE, territories=frozenset())


def _event(type_: str, participant: Participant, payload: dict) -> Event:
    return Event(type=type_, producer=SERVICE, key=participant.id, territories=[participant.territory],
                 payload={"participant_id": participant.id, "territory": participant.territory, **payload})


def _load(participant_id: str) -> Participant:
    participant = Participant.objects.get(id=participant_id)
    if participant.status == domain.ERASED:
        raise Erased(participant.erased_on)
    return participant


# --- territory settings --------------------------------------------------------------------------
def territory_settings(territory: str) -> dict:
    """The territory's counting window and retention: what its operators set, else the region file's."""
    stored = ParticipantSettings.objects(id=territory).first()
    defaults = region.current().defaults_for(territory)
    return {"territory": territory,
            "counting_window_months": (stored and stored.counting_window_months) or defaults.counting_window_months,
            "retention_months": (stored and stored.retention_months) or defaults.retention_months,
            "evidence_max_age_months": (stored and stored.evidence_max_age_months) or domain.EVIDENCE_MAX_AGE_MONTHS,
            "updated_by": stored.updated_by if stored else None,
            "updated_at": stored.updated_at if stored else None}


def update_territory_settings(territory: str, data: dict, updated_by: str) -> dict:
    ParticipantSettings(id=territory, counting_window_months=data["counting_window_months"],
                      retention_months=data["retention_months"],
                      evidence_max_age_months=data.get("evidence_max_age_months"), updated_by=updated_by,
                      updated_at=now()).save()
    log.info("territory settings updated", extra={"territory": territory})
    return territory_settings(territory)


# --- access log ----------------------------------------------------------------------------------
def log_access(participant: Participant, actor: Principal, action: str) -> None:
    AccessLogEntry(participant_id=participant.id, territory=participant.territory, at=now(),
                   subject=actor.subject, role=actor.role, action=action).save(force_insert=True)


def access_log(participant_id: str) -> list[AccessLogEntry]:
    return list(AccessLogEntry.objects(participant_id=participant_id).order_by("at"))


def read(participant: Participant, actor: Principal) -> Participant:
    """A facilitator reads a record: logged before anything is shown."""
    if participant.status == domain.ERASED:
        raise Erased(participant.erased_on)
    log_access(participant, actor, "read")
    return participant


# --- lists --------------------------------------------------------------------------------------
LIST_FIELDS = ("id", "territory", "first_name", "last_name", "status", "window_end", "categories")


def listing(territories: list[str], query: dict):
    """The participants of these territories matching the query's filters (the API pages them in its order).

    Not written to the access log: a list shows what finds a person (names, state, window, categories), as the
    record's header does; reading the record itself, its evidence and path, is logged (``read``)."""
    people = Participant.objects(territory__in=territories,
                                 __raw__=search.starts_condition(query.get("q", ""), "name_starts"))
    people = people.filter(status=query["status"]) if "status" in query else people.filter(status__ne=domain.ERASED)
    if "public" in query:
        people = people.filter(categories=query["public"])
    if "window_ends_before" in query:
        people = people.filter(window_end__lte=query["window_ends_before"])
    if "window_ends_after" in query:
        people = people.filter(window_end__gte=query["window_ends_after"])
        people = people.filter(**spanned_months_filter("window_end_month", query["window_ends_after"],
                                                       query.get("window_ends_before", date.max)))
    return people.only(*LIST_FIELDS)


# --- registration and rectification --------------------------------------------------------------
def lookalikes(territory: str, key: str) -> list[str]:
    """Ids of the people followed in the territory whose names and birth date match this key."""
    return [p.id for p in Participant.objects(territory=territory, lookalike_key=key).only("id")]


def new_participant(data: dict, actor: Principal, today: date) -> Participant:
    """A participant built from validated data (not stored yet)."""
    identity = {name: data.get(name) for name in IDENTITY_FIELDS}
    return Participant(**identity, territory=data["territory"], sex=data["sex"], qpv=data.get("qpv", False),
                       lookalike_key=domain.lookalike_key(data["first_name"], data["last_name"],
                                                          data["birth_date"]),
                       age_band=domain.age_band(data["birth_date"], today), registered_by=actor.subject,
                       registered_on=today, path=[])


def record_registration(participant: Participant, today: date, eligibility: dict | None, actor: Principal,
                        settings: dict) -> None:
    """The registered event and, when ``eligibility`` is given, the grant: one document write for both, so a
    refused eligibility registers no one."""
    participant.record(_event("participant.registered", participant, {
        "categories": [c["code"] for c in (eligibility or {}).get("criteria", [])], "sex": participant.sex,
        "age_band": domain.age_band(participant.birth_date, today), "qpv": participant.qpv}))
    if eligibility:
        apply_grant(participant, eligibility, actor.subject, settings["counting_window_months"],
                    settings["evidence_max_age_months"])


def register(data: dict, actor: Principal, settings: dict, today: date | None = None) -> Participant:
    """Register a person, eligible at once when the data carry an eligibility; raises LookAlike unless
    ``confirm_new`` says it is someone else."""
    today = today or date.today()
    participant = new_participant(data, actor, today)
    if not data.get("confirm_new") and (existing := lookalikes(participant.territory, participant.lookalike_key)):
        raise LookAlike(existing)
    record_registration(participant, today, data.get("eligibility"), actor, settings)
    participant.commit()
    log_access(participant, actor, "create")
    log.info("participant registered", extra={"participant_id": participant.id,
                                              "territory": participant.territory})
    return participant


@retry_on_conflict
def rectify(participant_id: str, changes: dict, actor: Principal) -> Participant:
    """Correct identity or contact fields; a new birth date must still satisfy the eligibility in force."""
    participant = _load(participant_id)
    for name, value in changes.items():
        setattr(participant, name, value)
    if "birth_date" in changes:
        current = participant.eligibility
        if participant.status == domain.ELIGIBLE and current is not None:
            domain.recheck_after_birth_date_change([_criterion(c) for c in current.criteria],
                                                   participant.birth_date, current.eligible_from)
        on = current.eligible_from if current is not None else participant.registered_on
        participant.age_band = domain.age_band(participant.birth_date, on)
    participant.lookalike_key = domain.lookalike_key(participant.first_name, participant.last_name,
                                                     participant.birth_date)
    participant.commit()
    log_access(participant, actor, "update")
    log.info("participant rectified", extra={"participant_id": participant.id})
    return participant


# --- eligibility --------------------------------------------------------------------------------
def _criterion(stored: Criterion) -> domain.Criterion:
    return domain.Criterion(stored.code, stored.benefit, stored.months, stored.reason)


def claimed_criteria(data: dict) -> list[domain.Criterion]:
    """The criteria of an eligibility request, each with the date of its evidence (its own or the shared one)."""
    shared = data.get("evidence")
    return [domain.Criterion(c["code"], c.get("benefit"), c.get("months"), c.get("reason"),
                             evidenced=bool(evidence := c.get("evidence") or shared),
                             evidence_date=evidence["date"] if evidence else None) for c in data["criteria"]]


def _decide(participant: Participant, kind: str, effective_on: date, eligibility: Eligibility, by: str,
            reason: str | None = None, with_evidence: bool = False) -> EligibilityDecision:
    """Append a decision to the participant's eligibility history (never rewritten)."""
    at = now()  # as the store gives it back: to the millisecond
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    decision = EligibilityDecision(
        kind=kind, effective_on=effective_on, eligible_from=eligibility.eligible_from,
        eligible_until=eligibility.eligible_until, decided_by=by, decided_at=at, reason=reason,
        criteria=list(eligibility.criteria) if with_evidence else [],
        evidence=eligibility.evidence if with_evidence else None)
    participant.eligibility_history = list(participant.eligibility_history or []) + [decision]
    return decision


def apply_grant(participant: Participant, data: dict, validated_by: str, window_months: int,
                evidence_max_age_months: int = domain.EVIDENCE_MAX_AGE_MONTHS) -> None:
    """Check the criteria and their evidence on the entry date, open the counting window, keep the decision
    in the history and record the event."""
    shared = data.get("evidence")
    criteria = claimed_criteria(data)
    eligible_until = domain.grant(participant.status, criteria, participant.birth_date, data["eligible_from"],
                                  window_months, participant.exited_on, evidence_max_age_months)
    kind = domain.RENEWED if participant.eligibility_history or participant.eligibility else domain.GRANTED
    participant.status = domain.ELIGIBLE
    participant.eligibility = Eligibility(
        criteria=[Criterion(**{**c, "evidence": Evidence(**c["evidence"]) if c.get("evidence") else None})
                  for c in data["criteria"]],
        evidence=Evidence(**shared) if shared else None, eligible_from=data["eligible_from"],
        eligible_until=eligible_until, validated_by=validated_by)
    decision = _decide(participant, kind, data["eligible_from"], participant.eligibility, validated_by,
                       data.get("reason"), with_evidence=True)
    participant.eligibility.decision_id = decision.id
    participant.categories = [c.code for c in criteria]
    participant.age_band = domain.age_band(participant.birth_date, data["eligible_from"])
    participant.window_notice_due = domain.first_window_notice_due(eligible_until)
    participant.record(_event("eligibility.granted", participant, {
        "categories": [c.code for c in criteria], "eligible_from": data["eligible_from"].isoformat(),
        "eligible_until": eligible_until.isoformat(), "age_band": participant.age_band,
        "eligibility_id": decision.id, "decision": kind}))


@retry_on_conflict
def grant_eligibility(participant_id: str, data: dict, actor: Principal, settings: dict) -> Participant:
    """Grant (or renew) eligibility on recorded evidence, under the territory's settings (raises domain errors)."""
    participant = _load(participant_id)
    apply_grant(participant, data, actor.subject, settings["counting_window_months"],
                settings["evidence_max_age_months"])
    participant.commit()
    log_access(participant, actor, "grant")
    log.info("eligibility granted", extra={"participant_id": participant.id})
    return participant


@retry_on_conflict
def revoke_eligibility(participant_id: str, reason: str, revoked_on: date, actor: Principal) -> Participant:
    participant = _load(participant_id)
    current = participant.eligibility
    domain.revoke(participant.status, current.eligible_from if current else revoked_on, revoked_on)
    participant.status = domain.REVOKED
    participant.eligibility = _eligibility_with(current, revoked_on=revoked_on, revocation_reason=reason)
    participant.window_notice_due = None
    _decide(participant, domain.DECISION_REVOKED, revoked_on, current, actor.subject, reason)
    participant.record(_event("eligibility.revoked", participant, {
        "revoked_on": revoked_on.isoformat(), "eligibility_id": current.decision_id}))
    participant.commit()
    log_access(participant, actor, "revoke")
    log.info("eligibility revoked", extra={"participant_id": participant.id})
    return participant


def _eligibility_with(current: Eligibility, **changes) -> Eligibility:
    return Eligibility(**{**{name: current[name] for name in Eligibility._fields}, **changes})


@retry_on_conflict
def _check_window(participant_id: str, today: date, actor: Principal) -> str | None:
    participant = Participant.objects(id=participant_id).first()
    if participant is None or participant.status != domain.ELIGIBLE or participant.window_notice_due is None:
        return None
    current = participant.eligibility
    notice, next_due = domain.window_notice(current.eligible_until, today, current.ending_notice_sent)
    participant.window_notice_due = next_due
    if notice == domain.WINDOW_ENDING:
        participant.eligibility = _eligibility_with(current, ending_notice_sent=True)
        participant.record(_event("eligibility.window_ending", participant, {
            "eligible_until": current.eligible_until.isoformat(),
            "days_left": (current.eligible_until - today).days}))
    elif notice == domain.WINDOW_ENDED:
        participant.status = domain.ENDED
        participant.eligibility = _eligibility_with(current, ended_notice_sent=True)
        _decide(participant, domain.DECISION_ENDED, current.eligible_until, current, actor.subject,
                "fin de la fenêtre de comptage")
        participant.record(_event("eligibility.window_ended", participant, {
            "eligible_until": current.eligible_until.isoformat(), "eligibility_id": current.decision_id}))
    participant.commit()
    if notice:
        log_access(participant, actor, "window_notice")
        log.info("counting window notice", extra={"participant_id": participant.id, "notice": notice})
    return notice


def check_windows(today: date | None = None) -> dict:
    """Publish "window ending soon" (once, 30 days ahead) and "window ended" (once) where due."""
    today = today or date.today()
    actor = system_actor("check-windows")
    counts = {domain.WINDOW_ENDING: 0, domain.WINDOW_ENDED: 0}
    due = [p.id for p in Participant.objects(window_notice_due__lte=today, status=domain.ELIGIBLE).only("id")]
    for participant_id in due:
        notice = _check_window(participant_id, today, actor)
        if notice:
            counts[notice] += 1
    return counts


# --- path and exit ------------------------------------------------------------------------------
@retry_on_conflict
def add_path_entry(participant_id: str, data: dict, actor: Principal) -> Participant:
    participant = _load(participant_id)
    domain.check_path_entry(data["start"], data.get("end"), participant.exited_on)
    entry = PathEntry(**data, recorded_by=actor.subject)
    participant.path.append(entry)
    participant.commit()
    log_access(participant, actor, "path")
    log.info("path entry added", extra={"participant_id": participant.id, "entry_id": entry.id})
    return participant


@retry_on_conflict
def end_path_entry(participant_id: str, entry_id: str, end: date, actor: Principal) -> Participant:
    participant = _load(participant_id)
    entries = list(participant.path or [])
    index = next((i for i, e in enumerate(entries) if e.id == entry_id), None)
    if index is None:
        raise PathEntryNotFound(entry_id)
    current = entries[index]
    domain.check_path_entry(current.start, end, participant.exited_on)
    entries[index] = PathEntry(**{**{name: current[name] for name in PathEntry._fields}, "end": end})
    participant.path = entries
    participant.commit()
    log_access(participant, actor, "path")
    return participant


@retry_on_conflict
def record_exit(participant_id: str, data: dict, actor: Principal, today: date | None = None) -> Participant:
    """Record what became of the person when they left the clause (once)."""
    participant = _load(participant_id)
    entered_on = participant.eligibility.eligible_from if participant.eligibility else participant.registered_on
    domain.check_exit(participant.exited_on, data["exit_date"], today or date.today(), entered_on)
    participant.exit = Exit(outcome=data["outcome"], exit_date=data["exit_date"], recorded_by=actor.subject)
    participant.exited_on = data["exit_date"]
    participant.outcome = data["outcome"]
    participant.window_notice_due = None  # no alert about the window of someone who has left
    participant.record(_event("participant.exited", participant, {
        "outcome": data["outcome"], "exit_date": data["exit_date"].isoformat()}))
    participant.commit()
    log_access(participant, actor, "exit")
    log.info("participant exited", extra={"participant_id": participant.id})
    return participant


# --- GDPR: access, erasure, retention -------------------------------------------------------------
def export(participant: Participant, actor: Principal) -> dict:
    """Everything held about a person (right of access); the export itself is logged first."""
    if participant.status == domain.ERASED:
        raise Erased(participant.erased_on)
    log_access(participant, actor, "export")
    log.info("participant exported", extra={"participant_id": participant.id})
    return {"exported_at": now(), "exported_by": actor.subject, "participant": participant,
            "access_log": access_log(participant.id)}


@retry_on_conflict
def erase(participant_id: str, actor: Principal, reason: str = "request", today: date | None = None) -> Participant:
    """Delete the identity, contacts, evidence and path; keep only anonymous statistics.

    Publishes participant.erased so that the other services drop what they hold about the id.
    """
    participant = _load(participant_id)
    for name in (*IDENTITY_FIELDS, "lookalike_key", "eligibility", "exit", "exited_on", "registered_by",
                 "registered_on", "window_notice_due"):
        setattr(participant, name, None)
    participant.path = []
    participant.eligibility_history = []  # its evidence references and reasons are personal data
    participant.status = domain.ERASED
    participant.erased_on = today or date.today()
    participant.erasure_reason = reason
    participant.record(_event("participant.erased", participant, {}))
    participant.commit()
    log_access(participant, actor, "erase" if reason == "request" else "anonymise")
    log.info("participant erased", extra={"participant_id": participant.id, "reason": reason})
    return participant


def anonymise_exited(today: date | None = None) -> int:
    """Anonymise the participants whose retention after exit is over, territory by territory."""
    today = today or date.today()
    actor = system_actor("anonymise-exited")
    anonymised = 0
    for territory in sorted(Participant.objects(exited_on__ne=None).distinct("territory")):
        months = territory_settings(territory)["retention_months"]
        for candidate in Participant.objects(territory=territory, exited_on__lte=today).only("id", "exited_on"):
            if candidate.exited_on and domain.anonymisation_due(candidate.exited_on, months, today):
                erase(candidate.id, actor, reason="retention", today=today)
                anonymised += 1
    return anonymised


def statistics(territory: str) -> dict:
    """Anonymous counts of a territory's participants, erased ones included (their statistics stay)."""
    records = (domain.StatisticsRecord(p.sex, p.age_band, bool(p.qpv), tuple(p.categories or ()), p.outcome)
               for p in Participant.objects(territory=territory).only("sex", "age_band", "qpv", "categories",
                                                                       "outcome"))
    return {"territory": territory, **domain.statistics(records)}


EVENT_HANDLERS: dict = {}
CONSUMES: list[str] = []  # the worker consumes nothing; it runs to relay this service's outbox
