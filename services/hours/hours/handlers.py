"""Service layer of the hours service, called by the API and by the worker."""
from datetime import date, datetime, timezone
from decimal import Decimal

import mongoengine as me
from plumbing import auth
from plumbing.auth import Principal, new_api_key
from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import ApiKey, ApiKeyUse, Contractor, Declaration, HeldLot, ParticipantWindow

SERVICE = "hours"


class DuplicateLine(Exception):
    pass


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- contractors and their API keys -----------------------------------------------------------
def create_contractor(siret: str, name: str, territories: list[str], created_by: str) -> Contractor:
    return Contractor(id=siret, name=name, territories=territories, created_by=created_by).save(force_insert=True)


def _key_event(key: ApiKey, type_: str, territories) -> Event:
    # The hash lets the other services recognise the key (contractors read their lots' progress
    # there); the key itself never leaves the response that showed it.
    return Event(type=type_, producer=SERVICE, key=key.contractor_siret, territories=list(territories),
                 payload={"key_id": key.id, "contractor_siret": key.contractor_siret,
                          "key_hash": key.key_hash})


def create_api_key(contractor: Contractor, label: str, created_by: str) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which is shown once and never stored."""
    key_id, secret, key_hash = new_api_key()
    stored = ApiKey(id=key_id, contractor_siret=contractor.id, key_hash=key_hash, label=label,
                    created_at=now(), created_by=created_by)
    stored.record(_key_event(stored, "api_key.created", contractor.territories))
    return stored.commit(), secret


@retry_on_conflict
def revoke_api_key(key_id: str) -> ApiKey:
    key = ApiKey.objects.get(id=key_id)
    if key.revoked_at is None:
        key.revoked_at = now()
        contractor = Contractor.objects(id=key.contractor_siret).first()
        key.record(_key_event(key, "api_key.revoked", contractor.territories if contractor else []))
        key.commit()
    return key


def keys_with_last_use(siret: str) -> list[dict]:
    keys = list(ApiKey.objects(contractor_siret=siret).order_by("created_at"))
    used = {u.id: u.last_used_at for u in ApiKeyUse.objects(id__in=[k.id for k in keys])}
    return [{**{name: getattr(key, name) for name in ApiKey._fields}, "last_used_at": used.get(key.id)}
            for key in keys]


def principal_for_api_key(secret: str) -> Principal | None:
    """The contractor a presented key belongs to, or None when unknown or revoked; each use is dated."""
    def find(key_id):
        key = ApiKey.objects(id=key_id, revoked_at=None).first()
        if key is None:
            return None
        ApiKeyUse(id=key.id, last_used_at=now()).save()  # a whole-document write: portable
        contractor = Contractor.objects(id=key.contractor_siret).first()
        return key.key_hash, key.contractor_siret, contractor.territories if contractor else ()
    return auth.principal_for_api_key(secret, find)


# --- declarations ------------------------------------------------------------------------------
def declare(siret: str, data: dict, auto_validate_territories: list[str], ceiling: Decimal,
            today: date | None = None) -> Declaration:
    """Check a line against every rule, store it and publish it; raises Refused or DuplicateLine."""
    month = data["month"]
    line = domain.Line(data["lot_id"], data["participant_id"], month, data["hours"])
    held = HeldLot.objects(id=line.lot_id).first()
    window = ParticipantWindow.objects(id=line.participant_id).first()
    domain.check_line(line, siret, held.to_domain() if held else None, window.to_domain() if window else None,
                      today or date.today(), ceiling)
    auto = bool(set(held.territories) & set(auto_validate_territories))
    declaration = Declaration(
        line_key=f"{line.lot_id}|{line.participant_id}|{month:%Y-%m}", lot_id=line.lot_id,
        participant_id=line.participant_id, contractor_siret=siret, month=f"{month:%Y-%m}",
        centihours=int(line.hours * 100), mode=data["mode"], employer_siret=data.get("employer_siret"),
        contract_type=data.get("contract_type"), territories=held.territories,
        participant_territory=window.territory,
        status="validated" if auto else "submitted", submitted_at=now())
    if auto:
        declaration.validated_at, declaration.validated_by = declaration.submitted_at, "auto-validation"
    declaration.record(_declaration_event(declaration))
    try:
        return declaration.commit()
    except me.NotUniqueError:
        raise DuplicateLine() from None


@retry_on_conflict
def validate(declaration_id: str, validated_by: str) -> Declaration:
    declaration = Declaration.objects.get(id=declaration_id)
    if declaration.status != "submitted":
        return declaration
    declaration.status, declaration.validated_at, declaration.validated_by = "validated", now(), validated_by
    declaration.record(_declaration_event(declaration))
    return declaration.commit()


def _declaration_event(declaration: Declaration) -> Event:
    return Event(type=f"declaration.{declaration.status}", producer=SERVICE, key=declaration.lot_id,
                 territories=list(declaration.territories), payload={
                     "declaration_id": declaration.id, "lot_id": declaration.lot_id,
                     "participant_id": declaration.participant_id, "month": declaration.month,
                     "territory": declaration.participant_territory,
                     "centihours": declaration.centihours, "mode": declaration.mode,
                     "contractor_siret": declaration.contractor_siret,
                     "employer_siret": declaration.employer_siret,
                     "contract_type": declaration.contract_type})


# --- events from other services -----------------------------------------------------------------
def _payload(event: Event, *names: str) -> list:
    try:
        return [event.payload[name] for name in names]
    except KeyError as exc:
        raise Unapplicable(f"{event.type} without {exc}") from None


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unapplicable(f"not a date: {value!r}") from None


def apply_lot_awarded(event: Event) -> None:
    lot_id, siret, start, end = _payload(event, "lot_id", "contractor_siret", "start_date", "end_date")
    HeldLot(id=lot_id, market_id=event.payload.get("market_id"), contractor_siret=siret,
            territories=event.territories, start_date=_date(start), end_date=_date(end)).save()
    contractor = Contractor.objects(id=siret).first()
    if contractor and not set(event.territories) <= set(contractor.territories):
        # facilitators of every territory of the lot may then manage this contractor's keys
        contractor.territories = sorted(set(contractor.territories) | set(event.territories))
        contractor.save()


def apply_eligibility_granted(event: Event) -> None:
    participant_id, territory, start, until = _payload(event, "participant_id", "territory", "eligible_from",
                                                       "eligible_until")
    ParticipantWindow(id=participant_id, territory=territory, eligible_from=_date(start),
                      eligible_until=_date(until), revoked_on=None).save()


def _rewrite_window(participant_id: str, **changes) -> None:
    """Write the window whole (a $set of a date is stored as text by some MongoDB-protocol servers)."""
    window = ParticipantWindow.objects(id=participant_id).first()
    current = {name: getattr(window, name) for name in ParticipantWindow._fields} if window else {}
    ParticipantWindow(**{**current, "id": participant_id, **changes}).save()  # replaces, or inserts


def apply_eligibility_revoked(event: Event) -> None:
    participant_id, revoked_on = _payload(event, "participant_id", "revoked_on")
    _rewrite_window(participant_id, revoked_on=_date(revoked_on))


def apply_window_ended(event: Event) -> None:
    """The window's last day as the participants service closed it (hours after it stay refused)."""
    participant_id, until = _payload(event, "participant_id", "eligible_until")
    if ParticipantWindow.objects(id=participant_id).count():
        _rewrite_window(participant_id, eligible_until=_date(until))


def apply_participant_erased(event: Event) -> None:
    """Forget the participant: new lines for this id are refused as unknown. Declarations already made
    stay, under the opaque id, for the lots' progress and the statistics."""
    (participant_id,) = _payload(event, "participant_id")
    ParticipantWindow.objects(id=participant_id).delete()


EVENT_HANDLERS = {
    "lot.awarded": apply_lot_awarded,
    "eligibility.granted": apply_eligibility_granted,
    "eligibility.revoked": apply_eligibility_revoked,
    "eligibility.window_ended": apply_window_ended,
    "participant.erased": apply_participant_erased,
}
CONSUMES = ["markets", "participants"]  # the services whose events this one applies
