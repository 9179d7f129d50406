"""Lists longer than a page of the APIs (100 items), in the browser: a territory's 160 lots of one market and a
buyer's 105 markets. A facilitator finds any lot by typing part of its title and filters the declarations queue
by it, adds it to a participant's path, finds any market for its report; a buyer's page lists all its markets."""
import re
import time

import pytest
from playwright.sync_api import expect

from demo import CARCASSONNE, DEMO_CONTRACTOR, Slice, poll
from support.decp import siret

pytestmark = pytest.mark.e2e

FACILITATOR = "Facilitateur — Carcassonne Agglo"
LOTS, MARKETS = 160, 105


@pytest.fixture(scope="module")
def region(stack):
    """A buyer of Carcassonne with 105 markets; its first market has 160 lots (« Entretien de la parcelle 001 »
    …), the 150th awarded to the demo company, which declared a participant's hours on it."""
    platform, _ = stack
    stamp = int(time.time() * 1000)
    s = Slice(platform, reference=f"LL{stamp}-000")
    buyer = platform.call("POST", "markets", "/api/v1/buyers", s.facilitator, {
        "name": f"Syndicat des eaux du Minervois {stamp}", "siret": siret(stamp % 10 ** 9 + 7),
        "buyer_type": "other_public_body", "territory": CARCASSONNE})
    markets = [platform.call("POST", "markets", "/api/v1/markets", s.facilitator, {
        "reference": f"LL{stamp}-{n:03}", "title": f"Entretien des réseaux, tranche {n:03}", "buyer_id": buyer["id"],
        "nature": "services", "clause_kind": "execution_condition", "lead_territory": CARCASSONNE,
        "start_date": "2026-01-01", "end_date": "2027-06-30"}) for n in range(1, MARKETS + 1)]
    lots = [platform.call("POST", "markets", f"/api/v1/markets/{markets[0]['id']}/lots", s.facilitator, {
        "number": n, "title": f"Entretien de la parcelle {stamp % 10 ** 5:05}-{n:03}", "amount_excl_vat": 50_000,
        "labour_share": 0.5, "insertion_rate": 0.05, "hourly_cost": 30}) for n in range(1, LOTS + 1)]
    api_key = s.award(lots[149])
    participant = s.eligible_participant("Inès", f"Parcelle{stamp % 10 ** 5}")
    line = s.declare(api_key, lots[149]["id"], participant, "2026-02", 35)
    return {"buyer": buyer, "markets": markets, "lots": lots, "participant": participant, "status": line["status"],
            "words": f"parcelle {stamp % 10 ** 5:05}"}


def test_the_facilitator_finds_the_150th_lot_by_its_title_and_filters_the_queue_by_it(browsing, region):
    lot = region["lots"][149]
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/declarations?statut={region['status']}")
    search, choice = page.get_by_label("Lot (titre ou numéro)"), page.get_by_label("Lot", exact=True)

    # every lot of the market answers the words: a page of them is offered, and the person is told to say more
    search.fill(region["words"])
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("status").filter(has_text="160 résultats")).to_have_text(
        f"160 résultats pour « {region['words']} », les 100 premiers sont proposés : précisez votre recherche.")
    expect(choice.locator("option")).to_have_count(101)  # and « Tous les lots »

    # its number makes it one
    search.fill(f"{region['words']}-150")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("status").filter(has_text="1 résultat(s)")).to_be_visible()
    choice.select_option(label=f"{lot['title']} (lot 150)")
    page.get_by_role("button", name="Filtrer").click()
    queue = page.get_by_role("table", name=re.compile("ligne"))
    expect(queue).to_contain_text(f"{lot['title']} (lot 150)")  # the caption says the filter, each row its lot
    expect(queue.get_by_role("rowheader")).to_have_count(1)
    expect(queue.get_by_role("row").nth(1)).to_contain_text(DEMO_CONTRACTOR[1])
    browsing.check_accessibility()
    browsing.screenshot("declarations-queue-lot-searched")

    # the filter, opened from its address alone (no words typed), is shown by the lot's name
    page = browsing.open(f"/declarations?statut={region['status']}&lot={lot['id']}")
    expect(page.get_by_label("Lot", exact=True).locator("option:checked")).to_have_text(f"{lot['title']} (lot 150)")

    # words that find nothing say so
    page.get_by_label("Entreprise (nom ou SIRET)").fill("zzzz introuvable")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("status").filter(has_text="Aucun résultat")).to_have_text(
        "Aucun résultat pour « zzzz introuvable » : essayez d'autres mots.")
    page.get_by_label("Entreprise (nom ou SIRET)").fill("batiments sud")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_label("Entreprise", exact=True).select_option(DEMO_CONTRACTOR[0])
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("table", name=re.compile("ligne"))).to_contain_text(DEMO_CONTRACTOR[1])


def test_the_search_of_a_lot_fits_a_phone(phone, region):
    phone.sign_in(FACILITATOR)
    page = phone.open(f"/declarations?statut={region['status']}&recherche_lot={region['words']}-15")
    expect(page.get_by_role("status").filter(has_text="résultat(s)")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the queue is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("declarations-queue-lot-searched-phone")


def test_a_participants_path_takes_a_lot_found_by_its_title(browsing, region):
    lot = region["lots"][122]
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/participants/{region['participant']}")
    page.get_by_label("Trouver le lot (titre ou numéro)").fill(f"{region['words']}-123")
    page.get_by_label("Trouver le lot (titre ou numéro)").press("Enter")  # Enter in the search field searches
    expect(page.get_by_role("status").filter(has_text="1 résultat(s)")).to_be_visible()
    page.get_by_label("Lot (obligatoire)").select_option(lot["id"])
    page.get_by_label("SIRET de l'employeur (obligatoire)").fill(DEMO_CONTRACTOR[0])
    page.get_by_label("Type de contrat (obligatoire)").select_option(index=1)
    page.get_by_label("Début (obligatoire)", exact=True).fill("2026-03-02")
    page.get_by_label("SIRET de l'employeur (obligatoire)").press("Enter")  # elsewhere, it adds the step
    expect(page.get_by_text("L'étape de parcours est ajoutée.")).to_be_visible()
    expect(page.get_by_role("table", name="Étapes de travail sur les lots")).to_contain_text(
        f"{lot['title']} (lot 123)")
    browsing.check_accessibility()


def test_a_buyers_page_lists_all_its_markets_and_any_market_has_its_report(browsing, stack, region):
    platform, _ = stack
    market = region["markets"][102]
    facilitator = platform.token("facilitator", CARCASSONNE)
    report = platform.config.url("observatory") + f"/api/v1/observatory/markets/{market['id']}/report.html"
    poll(lambda: platform.http.get(report, headers=facilitator, timeout=30).ok, 60, "the observatory's market")
    browsing.sign_in(FACILITATOR)
    page = browsing.open(f"/acheteurs/{region['buyer']['id']}")
    expect(page.get_by_role("table", name="Marchés de cet acheteur").get_by_role("rowheader")).to_have_count(MARKETS)

    page = browsing.open("/statistiques")
    page.get_by_label("Trouver le marché (référence ou intitulé)").fill(market["reference"])
    page.get_by_role("button", name="Chercher le marché").click()
    expect(page).to_have_url(re.compile(r"/statistiques\?"))
    expect(page.get_by_role("status").filter(has_text="1 résultat(s)")).to_be_visible()
    choice = page.get_by_label("Marché (obligatoire)")
    expect(choice.locator("option")).to_have_text(
        ["Choisissez un marché", f"{market['reference']} — {market['title']}"])
    choice.select_option(market["id"])
    with page.expect_download() as report:
        page.get_by_role("button", name="Bilan en HTML").click()
    assert report.value.suggested_filename == f"bilan-{market['id']}.html"
    browsing.check_accessibility()


def test_a_buyers_home_says_its_lots_are_more_than_it_shows(browsing, region):
    browsing.sign_in(f"Acheteur — {region['buyer']['name']}")
    page = browsing.open("/accueil")
    expect(page.get_by_role("table", name=re.compile("Lots et avancement"))).to_contain_text(
        f"les 50 qui finissent le plus tôt, sur {LOTS}")
    expect(page.get_by_role("link", name="vos marchés")).to_be_visible()
