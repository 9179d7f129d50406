"""The participants service through its Flask test client, against the real broker and store."""
from datetime import date

import pytest

from support import events_of, read_topic

AUDE = "aude-departement"
NARBONNE = "aude-grand-narbonne"
PERSON = {"territory": AUDE, "first_name": "Yasmina", "last_name": "Benali-Roussel",
          "birth_date": "1990-06-15", "sex": "female", "commune": "Carcassonne", "qpv": True,
          "email": "yasmina.benali@example.org", "phone": "06 12 34 56 78"}
EVIDENCE = {"kind": "attestation CAF", "reference": "CAF-2026-778899", "date": "2026-02-20",
            "prescriber": "France Travail Carcassonne"}


def eligibility(*criteria: dict, eligible_from: str = "2026-03-01") -> dict:
    return {"criteria": list(criteria) or [{"code": "minimum_benefit", "benefit": "RSA"}],
            "evidence": EVIDENCE, "eligible_from": eligible_from}


@pytest.fixture
def make_client(service_env):
    def make(**env):
        service_env("participants", **env)
        from participants.app import create_app
        return create_app().test_client()
    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def facilitator(auth):
    return auth("facilitator", AUDE, subject="facilitatrice-aude")


def register(client, headers, **changes) -> dict:
    response = client.post("/api/v1/participants", json={**PERSON, **changes}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_a_registered_participant_is_returned_with_their_identity(client, facilitator):
    created = register(client, facilitator)

    assert {k: created[k] for k in PERSON} == PERSON
    assert created["status"] == "registered"
    assert created["eligibility"] is None
    assert client.get(f"/api/v1/participants/{created['id']}", headers=facilitator).json == created


def test_optional_fields_have_defaults(client, facilitator):
    body = {k: v for k, v in PERSON.items() if k not in ("qpv", "email", "phone")}
    response = client.post("/api/v1/participants", json=body, headers=facilitator)
    assert response.status_code == 201, response.json
    assert (response.json["qpv"], response.json["email"], response.json["phone"]) == (False, None, None)


def test_calls_without_token_outside_the_territory_or_by_a_buyer_are_refused(client, facilitator, auth):
    assert client.post("/api/v1/participants", json=PERSON).status_code == 401
    narbonne = auth("facilitator", NARBONNE)
    refused = client.post("/api/v1/participants", json=PERSON, headers=narbonne)
    assert refused.status_code == 403
    assert refused.json["detail"].startswith("Vous n'intervenez")
    assert client.post("/api/v1/participants", json=PERSON, headers=auth("buyer", AUDE)).status_code == 403

    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=narbonne).status_code == 403
    assert client.get(url, headers=auth("buyer", AUDE)).status_code == 403
    assert client.post(f"{url}/eligibility", json=eligibility(), headers=narbonne).status_code == 403
    assert client.post(f"{url}/eligibility/revoke", json={"reason": "x"}, headers=narbonne).status_code == 403
    unknown = client.get("/api/v1/participants/nobody", headers=facilitator)
    assert unknown.status_code == 404
    assert unknown.json["detail"] == "Participant introuvable."


def test_a_bad_body_gets_french_messages_per_field(client, facilitator):
    body = {**PERSON, "sex": "x", "email": "not-an-email", "birth_date": "15/06/1990", "phone": "call me",
            "nickname": "Yas"}
    del body["first_name"]
    response = client.post("/api/v1/participants", json=body, headers=facilitator)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.json["errors"]
    assert errors["first_name"] == ["Champ obligatoire."]
    assert errors["sex"] == ["Sexe attendu : female (femme) ou male (homme)."]
    assert errors["email"] == ["Adresse électronique invalide."]
    assert errors["birth_date"] == ["Date attendue au format AAAA-MM-JJ."]
    assert errors["phone"][0].startswith("Numéro de téléphone invalide")
    assert errors["nickname"] == ["Champ inconnu."]
    future = client.post("/api/v1/participants", json={**PERSON, "birth_date": "2099-01-01"}, headers=facilitator)
    assert future.json["errors"]["birth_date"] == ["La date de naissance doit être passée."]


def test_eligibility_is_granted_with_a_24_month_window_by_default(client, facilitator):
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    response = client.post(f"{url}/eligibility", json=eligibility(
        {"code": "minimum_benefit", "benefit": "RSA"}, {"code": "long_term_job_seeker", "months": 14}),
        headers=facilitator)

    assert response.status_code == 201, response.json
    assert response.json["status"] == "eligible"
    granted = response.json["eligibility"]
    assert (granted["eligible_from"], granted["eligible_until"]) == ("2026-03-01", "2028-02-29")
    assert [c["code"] for c in granted["criteria"]] == ["minimum_benefit", "long_term_job_seeker"]
    assert granted["evidence"] == EVIDENCE
    assert granted["validated_by"] == "facilitatrice-aude"
    assert granted["revoked_on"] is None
    assert client.get(url, headers=facilitator).json == response.json
    again = client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator)
    assert again.status_code == 409
    assert "déjà éligible" in again.json["detail"]


def test_the_window_length_comes_from_the_setting(make_client, facilitator):
    client = make_client(PARTICIPANTS_COUNTING_WINDOW_MONTHS="12")
    participant = register(client, facilitator)
    response = client.post(f"/api/v1/participants/{participant['id']}/eligibility",
                           json=eligibility(eligible_from="2025-01-31"), headers=facilitator)
    assert response.json["eligibility"]["eligible_until"] == "2026-01-30"


def test_an_out_of_range_window_setting_stops_the_service(service_env):
    from participants.app import load
    from plumbing.settings import SettingsError
    service_env("participants", PARTICIPANTS_COUNTING_WINDOW_MONTHS="0")
    with pytest.raises(SettingsError, match="PARTICIPANTS_COUNTING_WINDOW_MONTHS"):
        load()


@pytest.mark.parametrize("birth_date, criterion, rule, message", [
    ("1990-06-15", {"code": "minimum_benefit"}, "minimum_benefit", "précisez la prestation perçue"),
    ("1990-06-15", {"code": "minimum_benefit", "benefit": "APL"}, "minimum_benefit", "précisez la prestation"),
    ("1976-03-02", {"code": "job_seeker_50_plus"}, "job_seeker_50_plus", "49 ans à la date d'entrée"),
    ("1990-06-15", {"code": "long_term_job_seeker", "months": 11}, "long_term_job_seeker", "12 mois"),
    ("2000-03-01", {"code": "under_26_low_qualification"}, "under_26_low_qualification", "26 ans à la date"),
    ("1990-06-15", {"code": "prescriber_derogation", "reason": " "}, "prescriber_derogation", "avis motivé"),
])
def test_eligibility_is_refused_when_a_rule_does_not_hold(client, facilitator, birth_date, criterion, rule,
                                                         message):
    participant = register(client, facilitator, birth_date=birth_date)
    url = f"/api/v1/participants/{participant['id']}"
    response = client.post(f"{url}/eligibility", json=eligibility(criterion), headers=facilitator)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["rule"] == rule
    assert response.json["detail"].startswith("Critère « ")
    assert message in response.json["detail"]
    assert client.get(url, headers=facilitator).json["status"] == "registered"


@pytest.mark.parametrize("birth_date, criterion", [
    ("1976-03-01", {"code": "job_seeker_50_plus"}),  # 50th birthday on the entry date
    ("2000-03-02", {"code": "under_26_low_qualification"}),  # 26th birthday the day after
    ("1990-06-15", {"code": "long_term_job_seeker", "months": 12}),
    ("1990-06-15", {"code": "rqth"}),
    ("1990-06-15", {"code": "siae_employee"}),
    ("1990-06-15", {"code": "prescriber_derogation", "reason": "Avis motivé de la Mission locale"}),
    ("1990-06-15", {"code": "rqth", "benefit": "APL", "months": 3}),  # attributes it does not need
])
def test_eligibility_is_granted_when_a_rule_holds(client, facilitator, birth_date, criterion):
    participant = register(client, facilitator, birth_date=birth_date)
    response = client.post(f"/api/v1/participants/{participant['id']}/eligibility",
                           json=eligibility(criterion), headers=facilitator)
    assert response.status_code == 201, response.json
    assert response.json["eligibility"]["criteria"][0]["code"] == criterion["code"]


def test_a_malformed_eligibility_request_gets_french_messages(client, facilitator):
    participant = register(client, facilitator)
    response = client.post(f"/api/v1/participants/{participant['id']}/eligibility",
                           json={"criteria": [], "evidence": {"kind": "attestation"}}, headers=facilitator)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors["criteria"] == ["Au moins un critère d'éligibilité est requis."]
    assert errors["evidence"] == {"reference": ["Champ obligatoire."], "date": ["Champ obligatoire."]}
    assert errors["eligible_from"] == ["Champ obligatoire."]
    unknown = client.post(f"/api/v1/participants/{participant['id']}/eligibility",
                          json=eligibility({"code": "homeless"}), headers=facilitator)
    assert unknown.json["errors"]["criteria"]["0"]["code"][0].startswith("Critère inconnu")


def test_revoking_ends_the_eligibility_once(client, facilitator):
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    not_yet = client.post(f"{url}/eligibility/revoke", json={"reason": "Erreur de saisie"}, headers=facilitator)
    assert not_yet.status_code == 409
    client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator)

    too_early = client.post(f"{url}/eligibility/revoke", json={"reason": "Fin de droits RSA",
                                                               "revoked_on": "2026-02-01"}, headers=facilitator)
    assert too_early.status_code == 422
    revoked = client.post(f"{url}/eligibility/revoke", json={"reason": "Fin de droits RSA"}, headers=facilitator)
    assert revoked.status_code == 200, revoked.json
    assert revoked.json["status"] == "revoked"
    assert revoked.json["eligibility"]["revoked_on"] == date.today().isoformat()
    assert revoked.json["eligibility"]["revocation_reason"] == "Fin de droits RSA"
    assert revoked.json["eligibility"]["eligible_until"] == "2028-02-29"
    assert client.get(url, headers=facilitator).json == revoked.json
    again = client.post(f"{url}/eligibility/revoke", json={"reason": "encore"}, headers=facilitator)
    assert again.status_code == 409
    regranted = client.post(f"{url}/eligibility", json=eligibility(eligible_from="2026-09-01"), headers=facilitator)
    assert regranted.status_code == 201
    assert regranted.json["eligibility"]["revoked_on"] is None


def test_published_events_carry_no_identity_and_carry_the_window(client, facilitator, start_worker, topic,
                                                                  infra):
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    client.post(f"{url}/eligibility", json=eligibility({"code": "rqth"}), headers=facilitator)
    client.post(f"{url}/eligibility/revoke", json={"reason": "Déménagement hors du territoire",
                                                   "revoked_on": "2026-10-31"}, headers=facilitator)
    start_worker("participants")

    records = read_topic(infra.kafka_bootstrap, topic("participants.events"), expect=3)
    assert len(records) == 3
    for record in records:
        assert record.key == participant["id"].encode()
        for personal in (PERSON["first_name"], PERSON["last_name"], PERSON["email"], PERSON["phone"],
                         PERSON["birth_date"], EVIDENCE["reference"], EVIDENCE["kind"], EVIDENCE["date"],
                         "Déménagement", "first_name", "last_name", "email", "birth_date", "evidence"):
            assert personal.encode() not in record.value, personal
    registered, granted, revoked = events_of(records)
    for event in (registered, granted, revoked):
        assert event["producer"] == "participants"
        assert event["territories"] == [AUDE]
    assert registered["type"] == "participant.registered"
    assert registered["payload"] == {"participant_id": participant["id"], "territory": AUDE, "sex": "female",
                                     "age_band": "26_49", "qpv": True}
    assert granted["type"] == "eligibility.granted"
    assert granted["payload"] == {"participant_id": participant["id"], "territory": AUDE, "categories": ["rqth"],
                                  "eligible_from": "2026-03-01", "eligible_until": "2028-02-29"}
    assert revoked["type"] == "eligibility.revoked"
    assert revoked["payload"] == {"participant_id": participant["id"], "territory": AUDE,
                                  "revoked_on": "2026-10-31"}


def test_logs_name_participants_by_id_only(make_client, facilitator, capfd):
    client = make_client(LOG_LEVEL="DEBUG")  # even the database driver's debug logs
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    client.post(f"{url}/eligibility", json=eligibility({"code": "job_seeker_50_plus"}), headers=facilitator)
    client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator)
    client.post(f"{url}/eligibility/revoke", json={"reason": "Déménagement"}, headers=facilitator)

    logs = capfd.readouterr().err
    assert f'"participant_id": "{participant["id"]}"' in logs
    assert "eligibility revoked" in logs
    for personal in (PERSON["first_name"], PERSON["last_name"], PERSON["email"], PERSON["phone"],
                     PERSON["birth_date"], EVIDENCE["reference"], "Déménagement"):
        assert personal not in logs, personal
