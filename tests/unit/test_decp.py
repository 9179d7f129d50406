"""Reading DECP files (markets.decp) and the reminder a next step becomes (notifications.domain)."""
import io
import json

import pytest
from markets import decp
from notifications import domain

from support.decp import contract, siret

BUYER = siret(1101)


@pytest.mark.parametrize("code, type_code, expected", [
    ("11000", "Code postal", "11"), ("11069", "Code commune", "11"), ("20000", "Code postal", "2A"),
    ("20200", "Code postal", "2B"), ("2A004", "Code commune", "2A"), ("97411", "Code postal", "974"),
    ("11", "Code département", "11"), ("1", "Code département", "01"), ("76", "Code région", None),
    ("FR", "Code pays", None), ("1100", "Code postal", None), (None, None, None)])
def test_the_departement_of_a_place_of_execution(code, type_code, expected):
    assert decp.departement_of(code, type_code) == expected


def test_social_considerations_from_a_list_an_object_or_one_cell_holding_several():
    assert decp.social_flags({"considerationSociale": ["Clause sociale", "Critère social"]}) == ["clause", "criterion"]
    assert decp.social_flags("Critère social, Marché réservé") == ["criterion", "reserved"]
    assert decp.social_flags(["Concession réservée"]) == ["reserved"]
    assert decp.social_flags(["Pas de considération sociale"]) == []
    assert decp.social_flags(None) == []


@pytest.mark.parametrize("layout", [
    lambda records: {"marches": {"marche": records}}, lambda records: {"marches": records}, lambda records: records])
def test_every_published_json_layout_is_read(layout):
    records = [contract("A1", BUYER), contract("A2", BUYER)]
    read = [item["id"] for _, item in decp.json_items(io.BytesIO(json.dumps(layout(records)).encode()))]
    assert read == ["A1", "A2"]


def test_concessions_are_read_with_their_own_field_names():
    concession = {"id": "C1", "autoriteConcedante": {"id": BUYER}, "objet": "Délégation de la restauration",
                  "codeCPV": "55520000-1", "valeurGlobale": 2500000, "dateSignature": "2024-02-01",
                  "considerationsSociales": {"considerationSociale": ["Concession réservée"]},
                  "concessionnaires": [{"concessionnaire": {"typeIdentifiant": "SIRET", "id": siret(7001)}}]}
    data = {"marches": {"marche": [contract("M1", BUYER)], "contrat-concession": [concession]}}
    [(_, _), (head, whole)] = list(decp.records(io.BytesIO(json.dumps(data).encode())))
    record = whole()
    assert (record.kind, record.amount_cents, record.social, record.notification_date) == \
        ("concession", 250000000, ["reserved"], "2024-02-01")
    assert record.contractors[0]["id"] == siret(7001)


def test_modifications_apply_in_order_of_their_id():
    item = contract("M1", BUYER, amount=100000, months=12, modifications=[{"montant": 120000}, {"dureeMois": 24}])
    item["modifications"].reverse()
    record = decp.json_record(decp.json_head(1, item), item)
    assert (record.amount_cents, record.duration_months, record.version, record.modifications) == \
        (12000000, 24, 2, [1, 2])


def test_a_file_that_is_not_decp_says_so_in_french():
    with pytest.raises(decp.UnreadableFile, match="sans marchés"):
        list(decp.records(io.BytesIO(b'{"autre": []}')))
    with pytest.raises(decp.UnreadableFile, match="mal formé ou interrompu après 0 marché"):
        list(decp.records(io.BytesIO(b'{"marches": {"marche": [{"id": ')))
    with pytest.raises(decp.UnreadableFile, match="Colonnes manquantes"):
        list(decp.records(io.BytesIO(b"id;objet\n1;x\n")))


def test_a_next_step_becomes_a_french_reminder_once_per_action_and_date():
    payload = {"action_id": "a1", "buyer_siret": BUYER, "buyer_name": "Commune de Lézignan",
               "next_step": "Envoyer le modèle de clause", "next_step_on": "2024-02-01", "date": "2024-01-15",
               "kind_label": "rendez-vous individuel"}
    draft = domain.next_step_alert(payload)
    assert draft.message == ("Promotion de la clause auprès de Commune de Lézignan (SIRET " + BUYER + ") : prochaine "
                             "étape « Envoyer le modèle de clause » prévue le 1er février 2024, convenue le 15 janvier "
                             "2024 (rendez-vous individuel).")
    assert draft.key == "next_step_due:a1:2024-02-01"
    assert domain.kinds_for(domain.FACILITATOR).count("next_step_due") == 1
    assert "next_step_due" not in domain.kinds_for(domain.BUYER)
    with pytest.raises(domain.IncompleteEvent):
        domain.next_step_alert({**payload, "next_step_on": "bientôt"})
