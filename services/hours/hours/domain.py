"""Rules a declaration line must pass. Plain Python: no Flask, no Mongo, no Kafka."""
import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

MODES = ("direct_hire", "etti", "geiq", "ai", "siae_subcontracting", "siae_cocontracting", "training")
CONTRACT_TYPES = ("cdi", "cdd", "apprenticeship", "professionalisation", "temporary", "insertion", "other")
# 48 hours a week at most (Code du travail, L3121-20) over 52 weeks / 12 months.
LEGAL_MONTHLY_MAXIMUM_HOURS = Decimal(208)


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


@dataclass(frozen=True)
class Line:
    lot_id: str
    participant_id: str
    month: date  # first day of the month declared
    hours: Decimal


class Refused(Exception):
    """A line breaks a rule; ``rule`` names it for machines, the message explains it in French."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def check_line(line: Line, siret: str, lot: LotHolding | None, window: EligibilityWindow | None,
               today: date, monthly_ceiling: Decimal = LEGAL_MONTHLY_MAXIMUM_HOURS) -> None:
    """Raise ``Refused`` for the first rule the line breaks."""
    if lot is None or lot.contractor_siret != siret:
        raise Refused("lot_not_held", "Ce lot n'est pas attribué à votre entreprise, ou n'existe pas.")
    if lot.market_status not in DECLARABLE_MARKET_STATUSES:
        state = MARKET_STATUS_LABELS_FR.get(lot.market_status, "pas encore connu comme en exécution")
        raise Refused("lot_not_in_execution", f"Ce lot n'est pas en exécution (marché {state}) : les heures "
                                              "se déclarent une fois le marché passé en exécution.")
    first, last = line.month, month_end(line.month)
    if first > today:
        raise Refused("period_in_future", "La période déclarée est dans le futur.")
    if last < lot.start_date:
        raise Refused("period_before_lot_start", "La période déclarée précède le début d'exécution du lot "
                                                 f"({french_date(lot.start_date)}).")
    if first > lot.end_date:
        raise Refused("period_after_lot_end", "La période déclarée suit la fin d'exécution du lot "
                                              f"({french_date(lot.end_date)}).")
    if line.hours <= 0:
        raise Refused("hours_not_positive", "Le nombre d'heures doit être strictement positif.")
    if line.hours > monthly_ceiling:
        raise Refused("hours_above_ceiling", f"{line.hours} heures dépassent le plafond mensuel de "
                                             f"{monthly_ceiling} heures par personne.")
    if window is None:
        raise Refused("participant_unknown", "Ce participant n'est pas connu comme éligible : vérifiez la "
                                             "référence transmise par le facilitateur.")
    if window.eligible_from > first or window.last_day < last:
        raise Refused("participant_not_eligible",
                      "Le participant n'est pas éligible sur toute la période : ses heures comptent du "
                      f"{french_date(window.eligible_from)} au {french_date(window.last_day)}.")
