"""Eligibility rules and the counting window of the participants service (pure domain)."""
from datetime import date

import pytest

from participants.domain import (ELIGIBLE, REGISTERED, REVOKED, Criterion, RuleBroken, StatusConflict,
                                 age_band, age_on, counting_window_end, grant, revoke)

ENTRY = date(2026, 3, 1)
BORN_1990 = date(1990, 6, 15)


def grant_one(criterion: Criterion, birth_date: date = BORN_1990, eligible_from: date = ENTRY,
              status: str = REGISTERED, months: int = 24) -> date:
    return grant(status, [criterion], birth_date, eligible_from, months)


def refusal(criterion: Criterion, **kwargs) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        grant_one(criterion, **kwargs)
    return caught.value


# --- ages ---------------------------------------------------------------------------------------
def test_age_goes_up_on_the_birthday_itself():
    assert age_on(date(1976, 3, 1), date(2026, 2, 28)) == 49
    assert age_on(date(1976, 3, 1), date(2026, 3, 1)) == 50


def test_someone_born_on_29_february_gains_a_year_on_1_march_of_common_years():
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26
    assert age_on(date(2000, 2, 29), date(2028, 2, 29)) == 28


def test_age_bands():
    assert age_band(date(2000, 3, 2), ENTRY) == "under_26"
    assert age_band(date(2000, 3, 1), ENTRY) == "26_49"
    assert age_band(date(1976, 3, 2), ENTRY) == "26_49"
    assert age_band(date(1976, 3, 1), ENTRY) == "50_plus"


# --- rules per criterion ------------------------------------------------------------------------
@pytest.mark.parametrize("benefit", ["RSA", "AAH", "ASS", "other"])
def test_a_minimum_benefit_is_accepted_with_the_benefit_named(benefit):
    assert grant_one(Criterion("minimum_benefit", benefit=benefit))


@pytest.mark.parametrize("benefit", [None, "", "APL", "rsa"])
def test_a_minimum_benefit_without_a_known_benefit_is_refused(benefit):
    error = refusal(Criterion("minimum_benefit", benefit=benefit))
    assert error.rule == "minimum_benefit"
    assert str(error).startswith("Critère « bénéficiaire de minima sociaux » : précisez la prestation")


def test_50_plus_counts_from_the_50th_birthday_falling_on_the_entry_date():
    assert grant_one(Criterion("job_seeker_50_plus"), birth_date=date(1976, 3, 1))
    error = refusal(Criterion("job_seeker_50_plus"), birth_date=date(1976, 3, 2))
    assert error.rule == "job_seeker_50_plus"
    assert "49 ans à la date d'entrée" in str(error)
    assert "50 ans ou plus" in str(error)


def test_under_26_ends_on_the_26th_birthday_falling_on_the_entry_date():
    assert grant_one(Criterion("under_26_low_qualification"), birth_date=date(2000, 3, 2))
    error = refusal(Criterion("under_26_low_qualification"), birth_date=date(2000, 3, 1))
    assert error.rule == "under_26_low_qualification"
    assert "26 ans à la date d'entrée" in str(error)
    assert str(error).startswith("Critère « jeune de moins de 26 ans peu ou pas qualifié »")


def test_ages_are_taken_on_the_entry_date_not_today():
    # 49 today would not matter: what counts is the age on the day the person enters the clause
    assert grant_one(Criterion("job_seeker_50_plus"), birth_date=date(1960, 1, 1), eligible_from=date(2010, 1, 1))
    assert refusal(Criterion("job_seeker_50_plus"), birth_date=date(1960, 1, 2),
                   eligible_from=date(2010, 1, 1)).rule == "job_seeker_50_plus"


def test_long_term_job_seeker_needs_12_months_or_more():
    assert grant_one(Criterion("long_term_job_seeker", months=12))
    assert grant_one(Criterion("long_term_job_seeker", months=30))
    short = refusal(Criterion("long_term_job_seeker", months=11))
    missing = refusal(Criterion("long_term_job_seeker"))
    assert short.rule == missing.rule == "long_term_job_seeker"
    assert "12 mois" in str(short) and "(11 indiqués)" in str(short)
    assert "12 mois" in str(missing)


@pytest.mark.parametrize("code", ["rqth", "siae_employee"])
def test_criteria_resting_on_the_evidence_alone(code):
    assert grant_one(Criterion(code))


def test_a_prescriber_derogation_needs_a_reason():
    assert grant_one(Criterion("prescriber_derogation", reason="Avis de la Mission locale du 12/02"))
    for reason in (None, "", "   "):
        error = refusal(Criterion("prescriber_derogation", reason=reason))
        assert error.rule == "prescriber_derogation"
        assert "avis motivé du prescripteur est requis" in str(error)


def test_every_criterion_claimed_must_hold():
    with pytest.raises(RuleBroken) as caught:
        grant(REGISTERED, [Criterion("rqth"), Criterion("job_seeker_50_plus")], BORN_1990, ENTRY, 24)
    assert caught.value.rule == "job_seeker_50_plus"


def test_unknown_missing_or_repeated_criteria_are_refused():
    assert refusal(Criterion("homeless")).rule == "unknown_criterion"
    with pytest.raises(RuleBroken, match="Au moins un critère"):
        grant(REGISTERED, [], BORN_1990, ENTRY, 24)
    with pytest.raises(RuleBroken, match="qu'une fois"):
        grant(REGISTERED, [Criterion("rqth"), Criterion("rqth")], BORN_1990, ENTRY, 24)


def test_an_entry_before_birth_is_refused():
    assert refusal(Criterion("rqth"), eligible_from=date(1989, 1, 1)).rule == "eligible_from"


# --- status -------------------------------------------------------------------------------------
def test_eligibility_is_granted_once_until_revoked():
    with pytest.raises(StatusConflict, match="déjà éligible"):
        grant_one(Criterion("rqth"), status=ELIGIBLE)
    assert grant_one(Criterion("rqth"), status=REVOKED)


def test_only_an_eligibility_in_force_can_be_revoked_and_not_before_it_began():
    revoke(ELIGIBLE, ENTRY, ENTRY)
    for status in (REGISTERED, REVOKED):
        with pytest.raises(StatusConflict, match="rien à révoquer"):
            revoke(status, ENTRY, ENTRY)
    with pytest.raises(RuleBroken, match="ne peut précéder la date d'entrée") as caught:
        revoke(ELIGIBLE, ENTRY, date(2026, 2, 28))
    assert caught.value.rule == "revoked_on"


# --- counting window ----------------------------------------------------------------------------
def test_the_window_ends_the_day_before_the_same_date_n_months_later():
    assert counting_window_end(date(2026, 3, 15), 24) == date(2028, 3, 14)
    assert grant_one(Criterion("rqth"), eligible_from=date(2026, 3, 15)) == date(2028, 3, 14)


def test_a_window_from_the_first_of_a_month_ends_on_the_last_day_of_a_month():
    assert counting_window_end(date(2024, 3, 1), 24) == date(2026, 2, 28)
    assert counting_window_end(date(2026, 2, 1), 1) == date(2026, 2, 28)
    assert counting_window_end(date(2026, 3, 1), 24) == date(2028, 2, 29)
    assert counting_window_end(date(2024, 2, 1), 1) == date(2024, 2, 29)
    assert counting_window_end(date(2026, 1, 1), 12) == date(2026, 12, 31)


def test_a_window_from_29_february_runs_to_the_end_of_february_in_common_years():
    assert counting_window_end(date(2024, 2, 29), 24) == date(2026, 2, 28)
    assert counting_window_end(date(2024, 2, 29), 48) == date(2028, 2, 28)
    assert counting_window_end(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_a_window_from_31_january_follows_the_month_ends():
    assert counting_window_end(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert counting_window_end(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert counting_window_end(date(2026, 3, 31), 1) == date(2026, 4, 30)
    assert counting_window_end(date(2025, 1, 31), 2) == date(2025, 3, 30)
    assert counting_window_end(date(2025, 1, 31), 24) == date(2027, 1, 30)


def test_the_window_length_is_a_setting():
    assert grant_one(Criterion("rqth"), eligible_from=date(2026, 1, 1), months=12) == date(2026, 12, 31)
    assert grant_one(Criterion("rqth"), eligible_from=date(2026, 1, 1), months=6) == date(2026, 6, 30)
    assert grant_one(Criterion("rqth"), eligible_from=date(2026, 1, 1), months=120) == date(2035, 12, 31)
    with pytest.raises(ValueError):
        counting_window_end(date(2026, 1, 1), 0)
