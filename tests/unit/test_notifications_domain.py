"""Alert rules of the notifications service: plain functions, no infrastructure."""
import pytest
from notifications.domain import NBSP, IncompleteEvent, Kind, alert_for, format_hours

LOT = {"lot_id": "lot-1", "market_id": "market-1", "market_reference": "2026-CA-014",
       "market_title": "Réhabilitation du groupe scolaire Jean-Jaurès", "lot_number": 1,
       "lot_title": "Gros œuvre", "lead_territory": "aude-carcassonne-agglo"}


def status_changed(status, realised=300.0, previous="on_track"):
    return {**LOT, "previous_status": previous, "status": status, "realised_hours": realised,
            "quota_hours": 833}


def french(text: str) -> str:
    """Write expected texts with plain spaces; the formatter uses no-break spaces."""
    return text.replace(NBSP, " ")


@pytest.mark.parametrize("hours, expected", [
    (833, "833 h"), (833.0, "833 h"), (1250.5, "1 250,5 h"), (10.25, "10,25 h"), (0, "0 h"),
    (1234567.891, "1 234 567,89 h"), (999.999, "1 000 h"), (12.10, "12,1 h"),
])
def test_hours_are_written_the_french_way(hours, expected):
    assert format_hours(hours) == expected.replace(" ", NBSP)


def test_a_reached_quota_is_an_information():
    alert = alert_for("lot.quota_reached", {**LOT, "realised_hours": 833.0, "quota_hours": 833})

    assert (alert.kind, alert.severity) == (Kind.QUOTA_REACHED, "info")
    assert alert.title == "Objectif d'heures atteint"
    assert french(alert.message) == ("Lot 1 « Gros œuvre » du marché 2026-CA-014 (Réhabilitation du groupe "
                                     "scolaire Jean-Jaurès) : 833 h réalisées sur un objectif de 833 h.")
    assert (alert.lot_id, alert.market_id) == ("lot-1", "market-1")


def test_a_lot_at_risk_is_a_warning():
    alert = alert_for("lot.status_changed", status_changed("at_risk", realised=1250.5))

    assert (alert.kind, alert.severity, alert.title) == (Kind.AT_RISK, "warning", "Lot à risque")
    assert "1 250,5 h réalisées sur un objectif de 833 h : l'avancement est en retard" in french(alert.message)


def test_a_lot_behind_is_critical():
    alert = alert_for("lot.status_changed", status_changed("behind", previous="at_risk"))

    assert (alert.kind, alert.severity, alert.title) == (Kind.BEHIND, "critical", "Lot en retard")
    assert french(alert.message).endswith("moins de la moitié des heures attendues à ce jour.")


@pytest.mark.parametrize("status", ["not_started", "on_track", "reached", "closed_with_shortfall"])
def test_other_statuses_raise_no_alert(status):
    assert alert_for("lot.status_changed", status_changed(status)) is None


def test_events_about_other_things_raise_no_alert():
    assert alert_for("lot.awarded", {**LOT, "contractor_siret": "73282932000074"}) is None


@pytest.mark.parametrize("event_type, payload", [
    ("lot.quota_reached", {**LOT, "realised_hours": 833}),  # no quota
    ("lot.quota_reached", {**{k: v for k, v in LOT.items() if k != "lot_id"}, "realised_hours": 833,
                           "quota_hours": 833}),
    ("lot.quota_reached", {**LOT, "realised_hours": "833", "quota_hours": 833}),
    ("lot.quota_reached", {**LOT, "realised_hours": float("nan"), "quota_hours": 833}),
    ("lot.status_changed", {**status_changed("behind"), "lot_title": ""}),
    ("lot.status_changed", {k: v for k, v in status_changed("at_risk").items() if k != "status"}),
])
def test_an_incomplete_payload_can_never_become_an_alert(event_type, payload):
    with pytest.raises(IncompleteEvent):
        alert_for(event_type, payload)
