"""The refused rows of an upload: kept, downloadable as CSV or XLSX in the template's columns with the
reason of each, fixed and uploaded again; read only by whom they concern; purged after a while."""
import csv
import io
from datetime import date, datetime, timedelta, timezone

from openpyxl import Workbook, load_workbook

from test_hours_service import (CARCASSONNE, LOT_ID, NARBONNE, OTHER_SIRET, client, contractor_key,  # noqa: F401
                                facilitator, world)

UPLOAD = "/api/v1/declarations/upload"
# (field: text) per row, as a contractor types them
GOOD = {"lot_id": LOT_ID, "participant_id": "p-1", "month": "03/2026", "hours": "35,5", "mode": "Embauche directe",
        "contract_type": "CDD"}
BAD_HOURS = {**GOOD, "month": "2026-04", "hours": "abc"}
UNKNOWN_PARTICIPANT = {**GOOD, "month": "2026-05", "participant_id": "p-unknown", "mode": "GEIQ",
                       "employer_siret": "55210055400013"}


def headers() -> list[str]:
    from hours.spreadsheets import COLUMNS
    return [header for _, header, _ in COLUMNS]


def as_csv(*rows: dict) -> bytes:
    from hours.spreadsheets import COLUMNS
    lines = [";".join(headers())] + [";".join(row.get(field, "") for field, _, _ in COLUMNS) for row in rows]
    return "\n".join(lines).encode("utf-8")


def upload(client, headers, content: bytes, name="heures.csv", **extra):
    return client.post(UPLOAD, data={"file": (io.BytesIO(content), name)}, headers={**headers, **extra},
                       content_type="multipart/form-data")


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def test_refused_rows_come_back_as_a_csv_to_fix_and_upload_again(client, contractor_key, world):
    response = upload(client, contractor_key, as_csv(GOOD, BAD_HOURS, UNKNOWN_PARTICIPANT))

    assert response.status_code == 207, response.json
    assert (response.json["accepted"], response.json["refused"]) == (1, 2)
    upload_id = response.json["upload_id"]
    links = response.json["error_file"]
    assert links["csv"] == f"/api/v1/declarations/uploads/{upload_id}/errors.csv"
    assert links["xlsx"] == f"/api/v1/declarations/uploads/{upload_id}/errors.xlsx"
    assert links["kept_until"] == (datetime.now(timezone.utc).date() + timedelta(days=30)).isoformat()

    errors = client.get(links["csv"], headers=contractor_key)
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    assert "attachment" in errors.headers["Content-Disposition"]
    table = read_csv(errors.data)
    assert table[0] == headers() + ["Motif du refus", "Ligne d'origine"]
    rows = [dict(zip(table[0], row)) for row in table[1:]]
    assert [(r["Ligne d'origine"], r["Heures"], r["Modalité"], r["Type de contrat"]) for r in rows] == [
        ("3", "abc", "Embauche directe", "CDD"), ("4", "35,5", "GEIQ", "CDD")]
    assert rows[0]["Motif du refus"] == "Heures : Nombre décimal attendu."
    assert "participant" in rows[1]["Motif du refus"].lower()
    assert rows[1]["SIRET de l'employeur"] == "55210055400013"

    # fixed in place, the extra columns left as they are, then sent again
    rows[0]["Heures"] = "12"
    rows[1]["Référence du participant"] = "p-1"
    fixed = io.StringIO()
    writer = csv.writer(fixed, delimiter=";")
    writer.writerows([table[0]] + [[r[h] for h in table[0]] for r in rows])
    again = upload(client, contractor_key, fixed.getvalue().encode("utf-8-sig"))
    assert again.status_code == 200, again.json
    assert again.json["accepted"] == 2 and "upload_id" not in again.json and "error_file" not in again.json


def test_refused_rows_come_back_as_an_xlsx_to_fix_and_upload_again(client, contractor_key, world):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers())
    sheet.append([LOT_ID, "p-1", "2026-06", 240, "Formation"])  # above the monthly ceiling
    out = io.BytesIO()
    workbook.save(out)
    response = upload(client, contractor_key, out.getvalue(), "heures.xlsx")
    assert response.status_code == 207, response.json

    errors = client.get(response.json["error_file"]["xlsx"], headers=contractor_key)
    assert errors.status_code == 200
    assert errors.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(errors.data))
    sheet = book["Déclarations"]
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert table[0] == headers() + ["Motif du refus", "Ligne d'origine"]
    row = dict(zip(table[0], table[1]))
    assert (row["Lot"], row["Mois"], row["Heures"], row["Modalité"], row["Ligne d'origine"]) == (
        LOT_ID, "2026-06", "240", "Formation", 2)
    assert "plafond" in row["Motif du refus"]

    sheet.cell(row=2, column=table[0].index("Heures") + 1, value=140)
    fixed = io.BytesIO()
    book.save(fixed)
    again = upload(client, contractor_key, fixed.getvalue(), "heures-corrigees.xlsx")
    assert again.status_code == 200, again.json
    assert again.json["accepted"] == 1


def test_a_value_that_looks_like_a_formula_comes_back_as_text(client, contractor_key, facilitator, world):
    links = upload(client, contractor_key, as_csv({**GOOD, "participant_id": '=HYPERLINK("http://x.example")'}))
    errors = client.get(links.json["error_file"]["xlsx"], headers=facilitator)
    column = headers().index("Référence du participant") + 1
    cell = load_workbook(io.BytesIO(errors.data))["Déclarations"].cell(row=2, column=column)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x.example")', "s")


def test_only_the_uploader_and_the_lots_facilitators_read_the_refused_rows(client, contractor_key, facilitator,
                                                                          world, auth):
    links = upload(client, contractor_key, as_csv(BAD_HOURS)).json["error_file"]

    assert client.get(links["csv"], headers=facilitator).status_code == 200  # the lot's territory
    for someone in (auth("facilitator", NARBONNE), other_contractor(client, facilitator)):
        refused = client.get(links["csv"], headers=someone)
        assert refused.status_code == 404 and refused.json["detail"].startswith("Rapport d'envoi introuvable")
        assert client.get(links["xlsx"], headers=someone).status_code == 404
    assert client.get(links["csv"], headers=auth("buyer", CARCASSONNE)).status_code == 403
    assert client.get(links["csv"]).status_code == 401
    assert client.get("/api/v1/declarations/uploads/nope/errors.csv", headers=contractor_key).status_code == 404


def other_contractor(client, facilitator) -> dict:
    client.post("/api/v1/contractors", json={"siret": OTHER_SIRET, "name": "Autre BTP"}, headers=facilitator)
    created = client.post(f"/api/v1/contractors/{OTHER_SIRET}/api-keys", json={}, headers=facilitator)
    return {"X-API-Key": created.json["api_key"]}


def test_a_replayed_upload_returns_the_same_report(client, contractor_key, world):
    content = as_csv(GOOD, BAD_HOURS)
    first = upload(client, contractor_key, content, **{"Idempotency-Key": "envoi-mars"})
    replay = upload(client, contractor_key, content, **{"Idempotency-Key": "envoi-mars"})

    assert first.status_code == replay.status_code == 207
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    from hours.store import UploadReport
    assert UploadReport.objects.count() == 1


def test_reports_are_purged_after_their_retention_period(client, contractor_key, world):
    links = upload(client, contractor_key, as_csv(BAD_HOURS)).json["error_file"]
    cli = client.application.test_cli_runner()

    kept_until = date.fromisoformat(links["kept_until"])
    result = cli.invoke(args=["purge-upload-reports", "--today", kept_until.isoformat()])
    assert result.exit_code == 0 and result.output == "Rapports d'envoi supprimés (plus de 30 jours) : 0.\n"
    assert client.get(links["csv"], headers=contractor_key).status_code == 200
    result = cli.invoke(args=["purge-upload-reports", "--today", (kept_until + timedelta(days=1)).isoformat()])
    assert result.output == "Rapports d'envoi supprimés (plus de 30 jours) : 1.\n"
    assert client.get(links["csv"], headers=contractor_key).status_code == 404
    assert cli.invoke(args=["purge-upload-reports", "--days", "0"]).exit_code != 0
