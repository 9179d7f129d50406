"""The filters the facilitator's pages need from the markets service: contracts ending soon with a shortfall
(the home), markets by text, clause kind and territory, buyers by name or SIRET."""
import pytest

from support import wait_until
from test_markets_service import (BUYER, CARCASSONNE, LOT, NARBONNE, buyer, client, create_lot,  # noqa: F401
                                  create_market, declaration, facilitator)

AGGLO = {**BUYER, "name": "Communauté d'agglomération Carcassonne Agglo", "siret": "20006941300017",
         "buyer_type": "intercommunality"}


def listed(client, headers, path, key="title", **query) -> list:
    response = client.get(path, headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return [item[key] for item in response.json]


@pytest.fixture
def lots(client, facilitator, buyer, start_worker, infra, topic):
    """« Reached » (20 h, done, ends 2026-06-30), « Short » (ends 2026-06-30), « Later » (ends 2027-12-31),
    « No quota » (overridden to 0 h, ends 2026-06-30)."""
    small = {**LOT, "amount_excl_vat": 24000}  # 20 hours
    made = {
        "Reached": create_lot(client, facilitator, buyer, lot={**small, "title": "Reached"}, reference="R",
                              end_date="2026-06-30"),
        "Short": create_lot(client, facilitator, buyer, lot={**small, "title": "Short"}, reference="S",
                            end_date="2026-06-30"),
        "Later": create_lot(client, facilitator, buyer, lot={**small, "title": "Later"}, reference="L"),
        "No quota": create_lot(client, facilitator, buyer, lot={**small, "title": "No quota"}, reference="N",
                               end_date="2026-06-30")}
    assert client.post(f"/api/v1/lots/{made['No quota']['id']}/quota-override", headers=facilitator,
                       json={"hours": 0, "reason": "Aucune heure d'insertion possible"}).status_code == 200
    start_worker("markets")
    declaration(infra, topic, made["Reached"]["id"], 1, "declaration.validated", 20)
    declaration(infra, topic, made["Short"]["id"], 2, "declaration.validated", 5)
    wait_until(lambda: client.get(f"/api/v1/lots/{made['Reached']['id']}", headers=facilitator)
               .json["progress"]["status"] == "reached", what="the first lot's quota reached")
    return made


def test_contracts_ending_by_a_date_with_a_shortfall(client, facilitator, lots):
    def titles(**query):
        return sorted(listed(client, facilitator, "/api/v1/lots", **query))
    assert titles(ending_before="2026-06-30") == ["No quota", "Reached", "Short"]  # on the day counts
    assert titles(ending_before="2026-06-29") == []
    assert titles(ending_after="2026-07-01") == ["Later"]
    assert titles(shortfall="true") == ["Later", "Short"]
    assert titles(shortfall="false") == ["No quota", "Reached"]
    assert titles(ending_after="2026-06-01", ending_before="2026-07-31", shortfall="true") == ["Short"]
    refused = client.get("/api/v1/lots", headers=facilitator, query_string={"ending_before": "30/06/2026"})
    assert refused.status_code == 422 and "ending_before" in refused.json["errors"]


def test_a_tables_lots_are_named_at_once_by_their_ids(client, facilitator, buyer, auth):
    made = [create_lot(client, facilitator, buyer, lot={**LOT, "title": title}, reference=title)
            for title in ("Voirie", "Espaces verts", "Éclairage")]
    ids = [made[0]["id"], made[2]["id"], "0" * 24]
    assert sorted(listed(client, facilitator, "/api/v1/lots", id=ids)) == ["Voirie", "Éclairage"]  # unknown: none
    assert listed(client, auth("facilitator", NARBONNE), "/api/v1/lots", id=ids) == []  # another territory's: none
    refused = client.get("/api/v1/lots", headers=facilitator, query_string={"id": ["x"] * 101})
    assert refused.status_code == 422 and "id" in refused.json["errors"]


def test_markets_by_words_of_their_reference_or_title_clause_kind_and_territory(client, facilitator, buyer, auth):
    create_market(client, facilitator, buyer, reference="2026-CA-014", title="Réhabilitation de l'école Jean-Jaurès")
    create_market(client, facilitator, buyer, reference="2026-CA-015", title="Entretien des espaces verts",
                  clause_kind="reserved_contract")
    create_market(client, facilitator, buyer, reference="2026-CA-016", title="Fournitures de bureau", clause_kind=None)
    both = auth("facilitator", CARCASSONNE, NARBONNE)
    narbonne = client.post("/api/v1/buyers", headers=both, json={**BUYER, "siret": "21110262000013",
                                                                  "name": "Commune de Narbonne", "territory": NARBONNE})
    create_market(client, both, narbonne.json, reference="2026-GN-001", title="École de Narbonne",
                  lead_territory=NARBONNE)

    def titles(headers=facilitator, **query):
        return sorted(listed(client, headers, "/api/v1/markets", **query))
    assert titles(q="ECOLE") == ["Réhabilitation de l'école Jean-Jaurès"]
    assert titles(q="jaur rehab") == ["Réhabilitation de l'école Jean-Jaurès"]
    assert titles(q="ca-015") == ["Entretien des espaces verts"]
    assert titles(q="ole") == []
    assert titles(clause_kind="reserved_contract") == ["Entretien des espaces verts"]
    assert titles(clause_kind="none") == ["Fournitures de bureau"]
    assert titles(both, q="école") == ["Réhabilitation de l'école Jean-Jaurès", "École de Narbonne"]
    assert titles(both, q="école", territory=NARBONNE) == ["École de Narbonne"]
    market = next(m for m in client.get("/api/v1/markets", headers=facilitator).json if m["reference"] == "2026-CA-016")
    assert client.patch(f"/api/v1/markets/{market['id']}", headers=facilitator,
                        json={"title": "Mobilier scolaire"}).status_code == 200
    assert titles(q="mobil") == ["Mobilier scolaire"] and titles(q="fournitures") == []  # a change is searched
    refused = client.get("/api/v1/markets", headers=facilitator, query_string={"clause_kind": "sociale"})
    assert refused.status_code == 422 and refused.json["errors"]["clause_kind"][0].startswith("Type de clause inconnu")


def test_markets_written_before_their_search_field_existed_are_found_once_the_command_refreshed_them(
        client, facilitator, buyer):
    from markets.store import Market
    create_market(client, facilitator, buyer, reference="2026-CA-014", title="Réhabilitation de l'école Jean-Jaurès")
    create_market(client, facilitator, buyer, reference="2026-CA-015", title="Entretien des espaces verts")
    old = create_market(client, facilitator, buyer, reference="2026-CA-016", title="Fournitures de bureau")
    # as the version before wrote it: no word starts of its reference and title
    Market._get_collection().update_one({"_id": old["id"]}, {"$unset": {"text_starts": ""}})
    assert listed(client, facilitator, "/api/v1/markets", q="fournit") == []

    refresh = lambda: client.application.test_cli_runner().invoke(args=["refresh-derived-fields"])  # noqa: E731
    done = refresh()
    assert done.exit_code == 0, done.output
    assert done.output == ("Champs dérivés des marchés : 1 document(s) mis à jour sur 3 lu(s).\n"
                           "Champs dérivés des lots : 0 document(s) mis à jour sur 0 lu(s).\n")
    assert listed(client, facilitator, "/api/v1/markets", q="fournit") == ["Fournitures de bureau"]
    assert listed(client, facilitator, "/api/v1/markets", q="ca-016 bureau") == ["Fournitures de bureau"]
    assert refresh().output.startswith("Champs dérivés des marchés : 0 document(s) mis à jour sur 3 lu(s).\n")


def test_lots_by_words_of_their_title_or_their_number(client, facilitator, buyer, auth):
    market = create_market(client, facilitator, buyer, reference="2026-CA-020", title="Groupe scolaire")
    for number, title in ((1, "Gros œuvre"), (2, "Électricité courants forts"), (12, "Peinture des façades"),
                          (150, "Nettoyage du site 150")):
        assert client.post(f"/api/v1/markets/{market['id']}/lots", headers=facilitator,
                           json={**LOT, "number": number, "title": title}).status_code == 201
    narbonne = auth("facilitator", NARBONNE)

    def titles(headers=facilitator, **query):
        return sorted(listed(client, headers, "/api/v1/lots", **query))
    assert titles(q="electricite") == ["Électricité courants forts"]
    assert titles(q="GROS") == ["Gros œuvre"]
    assert titles(q="12") == ["Peinture des façades"]  # a number is the start of the lot's number
    assert titles(q="15") == ["Nettoyage du site 150"]
    assert titles(q="site 150", sort="title") == ["Nettoyage du site 150"]
    assert titles(q="fort xyz") == []
    assert titles(narbonne, q="gros") == []  # another territory's lots are not found
    refused = client.get("/api/v1/lots", headers=facilitator, query_string={"q": "x" * 101})
    assert refused.status_code == 422 and "q" in refused.json["errors"]


def test_lots_written_before_their_search_and_filter_fields_existed_are_found_once_the_command_refreshed_them(
        client, facilitator, buyer):
    from markets.store import Lot
    old = create_lot(client, facilitator, buyer, lot={**LOT, "title": "Menuiseries extérieures"}, reference="M",
                     end_date="2026-06-30")
    Lot._get_collection().update_one({"_id": old["id"]},
                                     {"$unset": {"text_starts": "", "end_month": "", "has_quota": ""}})
    ending_short = {"ending_after": "2026-06-01", "ending_before": "2026-07-31", "shortfall": "true"}
    assert listed(client, facilitator, "/api/v1/lots", q="menuis") == []
    assert listed(client, facilitator, "/api/v1/lots", **ending_short) == []
    done = client.application.test_cli_runner().invoke(args=["refresh-derived-fields"])
    assert done.exit_code == 0, done.output
    assert "Champs dérivés des lots : 1 document(s) mis à jour sur 1 lu(s).\n" in done.output
    assert listed(client, facilitator, "/api/v1/lots", q="menuis") == ["Menuiseries extérieures"]
    assert listed(client, facilitator, "/api/v1/lots", **ending_short) == ["Menuiseries extérieures"]


def test_the_pages_of_a_list_sorted_on_a_shared_value_hold_every_item_once(client, facilitator, buyer):
    """MongoDB orders equal keys as it likes: the id, last, keeps the pages of 60 markets of one status apart."""
    made = {create_market(client, facilitator, buyer, reference=f"2026-EQ-{n:03}", title="Même intitulé")["id"]
            for n in range(60)}
    for sort in ("status", "title", "-start_date"):
        seen = []
        for page in (1, 2, 3, 4):
            seen += listed(client, facilitator, "/api/v1/markets", key="id", sort=sort, page=page, page_size=17)
        assert len(seen) == 60 and set(seen) == made, sort


def test_buyers_by_name_or_the_start_of_their_siret(client, facilitator, buyer):
    assert client.post("/api/v1/buyers", json=AGGLO, headers=facilitator).status_code == 201

    def names(q):
        return listed(client, facilitator, "/api/v1/buyers", key="name", q=q)
    assert names("carcass") == ["Communauté d'agglomération Carcassonne Agglo", "Commune de Carcassonne"]
    assert names("communaute agglo") == ["Communauté d'agglomération Carcassonne Agglo"]
    assert names("211 100 69") == ["Commune de Carcassonne"]
    assert names("20006941300017") == ["Communauté d'agglomération Carcassonne Agglo"]
    assert names("0006941") == []  # the start of the SIRET, not its middle
    refused = client.get("/api/v1/buyers", headers=facilitator, query_string={"q": "x" * 101})
    assert refused.status_code == 422 and "q" in refused.json["errors"]
