"""Service layer of the hours service, called by the API and by the worker."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import mongoengine as me
from pymongo.errors import BulkWriteError
from plumbing import auth, region
from plumbing.auth import Principal, new_api_key
from plumbing.consumer import Unapplicable
from plumbing.events import Event
from plumbing.outbox import ConcurrentUpdate, retry_on_conflict

from . import domain, reported_months
from .read_cache import chunks, load_by_id, read_cache
from .store import (ApiKey, ApiKeyUse, Contractor, Declaration, DeclarationVersion, EligibilityPeriod, HeldLot,
                    MarketState, DeclarationSettings, ParticipantWindow, new_id)

SERVICE = "hours"


def now() -> datetime:
    """To the millisecond, as the database keeps it: an answer shows what a later read will."""
    at = datetime.now(timezone.utc)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


# --- contractors and their API keys -----------------------------------------------------------
def create_contractor(siret: str, name: str, territories: list[str], created_by: str) -> Contractor:
    return Contractor(id=siret, name=name, territories=territories, created_by=created_by).save(force_insert=True)


def _key_event(key: ApiKey, type_: str, territories, **extra) -> Event:
    # The hash lets the other services recognise the key (contractors read their lots' progress
    # there); the key itself never leaves the response that showed it.
    return Event(type=type_, producer=SERVICE, key=key.contractor_siret, territories=list(territories),
                 payload={"key_id": key.id, "contractor_siret": key.contractor_siret,
                          "key_hash": key.key_hash, **extra})


def create_api_key(contractor: Contractor, label: str, created_by: str,
                   replaces: str | None = None) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which is shown once and never stored."""
    key_id, secret, key_hash = new_api_key()
    stored = ApiKey(id=key_id, contractor_siret=contractor.id, key_hash=key_hash, label=label,
                    created_at=now(), created_by=created_by, replaces=replaces)
    stored.record(_key_event(stored, "api_key.created", contractor.territories,
                             **({"replaces": replaces} if replaces else {})))
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


KEY_STATUS_LABELS_FR = {"active": "Active", "expiring": "Remplacée : valable jusqu'à son expiration",
                        "revoked": "Révoquée ou expirée"}


def key_status(key: ApiKey, at: datetime | None = None) -> str:
    """active, expiring (rotated, in its grace period) or revoked (also once its grace period is over)."""
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= (at or now())):
        return "revoked"
    return "expiring" if key.expires_at is not None else "active"


def _last_use(key_id: str) -> datetime | None:
    last = ApiKeyUse.objects(key_id=key_id).order_by("-day").only("last_used_at").first()
    return datetime.fromisoformat(last.last_used_at) if last else None


def key_view(key: ApiKey, at: datetime | None = None) -> dict:
    """A key as listed (never the key itself), with its last use."""
    status = key_status(key, at)
    return {**{name: getattr(key, name) for name in ApiKey._fields}, "status": status,
            "status_label": KEY_STATUS_LABELS_FR[status], "last_used_at": _last_use(key.id)}


def keys_with_last_use(siret: str) -> list[dict]:
    at = now()
    return [key_view(key, at) for key in ApiKey.objects(contractor_siret=siret).order_by("created_at")]


class KeyNotRotatable(Exception):
    """The key is revoked, expired or already replaced (409); the message is French."""

    def __init__(self, message: str, rule: str):
        super().__init__(message)
        self.rule = rule


def _check_rotatable(key: ApiKey) -> None:
    if key.replaced_by:
        raise KeyNotRotatable(f"Cette clé a déjà été remplacée par la clé {key.replaced_by} : c'est celle-ci "
                              "qu'il faut renouveler.", "api_key_already_replaced")
    if key_status(key) == "revoked":
        raise KeyNotRotatable("Cette clé est révoquée ou expirée : créez-en une nouvelle.", "api_key_revoked")


def rotate_api_key(contractor: Contractor, key_id: str, grace: timedelta, by: str) -> tuple[ApiKey, str, ApiKey]:
    """A new key with the same label; the old one works ``grace`` longer (revoked at once for 0).

    Returns (the new key, its secret shown once, the old key). Two documents: the new key is written
    first, so that a failure in between leaves the old key working and the rotation can be retried."""
    old = ApiKey.objects.get(id=key_id)
    _check_rotatable(old)
    new, secret = create_api_key(contractor, old.label, by, replaces=key_id)
    try:
        old = _retire(key_id, new.id, grace, contractor.territories)
    except KeyNotRotatable:
        revoke_api_key(new.id)  # another rotation or a revocation won meanwhile; nobody saw this secret
        raise
    return new, secret, old


@retry_on_conflict
def _retire(key_id: str, successor_id: str, grace: timedelta, territories) -> ApiKey:
    key = ApiKey.objects.get(id=key_id)
    _check_rotatable(key)
    at = now()
    key.replaced_by, key.expires_at = successor_id, at + grace
    if grace:
        key.record(_key_event(key, "api_key.expiring", territories, replaced_by=successor_id,
                              expires_at=key.expires_at.isoformat()))
    else:
        key.revoked_at = at
        key.record(_key_event(key, "api_key.revoked", territories, replaced_by=successor_id))
    return key.commit()


def record_key_use(key_id: str, at: datetime) -> None:
    """The one write of an authenticated request: the day's count and the last use (an ISO string,
    since a $set date is stored as text by some MongoDB-protocol servers)."""
    day = f"{at:%Y-%m-%d}"
    ApiKeyUse.objects(id=f"{key_id}|{day}").update_one(
        upsert=True, inc__requests=1, set__key_id=key_id, set__day=day, set__last_used_at=at.isoformat())


def key_usage(key: ApiKey, days: int) -> dict:
    """Requests per day (UTC) over the last ``days`` days, most recent first; days without use are left out."""
    since = f"{now() - timedelta(days=days - 1):%Y-%m-%d}"
    uses = list(ApiKeyUse.objects(key_id=key.id, day__gte=since).order_by("-day"))
    return {"key_id": key.id, "days": [{"day": u.day, "requests": u.requests} for u in uses],
            "total_requests": sum(u.requests for u in uses), "last_used_at": _last_use(key.id)}


def principal_for_api_key(secret: str) -> Principal | None:
    """The contractor a presented key belongs to, or None when unknown, revoked or expired; each use counts."""
    at = now()

    def find(key_id):
        key = ApiKey.objects(id=key_id).first()
        if key is None or key_status(key, at) == "revoked":
            return None
        # the key itself is read afresh every time (a revocation acts at once); its company may be cached
        contractor = read_cache.by_id(Contractor, [key.contractor_siret]).get(key.contractor_siret)
        return key.key_hash, key.contractor_siret, contractor.territories if contractor else ()
    principal = auth.principal_for_api_key(secret, find)
    if principal is not None:  # only a verified key: a wrong secret must not count as a use
        record_key_use(auth.api_key_id(secret), at)
    return principal


# --- declarations ------------------------------------------------------------------------------
class NotAllowed(Exception):
    """A move the workflow forbids for this version (409); the message is French."""


IN_FORCE = ("submitted", "validated")  # a line's current status that counts and holds its period


def line_key(lot_id: str, participant_id: str, period: domain.Period) -> str:
    return f"{lot_id}|{participant_id}|{period.start:%Y-%m-%d}|{period.end:%Y-%m-%d}"


def _month(period: domain.Period) -> str:
    return f"{period.month:%Y-%m}"


class Rules:
    """The read models and settings a request's lines are checked against, loaded once for all of them.

    Overlaps and the monthly ceiling are judged against the lines stored when the request began and
    the request's own accepted lines: two requests running at the same time may together pass the
    ceiling (or overlap), and the facilitator's validation is the backstop."""

    def __init__(self, lines: list[dict], today: date | None = None):
        self.today = today or date.today()
        lot_ids = sorted({line["lot_id"] for line in lines})
        participant_ids = sorted({line["participant_id"] for line in lines})
        self.lots = read_cache.by_id(HeldLot, lot_ids)
        self.windows = read_cache.by_id(ParticipantWindow, participant_ids)
        market_ids = {lot.market_id for lot in self.lots.values() if lot.market_id}
        self.market_states = {m.id: m.status for m in read_cache.by_id(MarketState, market_ids).values()}
        self.settings = territory_settings({t for lot in self.lots.values() for t in lot.territories},
                                           load=read_cache.by_id)
        self._read_again: set[tuple[type, str]] = set()  # (kind, id) read again from the store
        # (participant, YYYY-MM) -> [(line id, line)]: every line of the request's participants and months
        self.declared: dict[tuple[str, str], list[tuple[str, domain.Declared]]] = {}
        months = {_month(line["period"]) for line in lines}
        # several months are sorted out here: with a second list in the query, PostgreSQL may look the months up
        # in the index and test every participant id on each of their lines (seconds instead of a tenth); one
        # month (a single declaration) is asked, or each line would read all its participant's lines of the year
        one_month = {"month": next(iter(months))} if len(months) == 1 else {}
        for chunk in chunks(participant_ids):
            for stored in Declaration.objects(participant_id__in=chunk, **one_month).only(
                    "id", "lot_id", "participant_id", "month", "period_start", "period_end", "status", "centihours"):
                if stored.month in months:
                    self._add(stored, in_force=stored.status in IN_FORCE, in_request=False)

    def check(self, siret: str, data: dict, replacing: str | None = None) -> tuple[HeldLot, ParticipantWindow]:
        """The lot and the participant's window of a line that passes every rule; raises Refused.
        ``replacing``: the line a correction replaces, whose hours and period then do not count."""
        try:
            return self._check(siret, data, replacing)
        except domain.Refused:
            if not self._read_line_again(data["lot_id"], data["participant_id"]):
                raise
            return self._check(siret, data, replacing)

    def _read_line_again(self, lot_id: str, participant_id: str) -> bool:
        """Before a refusal, read the line's lot, market, settings and window from the store (each once per
        request): what this worker kept may predate the event that allows the line, which another worker
        may already have accepted. False when there is nothing newer to read."""
        stale = {(HeldLot, lot_id), (ParticipantWindow, participant_id)} - self._read_again
        if not read_cache.enabled or not stale:
            return False
        self._read_again |= stale
        kept = {HeldLot: self.lots, ParticipantWindow: self.windows}
        for kind, doc_id in stale:
            kept[kind].pop(doc_id, None)
            kept[kind].update(read_cache.refresh(kind, [doc_id]))
        held = self.lots.get(lot_id)
        if held and (HeldLot, lot_id) in stale:
            states = read_cache.refresh(MarketState, [held.market_id] if held.market_id else [])
            self.market_states.update({m.id: m.status for m in states.values()})
            self.settings.update(territory_settings(held.territories, load=read_cache.refresh))
        return True

    def _check(self, siret: str, data: dict, replacing: str | None) -> tuple[HeldLot, ParticipantWindow]:
        held, window = self.lots.get(data["lot_id"]), self.windows.get(data["participant_id"])
        line = domain.Line(data["lot_id"], data["participant_id"], data["period"], data["hours"])
        declared = [d for line_id, d in self.declared.get((line.participant_id, _month(line.period)), ())
                    if line_id != replacing]
        domain.check_line(line, siret, held.to_domain(self.market_states.get(held.market_id)) if held else None,
                          window.to_domain() if window else None, self.today, self.ceiling(held), declared,
                          exited_on=window.exited_on if window else None)
        return held, window

    def count(self, declaration: Declaration) -> None:
        """An accepted line of this request: the request's next lines are checked against it too."""
        self._add(declaration, in_force=True, in_request=True)

    def _add(self, declaration: Declaration, in_force: bool, in_request: bool) -> None:
        period = declaration.period()
        line = domain.Declared(declaration.lot_id, period, Decimal(declaration.centihours) / 100, in_force, in_request)
        self.declared.setdefault((declaration.participant_id, _month(period)), []).append((declaration.id, line))

    def ceiling(self, held: HeldLot | None) -> Decimal:
        """The strictest of the lot's territories' ceilings."""
        territories = held.territories if held else ()
        return min((self.settings[t]["effective_monthly_ceiling_hours"] for t in territories),
                   default=domain.LEGAL_MONTHLY_MAXIMUM_HOURS)

    def auto_validated(self, held: HeldLot) -> bool:
        """Only when every territory of the lot enables it: each one's facilitators otherwise expect to
        look at the line themselves."""
        return bool(held.territories) and all(self.settings[t]["auto_validation"] for t in held.territories)


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
              by: str, request_key: str | None = None) -> Declaration:
    version = _version(data, 1, by, AUTO if auto else None)
    period = data["period"]
    declaration = Declaration(
        id=version.id, line_key=line_key(data["lot_id"], data["participant_id"], period),
        lot_id=data["lot_id"], participant_id=data["participant_id"], contractor_siret=siret,
        month=_month(period), period_start=period.start, period_end=period.end,
        territories=held.territories, participant_territory=window.territory,
        status=version.status, centihours=version.centihours, submitted_at=version.submitted_at,
        version_ids=[version.id], versions=[version], request_key=request_key)
    declaration.record(_declaration_event(declaration, f"declaration.{version.status}"))
    return declaration


def declare(siret: str, data: dict, today: date | None = None, by: str = "",
            request_key: str | None = None) -> Declaration:
    """Check a line against every rule, store it and publish it; raises Refused (DuplicateLine among them).

    A line this very request already wrote (same ``request_key``: its first attempt was cut short before
    it could answer) is returned as it is."""
    try:
        rules = Rules([data], today)
        held, window = rules.check(siret, data)
        declaration = _new_line(siret, data, held, window, rules.auto_validated(held), by, request_key)
        try:
            declaration.commit()
        except me.NotUniqueError:
            raise domain.DuplicateLine() from None
        reported_months.record([declaration])
        return declaration
    except domain.DuplicateLine:
        written = request_key and Declaration.objects(
            line_key=line_key(data["lot_id"], data["participant_id"], data["period"]), request_key=request_key).first()
        if written:
            return written
        raise


class Batch:
    """A request's lines once checked against every rule, nothing written yet.

    ``results`` holds the refused lines' results by index, ``candidates`` the accepted lines' documents
    (their ids already drawn), ``statements`` an upload's accepted months without hours (reporting.py);
    with ``all_or_nothing``, one refused line means nothing is to be written.
    """

    def __init__(self, results: dict[int, dict], candidates: list[tuple[int, Declaration]], all_or_nothing: bool):
        self.results, self.candidates, self.all_or_nothing = results, candidates, all_or_nothing
        self.statements: list = []
        self.refused_before = set(results)  # the lines refused before writing (the others by a concurrent write)

    @property
    def writes(self) -> bool:
        return not (self.all_or_nothing and self.results)

    def report(self) -> dict:
        """{"results": [...], "accepted": n, "refused": n, "written": bool}: once written, or as it will be."""
        results = dict(self.results)
        for index, declaration in self.candidates:
            results[index] = ({"index": index, "status": "accepted", "declaration_id": declaration.id,
                               "declaration_status": declaration.status} if self.writes
                              else {"index": index, "status": "valid", "declaration_id": None})
        for index, statement in self.statements:
            results[index] = ({"index": index, "status": "accepted", "declaration_id": statement.id,
                               "declaration_status": "no_hours"} if self.writes
                              else {"index": index, "status": "valid", "declaration_id": None})
        return _batch_report(results, written=self.writes)


def check_batch(siret: str, lines: list[tuple[int, dict | None, dict | None]], all_or_nothing: bool,
                today: date | None = None, by: str = "") -> Batch:
    """Check every line, writing nothing. ``lines`` holds (index, data, field errors): data is None when
    the line did not pass the schema."""
    results: dict[int, dict] = {}
    candidates: list[tuple[int, Declaration]] = []
    rules = Rules([data for _, data, _ in lines if data is not None], today)
    for index, data, errors in lines:
        if data is None:
            results[index] = _refused(index, "invalid_line", "Ligne invalide : voir le détail par champ.", errors)
            continue
        try:
            held, window = rules.check(siret, data)
        except domain.Refused as refusal:
            results[index] = _refused(index, refusal.rule, refusal.message)
            continue
        declaration = _new_line(siret, data, held, window, rules.auto_validated(held), by)
        rules.count(declaration)
        candidates.append((index, declaration))
    return Batch(results, candidates, all_or_nothing)


def write_batch(batch: Batch) -> dict:
    """Write the accepted lines in bulk (nothing when the batch is refused whole); the report."""
    if batch.writes:
        batch.candidates = _insert_all(batch.candidates, batch.results)
    return batch.report()


def _insert_all(candidates: list[tuple[int, Declaration]], results: dict) -> list[tuple[int, Declaration]]:
    """Bulk insert (each line is still its own document); a line another request wrote meanwhile is
    refused as a duplicate and the others stay written."""
    if not candidates:
        return []
    for _, declaration in candidates:
        declaration.revision = 1  # what commit() would have written for a new document
    collection = Declaration._get_collection()
    failed: set[int] = set()
    for chunk in chunks(candidates):
        try:
            collection.insert_many([d.to_mongo() for _, d in chunk], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                index = chunk[error["index"]][0]
                failed.add(index)
                results[index] = _refused(index, "duplicate_line", domain.DUPLICATE_MESSAGE)
    written = [(i, d) for i, d in candidates if i not in failed]
    reported_months.record(d for _, d in written)
    return written


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
    """The line a version id belongs to."""
    return Declaration.objects(version_ids=version_id).first()


def _current_or_refuse(declaration: Declaration, version_id: str, action: str) -> DeclarationVersion:
    if declaration.current.id != version_id:
        raise NotAllowed(f"Cette version a été corrigée : {action} la version en vigueur "
                         f"({declaration.current.id}).")
    return declaration.current


def find_lines(version_ids: list[str]) -> dict[str, Declaration]:
    """The lines these version ids belong to, read at once (a bulk action on a month's lines), by version id."""
    lines = {}
    for declaration in Declaration.objects(version_ids__in=list(version_ids)):
        lines.update((version_id, declaration) for version_id in declaration.version_ids)
    return lines


def _on_line(version_id: str, line: Declaration | None, change) -> Declaration:
    """``change(line)`` on the line of this version: on the copy given when there is one (read with others
    by ``find_lines``), read afresh — as many times as needed — once another write made a copy stale."""
    if line is not None:
        try:
            return change(line)
        except ConcurrentUpdate:
            pass
    return retry_on_conflict(lambda: change(find_line(version_id)))()


def validate(version_id: str, validated_by: str, line: Declaration | None = None) -> Declaration:
    def change(declaration: Declaration) -> Declaration:
        version = _current_or_refuse(declaration, version_id, "validez")
        if version.status == "validated":
            return declaration  # validating twice changes nothing
        if version.status != "submitted":
            raise NotAllowed("Une déclaration rejetée ne peut pas être validée : "
                             "elle doit d'abord être corrigée.")
        version.status, version.validated_at, version.validated_by = "validated", now(), validated_by
        declaration.status = version.status
        declaration.record(_declaration_event(declaration, "declaration.validated"))
        return declaration.commit()
    return _on_line(version_id, line, change)


def reject(version_id: str, rejected_by: str, reason: str, line: Declaration | None = None) -> Declaration:
    def change(declaration: Declaration) -> Declaration:
        version = _current_or_refuse(declaration, version_id, "rejetez")
        if version.status != "submitted":
            raise NotAllowed("Seule une déclaration en attente de validation peut être rejetée.")
        _reject_current(declaration, rejected_by, reason)
        return declaration.commit()
    return _on_line(version_id, line, change)


def _reject_current(declaration: Declaration, rejected_by: str, reason: str) -> None:
    """The current version stops counting; the event tells the markets service (not yet written)."""
    version = declaration.current
    version.status, version.rejected_at, version.rejected_by = "rejected", now(), rejected_by
    version.rejection_reason = reason
    declaration.status = version.status
    declaration.record(_declaration_event(declaration, "declaration.rejected", reason=reason))


# --- lines accepted before an exit recorded late -------------------------------------------------
CONFIRM, REJECT = "confirm", "reject"


def flag_lines_after_exit(participant_id: str, exited_on: date) -> int:
    """Flag the participant's lines in force whose period runs past the exit, for the facilitators' review
    (never removed silently); a line flagged already is left as it is. Returns how many were flagged."""
    flagged = 0
    for line in Declaration.objects(participant_id=participant_id, status__in=list(IN_FORCE), exit_review=None) \
            .only("id", "month", "period_start", "period_end"):
        if domain.after_exit(line.period(), exited_on):
            flagged += _flag(line.id, exited_on)
    return flagged


@retry_on_conflict
def _flag(line_id: str, exited_on: date) -> int:
    declaration = Declaration.objects.get(id=line_id)
    if declaration.exit_review is not None or declaration.status not in IN_FORCE:
        return 0
    declaration.exit_review, declaration.exited_on = "pending", exited_on
    declaration.commit()
    return 1


def lines_to_review(territories: list[str]):
    """The flagged lines awaiting a facilitator's decision in these territories, oldest first."""
    return Declaration.objects(exit_review="pending", territories__in=territories).order_by(*Declaration.QUEUE_ORDER)


@retry_on_conflict
def review_exit(version_id: str, decision: str, by: str, reason: str | None = None) -> Declaration:
    """A facilitator confirms a flagged line (it keeps counting) or rejects it (it stops counting, as any
    rejected line, and the contractor reads the reason)."""
    declaration = find_line(version_id)
    _current_or_refuse(declaration, version_id, "examinez")
    if declaration.exit_review != "pending":
        raise NotAllowed("Cette déclaration n'attend pas d'examen : elle n'est pas signalée comme postérieure à "
                         "la sortie du participant, ou elle a déjà été examinée.")
    if decision == REJECT:
        _reject_current(declaration, by, reason)
    declaration.exit_review = "confirmed" if decision == CONFIRM else "rejected"
    declaration.exit_reviewed_by, declaration.exit_reviewed_at = by, now()
    return declaration.commit()


@retry_on_conflict
def correct(version_id: str, changes: dict, by: str, by_facilitator: bool,
            today: date | None = None) -> Declaration:
    """A new version of the line that supersedes the current one, in the same document write.

    The event names both ids, so the markets service stops counting the old hours and counts the new
    ones: progress moves by exactly the difference. A facilitator's correction needs no second look
    and counts as validated; a contractor's waits for validation (or is auto-validated).
    """
    declaration = find_line(version_id)
    old = _current_or_refuse(declaration, version_id, "corrigez")
    data = {"lot_id": declaration.lot_id, "participant_id": declaration.participant_id,
            "period": declaration.period(), "mode": old.mode,
            "employer_siret": old.employer_siret, "contract_type": old.contract_type,
            "hours": Decimal(old.centihours) / 100, **changes}
    rules = Rules([data], today)
    held, _ = rules.check(declaration.contractor_siret, data, replacing=declaration.id)
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
    version, period = declaration.current, declaration.period()
    return Event(type=type_, producer=SERVICE, key=declaration.lot_id,
                 territories=list(declaration.territories), payload={
                     "declaration_id": version.id, "line_id": declaration.id, "version": version.number,
                     "status": version.status, "lot_id": declaration.lot_id,
                     "participant_id": declaration.participant_id, "month": declaration.month,
                     "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
                     "territory": declaration.participant_territory,
                     "centihours": version.centihours, "mode": version.mode,
                     "contractor_siret": declaration.contractor_siret,
                     "employer_siret": version.employer_siret,
                     "contract_type": version.contract_type, **extra})


def view(declaration: Declaration, version: DeclarationVersion | None = None) -> dict:
    """One version as the API shows it (the current one by default)."""
    version, period = version or declaration.current, declaration.period()
    return {"id": version.id, "line_id": declaration.id, "version": version.number,
            "current_id": declaration.current.id, "lot_id": declaration.lot_id,
            "participant_id": declaration.participant_id, "contractor_siret": declaration.contractor_siret,
            "month": declaration.month, "period_start": period.start, "period_end": period.end,
            "territories": list(declaration.territories),
            **{name: getattr(version, name) for name in (
                "mode", "employer_siret", "contract_type", "status", "submitted_at", "submitted_by",
                "validated_at", "validated_by", "rejected_at", "rejection_reason", "correction_reason",
                "supersedes", "superseded_by")},
            "status_label": domain.DECLARATION_STATUS_LABELS_FR[version.status],
            "mode_label": domain.MODE_LABELS_FR.get(version.mode, version.mode),
            "hours": version.centihours / 100, "exit_review": _exit_review_view(declaration)}


def _exit_review_view(declaration: Declaration) -> dict | None:
    if declaration.exit_review is None:
        return None
    return {"status": declaration.exit_review, "exited_on": declaration.exited_on,
            "reviewed_by": declaration.exit_reviewed_by, "reviewed_at": declaration.exit_reviewed_at}


def history(declaration: Declaration) -> dict:
    return {"line_id": declaration.id, "current_id": declaration.current.id,
            "versions": [view(declaration, v) for v in declaration.versions]}


# --- territory settings -------------------------------------------------------------------------
def territory_settings(territories, load=load_by_id) -> dict[str, dict]:
    """Each territory's settings as they apply: its own, or the region file's defaults."""
    territories = sorted(set(territories))
    stored = load(DeclarationSettings, territories)
    return {t: _settings_view(t, stored.get(t), region.current().defaults_for(t)) for t in territories}


def _settings_view(territory: str, stored: DeclarationSettings | None, defaults: region.Defaults) -> dict:
    own = Decimal(stored.monthly_ceiling_centihours) / 100 if stored and stored.monthly_ceiling_centihours else None
    return {"territory": territory,
            "auto_validation": stored.auto_validation if stored else defaults.auto_validation,
            "monthly_ceiling_hours": own, "effective_monthly_ceiling_hours": own or defaults.monthly_ceiling_hours,
            "reporting_due_day": stored.reporting_due_day if stored else None,
            "effective_reporting_due_day": (stored and stored.reporting_due_day) or defaults.reporting_due_day,
            "updated_at": stored.updated_at if stored else None, "updated_by": stored.updated_by if stored else None}


def set_territory_settings(territory: str, auto_validation: bool, monthly_ceiling_hours: Decimal | None,
                           by: str, reporting_due_day: int | None = None) -> dict:
    """Replace a territory's settings whole; the next lines of its lots follow them."""
    DeclarationSettings(id=territory, auto_validation=auto_validation, updated_at=now(), updated_by=by,
                      reporting_due_day=reporting_due_day,
                      monthly_ceiling_centihours=int(monthly_ceiling_hours * 100) if monthly_ceiling_hours else None
                      ).save()
    read_cache.forget(DeclarationSettings, territory)
    return territory_settings([territory])[territory]  # as stored (ms)


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


def _window(participant_id: str) -> ParticipantWindow:
    """The participant's read model, its periods in the current shape (those of older documents moved in)."""
    window = ParticipantWindow.objects(id=participant_id).first() or ParticipantWindow(id=participant_id)
    window.periods = window.all_periods()
    window.eligible_from = window.eligible_until = window.revoked_on = None
    return window


def apply_eligibility_granted(event: Event) -> None:
    """A grant or renewal adds a period; the earlier ones stay, for the lines of their time. The document is
    written whole (a $set of a date is stored as text by some MongoDB-protocol servers)."""
    participant_id, territory, start, until = _payload(event, "participant_id", "territory", "eligible_from",
                                                       "eligible_until")
    period = EligibilityPeriod(id=event.payload.get("eligibility_id"), eligible_from=_date(start),
                               eligible_until=_date(until))
    window = _window(participant_id)
    window.territory = territory
    others = [p for p in window.periods if (p.id, p.eligible_from) != (period.id, period.eligible_from)]
    window.periods = sorted(others + [period], key=lambda p: p.eligible_from)
    window.save()  # a redelivered grant replaces its own period


def _change_period(event: Event, **changes) -> None:
    """Change the period the event names (events published before the names: the latest one)."""
    window = _window(event.payload["participant_id"])
    named = event.payload.get("eligibility_id")
    target = next((p for p in window.periods if named and p.id == named), None) or \
        (window.periods[-1] if window.periods else None)
    if target is None:
        return  # nothing granted is known: the grant was erased, or never counted here
    for name, value in changes.items():
        setattr(target, name, value)
    window.save()


def apply_eligibility_revoked(event: Event) -> None:
    _, revoked_on = _payload(event, "participant_id", "revoked_on")
    _change_period(event, revoked_on=_date(revoked_on))


def apply_window_ended(event: Event) -> None:
    """The window's last day as the participants service closed it (hours after it stay refused)."""
    _, until = _payload(event, "participant_id", "eligible_until")
    _change_period(event, eligible_until=_date(until))


def apply_participant_exited(event: Event) -> None:
    """Hours after the exit are refused from now on; lines accepted before the exit was recorded are flagged."""
    participant_id, exit_date = _payload(event, "participant_id", "exit_date")
    window = _window(participant_id)
    window.exited_on = _date(exit_date)
    window.territory = window.territory or event.payload.get("territory")
    window.save()
    flag_lines_after_exit(participant_id, window.exited_on)


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
    "participant.exited": apply_participant_exited,
    "participant.erased": apply_participant_erased,
}
CONSUMES = ["markets", "participants"]  # the services whose events this one applies
