"""Rules a declaration line must pass. Plain Python: no Flask, no Mongo, no Kafka."""
import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from plumbing.region import LEGAL_MONTHLY_MAXIMUM_HOURS  # noqa: F401 - the rules' and the schemas' bound

MODES = ("direct_hire", "etti", "geiq", "ai", "siae_subcontracting", "siae_cocontracting", "training")
CONTRACT_TYPES = ("cdi", "cdd", "apprenticeship", "professionalisation", "temporary", "insertion", "other")
# What the pages show of a line: its status and mode in words.
DECLARATION_STATUS_LABELS_FR = {"submitted": "À valider", "validated": "Validée", "rejected": "Rejetée",
                                "superseded": "Remplacée par une correction"}
# Also the words a payroll file may use for a mode (spreadsheets.py reads them back).
MODE_LABELS_FR = {"direct_hire": "Embauche directe", "etti": "ETTI", "geiq": "GEIQ", "ai": "Association intermédiaire",
                  "siae_subcontracting": "Sous-traitance SIAE", "siae_cocontracting": "Cotraitance SIAE",
                  "training": "Formation"}


# Hours are declared while the market runs; a completed market still takes its late payroll lines.
DECLARABLE_MARKET_STATUSES = ("in_execution", "completed")
MARKET_STATUS_LABELS_FR = {"draft": "en préparation", "awarded": "attribué, pas encore en exécution",
                           "in_execution": "en exécution", "completed": "achevé", "closed": "clos"}


@dataclass(frozen=True)
class LotHolding:
    lot_id: str
    contractor_siret: str
    start_date: date
    end_date: date
    market_status: str | None = None  # None: not learnt yet from the markets service


@dataclass(frozen=True)
class EligibilityWindow:
    eligible_from: date
    eligible_until: date  # last counting day, inclusive
    revoked_on: date | None = None

    @property
    def last_day(self) -> date:
        if self.revoked_on is None:
            return self.eligible_until
        return min(self.eligible_until, self.revoked_on)


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def french_hours(hours: Decimal) -> str:
    text = f"{hours.normalize():f}".replace(".", ",")
    return f"{text} heure" if hours < 2 else f"{text} heures"


@dataclass(frozen=True)
class Period:
    """The days a line's hours were worked, both included. A month line covers its whole month, and a
    dated line covering a whole month is that month line (same key, same rules)."""
    start: date
    end: date

    @classmethod
    def of_month(cls, month: date) -> "Period":
        return cls(month.replace(day=1), month_end(month))

    @property
    def month(self) -> date:
        """First day of the month the period lies in (its start's)."""
        return self.start.replace(day=1)

    @property
    def whole_month(self) -> bool:
        return self == Period.of_month(self.start)

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.end and other.start <= self.end

    def french(self) -> str:
        if self.whole_month:
            return f"{MONTHS_FR[self.start.month - 1]} {self.start.year}"
        return f"du {french_date(self.start)} au {french_date(self.end)}"


@dataclass(frozen=True)
class Line:
    lot_id: str
    participant_id: str
    period: Period
    hours: Decimal


@dataclass(frozen=True)
class Declared:
    """Another line of the same participant in the same month: stored already, or earlier in the request."""
    lot_id: str
    period: Period
    hours: Decimal
    in_force: bool  # submitted or validated; a rejected line keeps its period (and key) until corrected
    in_request: bool = False


class Refused(Exception):
    """A line breaks a rule; ``rule`` names it for machines, the message explains it in French."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


DUPLICATE_MESSAGE = "Une ligne existe déjà pour ce lot, ce participant et cette période : corrigez-la plutôt."
DUPLICATE_IN_REQUEST_MESSAGE = "Une autre ligne de cet envoi porte déjà sur ce lot, ce participant et cette période."


class DuplicateLine(Refused):
    """The same lot, participant and period again: a conflict (409) with a line to correct instead."""

    def __init__(self, message: str = DUPLICATE_MESSAGE):
        super().__init__("duplicate_line", message)


def after_exit(period: Period, exited_on: date | None) -> bool:
    """Whether a line's period runs past the participant's exit (the exit day itself still counts). As with a
    lot's end, a month line counts when its month began by the exit: payroll declares the exit month whole."""
    if exited_on is None:
        return False
    return (period.start if period.whole_month else period.end) > exited_on


def covering(windows: Sequence[EligibilityWindow], period: Period) -> EligibilityWindow | None:
    """The eligibility decision in force over the whole period, if one is."""
    return next((w for w in windows if w.eligible_from <= period.start and period.end <= w.last_day), None)


def check_line(line: Line, siret: str, lot: LotHolding | None,
               window: EligibilityWindow | Sequence[EligibilityWindow] | None,
               today: date, monthly_ceiling: Decimal = LEGAL_MONTHLY_MAXIMUM_HOURS,
               declared: Sequence[Declared] = (), exited_on: date | None = None) -> None:
    """Raise ``Refused`` for the first rule the line breaks; ``window`` holds the participant's eligibility
    windows (one per decision, oldest first), ``exited_on`` their exit; ``declared`` holds the participant's
    other lines in the same month (every lot, every contractor)."""
    windows = (window,) if isinstance(window, EligibilityWindow) else tuple(window or ())
    period = line.period
    if period.end < period.start:
        raise Refused("period_reversed", "La date de fin précède la date de début.")
    if period.end.replace(day=1) != period.month:
        raise Refused("period_across_months", "La période doit tenir dans un seul mois civil : déclarez une "
                                              "ligne par mois.")
    if lot is None or lot.contractor_siret != siret:
        raise Refused("lot_not_held", "Ce lot n'est pas attribué à votre entreprise, ou n'existe pas.")
    if lot.market_status not in DECLARABLE_MARKET_STATUSES:
        state = MARKET_STATUS_LABELS_FR.get(lot.market_status, "pas encore connu comme en exécution")
        raise Refused("lot_not_in_execution", f"Ce lot n'est pas en exécution (marché {state}) : les heures "
                                              "se déclarent une fois le marché passé en exécution.")
    first, last = period.start, period.end
    if period.whole_month:
        # Payroll declares a month before it ends; the month counts if any of its days is in the lot.
        in_future, before_lot, after_lot = first > today, last < lot.start_date, first > lot.end_date
    else:
        in_future, before_lot, after_lot = last > today, first < lot.start_date, last > lot.end_date
    if in_future:
        raise Refused("period_in_future", f"La période déclarée ({period.french()}) n'est pas encore écoulée : "
                                          "déclarez les heures une fois faites.")
    if before_lot:
        raise Refused("period_before_lot_start", f"La période déclarée ({period.french()}) commence avant le "
                                                 f"début d'exécution du lot ({french_date(lot.start_date)}).")
    if after_lot:
        raise Refused("period_after_lot_end", f"La période déclarée ({period.french()}) se termine après la fin "
                                              f"d'exécution du lot ({french_date(lot.end_date)}).")
    if line.hours <= 0:
        raise Refused("hours_not_positive", "Le nombre d'heures doit être strictement positif.")
    if not windows:
        raise Refused("participant_unknown", "Ce participant n'est pas connu comme éligible : vérifiez la "
                                             "référence transmise par le facilitateur.")
    if after_exit(period, exited_on):
        raise Refused("participant_exited", f"Le participant est sorti du dispositif le {french_date(exited_on)} : "
                                            f"ses heures ne comptent plus après cette date ({period.french()}).")
    if covering(windows, period) is None:
        spans = " et ".join(f"du {french_date(w.eligible_from)} au {french_date(w.last_day)}" for w in windows)
        raise Refused("participant_not_eligible",
                      f"Le participant n'est pas éligible sur toute la période : ses heures comptent {spans}.")
    _check_against(line, declared, monthly_ceiling)


def _check_against(line: Line, declared: Sequence[Declared], monthly_ceiling: Decimal) -> None:
    same_lot = [d for d in declared if d.lot_id == line.lot_id]
    same = next((d for d in same_lot if d.period == line.period), None)
    if same is not None:
        raise DuplicateLine(DUPLICATE_IN_REQUEST_MESSAGE if same.in_request else DUPLICATE_MESSAGE)
    clash = next((d for d in same_lot if d.in_force and d.period.overlaps(line.period)), None)
    if clash is not None:
        other, advice = (("une autre ligne de cet envoi", "regroupez-les en une seule ligne") if clash.in_request
                         else ("une ligne en vigueur", "corrigez plutôt la ligne existante"))
        raise Refused("period_overlaps", f"La période déclarée ({line.period.french()}) chevauche celle de "
                                         f"{other} pour ce lot et ce participant ({clash.period.french()}) : "
                                         f"{advice}.")
    counted = [d for d in declared if d.in_force and d.period.month == line.period.month]
    total = sum((d.hours for d in counted), Decimal(0))
    if total + line.hours > monthly_ceiling:
        month = Period.of_month(line.period.month).french()
        request = ", lignes de cet envoi comprises" if any(d.in_request for d in counted) else ""
        raise Refused("hours_above_ceiling",
                      f"Plafond mensuel dépassé pour ce participant en {month} : total déjà déclaré "
                      f"{french_hours(total)} (tous lots confondus{request}), plus {french_hours(line.hours)} "
                      f"avec cette ligne, pour un plafond de {french_hours(monthly_ceiling)} par mois et par "
                      "personne.")
