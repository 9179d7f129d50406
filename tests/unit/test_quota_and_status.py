"""Sizing a clause and judging a lot's progress (markets domain)."""
from datetime import date
from decimal import Decimal

import pytest

from markets.domain import Status, expected_hours, progress_status, size_quota


def test_the_domain_notes_example_gives_833_hours_with_its_breakdown():
    quota = size_quota(1_000_000, "0.5", "0.05", 30)

    assert quota.hours == 833
    assert quota.labour_amount == Decimal("500000.0")
    assert quota.insertion_amount == Decimal("25000.00")
    assert round(quota.exact_hours, 2) == Decimal("833.33")


@pytest.mark.parametrize("amount, hours", [(1_001_000, 834),  # 834.1666 rounds down to 834
                                           (1_000_200, 834),  # 833.5 exactly rounds half up
                                           (1_000_199, 833)])  # 833.4991 rounds down
def test_hours_are_rounded_half_up_to_the_whole_hour(amount, hours):
    assert size_quota(amount, "0.5", "0.05", 30).hours == hours


def test_floats_do_not_leak_binary_error_into_the_quota():
    assert size_quota(300_000, 0.7, 0.1, 28).hours == 750  # 750.0000 exactly, not 749.999…


@pytest.mark.parametrize("share, rate, cost", [(0, "0.05", 30), ("1.2", "0.05", 30), ("0.5", 0, 30),
                                               ("0.5", "0.05", 0)])
def test_impossible_parameters_are_refused(share, rate, cost):
    with pytest.raises(ValueError):
        size_quota(1000, share, rate, cost)


START, END = date(2026, 1, 1), date(2026, 12, 31)


def test_expected_hours_follow_a_straight_line_over_the_execution_period():
    assert expected_hours(730, START, END, date(2025, 12, 31)) == 0
    assert expected_hours(730, START, END, START) == 0
    assert expected_hours(730, START, END, date(2026, 7, 2)) == pytest.approx(730 * 182 / 364)
    assert expected_hours(730, START, END, END) == 730
    assert expected_hours(730, START, END, date(2027, 3, 1)) == 730


@pytest.mark.parametrize("realised, expected, status", [
    (0, 0, Status.NOT_STARTED),
    (5, 0, Status.ON_TRACK),
    (80, 100, Status.ON_TRACK),  # exactly 20% behind: within the tolerance
    (79.99, 100, Status.AT_RISK),  # more than 20% behind
    (50, 100, Status.AT_RISK),  # exactly half: not yet below half
    (49.99, 100, Status.BEHIND),
    (0, 100, Status.BEHIND),
    (833, 500, Status.REACHED),
    (900, 1000, Status.REACHED),  # above the quota, whatever the curve says
])
def test_status_against_the_expected_curve(realised, expected, status):
    assert progress_status(833, realised, expected) == status


def test_tolerance_and_behind_threshold_are_configurable():
    assert progress_status(833, 85, 100, tolerance=0.1) == Status.AT_RISK
    assert progress_status(833, 90, 100, tolerance=0.1) == Status.ON_TRACK
    assert progress_status(833, 55, 100, behind_ratio=0.6) == Status.BEHIND
    assert progress_status(833, 60, 100, behind_ratio=0.6) == Status.AT_RISK


def test_a_closed_lot_short_of_its_quota_is_closed_with_shortfall_and_a_reached_one_stays_reached():
    assert progress_status(833, 700, 833, closed=True) == Status.CLOSED_WITH_SHORTFALL
    assert progress_status(833, 833, 833, closed=True) == Status.REACHED


def test_the_simulator_rates_are_the_usual_ones():
    from markets.domain import hours_at_usual_rates
    assert hours_at_usual_rates(1_000_000, "0.5", 30) == {"5%": 833, "10%": 1667, "15%": 2500, "20%": 3333}


def test_a_ramp_expects_nothing_before_it_ends_then_spreads_the_quota_over_the_rest():
    start, end = date(2026, 1, 1), date(2026, 12, 31)  # 364 days
    assert expected_hours(100, start, end, date(2026, 3, 1), ramp_days=90) == 0
    assert expected_hours(100, start, end, date(2026, 4, 1), ramp_days=90) == 0  # the ramp's last day
    assert expected_hours(100, start, end, date(2026, 8, 15), ramp_days=90) == pytest.approx(100 * 136 / 274)
    assert expected_hours(100, start, end, end, ramp_days=90) == 100
    assert expected_hours(100, start, end, date(2026, 12, 30), ramp_days=400) == 0  # a ramp past the end
    assert expected_hours(100, start, end, end, ramp_days=400) == 100


@pytest.mark.parametrize("current, wanted", [("draft", "awarded"), ("awarded", "in_execution"),
                                             ("in_execution", "completed"), ("completed", "closed")])
def test_a_market_moves_one_step_forward(current, wanted):
    from markets.domain import check_transition
    check_transition(current, wanted)


@pytest.mark.parametrize("current, wanted", [("draft", "in_execution"), ("awarded", "draft"),
                                             ("closed", "draft"), ("completed", "completed"), ("draft", "closed")])
def test_every_other_move_is_illegal_and_says_what_comes_next(current, wanted):
    from markets.domain import IllegalTransition, check_transition
    with pytest.raises(IllegalTransition) as refusal:
        check_transition(current, wanted)
    assert str(refusal.value).startswith("Un marché «")


def test_progress_is_broken_down_and_drawn_month_by_month():
    from markets.domain import Fact, breakdown, monthly_series
    facts = [Fact(600, "validated", "2026-01", "direct_hire", "aude-departement"),
             Fact(450, "validated", "2026-02", "etti", "aude-grand-narbonne"),
             Fact(200, "submitted", "2026-02", "etti", "aude-grand-narbonne"),
             Fact(999, "rejected", "2026-02", "etti", "aude-grand-narbonne"),
             Fact(777, "superseded", "2026-01", "direct_hire", "aude-departement")]

    assert breakdown(facts, "territory") == {
        "aude-departement": {"realised_hours": 6.0, "declared_hours": 0.0},
        "aude-grand-narbonne": {"realised_hours": 4.5, "declared_hours": 2.0}}
    series = monthly_series(facts, 12, date(2026, 1, 1), date(2026, 3, 31))
    assert [m["month"] for m in series] == ["2026-01", "2026-02", "2026-03"]
    assert [m["cumulative_realised_hours"] for m in series] == [6.0, 10.5, 10.5]
    assert series[1]["declared_hours"] == 2.0
    assert series[-1]["cumulative_expected_hours"] == 12
    assert series[0]["cumulative_expected_hours"] == pytest.approx(12 * 30 / 89, abs=0.01)

