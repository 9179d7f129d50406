"""Issue 12 on the participants import: files read in bounded memory and refused early, nothing written."""
from support.files import expanding_xlsx
from test_participants_service import (AUDE, GOOD_ROWS, HEADER, client, csv_file, facilitator,  # noqa: F401
                                       make_client, upload)


def nobody_imported(client, facilitator) -> bool:
    return client.get("/api/v1/participants/statistics", query_string={"territory": AUDE},
                      headers=facilitator).json["participants"] == 0


def test_an_xlsx_that_expands_to_200_mb_is_refused_before_it_is_parsed(client, facilitator):
    refused = upload(client, facilitator, expanding_xlsx(200), filename="suivi.xlsx")

    assert refused.status_code == 422 and refused.json["rule"] == "file_too_large"
    assert refused.json["detail"].startswith("Fichier XLSX trop volumineux une fois décompressé")
    assert nobody_imported(client, facilitator)


def test_a_file_over_the_row_limit_is_refused_and_nobody_is_imported(client, facilitator):
    rows = [f"Prénom{n};Nom;12/04/1992;F;Carcassonne;oui;;;;;;;;;;;" for n in range(5_001)]

    refused = upload(client, facilitator, csv_file(*rows))

    assert refused.status_code == 422 and refused.json["rule"] == "too_many_rows"
    assert refused.json["detail"] == "Le fichier compte plus de 5000 lignes : découpez-le en plusieurs fichiers."
    assert nobody_imported(client, facilitator)


def test_the_row_limit_is_a_setting(make_client, facilitator):
    small = make_client(PARTICIPANTS_IMPORT_MAX_ROWS="1")
    assert upload(small, facilitator, csv_file(*GOOD_ROWS[:2])).json["rule"] == "too_many_rows"
    assert upload(small, facilitator, csv_file(GOOD_ROWS[0])).json["created"] == 1


def test_a_nul_character_refuses_the_file_before_anyone_is_imported(client, facilitator):
    refused = upload(client, facilitator, csv_file(GOOD_ROWS[0], "Ana;Pe\x00tit;12/04/1992;F;Sète;non;;;;;;;;;;;"))

    assert refused.status_code == 422 and refused.json["rule"] == "unreadable_file"
    assert refused.json["detail"].startswith("Ligne 3 : un caractère nul (U+0000) n'est pas accepté.")
    assert nobody_imported(client, facilitator)


def test_the_csv_template_is_written_by_the_shared_safe_writer(client, facilitator):
    template = client.get("/api/v1/participants/import-template.csv", headers=facilitator)
    assert template.get_data().decode("utf-8-sig").strip() == HEADER
