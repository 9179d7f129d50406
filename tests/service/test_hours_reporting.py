"""The reporting calendar of the hours service: a month declared, declared without hours, or missing; the
reminders at the due date and N days later, each once; who reads a company's calendar."""
import io
from datetime import date

from openpyxl import load_workbook

from support import read_topic, wait_until

from test_hours_service import (CARCASSONNE, LINE, LOT_ID, NARBONNE, SIRET, client,  # noqa: F401
                                contractor_key, facilitator, world)

NO_HOURS = "/api/v1/declarations/no-hours"


def months(client, headers, lot_id=LOT_ID):
    answer = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=headers)
    assert answer.status_code == 200, answer.json
    return next(lot for lot in answer.json["lots"] if lot["lot_id"] == lot_id)


def remind(client, today: str) -> str:
    result = client.application.test_cli_runner().invoke(args=["remind-declarations", "--today", today])
    assert result.exit_code == 0, result.output
    return result.output


def published(infra, topic):
    from plumbing.events import decode
    return [e for e in (decode(r.value) for r in read_topic(infra.kafka_bootstrap, topic("hours.events"), expect=10**6,
                                                             timeout=2)) if e.type == "reporting.reminder_due"]


def reminders():
    from hours.store import ReportingReminder
    return sorted((r.lot_id, r.month, r.kind) for r in ReportingReminder.objects(lot_id=LOT_ID))


def test_a_month_without_hours_is_declared_with_its_reason_and_counts_as_declared(
        client, contractor_key, facilitator, world):
    refused = client.post(NO_HOURS, json={"lot_id": LOT_ID, "month": "2026-02"}, headers=contractor_key)
    assert refused.status_code == 422 and refused.json["errors"]["reason"] == ["Champ obligatoire."]
    not_held = client.post(NO_HOURS, json={"lot_id": "lot-other", "month": "2026-02", "reason": "Chantier arrêté"},
                           headers=contractor_key)
    assert not_held.status_code == 422 and not_held.json["rule"] == "lot_not_held"
    future = client.post(NO_HOURS, json={"lot_id": LOT_ID, "month": "2099-02", "reason": "x"}, headers=contractor_key)
    assert future.status_code == 422 and future.json["rule"] == "period_in_future"
    stated = client.post(NO_HOURS, json={"lot_id": LOT_ID, "month": "2026-02", "reason": "Chantier arrêté (gel)"},
                         headers=contractor_key)
    assert stated.status_code == 201, stated.json
    again = client.post(NO_HOURS, json={"lot_id": LOT_ID, "month": "2026-02", "reason": "x"}, headers=contractor_key)
    assert again.status_code == 409 and again.json["rule"] == "month_already_without_hours"
    assert client.post("/api/v1/declarations", json=LINE, headers=contractor_key).status_code == 201  # 2026-03
    with_lines = client.post(NO_HOURS, json={"lot_id": LOT_ID, "month": "2026-03", "reason": "x"},
                             headers=contractor_key)
    assert with_lines.status_code == 409 and with_lines.json["rule"] == "month_has_lines"
    assert "déjà déclarées" in with_lines.json["detail"]

    seen = months(client, contractor_key)
    february = next(m for m in seen["months"] if m["month"] == "2026-02")
    assert (february["no_hours"], february["no_hours_reason"]) == (True, "Chantier arrêté (gel)")
    assert february["due_date"] == "2026-03-10" and february["state"] == "late"  # declared today, long after
    assert months(client, facilitator) == seen  # the facilitator of the lot's territory reads the same


def test_a_missing_month_is_reminded_at_its_due_date_then_escalated_each_once(
        client, contractor_key, facilitator, world, auth, infra, topic):
    from hours.store import MonthWithoutHours, ReportingReminder
    # January declared (no hours), on time; February missing
    MonthWithoutHours(id=f"{LOT_ID}|2026-01", lot_id=LOT_ID, contractor_siret=SIRET, month="2026-01",
                      reason="Préparation du chantier", territories=[CARCASSONNE],
                      declared_at=date(2026, 2, 3)).commit()
    remind(client, "2026-03-10")  # February's due date: not late yet
    assert reminders() == []
    assert "premières" in remind(client, "2026-03-11")
    assert reminders() == [(LOT_ID, "2026-02", "first")]
    remind(client, "2026-03-12")
    assert reminders() == [(LOT_ID, "2026-02", "first")]  # once, however often it runs
    remind(client, "2026-03-15")  # 5 days after the due date
    remind(client, "2026-03-16")
    assert reminders() == [(LOT_ID, "2026-02", "first"), (LOT_ID, "2026-02", "second")]
    wait_until(lambda: len(mine := [e for e in published(infra, topic) if e.payload["lot_id"] == LOT_ID]) == 2
               and mine, what="both reminders published")
    second = [e for e in published(infra, topic) if e.payload["lot_id"] == LOT_ID][1]
    assert second.territories == [CARCASSONNE]
    assert {k: second.payload[k] for k in ("kind", "month", "due_date", "contractor_siret")} == \
        {"kind": "second", "month": "2026-02", "due_date": "2026-03-10", "contractor_siret": SIRET}
    # a lot whose market is not in execution is not chased
    assert not ReportingReminder.objects(lot_id="lot-not-started").count()

    answer = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=contractor_key)
    lot = next(lot for lot in answer.json["lots"] if lot["lot_id"] == LOT_ID)
    january = next(m for m in lot["months"] if m["month"] == "2026-01")
    assert (january["state"], january["state_label"]) == ("on_time", "Déclaré à temps")
    assert lot["due_day"] == 10 and lot["on_time"] == 1
    # the facilitator of another territory sees only the lots of theirs
    narbonne = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=auth("facilitator", NARBONNE))
    assert [lot["lot_id"] for lot in narbonne.json["lots"]] == ["lot-narbonne"]


def test_the_due_day_is_a_territory_setting(client, contractor_key, facilitator, world):
    put = client.put(f"/api/v1/declarations/territory-settings/{CARCASSONNE}", headers=facilitator,
                     json={"auto_validation": False, "reporting_due_day": 5})
    assert put.status_code == 200 and put.json["effective_reporting_due_day"] == 5
    bad = client.put(f"/api/v1/declarations/territory-settings/{CARCASSONNE}", headers=facilitator,
                     json={"auto_validation": False, "reporting_due_day": 31})
    assert bad.status_code == 422 and bad.json["errors"]["reporting_due_day"] == ["Jour d'échéance attendu entre 1 et 28."]
    lot = months(client, facilitator)
    assert lot["due_day"] == 5 and lot["months"][0]["due_date"] == "2026-02-05"
    remind(client, "2026-02-06")
    assert reminders() == [(LOT_ID, "2026-01", "first")]


def test_an_upload_declares_a_month_without_hours_on_a_row_of_its_own(client, contractor_key, world):
    template = client.get("/api/v1/declarations/template.xlsx", headers=contractor_key)
    help_rows = [row[0].value for row in load_workbook(io.BytesIO(template.data))["Aide"].iter_rows()]
    assert "Motif si aucune heure" in help_rows and "Mois sans heures" in help_rows
    header = client.get("/api/v1/declarations/template.csv", headers=contractor_key).data.decode("utf-8-sig") \
        .splitlines()[0]
    rows = [header,
            f"{LOT_ID};;02/2026;0;;;;;;Chantier à l'arrêt (intempéries)",
            f"{LOT_ID};p-1;2026-03;35;Embauche directe;;CDD;;;",
            f"{LOT_ID};;2026-03;;;;;;;Rien ce mois",  # the row above declares March
            f"{LOT_ID};;2026-04;12;;;;;;Pas d'heures",
            f"lot-other;;2026-02;0;;;;;;Pas d'heures",
            f"{LOT_ID};;2026-02;0;;;;;;Encore"]
    answer = client.post("/api/v1/declarations/upload", data={"file": (io.BytesIO("\n".join(rows).encode()), "h.csv")},
                         headers=contractor_key, content_type="multipart/form-data")
    assert answer.status_code == 207, answer.json
    assert [(r["row"], r["status"], r.get("rule"), r.get("declaration_status")) for r in answer.json["results"]] == [
        (2, "accepted", None, "no_hours"), (3, "accepted", None, "submitted"), (4, "refused", "month_has_lines", None),
        (5, "refused", "no_hours_with_hours", None), (6, "refused", "lot_not_held", None),
        (7, "refused", "month_already_without_hours", None)]
    assert "ni heures" in answer.json["results"][3]["detail"]
    february = next(m for m in months(client, contractor_key)["months"] if m["month"] == "2026-02")
    assert (february["no_hours"], february["no_hours_reason"]) == (True, "Chantier à l'arrêt (intempéries)")
    # the refused rows come back in the template's columns, reason included, to fix and send again
    errors = client.get(answer.json["error_file"]["csv"], headers=contractor_key).data.decode("utf-8-sig")
    assert "Pas d'heures" in errors and "Motif du refus" in errors.splitlines()[0]


def test_only_months_due_within_the_window_are_chased(client, contractor_key, world):
    # nothing declared since January: on 11 June, only May (due 10 June) is reminded, not January to April
    remind(client, "2026-06-11")
    assert reminders() == [(LOT_ID, "2026-05", "first")]
    lot = months(client, contractor_key)
    assert [m["state"] for m in lot["months"][:4]] == ["missing"] * 4  # still shown missing


def test_a_big_company_reads_its_calendar_a_page_of_lots_at_a_time(client, contractor_key, world):
    assert client.post("/api/v1/declarations", json=LINE, headers=contractor_key).status_code == 201
    whole = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=contractor_key).json
    assert whole["total_lots"] == len(whole["lots"]) == 3
    pages = [client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=contractor_key,
                        query_string={"page": page, "page_size": 2}).json for page in (1, 2, 3)]
    assert [p["total_lots"] for p in pages] == [3, 3, 3]
    assert [len(p["lots"]) for p in pages] == [2, 1, 0]
    assert [lot for p in pages for lot in p["lots"]] == whole["lots"]  # the same months, states and counts
    march = next(m for lot in pages[0]["lots"] if lot["lot_id"] == LOT_ID for m in lot["months"]
                 if m["month"] == "2026-03")
    assert march["declared_on"] is not None
    refused = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=contractor_key,
                         query_string={"page_size": 0})
    assert refused.status_code == 422 and refused.json["errors"]["page_size"] == ["Entre 1 et 100 lots par page."]


def test_the_calendar_knows_a_month_declared_by_any_way_and_the_months_are_made_again_from_the_lines(
        client, contractor_key, facilitator, world):
    from hours.store import ReportedMonth
    assert client.post("/api/v1/declarations", json=LINE, headers=contractor_key).status_code == 201  # March
    batch = client.post("/api/v1/declarations/batch", headers=contractor_key,
                        json={"lines": [{**LINE, "month": "2026-04"}, {**LINE, "month": "2026-05", "hours": 7}]})
    assert batch.status_code == 200, batch.json
    declared = {m["month"]: m for m in months(client, contractor_key)["months"] if m["declared_on"]}
    assert sorted(declared) == ["2026-03", "2026-04", "2026-05"]
    assert all(m["state"] == "late" and m["declared_on"] == date.today().isoformat() for m in declared.values())
    # a second line of March (here a correction: a new version, the same line) changes nothing of its month
    version = client.get("/api/v1/declarations", headers=contractor_key, query_string={"month": "2026-03"}).json[0]
    corrected = client.post(f"/api/v1/declarations/{version['id']}/correct", headers=facilitator,
                            json={"hours": 30, "reason": "Erreur de saisie"})
    assert corrected.status_code == 201, corrected.json

    ReportedMonth.objects.delete()  # as after the upgrade that brought them: the lines are there, not their months
    assert not [m for m in months(client, contractor_key)["months"] if m["declared_on"]]
    rebuilt = client.application.test_cli_runner().invoke(args=["rebuild-reported-months"])
    assert rebuilt.exit_code == 0 and "reconstruits" in rebuilt.output and ": 3." in rebuilt.output, rebuilt.output
    assert {m["month"]: m for m in months(client, contractor_key)["months"] if m["declared_on"]} == declared
