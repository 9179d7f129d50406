"""The hours service's ingestion and workflow: batches, uploads, idempotent retries, rejections,
corrections as new versions, the facilitators' queue and bulk validation."""
import io

import pytest
from openpyxl import Workbook, load_workbook

from support import events_of, read_topic, wait_until
from test_hours_service import (CARCASSONNE, LINE, LOT_ID, NARBONNE, client, contractor_key,  # noqa: F401
                                facilitator, world)

BATCH = "/api/v1/declarations/batch"


def line(month="2026-03", **changes):
    return {**LINE, "month": month, **changes}


def declaration_events(infra, topic, expect):
    def found():
        events = [e for e in events_of(read_topic(infra.kafka_bootstrap, topic("hours.events"), expect=expect,
                                                  timeout=2)) if e["type"].startswith("declaration.")]
        return len(events) >= expect and events
    return wait_until(found, what=f"{expect} declaration events")


# --- workflow: rejection, correction, history -----------------------------------------------------
def test_a_rejected_line_is_corrected_as_a_new_version_and_the_history_keeps_both(
        client, contractor_key, facilitator, world, infra, topic):
    first = client.post("/api/v1/declarations", json=line(hours=35.5), headers=contractor_key).json

    assert client.post(f"/api/v1/declarations/{first['id']}/reject", json={},
                       headers=facilitator).json["errors"]["reason"] == ["Champ obligatoire."]
    rejected = client.post(f"/api/v1/declarations/{first['id']}/reject",
                           json={"reason": "Le contrat indiqué ne couvre pas mars."}, headers=facilitator)
    assert rejected.status_code == 200
    assert rejected.json["status"] == "rejected"
    assert rejected.json["rejection_reason"] == "Le contrat indiqué ne couvre pas mars."
    refused = client.post(f"/api/v1/declarations/{first['id']}/validate", headers=facilitator)
    assert refused.status_code == 409 and "corrigée" in refused.json["detail"]

    corrected = client.post(f"/api/v1/declarations/{first['id']}/correct",
                            json={"hours": 30, "reason": "heures de mars recomptées"}, headers=contractor_key)
    assert corrected.status_code == 201, corrected.json
    new = corrected.json
    assert new["id"] != first["id"] and new["line_id"] == first["id"]
    assert (new["version"], new["status"], new["hours"], new["supersedes"]) == (2, "submitted", 30, first["id"])

    old = client.get(f"/api/v1/declarations/{first['id']}", headers=contractor_key).json
    assert (old["status"], old["hours"], old["superseded_by"], old["current_id"]) == \
        ("superseded", 35.5, new["id"], new["id"])
    history = client.get(f"/api/v1/declarations/{new['id']}/history", headers=facilitator).json
    assert [(v["version"], v["status"], v["hours"]) for v in history["versions"]] == \
        [(1, "superseded", 35.5), (2, "submitted", 30)]
    assert history["current_id"] == new["id"]

    again = client.post(f"/api/v1/declarations/{first['id']}/correct", json={"hours": 20}, headers=contractor_key)
    assert again.status_code == 409 and new["id"] in again.json["detail"]  # only the version in force

    events = declaration_events(infra, topic, expect=3)
    assert [e["type"] for e in events] == ["declaration.submitted", "declaration.rejected",
                                           "declaration.corrected"]
    assert events[1]["payload"]["reason"] == "Le contrat indiqué ne couvre pas mars."
    correction = events[2]["payload"]
    assert (correction["declaration_id"], correction["supersedes"], correction["centihours"],
            correction["status"], correction["difference_centihours"]) == (new["id"], first["id"], 3000,
                                                                           "submitted", -550)
    assert events[2]["key"] == LOT_ID


def test_a_facilitators_correction_counts_as_validated_and_the_line_stays_unique(
        client, contractor_key, facilitator, world):
    first = client.post("/api/v1/declarations", json=line(), headers=contractor_key).json
    client.post(f"/api/v1/declarations/{first['id']}/validate", headers=facilitator)

    corrected = client.post(f"/api/v1/declarations/{first['id']}/correct",
                            json={"hours": 40, "mode": "geiq", "employer_siret": "55210055400013"},
                            headers=facilitator).json
    assert (corrected["status"], corrected["mode"], corrected["employer_siret"]) == \
        ("validated", "geiq", "55210055400013")

    duplicate = client.post("/api/v1/declarations", json=line(hours=1), headers=contractor_key)
    assert duplicate.status_code == 409 and duplicate.json["rule"] == "duplicate_line"
    from hours.store import Declaration
    assert Declaration.objects.count() == 1


def test_a_correction_passes_the_rules_again_and_must_change_something(client, contractor_key, facilitator, world):
    first = client.post("/api/v1/declarations", json=line(), headers=contractor_key).json

    too_many = client.post(f"/api/v1/declarations/{first['id']}/correct", json={"hours": 300},
                           headers=contractor_key)
    assert too_many.status_code == 422 and too_many.json["rule"] == "hours_above_ceiling"
    nothing = client.post(f"/api/v1/declarations/{first['id']}/correct", json={"reason": "rien"},
                          headers=contractor_key)
    assert nothing.status_code == 422 and nothing.json["errors"]["_schema"][0].startswith("Indiquez")
    validated = client.post(f"/api/v1/declarations/{first['id']}/validate", headers=facilitator).json
    cannot = client.post(f"/api/v1/declarations/{validated['id']}/reject", json={"reason": "trop tard"},
                         headers=facilitator)
    assert cannot.status_code == 409


# --- idempotent retries ---------------------------------------------------------------------------
def test_a_retried_declaration_gets_the_first_answer_and_changes_nothing(client, contractor_key, world):
    headers = {**contractor_key, "Idempotency-Key": "paie-2026-03-p1"}
    first = client.post("/api/v1/declarations", json=line(), headers=headers)
    retried = client.post("/api/v1/declarations", json=line(), headers=headers)

    assert first.status_code == retried.status_code == 201
    assert retried.json == first.json
    assert retried.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/declarations", json=line(hours=12), headers=headers)
    assert other.status_code == 422 and other.json["rule"] == "idempotency_key_reused"
    assert "autre requête" in other.json["detail"]
    from hours.store import Declaration
    assert Declaration.objects.count() == 1


def test_a_retry_after_a_first_attempt_cut_short_once_its_line_was_written_gets_that_line(client, contractor_key,
                                                                                           world):
    """The process dies between writing the line and keeping its answer: the payroll program, getting no
    answer, sends the same request again and must get its line, not a conflict about it."""
    from hours.store import Declaration, IdempotentRequest
    headers = {**contractor_key, "Idempotency-Key": "paie-2026-03-p1"}
    first = client.post("/api/v1/declarations", json=line(), headers=headers)
    IdempotentRequest.objects.delete()  # as if the answer had never been kept

    retried = client.post("/api/v1/declarations", json=line(), headers=headers)
    other_key = client.post("/api/v1/declarations", json=line(), headers={**contractor_key, "Idempotency-Key": "x"})

    assert retried.status_code == 201 and retried.json == first.json
    assert other_key.status_code == 409 and other_key.json["rule"] == "duplicate_line"
    assert Declaration.objects.count() == 1


def test_a_retried_batch_gets_the_first_report_and_writes_nothing_more(client, contractor_key, world):
    headers = {**contractor_key, "Idempotency-Key": "lot-mars"}
    body = {"lines": [line("2026-02"), line("2026-03")]}
    first = client.post(BATCH, json=body, headers=headers)
    retried = client.post(BATCH, json=body, headers=headers)

    assert first.status_code == retried.status_code == 200
    assert retried.json == first.json and first.json["accepted"] == 2
    from hours.store import Declaration
    assert Declaration.objects.count() == 2


# --- batches and uploads --------------------------------------------------------------------------
def test_a_batch_accepts_the_good_lines_and_names_each_refusal(client, contractor_key, world):
    existing = client.post("/api/v1/declarations", json=line("2026-01"), headers=contractor_key).json
    lines = [line("2026-02"), line("2026-03", hours=208.5), line("2026-04", mode="freelance"),
             line("2026-05", lot_id="lot-other"), line("2026-02"), line("2026-01"), line("2026-06"),
             line("2026-04", lot_id="lot-narbonne")]
    response = client.post(BATCH, json={"lines": lines}, headers=contractor_key)

    assert response.status_code == 207
    results = response.json["results"]
    assert [r["status"] for r in results] == ["accepted", "refused", "refused", "refused", "refused", "refused",
                                              "accepted", "accepted"]
    assert [r.get("rule") for r in results] == [None, "hours_above_ceiling", "invalid_line", "lot_not_held",
                                                "duplicate_line", "duplicate_line", None, None]
    assert results[2]["errors"]["mode"][0].startswith("Modalité inconnue")
    assert "plafond" in results[1]["detail"]
    assert results[7]["declaration_status"] == "validated"  # Narbonne auto-validates
    assert (response.json["accepted"], response.json["refused"]) == (3, 5)
    got = client.get(f"/api/v1/declarations/{results[0]['declaration_id']}", headers=contractor_key).json
    assert (got["month"], got["status"], got["hours"]) == ("2026-02", "submitted", 35.5)
    from hours.store import Declaration
    assert Declaration.objects.count() == 4 and existing["id"]


def test_all_or_nothing_writes_nothing_when_one_line_is_refused(client, contractor_key, world):
    body = {"lines": [line("2026-02"), line("2026-03", hours=0)], "all_or_nothing": True}
    response = client.post(BATCH, json=body, headers=contractor_key)

    assert response.status_code == 422
    assert response.json["rule"] == "lines_refused" and "tout ou rien" in response.json["detail"]
    assert [r["status"] for r in response.json["results"]] == ["valid", "refused"]
    from hours.store import Declaration
    assert Declaration.objects.count() == 0
    assert client.post(BATCH, json={**body, "lines": body["lines"][:1]}, headers=contractor_key).status_code == 200


def test_a_csv_upload_reads_french_headers_and_labels_and_reports_each_row(client, contractor_key, world):
    template = client.get("/api/v1/declarations/template.csv", headers=contractor_key)
    assert template.status_code == 200
    header = template.data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Lot;Référence du participant;Mois;Heures;Modalité")
    rows = [header,
            f"{LOT_ID};p-1;03/2026;35,5;Embauche directe;;CDD",
            f"{LOT_ID};p-1;2026-04;abc;Embauche directe;;CDD",
            f"{LOT_ID};p-unknown;2026-04;10;GEIQ;55210055400013;Contrat de professionnalisation",
            f"{LOT_ID};p-1;2026-05;7;ETTI;55210055400013;Intérim"]
    data = {"file": (io.BytesIO("\n".join(rows).encode("utf-8")), "heures.csv")}
    response = client.post("/api/v1/declarations/upload", data=data, headers=contractor_key,
                           content_type="multipart/form-data")

    assert response.status_code == 207, response.json
    results = response.json["results"]
    assert [(r["row"], r["status"], r.get("rule")) for r in results] == [
        (2, "accepted", None), (3, "refused", "invalid_line"), (4, "refused", "participant_unknown"),
        (5, "accepted", None)]
    assert results[1]["errors"]["hours"]
    accepted = client.get(f"/api/v1/declarations/{results[3]['declaration_id']}", headers=contractor_key).json
    assert (accepted["mode"], accepted["contract_type"], accepted["hours"]) == ("etti", "temporary", 7)


def test_an_xlsx_upload_as_the_template_is_declared_and_a_bad_file_is_explained(client, contractor_key, world):
    template = client.get("/api/v1/declarations/template.xlsx", headers=contractor_key)
    workbook = load_workbook(io.BytesIO(template.data))
    assert [c.value for c in workbook["Déclarations"][1]][:3] == ["Lot", "Référence du participant", "Mois"]
    sheet = workbook["Déclarations"]
    sheet.append([LOT_ID, "p-1", "2026-03", 151.67, "Formation", None, None])
    out = io.BytesIO()
    workbook.save(out)
    response = client.post("/api/v1/declarations/upload", data={"file": (io.BytesIO(out.getvalue()), "h.xlsx")},
                           headers=contractor_key, content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 1

    empty = Workbook()
    empty.active.append(["Lot", "Heures"])
    out = io.BytesIO()
    empty.save(out)
    bad = client.post("/api/v1/declarations/upload", data={"file": (io.BytesIO(out.getvalue()), "h.xlsx")},
                      headers=contractor_key, content_type="multipart/form-data")
    assert bad.status_code == 422 and bad.json["rule"] == "unreadable_file"
    assert "Colonnes obligatoires absentes" in bad.json["detail"]


# --- the facilitators' queue and bulk validation; who reads what ------------------------------------
def test_facilitators_see_their_territories_queue_and_validate_in_bulk(client, contractor_key, facilitator,
                                                                      world, auth):
    ids = [r["declaration_id"] for r in client.post(BATCH, json={"lines": [
        line("2026-02"), line("2026-03"), line("2026-04"), line("2026-04", lot_id="lot-narbonne")]},
        headers=contractor_key).json["results"]]

    queue = client.get("/api/v1/declarations?status=submitted&page_size=2", headers=facilitator)
    assert queue.status_code == 200
    assert [d["month"] for d in queue.json] == ["2026-02", "2026-03"]
    assert '"total": 3' in queue.headers["X-Pagination"]
    assert client.get(f"/api/v1/declarations?status=submitted&territory={NARBONNE}",
                      headers=facilitator).status_code == 403
    narbonne = auth("facilitator", NARBONNE)
    assert [d["id"] for d in client.get("/api/v1/declarations", headers=narbonne).json] == [ids[3]]
    assert client.get(f"/api/v1/declarations/{ids[0]}", headers=narbonne).status_code == 403

    report = client.post("/api/v1/declarations/validate", json={"ids": [ids[0], ids[1], ids[3], "nope"]},
                         headers=facilitator).json
    assert (report["validated"], report["refused"]) == (2, 2)
    assert [r["status"] for r in report["results"]] == ["validated", "validated", "refused", "refused"]
    assert [d["id"] for d in client.get(f"/api/v1/declarations?status=submitted&lot_id={LOT_ID}",
                                        headers=facilitator).json] == [ids[2]]
    own = client.get("/api/v1/declarations?page_size=100", headers=contractor_key).json
    assert len(own) == 4


def test_a_bulk_validation_never_overwrites_a_decision_taken_meanwhile(client, contractor_key, world):
    """The lines of a bulk action are read at once: one rejected by a colleague after that read is read
    afresh, and stays rejected."""
    from hours import handlers
    from hours.store import Declaration
    declared = client.post("/api/v1/declarations", json=line(), headers=contractor_key).json
    read_with_the_others = handlers.find_lines([declared["id"]])[declared["id"]]
    handlers.reject(declared["id"], "une collègue", "Heures en double")

    with pytest.raises(handlers.NotAllowed):
        handlers.validate(declared["id"], "facilitateur", read_with_the_others)
    assert Declaration.objects.get(version_ids=declared["id"]).status == "rejected"
