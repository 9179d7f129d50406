"""Service layer of the hours service, called by the API and by the worker."""
from datetime import date, datetime, timezone
from decimal import Decimal

import mongoengine as me
from plumbing.auth import Principal, api_key_id, api_key_matches, new_api_key
from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import ApiKey, Contractor, Declaration, HeldLot, ParticipantWindow

SERVICE = "hours"


class DuplicateLine(Exception):
    pass


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- contractors and their API keys -----------------------------------------------------------
def create_contractor(siret: str, name: str, territories: list[str], created_by: str) -> Contractor:
    return Contractor(id=siret, name=name, territories=territories, created_by=created_by).save(force_insert=True)


def create_api_key(contractor: Contractor, label: str, created_by: str) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which is shown once and never stored."""
    key_id, secret, key_hash = new_api_key()
    stored = ApiKey(id=key_id, contractor_siret=contractor.id, key_hash=key_hash, label=label,
                    created_at=now(), created_by=created_by).save(force_insert=True)
    return stored, secret


def revoke_api_key(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now()
        key.save()
    return key


def principal_for_api_key(secret: str) -> Principal | None:
    """The contractor a presented key belongs to, or None when unknown or revoked."""
    key_id = api_key_id(secret)
    key = ApiKey.objects(id=key_id).first() if key_id else None
    if key is None or key.revoked_at is not None or not api_key_matches(secret, key.key_hash):
        return None
    ApiKey.objects(id=key.id).update_one(set__last_used_at=now())
    contractor = Contractor.objects(id=key.contractor_siret).first()
    territories = frozenset(contractor.territories if contractor else [])
    return Principal(subject=f"api-key:{key.id}", role="contractor", territories=territories,
                     siret=key.contractor_siret)


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


def apply_eligibility_revoked(event: Event) -> None:
    participant_id, revoked_on = _payload(event, "participant_id", "revoked_on")
    ParticipantWindow.objects(id=participant_id).update_one(set__revoked_on=_date(revoked_on), upsert=True)


EVENT_HANDLERS = {
    "lot.awarded": apply_lot_awarded,
    "eligibility.granted": apply_eligibility_granted,
    "eligibility.revoked": apply_eligibility_revoked,
}
CONSUMES = ["markets", "participants"]  # the services whose events this one applies
