"""The participants service through its Flask test client, against the real broker and store."""
import io
import re
from datetime import date

import pytest

from participants.domain import CRITERIA
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
    stale = client.post(f"{url}/eligibility", json=eligibility(eligible_from="2026-09-01"), headers=facilitator)
    assert stale.status_code == 422  # the evidence of 20/02/2026 is more than 6 months older than the new entry
    assert stale.json["rule"] == "evidence_too_old"
    assert stale.json["detail"] == ("Critère « bénéficiaire de minima sociaux » : le justificatif du 20/02/2026 date "
                                    "de plus de 6 mois avant l'entrée (01/09/2026) ; un justificatif daté du "
                                    "01/03/2026 ou après est requis.")
    fresh = {**EVIDENCE, "reference": "CAF-2026-900100", "date": "2026-08-20"}
    regranted = client.post(f"{url}/eligibility", json={**eligibility(eligible_from="2026-09-01"), "evidence": fresh,
                                                        "reason": "Nouveau droit RSA ouvert"}, headers=facilitator)
    assert regranted.status_code == 201
    assert regranted.json["eligibility"]["revoked_on"] is None
    history = client.get(url, headers=facilitator).json["eligibility_history"]
    assert [(d["kind"], d["effective_on"], d["decided_by"], d["reason"]) for d in history] == [
        ("granted", "2026-03-01", "facilitatrice-aude", None),
        ("revoked", date.today().isoformat(), "facilitatrice-aude", "Fin de droits RSA"),
        ("renewed", "2026-09-01", "facilitatrice-aude", "Nouveau droit RSA ouvert")]
    assert [d["evidence"]["reference"] if d["evidence"] else None for d in history] == [
        "CAF-2026-778899", None, "CAF-2026-900100"]  # each decision keeps the evidence it was made on


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
    history = client.get(url, headers=facilitator).json["eligibility_history"]
    assert [d["kind"] for d in history] == ["granted", "revoked"]
    for event in (registered, granted, revoked):
        assert event["producer"] == "participants"
        assert event["territories"] == [AUDE]
    assert registered["type"] == "participant.registered"
    assert registered["payload"] == {"participant_id": participant["id"], "territory": AUDE, "categories": [],
                                     "sex": "female", "age_band": "26_49", "qpv": True}
    assert granted["type"] == "eligibility.granted"
    assert granted["payload"] == {"participant_id": participant["id"], "territory": AUDE, "categories": ["rqth"],
                                  "eligible_from": "2026-03-01", "eligible_until": "2028-02-29",
                                  "age_band": "26_49", "decision": "granted",  # at entry: the observatory's age band
                                  "eligibility_id": history[0]["id"]}
    assert revoked["type"] == "eligibility.revoked"
    assert revoked["payload"] == {"participant_id": participant["id"], "territory": AUDE,
                                  "revoked_on": "2026-10-31", "eligibility_id": history[0]["id"]}


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


# --- duplicates and rectification -----------------------------------------------------------------
def test_a_look_alike_is_refused_with_the_existing_record_unless_confirmed(client, facilitator, auth):
    existing = register(client, facilitator)
    for changes in ({"first_name": "YASMINA", "last_name": "Benali Roussel"},  # case, hyphen
                    {"first_name": "Yasmína", "last_name": "benali-roussel"},  # accents
                    {"first_name": "Benali-Roussel", "last_name": "Yasmina"},  # names swapped
                    {"commune": "Narbonne", "email": "autre@example.org"}):  # other details do not matter
        response = client.post("/api/v1/participants", json={**PERSON, **changes}, headers=facilitator)
        assert response.status_code == 409, changes
        assert response.json["existing_id"] == existing["id"]
        assert response.json["rule"] == "possible_duplicate"
        assert "déjà suivie sur ce territoire" in response.json["detail"]
        assert "confirm_new" in response.json["detail"]

    assert register(client, facilitator, birth_date="1990-06-16")["id"] != existing["id"]  # another person
    confirmed = register(client, facilitator, confirm_new=True)
    assert "confirm_new" not in confirmed
    both = client.post("/api/v1/participants", json=PERSON, headers=facilitator).json
    assert set(both["existing_ids"]) == {existing["id"], confirmed["id"]}
    # the same names in another territory are someone else's business
    both_territories = auth("facilitator", AUDE, NARBONNE)
    assert client.post("/api/v1/participants", json={**PERSON, "territory": NARBONNE},
                       headers=both_territories).status_code == 201


def test_identity_can_be_rectified_and_age_rules_still_hold(client, facilitator):
    participant = register(client, facilitator, birth_date="1975-01-10")
    url = f"/api/v1/participants/{participant['id']}"
    client.post(f"{url}/eligibility", json=eligibility({"code": "job_seeker_50_plus"}), headers=facilitator)

    rectified = client.patch(url, json={"last_name": "Roussel", "email": "y.roussel@example.org"},
                             headers=facilitator)
    assert rectified.status_code == 200, rectified.json
    assert (rectified.json["last_name"], rectified.json["first_name"]) == ("Roussel", "Yasmina")
    assert rectified.json["email"] == "y.roussel@example.org"
    assert client.post("/api/v1/participants", json={**PERSON, "last_name": "ROUSSEL", "birth_date": "1975-01-10"},
                       headers=facilitator).status_code == 409  # the look-alike key follows the new name
    too_young = client.patch(url, json={"birth_date": "1980-01-10"}, headers=facilitator)
    assert too_young.status_code == 422
    assert too_young.json["rule"] == "job_seeker_50_plus"
    assert client.get(url, headers=facilitator).json["birth_date"] == "1975-01-10"
    bad = client.patch(url, json={"first_name": "", "territory": NARBONNE}, headers=facilitator)
    assert bad.status_code == 422
    assert bad.json["errors"] == {"first_name": ["Texte de 1 à 100 caractères attendu."],
                                  "territory": ["Champ inconnu."]}


# --- evidence per criterion and territory settings ------------------------------------------------
def test_each_criterion_needs_evidence_its_own_or_the_shared_one(client, facilitator):
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}/eligibility"
    own = {**EVIDENCE, "kind": "notification MDPH", "reference": "MDPH-11-2025-42"}
    body = {"criteria": [{"code": "rqth", "evidence": own}, {"code": "minimum_benefit", "benefit": "RSA"}],
            "eligible_from": "2026-03-01"}
    missing = client.post(url, json=body, headers=facilitator)
    assert missing.status_code == 422
    assert missing.json["rule"] == "evidence_required"
    assert missing.json["detail"].startswith("Critère « bénéficiaire de minima sociaux » : un justificatif")

    body["criteria"][1]["evidence"] = EVIDENCE
    granted = client.post(url, json=body, headers=facilitator)
    assert granted.status_code == 201, granted.json
    assert [c["evidence"]["reference"] for c in granted.json["eligibility"]["criteria"]] == [
        "MDPH-11-2025-42", EVIDENCE["reference"]]
    assert granted.json["eligibility"]["evidence"] is None


def test_operators_set_the_territory_window_and_retention(client, facilitator, auth):
    operator = auth("operator", AUDE, subject="operateur-region")
    url = f"/api/v1/participants/territory-settings/{AUDE}"
    defaults = client.get(url, headers=facilitator).json
    assert (defaults["counting_window_months"], defaults["retention_months"]) == (24, 24)

    assert client.put(url, json={"counting_window_months": 12, "retention_months": 36},
                      headers=facilitator).status_code == 403
    assert client.put(f"/api/v1/participants/territory-settings/{NARBONNE}", headers=operator,
                      json={"counting_window_months": 12, "retention_months": 36}).status_code == 403
    bad = client.put(url, json={"counting_window_months": 0, "retention_months": 300}, headers=operator)
    assert bad.status_code == 422
    assert bad.json["errors"]["counting_window_months"][0].startswith("Durée de la fenêtre")
    saved = client.put(url, json={"counting_window_months": 12, "retention_months": 36}, headers=operator)
    assert saved.status_code == 200
    assert saved.json["updated_by"] == "operateur-region"

    participant = register(client, facilitator)
    granted = client.post(f"/api/v1/participants/{participant['id']}/eligibility",
                          json=eligibility(eligible_from="2026-01-01"), headers=facilitator)
    assert granted.json["eligibility"]["eligible_until"] == "2026-12-31"
    assert client.get(f"/api/v1/participants/territory-settings/{NARBONNE}",
                      headers=facilitator).status_code == 403
    assert client.get(url, headers=auth("buyer", AUDE)).status_code == 403


# --- path and outcomes -----------------------------------------------------------------------------
PATH_ENTRY = {"lot_id": "lot-ecole-1", "employer_siret": "73282932000074", "start": "2026-03-02",
              "contract_type": "cdd"}


def test_the_path_records_work_on_lots_and_the_exit_closes_it(client, facilitator):
    participant = register(client, facilitator)
    url = f"/api/v1/participants/{participant['id']}"
    client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator)

    added = client.post(f"{url}/path-entries", json=PATH_ENTRY, headers=facilitator)
    assert added.status_code == 201, added.json
    entry = added.json["path"][0]
    assert {k: entry[k] for k in PATH_ENTRY} == PATH_ENTRY
    assert entry["end"] is None and entry["recorded_by"] == "facilitatrice-aude"
    bad = client.post(f"{url}/path-entries", json={**PATH_ENTRY, "employer_siret": "12345678901234",
                                                    "contract_type": "freelance"}, headers=facilitator)
    assert bad.status_code == 422
    assert bad.json["errors"]["employer_siret"][0].startswith("SIRET invalide")
    assert bad.json["errors"]["contract_type"][0].startswith("Type de contrat inconnu")
    backwards = client.post(f"{url}/path-entries", json={**PATH_ENTRY, "end": "2026-03-01"}, headers=facilitator)
    assert (backwards.status_code, backwards.json["rule"]) == (422, "path_end")
    ended = client.patch(f"{url}/path-entries/{entry['id']}", json={"end": "2026-08-31"}, headers=facilitator)
    assert ended.json["path"][0]["end"] == "2026-08-31"
    assert client.patch(f"{url}/path-entries/nope", json={"end": "2026-08-31"},
                        headers=facilitator).status_code == 404
    client.post(f"{url}/path-entries", json={**PATH_ENTRY, "lot_id": "lot-2", "start": "2026-09-01",
                                             "contract_type": "cdi"}, headers=facilitator)

    future = client.post(f"{url}/exit", json={"outcome": "permanent_contract", "exit_date": "2099-01-01"},
                         headers=facilitator)
    assert (future.status_code, future.json["rule"]) == (422, "exit_date")
    before_entry = client.post(f"{url}/exit", json={"outcome": "training", "exit_date": "2026-02-01"},
                               headers=facilitator)
    assert "précéder l'entrée" in before_entry.json["detail"]
    unknown = client.post(f"{url}/exit", json={"outcome": "retired", "exit_date": "2026-09-30"}, headers=facilitator)
    assert unknown.json["errors"]["outcome"][0].startswith("Situation de sortie inconnue")
    exited = client.post(f"{url}/exit", json={"outcome": "permanent_contract", "exit_date": "2026-09-30"},
                         headers=facilitator)
    assert exited.status_code == 201, exited.json
    assert exited.json["exit"] == {"outcome": "permanent_contract", "exit_date": "2026-09-30",
                                   "recorded_by": "facilitatrice-aude"}
    assert [e["lot_id"] for e in exited.json["path"]] == ["lot-ecole-1", "lot-2"]
    again = client.post(f"{url}/exit", json={"outcome": "training", "exit_date": "2026-09-30"}, headers=facilitator)
    assert again.status_code == 409 and "déjà enregistrée" in again.json["detail"]
    assert client.post(f"{url}/path-entries", json=PATH_ENTRY, headers=facilitator).status_code == 409
    client.post(f"{url}/eligibility/revoke", json={"reason": "Sortie", "revoked_on": "2026-09-30"},
                headers=facilitator)
    assert client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator).status_code == 409


# --- counting window notices (scheduled command) --------------------------------------------------
def test_window_notices_are_published_once_each_by_the_scheduled_check(client, facilitator, start_worker, topic,
                                                                       infra):
    ends_soon = register(client, facilitator)  # window 2024-03-01 .. 2026-02-28
    client.post(f"/api/v1/participants/{ends_soon['id']}/eligibility", json=eligibility(eligible_from="2024-03-01"),
                headers=facilitator)
    already_over = register(client, facilitator, first_name="Noémie")  # 2023-06-01 .. 2025-05-31
    client.post(f"/api/v1/participants/{already_over['id']}/eligibility",
                json=eligibility(eligible_from="2023-06-01"), headers=facilitator)
    revoked = register(client, facilitator, first_name="Inès")
    client.post(f"/api/v1/participants/{revoked['id']}/eligibility", json=eligibility(eligible_from="2024-03-01"),
                headers=facilitator)
    client.post(f"/api/v1/participants/{revoked['id']}/eligibility/revoke", json={"reason": "Déménagement",
                "revoked_on": "2025-01-31"}, headers=facilitator)
    cli = client.application.test_cli_runner()

    def check(day):
        result = cli.invoke(args=["check-windows", "--today", day])
        assert result.exit_code == 0, result.output
        return result.output

    assert check("2026-01-28") == "Fenêtres de comptage : 0 bientôt closes, 1 closes (avis publiés).\n"
    assert check("2026-01-29").startswith("Fenêtres de comptage : 1 bientôt closes, 0 closes")  # 30 days ahead
    assert check("2026-02-28").startswith("Fenêtres de comptage : 0 bientôt closes, 0 closes")  # once
    assert client.get(f"/api/v1/participants/{ends_soon['id']}", headers=facilitator).json["status"] == "eligible"
    assert check("2026-03-01").startswith("Fenêtres de comptage : 0 bientôt closes, 1 closes")
    assert check("2026-06-01").startswith("Fenêtres de comptage : 0 bientôt closes, 0 closes")
    assert client.get(f"/api/v1/participants/{ends_soon['id']}", headers=facilitator).json["status"] == "ended"
    regranted = client.post(f"/api/v1/participants/{ends_soon['id']}/eligibility",
                            json=eligibility(eligible_from="2026-03-02"), headers=facilitator)
    assert regranted.status_code == 201  # a new assessment opens a new window

    start_worker("participants")
    notices = [e for e in events_of(read_topic(infra.kafka_bootstrap, topic("participants.events"), expect=11))
               if e["type"].startswith("eligibility.window")]
    by_participant = {}  # events are ordered per participant (the key), not across participants
    for event in notices:
        by_participant.setdefault(event["payload"]["participant_id"], []).append(event)
    assert set(by_participant) == {ends_soon["id"], already_over["id"]}
    assert [e["type"] for e in by_participant[already_over["id"]]] == ["eligibility.window_ended"]
    ending, ended = by_participant[ends_soon["id"]]
    history = client.get(f"/api/v1/participants/{ends_soon['id']}", headers=facilitator).json["eligibility_history"]
    assert [(d["kind"], d["effective_on"]) for d in history] == [("granted", "2024-03-01"), ("ended", "2026-02-28"),
                                                                 ("renewed", "2026-03-02")]
    assert ending["type"] == "eligibility.window_ending"
    assert ending["payload"] == {"participant_id": ends_soon["id"], "territory": AUDE,
                                 "eligible_until": "2026-02-28", "days_left": 30}
    assert ended["type"] == "eligibility.window_ended"
    assert ended["payload"] == {"participant_id": ends_soon["id"], "territory": AUDE,
                                "eligible_until": "2026-02-28", "eligibility_id": history[0]["id"]}


# --- GDPR: access log, export, erasure, retention ---------------------------------------------------
def followed_participant(client, facilitator, **changes) -> str:
    """Registered, eligible, with a path and an exit: every kind of data this service holds."""
    participant = register(client, facilitator, **changes)
    url = f"/api/v1/participants/{participant['id']}"
    assert client.post(f"{url}/eligibility", json=eligibility(
        {"code": "minimum_benefit", "benefit": "RSA"}, {"code": "rqth"}), headers=facilitator).status_code == 201
    assert client.post(f"{url}/path-entries", json=PATH_ENTRY, headers=facilitator).status_code == 201
    assert client.post(f"{url}/exit", json={"outcome": "fixed_term_6_months_plus", "exit_date": "2026-03-20"},
                       headers=facilitator).status_code == 201
    return participant["id"]


def test_every_read_and_change_is_in_the_access_log(client, facilitator, auth):
    participant_id = followed_participant(client, facilitator)
    url = f"/api/v1/participants/{participant_id}"
    colleague = auth("facilitator", AUDE, subject="collegue-aude")
    client.get(url, headers=colleague)
    client.patch(url, json={"phone": "07 00 00 00 00"}, headers=colleague)

    entries = client.get(f"{url}/access-log", headers=facilitator).json
    assert [(e["action"], e["subject"], e["role"]) for e in entries] == [
        ("create", "facilitatrice-aude", "facilitator"), ("grant", "facilitatrice-aude", "facilitator"),
        ("path", "facilitatrice-aude", "facilitator"), ("exit", "facilitatrice-aude", "facilitator"),
        ("read", "collegue-aude", "facilitator"), ("update", "collegue-aude", "facilitator")]
    assert all(e["at"] for e in entries)
    assert client.get(f"{url}/access-log", headers=auth("facilitator", NARBONNE)).status_code == 403
    assert client.get(f"{url}/access-log", headers=auth("operator", AUDE)).status_code == 403


def test_the_export_holds_everything_as_json_and_as_a_french_document(client, facilitator):
    participant_id = followed_participant(client, facilitator, commune="<script>alert(1)</script>")
    url = f"/api/v1/participants/{participant_id}"

    exported = client.get(f"{url}/export", headers=facilitator)
    assert exported.status_code == 200
    data = exported.json
    assert data["title"].startswith("Données personnelles détenues")
    assert data["exported_by"] == "facilitatrice-aude"
    held = data["participant"]
    assert {k: held[k] for k in PERSON if k != "commune"} == {k: v for k, v in PERSON.items() if k != "commune"}
    assert held["eligibility"]["evidence"] == EVIDENCE
    assert held["path"][0]["lot_id"] == "lot-ecole-1"
    assert held["exit"]["outcome"] == "fixed_term_6_months_plus"
    assert held["categories"] == ["minimum_benefit", "rqth"]
    assert held["age_band"] == "26_49" and held["lookalike_key"]
    assert [e["action"] for e in data["access_log"]][-1] == "export"
    assert "référence opaque" in data["other_services"]

    document = client.get(f"{url}/export.html", headers=facilitator)
    assert document.status_code == 200
    assert document.mimetype == "text/html"
    html = document.get_data(as_text=True)
    for expected in ("Données personnelles détenues à votre sujet", "Yasmina", "Benali-Roussel", "15/06/1990",
                     "bénéficiaire de minima sociaux", "(prestation : RSA)", "travailleur handicapé (RQTH)",
                     "CAF-2026-778899", "lot-ecole-1", "CDD", "contrat à durée déterminée de 6 mois ou plus",
                     "20/03/2026", "export des données (droit d&#39;accès)", "femme",
                     "&lt;script&gt;alert(1)&lt;/script&gt;", "Historique des décisions d'éligibilité",
                     "01/03/2026 : éligibilité validée (entrée le 01/03/2026"):
        assert expected in html, expected
    assert [d["kind"] for d in held["eligibility_history"]] == ["granted"]
    assert "<script>" not in html
    actions = [e["action"] for e in client.get(f"{url}/access-log", headers=facilitator).json]
    assert actions[-2:] == ["export", "export"]


def raw_participant(client, participant_id) -> dict:
    database = client.application.extensions["settings"].mongodb_db
    import pymongo
    with pymongo.MongoClient(client.application.extensions["settings"].mongodb_url) as mongo:
        return mongo[database].participants.find_one({"_id": participant_id})


def test_erasure_deletes_the_identity_keeps_the_statistics_and_is_published(client, facilitator, start_worker,
                                                                         topic, infra):
    participant_id = followed_participant(client, facilitator)
    register(client, facilitator, first_name="Noémie", sex="male", qpv=False, birth_date="2002-01-01")
    url = f"/api/v1/participants/{participant_id}"
    statistics_url = f"/api/v1/participants/statistics?territory={AUDE}"
    before = client.get(statistics_url, headers=facilitator).json

    erased = client.delete(url, headers=facilitator)
    assert erased.status_code == 200, erased.json
    assert erased.json == {"id": participant_id, "status": "erased", "erased_on": date.today().isoformat(),
                           "territory": AUDE, "sex": "female", "age_band": "26_49", "qpv": True,
                           "categories": ["minimum_benefit", "rqth"], "outcome": "fixed_term_6_months_plus"}
    stored = raw_participant(client, participant_id)
    for personal in ("Yasmina", "Benali", "1990", "example.org", "06 12", "CAF-2026", "Carcassonne", "lot-ecole"):
        # the birth year as a number of its own (not inside an event's time: ...:53.619904)
        assert not re.search(rf"(?<!\d){personal}(?!\d)", str(stored)), personal
    assert client.get(statistics_url, headers=facilitator).json == before
    assert before["participants"] == 2 and before["by_outcome"] == {"fixed_term_6_months_plus": 1}

    for method, path in (("get", ""), ("get", "/export"), ("get", "/export.html"), ("patch", ""),
                         ("delete", ""), ("post", "/eligibility"), ("post", "/exit")):
        gone = getattr(client, method)(url + path, json={} if method in ("patch", "post") else None,
                                       headers=facilitator)
        if method == "post":  # the body is checked first; a valid one meets the erasure
            continue
        assert gone.status_code == 410, (method, path)
        assert gone.json["title"] == "Données effacées"
        assert gone.json["detail"].startswith("Les données personnelles de ce participant ont été effacées le ")
    granted = client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator)
    assert granted.status_code == 410
    log = client.get(f"{url}/access-log", headers=facilitator).json
    assert log[-1]["action"] == "erase"
    assert register(client, facilitator)["id"] != participant_id  # no look-alike left behind

    start_worker("participants")
    events = events_of(read_topic(infra.kafka_bootstrap, topic("participants.events"), expect=6))
    erasure = [e for e in events if e["type"] == "participant.erased"]
    assert [e["payload"] for e in erasure] == [{"participant_id": participant_id, "territory": AUDE}]
    exited = [e for e in events if e["type"] == "participant.exited"]
    assert exited[0]["payload"] == {"participant_id": participant_id, "territory": AUDE,
                                    "outcome": "fixed_term_6_months_plus", "exit_date": "2026-03-20"}


def test_exited_participants_are_anonymised_when_their_territory_retention_is_over(client, facilitator, auth):
    exited = followed_participant(client, facilitator)  # exit on 2026-03-20
    staying = register(client, facilitator, first_name="Noémie")
    narbonne = auth("facilitator", NARBONNE)
    elsewhere = followed_participant(client, narbonne, territory=NARBONNE)
    client.put(f"/api/v1/participants/territory-settings/{NARBONNE}",
               json={"counting_window_months": 24, "retention_months": 36}, headers=auth("operator", NARBONNE))
    cli = client.application.test_cli_runner()

    def anonymise(day):
        result = cli.invoke(args=["anonymise-exited", "--today", day])
        assert result.exit_code == 0, result.output
        return result.output

    assert anonymise("2028-03-19") == "Participants sortis anonymisés (durée de conservation écoulée) : 0.\n"
    assert anonymise("2028-03-20").endswith(" : 1.\n")  # 24 months kept, through 2028-03-19
    assert client.get(f"/api/v1/participants/{exited}", headers=facilitator).status_code == 410
    assert client.get(f"/api/v1/participants/{staying['id']}", headers=facilitator).status_code == 200
    assert client.get(f"/api/v1/participants/{elsewhere}", headers=narbonne).status_code == 200  # 36 months
    assert anonymise("2029-03-20").endswith(" : 1.\n")
    assert anonymise("2030-01-01").endswith(" : 0.\n")
    log = client.get(f"/api/v1/participants/{exited}/access-log", headers=facilitator).json
    assert (log[-1]["action"], log[-1]["subject"], log[-1]["role"]) == (
        "anonymise", "commande planifiée anonymise-exited", "system")
    assert raw_participant(client, exited)["erasure_reason"] == "retention"


def test_statistics_are_anonymous_counts_for_facilitators_and_operators(client, facilitator, auth):
    followed_participant(client, facilitator)
    register(client, facilitator, first_name="Noé", sex="male", qpv=False, birth_date="2002-01-01")
    expected = {"territory": AUDE, "participants": 2, "qpv": 1, "by_sex": {"female": 1, "male": 1},
                "by_age_band": {"26_49": 1, "under_26": 1}, "by_category": {"minimum_benefit": 1, "rqth": 1},
                "by_outcome": {"fixed_term_6_months_plus": 1}}
    url = f"/api/v1/participants/statistics?territory={AUDE}"
    assert client.get(url, headers=facilitator).json == expected
    assert client.get(url, headers=auth("operator", AUDE)).json == expected
    assert client.get(url, headers=auth("buyer", AUDE)).status_code == 403
    assert client.get(url, headers=auth("operator", NARBONNE)).status_code == 403
    assert client.get("/api/v1/participants/statistics", headers=facilitator).json["errors"] == {
        "territory": ["Champ obligatoire."]}


@pytest.mark.parametrize("role", ["buyer", "operator"])
def test_only_facilitators_reach_identity(client, facilitator, auth, role):
    participant_id = followed_participant(client, facilitator)
    other = auth(role, AUDE)
    url = f"/api/v1/participants/{participant_id}"
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("get", "/export"), ("get", "/export.html"),
                         ("get", "/access-log"), ("post", "/eligibility"), ("post", "/eligibility/revoke"),
                         ("post", "/path-entries"), ("post", "/exit")):
        response = getattr(client, method)(url + path, headers=other)
        assert response.status_code == 403, (method, path)
        assert response.json["detail"] == "Action réservée aux profils : facilitateur."
    assert client.get("/api/v1/participants/import-template.csv", headers=other).status_code == 403
    contractor = client.get(url, headers={"X-API-Key": "ck_0123456789ab_secret"})  # keys belong to hours
    assert (contractor.status_code, contractor.json["detail"]) == (401, "Clé d'API inconnue ou révoquée.")
    assert client.post("/api/v1/participants/import", headers=other).status_code == 403
    narbonne = auth("facilitator", NARBONNE)
    for method, path in (("get", ""), ("delete", ""), ("get", "/export"), ("get", "/export.html")):
        assert getattr(client, method)(url + path, headers=narbonne).status_code == 403, (method, path)


# --- import ----------------------------------------------------------------------------------------
HEADER = ("Prénom;Nom;Date de naissance;Sexe;Commune de résidence;Résidence en QPV;Courriel;Téléphone;"
          "Critères d'éligibilité;Minimum social perçu;Mois d'inscription comme demandeur d'emploi;"
          "Avis motivé du prescripteur;Justificatif : nature;Justificatif : référence;Justificatif : date;"
          "Prescripteur;Date d'entrée dans la clause")
GOOD_ROWS = [
    "Léa;Martin;12/04/1992;F;Carcassonne;oui;lea.martin@example.org;06 11 22 33 44;;;;;;;;;",
    "Karim;Haddad;1971-02-03;H;Limoux;non;;;job_seeker_50_plus;;;;attestation France Travail;FT-778;"
    "01/02/2026;France Travail Limoux;01/03/2026",
    "Zoé;Durand;05/09/2003;femme;Narbonne;;;;rsa;;;;;;;;",  # no evidence, no entry date: invalid
]
BAD_ROWS = [
    ";Petit;31/02/1990;X;;peut-être;pas-un-courriel;;;;;;;;;;",
    "Jean;Vieux;01/01/1990;H;Lézignan;non;;;long_term_job_seeker;;6;;attestation;FT-1;01/01/2026;;01/02/2026",
]


def upload(client, headers, content: bytes, filename="participants.csv", **query):
    return client.post("/api/v1/participants/import", query_string=query, headers=headers,
                       data={"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data")


def csv_file(*rows: str) -> bytes:
    return ("\ufeff" + "\n".join([HEADER, *rows]) + "\n").encode()


def test_templates_carry_the_french_headers(client, facilitator):
    from openpyxl import load_workbook
    csv_template = client.get("/api/v1/participants/import-template.csv", headers=facilitator)
    assert csv_template.status_code == 200
    assert csv_template.headers["Content-Disposition"] == 'attachment; filename="modele-import-participants.csv"'
    assert csv_template.get_data().decode("utf-8-sig").strip() == HEADER

    xlsx = client.get("/api/v1/participants/import-template.xlsx", headers=facilitator)
    assert xlsx.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(xlsx.get_data()))
    assert workbook.sheetnames == ["Participants", "Mode d'emploi"]
    assert ";".join(c.value for c in workbook["Participants"][1]) == HEADER
    assert workbook["Mode d'emploi"]["B5"].value == "Obligatoire. femme ou homme (F ou H)."


def test_valid_rows_are_imported_and_bad_rows_reported_in_french(client, facilitator):
    existing = register(client, facilitator)
    response = upload(client, facilitator, csv_file(
        *GOOD_ROWS, *BAD_ROWS, "Yasmina;BENALI-ROUSSEL;15/06/1990;F;Carcassonne;oui;;;;;;;;;;;",
        "Léa;Martin;12/04/1992;F;Carcassonne;oui;;;;;;;;;;;"), mode="valid_only")

    assert response.status_code == 200, response.json
    report = response.json
    assert (report["mode"], report["territory"], report["rows_read"], report["created"], report["rejected"]) == (
        "valid_only", AUDE, 7, 2, 5)
    rows = {row["row"]: row for row in report["rows"]}
    assert [rows[n]["status"] for n in range(2, 9)] == ["created", "created", "invalid", "invalid", "invalid",
                                                        "duplicate", "duplicate"]
    assert rows[4]["errors"] == {"Justificatif : nature": [
        "Justificatif requis (nature, référence, date) pour valider l'éligibilité."],
        "Date d'entrée dans la clause": ["Champ obligatoire."]}  # « rsa » alone is understood
    assert rows[5]["errors"] == {
        "Prénom": ["Champ obligatoire."], "Date de naissance": ["Date attendue au format AAAA-MM-JJ."],
        "Sexe": ["Sexe attendu : female (femme) ou male (homme)."], "Commune de résidence": ["Champ obligatoire."],
        "Courriel": ["Adresse électronique invalide."], "Résidence en QPV": ["Valeur attendue : oui ou non."]}
    assert rows[6]["errors"]["Critères d'éligibilité"][0].startswith(
        "Critère « demandeur d'emploi de longue durée » : 12 mois")
    assert existing["id"] in rows[7]["errors"]["Nom"][0] and rows[7]["participant_id"] == existing["id"]
    assert rows[8]["errors"] == {"Nom": ["Même personne que la ligne 2 du fichier : ligne non importée."]}

    lea = client.get(f"/api/v1/participants/{rows[2]['participant_id']}", headers=facilitator).json
    assert (lea["first_name"], lea["birth_date"], lea["qpv"], lea["status"]) == ("Léa", "1992-04-12", True,
                                                                                  "registered")
    karim = client.get(f"/api/v1/participants/{rows[3]['participant_id']}", headers=facilitator).json
    assert karim["status"] == "eligible"
    assert karim["eligibility"]["eligible_from"] == "2026-03-01"
    assert karim["eligibility"]["evidence"] == {"kind": "attestation France Travail", "reference": "FT-778",
                                                "date": "2026-02-01", "prescriber": "France Travail Limoux"}
    log = client.get(f"/api/v1/participants/{rows[3]['participant_id']}/access-log", headers=facilitator).json
    assert log[0]["action"] == "import"


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(client, facilitator):
    unknown_criterion = "Ana;Costa;01/01/1990;F;Bram;non;;;sans-abri;;;;attestation;X-1;01/01/2026;;01/02/2026"
    refused = upload(client, facilitator, csv_file(*GOOD_ROWS[:2], BAD_ROWS[1], unknown_criterion),
                     mode="all_or_nothing")
    assert refused.status_code == 422
    assert refused.json["detail"].startswith("Aucune ligne importée : 2 ligne(s) comportent des erreurs")
    assert [r["status"] for r in refused.json["rows"]] == ["valid", "valid", "invalid", "invalid"]
    assert refused.json["rows"][3]["errors"] == {"Critères d'éligibilité": [
        "Critère inconnu : « sans-abri » ; codes acceptés : " + ", ".join(CRITERIA) + "."]}
    assert all(r["participant_id"] is None for r in refused.json["rows"])
    assert client.application.test_client().get(
        f"/api/v1/participants/statistics?territory={AUDE}", headers=facilitator).json["participants"] == 0

    accepted = upload(client, facilitator, csv_file(*GOOD_ROWS[:2]), mode="all_or_nothing")
    assert accepted.status_code == 200
    assert [r["status"] for r in accepted.json["rows"]] == ["created", "created"]


def test_an_xlsx_file_with_date_cells_and_numbers_is_read_like_the_template(client, facilitator):
    from datetime import datetime

    from openpyxl import Workbook
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["NOM", "prénom", "Date de naissance", "Sexe", "Commune de residence", "QPV", "Téléphone",
                  "Observations"])  # headers as typed by hand, and a column of the facilitator's own
    sheet.append(["Garcia", "Inès", datetime(1988, 11, 2), "F", "Castelnaudary", "Oui", 612345678, "RAS"])
    sheet.append(["Lopez", "Hugo", "2/11/1988", "H", "Bram", "non", None, None])
    content = io.BytesIO()
    workbook.save(content)

    response = upload(client, facilitator, content.getvalue(), filename="suivi.xlsx")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 2 and response.json["ignored_columns"] == ["Observations"]
    ines = client.get(f"/api/v1/participants/{response.json['rows'][0]['participant_id']}", headers=facilitator).json
    assert (ines["birth_date"], ines["phone"], ines["qpv"]) == ("1988-11-02", "0612345678", True)


@pytest.mark.parametrize("content, message", [
    (b"", "Le fichier est vide"),
    ("Prénom;Nom\nLéa;Martin\n".encode(), "Colonnes obligatoires absentes : Date de naissance, Sexe, Commune"),
    (HEADER.encode() + b"\n", "aucune ligne de participant"),
    (b"PK\x03\x04 not really a workbook", "Fichier XLSX illisible"),
])
def test_a_file_that_cannot_be_imported_is_refused_as_a_whole(client, facilitator, content, message):
    response = upload(client, facilitator, content)
    assert response.status_code == 422
    assert response.json["rule"] == "unreadable_file"
    assert message in response.json["detail"]


def test_the_import_is_bounded_to_the_callers_territories(client, facilitator, auth):
    assert upload(client, facilitator, csv_file(GOOD_ROWS[0]), territory=NARBONNE).status_code == 403
    two = auth("facilitator", AUDE, NARBONNE)
    unclear = upload(client, two, csv_file(GOOD_ROWS[0]))
    assert unclear.status_code == 422 and unclear.json["errors"] == {"territory": ["Champ obligatoire."]}
    assert upload(client, two, csv_file(GOOD_ROWS[0]), territory=NARBONNE).json["territory"] == NARBONNE
    bad_mode = upload(client, facilitator, csv_file(GOOD_ROWS[0]), mode="some")
    assert bad_mode.json["errors"]["mode"][0].startswith("Mode attendu")
    missing = client.post("/api/v1/participants/import", headers=facilitator, data={},
                          content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.json["errors"] == {"file": ["Champ obligatoire."]}


def test_imports_exports_and_erasures_log_ids_only(make_client, facilitator, capfd):
    client = make_client(LOG_LEVEL="DEBUG")
    report = upload(client, facilitator, csv_file(GOOD_ROWS[1], BAD_ROWS[0])).json
    participant_id = report["rows"][0]["participant_id"]
    client.get(f"/api/v1/participants/{participant_id}/export", headers=facilitator)
    client.get(f"/api/v1/participants/{participant_id}/export.html", headers=facilitator)
    client.delete(f"/api/v1/participants/{participant_id}", headers=facilitator)

    logs = capfd.readouterr().err
    assert f'"participant_id": "{participant_id}"' in logs and "participant erased" in logs
    for personal in ("Karim", "Haddad", "1971", "Limoux", "FT-778", "Petit", "pas-un-courriel"):
        assert personal not in logs, personal
