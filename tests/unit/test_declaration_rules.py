"""Rules a contractor's declaration line must pass (hours domain)."""
from datetime import date
from decimal import Decimal

import pytest

from hours.domain import EligibilityWindow, Line, LotHolding, Refused, check_line, month_end

SIRET = "73282932000074"
LOT = LotHolding("lot-1", SIRET, date(2026, 2, 10), date(2026, 12, 31), "in_execution")
WINDOW = EligibilityWindow(date(2026, 1, 1), date(2027, 12, 31))
TODAY = date(2026, 11, 22)


def line(month=date(2026, 3, 1), hours="35") -> Line:
    return Line("lot-1", "p-1", month, Decimal(hours))


def refusal(**kwargs) -> str:
    arguments = {"line": line(), "siret": SIRET, "lot": LOT, "window": WINDOW, "today": TODAY, **kwargs}
    with pytest.raises(Refused) as caught:
        check_line(**arguments)
    return caught.value.rule


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
