"""Companies, their API keys and the month's declarations, in the browser: a facilitator registers a company
and gives it a key (shown once, with a copy button); the company's staff member sends a payroll file with one
bad row and gets the report and the refused rows as a file; the facilitator rejects a line with a reason
(the company reads it, and gets an alert) and validates the rest of the queue at once, which the lot's progress
shows."""
import re
import time

import pytest
from playwright.sync_api import expect
from plumbing.auth import issue_token

from demo import CARCASSONNE, Slice, poll
from support.decp import siret

pytestmark = pytest.mark.e2e

COMPANY = "Maçonnerie Cathare"
FACILITATOR = "Facilitateur — Carcassonne Agglo"


@pytest.fixture
def manual_validation(stack):
    """Carcassonne's lines wait for a facilitator (the demo region validates them at once)."""
    platform, _ = stack
    facilitator = platform.token("facilitator", CARCASSONNE, subject="test-settings")
    path = f"/api/v1/declarations/territory-settings/{CARCASSONNE}"
    platform.call("PUT", "hours", path, facilitator, {"auto_validation": False})
    yield
    platform.call("PUT", "hours", path, facilitator, {"auto_validation": True})


def _held_lot_with_lines(platform, company_siret: str) -> tuple[dict, list[str], list[dict]]:
    """A lot of Carcassonne awarded to the company, two eligible participants, and a line for each already
    sent by the company's payroll software (waiting for validation)."""
    s = Slice(platform, reference=f"WEB-{int(time.time() * 1000)}")
    lot = s.create_lot(market=s.create_market(associated=()))
    platform.call("POST", "markets", f"/api/v1/lots/{lot['id']}/award", s.facilitator,
                  {"contractor_siret": company_siret, "contractor_name": COMPANY})
    platform.call("POST", "markets", f"/api/v1/markets/{lot['market_id']}/status", s.facilitator,
                  {"status": "in_execution"})
    people = [s.eligible_participant("Camille", "Lagarde"), s.eligible_participant("Sami", "Benali")]
    staff = issue_token(platform.config.jwt_secret, "paie@maconnerie-cathare.example", "contractor", [CARCASSONNE],
                        siret=company_siret)
    headers = {"Authorization": f"Bearer {staff}"}
    lines = [s.declare(headers, lot["id"], person, "2026-01", 120) for person in people]
    return lot, people, lines


def test_a_company_gets_a_key_sends_its_payroll_and_the_facilitator_works_the_queue(browsing, stack,
                                                                                      manual_validation):
    platform, _ = stack
    company_siret = siret(int(time.time() * 1000) % 10 ** 9)
    page = browsing.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # the facilitator registers the company and creates its key, shown once with a copy button
    browsing.sign_in(FACILITATOR)
    browsing.open("/entreprises")
    page.get_by_role("textbox", name="SIRET (obligatoire)").fill(company_siret)
    page.get_by_label("Raison sociale").fill(COMPANY)
    page.get_by_role("button", name="Enregistrer l'entreprise").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COMPANY)
    page.get_by_label("Libellé de la clé").fill("logiciel de paie")
    page.get_by_role("button", name="Créer la clé").click()
    key = page.locator("#new-key")
    expect(key).to_have_text(re.compile(r"\S{20,}"))
    page.get_by_role("button", name="Copier la clé").click()
    expect(page.get_by_text("Copié dans le presse-papiers.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key.inner_text().strip()
    expect(page.get_by_role("table", name=re.compile("Clés d'API"))).to_contain_text("logiciel de paie")
    browsing.check_accessibility()
    browsing.screenshot("company-key-created")
    browsing.open(f"/entreprises/{company_siret}")
    expect(page.locator("#new-key")).to_have_count(0)  # never shown again
    browsing.open("/entreprises?q=cathare")
    expect(page.get_by_role("link", name=COMPANY)).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("companies-list")

    lot, people, lines = _held_lot_with_lines(platform, company_siret)

    # the company's staff member sends a payroll file with one bad row: the report, and the refused row's file
    page.get_by_role("button", name="Se déconnecter").click()
    browsing.sign_in(f"Entreprise — {COMPANY}")
    browsing.open("/mon-entreprise/declarations")
    expect(page.get_by_role("table", name=re.compile("Lots de votre entreprise"))).to_contain_text("Gros œuvre")
    with page.expect_download() as template:
        page.get_by_role("link", name="Télécharger le modèle CSV").click()
    assert open(template.value.path(), encoding="utf-8-sig").readline().startswith("Lot;Référence du participant")
    payroll = (f"lot_id;participant_id;month;hours;mode;contract_type\n"
               f"{lot['id']};{people[0]};2026-02;110;direct_hire;cdd\n"
               f"lot-inconnu;{people[1]};2026-02;90;direct_hire;cdd\n").encode()
    page.get_by_label("Fichier de paie (CSV ou XLSX)").set_input_files(
        files=[{"name": "paie-fevrier.csv", "mimeType": "text/csv", "buffer": payroll}])
    page.get_by_role("button", name="Envoyer le fichier").click()
    expect(page.get_by_text("1 ligne(s) acceptée(s), 1 ligne(s) refusée(s).")).to_be_visible()
    refused = page.get_by_role("table", name="Lignes refusées et pourquoi")
    expect(refused.get_by_role("rowheader")).to_have_text(["3"])
    with page.expect_download() as errors:
        page.get_by_role("link", name="Télécharger les lignes refusées (CSV)").click()
    error_file = open(errors.value.path(), encoding="utf-8-sig").read()
    assert "lot-inconnu" in error_file and lot["id"] not in error_file
    browsing.check_accessibility()
    browsing.screenshot("company-payroll-report")
    # a month the lot had no insertion hours, said once: the calendar shows it declared so
    page.get_by_label("Lot (obligatoire)").select_option(lot["id"])
    page.get_by_label("Mois (obligatoire)").fill("2026-03")
    page.get_by_label("Motif (obligatoire)").fill("Chantier à l'arrêt pendant les intempéries")
    page.get_by_role("button", name="Déclarer ce mois sans heures").click()
    expect(page.get_by_text("Mois déclaré sans heures d'insertion.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^mars 2026"))).to_contain_text(
        "sans heures : Chantier à l'arrêt pendant les intempéries")

    # the facilitator rejects a line with a reason, then validates the rest of the queue at once
    page.get_by_role("button", name="Se déconnecter").click()
    browsing.sign_in(FACILITATOR)
    browsing.open("/declarations")
    page.get_by_label("Lot", exact=True).select_option(lot["id"])
    page.get_by_label("Entreprise", exact=True).select_option(company_siret)
    page.get_by_role("button", name="Filtrer").click()
    queue = page.get_by_role("table", name=re.compile("ligne"))
    expect(queue.get_by_role("rowheader")).to_have_count(3)
    browsing.check_accessibility()
    browsing.screenshot("declarations-queue")
    queue_url = page.url

    page.get_by_role("link", name=people[1]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ligne de déclaration")
    expect(page.get_by_role("table", name=re.compile("Versions de la ligne"))).to_contain_text("À valider")
    page.get_by_role("button", name="Rejeter la ligne").click()  # without a reason: refused, said in words
    expect(page.get_by_role("alert")).to_contain_text("Motif")
    page.get_by_label("Motif du rejet").fill("Le contrat de janvier n'est pas encore signé : joignez-le.")
    browsing.check_accessibility()
    browsing.screenshot("declaration-line")
    page.get_by_role("button", name="Rejeter la ligne").click()
    expect(page.get_by_text("Ligne rejetée")).to_be_visible()

    page.goto(queue_url)
    expect(queue.get_by_role("rowheader")).to_have_count(2)
    page.get_by_label("Tout sélectionner sur cette page").check()
    for box in page.locator("input[name=ids]").all():
        expect(box).to_be_checked()
    page.get_by_role("button", name="Valider les lignes sélectionnées").click()
    expect(page.get_by_text("2 ligne(s) validée(s).")).to_be_visible()
    expect(page.get_by_text("Aucune ligne ne correspond à ces filtres.")).to_be_visible()

    # the lot's progress moves: the validated lines count (120 h in January, 110 h in February)
    def february_on_the_lots_page() -> str:
        months = browsing.open(f"/lots/{lot['id']}").get_by_role(
            "table", name="Heures attendues et réalisées, mois par mois")
        return months.get_by_role("row", name=re.compile("^février 2026")).inner_text()
    poll(lambda: "230,00" in february_on_the_lots_page(), 60, "the validated hours on the lot's page")
    browsing.screenshot("lot-after-validation")

    # the company sees why its line was refused, in its lines and in an alert
    page.get_by_role("button", name="Se déconnecter").click()
    browsing.sign_in(f"Entreprise — {COMPANY}")
    browsing.open("/mon-entreprise/declarations?statut=rejected")
    lines_table = page.get_by_role("table", name=re.compile("Vos lignes"))
    expect(lines_table).to_contain_text("Le contrat de janvier n'est pas encore signé")
    expect(lines_table).to_contain_text("Rejetée")
    browsing.check_accessibility()
    browsing.screenshot("company-declarations")
    alert = poll(lambda: (row := browsing.open("/alertes").get_by_role("row").filter(
        has_text="Déclaration d'heures refusée")).count() and row, 60, "the company's alert")
    expect(alert).to_contain_text("Le contrat de janvier n'est pas encore signé")
    browsing.check_accessibility()


def test_a_facilitator_rotates_and_revokes_a_key_and_sees_its_use_per_day(browsing, stack):
    platform, _ = stack
    company_siret = siret(int(time.time() * 1000 + 7) % 10 ** 9)
    platform.call("POST", "hours", "/api/v1/contractors", platform.token("facilitator", CARCASSONNE),
                  {"siret": company_siret, "name": "Plâtrerie du Minervois"})
    page = browsing.page
    browsing.sign_in(FACILITATOR)
    browsing.open(f"/entreprises/{company_siret}")
    page.get_by_label("Libellé de la clé").fill("paie")
    page.get_by_role("button", name="Créer la clé").click()
    first = page.locator("#new-key").inner_text().strip()
    hours_api = platform.config.url("hours") + "/api/v1/declarations"
    assert platform.http.get(hours_api, headers={"X-API-Key": first}, timeout=10).status_code == 200

    browsing.open(f"/entreprises/{company_siret}")
    expect(page.get_by_role("table", name="Clé « paie » : 1 requête(s)")).to_be_visible()
    page.get_by_label("Délai de l'ancienne clé (heures, 0 à 168)").fill("2")
    page.get_by_role("button", name="Renouveler la clé « paie »").click()
    second = page.locator("#new-key").inner_text().strip()
    assert second and second != first
    expect(page.get_by_text("L'ancienne clé reste valable jusqu'au")).to_be_visible()
    keys = page.get_by_role("table", name=re.compile("Clés d'API"))
    expect(keys).to_contain_text("Remplacée : valable jusqu'à son expiration")
    browsing.check_accessibility()
    browsing.screenshot("company-key-rotated")

    page.once("dialog", lambda dialog: dialog.accept())  # revoking asks first
    page.get_by_role("button", name="Révoquer la clé « paie »").first.click()
    expect(page.get_by_text("Clé d'API révoquée")).to_be_visible()
    expect(keys).to_contain_text("Révoquée ou expirée")
    assert platform.http.get(hours_api, headers={"X-API-Key": first}, timeout=10).status_code == 401


def test_the_facilitator_validates_the_queue_with_the_keyboard_alone(browsing, stack, manual_validation):
    platform, _ = stack
    lot, _, _ = _held_lot_with_lines(platform, siret(int(time.time() * 1000 + 13) % 10 ** 9))
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/declarations?lot={lot['id']}")
    browsing.tab_to(page.get_by_label("Tout sélectionner sur cette page"))
    page.keyboard.press("Space")
    for box in page.locator("input[name=ids]").all():
        expect(box).to_be_checked()
    browsing.tab_to(page.get_by_role("button", name="Valider les lignes sélectionnées"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("2 ligne(s) validée(s).")).to_be_visible()


def test_the_queue_and_the_companies_fit_a_phone(phone):
    phone.sign_in(FACILITATOR)
    for path, name in (("/declarations", "declarations-queue-phone"), ("/entreprises", "companies-list-phone")):
        page = phone.open(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide on a 375 px screen: it scrolls sideways"
        phone.check_accessibility()
        phone.screenshot(name)


def test_a_company_holding_more_lots_than_a_page_of_the_api_may_choose_any_of_them(browsing, stack):
    """191 lots, where the markets API answers 100 a page: the table shows them 20 a page, and any may be found by
    its title or number and declared without hours."""
    platform, _ = stack
    company_siret, name = siret(int(time.time() * 1000 + 19) % 10 ** 9), "Propreté des Corbières"
    s = Slice(platform, reference=f"WEB-{int(time.time() * 1000)}")
    facilitator = s.facilitator
    market = s.create_market(associated=())
    platform.call("POST", "hours", "/api/v1/contractors", facilitator, {"siret": company_siret, "name": name})
    lots = []
    for number in range(1, 192):
        lot = platform.call("POST", "markets", f"/api/v1/markets/{market['id']}/lots", facilitator, {
            "number": number, "title": f"Nettoyage du site {number:03}", "amount_excl_vat": 50_000,
            "labour_share": 0.5, "insertion_rate": 0.05, "hourly_cost": 30})
        lots.append(lot)
        platform.call("POST", "markets", f"/api/v1/lots/{lot['id']}/award", facilitator,
                      {"contractor_siret": company_siret, "contractor_name": name})
    platform.call("POST", "markets", f"/api/v1/markets/{market['id']}/status", facilitator, {"status": "in_execution"})
    staff = platform.token("contractor", CARCASSONNE, siret=company_siret)
    poll(lambda: platform.call("GET", "hours", f"/api/v1/contractors/{company_siret}/reporting", staff)
         .get("total_lots") == 191, 120, "the hours service knowing the 191 lots held")
    poll(lambda: "rule" not in platform.call(  # and the market in execution (another event)
        "POST", "hours", "/api/v1/declarations/no-hours", staff, expect=(201, 409, 422),
        json={"lot_id": lots[0]["id"], "month": "2026-03", "reason": "Pas encore commencé"}), 60, "the execution")

    browsing.sign_in(f"Entreprise — {name}")
    page = browsing.open("/mon-entreprise/declarations")
    table = page.get_by_role("table", name=re.compile("Lots de votre entreprise"))
    expect(table.get_by_role("rowheader")).to_have_count(20)
    lots_pages = page.get_by_role("navigation", name="Pages des lots")
    expect(lots_pages).to_contain_text("Page 1 sur 10 (191 lots)")
    lots_pages.get_by_role("link", name="Page suivante").click()
    expect(page.get_by_role("navigation", name="Pages des lots")).to_contain_text("Page 2 sur 10")
    expect(table.get_by_role("rowheader")).to_have_count(20)
    choice = page.get_by_label("Lot (obligatoire)")
    expect(choice.locator("option")).to_have_count(21)  # 20 of its lots, and « Choisissez un lot »
    page.get_by_label("Mois (obligatoire)").fill("2026-04")
    page.get_by_label("Trouver le lot (titre ou numéro)").fill("191")
    page.get_by_role("button", name="Chercher le lot").click()
    expect(choice.locator("option")).to_have_count(2)
    expect(page.get_by_label("Mois (obligatoire)")).to_have_value("2026-04")  # the form stays as filled
    choice.select_option(label="Nettoyage du site 191 (lot 191)")
    page.get_by_label("Motif (obligatoire)").fill("Site fermé pour travaux")
    page.get_by_role("button", name="Déclarer ce mois sans heures").click()
    expect(page.get_by_text("Mois déclaré sans heures d'insertion.")).to_be_visible()
