"""The census of the region's public contracts (DECP open data) and the promotion log, through the markets
service's test client against the real broker and store. Files come from tests/support/decp.py."""
import io

import pytest

from support import events_of, read_topic
from support.decp import NO_SOCIAL, contract, csv_rows, siret, write_csv, write_json

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
DEPARTEMENT = "aude-departement"
NEVER = siret(1101)  # a commune that never used a clause: big works
SMALL = siret(1102)  # no clause either: cleaning, smaller
ADOPTER = siret(1103)  # uses clauses
ELSEWHERE = siret(3401)  # a buyer of the Hérault
COMPANY = siret(7001)


def aude_census() -> list[dict]:
    """Three years of the Aude (département 11), buyers with and without clauses, one out of the region,
    and records the import must refuse."""
    return [
        contract("2022NV01", NEVER, amount=800000, cpv="45", notified="2022-05-10", buyer_name="Commune de Lézignan"),
        contract("2023NV02", NEVER, amount=1000000, cpv="45", notified="2023-06-01", postal_code="11200",
                 buyer_name="Commune de Lézignan"),
        contract("2023NV03", NEVER, amount=60000, cpv="90", notified="2023-09-01"),  # under the 90,000 € threshold
        contract("2023NV04", NEVER, amount=300000, cpv="30", notified="2023-10-01"),  # supplies: no hours
        contract("2023SM01", SMALL, amount=200000, cpv="90", notified="2023-02-01", buyer_name="SIVOM du Lauragais"),
        contract("2022AD01", ADOPTER, amount=500000, cpv="45", notified="2022-03-01", social=["Clause sociale"],
                 contractors=[COMPANY], buyer_name="Département de l'Aude (test)"),
        contract("2023AD02", ADOPTER, amount=200000, cpv="77", notified="2023-04-01",
                 social=["Marché réservé", "Critère social"], buyer_name="Département de l'Aude (test)"),
        contract("2024AD03", ADOPTER, amount=150000, cpv="55", notified="2024-01-20", social=[NO_SOCIAL]),
        contract("2023HE01", ELSEWHERE, amount=900000, cpv="45", notified="2023-03-01", postal_code="34000"),
        {**contract("2023BAD1", NEVER, notified="2023-01-01"), "montant": "beaucoup"},
        {**contract("2023BAD2", NEVER, notified="2023-01-01"), "dateNotification": "1899-01-01"},
        {**contract("2023BAD3", "123", notified="2023-01-01")},
    ]


def as_file(tmp_path, records, name="decp-aude.json") -> bytes:
    path = tmp_path / name
    (write_json if name.endswith(".json") else write_csv)(path, records)
    return path.read_bytes()


@pytest.fixture
def app(service_env):
    service_env("markets")
    from markets.app import create_app
    return create_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def operator(auth):
    return auth("operator", CARCASSONNE, NARBONNE, DEPARTEMENT, subject="operateur-region")


@pytest.fixture
def facilitator(auth):
    return auth("facilitator", CARCASSONNE, subject="claire.facilitatrice")


def upload(client, headers, content: bytes, name="decp-aude.json", **query):
    return client.post("/api/v1/census/imports", headers=headers, query_string=query,
                       data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def imported(client, headers, content: bytes, name="decp-aude.json") -> dict:
    response = upload(client, headers, content, name)
    assert response.status_code == 200, response.json
    return response.json


def stored_contracts() -> list[dict]:
    from markets.census import CensusContract
    return sorted(CensusContract._get_collection().find({}, {"imported_at": 0}), key=lambda c: c["_id"])


# --- import ---------------------------------------------------------------------------------------
def test_an_import_keeps_the_regions_contracts_says_why_it_refused_others_and_changes_nothing_twice(
        client, operator, facilitator, tmp_path):
    content = as_file(tmp_path, aude_census())
    report = imported(client, operator, content)
    assert (report["read"], report["kept"], report["created"], report["out_of_region"], report["refused"]) == \
        (12, 8, 8, 1, 3)
    assert {r["reason"] for r in report["refusals"]} == {
        "Montant manquant ou invalide (nombre positif attendu).",
        "Date de notification manquante, invalide ou hors de 2000–2100 (AAAA-MM-JJ attendu).",
        "SIRET de l'acheteur manquant ou invalide (14 chiffres attendus)."}
    assert {(e["position"], e["decp_id"]) for e in report["examples"]} == {(10, "2023BAD1"), (11, "2023BAD2"),
                                                                          (12, "2023BAD3")}
    assert report["summary"].startswith("12 enregistrement(s) lu(s) : 8 retenu(s) pour la région")
    first = stored_contracts()
    assert len(first) == 8 and "2023HE01" not in {c["decp_id"] for c in first}

    again = imported(client, operator, content)
    assert (again["kept"], again["created"], again["updated"], again["unchanged"]) == (8, 0, 0, 8)
    assert stored_contracts() == first
    listed = client.get("/api/v1/census/imports", headers=facilitator).json
    assert [i["report"]["created"] for i in listed] == [0, 8]

    # who may import, and what is not a DECP file
    assert upload(client, facilitator, content).status_code == 403
    refused = upload(client, operator, b'{"bonjour": 1}')
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "sans marchés" in refused.json["detail"]
    assert "Colonnes manquantes" in upload(client, operator, b"a;b\n1;2\n", name="x.csv").json["detail"]


def test_a_buyer_of_the_directory_is_kept_wherever_its_contracts_are_carried_out(client, operator, facilitator,
                                                                                 tmp_path):
    assert client.post("/api/v1/buyers", headers=facilitator, json={
        "name": "Carcassonne Agglo", "siret": ELSEWHERE, "buyer_type": "intercommunality",
        "territory": CARCASSONNE}).status_code == 201
    report = imported(client, operator, as_file(tmp_path, aude_census()))
    assert (report["kept"], report["out_of_region"]) == (9, 0)


def test_modifications_are_applied_and_a_contract_imported_again_is_updated_never_doubled(
        client, operator, facilitator, tmp_path):
    base = contract("2024MD01", NEVER, amount=400000, notified="2024-02-01", contractors=[COMPANY])
    imported(client, operator, as_file(tmp_path, [base]))
    amended = {**base, "modifications": [{"modification": {"id": 1, "montant": 480000, "dureeMois": 18}},
                                         {"modification": {"id": 2, "montant": 520000}}]}
    report = imported(client, operator, as_file(tmp_path, [amended]))
    assert (report["created"], report["updated"]) == (0, 1)
    [stored] = stored_contracts()
    assert (stored["amount_cents"], stored["duration_months"], stored["version"]) == (52000000, 18, 2)
    # the older version read again (an older file) changes nothing
    assert imported(client, operator, as_file(tmp_path, [base]))["unchanged"] == 1
    assert stored_contracts() == [stored]


def test_the_consolidated_csv_gives_one_contract_per_id_and_buyer_with_its_contractors_and_last_version(
        client, operator, app, tmp_path):
    second = siret(7002)
    record = contract("2023CS01", SMALL, amount=100000, cpv="90", notified="2023-05-01", contractors=[COMPANY, second],
                      social=["Critère social", "Clause sociale"],
                      modifications=[{"montant": 130000}])
    assert len(list(csv_rows(record))) == 4  # two versions × two contractors
    path = tmp_path / "decp-consolide.csv"
    write_csv(path, [record], delimiter=";")
    report = imported(client, operator, path.read_bytes(), name="decp-consolide.csv")
    assert (report["format"], report["read"], report["created"], report["updated"]) == ("csv", 4, 1, 3)
    [stored] = stored_contracts()
    assert stored["amount_cents"] == 13000000 and stored["social"] == ["clause", "criterion"]
    assert [c["id"] for c in stored["contractors"]] == [COMPANY, second]

    # the operator's command reads the same file: nothing changes
    result = app.test_cli_runner().invoke(args=["import-census", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 ligne(s) lu(s) : 4 retenu(s) pour la région (0 nouveau(x), 0 mis à jour, 4 inchangé(s))" in result.output
    assert stored_contracts() == [stored]


# --- adoption, table, where to act --------------------------------------------------------------------
def test_adoption_per_buyer_and_year_counts_contracts_above_the_threshold(client, operator, facilitator, auth,
                                                                           tmp_path):
    imported(client, operator, as_file(tmp_path, aude_census()))
    rows = client.get("/api/v1/census/buyers", headers=facilitator, query_string={"siret": ADOPTER}).json
    assert [(r["year"], r["contracts"], r["amount"]) for r in rows] == [(2024, 1, 150000), (2023, 1, 200000),
                                                                        (2022, 1, 500000)]
    y2023 = rows[1]
    assert (y2023["reserved"]["share"], y2023["criterion"]["share"], y2023["clause"]["share"], y2023["none"]["share"]) \
        == (1.0, 1.0, 0.0, 0.0)
    never = client.get("/api/v1/census/buyers", headers=facilitator,
                       query_string={"siret": NEVER, "year": 2023}).json
    assert [(r["contracts"], r["amount"], r["none"]["share"]) for r in never] == [(2, 1300000, 1.0)]  # 60,000 € left out
    assert never[0]["name"] == "Commune de Lézignan" and never[0]["directory_buyer_id"] is None
    assert client.get("/api/v1/census/buyers", headers=auth("buyer", CARCASSONNE)).status_code == 403
    assert client.get("/api/v1/census/buyers", headers=facilitator, query_string={"year": 1990}).status_code == 422


def test_the_regional_table_has_stated_defaults_and_only_the_operator_edits_it(client, operator, facilitator,
                                                                              tmp_path):
    imported(client, operator, as_file(tmp_path, aude_census()))
    table = client.get("/api/v1/census/table", headers=facilitator).json
    assert (table["defaults"], table["threshold"], table["hourly_cost"], table["insertion_rate"]) == \
        (True, 90000, 30, 0.05)
    works = next(f for f in table["families"] if f["code"] == "45")
    assert works["labour_share"] == 0.4
    # 1,000,000 € × 0.40 × 5 % ÷ 30 € = 666.7 → 667 h; 800,000 € → 533 h
    assert client.get("/api/v1/census/where-to-act", headers=facilitator).json[0]["potential_hours"] == 667 + 533

    changed = {**table, "hourly_cost": "25", "families": [{**works, "labour_share": "0.5"}]}
    for key in ("defaults", "updated_by", "updated_at"):
        changed.pop(key)
    assert client.put("/api/v1/census/table", headers=facilitator, json=changed).status_code == 403
    bad = client.put("/api/v1/census/table", headers=operator, json={**changed, "families": [
        {"code": "45", "label": "Travaux", "labour_share": "1.5"}, {"code": "4", "label": "x" * 121,
                                                                   "labour_share": "0.2"}]})
    assert bad.status_code == 422 and set(bad.json["errors"]["families"]["1"]) == {"code", "label"}
    assert client.put("/api/v1/census/table", headers=operator, json={**changed, "threshold": "-1"}).status_code == 422
    put = client.put("/api/v1/census/table", headers=operator, json=changed)
    assert put.status_code == 200 and put.json["updated_by"] == "operateur-region"
    # 1,000,000 × 0.5 × 5 % ÷ 25 = 1,000 h; 800,000 → 800 h; cleaning (90) has left the table
    ranked = client.get("/api/v1/census/where-to-act", headers=facilitator).json
    assert [(b["siret"], b["potential_hours"]) for b in ranked] == [(NEVER, 1800)]


def test_the_facilitator_sees_whom_to_meet_first_records_a_meeting_and_later_sees_the_effect(
        client, operator, facilitator, auth, tmp_path):
    """The issue's done-when: a generated census of the Aude, several years, buyers with and without clauses."""
    census_file = as_file(tmp_path, aude_census())
    imported(client, operator, census_file)

    ranked = client.get("/api/v1/census/where-to-act", headers=facilitator).json
    assert [(b["siret"], b["potential_hours"]) for b in ranked] == [(NEVER, 1200), (SMALL, 217)]
    first = ranked[0]
    assert first["name"] == "Commune de Lézignan" and first["contracts"] == 4
    assert [(c["decp_id"], c["potential_hours"], c["family"]) for c in first["examples"]] == [
        ("2023NV02", 667, "Travaux de construction"), ("2022NV01", 533, "Travaux de construction")]
    assert [b["siret"] for b in client.get("/api/v1/census/where-to-act", headers=facilitator,
                                           query_string={"year": 2022}).json] == [NEVER]

    # the buyer joins the directory in one step; from now on it belongs to Carcassonne only
    added = client.post(f"/api/v1/census/buyers/{NEVER}/directory", headers=facilitator,
                        json={"territory": CARCASSONNE, "buyer_type": "commune"})
    assert added.status_code == 201 and added.json["name"] == "Commune de Lézignan"
    assert client.post(f"/api/v1/census/buyers/{NEVER}/directory", headers=facilitator,
                       json={"territory": CARCASSONNE}).status_code == 409
    narbonne = auth("facilitator", NARBONNE)
    assert NEVER not in {b["siret"] for b in client.get("/api/v1/census/where-to-act", headers=narbonne).json}

    # a meeting, with what was agreed and the next step
    meeting = {"buyer_siret": NEVER, "territory": CARCASSONNE, "kind": "individual_meeting", "date": "2024-01-15",
               "people_met": [{"name": "Service de la commande publique", "role": "Acheteuse",
                               "email": "commande.publique@lezignan.example"}],
               "agreed": "Une clause d'insertion dans le prochain marché de voirie.",
               "next_step": "Envoyer le modèle de clause", "next_step_on": "2024-02-01"}
    recorded = client.post("/api/v1/promotion/actions", headers=facilitator, json=meeting)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["buyer_name"] == "Commune de Lézignan"
    assert recorded.json["kind_label"] == "rendez-vous individuel"
    assert client.post("/api/v1/promotion/actions", headers=narbonne, json=meeting).status_code == 403
    assert client.get(f"/api/v1/promotion/actions/{recorded.json['id']}", headers=narbonne).status_code == 403
    assert client.get("/api/v1/promotion/actions", headers=narbonne).json == []
    assert [a["id"] for a in client.get("/api/v1/promotion/actions", headers=facilitator,
                                        query_string={"buyer_siret": NEVER}).json] == [recorded.json["id"]]

    # later: the next census shows the buyer's contracts after the meeting, with a clause
    later = aude_census() + [
        contract("2024NV05", NEVER, amount=700000, cpv="45", notified="2024-06-01", social=["Clause sociale"]),
        contract("2024NV06", NEVER, amount=200000, cpv="90", notified="2024-09-01")]
    report = imported(client, operator, as_file(tmp_path, later, "decp-2024.json"))
    assert (report["created"], report["unchanged"]) == (2, 8)

    effect = client.get("/api/v1/promotion/effect", headers=facilitator).json
    [met] = effect["met"]
    assert (met["siret"], met["first_meeting_on"]) == (NEVER, "2024-01-15")
    assert (met["before"]["contracts"], met["before"]["any"]["share"]) == (2, 0.0)  # 2023NV02 and 2023NV04
    assert (met["after"]["contracts"], met["after"]["any"]["share"]) == (2, 0.5)
    assert effect["not_met"]["reference_date"] == "2024-01-15" and effect["not_met"]["buyers"] == 2
    years = {y["year"]: y for y in effect["region_by_year"]}
    assert years[2023]["national_share"] == 0.187 and years[2024]["national_target"] == 0.3
    assert NEVER not in {b["siret"] for b in client.get("/api/v1/census/where-to-act", headers=facilitator,
                                                        query_string={"year": 2024}).json}


def test_promotion_actions_refuse_what_is_incomplete_or_unknown(client, operator, facilitator, tmp_path):
    imported(client, operator, as_file(tmp_path, aude_census()))
    base = {"buyer_siret": SMALL, "territory": CARCASSONNE, "kind": "newsletter", "date": "2024-03-01"}
    cases = [({"kind": "déjeuner"}, "kind"), ({"date": "1999-12-31"}, "date"), ({"territory": "aude-carcasonne"},
                                                                                  "territory"),
             ({"agreed": "x" * 4001}, "agreed"), ({"people_met": [{"name": "A", "email": "pas-un-mail"}]},
                                                  "people_met")]
    for change, field in cases:
        response = client.post("/api/v1/promotion/actions", headers=facilitator, json={**base, **change})
        assert response.status_code == 422 and field in response.json["errors"], (change, response.json)
    unknown = client.post("/api/v1/promotion/actions", headers=facilitator, json={**base, "buyer_siret": siret(999)})
    assert unknown.status_code == 422 and "Acheteur inconnu" in unknown.json["detail"]
    half = client.post("/api/v1/promotion/actions", headers=facilitator, json={**base, "next_step": "Rappeler"})
    assert half.status_code == 422 and "next_step_on" in half.json["detail"]
    done = client.post("/api/v1/promotion/actions", headers=facilitator, json=base)
    assert done.status_code == 201
    patched = client.patch(f"/api/v1/promotion/actions/{done.json['id']}", headers=facilitator,
                           json={"next_step": "Rappeler", "next_step_on": "2024-04-01"})
    assert patched.status_code == 200 and patched.json["next_step_on"] == "2024-04-01"


def test_a_next_step_coming_due_is_published_once_for_the_notifications_service(
        client, operator, facilitator, app, start_worker, infra, topic, tmp_path):
    imported(client, operator, as_file(tmp_path, aude_census()))
    action = client.post("/api/v1/promotion/actions", headers=facilitator, json={
        "buyer_siret": SMALL, "territory": CARCASSONNE, "kind": "training", "date": "2024-03-01",
        "next_step": "Proposer une réunion avec les élus", "next_step_on": "2024-03-20"}).json
    runner = app.test_cli_runner()
    assert "0 next step(s)" in runner.invoke(args=["remind-next-steps", "--today", "2024-03-01"]).output
    assert "1 next step(s)" in runner.invoke(args=["remind-next-steps", "--today", "2024-03-14"]).output
    assert "0 next step(s)" in runner.invoke(args=["remind-next-steps", "--today", "2024-03-15"]).output
    start_worker("markets")
    [event] = [e for e in events_of(read_topic(infra.kafka_bootstrap, topic("markets.events"), expect=1, timeout=10))
               if e["type"] == "promotion.next_step_due"]
    assert event["territories"] == [CARCASSONNE]
    assert event["payload"]["action_id"] == action["id"] and event["payload"]["next_step_on"] == "2024-03-20"
    assert event["payload"]["buyer_name"] == "SIVOM du Lauragais"


# --- a market from the census ---------------------------------------------------------------------------
def test_a_census_contract_with_a_clause_becomes_a_prefilled_market_once(client, operator, facilitator, tmp_path):
    imported(client, operator, as_file(tmp_path, aude_census()))
    contract_id = f"{ADOPTER}:2022AD01"
    missing = client.post(f"/api/v1/census/contracts/{contract_id}/market", headers=facilitator)
    assert missing.status_code == 422 and "annuaire" in missing.json["detail"]
    assert client.post(f"/api/v1/census/buyers/{ADOPTER}/directory", headers=facilitator,
                       json={"territory": CARCASSONNE, "buyer_type": "departement"}).status_code == 201
    made = client.post(f"/api/v1/census/contracts/{contract_id}/market", headers=facilitator)
    assert made.status_code == 201, made.json
    market = made.json
    assert (market["reference"], market["nature"], market["cpv_code"], market["clause_kind"], market["status"]) == \
        ("2022AD01", "works", "45210000-2", "execution_condition", "awarded")
    assert (market["start_date"], market["end_date"], market["lead_territory"]) == ("2022-03-01", "2023-03-01",
                                                                                    CARCASSONNE)
    [lot] = client.get(f"/api/v1/markets/{market['id']}/lots", headers=facilitator).json
    # 500,000 € × 0.40 × 5 % ÷ 30 € = 333.3 → 333 h, awarded to the contract's company
    assert (lot["quota"]["hours"], lot["contractor_siret"]) == (333, COMPANY)
    again = client.post(f"/api/v1/census/contracts/{contract_id}/market", headers=facilitator)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    none = client.post(f"/api/v1/census/contracts/{ADOPTER}:2024AD03/market", headers=facilitator)
    assert none.status_code == 409 and "aucune considération sociale" in none.json["detail"]
    assert client.post("/api/v1/census/contracts/inconnu/market", headers=facilitator).status_code == 404
