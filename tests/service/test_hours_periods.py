"""Periods given as a month or as two dates of one month, overlaps, the monthly ceiling per person across
lines and lots, and each territory's settings (auto-validation, ceiling) — through the hours service's API."""
import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from support import wait_until
from test_hours_service import (CARCASSONNE, LINE, LOT_ID, NARBONNE, OTHER_SIRET, SIRET, client,  # noqa: F401
                                contractor_key, facilitator, publish, world)
from test_hours_workflow import BATCH, declaration_events

DECLARE = "/api/v1/declarations"


def dated(start: str, end: str, **changes) -> dict:
    line = {key: value for key, value in LINE.items() if key != "month"}
    return {**line, "start_date": start, "end_date": end, **changes}


def count() -> int:
    from hours.store import Declaration
    return Declaration.objects.count()


def upload(client, content: bytes, name: str, headers):
    return client.post("/api/v1/declarations/upload", data={"file": (io.BytesIO(content), name)}, headers=headers,
                       content_type="multipart/form-data")


# --- a month, or two dates of one month ---------------------------------------------------------------
def test_a_line_gives_a_month_or_two_dates_never_both(client, contractor_key, world):
    both = client.post(DECLARE, json={**LINE, "start_date": "2026-03-02", "end_date": "2026-03-13"},
                       headers=contractor_key)
    assert both.status_code == 422 and both.mimetype == "application/problem+json"
    assert both.json["errors"]["month"] == ["Indiquez soit le mois, soit les dates de début et de fin, pas les deux."]
    line = {key: value for key, value in LINE.items() if key != "month"}
    missing = client.post(DECLARE, json=line, headers=contractor_key)
    assert missing.status_code == 422 and missing.json["errors"]["month"][0].startswith("Champ obligatoire")
    alone = client.post(DECLARE, json={**line, "start_date": "2026-03-02"}, headers=contractor_key)
    assert alone.status_code == 422 and alone.json["errors"]["end_date"][0].startswith("Les dates de début et de fin")
    not_a_date = client.post(DECLARE, json=dated("02/03/2026", "2026-03-13"), headers=contractor_key)
    assert not_a_date.json["errors"]["start_date"] == ["Date attendue au format AAAA-MM-JJ."]
    assert count() == 0


def test_two_dated_lines_of_one_month_are_both_accepted_and_carry_their_period(
        client, contractor_key, facilitator, world, infra, topic):
    first = client.post(DECLARE, json=dated("2026-03-02", "2026-03-13"), headers=contractor_key)
    second = client.post(DECLARE, json=dated("2026-03-16", "2026-03-31", hours=70), headers=contractor_key)

    assert first.status_code == second.status_code == 201, (first.json, second.json)
    assert (first.json["month"], first.json["period_start"], first.json["period_end"]) == \
        ("2026-03", "2026-03-02", "2026-03-13")
    month_line = client.post(DECLARE, json={**LINE, "month": "2026-04"}, headers=contractor_key).json
    assert (month_line["period_start"], month_line["period_end"]) == ("2026-04-01", "2026-04-30")
    queue = client.get(f"{DECLARE}?month=2026-03", headers=facilitator).json
    assert [(d["period_start"], d["hours"]) for d in queue] == [("2026-03-02", 35.5), ("2026-03-16", 70)]

    events = declaration_events(infra, topic, expect=3)
    assert [(e["payload"]["month"], e["payload"]["period_start"], e["payload"]["period_end"]) for e in events] == [
        ("2026-03", "2026-03-02", "2026-03-13"), ("2026-03", "2026-03-16", "2026-03-31"),
        ("2026-04", "2026-04-01", "2026-04-30")]


def next_month_days() -> tuple[str, str]:
    first = (date.today().replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.isoformat(), (first + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("period, rule, words", [
    (("2026-03-13", "2026-03-02"), "period_reversed", "précède la date de début"),
    (("2026-03-20", "2026-04-05"), "period_across_months", "une ligne par mois"),
    (next_month_days(), "period_in_future", "pas encore écoulée"),
    (("2025-12-01", "2025-12-15"), "period_before_lot_start", "01/01/2026"),
])
def test_each_period_rule_refuses_a_dated_line_in_french(client, contractor_key, world, period, rule, words):
    response = client.post(DECLARE, json=dated(*period), headers=contractor_key)

    assert response.status_code == 422, response.json
    assert response.json["rule"] == rule and words in response.json["detail"]
    assert count() == 0


def test_eligibility_is_checked_over_exactly_the_declared_days(client, contractor_key, world):
    # p-ends-soon counts until 15 March: the first half of March is declarable, not the whole month
    ends_soon = {"participant_id": "p-ends-soon"}
    whole_month = client.post(DECLARE, json={**LINE, **ends_soon}, headers=contractor_key)
    assert whole_month.status_code == 422 and whole_month.json["rule"] == "participant_not_eligible"
    one_day_too_many = client.post(DECLARE, json=dated("2026-03-10", "2026-03-16", **ends_soon), headers=contractor_key)
    assert one_day_too_many.json["rule"] == "participant_not_eligible"
    assert "sur toute la période" in one_day_too_many.json["detail"]
    assert client.post(DECLARE, json=dated("2026-03-01", "2026-03-15", **ends_soon),
                       headers=contractor_key).status_code == 201


# --- overlaps and duplicates -----------------------------------------------------------------------
def test_an_overlapping_line_is_refused_naming_the_other_period_and_the_same_period_is_a_duplicate(
        client, contractor_key, facilitator, world):
    first = client.post(DECLARE, json=dated("2026-03-02", "2026-03-13"), headers=contractor_key).json

    for overlapping in (LINE, dated("2026-03-13", "2026-03-20")):
        refused = client.post(DECLARE, json=overlapping, headers=contractor_key)
        assert refused.status_code == 422 and refused.json["rule"] == "period_overlaps"
        assert "du 02/03/2026 au 13/03/2026" in refused.json["detail"]
    same = client.post(DECLARE, json=dated("2026-03-02", "2026-03-13", hours=12), headers=contractor_key)
    assert same.status_code == 409 and same.json["rule"] == "duplicate_line"
    assert "corrigez-la" in same.json["detail"]
    # another lot of the same contractor is another line
    assert client.post(DECLARE, json={**LINE, "lot_id": "lot-narbonne"}, headers=contractor_key).status_code == 201
    # a whole month given as dates is that month
    client.post(DECLARE, json={**LINE, "month": "2026-04"}, headers=contractor_key)
    assert client.post(DECLARE, json=dated("2026-04-01", "2026-04-30"), headers=contractor_key).json["rule"] == \
        "duplicate_line"
    assert count() == 3

    # a rejected line is no longer in force: another period may cover its days, and it cannot come back
    # in force over them through a correction
    client.post(f"{DECLARE}/{first['id']}/reject", json={"reason": "contrat à vérifier"}, headers=facilitator)
    month = client.post(DECLARE, json=LINE, headers=contractor_key)
    assert month.status_code == 201, month.json
    corrected = client.post(f"{DECLARE}/{first['id']}/correct", json={"hours": 20}, headers=contractor_key)
    assert corrected.status_code == 422 and corrected.json["rule"] == "period_overlaps"
    assert "mars 2026" in corrected.json["detail"]


def test_a_line_stored_before_dated_periods_reads_as_its_month_and_still_holds_it(client, contractor_key, world):
    stored = client.post(DECLARE, json=LINE, headers=contractor_key).json
    from hours.store import Declaration
    collection = Declaration._get_collection()
    legacy = collection.find_one({"_id": stored["id"]})
    for name in ("period_start", "period_end"):
        del legacy[name]
    legacy["line_key"] = f"{LOT_ID}|p-1|2026-03"  # the key of that time
    collection.replace_one({"_id": stored["id"]}, legacy)

    read = client.get(f"{DECLARE}/{stored['id']}", headers=contractor_key).json
    assert (read["month"], read["period_start"], read["period_end"]) == ("2026-03", "2026-03-01", "2026-03-31")
    assert client.post(DECLARE, json=LINE, headers=contractor_key).json["rule"] == "duplicate_line"
    assert client.post(DECLARE, json=dated("2026-03-02", "2026-03-13"),
                       headers=contractor_key).json["rule"] == "period_overlaps"
    corrected = client.post(f"{DECLARE}/{stored['id']}/correct", json={"hours": 40}, headers=contractor_key)
    assert corrected.status_code == 201 and corrected.json["period_end"] == "2026-03-31"


# --- the monthly ceiling, per person, across lines and lots ------------------------------------------
def test_the_ceiling_counts_every_line_of_the_participant_in_the_month(client, contractor_key, facilitator,
                                                                       world):
    assert client.post(DECLARE, json=dated("2026-03-02", "2026-03-13", hours=150),
                       headers=contractor_key).status_code == 201
    assert client.post(DECLARE, json={**LINE, "lot_id": "lot-narbonne", "hours": 58},
                       headers=contractor_key).status_code == 201  # 208: the legal maximum itself

    over = client.post(DECLARE, json=dated("2026-03-16", "2026-03-17", hours=0.5), headers=contractor_key)
    assert over.status_code == 422 and over.json["rule"] == "hours_above_ceiling"
    assert "total déjà déclaré 208 heures" in over.json["detail"] and "plafond de 208 heures" in over.json["detail"]
    assert client.post(DECLARE, json={**LINE, "month": "2026-04", "hours": 208},
                       headers=contractor_key).status_code == 201  # another month

    # another contractor's lines count too: the ceiling is the person's
    client.post("/api/v1/contractors", json={"siret": OTHER_SIRET, "name": "Autre BTP"}, headers=facilitator)
    other_key = {"X-API-Key": client.post(f"/api/v1/contractors/{OTHER_SIRET}/api-keys", json={},
                                          headers=facilitator).json["api_key"]}
    other = client.post(DECLARE, json={**LINE, "lot_id": "lot-other", "hours": 1}, headers=other_key)
    assert other.status_code == 422 and other.json["rule"] == "hours_above_ceiling"

    # a rejected line no longer counts
    first = client.get(f"{DECLARE}?month=2026-03&lot_id={LOT_ID}", headers=facilitator).json[0]
    client.post(f"{DECLARE}/{first['id']}/reject", json={"reason": "heures à justifier"}, headers=facilitator)
    again = client.post(DECLARE, json={**LINE, "lot_id": "lot-other", "hours": 150}, headers=other_key)
    assert again.status_code == 201, again.json


def test_a_correction_is_checked_with_its_hours_replacing_the_old_ones(client, contractor_key, facilitator, world):
    first = client.post(DECLARE, json={**LINE, "hours": 150}, headers=contractor_key).json
    client.post(DECLARE, json=dated("2026-03-02", "2026-03-13", lot_id="lot-narbonne", hours=50),
                headers=contractor_key)

    up_to_the_ceiling = client.post(f"{DECLARE}/{first['id']}/correct", json={"hours": 158}, headers=contractor_key)
    assert up_to_the_ceiling.status_code == 201, up_to_the_ceiling.json  # 158 + 50, not 150 + 158 + 50
    second = up_to_the_ceiling.json
    beyond = client.post(f"{DECLARE}/{second['id']}/correct", json={"hours": 158.5}, headers=facilitator)
    assert beyond.status_code == 422 and beyond.json["rule"] == "hours_above_ceiling"
    assert "50 heures" in beyond.json["detail"]
    history = client.get(f"{DECLARE}/{second['id']}/history", headers=facilitator).json
    assert [v["hours"] for v in history["versions"]] == [150, 158]  # the refused correction changed nothing


# --- batches and uploads follow the same rules, lines of the request included ----------------------------
def test_a_batch_checks_periods_overlaps_and_the_ceiling_with_its_own_lines(client, contractor_key, world):
    client.post(DECLARE, json={**LINE, "month": "2026-05", "hours": 100}, headers=contractor_key)
    lines = [dated("2026-03-02", "2026-03-13"),                          # 0 accepted
             dated("2026-03-10", "2026-03-20"),                          # 1 overlaps line 0
             dated("2026-03-02", "2026-03-13", hours=1),                 # 2 same period as line 0
             {**LINE, "month": "2026-03"},                               # 3 overlaps line 0
             dated("2026-03-16", "2026-03-31", hours=150),               # 4 accepted
             dated("2026-03-20", "2026-04-05"),                          # 5 across two months
             {**LINE, "start_date": "2026-04-01", "end_date": "2026-04-10"},  # 6 month and dates
             {**LINE, "lot_id": "lot-narbonne", "hours": 23},            # 7 35.5 + 150 + 23 > 208
             {**LINE, "lot_id": "lot-narbonne", "hours": 22.5},          # 8 exactly 208
             {**LINE, "lot_id": "lot-narbonne", "month": "2026-05", "hours": 108.5},  # 9 with the stored 100
             dated("2026-04-02", "2026-04-03", hours=0)]                 # 10 the per-line rules still apply
    response = client.post(BATCH, json={"lines": lines}, headers=contractor_key)

    assert response.status_code == 207, response.json
    results = response.json["results"]
    assert [r.get("rule") for r in results] == [
        None, "period_overlaps", "duplicate_line", "period_overlaps", None, "period_across_months", "invalid_line",
        "hours_above_ceiling", None, "hours_above_ceiling", "hours_not_positive"]
    assert "autre ligne de cet envoi" in results[1]["detail"] and "du 02/03/2026 au 13/03/2026" in results[1]["detail"]
    assert "cet envoi" in results[2]["detail"]
    assert results[6]["errors"]["month"][0].startswith("Indiquez soit le mois")
    assert "lignes de cet envoi comprises" in results[7]["detail"]
    assert "total déjà déclaré 100 heures" in results[9]["detail"]
    assert (response.json["accepted"], response.json["refused"]) == (3, 8)
    assert count() == 4


def test_an_upload_reads_date_columns_as_text_or_as_date_cells(client, contractor_key, world):
    template = client.get("/api/v1/declarations/template.csv", headers=contractor_key).data.decode("utf-8-sig")
    header = template.splitlines()[0]
    assert header.endswith(";Date de début;Date de fin;Motif si aucune heure")
    rows = [header,
            f"{LOT_ID};p-1;;35;Embauche directe;;CDD;02/03/2026;13/03/2026",
            f"{LOT_ID};p-1;;40;Embauche directe;;CDD;2026-03-16;2026-03-31",
            f"{LOT_ID};p-1;2026-04;35;Embauche directe;;CDD;01/04/2026;10/04/2026",
            f"{LOT_ID};p-1;;35;Embauche directe;;CDD;10/03/2026;20/03/2026",
            f"{LOT_ID};p-1;;35;Embauche directe;;CDD;28/04/2026;03/05/2026",
            "lot-narbonne;p-1;2026-03;140;Embauche directe;;CDD;;"]
    response = upload(client, "\n".join(rows).encode(), "heures.csv", contractor_key)

    assert response.status_code == 207, response.json
    assert [(r["row"], r.get("rule")) for r in response.json["results"]] == [
        (2, None), (3, None), (4, "invalid_line"), (5, "period_overlaps"), (6, "period_across_months"),
        (7, "hours_above_ceiling")]
    first = client.get(f"{DECLARE}/{response.json['results'][0]['declaration_id']}", headers=contractor_key).json
    assert (first["month"], first["period_start"], first["period_end"]) == ("2026-03", "2026-03-02", "2026-03-13")

    # the XLSX template, with real date cells and no month
    workbook = load_workbook(io.BytesIO(client.get("/api/v1/declarations/template.xlsx", headers=contractor_key).data))
    assert ["Date de début", "Date de fin"] == [c.value for c in workbook["Déclarations"][1]][-3:-1]
    assert any("Période" == row[0].value for row in workbook["Aide"].iter_rows())
    workbook["Déclarations"].append([LOT_ID, "p-1", None, 20, "Formation", None, None,
                                     datetime(2026, 6, 8), datetime(2026, 6, 12)])
    out = io.BytesIO()
    workbook.save(out)
    response = upload(client, out.getvalue(), "h.xlsx", contractor_key)
    assert response.status_code == 200, response.json
    line = client.get(f"{DECLARE}/{response.json['results'][0]['declaration_id']}", headers=contractor_key).json
    assert (line["month"], line["period_start"], line["period_end"]) == ("2026-06", "2026-06-08", "2026-06-12")


def test_an_upload_needs_the_month_column_or_both_date_columns(client, contractor_key, world):
    without_month = "Lot;Référence du participant;Heures;Modalité;Date de début;Date de fin\n" \
                    + f"{LOT_ID};p-1;12;Formation;2026-07-01;2026-07-03"
    assert upload(client, without_month.encode(), "h.csv", contractor_key).status_code == 200
    no_period = f"Lot;Référence du participant;Heures;Modalité;Date de début\n{LOT_ID};p-1;12;Formation;2026-07-06"
    refused = upload(client, no_period.encode(), "h.csv", contractor_key)
    assert refused.status_code == 422 and refused.json["rule"] == "unreadable_file"
    assert "Mois (ou Date de début et Date de fin)" in refused.json["detail"]
    assert count() == 1


# --- each territory's settings -------------------------------------------------------------------------------
def settings_url(territory: str) -> str:
    return f"/api/v1/declarations/territory-settings/{territory}"


def test_a_territorys_facilitators_and_operators_read_and_set_its_settings_and_nobody_else(
        client, contractor_key, facilitator, auth):
    defaults = client.get(settings_url(CARCASSONNE), headers=facilitator)
    assert defaults.status_code == 200
    assert {k: defaults.json[k] for k in ("auto_validation", "monthly_ceiling_hours",
                                          "effective_monthly_ceiling_hours", "updated_at")} == \
        {"auto_validation": False, "monthly_ceiling_hours": None, "effective_monthly_ceiling_hours": 208,
         "updated_at": None}
    narbonne = auth("facilitator", NARBONNE)
    assert client.get(settings_url(NARBONNE), headers=narbonne).json["auto_validation"] is True  # the region file's

    for headers in (narbonne, contractor_key, auth("buyer", CARCASSONNE)):
        refused = client.put(settings_url(CARCASSONNE), json={"auto_validation": True}, headers=headers)
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert client.get(settings_url(CARCASSONNE), headers=narbonne).status_code == 403
    for body, field in (({"auto_validation": True, "monthly_ceiling_hours": 208.5}, "monthly_ceiling_hours"),
                        ({"auto_validation": True, "monthly_ceiling_hours": 0}, "monthly_ceiling_hours"),
                        ({"auto_validation": True, "monthly_ceiling_hours": 151.675}, "monthly_ceiling_hours"),
                        ({"monthly_ceiling_hours": 150}, "auto_validation"),
                        ({"auto_validation": True, "plafond": 150}, "plafond")):
        invalid = client.put(settings_url(CARCASSONNE), json=body, headers=facilitator)
        assert invalid.status_code == 422 and field in invalid.json["errors"], (body, invalid.json)
    assert "durée légale maximale" in client.put(settings_url(CARCASSONNE), json={
        "auto_validation": True, "monthly_ceiling_hours": 300}, headers=facilitator).json["errors"][
        "monthly_ceiling_hours"][0]
    assert client.get(settings_url(CARCASSONNE), headers=facilitator).json == defaults.json  # nothing changed

    saved = client.put(settings_url(CARCASSONNE), json={"auto_validation": True, "monthly_ceiling_hours": 151.67},
                       headers=auth("facilitator", CARCASSONNE, subject="claire"))
    assert saved.status_code == 200, saved.json
    assert (saved.json["auto_validation"], saved.json["monthly_ceiling_hours"],
            saved.json["effective_monthly_ceiling_hours"], saved.json["updated_by"]) == \
        (True, 151.67, 151.67, "claire")
    assert client.get(settings_url(CARCASSONNE), headers=facilitator).json == saved.json
    by_operator = client.put(settings_url(CARCASSONNE), json={"auto_validation": True, "reporting_due_day": 5},
                             headers=auth("operator", CARCASSONNE, subject="operateur"))
    assert by_operator.status_code == 200
    assert (by_operator.json["reporting_due_day"], by_operator.json["updated_by"]) == (5, "operateur")
    assert client.put(settings_url(CARCASSONNE), json={"auto_validation": False},
                      headers=auth("operator", NARBONNE)).status_code == 403
    back = client.put(settings_url(CARCASSONNE), json={"auto_validation": False, "monthly_ceiling_hours": None},
                      headers=facilitator).json
    assert (back["auto_validation"], back["monthly_ceiling_hours"], back["effective_monthly_ceiling_hours"]) == \
        (False, None, 208)

    spec = client.get("/docs/hours/openapi.json").json["paths"]["/api/v1/declarations/territory-settings/{territory}"]
    assert set(spec) >= {"get", "put"} and "requestBody" in spec["put"]


def test_settings_apply_to_the_next_lines_and_a_lot_of_several_territories_takes_the_strictest(
        client, contractor_key, facilitator, world, auth, infra, topic):
    before = client.post(DECLARE, json={**LINE, "month": "2026-02"}, headers=contractor_key).json
    assert before["status"] == "submitted"
    client.put(settings_url(CARCASSONNE), json={"auto_validation": True, "monthly_ceiling_hours": 151.67},
               headers=facilitator)

    assert client.post(DECLARE, json=LINE, headers=contractor_key).json["status"] == "validated"
    assert client.get(f"{DECLARE}/{before['id']}", headers=facilitator).json["status"] == "submitted"
    over = client.post(DECLARE, json={**LINE, "month": "2026-04", "hours": 151.68}, headers=contractor_key)
    assert over.status_code == 422 and over.json["rule"] == "hours_above_ceiling"
    assert "plafond de 151,67 heures" in over.json["detail"]
    assert client.post(DECLARE, json={**LINE, "lot_id": "lot-narbonne", "month": "2026-04", "hours": 200},
                       headers=contractor_key).status_code == 201  # Narbonne keeps the default ceiling

    # a lot of Carcassonne and Narbonne: auto-validated only when both enable it, the lower ceiling applies
    publish(infra, topic("markets.events"), "lot.awarded", "lot-shared", {
        "lot_id": "lot-shared", "market_id": "m1", "contractor_siret": SIRET,
        "start_date": "2026-01-01", "end_date": "2027-12-31"}, (CARCASSONNE, NARBONNE))
    from hours.store import HeldLot
    wait_until(lambda: HeldLot.objects(id="lot-shared").count() == 1, what="the shared lot learnt")
    narbonne = auth("facilitator", NARBONNE)
    client.put(settings_url(NARBONNE), json={"auto_validation": False, "monthly_ceiling_hours": 100}, headers=narbonne)
    shared = {**LINE, "lot_id": "lot-shared", "participant_id": "p-ends-soon", "month": "2026-02"}
    too_many = client.post(DECLARE, json={**shared, "hours": 100.5}, headers=contractor_key)
    assert too_many.json["rule"] == "hours_above_ceiling" and "plafond de 100 heures" in too_many.json["detail"]
    assert client.post(DECLARE, json={**shared, "hours": 10}, headers=contractor_key).json["status"] == "submitted"
    client.put(settings_url(NARBONNE), json={"auto_validation": True}, headers=narbonne)
    assert client.post(DECLARE, json={**shared, "month": "2026-01", "hours": 10},
                       headers=contractor_key).json["status"] == "validated"
