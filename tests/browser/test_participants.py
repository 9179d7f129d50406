"""A facilitator finds, registers and follows the people of their territory, answers their rights and imports a
file, in the browser; a facilitator of another territory cannot open them."""
import json
from datetime import date

import pytest
from playwright.sync_api import expect

from demo import CARCASSONNE

pytestmark = pytest.mark.e2e

FACILITATOR = "Facilitateur — Carcassonne Agglo"
TODAY = date.today().isoformat()


def test_a_facilitator_registers_finds_follows_exports_and_erases_a_person(browsing):
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/participants/nouveau")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inscrire une personne")
    page.get_by_label("Prénom").fill("Éloïse")
    page.get_by_label("Nom (obligatoire)", exact=True).fill("Benoît-Durand")
    page.get_by_label("Sexe").select_option(label="femme")
    page.get_by_label("Commune de résidence").fill("Carcassonne")
    page.get_by_label("travailleur handicapé (RQTH)").check()
    page.get_by_label("Nature du justificatif").fill("notification MDPH")
    page.get_by_label("Référence du justificatif").fill("MDPH-11-2026-0042")
    page.get_by_label("Date du justificatif").fill(TODAY)
    page.get_by_label("Date d'entrée dans la clause").fill(TODAY)
    page.get_by_role("button", name="Inscrire la personne").click()

    # the birth date was forgotten: said in words, at the top and at the field, and nothing else is lost
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Date de naissance")
    expect(page.get_by_label("Date de naissance")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Référence du justificatif")).to_have_value("MDPH-11-2026-0042")
    browsing.check_accessibility()
    browsing.screenshot("participant-registration-error")
    page.get_by_label("Date de naissance").fill("1988-04-09")
    page.get_by_role("button", name="Inscrire la personne").click()
    expect(page.get_by_text("Éloïse Benoît-Durand est inscrit(e) : éligible.")).to_be_visible()

    page = browsing.open("/participants")
    page.get_by_label("Nom ou prénom").fill("benoit eloise")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("cell", name="travailleur handicapé (RQTH)")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("participants-search")
    page.get_by_role("link", name="Benoît-Durand Éloïse").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Éloïse Benoît-Durand")
    expect(page.get_by_role("table", name="Historique des décisions d'éligibilité")).to_contain_text(
        "éligibilité validée")
    expect(page.get_by_role("table", name="Qui a consulté, modifié ou exporté cette fiche")).to_contain_text(
        "consultation de la fiche")
    browsing.check_accessibility()
    browsing.screenshot("participant-page")

    page.get_by_label("Situation à la sortie").select_option(label="formation")
    page.get_by_label("Date de sortie").fill(TODAY)
    page.get_by_role("button", name="Enregistrer la sortie").click()
    expect(page.get_by_text("La sortie est enregistrée.")).to_be_visible()
    expect(page.locator("section", has=page.get_by_role("heading", name="Sortie du dispositif"))).to_contain_text(
        "formation")

    with page.expect_download() as exported:
        page.get_by_role("link", name="Télécharger ses données (droit d'accès), document à lui remettre").click()
    assert "Benoît-Durand" in open(exported.value.path(), encoding="utf-8").read()
    with page.expect_download() as exported:
        page.get_by_role("link", name="Télécharger ses données au format JSON").click()
    held = json.load(open(exported.value.path(), encoding="utf-8"))
    assert held["participant"]["exit"]["outcome"] == "training"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Effacer ses données personnelles").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Données effacées")
    expect(page.get_by_text("Les données personnelles de ce participant ont été effacées le")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("participant-erased")


def test_a_look_alike_is_shown_with_a_link_and_registered_only_when_confirmed(browsing, stack):
    platform, _ = stack
    facilitator = platform.token("facilitator", CARCASSONNE)
    existing = platform.call("POST", "participants", "/api/v1/participants", facilitator, {
        "territory": CARCASSONNE, "first_name": "Karim", "last_name": "Saïdi", "birth_date": "1975-02-03",
        "sex": "male", "commune": "Trèbes"})
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/participants/nouveau")
    page.get_by_label("Prénom").fill("KARIM")
    page.get_by_label("Nom (obligatoire)", exact=True).fill("Saidi")
    page.get_by_label("Date de naissance").fill("1975-02-03")
    page.get_by_label("Sexe").select_option(label="homme")
    page.get_by_label("Commune de résidence").fill("Narbonne")
    page.get_by_role("button", name="Inscrire la personne").click()

    expect(page.get_by_role("alert")).to_contain_text("Cette personne est peut-être déjà suivie")
    expect(page.get_by_role("link", name="Ouvrir la fiche de la personne déjà suivie")).to_have_attribute(
        "href", f"/participants/{existing['id']}")
    browsing.check_accessibility()
    page.get_by_label("Il s'agit d'une autre personne que celle déjà suivie : l'inscrire quand même").check()
    page.get_by_role("button", name="Inscrire la personne").click()
    expect(page.get_by_text("KARIM Saidi est inscrit(e) : inscrit, éligibilité non validée.")).to_be_visible()
    assert existing["id"] not in page.url


def test_an_import_reports_the_reason_of_each_refused_row(browsing):
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/participants/import")
    with page.expect_download() as template:
        page.get_by_role("link", name="Télécharger le modèle CSV").click()
    headers = open(template.value.path(), encoding="utf-8-sig").readline().strip()
    assert headers.startswith("Prénom;Nom;Date de naissance;Sexe")
    rows = "\n".join([headers, "Inès;Moreau;12/03/1996;F;Limoux", "Paul;Vidal;31/02/1980;H;Castelnaudary"])
    page.get_by_label("Fichier à importer").set_input_files(
        files=[{"name": "participants.csv", "mimeType": "text/csv", "buffer": rows.encode()}])
    page.get_by_role("button", name="Importer le fichier").click()

    report = page.get_by_role("table", name="Résultat de chaque ligne du fichier")
    expect(page.get_by_text("2 ligne(s) lue(s) : 1 personne(s) inscrite(s), 1 ligne(s) refusée(s).")).to_be_visible()
    expect(report.get_by_role("row").nth(1)).to_contain_text("personne inscrite")
    expect(report.get_by_role("row").nth(2)).to_contain_text("ligne refusée")
    expect(report.get_by_role("row").nth(2)).to_contain_text("Date de naissance")
    browsing.check_accessibility()
    browsing.screenshot("participants-import-report")
    report.get_by_role("link", name="personne inscrite").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inès Moreau")


def test_a_facilitator_of_another_territory_cannot_open_the_person(browsing, stack):
    platform, _ = stack
    person = platform.call("POST", "participants", "/api/v1/participants", platform.token("facilitator", CARCASSONNE),
                           {"territory": CARCASSONNE, "first_name": "Lucie", "last_name": "Fabre",
                            "birth_date": "1992-07-21", "sex": "female", "commune": "Carcassonne"})
    browsing.sign_in("Facilitateur — Le Grand Narbonne")
    page = browsing.open(f"/participants/{person['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    expect(page.get_by_text("Fabre")).to_have_count(0)
    browsing.check_accessibility()
    page = browsing.open("/participants?q=fabre")
    expect(page.get_by_text("Aucune personne ne correspond à cette recherche.")).to_be_visible()


def test_the_participants_pages_fit_a_phone(phone, stack):
    platform, _ = stack
    person = platform.call("POST", "participants", "/api/v1/participants", platform.token("facilitator", CARCASSONNE),
                           {"territory": CARCASSONNE, "first_name": "Nadia", "last_name": "Rivière",
                            "birth_date": "1985-11-30", "sex": "female", "commune": "Carcassonne"})
    phone.sign_in(FACILITATOR)
    for path in ("/participants?q=riviere", "/participants/nouveau", f"/participants/{person['id']}",
                 "/participants/import"):
        page = phone.open(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("participant-page-phone")


def test_a_person_is_found_and_opened_with_the_keyboard_only(browsing, stack):
    platform, _ = stack
    platform.call("POST", "participants", "/api/v1/participants", platform.token("facilitator", CARCASSONNE),
                  {"territory": CARCASSONNE, "first_name": "Théo", "last_name": "Garcès", "birth_date": "2001-05-14",
                   "sex": "male", "commune": "Limoux"})
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/participants")
    search = page.get_by_label("Nom ou prénom")
    browsing.tab_to(search)
    page.keyboard.type("garces")
    page.keyboard.press("Enter")
    link = page.get_by_role("link", name="Garcès Théo")
    browsing.tab_to(link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Théo Garcès")
    browsing.tab_to(page.get_by_label("Situation à la sortie"))
    expect(page.get_by_label("Situation à la sortie")).to_be_focused()
