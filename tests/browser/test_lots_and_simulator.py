"""A facilitator sizes and creates a lot, awards it and follows its progress; buyers and anyone simulate a quota."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CARCASSONNE = "aude-carcassonne-agglo"
FACILITATOR = "Facilitateur — Carcassonne Agglo"
COMPANY = ("73282932000074", "Bâtiments du Sud Aude")


@pytest.fixture
def market(stack):
    """A market of Carcassonne Agglo's buyer, created through the API as any client would."""
    platform, _ = stack
    facilitator = platform.token("facilitator", CARCASSONNE)
    buyer = next(b for b in platform.call("GET", "markets", "/api/v1/buyers?page_size=100", facilitator)
                 if b["name"] == "Commune de Carcassonne")
    count = len(platform.call("GET", "markets", "/api/v1/markets?page_size=100", facilitator) or [])
    return platform.call("POST", "markets", "/api/v1/markets", facilitator, {
        "reference": f"2026-LOTS-{count + 1:03d}", "title": "Réhabilitation de l'école Jean-Jaurès",
        "buyer_id": buyer["id"], "nature": "works", "clause_kind": "execution_condition",
        "lead_territory": CARCASSONNE, "start_date": "2026-01-01", "end_date": "2027-12-31"})


def hours_shown(page):
    return page.locator("#sizing-result")


def test_a_facilitator_sees_833_hours_before_saving_creates_and_awards_the_lot_and_sees_its_chart(browsing, market):
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/marches/{market['id']}/lots/nouveau")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Nouveau lot du marché {market['reference']}")
    page.get_by_label("Numéro du lot").fill("1")
    page.get_by_label("Intitulé du lot").fill("Gros œuvre")
    page.get_by_label("Montant HT du lot, en euros").fill("1 000 000")
    page.get_by_label("Métier (référentiel de la région)").select_option("masonry")
    # computed by the markets service as one types, before anything is saved
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")
    expect(hours_shown(page)).to_contain_text("833,33 heures, arrondies à 833")
    browsing.check_accessibility()
    browsing.screenshot("lot-new")

    page.get_by_role("button", name="Créer le lot").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lot n° 1 — Gros œuvre")
    expect(page.get_by_text("Lot n° 1 créé : 833 heures d'insertion.")).to_be_visible()
    expect(page.locator("#quota-title + .sizing-hours")).to_contain_text("833 heures d'insertion")

    page.get_by_label("SIRET de l'entreprise").fill("732 829 320 00074")
    page.get_by_label("Nom de l'entreprise").fill(COMPANY[1])
    page.get_by_role("button", name="Attribuer").click()
    expect(page.get_by_text("Lot attribué.")).to_be_visible()
    expect(page.get_by_text(f"{COMPANY[1]} (SIRET {COMPANY[0]})")).to_be_visible()

    chart = page.get_by_role("img", name="Heures attendues et réalisées, cumulées mois par mois")
    expect(chart).to_be_visible()
    table = page.get_by_role("table", name="Heures attendues et réalisées, mois par mois")
    expect(table.get_by_role("row")).to_have_count(1 + 24)  # January 2026 to December 2027
    expect(table.get_by_role("row", name=re.compile("^décembre 2027"))).to_contain_text("833,00")
    browsing.check_accessibility()
    browsing.screenshot("lot-show")


def test_a_refused_override_says_why_and_an_amendment_recomputes_the_quota(browsing, market):
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/marches/{market['id']}/lots/nouveau")
    page.get_by_label("Numéro du lot").fill("2")
    page.get_by_label("Intitulé du lot").fill("Peinture")
    page.get_by_label("Montant HT du lot, en euros").fill("120000")
    page.get_by_label("Part de main-d'œuvre, en %").fill("70")
    page.get_by_label("Taux d'insertion, en %").fill("5")
    page.get_by_label("Coût horaire de la main-d'œuvre, en euros").fill("30")
    expect(hours_shown(page)).to_contain_text("140 heures d'insertion")
    page.get_by_role("button", name="Créer le lot").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lot n° 2 — Peinture")

    page.get_by_text("Modifier le quota, avec son motif").click()
    page.get_by_label("Quota retenu, en heures").fill("150")
    page.get_by_role("button", name="Modifier le quota").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Motif de la modification")  # the service's own words, per field
    expect(page.get_by_label("Quota retenu, en heures")).to_have_value("150")
    browsing.check_accessibility()

    page.get_by_label("Motif de la modification").fill("Accord avec l'acheteur : site occupé")
    page.get_by_role("button", name="Modifier le quota").click()
    expect(page.get_by_text("Quota modifié ; le quota calculé reste visible")).to_be_visible()
    expect(page.locator("#quota-title + .sizing-hours")).to_contain_text("150 heures d'insertion (quota modifié ; "
                                                                         "calculé : 140 heures)")

    page.get_by_text("Enregistrer un avenant").click()
    page.get_by_label("Date de signature").fill("2026-06-15")
    page.get_by_label("Motif de l'avenant").fill("Avenant n° 1 : extension")
    page.get_by_label("Nouveau montant HT, en euros").fill("240 000")
    page.get_by_role("button", name="Enregistrer l'avenant").click()
    expect(page.get_by_text("Avenant enregistré ; le quota est recalculé.")).to_be_visible()
    history = page.get_by_role("table", name="Historique du quota")
    expect(history.get_by_role("row", name=re.compile("15 juin 2026"))).to_contain_text("avenant")
    expect(history.get_by_role("row", name=re.compile("15 juin 2026"))).to_contain_text("280")
    browsing.screenshot("lot-amended")


def test_the_lot_form_is_filled_and_sent_with_the_keyboard_only(browsing, market):
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/marches/{market['id']}/lots/nouveau")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link: the focus goes to the content
    browsing.tab_to(page.locator("input[name=number]"))
    for value in ("3", "Électricité", "1000000"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the trade: the values are typed
    for value in ("50", "5", "30"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")
    browsing.tab_to(page.get_by_role("button", name="Créer le lot"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lot n° 3 — Électricité")
    expect(page.locator("#quota-title + .sizing-hours")).to_contain_text("833 heures d'insertion")


def test_anyone_simulates_a_quota_without_signing_in(browsing):
    page = browsing.open("/")
    page.get_by_role("link", name="Estimer les heures d'insertion d'un marché").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simulateur d'heures d'insertion")
    page.wait_for_load_state()  # htmx loaded: the result follows the typing
    page.get_by_label("Montant HT du lot, en euros").fill("1000000")
    page.get_by_label("Métier (référentiel de la région)").select_option("masonry")
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")
    rates = page.get_by_role("table", name="Heures d'insertion selon le taux")
    for rate, hours in (("5", "833"), ("10", "1\u202f667"), ("15", "2\u202f500"), ("20", "3\u202f333")):
        row = rates.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"{rate}\u00a0%", exact=True))
        expect(row).to_contain_text(hours)
    browsing.check_accessibility()
    browsing.screenshot("simulator-public")

    page.get_by_label("Coût horaire de la main-d'œuvre, en euros").fill("0")
    expect(hours_shown(page)).to_contain_text("Calcul impossible")


def test_a_buyer_simulates_with_the_values_of_their_market(browsing):
    browsing.sign_in("Acheteur — Commune de Carcassonne")
    page = browsing.page
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Simulateur").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simulateur d'heures d'insertion")
    page.wait_for_load_state()
    page.get_by_label("Montant HT du lot, en euros").fill("1 000 000")
    page.get_by_label("Part de main-d'œuvre, en %").fill("50")
    page.get_by_label("Taux d'insertion, en %").fill("5")
    page.get_by_label("Coût horaire de la main-d'œuvre, en euros").fill("30")
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")
    browsing.check_accessibility()
    browsing.screenshot("simulator-buyer")
    page.get_by_role("button", name="Calculer").click()  # without script, the same answer
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")


def test_the_public_simulator_fits_a_phone(phone):
    page = phone.open("/simulateur-public")
    page.get_by_label("Montant HT du lot, en euros").fill("1000000")
    page.get_by_label("Métier (référentiel de la région)").select_option("masonry")
    expect(hours_shown(page)).to_contain_text("833 heures d'insertion")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("simulator-public-phone")


def test_a_lots_page_fits_a_phone(phone, stack, market):
    platform, _ = stack
    lot = platform.call("POST", "markets", f"/api/v1/markets/{market['id']}/lots",
                        platform.token("facilitator", CARCASSONNE),
                        {"number": 1, "title": "Gros œuvre", "trade": "masonry", "amount_excl_vat": 1000000})
    phone.sign_in(FACILITATOR)
    page = phone.open(f"/lots/{lot['id']}")
    expect(page.get_by_role("img", name="Heures attendues et réalisées, cumulées mois par mois")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("lot-show-phone")


def test_a_lots_page_shows_its_declared_hours_month_by_month_by_mode_and_its_declarations(browsing, stack):
    from demo import Slice, poll
    platform, _ = stack
    story = Slice(platform, reference="2026-LOTS-HOURS")
    lot = story.create_lot()
    api_key = story.award(lot)
    participant_id = story.eligible_participant()
    for month in ("2026-01", "2026-02"):
        story.declare(api_key, lot["id"], participant_id, month, 170)
    poll(lambda: story.lot(lot["id"])["progress"]["realised_hours"] == 340, 60, "340 realised hours")

    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/lots/{lot['id']}")
    months = page.get_by_role("table", name="Heures attendues et réalisées, mois par mois")
    expect(months.get_by_role("row", name=re.compile("^février 2026"))).to_contain_text("340,00")
    expect(page.get_by_role("table", name="Heures par modalité : réalisées et déclarées à valider")) \
        .to_contain_text("embauche directe")
    expect(page.get_by_role("table", name=re.compile("^Changements de statut"))).to_contain_text("non démarré")
    declarations = page.get_by_role("table", name="Lignes de déclaration du lot")
    expect(declarations.get_by_role("row")).to_have_count(3)
    expect(declarations).to_contain_text("Validée")
    browsing.check_accessibility()
    browsing.screenshot("lot-show-with-hours")


def test_a_buyer_reads_the_lot_of_their_market_without_its_forms_and_another_territory_is_refused(
        browsing, stack, market):
    platform, _ = stack
    lot = platform.call("POST", "markets", f"/api/v1/markets/{market['id']}/lots",
                        platform.token("facilitator", CARCASSONNE),
                        {"number": 1, "title": "Gros œuvre", "trade": "masonry", "amount_excl_vat": 1000000})
    browsing.sign_in("Acheteur — Commune de Carcassonne")
    page = browsing.open(f"/lots/{lot['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lot n° 1 — Gros œuvre")
    expect(page.locator("#quota-title + .sizing-hours")).to_contain_text("833 heures d'insertion")
    expect(page.get_by_role("button", name="Attribuer")).to_have_count(0)
    expect(page.get_by_text("Modifier le quota, avec son motif")).to_have_count(0)
    expect(page.get_by_role("heading", name="Déclarations d'heures")).to_have_count(0)
    browsing.check_accessibility()

    browsing.sign_in("Facilitateur — Le Grand Narbonne")
    page = browsing.open(f"/lots/{lot['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    page = browsing.open(f"/marches/{market['id']}/lots/nouveau")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
