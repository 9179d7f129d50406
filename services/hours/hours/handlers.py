"""Service layer of the hours service, called by the API and by the worker."""
from datetime import date, datetime, timezone
from decimal import Decimal

import mongoengine as me
from pymongo.errors import BulkWriteError
from plumbing import auth
from plumbing.auth import Principal, new_api_key
from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import retry_on_conflict

from . import domain
from .store import (ApiKey, ApiKeyUse, Contractor, Declaration, DeclarationVersion, HeldLot, MarketState,
                    ParticipantWindow, new_id)

SERVICE = "hours"


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
class DuplicateLine(Exception):
    pass


class NotAllowed(Exception):
    """A move the workflow forbids for this version (409); the message is French."""


DUPLICATE_MESSAGE = "Une ligne existe déjà pour ce lot, ce participant et ce mois : corrigez-la plutôt."
_IN_CHUNK = 1000  # keeps $in lists of a 10,000-line batch to a reasonable size


def _chunks(values: list, size: int = _IN_CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def line_key(lot_id: str, participant_id: str, month: date) -> str:
    return f"{lot_id}|{participant_id}|{month:%Y-%m}"


class Rules:
    """The read models a request's lines are checked against, loaded once for all of them."""

    def __init__(self, lines: list[dict], auto_validate_territories, ceiling: Decimal, today: date | None = None):
        self.auto = set(auto_validate_territories)
        self.ceiling = ceiling
        self.today = today or date.today()
        lot_ids = sorted({line["lot_id"] for line in lines})
        participant_ids = sorted({line["participant_id"] for line in lines})
        self.lots = {lot.id: lot for chunk in _chunks(lot_ids) for lot in HeldLot.objects(id__in=chunk)}
        self.windows = {w.id: w for chunk in _chunks(participant_ids)
                        for w in ParticipantWindow.objects(id__in=chunk)}
        market_ids = sorted({lot.market_id for lot in self.lots.values() if lot.market_id})
        self.market_states = {m.id: m.status for m in MarketState.objects(id__in=market_ids)}

    def check(self, siret: str, data: dict) -> tuple[HeldLot, ParticipantWindow]:
        """The lot and the participant's window of a line that passes every rule; raises Refused."""
        held, window = self.lots.get(data["lot_id"]), self.windows.get(data["participant_id"])
        line = domain.Line(data["lot_id"], data["participant_id"], data["month"], data["hours"])
        domain.check_line(line, siret, held.to_domain(self.market_states.get(held.market_id)) if held else None,
                          window.to_domain() if window else None, self.today, self.ceiling)
        return held, window

    def auto_validated(self, held: HeldLot) -> bool:
        return bool(set(held.territories) & self.auto)


def _version(data: dict, number: int, by: str, validated_by: str | None, **extra) -> DeclarationVersion:
    """A new version, validated at once when ``validated_by`` is given."""
    at = now()
    return DeclarationVersion(
        id=new_id(), number=number, centihours=int(data["hours"] * 100), mode=data["mode"],
        employer_siret=data.get("employer_siret"), contract_type=data.get("contract_type"),
        status="validated" if validated_by else "submitted", submitted_at=at, submitted_by=by,
        validated_at=at if validated_by else None, validated_by=validated_by, **extra)


AUTO = "auto-validation"


def _new_line(siret: str, data: dict, held: HeldLot, window: ParticipantWindow, auto: bool,
              by: str) -> Declaration:
    version = _version(data, 1, by, AUTO if auto else None)
    declaration = Declaration(
        id=version.id, line_key=line_key(data["lot_id"], data["participant_id"], data["month"]),
        lot_id=data["lot_id"], participant_id=data["participant_id"], contractor_siret=siret,
        month=f"{data['month']:%Y-%m}", territories=held.territories, participant_territory=window.territory,
        status=version.status, centihours=version.centihours, submitted_at=version.submitted_at,
        version_ids=[version.id], versions=[version])
    declaration.record(_declaration_event(declaration, f"declaration.{version.status}"))
    return declaration


def declare(siret: str, data: dict, auto_validate_territories, ceiling: Decimal, today: date | None = None,
            by: str = "") -> Declaration:
    """Check a line against every rule, store it and publish it; raises Refused or DuplicateLine."""
    rules = Rules([data], auto_validate_territories, ceiling, today)
    held, window = rules.check(siret, data)
    declaration = _new_line(siret, data, held, window, rules.auto_validated(held), by)
    try:
        return declaration.commit()
    except me.NotUniqueError:
        raise DuplicateLine() from None


def declare_batch(siret: str, lines: list[tuple[int, dict | None, dict | None]], all_or_nothing: bool,
                  auto_validate_territories, ceiling: Decimal, today: date | None = None,
                  by: str = "") -> dict:
    """Check every line first, then write the accepted ones in bulk.

    ``lines`` holds (index, data, field errors): data is None when the line did not pass the schema.
    Returns {"results": [...], "accepted": n, "refused": n, "written": bool}; with ``all_or_nothing``,
    one refused line means nothing is written.
    """
    results: dict[int, dict] = {}
    candidates: list[tuple[int, Declaration]] = []
    good = [data for _, data, _ in lines if data is not None]
    rules = Rules(good, auto_validate_territories, ceiling, today)
    keys = [line_key(d["lot_id"], d["participant_id"], d["month"]) for d in good]
    existing = {d.line_key for chunk in _chunks(sorted(set(keys)))
                for d in Declaration.objects(line_key__in=chunk).only("line_key")}
    seen: set[str] = set()
    for index, data, errors in lines:
        if data is None:
            results[index] = _refused(index, "invalid_line", "Ligne invalide : voir le détail par champ.", errors)
            continue
        try:
            held, window = rules.check(siret, data)
        except domain.Refused as refusal:
            results[index] = _refused(index, refusal.rule, refusal.message)
            continue
        key = line_key(data["lot_id"], data["participant_id"], data["month"])
        if key in existing or key in seen:
            results[index] = _refused(index, "duplicate_line", DUPLICATE_MESSAGE if key in existing else
                                      "Une autre ligne de cet envoi porte déjà sur ce lot, ce participant et ce mois.")
            continue
        seen.add(key)
        candidates.append((index, _new_line(siret, data, held, window, rules.auto_validated(held), by)))
    refused = len(results)
    if all_or_nothing and refused:
        for index, declaration in candidates:
            results[index] = {"index": index, "status": "valid", "declaration_id": None}
        return _batch_report(results, written=False)
    for index, declaration in _insert_all(candidates, results):
        results[index] = {"index": index, "status": "accepted", "declaration_id": declaration.id,
                          "declaration_status": declaration.status}
    return _batch_report(results, written=True)


def _insert_all(candidates: list[tuple[int, Declaration]], results: dict) -> list[tuple[int, Declaration]]:
    """Bulk insert (each line is still its own document); a line another request wrote meanwhile is
    refused as a duplicate and the others stay written."""
    if not candidates:
        return []
    for _, declaration in candidates:
        declaration.revision = 1  # what commit() would have written for a new document
    collection = Declaration._get_collection()
    failed: set[int] = set()
    for chunk in _chunks(candidates):
        try:
            collection.insert_many([d.to_mongo() for _, d in chunk], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                index = chunk[error["index"]][0]
                failed.add(index)
                results[index] = _refused(index, "duplicate_line", DUPLICATE_MESSAGE)
    return [(i, d) for i, d in candidates if i not in failed]


def _refused(index: int, rule: str, detail: str, errors: dict | None = None) -> dict:
    result = {"index": index, "status": "refused", "rule": rule, "detail": detail}
    if errors:
        result["errors"] = errors
    return result


def _batch_report(results: dict[int, dict], written: bool) -> dict:
    ordered = [results[i] for i in sorted(results)]
    accepted = sum(r["status"] == "accepted" for r in ordered)
    return {"results": ordered, "accepted": accepted, "refused": sum(r["status"] == "refused" for r in ordered),
            "written": written}


def find_line(version_id: str) -> Declaration | None:
    """The line a version id belongs to ($in on the id list: equality on an array is not portable)."""
    return Declaration.objects(version_ids__in=[version_id]).first()


def _current_or_refuse(declaration: Declaration, version_id: str, action: str) -> DeclarationVersion:
    if declaration.current.id != version_id:
        raise NotAllowed(f"Cette version a été corrigée : {action} la version en vigueur "
                         f"({declaration.current.id}).")
    return declaration.current


@retry_on_conflict
def validate(version_id: str, validated_by: str) -> Declaration:
    declaration = find_line(version_id)
    version = _current_or_refuse(declaration, version_id, "validez")
    if version.status == "validated":
        return declaration  # validating twice changes nothing
    if version.status != "submitted":
        raise NotAllowed("Une déclaration rejetée ne peut pas être validée : elle doit d'abord être corrigée.")
    version.status, version.validated_at, version.validated_by = "validated", now(), validated_by
    declaration.status = version.status
    declaration.record(_declaration_event(declaration, "declaration.validated"))
    return declaration.commit()


@retry_on_conflict
def reject(version_id: str, rejected_by: str, reason: str) -> Declaration:
    declaration = find_line(version_id)
    version = _current_or_refuse(declaration, version_id, "rejetez")
    if version.status != "submitted":
        raise NotAllowed("Seule une déclaration en attente de validation peut être rejetée.")
    version.status, version.rejected_at, version.rejected_by = "rejected", now(), rejected_by
    version.rejection_reason = reason
    declaration.status = version.status
    declaration.record(_declaration_event(declaration, "declaration.rejected", reason=reason))
    return declaration.commit()


@retry_on_conflict
def correct(version_id: str, changes: dict, by: str, by_facilitator: bool, auto_validate_territories,
            ceiling: Decimal, today: date | None = None) -> Declaration:
    """A new version of the line that supersedes the current one, in the same document write.

    The event names both ids, so the markets service stops counting the old hours and counts the new
    ones: progress moves by exactly the difference. A facilitator's correction needs no second look
    and counts as validated; a contractor's waits for validation (or is auto-validated).
    """
    declaration = find_line(version_id)
    old = _current_or_refuse(declaration, version_id, "corrigez")
    data = {"lot_id": declaration.lot_id, "participant_id": declaration.participant_id,
            "month": date.fromisoformat(f"{declaration.month}-01"), "mode": old.mode,
            "employer_siret": old.employer_siret, "contract_type": old.contract_type,
            "hours": Decimal(old.centihours) / 100, **changes}
    rules = Rules([data], auto_validate_territories, ceiling, today)
    held, _ = rules.check(declaration.contractor_siret, data)
    validated_by = by if by_facilitator else AUTO if rules.auto_validated(held) else None
    new = _version(data, old.number + 1, by, validated_by, supersedes=old.id,
                   correction_reason=changes.get("reason"))
    old.status, old.superseded_by = "superseded", new.id
    declaration.versions = list(declaration.versions) + [new]
    declaration.version_ids = list(declaration.version_ids) + [new.id]
    declaration.status, declaration.centihours = new.status, new.centihours
    declaration.record(_declaration_event(declaration, "declaration.corrected", supersedes=old.id,
                                          previous_centihours=old.centihours,
                                          difference_centihours=new.centihours - old.centihours))
    return declaration.commit()


def _declaration_event(declaration: Declaration, type_: str, **extra) -> Event:
    version = declaration.current
    return Event(type=type_, producer=SERVICE, key=declaration.lot_id,
                 territories=list(declaration.territories), payload={
                     "declaration_id": version.id, "line_id": declaration.id, "version": version.number,
                     "status": version.status, "lot_id": declaration.lot_id,
                     "participant_id": declaration.participant_id, "month": declaration.month,
                     "territory": declaration.participant_territory,
                     "centihours": version.centihours, "mode": version.mode,
                     "contractor_siret": declaration.contractor_siret,
                     "employer_siret": version.employer_siret,
                     "contract_type": version.contract_type, **extra})


def view(declaration: Declaration, version: DeclarationVersion | None = None) -> dict:
    """One version as the API shows it (the current one by default)."""
    version = version or declaration.current
    return {"id": version.id, "line_id": declaration.id, "version": version.number,
            "current_id": declaration.current.id, "lot_id": declaration.lot_id,
            "participant_id": declaration.participant_id, "contractor_siret": declaration.contractor_siret,
            "month": declaration.month, "territories": list(declaration.territories),
            **{name: getattr(version, name) for name in (
                "mode", "employer_siret", "contract_type", "status", "submitted_at", "submitted_by",
                "validated_at", "validated_by", "rejected_at", "rejection_reason", "correction_reason",
                "supersedes", "superseded_by")},
            "hours": version.centihours / 100}


def history(declaration: Declaration) -> dict:
    return {"line_id": declaration.id, "current_id": declaration.current.id,
            "versions": [view(declaration, v) for v in declaration.versions]}


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


def apply_market_status(event: Event) -> None:
    """Status events of one market share its key, so they arrive in order: the last one wins."""
    market_id, status = _payload(event, "market_id", "status")
    MarketState(id=market_id, status=status).save()


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
    "market.status_changed": apply_market_status,
    "market.closed": apply_market_status,
    "eligibility.granted": apply_eligibility_granted,
    "eligibility.revoked": apply_eligibility_revoked,
    "eligibility.window_ended": apply_window_ended,
    "participant.erased": apply_participant_erased,
}
CONSUMES = ["markets", "participants"]  # the services whose events this one applies
