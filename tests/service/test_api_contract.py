"""The API contract: each service's OpenAPI document is valid OpenAPI 3.1 and says what the service does.

Schemathesis generates requests from each document (valid and invalid ones, a bounded and reproducible
number per operation) and sends them to the service's Flask app, authenticated as each role the
operation allows, against the real broker and store: no answer may be a server error, off its schema,
of an undocumented status, or of an undocumented media type. The values the hardening issue saw answer
500 (issue 12) are tests here too: each is now a 422 in French, with nothing written.
"""
import importlib

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, strategies as st
from openapi_spec_validator import validate as validate_openapi
from plumbing.auth import new_api_key
from plumbing.events import Event, encode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from support import produce, wait_until

SERVICES = ("markets", "hours", "participants", "notifications", "observatory")
CARCASSONNE = "aude-carcassonne-agglo"
SIRET = "73282932000074"
PROBLEM = "application/problem+json"
PUBLIC = "anyone"  # the role of a caller without credentials, on the public operations
EXAMPLES_PER_OPERATION_AND_ROLE = 20  # about 2 minutes for the five services on 2 cores
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MARKET = {"reference": "2026-CA-014", "title": "Groupe scolaire", "nature": "works", "lead_territory": CARCASSONNE,
          "start_date": "2026-01-01", "end_date": "2027-12-31"}
LOT = {"number": 1, "title": "Gros œuvre", "amount_excl_vat": 1000000, "labour_share": 0.5, "insertion_rate": 0.05,
       "hourly_cost": 30}
PERSON = {"territory": CARCASSONNE, "first_name": "Yasmina", "last_name": "Benali", "birth_date": "1990-06-15",
          "sex": "female", "commune": "Carcassonne"}


def _app(service_env, service: str):
    service_env(service)
    return importlib.import_module(f"{service}.app").create_app()


def _document(app, service: str) -> dict:
    response = app.test_client().get(f"/docs/{service}/openapi.json")
    assert response.status_code == 200
    return response.json


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _resolve(document: dict, response: dict) -> dict:
    if "$ref" in response:
        return document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _buyer(client, facilitator) -> dict:
    return client.post("/api/v1/buyers", headers=facilitator, json={
        "name": "Commune de Carcassonne", "siret": "21110069000018", "buyer_type": "commune",
        "territory": CARCASSONNE}).json


# --- the documents ------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_each_document_is_valid_openapi_and_lists_every_error_as_problem_details(service, service_env):
    document = _document(_app(service_env, service), service)

    validate_openapi(document)  # numbers are numbers: "minimum": "0.00" made generated clients fail
    assert document["openapi"] == "3.1.0"
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "default" not in responses, where  # each status is listed, so clients know what to expect
        statuses = {int(status) for status in responses}
        assert any(200 <= s < 300 for s in statuses), where
        if operation.get("x-allowed-roles"):
            assert {401, 403} <= statuses, where
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert 422 in statuses, where
        for status, response in responses.items():
            if int(status) >= 400:
                content = _resolve(document, response)["content"]
                assert list(content) == [PROBLEM], where
                assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}, where


def test_nullable_fields_and_exclusive_bounds_are_documented_as_such(service_env):
    schemas = _document(_app(service_env, "markets"), "markets")["components"]["schemas"]

    assert schemas["Market"]["properties"]["clause_kind"]["type"] == ["string", "null"]
    assert schemas["Trade"]["properties"]["labour_share"] == {"type": "number", "exclusiveMinimum": 0,
                                                             "maximum": 1}
    assert schemas["Trade"]["properties"]["hourly_cost"] == {"type": "number", "minimum": 1, "maximum": 1000}


# --- values out of their bounds (issue 12: each answered 500) -------------------------------------------
def test_numbers_and_dates_out_of_bounds_are_refused_in_french_and_nothing_is_written(service_env, auth):
    client = _app(service_env, "markets").test_client()
    facilitator = auth("facilitator", CARCASSONNE)
    market = {**MARKET, "buyer_id": _buyer(client, facilitator)["id"]}

    forever = client.post("/api/v1/markets", headers=facilitator,
                          json={**market, "start_date": "0001-01-01", "end_date": "9999-12-31"})
    assert forever.status_code == 422 and forever.mimetype == PROBLEM
    assert forever.json["errors"] == {"start_date": ["Date attendue entre le 01/01/2000 et le 31/12/2100."],
                                      "end_date": ["Date attendue entre le 01/01/2000 et le 31/12/2100."]}
    assert client.get("/api/v1/markets", headers=facilitator).json == []

    market_id = client.post("/api/v1/markets", headers=facilitator, json=market).json["id"]
    huge_number = client.post(f"/api/v1/markets/{market_id}/lots", headers=facilitator, json={**LOT, "number": 1e38})
    assert huge_number.status_code == 422
    assert huge_number.json["errors"] == {"number": ["Numéro de lot attendu de 1 à 9999."]}
    huge_amount = client.post(f"/api/v1/markets/{market_id}/lots", headers=facilitator,
                              json={**LOT, "amount_excl_vat": 3.55e264, "hourly_cost": 0.0001})
    assert huge_amount.status_code == 422
    assert huge_amount.json["errors"] == {
        "amount_excl_vat": ["Le montant HT est un nombre d'euros de 0 à 100 000 000 000."],
        "hourly_cost": ["Le coût horaire est un nombre d'euros de 1 à 1000."]}
    assert client.get(f"/api/v1/markets/{market_id}/lots", headers=facilitator).json == []

    far_page = client.get("/api/v1/markets?page=464672889948629312", headers=facilitator)
    assert far_page.status_code == 422 and far_page.json["errors"] == {"page": ["Numéro de page attendu de 1 à 100000."]}


def test_trades_answer_their_rates_and_costs_as_numbers_as_documented(service_env, auth):
    client = _app(service_env, "markets").test_client()

    saved = client.put("/api/v1/trades/masonry", headers=auth("operator", CARCASSONNE), json={
        "label": "Maçonnerie", "labour_share": "0.5", "hourly_cost": 32.5, "insertion_rate": "0.0500"})

    assert saved.status_code == 200, saved.json
    assert (saved.json["labour_share"], saved.json["hourly_cost"], saved.json["insertion_rate"]) == (0.5, 32.5, 0.05)


def test_hours_beyond_a_month_are_refused_before_any_rule_and_nothing_is_written(service_env, auth):
    client = _app(service_env, "hours").test_client()
    key = _contractor_key(client, auth("facilitator", CARCASSONNE))
    line = {"lot_id": "lot-1", "participant_id": "p-1", "month": "2026-03", "mode": "direct_hire"}

    for hours, message in ((3.55e264, "Au plus 744 heures sur une ligne (31 jours de 24 heures)."),
                           ("744.01", "Au plus 744 heures sur une ligne (31 jours de 24 heures)."),
                           ("7.505", "Au plus deux décimales (par exemple 7.5 ou 151.67).")):
        refused = client.post("/api/v1/declarations", headers=key, json={**line, "hours": hours})
        assert refused.status_code == 422 and refused.json["errors"] == {"hours": [message]}, (hours, refused.json)
    far = client.post("/api/v1/declarations", headers=key, json={**line, "month": "9999-12", "hours": 7})
    assert far.status_code == 422 and far.json["errors"] == {"month": ["Mois attendu entre 01/2000 et 12/2100."]}
    assert client.get("/api/v1/declarations", headers=key).json == []


def test_an_eligibility_from_the_year_9999_is_refused_and_nothing_is_written(service_env, auth):
    client = _app(service_env, "participants").test_client()
    facilitator = auth("facilitator", CARCASSONNE)
    person = client.post("/api/v1/participants", headers=facilitator, json=PERSON).json

    refused = client.post(f"/api/v1/participants/{person['id']}/eligibility", headers=facilitator, json={
        "criteria": [{"code": "minimum_benefit", "benefit": "RSA"}], "eligible_from": "9999-06-01",
        "evidence": {"kind": "attestation CAF", "reference": "CAF-1", "date": "2026-02-20"}})

    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert refused.json["errors"] == {"eligible_from": ["Date attendue entre le 01/01/2000 et le 31/12/2100."]}
    again = client.get(f"/api/v1/participants/{person['id']}", headers=facilitator).json
    assert again["eligibility"] is None


# --- schemathesis against every document, as every role -------------------------------------------------
def _contractor_key(client, facilitator) -> dict:
    assert client.post("/api/v1/contractors", json={"siret": SIRET, "name": "BTP Aude"},
                       headers=facilitator).status_code == 201
    created = client.post(f"/api/v1/contractors/{SIRET}/api-keys", json={"label": "paie"}, headers=facilitator)
    return {"X-API-Key": created.json["api_key"]}


def _known_contractor_key(client, infra, topic, start_worker, service: str) -> dict:
    """A key the hours service would have announced, learnt by this service's worker from the event."""
    key_id, key, key_hash = new_api_key()
    event = Event(type="api_key.created", producer="hours", key=SIRET, territories=[CARCASSONNE],
                  payload={"key_id": key_id, "contractor_siret": SIRET, "key_hash": key_hash})
    produce(infra.kafka_bootstrap, topic("hours.events"), encode(event), key=SIRET.encode())
    start_worker(service)
    headers = {"X-API-Key": key}
    wait_until(lambda: client.get("/api/v1/lots" if service == "markets" else "/api/v1/alerts",
                                  headers=headers).status_code == 200, timeout=30)
    return headers


def _seeded_roles(service, client, auth, infra, topic, start_worker) -> dict[str, dict]:
    """Headers of each role, with something of each kind in the service for lists and reads to return."""
    facilitator, operator = auth("facilitator", CARCASSONNE), auth("operator", CARCASSONNE)
    roles = {"facilitator": facilitator, "operator": operator, "buyer": auth("buyer", CARCASSONNE)}
    if service == "markets":
        buyer = _buyer(client, facilitator)
        market = client.post("/api/v1/markets", headers=facilitator, json={**MARKET, "buyer_id": buyer["id"]}).json
        lot = client.post(f"/api/v1/markets/{market['id']}/lots", headers=facilitator, json=LOT).json
        assert client.post(f"/api/v1/lots/{lot['id']}/award", headers=facilitator, json={
            "contractor_siret": SIRET, "contractor_name": "BTP Aude"}).status_code == 200
        roles["buyer"] = auth("buyer", CARCASSONNE, buyer_id=buyer["id"])
        roles["contractor"] = _known_contractor_key(client, infra, topic, start_worker, service)
        from test_authorisation_matrix import census_of_home
        census_of_home(client, auth)  # a census imported, a buyer of it in the directory, a promotion action
    elif service == "hours":
        roles["contractor"] = _contractor_key(client, facilitator)
    elif service == "participants":
        assert client.post("/api/v1/participants", headers=facilitator, json=PERSON).status_code == 201
    elif service == "notifications":
        assert client.post("/api/v1/recipients", headers=facilitator, json={
            "territory": CARCASSONNE, "name": "Guichet", "email": "guichet@carcassonne.example"}).status_code == 201
        roles["contractor"] = _known_contractor_key(client, infra, topic, start_worker, service)
    elif service == "observatory":
        from observatory.handlers import apply_events
        from test_observatory_service import world
        apply_events([event for _, event in world()])  # markets, lots, people, lines of Carcassonne and Narbonne
        roles["buyer"] = auth("buyer", CARCASSONNE, buyer_id="b1")  # the buyer of the Carcassonne market
    roles[PUBLIC] = {}  # an operation without x-allowed-roles is public on purpose: called without credentials
    return roles


def _failures_of(operation, role: str, headers: dict) -> list[str]:
    """Send generated requests (valid and invalid) to one operation as one role; what the checks refused."""
    failures: dict[str, str] = {}
    strategy = st.one_of(operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))

    @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION_AND_ROLE, derandomize=True, database=None,
                         deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=strategy)
    def send(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as failed:  # keep each kind of failure once, with a request showing it
            for failure in getattr(failed, "exceptions", [failed]):
                failures.setdefault(failure.title, f"{failure.title}: {failure.message}\n"
                                                   f"    {case.as_curl_command(headers=headers)}")

    send()
    return [f"{operation.label} as {role}: {text}" for text in failures.values()]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(service, service_env, auth, infra, topic,
                                                                          start_worker):
    app = _app(service_env, service)
    roles = _seeded_roles(service, app.test_client(), auth, infra, topic, start_worker)
    schema = schemathesis.openapi.from_wsgi(f"/docs/{service}/openapi.json", app)

    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for role in operation.definition.raw.get("x-allowed-roles") or [PUBLIC]:
            failures += _failures_of(operation, role, roles[role])

    assert not failures, f"{len(failures)} failure(s) on {service}:\n" + "\n".join(failures)
