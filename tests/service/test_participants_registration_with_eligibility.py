"""What the participants pages need of the service: a person registered and made eligible in one request
(nothing registered when the eligibility is refused), and the French labels of the codes, in one place."""
import pymongo

from support import events_of, read_topic
from test_participants_service import AUDE, PERSON, client, eligibility, facilitator, make_client  # noqa: F401


def test_a_person_registered_with_their_eligibility_is_eligible_at_once_and_both_events_follow(
        client, facilitator, start_worker, topic, infra):
    response = client.post("/api/v1/participants", headers=facilitator,
                           json={**PERSON, "eligibility": eligibility({"code": "rqth"})})
    assert response.status_code == 201, response.json
    person = response.json
    assert (person["status"], person["status_label"]) == ("eligible", "éligible")
    assert person["eligibility"]["eligible_until"] == "2028-02-29"
    assert [d["kind"] for d in person["eligibility_history"]] == ["granted"]

    start_worker("participants")
    registered, granted = events_of(read_topic(infra.kafka_bootstrap, topic("participants.events"), expect=2))
    assert (registered["type"], registered["payload"]["categories"]) == ("participant.registered", ["rqth"])
    assert granted["type"] == "eligibility.granted"


def test_a_refused_eligibility_registers_no_one(client, facilitator, service_env, infra):
    database = pymongo.MongoClient(infra.mongodb_url)[service_env("participants")]
    too_old = {**eligibility(), "evidence": {"kind": "attestation CAF", "reference": "CAF-1", "date": "2025-01-02"}}
    refused = client.post("/api/v1/participants", headers=facilitator, json={**PERSON, "eligibility": too_old})
    assert refused.status_code == 422
    assert "justificatif du 02/01/2025" in refused.json["detail"]

    missing = client.post("/api/v1/participants", headers=facilitator,
                          json={**PERSON, "eligibility": {"criteria": [{"code": "rqth"}], "evidence": {}}})
    assert missing.status_code == 422
    assert set(missing.json["errors"]["eligibility"]) == {"eligible_from", "evidence"}
    assert database["participants"].count_documents({}) == 0


def test_the_labels_of_the_codes_are_in_french(client, facilitator, auth):
    labels = client.get("/api/v1/participants/labels", headers=facilitator).json
    assert labels["criteria"]["rqth"] == "travailleur handicapé (RQTH)"
    assert labels["outcomes"]["permanent_contract"] == "contrat à durée indéterminée (CDI)"
    assert labels["contract_types"]["cdd"] == "CDD"
    assert labels["access_actions"]["export"] == "export des données (droit d'accès)"
    assert client.get("/api/v1/participants/labels", headers=auth("buyer", AUDE)).status_code == 403
