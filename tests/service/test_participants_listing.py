"""A facilitator lists and searches the participants of their territories (the web application's participants
page and home): names whatever the case and accents, state, public, windows ending soon, sorted, in pages."""
import json

import pytest

from test_participants_service import AUDE, NARBONNE, client, eligibility, facilitator, make_client, register  # noqa: F401

LIST = "/api/v1/participants"
ROW_FIELDS = {"id", "territory", "first_name", "last_name", "status", "status_label", "window_end", "categories"}


def grant(client, headers, person, *criteria, eligible_from="2026-03-01") -> dict:
    granted = client.post(f"{LIST}/{person['id']}/eligibility", headers=headers,
                          json=eligibility(*criteria, eligible_from=eligible_from))
    assert granted.status_code == 201, granted.json
    return granted.json


@pytest.fixture
def people(client, facilitator, auth):
    """Yasmina (eligible, RSA, window to 2028-02-29), Élodie (RQTH, window to 2028-05-31), Marc (registered),
    Zoé (erased) in the Aude; Jean in Le Grand Narbonne."""
    yasmina = grant(client, facilitator, register(client, facilitator))
    elodie = grant(client, facilitator, register(client, facilitator, first_name="Élodie", last_name="MARTIN",
                                                 birth_date="1985-01-02"),
                   {"code": "rqth"}, eligible_from="2026-06-01")
    marc = register(client, facilitator, first_name="Marc", last_name="Dupont", birth_date="1970-03-04")
    zoe = register(client, facilitator, first_name="Zoé", last_name="Benoît", birth_date="1999-09-09")
    assert client.delete(f"{LIST}/{zoe['id']}", headers=facilitator).status_code == 200
    jean = register(client, auth("facilitator", NARBONNE), territory=NARBONNE, first_name="Jean",
                    last_name="Benard", birth_date="1980-05-05")
    return {"yasmina": yasmina, "elodie": elodie, "marc": marc, "zoe": zoe, "jean": jean}


def names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [row["first_name"] for row in response.json]


def test_a_row_says_who_their_state_window_and_public_and_nothing_more(client, facilitator, people):
    rows = client.get(LIST, headers=facilitator).json
    assert [r["first_name"] for r in rows] == ["Yasmina", "Marc", "Élodie"]  # by last name (stored case)
    elodie = next(r for r in rows if r["first_name"] == "Élodie")
    assert set(elodie) == ROW_FIELDS
    assert elodie == {"id": people["elodie"]["id"], "territory": AUDE, "first_name": "Élodie", "last_name": "MARTIN",
                      "status": "eligible", "status_label": "éligible", "window_end": "2028-05-31",
                      "categories": ["rqth"]}
    marc = next(r for r in rows if r["first_name"] == "Marc")
    assert (marc["status"], marc["window_end"], marc["categories"]) == ("registered", None, [])


def test_names_are_found_by_the_start_of_any_word_whatever_the_case_and_accents(client, facilitator, people):
    search = lambda q: names(client.get(LIST, headers=facilitator, query_string={"q": q}))  # noqa: E731
    assert search("benal") == ["Yasmina"]
    assert search("ROUSS") == ["Yasmina"]  # the second part of « Benali-Roussel »
    assert search("elo") == ["Élodie"]
    assert search("martin élo") == ["Élodie"]  # every word typed must be found
    assert search("artin") == []  # the start of a word, not its middle
    assert search("ben") == ["Yasmina"]  # Zoé Benoît is erased, Jean Benard is in another territory
    assert search("(.*)") == ["Yasmina", "Marc", "Élodie"]  # what is not a letter or digit separates words


def test_the_erased_are_left_out_and_never_show_a_name(client, facilitator, people):
    assert people["zoe"]["id"] not in [r["id"] for r in client.get(LIST, headers=facilitator).json]
    erased = client.get(LIST, headers=facilitator, query_string={"status": "erased"}).json
    assert [(r["id"], r["first_name"], r["last_name"], r["status"]) for r in erased] == [
        (people["zoe"]["id"], None, None, "erased")]


def test_filters_state_public_and_windows_ending_by_a_date(client, facilitator, people):
    def listed(**query):
        return names(client.get(LIST, headers=facilitator, query_string=query))
    assert listed(status="eligible") == ["Yasmina", "Élodie"]
    assert listed(status="registered") == ["Marc"]
    assert listed(public="rqth") == ["Élodie"]
    assert listed(status="eligible", window_ends_before="2028-03-31") == ["Yasmina"]
    assert listed(window_ends_before="2028-05-31") == ["Yasmina", "Élodie"]  # on the day counts
    assert listed(window_ends_after="2028-04-01") == ["Élodie"]
    assert listed(status="eligible", window_ends_after="2026-12-01", window_ends_before="2028-03-31") == ["Yasmina"]
    assert listed(window_ends_after="2028-05-31", window_ends_before="2028-05-31") == ["Élodie"]  # on the day counts
    assert listed(sort="-window_end", status="eligible") == ["Élodie", "Yasmina"]
    assert listed(sort="first_name") == ["Marc", "Yasmina", "Élodie"]  # stored letters: É after Y (no collation)


def test_pages_carry_their_count(client, facilitator, people):
    page = client.get(LIST, headers=facilitator, query_string={"page": 2, "page_size": 1})
    assert names(page) == ["Marc"]
    assert json.loads(page.headers["X-Pagination"])["total"] == 3


def test_only_the_callers_territories_are_listed(client, facilitator, auth, people):
    assert people["jean"]["id"] not in [r["id"] for r in client.get(LIST, headers=facilitator).json]
    refused = client.get(LIST, headers=facilitator, query_string={"territory": NARBONNE})
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    both = auth("facilitator", AUDE, NARBONNE)
    assert names(client.get(LIST, headers=both, query_string={"territory": NARBONNE})) == ["Jean"]
    assert names(client.get(LIST, headers=both, query_string={"q": "ben"})) == ["Yasmina", "Jean"]  # Benali < Benard
    assert client.get(LIST, headers=auth("operator", AUDE)).status_code == 403


def test_bad_filters_get_a_french_422_and_a_list_is_not_a_read_of_each_record(client, facilitator, people):
    for query, field in (({"status": "parti"}, "status"), ({"public": "rsa"}, "public"),
                         ({"window_ends_before": "9999-01-01"}, "window_ends_before"),
                         ({"window_ends_after": "31/12/2026"}, "window_ends_after"), ({"sort": "birth_date"}, "sort"),
                         ({"q": "x" * 101}, "q")):
        refused = client.get(LIST, headers=facilitator, query_string=query)
        assert refused.status_code == 422, query
        assert field in refused.json["errors"], refused.json
    log = client.get(f"{LIST}/{people['marc']['id']}/access-log", headers=facilitator).json
    assert [entry["action"] for entry in log] == ["create"]  # listed and searched many times above, never read


def test_a_revocation_ends_the_window_on_its_day(client, facilitator, people):
    revoked = client.post(f"{LIST}/{people['elodie']['id']}/eligibility/revoke", headers=facilitator,
                          json={"reason": "Déménagement", "revoked_on": "2026-10-31"})
    assert revoked.status_code == 200, revoked.json
    rows = client.get(LIST, headers=facilitator, query_string={"window_ends_before": "2026-11-30"}).json
    assert [(r["first_name"], r["status"], r["window_end"]) for r in rows] == [("Élodie", "revoked", "2026-10-31")]
    by_end = client.get(LIST, headers=facilitator, query_string={"sort": "window_end", "status": "revoked"}).json
    everyone = client.get(LIST, headers=facilitator, query_string={"sort": "-window_end"}).json
    assert [r["first_name"] for r in by_end] == ["Élodie"]
    assert [r["first_name"] for r in everyone][-2:] == ["Élodie", "Marc"]  # ended first; no window last


def test_records_written_before_the_search_fields_existed_are_found_once_the_command_refreshed_them(
        client, facilitator, people):
    from participants.store import Participant
    # as the version before wrote them: no names' word starts, no window's end
    Participant._get_collection().update_many({}, {"$unset": {"name_starts": "", "window_end": "",
                                                              "window_end_month": ""}})
    search = lambda q: names(client.get(LIST, headers=facilitator, query_string={"q": q}))  # noqa: E731
    ending = lambda: names(client.get(LIST, headers=facilitator,  # noqa: E731
                                      query_string={"window_ends_after": "2026-06-01",
                                                    "window_ends_before": "2028-03-31"}))
    assert search("benal") == [] and ending() == []

    refresh = lambda: client.application.test_cli_runner().invoke(args=["refresh-derived-fields"])  # noqa: E731
    done = refresh()
    assert done.exit_code == 0, done.output
    # every record lacked its word starts (the erased one's are none); those without a window have no end
    assert done.output == "Champs dérivés des participants : 5 document(s) mis à jour sur 5 lu(s).\n"
    assert search("benal") == ["Yasmina"] and search("martin élo") == ["Élodie"]
    assert ending() == ["Yasmina"]
    assert refresh().output == "Champs dérivés des participants : 0 document(s) mis à jour sur 5 lu(s).\n"
