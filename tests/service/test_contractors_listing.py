"""A facilitator lists the companies followed in their territories and finds one by name or SIRET."""
from test_hours_service import CARCASSONNE, NARBONNE, OTHER_SIRET, SIRET, client, facilitator  # noqa: F401

THIRD_SIRET = "40483304800022"


def test_a_facilitator_lists_and_searches_the_companies_of_their_territories(client, facilitator, auth):
    narbonne = auth("facilitator", NARBONNE)
    for siret, name, headers in ((SIRET, "Bâtiments du Sud Aude", facilitator),
                                 (OTHER_SIRET, "Électricité Cathare", facilitator),
                                 (THIRD_SIRET, "Menuiserie du Narbonnais", narbonne)):
        assert client.post("/api/v1/contractors", json={"siret": siret, "name": name},
                           headers=headers).status_code == 201

    listed = client.get("/api/v1/contractors", headers=facilitator)
    assert listed.status_code == 200, listed.json
    assert [c["name"] for c in listed.json] == ["Bâtiments du Sud Aude", "Électricité Cathare"]
    assert listed.headers["X-Pagination"] and '"total": 2' in listed.headers["X-Pagination"]

    def found(q, headers=facilitator):
        return [c["siret"] for c in client.get("/api/v1/contractors", query_string={"q": q}, headers=headers).json]
    assert found("electricite") == [OTHER_SIRET]  # whatever the accents and case
    assert found("sud bât") == [SIRET]
    assert found("732 829") == [SIRET]  # the start of a SIRET, typed in groups
    assert found("menuiserie") == []  # another territory's company
    assert found("menuiserie", narbonne) == [THIRD_SIRET]
    by_siret = client.get("/api/v1/contractors", query_string={"siret": [OTHER_SIRET, THIRD_SIRET, SIRET]},
                          headers=facilitator)  # a table's companies named at once, of the caller's territories
    assert [c["siret"] for c in by_siret.json] == [SIRET, OTHER_SIRET]

    refused = client.get("/api/v1/contractors", query_string={"territory": NARBONNE}, headers=facilitator)
    assert refused.status_code == 403
    assert client.get("/api/v1/contractors", headers=auth("operator", CARCASSONNE)).status_code == 403
    assert client.get("/api/v1/contractors", query_string={"q": "x" * 101},
                      headers=facilitator).status_code == 422
