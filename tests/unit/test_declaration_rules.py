"""Rules a contractor's declaration line must pass (hours domain)."""
from datetime import date
from decimal import Decimal

import pytest

from hours.domain import (Declared, DuplicateLine, EligibilityWindow, Line, LotHolding, Period, Refused, check_line,
                          month_end)

SIRET = "73282932000074"
LOT = LotHolding("lot-1", SIRET, date(2026, 2, 10), date(2026, 12, 31), "in_execution")
WINDOW = EligibilityWindow(date(2026, 1, 1), date(2027, 12, 31))
TODAY = date(2026, 11, 22)


def line(month=date(2026, 3, 1), hours="35", start=None, end=None, lot_id="lot-1") -> Line:
    return Line(lot_id, "p-1", Period(start, end) if start else Period.of_month(month), Decimal(hours))


def dated(start: str, end: str, **kwargs) -> Line:
    return line(start=date.fromisoformat(start), end=date.fromisoformat(end), **kwargs)


def refused(**kwargs) -> Refused:
    arguments = {"line": line(), "siret": SIRET, "lot": LOT, "window": WINDOW, "today": TODAY, **kwargs}
    with pytest.raises(Refused) as caught:
        check_line(**arguments)
    return caught.value


def refusal(**kwargs) -> str:
    return refused(**kwargs).rule


def refusal_message(**kwargs) -> str:
    return refused(**kwargs).message


def test_a_line_that_passes_every_rule_is_accepted():
    check_line(line(), SIRET, LOT, WINDOW, TODAY)
    check_line(line(month=date(2026, 11, 1)), SIRET, LOT, WINDOW, TODAY)  # the month in progress
    check_line(line(month=date(2026, 2, 1)), SIRET, LOT, WINDOW, TODAY)  # the month the lot starts in
    check_line(line(hours="208"), SIRET, LOT, WINDOW, TODAY)  # the legal ceiling itself


def test_each_broken_rule_is_named():
    assert refusal(lot=None) == "lot_not_held"
    assert refusal(siret="55210055400013") == "lot_not_held"
    assert refusal(line=line(month=date(2026, 12, 1))) == "period_in_future"
    assert refusal(line=line(month=date(2026, 1, 1))) == "period_before_lot_start"
    assert refusal(line=line(month=date(2027, 1, 1)), today=date(2027, 2, 1)) == "period_after_lot_end"
    assert refusal(line=line(hours="0")) == "hours_not_positive"
    assert refusal(line=line(hours="208.01")) == "hours_above_ceiling"
    assert refusal(window=None) == "participant_unknown"


def test_the_lots_market_must_be_in_execution_or_completed():
    from dataclasses import replace
    for status in (None, "draft", "awarded", "closed"):
        assert refusal(lot=replace(LOT, market_status=status)) == "lot_not_in_execution"
    check_line(line(), SIRET, replace(LOT, market_status="completed"), WINDOW, TODAY)  # late payroll lines


def test_the_participant_must_be_eligible_over_the_whole_month():
    assert refusal(window=EligibilityWindow(date(2026, 3, 2), date(2027, 12, 31))) == "participant_not_eligible"
    assert refusal(window=EligibilityWindow(date(2025, 1, 1), date(2026, 3, 30))) == "participant_not_eligible"
    check_line(line(), SIRET, LOT, EligibilityWindow(date(2026, 3, 1), date(2026, 3, 31)), TODAY)


def test_a_revocation_ends_the_window_early():
    revoked = EligibilityWindow(date(2026, 1, 1), date(2027, 12, 31), revoked_on=date(2026, 3, 15))
    assert refusal(window=revoked) == "participant_not_eligible"
    check_line(line(month=date(2026, 2, 1)), SIRET, LOT, revoked, TODAY)


def test_the_ceiling_is_configurable():
    with pytest.raises(Refused):
        check_line(line(hours="151.68"), SIRET, LOT, WINDOW, TODAY, monthly_ceiling=Decimal("151.67"))


def test_month_end_knows_leap_years():
    assert month_end(date(2028, 2, 1)) == date(2028, 2, 29)
    assert month_end(date(2026, 2, 1)) == date(2026, 2, 28)


def test_a_dated_period_lies_in_one_month_and_starts_before_it_ends():
    check_line(dated("2026-03-02", "2026-03-13"), SIRET, LOT, WINDOW, TODAY)
    check_line(dated("2026-03-05", "2026-03-05"), SIRET, LOT, WINDOW, TODAY)  # a single day
    assert refusal(line=dated("2026-03-13", "2026-03-02")) == "period_reversed"
    assert refusal(line=dated("2026-03-20", "2026-04-05")) == "period_across_months"
    assert "une ligne par mois" in refusal_message(line=dated("2026-03-20", "2026-04-05"))


def test_a_dated_period_is_judged_on_its_days():
    assert refusal(line=dated("2026-11-02", "2026-11-23")) == "period_in_future"  # today is the 22nd
    check_line(dated("2026-11-02", "2026-11-22"), SIRET, LOT, WINDOW, TODAY)
    assert refusal(line=dated("2026-02-02", "2026-02-13")) == "period_before_lot_start"  # the lot starts the 10th
    check_line(dated("2026-02-10", "2026-02-13"), SIRET, LOT, WINDOW, TODAY)
    late = LotHolding("lot-1", SIRET, date(2026, 2, 10), date(2026, 3, 15), "in_execution")
    assert refusal(line=dated("2026-03-10", "2026-03-16"), lot=late) == "period_after_lot_end"
    check_line(dated("2026-03-10", "2026-03-15"), SIRET, late, WINDOW, TODAY)
    # eligibility over exactly the declared days
    window = EligibilityWindow(date(2026, 3, 10), date(2027, 12, 31))
    check_line(dated("2026-03-10", "2026-03-31"), SIRET, LOT, window, TODAY)
    assert refusal(line=dated("2026-03-09", "2026-03-31"), window=window) == "participant_not_eligible"


def test_a_dated_period_covering_a_whole_month_is_that_month():
    assert Period(date(2026, 3, 1), date(2026, 3, 31)) == Period.of_month(date(2026, 3, 1))
    check_line(dated("2026-11-01", "2026-11-30"), SIRET, LOT, WINDOW, TODAY)  # the month in progress
    assert Period.of_month(date(2026, 3, 1)).french() == "mars 2026"
    assert Period(date(2026, 3, 2), date(2026, 3, 13)).french() == "du 02/03/2026 au 13/03/2026"


def in_force(start: str, end: str, hours="35", lot_id="lot-1", **kwargs) -> Declared:
    return Declared(lot_id, Period(date.fromisoformat(start), date.fromisoformat(end)), Decimal(hours), True, **kwargs)


def test_the_same_period_is_a_duplicate_and_an_overlap_is_refused():
    first_half = in_force("2026-03-01", "2026-03-15")
    with pytest.raises(DuplicateLine):
        check_line(dated("2026-03-01", "2026-03-15"), SIRET, LOT, WINDOW, TODAY, declared=[first_half])
    assert refusal(line=dated("2026-03-15", "2026-03-31"), declared=[first_half]) == "period_overlaps"
    assert "du 01/03/2026 au 15/03/2026" in refusal_message(line=line(), declared=[first_half])
    check_line(dated("2026-03-16", "2026-03-31"), SIRET, LOT, WINDOW, TODAY, declared=[first_half])
    # another lot's line, or a rejected line, holds no period of this lot's
    check_line(line(), SIRET, LOT, WINDOW, TODAY, declared=[in_force("2026-03-01", "2026-03-15", lot_id="lot-2")])
    rejected = Declared("lot-1", first_half.period, Decimal(35), in_force=False)
    check_line(dated("2026-03-10", "2026-03-20"), SIRET, LOT, WINDOW, TODAY, declared=[rejected])
    with pytest.raises(DuplicateLine):  # a rejected line is corrected, not declared again
        check_line(dated("2026-03-01", "2026-03-15"), SIRET, LOT, WINDOW, TODAY, declared=[rejected])


def test_the_ceiling_counts_every_line_of_the_month_in_force():
    others = [in_force("2026-03-01", "2026-03-15", "100", lot_id="lot-2"),
              in_force("2026-03-01", "2026-03-31", "58", lot_id="lot-3")]
    check_line(dated("2026-03-16", "2026-03-31", hours="50"), SIRET, LOT, WINDOW, TODAY, declared=others)
    assert refusal(line=dated("2026-03-16", "2026-03-31", hours="50.01"), declared=others) == "hours_above_ceiling"
    message = refusal_message(line=dated("2026-03-16", "2026-03-31", hours="50.5"), declared=others)
    assert "158 heures" in message and "208 heures" in message and "mars 2026" in message
    rejected = Declared("lot-2", Period.of_month(date(2026, 3, 1)), Decimal(200), in_force=False)
    check_line(line(hours="208"), SIRET, LOT, WINDOW, TODAY, declared=[rejected])


def test_hours_past_the_exit_are_refused_with_its_date():
    exited = {"exited_on": date(2026, 3, 12)}
    check_line(line(), SIRET, LOT, WINDOW, TODAY, **exited)  # the month of the exit counts whole
    check_line(dated("2026-03-02", "2026-03-12"), SIRET, LOT, WINDOW, TODAY, **exited)  # to the exit day
    assert refusal(line=dated("2026-03-02", "2026-03-13"), **exited) == "participant_exited"
    assert refusal_message(line=line(month=date(2026, 4, 1)), **exited) == (
        "Le participant est sorti du dispositif le 12/03/2026 : ses heures ne comptent plus après cette date "
        "(avril 2026).")


def test_a_line_counts_under_the_eligibility_decision_in_force_over_its_period():
    decisions = [EligibilityWindow(date(2026, 1, 1), date(2027, 12, 31), revoked_on=date(2026, 2, 28)),
                 EligibilityWindow(date(2026, 5, 1), date(2028, 4, 30))]
    check_line(line(month=date(2026, 2, 1)), SIRET, LOT, decisions, TODAY)
    check_line(line(month=date(2026, 6, 1)), SIRET, LOT, decisions, TODAY)
    assert refusal_message(line=line(month=date(2026, 3, 1)), window=decisions).endswith(
        "du 01/01/2026 au 28/02/2026 et du 01/05/2026 au 30/04/2028.")
    assert refusal(window=()) == "participant_unknown"
