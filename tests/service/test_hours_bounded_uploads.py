"""Issue 12 on the hours service: uploads read in bounded memory and refused early, requests that apply
whole or not at all (their idempotency record included), and error files that no spreadsheet runs."""
import io
import json

from openpyxl import load_workbook

from support.files import expanding_xlsx, xlsx
from test_hours_service import LOT_ID, client, contractor_key, facilitator, world  # noqa: F401
from test_hours_upload_reports import GOOD, as_csv, headers, read_csv, upload

BATCH = "/api/v1/declarations/batch"
LINE = {"lot_id": LOT_ID, "participant_id": "p-1", "month": "2026-03", "hours": 35.5, "mode": "direct_hire"}


def nothing_written():
    from hours.store import Declaration, IdempotentRequest, UploadReport
    return Declaration.objects.count() == UploadReport.objects.count() == IdempotentRequest.objects.count() == 0


# --- bounded uploads --------------------------------------------------------------------------------
def test_an_xlsx_that_expands_to_200_mb_is_refused_before_it_is_parsed(client, contractor_key, world):
    bomb = expanding_xlsx(200)
    assert len(bomb) < 300_000

    refused = upload(client, contractor_key, bomb, "heures.xlsx")

    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.json["rule"] == "file_too_large"
    assert refused.json["detail"].startswith("Fichier XLSX trop volumineux une fois décompressé (plus de 20 Mo")
    assert nothing_written()


def test_a_file_over_the_row_limit_is_refused_and_nothing_is_written(client, contractor_key, world):
    rows = [{**GOOD, "participant_id": f"p-{n}"} for n in range(10_001)]  # one more than the default limit

    refused = upload(client, contractor_key, as_csv(*rows), **{"Idempotency-Key": "trop-long"})

    assert refused.status_code == 422 and refused.json["rule"] == "too_many_rows"
    assert refused.json["detail"] == "Le fichier compte plus de 10000 lignes : découpez-le en plusieurs fichiers."
    assert nothing_written()


def test_the_row_limit_is_a_setting(service_env, contractor_key, world):
    service_env("hours", HOURS_UPLOAD_MAX_ROWS="2")
    from hours.app import create_app
    small = create_app().test_client()
    three = [{**GOOD, "month": month} for month in ("2026-02", "2026-03", "2026-04")]

    assert upload(small, contractor_key, as_csv(*three)).json["rule"] == "too_many_rows"
    assert upload(small, contractor_key, as_csv(*three[:2])).status_code == 200


def test_a_big_allowed_xlsx_is_read_whole(client, contractor_key, world):
    rows = [[LOT_ID, f"p-absent-{n}", "2026-03", 7, "Formation"] for n in range(10_000)]  # exactly the limit

    response = upload(client, contractor_key, xlsx([headers()[:5], *rows]), "heures.xlsx")

    assert response.status_code == 207, response.json
    assert (response.json["accepted"], response.json["refused"]) == (0, 10_000)
    assert {r["rule"] for r in response.json["results"]} == {"participant_unknown"}
    assert len(read_csv(client.get(response.json["error_file"]["csv"], headers=contractor_key).data)) == 10_001


# --- all or nothing ---------------------------------------------------------------------------------
def test_a_batch_with_a_nul_in_a_field_name_is_refused_whole_and_again_on_retry(client, contractor_key, world):
    """Seen on main: 500 with the valid line written, and again on retry."""
    headers = {**contractor_key, "Idempotency-Key": "nul-dans-un-nom"}
    body = {"lines": [LINE, {**LINE, "month": "2026-04", "x\u0000y": 1}]}

    first = client.post(BATCH, json=body, headers=headers)
    retried = client.post(BATCH, json=body, headers=headers)

    for answer in (first, retried):
        assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
        assert answer.json["type"].endswith("/unstorable_character")
        assert "« lines[1] »" in answer.json["detail"]
    assert nothing_written()
    assert client.post(BATCH, json={"lines": [LINE]}, headers=headers).status_code == 200  # all accepted: the key was not spent


def test_field_names_a_database_reads_as_operators_are_refused_per_line_and_replayed(client, contractor_key, world):
    headers = {**contractor_key, "Idempotency-Key": "noms-dangereux"}
    body = {"lines": [LINE, {**LINE, "month": "2026-04", "$where": 1, "a.b": 1}]}

    first = client.post(BATCH, json=body, headers=headers)
    retried = client.post(BATCH, json=body, headers=headers)

    assert first.status_code == 207, first.json
    assert [r["status"] for r in first.json["results"]] == ["accepted", "refused"]
    assert first.json["results"][1]["errors"] == {"$where": ["Champ inconnu."], "a.b": ["Champ inconnu."]}
    assert (retried.status_code, retried.json) == (207, first.json)
    assert retried.headers["Idempotent-Replayed"] == "true"
    from hours.store import Declaration
    assert Declaration.objects.count() == 1


def test_a_line_the_database_would_refuse_refuses_the_whole_batch_before_any_write(client, contractor_key, world):
    for bad in ({**LINE, "month": "2026-04", "participant_id": "p-\u00001"}, {**LINE, "month": "2026-05", "lot_id": "lot-\ud800"}):
        # as JSON escapes: "\ud800", a lone surrogate, cannot be written as UTF-8
        response = client.post(BATCH, data=json.dumps({"lines": [LINE, bad]}), content_type="application/json",
                               headers=contractor_key)
        assert response.status_code == 400 and response.json["type"].endswith("/unstorable_character")
        assert nothing_written()


def test_an_answer_too_large_to_keep_with_its_key_is_refused_before_any_write(client, contractor_key, world,
                                                                           monkeypatch):
    from hours import idempotency
    monkeypatch.setattr(idempotency, "MAX_STORED_ANSWER_BYTES", 50)
    body = {"lines": [LINE]}

    refused = client.post(BATCH, json=body, headers={**contractor_key, "Idempotency-Key": "gros"})

    assert refused.status_code == 413 and refused.json["rule"] == "answer_too_large"
    assert nothing_written()
    assert client.post(BATCH, json=body, headers=contractor_key).status_code == 200  # without a key, it is kept


def test_an_upload_whose_refused_rows_are_over_16_mb_keeps_a_bounded_report(client, contractor_key, world):
    """Seen on main: 500 with the accepted rows written and no report."""
    long_reference = "p" * 1_700
    rows = [[LOT_ID, "p-1", "2026-03", 7, "Formation"]] + [
        [LOT_ID, long_reference, "2026-03", n, "Formation"] for n in range(9_999)]  # 18.7 MB of refused rows

    response = upload(client, contractor_key, xlsx([headers()[:5], *rows]), "heures.xlsx")

    assert response.status_code == 207, response.json
    assert (response.json["accepted"], response.json["refused"]) == (1, 9_999)
    table = read_csv(client.get(response.json["error_file"]["csv"], headers=contractor_key).data)
    assert len(table) == 10_000
    assert table[1][1] == "p" * 200 + "…"  # enough to recognise the value, not 1,700 characters
    from hours.store import Declaration
    assert Declaration.objects.count() == 1


def test_a_report_keeps_the_rows_that_fit_and_counts_the_others(client, contractor_key, world, monkeypatch):
    from hours import upload_reports
    monkeypatch.setattr(upload_reports, "MAX_REPORT_BYTES", 10_000)
    rows = [{**GOOD, "participant_id": f"p-absent-{n}"} for n in range(200)]

    response = upload(client, contractor_key, as_csv(*rows))

    assert response.status_code == 207 and response.json["refused"] == 200
    table = read_csv(client.get(response.json["error_file"]["csv"], headers=contractor_key).data)
    kept = len(table) - 2  # the header, and the line about the others
    assert 10 < kept < 200
    assert table[-1][-2].startswith(f"… et {200 - kept} autre(s) ligne(s) refusée(s), non reprises ici")
    sheet = load_workbook(io.BytesIO(client.get(response.json["error_file"]["xlsx"], headers=contractor_key).data))
    assert sheet.active.max_row == len(table)


# --- error files ------------------------------------------------------------------------------------
def test_a_cell_that_would_run_as_a_formula_comes_back_neutralised(client, contractor_key, world):
    formula = "=cmd|' /C calc'!A0"
    response = upload(client, contractor_key, as_csv({**GOOD, "participant_id": formula},
                                                     {**GOOD, "month": "2026-04", "hours": "-5"}))
    assert response.status_code == 207, response.json

    table = read_csv(client.get(response.json["error_file"]["csv"], headers=contractor_key).data)
    rows = [dict(zip(table[0], row)) for row in table[1:]]
    assert rows[0]["Référence du participant"] == "'" + formula
    assert rows[1]["Heures"] == "-5"  # a plain number runs nothing: left as typed

    book = load_workbook(io.BytesIO(client.get(response.json["error_file"]["xlsx"], headers=contractor_key).data))
    cell = book.active.cell(row=2, column=headers().index("Référence du participant") + 1)
    assert (cell.value, cell.data_type, cell.quotePrefix) == (formula, "s", True)
