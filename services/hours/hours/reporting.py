"""The reporting calendar: each month of a lot in execution is due by a day of the following month (per
territory); it is declared (a line), declared without hours (an explicit zero with a reason) or missing.
Missing at the due date: a first reminder; still missing N days later: a second one, which the
notifications service also turns into an alert to the territory's facilitators."""
from dataclasses import dataclass
from datetime import date, timedelta

import click
import marshmallow as ma
import mongoengine as me
from flask import current_app
from flask.cli import with_appcontext
from plumbing.events import Event

from . import domain, reported_months
from .handlers import SERVICE, _refused, now, territory_settings
from .read_cache import chunks
from .schemas import NoHoursSchema
from .store import Declaration, HeldLot, MarketState, MonthWithoutHours, ReportingReminder

# Markets whose lots are expected to report (completed ones may still send late lines, but are not chased).
REPORTING_MARKET_STATUSES = ("in_execution",)
_statement_row = NoHoursSchema()
STATE_LABELS_FR = {"on_time": "Déclaré à temps", "late": "Déclaré en retard", "missing": "Non déclaré",
                   "pending": "Échéance à venir"}


class NoHoursRefused(Exception):
    """A statement of no hours the rules refuse: ``rule`` names the rule, the message is French."""

    def __init__(self, status: int, rule: str, message: str):
        super().__init__(message)
        self.status, self.rule, self.message = status, rule, message


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def due_day(lot: HeldLot, settings: dict[str, dict]) -> int:
    """The earliest due day of the lot's territories (a lot of several territories follows the strictest);
    ``settings``: territory_settings of (at least) the lot's territories."""
    return min((settings[territory]["effective_reporting_due_day"] for territory in lot.territories or []),
               default=10)


def due_date(month: date, day: int) -> date:
    return _next_month(month).replace(day=day)


def months_of(lot: HeldLot, today: date) -> list[date]:
    """The lot's months that have ended by ``today`` (the first day of each)."""
    months, month = [], lot.start_date.replace(day=1)
    while month <= lot.end_date and _next_month(month) <= today:
        months.append(month)
        month = _next_month(month)
    return months


# --- declaring a month without hours -------------------------------------------------------------
def no_hours_statement(siret: str, lot_id: str, month: date, reason: str, by: str,
                       today: date | None = None) -> MonthWithoutHours:
    """The statement that a lot had no insertion hours in ``month``, checked against the rules (NoHoursRefused)
    and not written yet."""
    today = today or now().date()
    lot = HeldLot.objects(id=lot_id).first()
    if lot is None or lot.contractor_siret != siret:
        raise NoHoursRefused(422, "lot_not_held", "Ce lot n'est pas attribué à votre entreprise, ou n'existe pas.")
    state = MarketState.objects(id=lot.market_id).first()
    if state is None or state.status not in domain.DECLARABLE_MARKET_STATUSES:
        raise NoHoursRefused(422, "lot_not_in_execution", "Ce lot n'est pas en exécution : rien n'est à déclarer.")
    period = domain.Period.of_month(month)
    if period.start > today:
        raise NoHoursRefused(422, "period_in_future", f"Le mois déclaré ({period.french()}) n'a pas encore "
                                                      "commencé.")
    if period.end < lot.start_date or period.start > lot.end_date:
        raise NoHoursRefused(422, "period_outside_lot", f"Le mois déclaré ({period.french()}) est hors de la "
                                                        "période d'exécution du lot.")
    key = _month(month)
    if Declaration.objects(lot_id=lot_id, month=key, status__ne="rejected").count():
        raise NoHoursRefused(409, "month_has_lines", f"Des heures sont déjà déclarées pour ce lot en "
                                                     f"{period.french()} : le mois ne peut pas être sans heures.")
    if MonthWithoutHours.objects(id=f"{lot_id}|{key}").count():
        raise _already_without_hours(month)
    statement = MonthWithoutHours(id=f"{lot_id}|{key}", lot_id=lot_id, contractor_siret=siret, month=key,
                                  reason=reason, territories=list(lot.territories), declared_at=now(),
                                  declared_by=by)
    statement.record(Event(type="declaration.no_hours", producer=SERVICE, key=lot_id,
                           territories=list(lot.territories),
                           payload={"lot_id": lot_id, "market_id": lot.market_id, "contractor_siret": siret,
                                    "month": key, "reason": reason}))
    return statement


def _already_without_hours(month: date) -> NoHoursRefused:
    return NoHoursRefused(409, "month_already_without_hours",
                          f"Ce lot est déjà déclaré sans heures en {domain.Period.of_month(month).french()}.")


def commit_no_hours(statement: MonthWithoutHours) -> MonthWithoutHours:
    try:
        return statement.commit()
    except me.NotUniqueError:  # another request wrote it meanwhile
        raise _already_without_hours(date.fromisoformat(statement.month + "-01")) from None


def check_statements(batch, siret: str, rows: list[tuple[int, dict]], by: str) -> None:
    """An upload's rows declaring a month without hours (lot, month, reason; no participant, no hours or 0), checked
    into ``batch``: accepted ones to write with its lines, refused ones with their French reason."""
    with_lines = {(line.lot_id, line.month) for _, line in batch.candidates}  # this file's lines
    for index, row in rows:
        try:
            data = _statement_row.load({"lot_id": row.get("lot_id"), "month": row.get("month"),
                                        "reason": row["no_hours_reason"]})
            if row.get("participant_id") or row.get("hours", "0").strip("0.") or row.get("start_date"):
                raise NoHoursRefused(422, "no_hours_with_hours", "Une ligne de mois sans heures ne porte ni "
                                     "participant, ni heures (0 ou vide), ni dates : seulement le lot, le mois et "
                                     "le motif.")
            if (data["lot_id"], _month(data["month"])) in with_lines:
                raise NoHoursRefused(409, "month_has_lines", "Ce fichier déclare des heures pour ce lot ce mois-là : "
                                     "le mois ne peut pas être sans heures.")
            statement = no_hours_statement(siret, data["lot_id"], data["month"], data["reason"], by)
            if any(other.id == statement.id for _, other in batch.statements):
                raise _already_without_hours(data["month"])
            batch.statements.append((index, statement))
        except ma.ValidationError as exc:
            batch.results[index] = _refused(index, "invalid_line", "Ligne invalide : voir le détail par champ.",
                                            exc.messages)
        except NoHoursRefused as refused:
            batch.results[index] = _refused(index, refused.rule, refused.message)


def write_statements(batch) -> None:
    """Write the batch's months without hours; one another request wrote meanwhile is refused alone."""
    written = []
    for index, statement in batch.statements:
        try:
            written.append((index, commit_no_hours(statement)))
        except NoHoursRefused as refused:
            batch.results[index] = _refused(index, refused.rule, refused.message)
    batch.statements = written


def declare_no_hours(siret: str, lot_id: str, month: date, reason: str, by: str,
                     today: date | None = None) -> MonthWithoutHours:
    return commit_no_hours(no_hours_statement(siret, lot_id, month, reason, by, today))


# --- the calendar --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonthState:
    month: str
    due_date: date
    state: str  # on_time, late, missing or pending
    declared_on: date | None
    no_hours_reason: str | None

    def view(self) -> dict:
        return {"month": self.month, "due_date": self.due_date, "state": self.state,
                "state_label": STATE_LABELS_FR[self.state], "declared_on": self.declared_on,
                "no_hours": self.no_hours_reason is not None, "no_hours_reason": self.no_hours_reason}


def first_declared(lot_ids: list[str]) -> dict[str, dict[str, tuple[date, str | None]]]:
    """Per lot, each month's first declaration day, and the reason when it was declared without hours (one
    query for the months with lines of all these lots, one for their statements)."""
    first: dict[str, dict[str, tuple[date, str | None]]] = {lot_id: {} for lot_id in lot_ids}

    def keep(lot_id: str, month: str, day: date, reason: str | None) -> None:
        months = first[lot_id]
        if month not in months or day < months[month][0]:
            months[month] = (day, reason)

    for lot_id, months in reported_months.first_declared(lot_ids).items():
        for month, at in months.items():
            keep(lot_id, month, at.date(), None)
    for statement in MonthWithoutHours.objects(lot_id__in=lot_ids):
        keep(statement.lot_id, statement.month, statement.declared_at.date(), statement.reason)
    return first


def calendar(lot: HeldLot, today: date, declared: dict[str, tuple[date, str | None]], day: int) -> list[MonthState]:
    """The lot's months; ``declared`` is its part of ``first_declared``, ``day`` its due day."""
    states = []
    for month in months_of(lot, today):
        due = due_date(month, day)
        declared_on, reason = declared.get(_month(month), (None, None))
        if declared_on is not None:
            state = "on_time" if declared_on <= due else "late"
        else:
            state = "missing" if today > due else "pending"
        states.append(MonthState(_month(month), due, state, declared_on, reason))
    return states


def calendars(lots: list[HeldLot], today: date) -> list[tuple[HeldLot, int, list[MonthState]]]:
    """Each lot with its due day and its months; the lines, statements and territories' settings of all the lots
    are read at once."""
    declared = first_declared([lot.id for lot in lots])
    settings = territory_settings({territory for lot in lots for territory in lot.territories or []})
    found = []
    for lot in lots:
        day = due_day(lot, settings)
        found.append((lot, day, calendar(lot, today, declared[lot.id], day)))
    return found


def lot_calendar(lot: HeldLot, day: int, months: list[MonthState]) -> dict:
    return {"lot_id": lot.id, "market_id": lot.market_id, "territories": lot.territories,
            "due_day": day, "months": [m.view() for m in months],
            **{state: sum(m.state == state for m in months) for state in ("on_time", "late", "missing")}}


def company_calendar(siret: str, territories=None, today: date | None = None, page: int = 1,
                     page_size: int | None = None) -> dict:
    """Per lot the company holds (only those of ``territories`` when given), in the order they started: months on
    time, late, missing; ``page_size`` lots of the ``page`` when given (a big company holds hundreds)."""
    lots = HeldLot.objects(contractor_siret=siret)
    if territories is not None:
        lots = lots.filter(territories__in=list(territories))
    shown = lots.order_by("start_date", "id")
    if page_size:
        shown = shown.skip((page - 1) * page_size).limit(page_size)
    return {"contractor_siret": siret, "total_lots": lots.count(),
            "lots": [lot_calendar(*found) for found in calendars(list(shown), today or now().date())]}


# --- reminders -------------------------------------------------------------------------------------
def _remind(lot: HeldLot, month: MonthState, kind: str, days: int) -> bool:
    reminder = ReportingReminder(id=f"{lot.contractor_siret}|{lot.id}|{month.month}|{kind}",
                                 contractor_siret=lot.contractor_siret, lot_id=lot.id, month=month.month,
                                 kind=kind, due_date=month.due_date, created_at=now())
    reminder.record(Event(type="reporting.reminder_due", producer=SERVICE, key=lot.id,
                          territories=list(lot.territories),
                          payload={"contractor_siret": lot.contractor_siret, "lot_id": lot.id,
                                   "market_id": lot.market_id, "month": month.month, "kind": kind,
                                   "due_date": month.due_date.isoformat(), "escalation_days": days}))
    try:
        reminder.commit()
    except me.NotUniqueError:
        return False  # sent already, whatever runs the command again
    return True


def remind(today: date, escalation_days: int, window_days: int) -> dict:
    """Remind once per company, lot, month and kind: a first reminder once the due date has passed, a second (and the
    facilitators' alert) ``escalation_days`` after it. Only months due within the last ``window_days`` are chased:
    a lot that starts reporting late (or a command that did not run for weeks) does not flood its company with every
    past month at once; older missing months stay in the calendar. Returns how many of each were sent."""
    sent = {"first": 0, "second": 0}
    running = {m.id for m in MarketState.objects(status__in=list(REPORTING_MARKET_STATUSES)).only("id")}
    running_lots = list(HeldLot.objects(market_id__in=sorted(running)))
    for lots in chunks(running_lots, 200):  # their lines are read 200 lots at a time
        for lot, _, months in calendars(lots, today):
            for month in months:
                # missing: the due date has passed without a declaration
                if month.state != "missing" or today > month.due_date + timedelta(days=window_days):
                    continue
                kinds = ["first"] + (["second"] if today >= month.due_date + timedelta(days=escalation_days) else [])
                for kind in kinds:
                    sent[kind] += _remind(lot, month, kind, escalation_days)
    return sent


@click.command("remind-declarations")
@with_appcontext
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="run as on this day (default: today)")
def remind_declarations(today):
    """Remind the companies whose month is missing at its due date, then again with an alert to the
    facilitators N days later (HOURS_REMINDER_ESCALATION_DAYS). Each reminder once. Run daily."""
    extra = current_app.extensions["settings"].extra
    sent = remind(today.date() if today else now().date(), extra["reminder_escalation_days"],
                  extra["reminder_window_days"])
    click.echo(f"Relances envoyées : {sent['first']} premières, {sent['second']} secondes (avec alerte aux "
               "facilitateurs).")
