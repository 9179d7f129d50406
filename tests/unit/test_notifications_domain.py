"""Alert rules of the notifications service: plain functions, no infrastructure."""
from datetime import date

import pytest
from notifications.domain import (AUDIENCE_OF, NBSP, IncompleteEvent, Kind, LotFacts, alert_for,
                                  declaration_rejected_alert, delivery_id, digest_id, end_approaching_alert,
                                  format_date, format_hours, kinds_for, no_declaration_alert, retry_delay_s, sign,
                                  parse_allowed_hosts, signature_valid, webhook_address_refusal,
                                  window_ending_alert)

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


# --- the rules added with subscriptions, channels and time-based alerts ------------------------------
def test_back_on_track_is_an_information_only_after_a_risk():
    alert = alert_for("lot.status_changed", status_changed("on_track", realised=700, previous="at_risk"))

    assert (alert.kind, alert.severity, alert.title) == (Kind.BACK_ON_TRACK, "info", "Lot revenu dans la trajectoire")
    assert french(alert.message).endswith("l'avancement est de nouveau conforme aux heures attendues.")
    assert alert_for("lot.status_changed", status_changed("on_track", previous="not_started")) is None


def test_the_same_lot_in_the_same_state_is_one_alert_whatever_the_event():
    first = alert_for("lot.status_changed", status_changed("at_risk", realised=50.25))
    again = alert_for("lot.status_changed", status_changed("at_risk", realised=50.25, previous="behind"))
    later = alert_for("lot.status_changed", status_changed("at_risk", realised=60))

    assert first.key == again.key == "at_risk:lot-1:5025:833"
    assert later.key != first.key
    reached = alert_for("lot.quota_reached", {**LOT, "realised_hours": 900.0, "quota_hours": 833})
    assert reached.key == "quota_reached:lot-1:833"
    assert reached.context["market_reference"] == "2026-CA-014" and reached.figures["realised_hours"] == 900.0


def lot(**changes) -> LotFacts:
    values = dict(lot_id="lot-1", market_id="m-1", market_reference="2026-CA-014", market_title="Groupe scolaire",
                  lot_number=1, lot_title="Gros œuvre", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                  quota_hours=100, realised_hours=40.0, market_status="in_execution")
    return LotFacts(**{**values, **changes})


def test_no_declaration_counts_from_the_last_one_or_from_the_start():
    assert no_declaration_alert(lot(), date(2026, 1, 30), 30) is None
    from_start = no_declaration_alert(lot(), date(2026, 1, 31), 30)
    assert from_start.key == "no_declaration:lot-1:2026-01-01"
    assert "aucune déclaration d'heures depuis le début, le 1er janvier 2026 (30 jours)" in from_start.message
    since = no_declaration_alert(lot(last_declaration_on=date(2026, 3, 10)), date(2026, 4, 20), 30)
    assert since.key == "no_declaration:lot-1:2026-03-10" and since.figures["days_without_declaration"] == 41
    assert no_declaration_alert(lot(last_declaration_on=date(2026, 3, 10)), date(2026, 4, 8), 30) is None


@pytest.mark.parametrize("changes, today", [
    ({"market_status": "closed"}, date(2026, 6, 1)),  # not running
    ({"market_status": "completed"}, date(2026, 6, 1)),
    ({"status": "reached"}, date(2026, 6, 1)),  # finished
    ({}, date(2025, 12, 31)),  # not started
    ({}, date(2027, 1, 1)),  # over
])
def test_time_rules_concern_running_lots_only(changes, today):
    assert no_declaration_alert(lot(**changes), today, 1) is None
    assert end_approaching_alert(lot(**changes), today, 0.5) is None


def test_the_end_approaching_alert_comes_at_the_ratio_and_only_with_a_shortfall():
    assert end_approaching_alert(lot(), date(2026, 10, 19), 0.8) is None  # 291 of 364 days: 79.9 %
    alert = end_approaching_alert(lot(), date(2026, 10, 20), 0.8)
    assert (alert.kind, alert.severity) == (Kind.END_APPROACHING, "critical")
    assert alert.figures == {"realised_hours": 40.0, "expected_hours": 80.22, "quota_hours": 100,
                             "end_date": "2026-12-31", "days_left": 72, "shortfall_hours": 60.0}
    assert "le marché se termine le 31 décembre 2026 (dans 72 jours)" in french(alert.message)
    assert alert.key == "end_approaching:lot-1:2026-12-31"
    assert end_approaching_alert(lot(realised_hours=81.0), date(2026, 10, 20), 0.8) is None
    assert end_approaching_alert(lot(), date(2026, 7, 2), 0.5) is not None  # a territory that wants it earlier


def test_a_window_ending_names_the_participant_by_opaque_id_only():
    alert = window_ending_alert({"participant_id": "7f3a9c", "territory": "aude-departement",
                                 "eligible_until": "2027-03-01", "days_left": 30})

    assert (alert.kind, alert.lot_id, alert.key) == (Kind.WINDOW_ENDING, None, "window_ending:7f3a9c:2027-03-01")
    assert "participant 7f3a9c se termine le 1er mars 2027" in alert.message
    assert alert.context == {"participant_id": "7f3a9c", "territory": "aude-departement"}
    with pytest.raises(IncompleteEvent):
        window_ending_alert({"participant_id": "7f3a9c", "territory": "aude-departement", "eligible_until": "bientôt"})


def test_a_rejected_declaration_tells_the_contractor_which_line_and_why():
    payload = {"declaration_id": "d-9", "lot_id": "lot-1", "participant_id": "p-1", "month": "2026-05",
               "centihours": 15050, "contractor_siret": "73282932000074", "reason": "mois déjà déclaré"}
    known = {**LOT, "buyer_id": "b-1"}

    alert = declaration_rejected_alert(payload, known)
    assert alert.key == "declaration_rejected:d-9"
    assert french(alert.message) == ("Lot 1 « Gros œuvre » du marché 2026-CA-014 (Réhabilitation du groupe scolaire "
                                     "Jean-Jaurès) : la déclaration d-9 de 150,5 h pour 2026-05 a été refusée "
                                     "(mois déjà déclaré). Corrigez-la et déclarez-la de nouveau.")
    assert "p-1" not in alert.message and "participant_id" not in alert.context
    assert alert.context["contractor_siret"] == "73282932000074"
    unknown_lot = declaration_rejected_alert({**payload, "reason": None})
    assert french(unknown_lot.message).startswith("Lot lot-1 : la déclaration d-9 de 150,5 h pour 2026-05 a été "
                                                  "refusée. ")


def test_who_may_receive_which_kind():
    assert kinds_for("buyer") == ["quota_reached", "at_risk", "behind", "back_on_track", "no_declaration",
                                  "end_approaching"]
    assert "declaration_rejected" in kinds_for("contractor") and "window_ending" not in kinds_for("contractor")
    assert AUDIENCE_OF[Kind.WINDOW_ENDING] == {"facilitator"}
    assert "declaration_rejected" not in kinds_for("facilitator")


def test_deliveries_are_identified_by_alert_recipient_and_channel():
    assert delivery_id("at_risk:lot-1:5000:100", "r-1", "email") == "at_risk:lot-1:5000:100:r-1:email"
    assert digest_id(date(2026, 5, 12), "r-1", "webhook") == "digest-2026-05-12:r-1:webhook"


def test_retries_back_off_exponentially_up_to_a_ceiling():
    assert [retry_delay_s(n, 30, 3600) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_webhook_signature_is_an_hmac_of_the_timestamp_and_the_body():
    body = b'{"alerts":[]}'
    signature = sign("whsec_abc", "1767225600", body)
    # computed independently: printf '1767225600.{"alerts":[]}' | openssl dgst -sha256 -hmac whsec_abc
    assert signature == "sha256=78eec0a24e6b2e985dd51e98c9e4cc652299b141e42e281c690ff4b415400695"
    assert signature_valid("whsec_abc", "1767225600", body, signature)
    assert not signature_valid("whsec_abc", "1767225601", body, signature)
    assert not signature_valid("other", "1767225600", body, signature)


@pytest.mark.parametrize("day, expected", [(date(2026, 3, 1), "1er mars 2026"), (date(2026, 8, 15), "15 août 2026")])
def test_dates_are_written_the_french_way(day, expected):
    assert format_date(day) == expected


ALLOWED = parse_allowed_hosts(["127.0.0.1", " hooks.internal.example. ", "10.20.0.0/16", ""])


@pytest.mark.parametrize("host, address, refusal", [
    ("hooks.example.org", "93.184.215.14", None), ("hooks.example.org", "2606:4700::1111", None),
    ("hooks.example.org", "::ffff:93.184.215.14", None),  # IPv4-mapped: the IPv4 address decides
    ("x", "127.0.0.2", "boucle locale"), ("x", "::1", "boucle locale"), ("x", "::ffff:127.0.0.1", "boucle locale"),
    ("x", "2002:7f00:1::", "boucle locale"),  # 6to4 carrying 127.0.0.1
    ("x", "10.0.0.1", "réseau privé"), ("x", "172.16.5.4", "réseau privé"), ("x", "192.168.0.1", "réseau privé"),
    ("x", "100.64.0.1", "réseau privé"), ("x", "fd12::1", "réseau privé"), ("x", "::ffff:10.0.0.1", "réseau privé"),
    ("x", "169.254.169.254", "lien local"), ("x", "fe80::1", "lien local"),
    ("x", "0.0.0.0", "adresse non spécifiée"), ("x", "::", "adresse non spécifiée"),
    ("x", "224.0.0.251", "multidiffusion"), ("x", "ff02::1", "multidiffusion"),
    ("x", "240.0.0.1", "adresse réservée"),
    # the operator's allow-list: an address, a name (whatever it resolves to), a network
    ("x", "127.0.0.1", None), ("HOOKS.internal.example", "10.9.9.9", None), ("x", "10.20.3.4", None),
    ("x", "10.21.3.4", "réseau privé")])
def test_a_webhook_reaches_public_addresses_and_those_the_operator_allows_only(host, address, refusal):
    assert webhook_address_refusal(host, address, ALLOWED) == (refusal and f"adresse refusée : {refusal}")
