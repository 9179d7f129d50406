"""The markets service through its Flask test client, against the real broker and store."""
import pytest

from support import events_of, produce, read_topic, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
MARKET = {"reference": "2026-CA-014", "title": "Réhabilitation du groupe scolaire Jean-Jaurès",
          "buyer_name": "Commune de Carcassonne", "nature": "works", "lead_territory": CARCASSONNE,
          "start_date": "2026-01-01", "end_date": "2027-12-31"}
LOT = {"number": 1, "title": "Gros œuvre", "trade": "maçonnerie", "amount_excl_vat": 1000000,
       "labour_share": 0.5, "insertion_rate": 0.05, "hourly_cost": 30}


@pytest.fixture
def client(service_env):
    service_env("markets")
    from markets.app import create_app
    return create_app().test_client()


@pytest.fixture
def facilitator(auth):
    return auth("facilitator", CARCASSONNE)


def create_lot(client, headers, market=MARKET, lot=LOT) -> dict:
    market_id = client.post("/api/v1/markets", json=market, headers=headers).json["id"]
    response = client.post(f"/api/v1/markets/{market_id}/lots", json=lot, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_a_lot_gets_the_quota_of_the_sizing_formula_with_its_breakdown(client, facilitator):
    lot = create_lot(client, facilitator)

    assert lot["quota"]["hours"] == 833
    assert lot["quota"]["computed_hours"] == 833
    assert lot["quota"]["labour_share"] == 0.5
    assert lot["progress"]["realised_hours"] == 0


def test_bad_input_gets_a_french_problem_and_creates_nothing(client, facilitator):
    bad_nature = client.post("/api/v1/markets", json={**MARKET, "nature": "bridges"}, headers=facilitator)
    bad_period = client.post("/api/v1/markets", json={**MARKET, "end_date": "2025-01-01"}, headers=facilitator)

    assert bad_nature.status_code == bad_period.status_code == 422
    assert bad_nature.mimetype == "application/problem+json"
    assert bad_nature.json["errors"]["nature"][0].startswith("Nature attendue")
    assert bad_period.json["errors"]["end_date"] == ["La date de fin doit suivre la date de début."]
    assert client.get("/api/v1/markets", headers=facilitator).json == []


def test_calls_without_token_or_outside_the_territory_are_refused(client, facilitator, auth):
    assert client.post("/api/v1/markets", json=MARKET).status_code == 401
    assert client.post("/api/v1/markets", json=MARKET,
                       headers={"Authorization": "Bearer forged"}).status_code == 401
    narbonne = auth("facilitator", NARBONNE)
    assert client.post("/api/v1/markets", json=MARKET, headers=narbonne).status_code == 403
    lot = create_lot(client, facilitator)
    refused = client.get(f"/api/v1/lots/{lot['id']}", headers=narbonne)
    assert refused.status_code == 403
    assert refused.json["detail"].startswith("Vous n'intervenez")
    assert client.post("/api/v1/markets", json=MARKET, headers=auth("buyer", CARCASSONNE)).status_code == 403


def test_an_invalid_siret_is_refused_when_awarding(client, facilitator):
    lot = create_lot(client, facilitator)
    response = client.post(f"/api/v1/lots/{lot['id']}/award",
                           json={"contractor_siret": "73282932000075", "contractor_name": "BTP Aude"},
                           headers=facilitator)
    assert response.status_code == 422
    assert "SIRET invalide" in response.json["errors"]["contractor_siret"][0]


def test_awarding_publishes_lot_awarded_with_every_territory(client, facilitator, start_worker, topic, infra):
    market = {**MARKET, "associated_territories": [NARBONNE], "state_market": True}
    lot = create_lot(client, facilitator, market=market)
    client.post(f"/api/v1/lots/{lot['id']}/award",
                json={"contractor_siret": "732 829 320 00074", "contractor_name": "BTP Aude"}, headers=facilitator)
    start_worker("markets")

    records = read_topic(infra.kafka_bootstrap, topic("markets.events"), expect=3)
    awarded = [e for e in events_of(records) if e["type"] == "lot.awarded"]
    assert len(awarded) == 1
    assert awarded[0]["territories"] == [CARCASSONNE, NARBONNE]
    assert awarded[0]["payload"]["contractor_siret"] == "73282932000074"
    assert awarded[0]["key"] == lot["id"]


def test_validated_hours_move_progress_and_reaching_the_quota_is_published_once(
        client, facilitator, start_worker, topic, infra):
    from plumbing.events import Event, encode
    lot = create_lot(client, facilitator, lot={**LOT, "amount_excl_vat": 12000})  # 10 hours
    start_worker("markets")

    def declaration(number, type_, centihours):
        return Event(type=type_, producer="hours", key=lot["id"], territories=[CARCASSONNE],
                     payload={"declaration_id": f"d{number}", "lot_id": lot["id"], "centihours": centihours})

    hours_topic = topic("hours.events")
    for event in (declaration(1, "declaration.submitted", 600), declaration(1, "declaration.validated", 600),
                  declaration(2, "declaration.validated", 450)):
        produce(infra.kafka_bootstrap, hours_topic, encode(event), key=lot["id"].encode())
    produce(infra.kafka_bootstrap, hours_topic, encode(declaration(2, "declaration.validated", 450)))  # again

    progress = wait_until(lambda: (p := client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator)
                                   .json["progress"])["realised_hours"] == 10.5 and p, what="10.5 hours")
    assert progress["status"] == "reached"
    reached = wait_until(lambda: [e for e in events_of(read_topic(infra.kafka_bootstrap, topic("markets.events"),
                                                                  expect=99, timeout=2))
                                  if e["type"] == "lot.quota_reached"], what="lot.quota_reached")
    assert len(reached) == 1
    assert reached[0]["payload"]["realised_hours"] == 10.5
