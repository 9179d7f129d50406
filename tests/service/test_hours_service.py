"""The hours service through its Flask test client, its read models fed by real events."""
from datetime import date

import pymongo
import pytest
from plumbing.events import Event, encode

from support import events_of, produce, read_topic, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
SIRET = "73282932000074"
OTHER_SIRET = "55210055400013"
LOT_ID = "lot-ecole-1"


@pytest.fixture
def client(service_env):
    service_env("hours")  # the Aude region: Le Grand Narbonne validates lines at once, Carcassonne does not
    from hours.app import create_app
    return create_app().test_client()


@pytest.fixture
def facilitator(auth):
    return auth("facilitator", CARCASSONNE)


def publish(infra, topic, type_, key, payload, territories=(CARCASSONNE,)):
    event = Event(type=type_, producer=type_.split(".")[0], key=key, territories=list(territories),
                  payload=payload)
    produce(infra.kafka_bootstrap, topic, encode(event), key=key.encode())
    return event


@pytest.fixture
def contractor_key(client, facilitator):
    assert client.post("/api/v1/contractors", json={"siret": SIRET, "name": "BTP Aude"},
                       headers=facilitator).status_code == 201
    created = client.post(f"/api/v1/contractors/{SIRET}/api-keys", json={"label": "paie"}, headers=facilitator)
    assert created.status_code == 201
    return {"X-API-Key": created.json["api_key"]}


@pytest.fixture
def world(client, infra, topic, start_worker):
    """A lot held by the contractor and an eligible participant, known from real events."""
    def lot(lot_id=LOT_ID, siret=SIRET, territories=(CARCASSONNE,), market_id="m1"):
        publish(infra, topic("markets.events"), "lot.awarded", lot_id, {
            "lot_id": lot_id, "market_id": market_id, "contractor_siret": siret, "start_date": "2026-01-01",
            "end_date": "2027-12-31"}, territories)

    def participant(participant_id="p-1", start="2026-01-01", until="2027-12-31"):
        publish(infra, topic("participants.events"), "eligibility.granted", participant_id, {
            "participant_id": participant_id, "territory": CARCASSONNE, "categories": ["rqth"],
            "eligible_from": start, "eligible_until": until})

    def market(market_id, *statuses):
        for status in statuses:
            publish(infra, topic("markets.events"), "market.status_changed", market_id,
                    {"market_id": market_id, "status": status})

    lot()
    participant()
    lot("lot-other", OTHER_SIRET)
    lot("lot-narbonne", territories=(NARBONNE,))
    participant("p-ends-soon", until="2026-03-15")
    market("m1", "awarded", "in_execution")
    lot("lot-not-started", market_id="m2")
    market("m2", "awarded")
    start_worker("hours")
    from hours.store import HeldLot, MarketState, ParticipantWindow
    wait_until(lambda: HeldLot.objects.count() == 4 and ParticipantWindow.objects.count() == 2
               and MarketState.objects.count() == 2 and MarketState.objects.get(id="m1").status == "in_execution",
               what="read models fed from the markets and participants events")


LINE = {"lot_id": LOT_ID, "participant_id": "p-1", "month": "2026-03", "hours": 35.5, "mode": "direct_hire",
        "contract_type": "cdd"}


def test_an_api_key_is_shown_once_stored_hashed_and_revocable(client, facilitator, contractor_key, infra,
                                                              service_env):
    listed = client.get(f"/api/v1/contractors/{SIRET}/api-keys", headers=facilitator).json
    assert len(listed) == 1 and "api_key" not in listed[0]
    secret = contractor_key["X-API-Key"]
    stored = pymongo.MongoClient(infra.mongodb_url)[client.application.extensions["settings"].mongodb_db]
    assert secret not in str(list(stored.api_keys.find()))

    assert client.get(f"/api/v1/contractors/{SIRET}", headers=contractor_key).status_code == 200
    client.delete(f"/api/v1/contractors/{SIRET}/api-keys/{listed[0]['key_id']}", headers=facilitator)
    refused = client.get(f"/api/v1/contractors/{SIRET}", headers=contractor_key)
    assert refused.status_code == 401
    assert refused.json["detail"] == "Clé d'API inconnue ou révoquée."


def test_keys_are_managed_only_in_the_contractors_territories(client, contractor_key, auth):
    narbonne = auth("facilitator", NARBONNE)
    assert client.post(f"/api/v1/contractors/{SIRET}/api-keys", json={}, headers=narbonne).status_code == 403
    assert client.post("/api/v1/contractors", json={"siret": "12345678901234", "name": "X"},
                       headers=narbonne).status_code == 422
    assert client.get(f"/api/v1/contractors/{OTHER_SIRET}", headers=contractor_key).status_code == 404


def test_a_valid_line_is_accepted_and_published_for_the_markets_service(
        client, contractor_key, world, facilitator, infra, topic):
    response = client.post("/api/v1/declarations", json=LINE, headers=contractor_key)

    assert response.status_code == 201, response.json
    assert response.json["status"] == "submitted"  # Carcassonne does not auto-validate
    declaration_id = response.json["id"]
    validated = client.post(f"/api/v1/declarations/{declaration_id}/validate", headers=facilitator)
    assert validated.json["status"] == "validated"

    def declaration_events():
        return [e for e in events_of(read_topic(infra.kafka_bootstrap, topic("hours.events"), expect=3, timeout=2))
                if e["type"].startswith("declaration.")]
    events = wait_until(lambda: len(found := declaration_events()) == 2 and found, what="declaration events")
    assert [e["type"] for e in events] == ["declaration.submitted", "declaration.validated"]
    assert events[1]["payload"]["centihours"] == 3550
    assert events[1]["key"] == LOT_ID


def test_a_territory_with_auto_validation_validates_lines_that_pass_every_rule(client, contractor_key, world):
    response = client.post("/api/v1/declarations", json={**LINE, "lot_id": "lot-narbonne"},
                           headers=contractor_key)
    assert response.json["status"] == "validated"


@pytest.mark.parametrize("change, rule", [
    ({"lot_id": "lot-other"}, "lot_not_held"),
    ({"lot_id": "lot-unknown"}, "lot_not_held"),
    ({"lot_id": "lot-not-started"}, "lot_not_in_execution"),
    ({"month": f"{date.today().year + 1}-01"}, "period_in_future"),
    ({"month": "2025-12"}, "period_before_lot_start"),
    ({"hours": 0}, "hours_not_positive"),
    ({"hours": 208.5}, "hours_above_ceiling"),
    ({"participant_id": "p-unknown"}, "participant_unknown"),
    ({"participant_id": "p-ends-soon"}, "participant_not_eligible"),
])
def test_each_rule_refuses_with_its_name_and_a_french_reason(client, contractor_key, world, change, rule):
    response = client.post("/api/v1/declarations", json={**LINE, **change}, headers=contractor_key)

    assert response.status_code == 422, response.json
    assert response.json["rule"] == rule
    assert response.mimetype == "application/problem+json"
    from hours.store import Declaration
    assert Declaration.objects.count() == 0


def test_a_second_line_for_the_same_lot_participant_and_month_is_refused(client, contractor_key, world):
    assert client.post("/api/v1/declarations", json=LINE, headers=contractor_key).status_code == 201
    again = client.post("/api/v1/declarations", json={**LINE, "hours": 10}, headers=contractor_key)
    assert again.status_code == 409
    assert again.json["rule"] == "duplicate_line"


def test_malformed_lines_get_per_field_french_messages(client, contractor_key):
    response = client.post("/api/v1/declarations", json={"lot_id": LOT_ID, "month": "mars", "hours": 1.234,
                                                          "mode": "freelance"}, headers=contractor_key)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors["participant_id"] == ["Champ obligatoire."]
    assert errors["month"] == ["Mois attendu au format AAAA-MM (par exemple 2026-03)."]
    assert errors["hours"] == ["Au plus deux décimales (par exemple 7.5 ou 151.67)."]
    assert errors["mode"][0].startswith("Modalité inconnue")


def test_people_cannot_declare_and_contractors_cannot_validate(client, contractor_key, facilitator, world):
    assert client.post("/api/v1/declarations", json=LINE, headers=facilitator).status_code == 403
    declaration = client.post("/api/v1/declarations", json=LINE, headers=contractor_key).json
    assert client.post(f"/api/v1/declarations/{declaration['id']}/validate",
                       headers=contractor_key).status_code == 403
