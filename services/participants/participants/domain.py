"""Eligibility rules, the counting window, path and outcomes, look-alikes, retention and statistics.

Plain Python: no Flask, no Mongo, no Kafka.
"""
import hashlib
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

REGISTERED, ELIGIBLE, REVOKED, ENDED, ERASED = "registered", "eligible", "revoked", "ended", "erased"
STATUSES = (REGISTERED, ELIGIBLE, REVOKED, ENDED, ERASED)
STATUS_LABELS_FR = {REGISTERED: "inscrit, éligibilité non validée", ELIGIBLE: "éligible",
                    REVOKED: "éligibilité révoquée", ENDED: "fenêtre de comptage close",
                    ERASED: "données personnelles effacées"}
SEXES = ("female", "male")
SEX_LABELS_FR = {"female": "femme", "male": "homme"}
AGE_BANDS = ("under_26", "26_49", "50_plus")
AGE_BAND_LABELS_FR = {"under_26": "moins de 26 ans", "26_49": "26 à 49 ans", "50_plus": "50 ans ou plus"}
BENEFIT_LABELS_FR = {"RSA": "RSA", "AAH": "AAH", "ASS": "ASS", "other": "autre minimum social"}
BENEFITS = tuple(BENEFIT_LABELS_FR)
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

# What became of a participant when they left the clause (*sortie*).
OUTCOME_LABELS_FR = {
    "permanent_contract": "contrat à durée indéterminée (CDI)",
    "fixed_term_6_months_plus": "contrat à durée déterminée de 6 mois ou plus",
    "training": "formation",
    "job_seeking": "recherche d'emploi",
    "other": "autre situation",
}
OUTCOMES = tuple(OUTCOME_LABELS_FR)
# The same contract types as on hour declarations (the statistics cross them).
CONTRACT_TYPE_LABELS_FR = {
    "cdi": "CDI", "cdd": "CDD", "apprenticeship": "contrat d'apprentissage",
    "professionalisation": "contrat de professionnalisation", "temporary": "intérim",
    "insertion": "contrat d'insertion (CDDI)", "other": "autre contrat",
}
CONTRACT_TYPES = tuple(CONTRACT_TYPE_LABELS_FR)
WINDOW_ENDING_NOTICE_DAYS = 30  # "window ending soon" is published this many days before its last day
# Evidence older than this many months on the entry date is refused (territory setting): the validity the
# State's inclusion platform gives an eligibility diagnosis.
EVIDENCE_MAX_AGE_MONTHS = 6

# Every eligibility decision is kept, in order: a grant (the first), a renewal (a later grant), a
# revocation, or the end of a counting window.
GRANTED, RENEWED, DECISION_REVOKED, DECISION_ENDED = "granted", "renewed", "revoked", "ended"
DECISION_LABELS_FR = {GRANTED: "éligibilité validée", RENEWED: "éligibilité renouvelée",
                      DECISION_REVOKED: "éligibilité révoquée", DECISION_ENDED: "fenêtre de comptage close"}
DECISION_KINDS = tuple(DECISION_LABELS_FR)


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
    evidenced: bool = True  # a piece of evidence was recorded for it (its own or the shared one)
    evidence_date: date | None = None  # the date of that evidence


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
    _refuse_with(code, code, detail)


def _refuse_with(rule: str, code: str, detail: str):
    raise RuleBroken(rule, f"Critère « {CRITERIA_LABELS_FR[code]} » : {detail}")


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


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


def check_evidence_age(criterion: Criterion, eligible_from: date, max_age_months: int) -> None:
    """Evidence dated more than ``max_age_months`` before entry no longer proves the situation on entry."""
    oldest = eligible_from - relativedelta(months=max_age_months)
    if criterion.evidence_date is not None and criterion.evidence_date < oldest:
        _refuse_with("evidence_too_old", criterion.code,
                     f"le justificatif du {french_date(criterion.evidence_date)} date de plus de {max_age_months} "
                     f"mois avant l'entrée ({french_date(eligible_from)}) ; un justificatif daté du "
                     f"{french_date(oldest)} ou après est requis.")


def grant(status: str, criteria: list[Criterion], birth_date: date, eligible_from: date,
          window_months: int, exited_on: date | None = None,
          evidence_max_age_months: int = EVIDENCE_MAX_AGE_MONTHS) -> date:
    """Check every criterion claimed for the person; returns the last counting day."""
    if status == ELIGIBLE:
        raise StatusConflict("Ce participant est déjà éligible : révoquez d'abord son éligibilité en cours.")
    if exited_on is not None:
        raise StatusConflict(f"Ce participant est sorti du dispositif le {french_date(exited_on)} : "
                             "son éligibilité ne peut plus être validée.")
    if not criteria:
        raise RuleBroken("criteria_required", "Au moins un critère d'éligibilité est requis.")
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise RuleBroken("criteria_unique", "Chaque critère d'éligibilité ne peut figurer qu'une fois.")
    if eligible_from < birth_date:
        raise RuleBroken("eligible_from", "La date d'entrée ne peut précéder la date de naissance.")
    for criterion in criteria:
        check_criterion(criterion, birth_date, eligible_from)
        if not criterion.evidenced:
            _refuse_with("evidence_required", criterion.code,
                         "un justificatif est requis (nature, référence, date), propre au critère ou commun.")
        check_evidence_age(criterion, eligible_from, evidence_max_age_months)
    return counting_window_end(eligible_from, window_months)


def revoke(status: str, eligible_from: date, revoked_on: date) -> None:
    """Check that an eligibility in force can end on ``revoked_on``."""
    if status != ELIGIBLE:
        raise StatusConflict("Ce participant n'est pas éligible actuellement : il n'y a rien à révoquer.")
    if revoked_on < eligible_from:
        raise RuleBroken("revoked_on", "La date de révocation ne peut précéder la date d'entrée "
                                       f"({eligible_from.strftime('%d/%m/%Y')}).")


def recheck_after_birth_date_change(criteria: list[Criterion], birth_date: date, eligible_from: date) -> None:
    """A rectified birth date must still satisfy the age rules of the eligibility in force."""
    if eligible_from < birth_date:
        raise RuleBroken("eligible_from", "La date d'entrée ne peut précéder la date de naissance.")
    for criterion in criteria:
        check_criterion(criterion, birth_date, eligible_from)


# --- look-alikes ------------------------------------------------------------------------------
def normalise_name(name: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes aside: « Benali-Roussel » == « BENALI ROUSSEL »."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


def lookalike_key(first_name: str, last_name: str, birth_date: date) -> str:
    """A fingerprint equal for two records that look like the same person (names in either order).

    Stored at write time, since names cannot be compared with patterns in every database; a digest
    rather than the names themselves, so the key adds no readable copy of the identity.
    """
    names = sorted((normalise_name(first_name), normalise_name(last_name)))
    return hashlib.sha256(f"{names[0]}|{names[1]}|{birth_date.isoformat()}".encode()).hexdigest()


# --- counting window notices -----------------------------------------------------------------
WINDOW_ENDING, WINDOW_ENDED = "window_ending", "window_ended"


def first_window_notice_due(eligible_until: date) -> date:
    """When the scheduled check first has something to say about a window."""
    return eligible_until - timedelta(days=WINDOW_ENDING_NOTICE_DAYS)


def window_notice(eligible_until: date, today: date, ending_sent: bool) -> tuple[str | None, date | None]:
    """The notice due today for a window in force, and when the next one falls due (None: no more).

    A window whose last day has passed gets only the "ended" notice, even if "ending soon" was
    never sent (the check did not run in time): announcing the end of a closed window is noise.
    """
    if today > eligible_until:
        return WINDOW_ENDED, None
    if today >= first_window_notice_due(eligible_until) and not ending_sent:
        return WINDOW_ENDING, eligible_until + timedelta(days=1)
    if ending_sent:
        return None, eligible_until + timedelta(days=1)
    return None, first_window_notice_due(eligible_until)


# --- path and outcomes ------------------------------------------------------------------------
def check_path_entry(start: date, end: date | None, exited_on: date | None) -> None:
    if exited_on is not None:
        raise StatusConflict(f"Ce participant est sorti du dispositif le {french_date(exited_on)} : "
                             "son parcours est clos.")
    if end is not None and end < start:
        raise RuleBroken("path_end", "La date de fin du contrat ne peut précéder sa date de début "
                                     f"({french_date(start)}).")


def check_exit(exited_on: date | None, exit_date: date, today: date, entered_on: date) -> None:
    """An exit is recorded once, on a past or present day, not before the person entered the clause."""
    if exited_on is not None:
        raise StatusConflict(f"La sortie de ce participant est déjà enregistrée (le {french_date(exited_on)}).")
    if exit_date > today:
        raise RuleBroken("exit_date", "La date de sortie ne peut être dans le futur.")
    if exit_date < entered_on:
        raise RuleBroken("exit_date", "La date de sortie ne peut précéder l'entrée dans le dispositif "
                                      f"({french_date(entered_on)}).")


# --- retention ---------------------------------------------------------------------------------
def retained_until(exit_date: date, retention_months: int) -> date:
    """Last day the identity of an exited participant is kept: the day before exit + N months."""
    if retention_months < 1:
        raise ValueError("the retention lasts at least one month")
    return exit_date + relativedelta(months=retention_months) - timedelta(days=1)


def anonymisation_due(exit_date: date, retention_months: int, today: date) -> bool:
    return today > retained_until(exit_date, retention_months)


# --- statistics -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatisticsRecord:
    """What statistics may know of a participant: nothing that identifies them."""
    sex: str | None
    age_band: str | None
    qpv: bool
    categories: tuple[str, ...] = ()
    outcome: str | None = None


def statistics(records: Iterable[StatisticsRecord]) -> dict:
    """Counts by sex, age band, QPV residence, public category and outcome."""
    total, qpv = 0, 0
    by_sex, by_age, by_category, by_outcome = Counter(), Counter(), Counter(), Counter()
    for record in records:
        total += 1
        qpv += bool(record.qpv)
        by_sex[record.sex or "unknown"] += 1
        by_age[record.age_band or "unknown"] += 1
        for code in record.categories:
            by_category[code] += 1
        if record.outcome:
            by_outcome[record.outcome] += 1
    return {"participants": total, "qpv": qpv, "by_sex": dict(sorted(by_sex.items())),
            "by_age_band": dict(sorted(by_age.items())), "by_category": dict(sorted(by_category.items())),
            "by_outcome": dict(sorted(by_outcome.items()))}
