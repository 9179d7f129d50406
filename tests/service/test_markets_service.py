"""The markets service through its Flask test client, against the real broker and store."""
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from plumbing.auth import new_api_key
from plumbing.events import Event, encode

from support import events_of, produce, read_topic, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
DEPARTEMENT = "aude-departement"
BUYER = {"name": "Commune de Carcassonne", "siret": "21110069000018", "buyer_type": "commune",
         "territory": CARCASSONNE, "contacts": [{"name": "Service de la commande publique",
                                                 "email": "commande.publique@carcassonne.example"}]}
MARKET = {"reference": "2026-CA-014", "title": "Réhabilitation du groupe scolaire Jean-Jaurès",
          "nature": "works", "cpv_code": "45214200-2", "clause_kind": "execution_condition",
          "lead_territory": CARCASSONNE, "start_date": "2026-01-01", "end_date": "2027-12-31"}
LOT = {"number": 1, "title": "Gros œuvre", "trade": "masonry", "amount_excl_vat": 1000000,
       "labour_share": 0.5, "insertion_rate": 0.05, "hourly_cost": 30}
SIRET = "73282932000074"


@pytest.fixture
def client(service_env):
    service_env("markets")
    from markets.app import create_app
    return create_app().test_client()


@pytest.fixture
def facilitator(auth):
    return auth("facilitator", CARCASSONNE)


@pytest.fixture
def buyer(client, facilitator):
    response = client.post("/api/v1/buyers", json=BUYER, headers=facilitator)
    assert response.status_code == 201, response.json
    return response.json


def create_market(client, headers, buyer, **changes) -> dict:
    response = client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"], **changes}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def create_lot(client, headers, buyer, lot=LOT, **market_changes) -> dict:
    market = create_market(client, headers, buyer, **market_changes)
    response = client.post(f"/api/v1/markets/{market['id']}/lots", json=lot, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def publish(infra, topic, type_, key, payload, territories=(CARCASSONNE,)):
    event = Event(type=type_, producer="hours", key=key, territories=list(territories), payload=payload)
    produce(infra.kafka_bootstrap, topic, encode(event), key=key.encode())
    return event


def declaration(infra, topic, lot_id, number, type_, hours, **extra):
    return publish(infra, topic("hours.events"), type_, lot_id, {
        "declaration_id": f"d{number}", "lot_id": lot_id, "centihours": int(hours * 100), "month": "2026-03",
        "mode": "direct_hire", "territory": CARCASSONNE, **extra})


def markets_events(infra, topic, expect=1, timeout=3) -> list[dict]:
    return events_of(read_topic(infra.kafka_bootstrap, topic("markets.events"), expect=expect, timeout=timeout))


# --- buyers -----------------------------------------------------------------------------------
def test_buyers_are_registered_with_a_checked_siret_and_listed_by_territory_and_type(client, facilitator, buyer,
                                                                                     auth):
    invalid = client.post("/api/v1/buyers", json={**BUYER, "siret": "21110069000019"}, headers=facilitator)
    assert invalid.status_code == 422
    assert "SIRET invalide" in invalid.json["errors"]["siret"][0]
    assert client.post("/api/v1/buyers", json=BUYER, headers=facilitator).status_code == 409
    assert client.post("/api/v1/buyers", json={**BUYER, "buyer_type": "club"},
                       headers=facilitator).json["errors"]["buyer_type"][0].startswith("Type d'acheteur inconnu")
    client.post("/api/v1/buyers", json={**BUYER, "name": "Carcassonne Agglo", "siret": "20005712500011",
                                        "buyer_type": "intercommunality"}, headers=facilitator)

    listed = client.get("/api/v1/buyers?buyer_type=commune", headers=facilitator).json
    assert [b["name"] for b in listed] == ["Commune de Carcassonne"]
    assert len(client.get("/api/v1/buyers", headers=facilitator).json) == 2
    assert client.get("/api/v1/buyers", headers=auth("facilitator", NARBONNE)).json == []
    assert client.post("/api/v1/buyers", json=BUYER, headers=auth("facilitator", NARBONNE)).status_code == 403


def test_a_buyer_shows_the_share_of_its_markets_with_a_clause_and_the_hours_realised(
        client, facilitator, buyer, auth, start_worker, infra, topic):
    lot = create_lot(client, facilitator, buyer)
    create_market(client, facilitator, buyer, reference="2026-CA-015", clause_kind=None)
    start_worker("markets")
    declaration(infra, topic, lot["id"], 1, "declaration.validated", 12.5)
    wait_until(lambda: client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator)
               .json["progress"]["realised_hours"] == 12.5, what="hours applied")

    statistics = client.get(f"/api/v1/buyers/{buyer['id']}", headers=facilitator).json["statistics"]
    assert statistics == {"markets": 2, "markets_with_clause": 1, "clause_share": 0.5, "realised_hours": 12.5}
    own = auth("buyer", CARCASSONNE, buyer_id=buyer["id"])
    assert client.get(f"/api/v1/buyers/{buyer['id']}", headers=own).status_code == 200
    other = auth("buyer", CARCASSONNE, buyer_id="someone-else")
    assert client.get(f"/api/v1/buyers/{buyer['id']}", headers=other).status_code == 403


# --- markets ----------------------------------------------------------------------------------
def test_bad_input_gets_a_french_problem_and_creates_nothing(client, facilitator, buyer):
    bad_nature = client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"], "nature": "bridges"},
                             headers=facilitator)
    bad_period = client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"], "end_date": "2025-01-01"},
                             headers=facilitator)
    bad_cpv = client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"], "cpv_code": "4521"},
                          headers=facilitator)
    unknown_buyer = client.post("/api/v1/markets", json={**MARKET, "buyer_id": "nobody"}, headers=facilitator)
    missing = client.post("/api/v1/markets", json={}, headers=facilitator)

    assert bad_nature.status_code == bad_period.status_code == bad_cpv.status_code == 422
    assert bad_nature.mimetype == "application/problem+json"
    assert bad_nature.json["errors"]["nature"][0].startswith("Nature attendue")
    assert bad_period.json["errors"]["end_date"] == ["La date de fin doit suivre la date de début."]
    assert bad_cpv.json["errors"]["cpv_code"] == ["Code CPV attendu au format 45000000-7."]
    assert unknown_buyer.status_code == 422 and unknown_buyer.json["errors"] == {"buyer_id": ["Inconnu."]}
    assert missing.json["errors"]["reference"] == ["Champ obligatoire."]
    assert client.get("/api/v1/markets", headers=facilitator).json == []


def test_calls_without_token_or_outside_the_territory_are_refused(client, facilitator, buyer, auth):
    assert client.post("/api/v1/markets", json=MARKET).status_code == 401
    assert client.post("/api/v1/markets", json=MARKET, headers={"Authorization": "Bearer forged"}).status_code == 401
    narbonne = auth("facilitator", NARBONNE)
    assert client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"]},
                       headers=narbonne).status_code == 403
    lot = create_lot(client, facilitator, buyer)
    refused = client.get(f"/api/v1/lots/{lot['id']}", headers=narbonne)
    assert refused.status_code == 403
    assert refused.json["detail"].startswith("Vous n'intervenez")
    assert client.post("/api/v1/markets", json=MARKET, headers=auth("buyer", CARCASSONNE)).status_code == 403
    assert client.post(f"/api/v1/markets/{lot['market_id']}/status", json={"status": "awarded"},
                       headers=auth("operator", CARCASSONNE)).status_code == 403


def test_a_market_names_only_a_buyer_of_the_callers_territories(client, facilitator, buyer, auth):
    narbonne = auth("facilitator", NARBONNE)
    foreign = client.post("/api/v1/markets", headers=narbonne,
                          json={**MARKET, "lead_territory": NARBONNE, "buyer_id": buyer["id"]})
    missing = client.post("/api/v1/markets", headers=narbonne,
                          json={**MARKET, "lead_territory": NARBONNE, "buyer_id": "nobody"})
    # Refused as a buyer that does not exist: the answer does not tell that it does, nor its name.
    assert foreign.status_code == missing.status_code == 422
    assert foreign.mimetype == "application/problem+json"
    assert foreign.json["detail"] == missing.json["detail"] == ("Acheteur inconnu sur vos territoires : "
                                                                "enregistrez-le d'abord.")
    assert foreign.json["errors"] == missing.json["errors"] == {"buyer_id": ["Inconnu."]}
    assert BUYER["name"] not in foreign.get_data(as_text=True)
    assert client.get("/api/v1/markets", headers=narbonne).json == []
    assert client.get(f"/api/v1/buyers/{buyer['id']}", headers=facilitator).json["statistics"]["markets"] == 0

    # A market shared with Narbonne cannot be moved to a buyer of Narbonne, nor to another, by update.
    shared = create_market(client, facilitator, buyer, associated_territories=[NARBONNE])
    other = client.post("/api/v1/buyers", headers=narbonne, json={**BUYER, "siret": "21110262000013",
                                                                   "name": "Commune de Narbonne",
                                                                   "territory": NARBONNE})
    assert other.status_code == 201, other.json
    moved = client.patch(f"/api/v1/markets/{shared['id']}", json={"buyer_id": other.json["id"]}, headers=narbonne)
    assert moved.status_code == 422 and moved.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/markets/{shared['id']}", headers=facilitator).json["buyer_id"] == buyer["id"]


def test_a_market_moves_one_step_at_a_time_and_illegal_moves_get_409(client, facilitator, buyer):
    market = create_market(client, facilitator, buyer)

    def move(status):
        return client.post(f"/api/v1/markets/{market['id']}/status", json={"status": status}, headers=facilitator)

    skipped = move("in_execution")
    assert skipped.status_code == 409
    assert skipped.json["detail"] == ("Un marché « en préparation » ne peut pas passer à « en exécution » : "
                                      "l'étape suivante est « attribué ».")
    for status in ("awarded", "in_execution", "completed", "closed"):
        assert move(status).json["status"] == status
    assert move("draft").status_code == 409
    assert move("unknown").status_code == 422


def test_a_market_and_a_buyer_say_their_status_kind_and_next_step_in_french(client, facilitator, buyer, auth):
    assert buyer["buyer_type_label"] == "commune"
    market = create_market(client, facilitator, buyer)
    assert (market["status_label"], market["nature_label"], market["clause_kind_label"]) == (
        "en préparation", "travaux", "condition d'exécution")
    assert (market["next_status"], market["next_status_label"]) == ("awarded", "attribué")
    without = create_market(client, facilitator, buyer, reference="2026-CA-015", clause_kind=None)
    assert without["clause_kind_label"] == "sans clause sociale"
    for status in ("awarded", "in_execution", "completed", "closed"):
        moved = client.post(f"/api/v1/markets/{market['id']}/status", json={"status": status}, headers=facilitator)
    assert (moved.json["status_label"], moved.json["next_status"], moved.json["next_status_label"]) == (
        "clos", None, None)
    listed = client.get(f"/api/v1/buyers/{buyer['id']}", headers=facilitator).json
    assert listed["buyer_type_label"] == "commune"

    vocabulary = client.get("/api/v1/vocabulary", headers=auth("buyer", CARCASSONNE, buyer_id=buyer["id"])).json
    assert {"value": "intercommunality", "label": "intercommunalité"} in vocabulary["buyer_types"]
    assert {"value": "none", "label": "sans clause sociale"} in vocabulary["clause_kinds"]
    assert [c["label"] for c in vocabulary["market_statuses"]] == ["en préparation", "attribué", "en exécution",
                                                                   "achevé", "clos"]
    assert client.get("/api/v1/vocabulary").status_code == 401


def test_markets_are_filtered_sorted_and_paginated(client, facilitator, buyer, auth):
    create_market(client, facilitator, buyer, reference="B-2", nature="services", start_date="2025-01-01",
                  end_date="2025-12-31")
    create_market(client, facilitator, buyer, reference="A-1")
    create_market(client, facilitator, buyer, reference="C-3", lead_territory=CARCASSONNE,
                  associated_territories=[NARBONNE])

    def references(query, headers=facilitator):
        return [m["reference"] for m in client.get(f"/api/v1/markets?{query}", headers=headers).json]

    assert references("") == ["A-1", "B-2", "C-3"]
    assert references("sort=-reference") == ["C-3", "B-2", "A-1"]
    assert references("nature=services") == ["B-2"]
    assert references("running_on=2026-06-01") == ["A-1", "C-3"]
    assert references("page=2&page_size=2") == ["C-3"]
    assert client.get("/api/v1/markets?page_size=2", headers=facilitator).headers["X-Pagination"]
    assert references("", auth("facilitator", NARBONNE)) == ["C-3"]
    assert references(f"buyer_id={buyer['id']}", auth("buyer", DEPARTEMENT, buyer_id=buyer["id"])) == \
        ["A-1", "B-2", "C-3"]
    assert client.get("/api/v1/markets?sort=password", headers=facilitator).status_code == 422


def test_updating_a_market_publishes_it_with_every_territory(client, facilitator, buyer, start_worker, infra,
                                                             topic):
    market = create_market(client, facilitator, buyer)
    updated = client.patch(f"/api/v1/markets/{market['id']}", headers=facilitator,
                           json={"title": "Réhabilitation et extension", "associated_territories": [NARBONNE]})
    assert updated.json["territories"] == [CARCASSONNE, NARBONNE]
    assert client.patch(f"/api/v1/markets/{market['id']}", json={"end_date": "2025-01-01"},
                        headers=facilitator).status_code == 422
    start_worker("markets")

    events = markets_events(infra, topic, expect=2)
    assert [e["type"] for e in events] == ["market.created", "market.updated"]
    assert events[1]["territories"] == [CARCASSONNE, NARBONNE]
    assert events[1]["payload"]["changed"] == ["associated_territories", "title"]


# --- lots, quotas, reference table, simulator --------------------------------------------------------
def test_a_lot_gets_the_quota_of_the_sizing_formula_with_its_breakdown(client, facilitator, buyer):
    lot = create_lot(client, facilitator, buyer)

    assert lot["quota"]["hours"] == 833
    assert lot["quota"]["computed_hours"] == 833
    assert lot["quota"]["override_hours"] is None
    assert lot["quota"]["labour_share"] == 0.5
    assert lot["quota"]["history"][0]["source"] == "creation"
    assert lot["progress"]["realised_hours"] == 0
    assert client.post(f"/api/v1/markets/{lot['market_id']}/lots", json=LOT, headers=facilitator).status_code == 409


def test_the_reference_table_fills_defaults_and_a_change_never_rewrites_existing_lots(client, facilitator, buyer,
                                                                                      auth):
    operator = auth("operator", NARBONNE)  # any operator of the region keeps its one table
    client.put("/api/v1/trades/masonry", headers=operator, json={
        "label": "Maçonnerie", "labour_share": "0.50", "hourly_cost": "30", "insertion_rate": "0.05"})
    market = create_market(client, facilitator, buyer)
    by_trade = client.post(f"/api/v1/markets/{market['id']}/lots", headers=facilitator,
                           json={"number": 1, "title": "Gros œuvre", "trade": "masonry", "amount_excl_vat": 1000000})
    assert by_trade.json["quota"]["hours"] == 833

    changed = client.put("/api/v1/trades/masonry", headers=operator, json={
        "label": "Maçonnerie", "labour_share": "0.60", "hourly_cost": "30", "insertion_rate": "0.05"})
    assert changed.json["labour_share"] == 0.6  # a number, as the OpenAPI document says
    assert client.get(f"/api/v1/lots/{by_trade.json['id']}", headers=facilitator).json["quota"]["hours"] == 833
    assert client.get("/api/v1/trades", headers=facilitator).json[0]["code"] == "masonry"

    # A territory's facilitator cannot rewrite the region's table for everyone.
    rewrite = client.put("/api/v1/trades/masonry", headers=facilitator, json={
        "label": "Maçonnerie", "labour_share": "0.90", "hourly_cost": "30", "insertion_rate": "0.05"})
    assert rewrite.status_code == 403 and rewrite.mimetype == "application/problem+json"
    assert rewrite.json["detail"] == "Action réservée aux profils : opérateur."
    assert float(client.get("/api/v1/trades", headers=facilitator).json[0]["labour_share"]) == 0.6

    without = client.post(f"/api/v1/markets/{market['id']}/lots", headers=facilitator,
                          json={"number": 2, "title": "Peinture", "amount_excl_vat": 1000})
    assert without.status_code == 422
    assert without.json["detail"].startswith("Précisez labour_share, hourly_cost, insertion_rate")


def test_the_simulator_sizes_a_quota_without_storing_anything(client, facilitator):
    response = client.post("/api/v1/quota/simulations", headers=facilitator, json={
        "amount_excl_vat": 1000000, "labour_share": 0.5, "insertion_rate": 0.05, "hourly_cost": 30})

    assert response.json["hours"] == 833
    assert response.json["breakdown"]["labour_amount"] == 500000
    assert response.json["breakdown"]["exact_hours"] == 833.33
    assert response.json["hours_at_usual_rates"] == {"5%": 833, "10%": 1667, "15%": 2500, "20%": 3333}
    assert client.get("/api/v1/markets", headers=facilitator).json == []


def test_anyone_simulates_a_quota_from_the_public_trades_and_a_buyer_with_their_token(client, auth):
    client.put("/api/v1/trades/masonry", headers=auth("operator", CARCASSONNE), json={
        "label": "Maçonnerie", "labour_share": "0.50", "hourly_cost": "30", "insertion_rate": "0.05"})

    trades = client.get("/api/v1/quota/public/trades")
    assert trades.status_code == 200
    assert trades.json == [{"code": "masonry", "label": "Maçonnerie", "labour_share": 0.5, "hourly_cost": 30.0,
                            "insertion_rate": 0.05}]  # not who changed it
    public = client.post("/api/v1/quota/public/simulations", json={"amount_excl_vat": 1000000, "trade": "masonry"})
    assert public.status_code == 200
    assert public.json["hours"] == 833
    assert public.json["hours_at_usual_rates"] == {"5%": 833, "10%": 1667, "15%": 2500, "20%": 3333}
    refused = client.post("/api/v1/quota/public/simulations", json={"amount_excl_vat": 10 ** 15, "hourly_cost": 0})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert set(refused.json["errors"]) == {"amount_excl_vat", "hourly_cost"}

    buyer = auth("buyer", CARCASSONNE, buyer_id="b1")
    assert client.get("/api/v1/trades", headers=buyer).json[0]["code"] == "masonry"
    assert client.post("/api/v1/quota/simulations", headers=buyer, json={
        "amount_excl_vat": 1000000, "trade": "masonry", "hourly_cost": 25}).json["hours"] == 1000
    assert client.get("/api/v1/markets", headers=auth("facilitator", CARCASSONNE)).json == []


def test_an_override_keeps_both_values_and_an_amendment_recomputes_with_a_dated_history(
        client, facilitator, buyer, start_worker, infra, topic):
    lot = create_lot(client, facilitator, buyer)
    overridden = client.post(f"/api/v1/lots/{lot['id']}/quota-override", headers=facilitator,
                             json={"hours": 900, "reason": "Accord avec l'acheteur : chantier en site occupé"})
    assert overridden.json["quota"]["hours"] == 900
    assert overridden.json["quota"]["computed_hours"] == 833
    assert client.post(f"/api/v1/lots/{lot['id']}/quota-override", json={"hours": 900},
                       headers=facilitator).json["errors"]["reason"] == ["Champ obligatoire."]

    amended = client.post(f"/api/v1/lots/{lot['id']}/amendments", headers=facilitator, json={
        "signed_on": "2026-06-15", "amount_excl_vat": 1200000, "end_date": "2028-06-30",
        "reason": "Avenant n° 1 : extension du préau"})
    assert amended.status_code == 201
    quota = amended.json["quota"]
    assert (quota["computed_hours"], quota["hours"]) == (1000, 900)  # the override stays in force
    assert [h["source"] for h in quota["history"]] == ["creation", "override", "amendment"]
    assert quota["history"][2]["date"] == "2026-06-15"
    assert amended.json["end_date"] == "2028-06-30"
    assert client.post(f"/api/v1/lots/{lot['id']}/amendments", headers=facilitator,
                       json={"signed_on": "2026-06-15", "reason": "rien"}).status_code == 422

    start_worker("markets")
    changes = [e for e in markets_events(infra, topic, expect=5) if e["type"] == "lot.quota_changed"]
    assert [e["payload"]["computed_quota_hours"] for e in changes] == [833, 1000]


def test_awarding_records_partners_and_publishes_lot_awarded_with_every_territory(
        client, facilitator, buyer, start_worker, topic, infra):
    lot = create_lot(client, facilitator, buyer, associated_territories=[NARBONNE], state_market=True)
    invalid = client.post(f"/api/v1/lots/{lot['id']}/award", headers=facilitator,
                          json={"contractor_siret": "73282932000075", "contractor_name": "BTP Aude"})
    assert invalid.status_code == 422
    assert "SIRET invalide" in invalid.json["errors"]["contractor_siret"][0]
    client.post(f"/api/v1/lots/{lot['id']}/award",
                json={"contractor_siret": "732 829 320 00074", "contractor_name": "BTP Aude"}, headers=facilitator)
    assert client.post(f"/api/v1/lots/{lot['id']}/award", headers=facilitator, json={
        "contractor_siret": SIRET, "contractor_name": "BTP Aude"}).status_code == 409
    partners = client.put(f"/api/v1/lots/{lot['id']}/partners", headers=facilitator, json={
        "co_contractors": [{"siret": "55210055400013", "name": "Charpentes de l'Aude"}],
        "subcontractors": [{"siret": "20005712500011", "name": "ACI Les Jardins"}]})
    assert partners.json["co_contractors"][0]["name"] == "Charpentes de l'Aude"
    start_worker("markets")

    awarded = [e for e in markets_events(infra, topic, expect=3) if e["type"] == "lot.awarded"]
    assert len(awarded) == 1
    assert awarded[0]["territories"] == [CARCASSONNE, NARBONNE]
    assert awarded[0]["payload"]["contractor_siret"] == SIRET
    assert awarded[0]["payload"]["state_market"] is True


# --- progress from events ------------------------------------------------------------------------
def test_hours_move_progress_exactly_and_reaching_the_quota_is_published_once(
        client, facilitator, buyer, start_worker, topic, infra):
    lot = create_lot(client, facilitator, buyer, lot={**LOT, "amount_excl_vat": 24000})  # 20 hours
    start_worker("markets")
    lot_id = lot["id"]
    declaration(infra, topic, lot_id, 1, "declaration.submitted", 6)
    declaration(infra, topic, lot_id, 1, "declaration.validated", 6)
    declaration(infra, topic, lot_id, 2, "declaration.validated", 4.5, territory=NARBONNE, mode="etti",
                month="2026-04")
    declaration(infra, topic, lot_id, 2, "declaration.validated", 4.5, territory=NARBONNE, mode="etti",
                month="2026-04")  # the same line again
    declaration(infra, topic, lot_id, 3, "declaration.submitted", 2)
    declaration(infra, topic, lot_id, 3, "declaration.rejected", 2)
    declaration(infra, topic, lot_id, 4, "declaration.corrected", 5, supersedes="d1", status="validated")

    def progress():
        return client.get(f"/api/v1/lots/{lot_id}/progress", headers=facilitator).json
    detail = wait_until(lambda: (p := progress())["realised_hours"] == 9.5 and p, what="9.5 realised hours")
    assert detail["declared_hours"] == 0
    assert detail["by_territory"] == {CARCASSONNE: {"realised_hours": 5.0, "declared_hours": 0.0},
                                      NARBONNE: {"realised_hours": 4.5, "declared_hours": 0.0}}
    assert detail["by_mode"]["etti"]["realised_hours"] == 4.5
    assert detail["by_month"]["2026-04"]["realised_hours"] == 4.5
    march = next(m for m in detail["series"] if m["month"] == "2026-03")
    assert march["cumulative_realised_hours"] == 5.0 and march["cumulative_expected_hours"] > 0
    assert detail["series"][-1]["cumulative_expected_hours"] == 20
    assert detail["status"] == "on_track"  # 9.5 of 20 hours, with less than half the period gone
    history = client.get(f"/api/v1/lots/{lot_id}", headers=facilitator).json["status_history"]
    assert history[0]["previous_status"] == "not_started" and history[-1]["status_label"] == "dans les temps"

    declaration(infra, topic, lot_id, 5, "declaration.validated", 10.5)
    wait_until(lambda: progress()["status"] == "reached", what="the quota reached")
    events = markets_events(infra, topic, expect=99, timeout=2)
    assert len([e for e in events if e["type"] == "lot.quota_reached"]) == 1
    statuses = [e["payload"]["status"] for e in events if e["type"] == "lot.status_changed"]
    assert statuses == sorted(set(statuses), key=statuses.index)  # each change published once


def test_time_alone_changes_a_status_through_the_scheduled_evaluation(client, facilitator, buyer, start_worker,
                                                                     topic, infra):
    lot = create_lot(client, facilitator, buyer, start_date="2026-01-01", end_date="2026-12-31",
                     lot={**LOT, "amount_excl_vat": 120000})  # 100 hours
    client.post(f"/api/v1/markets/{lot['market_id']}/status", json={"status": "awarded"}, headers=facilitator)
    start_worker("markets")
    declaration(infra, topic, lot["id"], 1, "declaration.validated", 40)
    wait_until(lambda: client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator)
               .json["progress"]["realised_hours"] == 40, what="40 hours")
    runner = client.application.test_cli_runner()

    assert "1 lot(s) changed status" in runner.invoke(args=["evaluate-lots", "--today", "2026-05-15"]).output
    assert client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator).json["progress"]["status"] == "on_track"
    assert "0 lot(s)" in runner.invoke(args=["evaluate-lots", "--today", "2026-05-15"]).output
    runner.invoke(args=["evaluate-lots", "--today", "2026-07-20"])  # 55 hours expected: 40 is >20% behind
    assert client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator).json["progress"]["status"] == "at_risk"
    at_risk = wait_until(lambda: [e for e in markets_events(infra, topic, expect=99, timeout=1)
                                  if e["type"] == "lot.status_changed" and e["payload"]["status"] == "at_risk"],
                         what="the at-risk event")
    assert len(at_risk) == 1


def test_a_territory_ramp_delays_the_expected_curve(client, facilitator, buyer, auth):
    operator = auth("operator", CARCASSONNE)
    assert client.put(f"/api/v1/territories/{CARCASSONNE}/settings", json={"ramp_days": 10000},
                      headers=operator).status_code == 422
    assert client.put(f"/api/v1/territories/{CARCASSONNE}/settings", json={"ramp_days": 365},
                      headers=facilitator).status_code == 403
    settings = client.put(f"/api/v1/territories/{CARCASSONNE}/settings",
                          json={"ramp_days": (date.today() - date(2026, 1, 1)).days + 1}, headers=operator)
    assert settings.json["ramp_days"] > 0
    assert client.get(f"/api/v1/territories/{CARCASSONNE}/settings", headers=facilitator).json == {
        "territory": CARCASSONNE, "ramp_days": settings.json["ramp_days"], "at_risk_tolerance": 0.2,
        "behind_ratio": 0.5}
    assert client.put(f"/api/v1/territories/{CARCASSONNE}/settings", headers=operator,
                      json={"behind_ratio": 0.9}).status_code == 422
    assert client.get(f"/api/v1/territories/{NARBONNE}/settings", headers=facilitator).status_code == 403
    lot = create_lot(client, facilitator, buyer)
    assert lot["progress"]["expected_hours"] == 0


def test_closing_a_market_closes_its_lots_short_of_their_quota(client, facilitator, buyer, start_worker, topic,
                                                              infra):
    lot = create_lot(client, facilitator, buyer)
    for status in ("awarded", "in_execution", "completed", "closed"):
        client.post(f"/api/v1/markets/{lot['market_id']}/status", json={"status": status}, headers=facilitator)
    assert client.get(f"/api/v1/lots/{lot['id']}", headers=facilitator).json["progress"]["status"] == \
        "closed_with_shortfall"
    start_worker("markets")
    closed = wait_until(lambda: [e for e in markets_events(infra, topic, expect=6, timeout=2)
                                 if e["type"] == "market.closed"], what="market.closed")
    assert closed[0]["payload"]["market_id"] == lot["market_id"]


def test_lots_are_listed_by_territory_status_and_at_risk(client, facilitator, buyer, auth):
    first = create_lot(client, facilitator, buyer)
    create_lot(client, facilitator, buyer, reference="2026-CA-015", associated_territories=[NARBONNE])
    assert len(client.get("/api/v1/lots", headers=facilitator).json) == 2
    assert len(client.get("/api/v1/lots", headers=auth("facilitator", NARBONNE)).json) == 1
    assert client.get("/api/v1/lots?at_risk=true", headers=facilitator).json == []
    not_started = client.get("/api/v1/lots?status=not_started&sort=-title", headers=facilitator).json
    assert first["id"] in [lot["id"] for lot in not_started] and len(not_started) == 2
    assert client.get("/api/v1/lots?status=sleeping", headers=facilitator).status_code == 422


def test_a_contractor_reads_the_progress_of_its_own_lots_only(client, facilitator, buyer, start_worker, infra,
                                                             topic):
    own = create_lot(client, facilitator, buyer)
    other = create_lot(client, facilitator, buyer, reference="2026-CA-015")
    client.post(f"/api/v1/lots/{own['id']}/award", headers=facilitator,
                json={"contractor_siret": SIRET, "contractor_name": "BTP Aude"})
    key_id, key, key_hash = new_api_key()
    publish(infra, topic("hours.events"), "api_key.created", SIRET,
            {"key_id": key_id, "contractor_siret": SIRET, "key_hash": key_hash})
    start_worker("markets")
    contractor = {"X-API-Key": key}
    wait_until(lambda: client.get(f"/api/v1/lots/{own['id']}/progress", headers=contractor).status_code == 200,
               what="the key learnt from the hours service")

    assert client.get(f"/api/v1/lots/{other['id']}", headers=contractor).status_code == 403
    assert [lot["id"] for lot in client.get("/api/v1/lots", headers=contractor).json] == [own["id"]]
    assert client.get("/api/v1/markets", headers=contractor).status_code == 403
    publish(infra, topic("hours.events"), "api_key.revoked", SIRET, {"key_id": key_id})
    wait_until(lambda: client.get(f"/api/v1/lots/{own['id']}", headers=contractor).status_code == 401,
               what="the revocation")


def test_a_rotated_key_reads_progress_until_its_grace_period_ends(client, facilitator, buyer, start_worker, infra,
                                                                  topic):
    lot = create_lot(client, facilitator, buyer)
    client.post(f"/api/v1/lots/{lot['id']}/award", headers=facilitator,
                json={"contractor_siret": SIRET, "contractor_name": "BTP Aude"})
    (old_id, old, old_hash), (new_id, new, new_hash) = new_api_key(), new_api_key()
    known = {"contractor_siret": SIRET, "key_hash": old_hash}
    publish(infra, topic("hours.events"), "api_key.created", SIRET, {"key_id": old_id, **known})
    publish(infra, topic("hours.events"), "api_key.created", SIRET,
            {"key_id": new_id, "contractor_siret": SIRET, "key_hash": new_hash, "replaces": old_id})
    in_grace = (datetime.now(timezone.utc) + timedelta(hours=24)).isoformat()
    publish(infra, topic("hours.events"), "api_key.expiring", SIRET,
            {"key_id": old_id, **known, "replaced_by": new_id, "expires_at": in_grace})
    start_worker("markets")
    progress = f"/api/v1/lots/{lot['id']}/progress"
    from plumbing.contractor_keys import ContractorKey
    wait_until(lambda: (key := ContractorKey.objects(id=old_id).first()) and key.expires_at is not None,
               what="the expiry learnt from the hours service")
    assert client.get(progress, headers={"X-API-Key": old}).status_code == 200  # still in its grace period
    assert client.get(progress, headers={"X-API-Key": new}).status_code == 200

    over = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()  # as if the grace period were over
    publish(infra, topic("hours.events"), "api_key.expiring", SIRET,
            {"key_id": old_id, **known, "replaced_by": new_id, "expires_at": over})
    wait_until(lambda: client.get(progress, headers={"X-API-Key": old}).status_code == 401, what="the expiry")
    assert client.get(progress, headers={"X-API-Key": new}).status_code == 200


def test_one_bulk_validation_of_40_lines_changes_a_lot_status_once(
        client, facilitator, buyer, start_worker, topic, infra):
    """A bulk validation's events leave the hours service over several rounds of its relay (every 0.2 s while
    the lines are validated one by one); the worker gathers them into one batch and judges the lot once: behind
    straight to on track, never through "at risk" on the way."""
    from types import SimpleNamespace

    from plumbing.kafka import Message, Publisher
    from support import create_topic

    lot_id = create_lot(client, facilitator, buyer)["id"]
    start_worker("markets")
    declaration(infra, topic, lot_id, 0, "declaration.submitted", 1)
    progress = wait_until(lambda: (p := client.get(f"/api/v1/lots/{lot_id}/progress", headers=facilitator).json)
                          ["status"] == "behind" and p, what="the lot behind")
    each = int(progress["expected_hours"] * 100 / 40) + 1  # 40 lines together reach the expected curve
    events = [Event(type="declaration.validated", producer="hours", key=lot_id, territories=[CARCASSONNE], payload={
        "declaration_id": f"bulk-{n}", "lot_id": lot_id, "centihours": each, "month": "2026-03",
        "mode": "direct_hire", "territory": CARCASSONNE}) for n in range(40)]
    create_topic(infra.kafka_bootstrap, topic("hours.events"))
    publisher = Publisher(SimpleNamespace(kafka_bootstrap_servers=infra.kafka_bootstrap, service="hours"))
    try:
        for first in range(0, 40, 10):  # as the relay would, a round every 0.2 s, with the request's id
            publisher.publish([Message(topic("hours.events"), lot_id.encode(), encode(e), [("request-id", b"bulk")])
                               for e in events[first:first + 10]])
            time.sleep(0.2)
    finally:
        publisher.close()

    wait_until(lambda: client.get(f"/api/v1/lots/{lot_id}/progress", headers=facilitator).json["status"]
               == "on_track", what="the lot on track")
    changes = [(e["payload"]["previous_status"], e["payload"]["status"])
               for e in markets_events(infra, topic, expect=99, timeout=2)
               if e["type"] == "lot.status_changed" and e["payload"]["lot_id"] == lot_id]
    assert changes[-1] == ("behind", "on_track") and ("behind", "at_risk") not in changes
