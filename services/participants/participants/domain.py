"""Eligibility rules and the counting window. Plain Python: no Flask, no Mongo, no Kafka."""
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

REGISTERED, ELIGIBLE, REVOKED = "registered", "eligible", "revoked"
STATUSES = (REGISTERED, ELIGIBLE, REVOKED)
SEXES = ("female", "male")
BENEFITS = ("RSA", "AAH", "ASS", "other")
LONG_TERM_MONTHS = 12
SENIOR_AGE = 50
YOUTH_AGE = 26

CRITERIA_LABELS_FR = {
    "minimum_benefit": "bénéficiaire de minima sociaux",
    "job_seeker_50_plus": "demandeur d'emploi de 50 ans ou plus",
    "long_term_job_seeker": "demandeur d'emploi de longue durée",
    "rqth": "travailleur handicapé (RQTH)",
    "under_26_low_qualification": "jeune de moins de 26 ans peu ou pas qualifié",
    "siae_employee": "salarié d'une structure d'insertion (SIAE, EPIDE, E2C)",
    "prescriber_derogation": "dérogation sur avis motivé d'un prescripteur",
}
CRITERIA = tuple(CRITERIA_LABELS_FR)


class DomainError(Exception):
    """A business rule refuses the operation; the message is French, for the facilitator."""


class RuleBroken(DomainError):
    """The data contradict an eligibility rule (HTTP 422). ``rule`` names it."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


class StatusConflict(DomainError):
    """The participant is not in a status that allows the operation (HTTP 409)."""


@dataclass(frozen=True)
class Criterion:
    code: str
    benefit: str | None = None
    months: int | None = None
    reason: str | None = None


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years on a date: it goes up on the birthday itself (1 March for 29 February)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def age_band(birth_date: date, on: date) -> str:
    age = age_on(birth_date, on)
    return "under_26" if age < YOUTH_AGE else "50_plus" if age >= SENIOR_AGE else "26_49"


def counting_window_end(eligible_from: date, months: int) -> date:
    """Last counting day, inclusive: the day before entry + N months.

    When that month has no such day (entry on 31/01, one month), the window runs to the end of
    that month (28/02) rather than stopping a day short of it.
    """
    if months < 1:
        raise ValueError("the counting window lasts at least one month")
    term = eligible_from + relativedelta(months=months)
    if term.day < eligible_from.day:  # clipped to the month's last day: the whole month counts
        return term
    return term - relativedelta(days=1)


def _refuse(code: str, detail: str):
    raise RuleBroken(code, f"Critère « {CRITERIA_LABELS_FR[code]} » : {detail}")


def check_criterion(criterion: Criterion, birth_date: date, eligible_from: date) -> None:
    """Raise RuleBroken when the criterion does not hold for this person on the entry date."""
    code = criterion.code
    if code not in CRITERIA_LABELS_FR:
        raise RuleBroken("unknown_criterion", f"Critère d'éligibilité inconnu : « {code} ».")
    if code == "minimum_benefit" and criterion.benefit not in BENEFITS:
        _refuse(code, "précisez la prestation perçue (RSA, AAH, ASS ou other).")
    if code == "long_term_job_seeker" and (criterion.months is None or criterion.months < LONG_TERM_MONTHS):
        _refuse(code, f"{LONG_TERM_MONTHS} mois d'inscription comme demandeur d'emploi au moins sont requis"
                      + ("." if criterion.months is None else f" ({criterion.months} indiqués)."))
    if code == "prescriber_derogation" and not (criterion.reason or "").strip():
        _refuse(code, "l'avis motivé du prescripteur est requis (champ reason).")
    if code == "job_seeker_50_plus" and (age := age_on(birth_date, eligible_from)) < SENIOR_AGE:
        _refuse(code, f"la personne a {age} ans à la date d'entrée ; {SENIOR_AGE} ans au moins sont requis.")
    if code == "under_26_low_qualification" and (age := age_on(birth_date, eligible_from)) >= YOUTH_AGE:
        _refuse(code, f"la personne a {age} ans à la date d'entrée ; elle doit avoir moins de {YOUTH_AGE} ans.")


def grant(status: str, criteria: list[Criterion], birth_date: date, eligible_from: date,
          window_months: int) -> date:
    """Check every criterion claimed for the person; returns the last counting day."""
    if status == ELIGIBLE:
        raise StatusConflict("Ce participant est déjà éligible : révoquez d'abord son éligibilité en cours.")
    if not criteria:
        raise RuleBroken("criteria_required", "Au moins un critère d'éligibilité est requis.")
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise RuleBroken("criteria_unique", "Chaque critère d'éligibilité ne peut figurer qu'une fois.")
    if eligible_from < birth_date:
        raise RuleBroken("eligible_from", "La date d'entrée ne peut précéder la date de naissance.")
    for criterion in criteria:
        check_criterion(criterion, birth_date, eligible_from)
    return counting_window_end(eligible_from, window_months)


def revoke(status: str, eligible_from: date, revoked_on: date) -> None:
    """Check that an eligibility in force can end on ``revoked_on``."""
    if status != ELIGIBLE:
        raise StatusConflict("Ce participant n'est pas éligible actuellement : il n'y a rien à révoquer.")
    if revoked_on < eligible_from:
        raise RuleBroken("revoked_on", "La date de révocation ne peut précéder la date d'entrée "
                                       f"({eligible_from.strftime('%d/%m/%Y')}).")
