"""Eligibility rules and the counting window of the participants service (pure domain)."""
from datetime import date

import pytest

from participants.domain import (ELIGIBLE, ENDED, REGISTERED, REVOKED, WINDOW_ENDED, WINDOW_ENDING, Criterion,
                                 RuleBroken, StatisticsRecord, StatusConflict, age_band, age_on,
                                 anonymisation_due, check_exit, check_path_entry, counting_window_end,
                                 first_window_notice_due, grant, lookalike_key, normalise_name,
                                 recheck_after_birth_date_change, retained_until, revoke, statistics, window_notice)

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



# --- evidence, exit and rectification -------------------------------------------------------------
def test_a_criterion_without_evidence_is_refused():
    error = refusal(Criterion("rqth", evidenced=False))
    assert error.rule == "evidence_required"
    assert str(error) == ("Critère « travailleur handicapé (RQTH) » : un justificatif est requis (nature, "
                          "référence, date), propre au critère ou commun.")


def test_an_exited_participant_cannot_be_made_eligible_again_but_an_ended_window_can_be_renewed():
    with pytest.raises(StatusConflict, match="sorti du dispositif le 30/09/2026"):
        grant(REVOKED, [Criterion("rqth")], BORN_1990, ENTRY, 24, exited_on=date(2026, 9, 30))
    assert grant_one(Criterion("rqth"), status=ENDED)


def test_a_rectified_birth_date_must_still_satisfy_the_age_rules_at_entry():
    recheck_after_birth_date_change([Criterion("job_seeker_50_plus")], date(1976, 3, 1), ENTRY)
    with pytest.raises(RuleBroken) as caught:
        recheck_after_birth_date_change([Criterion("job_seeker_50_plus")], date(1976, 3, 2), ENTRY)
    assert caught.value.rule == "job_seeker_50_plus"
    with pytest.raises(RuleBroken, match="précéder la date de naissance"):
        recheck_after_birth_date_change([Criterion("rqth")], date(2026, 3, 2), ENTRY)


# --- look-alikes --------------------------------------------------------------------------------
def test_names_are_compared_without_case_accents_spaces_or_hyphens():
    assert normalise_name("Benali-Roussel") == normalise_name("BENALI ROUSSEL") == "benaliroussel"
    assert normalise_name("Zoé") == normalise_name("ZOE") == normalise_name("zoe")
    assert normalise_name("N'Diaye") == normalise_name("NDIAYE")
    assert normalise_name("Œdipe") == "œdipe"  # a ligature is a letter of its own, kept


def test_the_lookalike_key_ignores_the_order_of_the_names_but_not_the_birth_date():
    key = lookalike_key("Yasmina", "Benali-Roussel", BORN_1990)
    assert key == lookalike_key("BENALI ROUSSEL", "yasmína", BORN_1990)
    assert key != lookalike_key("Yasmina", "Benali-Roussel", date(1990, 6, 16))
    assert key != lookalike_key("Yasmine", "Benali-Roussel", BORN_1990)
    assert "yasmina" not in key and len(key) == 64  # a digest, not the names


# --- window notices -----------------------------------------------------------------------------
def test_ending_soon_is_due_30_days_before_the_last_counting_day():
    until = date(2026, 2, 28)
    assert first_window_notice_due(until) == date(2026, 1, 29)
    assert window_notice(until, date(2026, 1, 28), ending_sent=False) == (None, date(2026, 1, 29))
    assert window_notice(until, date(2026, 1, 29), ending_sent=False) == (WINDOW_ENDING, date(2026, 3, 1))
    assert window_notice(until, date(2026, 2, 28), ending_sent=True) == (None, date(2026, 3, 1))


def test_ended_is_due_the_day_after_the_last_counting_day_even_without_the_ending_notice():
    until = date(2026, 2, 28)
    assert window_notice(until, date(2026, 2, 28), ending_sent=False) == (WINDOW_ENDING, date(2026, 3, 1))
    assert window_notice(until, date(2026, 3, 1), ending_sent=True) == (WINDOW_ENDED, None)
    assert window_notice(until, date(2026, 6, 1), ending_sent=False) == (WINDOW_ENDED, None)


def test_a_window_ending_on_the_last_day_of_a_month_ends_that_day():
    until = counting_window_end(date(2024, 3, 1), 24)
    assert until == date(2026, 2, 28)
    assert window_notice(until, date(2026, 2, 28), ending_sent=True)[0] is None
    assert window_notice(until, date(2026, 3, 1), ending_sent=True)[0] == WINDOW_ENDED


# --- path and exit ------------------------------------------------------------------------------
def test_a_path_entry_ends_on_or_after_its_start_and_not_after_the_exit():
    check_path_entry(ENTRY, None, None)
    check_path_entry(ENTRY, ENTRY, None)  # a single day
    with pytest.raises(RuleBroken, match="ne peut précéder sa date de début .01/03/2026.") as caught:
        check_path_entry(ENTRY, date(2026, 2, 28), None)
    assert caught.value.rule == "path_end"
    with pytest.raises(StatusConflict, match="parcours est clos"):
        check_path_entry(ENTRY, None, date(2026, 9, 30))


def test_an_exit_is_recorded_once_between_entry_and_today():
    today = date(2026, 10, 1)
    check_exit(None, ENTRY, today, ENTRY)  # leaving on the day of entry
    check_exit(None, today, today, ENTRY)
    with pytest.raises(RuleBroken, match="futur"):
        check_exit(None, date(2026, 10, 2), today, ENTRY)
    with pytest.raises(RuleBroken, match="précéder l'entrée dans le dispositif .01/03/2026."):
        check_exit(None, date(2026, 2, 28), today, ENTRY)
    with pytest.raises(StatusConflict, match="déjà enregistrée .le 30/09/2026."):
        check_exit(date(2026, 9, 30), date(2026, 9, 30), today, ENTRY)


# --- retention ----------------------------------------------------------------------------------
def test_identity_is_kept_n_months_after_the_exit_then_anonymised():
    exit_date = date(2026, 3, 20)
    assert retained_until(exit_date, 24) == date(2028, 3, 19)
    assert not anonymisation_due(exit_date, 24, date(2028, 3, 19))
    assert anonymisation_due(exit_date, 24, date(2028, 3, 20))


def test_retention_from_the_end_of_a_month():
    assert retained_until(date(2024, 1, 31), 1) == date(2024, 2, 28)  # 29/02/2024 is the first day out
    assert retained_until(date(2026, 2, 28), 12) == date(2027, 2, 27)
    assert retained_until(date(2024, 2, 29), 12) == date(2025, 2, 27)
    with pytest.raises(ValueError):
        retained_until(date(2026, 1, 1), 0)


# --- statistics ---------------------------------------------------------------------------------
def test_statistics_count_by_sex_age_band_qpv_category_and_outcome():
    counts = statistics([
        StatisticsRecord("female", "26_49", True, ("minimum_benefit", "rqth"), "permanent_contract"),
        StatisticsRecord("male", "under_26", False, ("under_26_low_qualification",)),
        StatisticsRecord("female", "50_plus", True),
    ])
    assert counts == {"participants": 3, "qpv": 2, "by_sex": {"female": 2, "male": 1},
                      "by_age_band": {"26_49": 1, "50_plus": 1, "under_26": 1},
                      "by_category": {"minimum_benefit": 1, "rqth": 1, "under_26_low_qualification": 1},
                      "by_outcome": {"permanent_contract": 1}}
    assert statistics([])["participants"] == 0


# --- age of the evidence -----------------------------------------------------------------------
def test_evidence_dated_more_than_six_months_before_entry_is_refused():
    assert grant_one(Criterion("rqth", evidence_date=date(2025, 9, 1)))  # 6 months to the day: accepted
    assert grant_one(Criterion("rqth", evidence_date=date(2026, 4, 1)))  # after entry: accepted
    old = refusal(Criterion("rqth", evidence_date=date(2025, 8, 31)))
    assert old.rule == "evidence_too_old"
    assert str(old) == ("Critère « travailleur handicapé (RQTH) » : le justificatif du 31/08/2025 date de plus de "
                        "6 mois avant l'entrée (01/03/2026) ; un justificatif daté du 01/09/2025 ou après est requis.")
    assert grant(REGISTERED, [Criterion("rqth", evidence_date=date(2025, 3, 1))], BORN_1990, ENTRY, 24,
                 evidence_max_age_months=12)  # the territory's own limit
