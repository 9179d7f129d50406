"""The hours service's read model of participants, fed by the participants service's real events:
a revoked, ended or erased eligibility makes the hours service refuse the lines it no longer covers."""
import pytest
from plumbing.events import Event, encode

from support import produce, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
SIRET = "73282932000074"
LOT_ID = "lot-ecole-1"
LINE = {"lot_id": LOT_ID, "participant_id": "p-1", "month": "2026-03", "hours": 35, "mode": "direct_hire"}


@pytest.fixture
def client(service_env):
    service_env("hours")
    from hours.app import create_app
    return create_app().test_client()


@pytest.fixture
def publish(infra, topic):
    def send(type_, key, payload, service="participants"):
        event = Event(type=type_, producer=service, key=key, territories=[CARCASSONNE], payload=payload)
        produce(infra.kafka_bootstrap, topic(f"{service}.events"), encode(event), key=key.encode())
    return send


@pytest.fixture
def contractor_key(client, auth):
    return register_contractor(client, auth)


def register_contractor(client, auth) -> dict:
    facilitator = auth("facilitator", CARCASSONNE)
    assert client.post("/api/v1/contractors", json={"siret": SIRET, "name": "BTP Aude"},
                       headers=facilitator).status_code == 201
    return {"X-API-Key": client.post(f"/api/v1/contractors/{SIRET}/api-keys", json={},
                                     headers=facilitator).json["api_key"]}


@pytest.fixture
def eligible(client, publish, start_worker):
    learn_lot_and_participants(publish, start_worker)


def learn_lot_and_participants(publish, start_worker) -> None:
    """A lot held by the contractor and participants p-1, p-2 eligible from 2026-01-01 to 2027-12-31."""
    publish("lot.awarded", LOT_ID, {"lot_id": LOT_ID, "market_id": "m1", "contractor_siret": SIRET,
                                    "start_date": "2026-01-01", "end_date": "2027-12-31"}, service="markets")
    publish("market.status_changed", "m1", {"market_id": "m1", "status": "in_execution"}, service="markets")
    for participant_id in ("p-1", "p-2"):
        publish("eligibility.granted", participant_id, {
            "participant_id": participant_id, "territory": CARCASSONNE, "categories": ["rqth"],
            "eligible_from": "2026-01-01", "eligible_until": "2027-12-31"})
    start_worker("hours")
    from hours.store import HeldLot, MarketState, ParticipantWindow
    wait_until(lambda: HeldLot.objects.count() == 1 and ParticipantWindow.objects.count() == 2
               and MarketState.objects.count() == 1,
               what="the lot and the participants learnt from events")


def declare(client, key, **changes):
    return client.post("/api/v1/declarations", json={**LINE, **changes}, headers=key)


def test_an_erased_participant_is_forgotten_and_their_declarations_stay(client, contractor_key, eligible,
                                                                        publish):
    from hours.store import Declaration, ParticipantWindow
    assert declare(client, contractor_key).status_code == 201

    publish("participant.erased", "p-1", {"participant_id": "p-1", "territory": CARCASSONNE})
    wait_until(lambda: ParticipantWindow.objects(id="p-1").count() == 0, what="the window dropped")

    refused = declare(client, contractor_key, month="2026-04")
    assert refused.status_code == 422
    assert refused.json["rule"] == "participant_unknown"
    assert [d.participant_id for d in Declaration.objects] == ["p-1"]  # kept, under the opaque id
    assert declare(client, contractor_key, participant_id="p-2").status_code == 201  # others untouched


def test_hours_after_a_revocation_or_the_end_of_the_window_are_refused(client, contractor_key, eligible,
                                                                      publish):
    from hours.store import ParticipantWindow
    publish("eligibility.revoked", "p-1", {"participant_id": "p-1", "territory": CARCASSONNE,
                                           "revoked_on": "2026-03-31"})
    publish("eligibility.window_ended", "p-2", {"participant_id": "p-2", "territory": CARCASSONNE,
                                                "eligible_until": "2026-02-28"})
    wait_until(lambda: ParticipantWindow.objects(id="p-1").first().to_domain()[-1].last_day.isoformat() == "2026-03-31"
               and ParticipantWindow.objects(id="p-2").first().to_domain()[-1].last_day.isoformat() == "2026-02-28",
               what="the revocation and the end of the window applied")

    assert declare(client, contractor_key, month="2026-03").status_code == 201  # the last month covered
    after_revocation = declare(client, contractor_key, month="2026-04")
    assert after_revocation.status_code == 422
    assert after_revocation.json["rule"] == "participant_not_eligible"
    assert "au 31/03/2026" in after_revocation.json["detail"]
    assert declare(client, contractor_key, participant_id="p-2", month="2026-02").status_code == 201
    after_the_end = declare(client, contractor_key, participant_id="p-2", month="2026-03")
    assert after_the_end.json["rule"] == "participant_not_eligible"
    assert "au 28/02/2026" in after_the_end.json["detail"]


def test_with_the_read_cache_on_an_erasure_is_honoured_within_the_cache_time(service_env, auth, publish,
                                                                            start_worker):
    import time
    service_env("hours", HOURS_READ_CACHE_SECONDS="1")
    from hours.app import create_app
    from hours.store import ParticipantWindow
    client = create_app().test_client()
    key = register_contractor(client, auth)
    learn_lot_and_participants(publish, start_worker)
    assert declare(client, key).status_code == 201  # the window is now kept in memory

    publish("participant.erased", "p-1", {"participant_id": "p-1", "territory": CARCASSONNE})
    wait_until(lambda: ParticipantWindow.objects(id="p-1").count() == 0, what="the window dropped")
    gone = time.monotonic()
    time.sleep(1.05)  # the cache's time: an answer from memory may lag the store this long, no more

    refused = declare(client, key, month="2026-04")
    assert refused.json.get("rule") == "participant_unknown", f"{time.monotonic() - gone:.2f} s after erasure"


def test_with_the_read_cache_on_a_line_is_never_refused_on_what_a_worker_kept(service_env, auth, publish,
                                                                               start_worker):
    """A facilitator starts a market and the company declares at once: the worker that refused a moment ago
    (and kept the market as awarded) reads it again rather than refuse on a stale copy."""
    service_env("hours", HOURS_READ_CACHE_SECONDS="600")
    from hours.app import create_app
    from hours.store import MarketState
    client = create_app().test_client()
    key = register_contractor(client, auth)
    learn_lot_and_participants(publish, start_worker)
    publish("market.status_changed", "m1", {"market_id": "m1", "status": "awarded"}, service="markets")
    wait_until(lambda: MarketState.objects(id="m1").first().status == "awarded", what="the market back to awarded")
    early = declare(client, key)
    assert early.json.get("rule") == "lot_not_in_execution"  # and the market's state is now kept for 10 minutes

    publish("market.status_changed", "m1", {"market_id": "m1", "status": "in_execution"}, service="markets")
    wait_until(lambda: MarketState.objects(id="m1").first().status == "in_execution", what="the market started")
    assert declare(client, key).status_code == 201
    assert declare(client, key, month="2026-04").status_code == 201  # and the worker now keeps the new state


def test_hours_after_an_exit_are_refused_with_the_exit_date(client, contractor_key, eligible, publish):
    from hours.store import ParticipantWindow
    publish("participant.exited", "p-1", {"participant_id": "p-1", "territory": CARCASSONNE,
                                          "outcome": "training", "exit_date": "2026-03-12"})
    wait_until(lambda: ParticipantWindow.objects(id="p-1").first().exited_on is not None, what="the exit learnt")

    assert declare(client, contractor_key, month="2026-03").status_code == 201  # the month of the exit counts
    dated = {key: value for key, value in LINE.items() if key != "month"}
    assert client.post("/api/v1/declarations", json={**dated, "start_date": "2026-02-02", "end_date": "2026-02-27"},
                       headers=contractor_key).status_code == 201
    for after in ({**LINE, "month": "2026-04"}, {**dated, "start_date": "2026-03-10", "end_date": "2026-03-13"}):
        refused = client.post("/api/v1/declarations", json=after, headers=contractor_key)
        assert refused.status_code == 422, refused.json
        assert refused.json["rule"] == "participant_exited"
        assert refused.json["detail"].startswith("Le participant est sorti du dispositif le 12/03/2026 : ses heures "
                                                 "ne comptent plus après cette date")
    assert declare(client, contractor_key, participant_id="p-2", month="2026-04").status_code == 201


def test_lines_accepted_before_a_late_exit_are_flagged_then_confirmed_or_rejected(client, contractor_key, eligible,
                                                                                 publish, auth):
    from hours.store import ParticipantWindow
    facilitator, foreign = auth("facilitator", CARCASSONNE), auth("facilitator", "aude-grand-narbonne")
    ids = {month: declare(client, contractor_key, month=month).json["id"] for month in ("2026-02", "2026-04",
                                                                                          "2026-05", "2026-06")}
    other = declare(client, contractor_key, participant_id="p-2", month="2026-05").json["id"]
    assert client.post(f"/api/v1/declarations/{ids['2026-04']}/validate", headers=facilitator).status_code == 200
    assert client.post(f"/api/v1/declarations/{ids['2026-06']}/reject", json={"reason": "Heures en double"},
                       headers=facilitator).status_code == 200
    assert client.get("/api/v1/declarations/exit-reviews", headers=facilitator).json == []

    exit_event = {"participant_id": "p-1", "territory": CARCASSONNE, "outcome": "permanent_contract",
                  "exit_date": "2026-03-31"}
    publish("participant.exited", "p-1", exit_event)
    publish("participant.exited", "p-1", exit_event)  # redelivered: flagged once
    wait_until(lambda: ParticipantWindow.objects(id="p-1").first().exited_on is not None, what="the exit learnt")
    wait_until(lambda: len(client.get("/api/v1/declarations/exit-reviews", headers=facilitator).json) == 2,
               what="the lines after the exit flagged")
    flagged = client.get("/api/v1/declarations/exit-reviews", headers=facilitator).json
    assert [(line["id"], line["status"]) for line in flagged] == [(ids["2026-04"], "validated"),
                                                                  (ids["2026-05"], "submitted")]
    assert flagged[0]["exit_review"] == {"status": "pending", "exited_on": "2026-03-31", "reviewed_by": None,
                                         "reviewed_at": None}
    for untouched in (ids["2026-02"], ids["2026-06"], other):  # before the exit, rejected already, someone else
        assert client.get(f"/api/v1/declarations/{untouched}", headers=facilitator).json["exit_review"] is None
    assert client.get("/api/v1/declarations/exit-reviews", headers=foreign).json == []
    assert client.post(f"/api/v1/declarations/{ids['2026-04']}/exit-review", json={"decision": "confirm"},
                       headers=foreign).status_code in (403, 404)
    no_reason = client.post(f"/api/v1/declarations/{ids['2026-04']}/exit-review", json={"decision": "reject"},
                            headers=facilitator)
    assert no_reason.status_code == 422
    assert no_reason.json["errors"]["reason"] == ["Motif obligatoire pour rejeter : l'entreprise le lira."]

    rejected = client.post(f"/api/v1/declarations/{ids['2026-04']}/exit-review", headers=facilitator,
                           json={"decision": "reject", "reason": "Sortie en CDI le 31/03 : heures d'avril hors clause"})
    assert rejected.status_code == 200, rejected.json
    assert rejected.json["status"] == "rejected"  # no longer counts
    assert rejected.json["rejection_reason"] == "Sortie en CDI le 31/03 : heures d'avril hors clause"
    assert rejected.json["exit_review"]["status"] == "rejected"
    confirmed = client.post(f"/api/v1/declarations/{ids['2026-05']}/exit-review", json={"decision": "confirm"},
                            headers=facilitator)
    assert confirmed.status_code == 200
    assert (confirmed.json["status"], confirmed.json["exit_review"]["status"]) == ("submitted", "confirmed")
    assert confirmed.json["exit_review"]["reviewed_by"]
    again = client.post(f"/api/v1/declarations/{ids['2026-05']}/exit-review", json={"decision": "reject",
                        "reason": "finalement non"}, headers=facilitator)
    assert again.status_code == 409
    assert client.get("/api/v1/declarations/exit-reviews", headers=facilitator).json == []


def test_a_line_counts_under_the_eligibility_decision_in_force_over_its_period(client, contractor_key, eligible,
                                                                              publish):
    from hours.store import ParticipantWindow
    publish("eligibility.granted", "p-3", {"participant_id": "p-3", "territory": CARCASSONNE, "eligibility_id": "d1",
                                           "eligible_from": "2026-01-01", "eligible_until": "2027-12-31"})
    publish("eligibility.revoked", "p-3", {"participant_id": "p-3", "territory": CARCASSONNE, "eligibility_id": "d1",
                                           "revoked_on": "2026-02-28"})
    publish("eligibility.granted", "p-3", {"participant_id": "p-3", "territory": CARCASSONNE, "eligibility_id": "d2",
                                           "eligible_from": "2026-05-01", "eligible_until": "2028-04-30"})
    wait_until(lambda: len(ParticipantWindow.objects(id="p-3").first().periods) == 2
               and ParticipantWindow.objects(id="p-3").first().periods[0].revoked_on is not None,
               what="the second decision learnt")

    assert declare(client, contractor_key, participant_id="p-3", month="2026-02").status_code == 201  # under d1
    assert declare(client, contractor_key, participant_id="p-3", month="2026-06").status_code == 201  # under d2
    between = declare(client, contractor_key, participant_id="p-3", month="2026-03")
    assert between.status_code == 422
    assert between.json["rule"] == "participant_not_eligible"
    assert between.json["detail"] == ("Le participant n'est pas éligible sur toute la période : ses heures comptent "
                                      "du 01/01/2026 au 28/02/2026 et du 01/05/2026 au 30/04/2028.")
