"""The declarations queue of the web application: lines filtered by company, participant and a span of months,
then validated or rejected in bulk."""
from test_hours_service import (CARCASSONNE, LINE, LOT_ID, OTHER_SIRET, SIRET, client,  # noqa: F401
                                contractor_key, facilitator, world)

QUEUE = "/api/v1/declarations"


def declare(client, headers, **changes) -> str:
    response = client.post(QUEUE, json={**LINE, **changes}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_the_queue_filters_by_company_participant_and_months(client, facilitator, world, auth):
    ours, theirs = auth("contractor", CARCASSONNE, siret=SIRET), auth("contractor", CARCASSONNE, siret=OTHER_SIRET)
    february, march, april = (declare(client, ours, month=month) for month in ("2026-02", "2026-03", "2026-04"))
    other = declare(client, theirs, lot_id="lot-other", month="2026-03")

    def ids(headers=facilitator, **query):
        response = client.get(QUEUE, headers=headers, query_string=query)
        assert response.status_code == 200, response.json
        return [line["id"] for line in response.json]
    assert ids(contractor_siret=SIRET) == [february, march, april]
    assert ids(contractor_siret=OTHER_SIRET) == [other]
    assert ids(participant_id="p-1", period_from="2026-03") == [march, april, other]
    assert ids(period_from="2026-03", period_to="2026-03") == [march, other]
    assert ids(period_to="2026-02") == [february]
    assert ids(participant_id="p-ends-soon") == []
    assert ids(ours, contractor_siret=OTHER_SIRET) == []  # a company sees only its own lines
    for query, field in (({"period_from": "2026-05", "period_to": "2026-04"}, "period_to"),
                         ({"period_from": "mars"}, "period_from"), ({"contractor_siret": "123"}, "contractor_siret")):
        refused = client.get(QUEUE, headers=facilitator, query_string=query)
        assert refused.status_code == 422 and field in refused.json["errors"], refused.json


def test_lines_are_rejected_in_bulk_with_one_reason_each_line_answered(client, facilitator, world, auth):
    ours = auth("contractor", CARCASSONNE, siret=SIRET)
    march, april = declare(client, ours, month="2026-03"), declare(client, ours, month="2026-04")
    assert client.post(f"{QUEUE}/{april}/validate", headers=facilitator).status_code == 200
    narbonne = declare(client, ours, lot_id="lot-narbonne", month="2026-03")
    report = client.post(f"{QUEUE}/reject", headers=facilitator,
                         json={"ids": [march, april, narbonne, "nope"], "reason": "Heures non justifiées"})
    assert report.status_code == 200, report.json
    assert (report.json["rejected"], report.json["refused"]) == (1, 3)
    assert [(r["id"], r["status"]) for r in report.json["results"]] == [
        (march, "rejected"), (april, "refused"), (narbonne, "refused"), ("nope", "refused")]
    assert report.json["results"][1]["detail"] == "Seule une déclaration en attente de validation peut être rejetée."
    assert report.json["results"][2]["detail"] == "Déclaration introuvable."  # another territory's line
    line = client.get(f"{QUEUE}/{march}", headers=ours).json
    assert (line["status"], line["rejection_reason"]) == ("rejected", "Heures non justifiées")
    no_reason = client.post(f"{QUEUE}/reject", headers=facilitator, json={"ids": [april]})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    assert client.post(f"{QUEUE}/reject", headers=ours, json={"ids": [april], "reason": "Non"}).status_code == 403
