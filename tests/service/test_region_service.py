"""The region file at work in the services: a territory it does not have is refused wherever it enters
(body, query, path, token) and nothing is written; its defaults apply until a territory sets its own."""
import importlib
from datetime import date

import pymongo
import pytest
import yaml

from stack import StackConfig
from test_hours_service import (CARCASSONNE, LINE, NARBONNE, client, contractor_key, facilitator,  # noqa: F401
                                world)
from test_markets_service import BUYER, create_lot
from test_participants_service import AUDE, eligibility, register

TYPO = "aude-carcasonne-agglo"  # one "s" short: once, this silently opened a new territory
SIRET = "21110069000018"


def aude_with(tmp_path, **defaults) -> str:
    """The Aude example with some territories' defaults changed: ``aude_with(tmp_path, **{id: {...}})``."""
    region = yaml.safe_load(StackConfig.region_file.read_text(encoding="utf-8"))
    for territory in region["territories"]:
        territory["defaults"] = {**territory.get("defaults", {}), **defaults.get(territory["id"], {})}
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump(region, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
def service(service_env, infra):
    """``service("markets")`` -> (its test client, a function counting the documents in its database)."""
    def start(name: str, **env):
        database = service_env(name, **env)
        app = importlib.import_module(f"{name}.app").create_app()
        store = pymongo.MongoClient(infra.mongodb_url)[database]
        return app.test_client(), lambda: sum(store[c].count_documents({}) for c in store.list_collection_names())
    return start


REFUSED_BODIES = [
    ("markets", "/api/v1/buyers", {**BUYER, "territory": TYPO}, "territory"),
    ("markets", "/api/v1/markets", {"reference": "2026-CA-1", "title": "École", "buyer_id": "b1", "nature": "works",
                                    "lead_territory": CARCASSONNE, "associated_territories": [NARBONNE, TYPO],
                                    "start_date": "2026-01-01", "end_date": "2026-12-31"}, "associated_territories"),
    ("hours", "/api/v1/contractors", {"siret": SIRET, "name": "BTP Aude", "territory": TYPO}, "territory"),
    ("participants", "/api/v1/participants", {"territory": TYPO, "first_name": "Yasmina", "last_name": "Benali",
                                              "birth_date": "1990-06-15", "sex": "female"}, "territory"),
    ("notifications", "/api/v1/recipients", {"territory": TYPO, "name": "Claire Martin",
                                             "email": "claire.martin@carcassonne-agglo.example"}, "territory"),
]


@pytest.mark.parametrize("name, path, body, field", REFUSED_BODIES, ids=[f"{c[0]}{c[1]}" for c in REFUSED_BODIES])
def test_a_territory_the_region_does_not_have_is_refused_in_a_body_and_nothing_is_written(
        service, auth, name, path, body, field):
    client, documents = service(name)
    before = documents()
    refused = client.post(path, json=body, headers=auth("operator" if name == "notifications" else "facilitator",
                                                        CARCASSONNE, NARBONNE))
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    message = str(refused.json["errors"][field])
    assert f"Territoire inconnu de la région « Guichet unique des clauses sociales de l'Aude » : {TYPO}." in message
    assert "aude-carcassonne-agglo, aude-departement, aude-grand-narbonne" in message
    assert documents() == before


@pytest.mark.parametrize("name, path", [("markets", "/api/v1/lots"), ("markets", "/api/v1/buyers"),
                                        ("hours", "/api/v1/declarations"), ("notifications", "/api/v1/alerts"),
                                        ("participants", "/api/v1/participants/statistics")])
def test_a_territory_the_region_does_not_have_is_refused_in_a_query(service, auth, name, path):
    client, _ = service(name)
    refused = client.get(f"{path}?territory={TYPO}", headers=auth("facilitator", CARCASSONNE))
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "Territoire inconnu" in refused.json["errors"]["territory"][0]


@pytest.mark.parametrize("name, path", [("markets", "/api/v1/territories/{}/settings"),
                                        ("hours", "/api/v1/declarations/territory-settings/{}"),
                                        ("participants", "/api/v1/participants/territory-settings/{}")])
def test_a_territory_the_region_does_not_have_is_not_found_in_a_path(service, auth, name, path):
    client, _ = service(name)
    missing = client.get(path.format(TYPO), headers=auth("facilitator", CARCASSONNE))
    assert missing.status_code == 404 and "Territoire inconnu" in missing.json["detail"]


def test_a_token_naming_a_territory_the_region_does_not_have_is_refused_and_nothing_is_written(service, auth):
    client, documents = service("markets")
    before = documents()
    refused = client.post("/api/v1/buyers", json=BUYER, headers=auth("facilitator", CARCASSONNE, TYPO))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert refused.json["detail"].startswith("Votre jeton d'authentification cite un territoire que la "
                                             f"plateforme ne connaît pas. Territoire inconnu de la région")
    assert TYPO in refused.json["detail"]
    assert documents() == before
    assert client.post("/api/v1/buyers", json=BUYER, headers=auth("facilitator", CARCASSONNE)).status_code == 201


# --- the region's defaults ---------------------------------------------------------------------------------
@pytest.fixture
def region_file(tmp_path):
    """Carcassonne Agglo validates lines at once, up to 151.67 hours a month per person."""
    return aude_with(tmp_path, **{CARCASSONNE: {"auto_validation": True, "monthly_ceiling_hours": 151.67}})


@pytest.fixture
def client(service_env, region_file):  # noqa: F811 - the hours service, started with that region file
    service_env("hours", REGION_FILE=region_file)
    from hours.app import create_app
    return create_app().test_client()


def test_a_territory_of_the_hours_service_shows_the_region_files_defaults_until_it_sets_its_own(
        client, facilitator, auth):
    def shown(territory, headers=facilitator):
        settings = client.get(f"/api/v1/declarations/territory-settings/{territory}", headers=headers).json
        return settings["auto_validation"], settings["monthly_ceiling_hours"], settings["effective_monthly_ceiling_hours"]
    assert shown(CARCASSONNE) == (True, None, 151.67)
    assert shown(NARBONNE, auth("facilitator", NARBONNE)) == (True, None, 208)  # the Aude example's
    client.put(f"/api/v1/declarations/territory-settings/{CARCASSONNE}",
               json={"auto_validation": False, "monthly_ceiling_hours": 180}, headers=facilitator)
    assert shown(CARCASSONNE) == (False, 180, 180)


def test_lines_follow_the_region_files_auto_validation_and_ceiling_until_the_territory_sets_its_own(
        client, contractor_key, facilitator, world):
    assert client.post("/api/v1/declarations", json=LINE, headers=contractor_key).json["status"] == "validated"
    over = client.post("/api/v1/declarations", json={**LINE, "month": "2026-02", "hours": 151.68},
                       headers=contractor_key)
    assert over.status_code == 422 and over.json["rule"] == "hours_above_ceiling"
    client.put(f"/api/v1/declarations/territory-settings/{CARCASSONNE}",
               json={"auto_validation": False, "monthly_ceiling_hours": 180}, headers=facilitator)
    line = client.post("/api/v1/declarations", json={**LINE, "month": "2026-02", "hours": 151.68},
                       headers=contractor_key)
    assert (line.status_code, line.json["status"]) == (201, "submitted")


def test_the_participants_service_counts_hours_for_the_region_files_window(service, auth, tmp_path):
    client, _ = service("participants", REGION_FILE=aude_with(tmp_path, **{AUDE: {
        "counting_window_months": 12, "retention_months": 36}}))
    facilitator = auth("facilitator", AUDE)
    settings = client.get(f"/api/v1/participants/territory-settings/{AUDE}", headers=facilitator).json
    assert (settings["counting_window_months"], settings["retention_months"]) == (12, 36)
    person = register(client, facilitator)
    granted = client.post(f"/api/v1/participants/{person['id']}/eligibility",
                          json=eligibility(eligible_from="2025-01-31"), headers=facilitator)
    assert granted.json["eligibility"]["eligible_until"] == "2026-01-30"


def test_the_markets_service_judges_progress_with_the_region_files_ramp(service, auth, tmp_path):
    ramp = (date.today() - date(2026, 1, 1)).days + 1  # the lot started on 1 January 2026: still in its ramp
    client, _ = service("markets", REGION_FILE=aude_with(tmp_path, **{CARCASSONNE: {"ramp_days": ramp}}))
    facilitator = auth("facilitator", CARCASSONNE)
    settings = client.get(f"/api/v1/territories/{CARCASSONNE}/settings", headers=facilitator).json
    assert settings == {"territory": CARCASSONNE, "ramp_days": ramp, "at_risk_tolerance": 0.2, "behind_ratio": 0.5}
    buyer = client.post("/api/v1/buyers", json=BUYER, headers=facilitator).json
    assert create_lot(client, facilitator, buyer)["progress"]["expected_hours"] == 0
