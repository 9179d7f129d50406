"""Buyers and markets in the browser: a facilitator registers a buyer and a market for it and moves it along
its lifecycle; a buyer sees only their markets; a facilitator of another territory sees none of it."""
import pytest
from playwright.sync_api import expect

from demo import CARCASSONNE, DEMO_BUYERS, NARBONNE

pytestmark = pytest.mark.e2e

NEW_BUYER = {"name": "Commune de Trèbes", "siret": "21110397000011"}
BAD_KEY = "21110397000012"  # the same number with a wrong check key


def _buyer(platform, siret: str, territory: str = CARCASSONNE) -> dict:
    buyers = platform.call("GET", "markets", f"/api/v1/buyers?territory={territory}&page_size=100",
                           platform.token("facilitator", territory))
    return next(b for b in buyers if b["siret"] == siret)


def _market(platform, reference: str, buyer_siret: str, territory: str = CARCASSONNE) -> dict:
    """A draft market of a demo buyer of the territory, created through the API."""
    return platform.call("POST", "markets", "/api/v1/markets", platform.token("facilitator", territory), {
        "reference": reference, "title": f"Marché {reference}", "buyer_id": _buyer(platform, buyer_siret, territory)["id"],
        "nature": "services", "clause_kind": "execution_condition", "lead_territory": territory,
        "start_date": "2026-01-01", "end_date": "2027-06-30"})


def test_a_facilitator_registers_a_buyer_and_a_market_and_awards_it(browsing, stack):
    platform, _ = stack
    browsing.sign_in("Facilitateur — Carcassonne Agglo")
    page = browsing.open("/acheteurs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acheteurs")
    expect(page.get_by_role("link", name="Commune de Carcassonne")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("buyers-list")

    page.get_by_role("link", name="Enregistrer un acheteur").click()
    page.get_by_label("Nom").fill(NEW_BUYER["name"])
    page.get_by_label("SIRET").fill(BAD_KEY)
    page.get_by_label("Type d'acheteur").select_option(label="commune")
    page.get_by_role("button", name="Enregistrer l'acheteur").click()
    expect(page.locator("#error-siret")).to_contain_text("SIRET invalide : 14 chiffres attendus, avec une clé de "
                                                         "contrôle correcte")
    expect(page.get_by_role("alert")).to_contain_text("SIRET")
    expect(page.locator(".field-error")).to_have_count(1)  # the SIRET only: the rest was right
    expect(page.get_by_label("Nom")).to_have_value(NEW_BUYER["name"])  # what was typed stays
    browsing.check_accessibility()
    browsing.screenshot("buyer-new-refused")
    facilitator = platform.token("facilitator", CARCASSONNE)
    assert not [b for b in platform.call("GET", "markets", "/api/v1/buyers?page_size=100", facilitator)
                if b["name"] == NEW_BUYER["name"]], "a refused buyer was registered"

    page.get_by_label("SIRET").fill("211 103 970 00011")
    page.get_by_role("button", name="Enregistrer l'acheteur").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(NEW_BUYER["name"])
    expect(page.get_by_text(f"L'acheteur « {NEW_BUYER['name']} » est enregistré.")).to_be_visible()
    expect(page.get_by_text("Aucun marché pour cet acheteur.")).to_be_visible()

    page.get_by_role("link", name="Créer un marché pour cet acheteur").click()
    expect(page.get_by_label("Acheteur")).to_have_value(page.url.split("acheteur=")[1])
    page.get_by_label("Référence").fill("2026-TRB-001")
    page.get_by_label("Intitulé").fill("Entretien des espaces verts")
    page.get_by_label("Nature").select_option(label="services")
    page.get_by_label("Code CPV").fill("77310000-6")
    page.get_by_label("Clause sociale").select_option(label="condition d'exécution")
    page.get_by_label("Le Grand Narbonne").check()
    page.get_by_label("Début d'exécution").fill("2026-03-01")
    page.get_by_label("Fin d'exécution").fill("2026-02-01")
    page.get_by_role("button", name="Créer le marché").click()
    expect(page.locator("#error-end_date")).to_contain_text("La date de fin doit suivre la date de début.")
    browsing.check_accessibility()
    browsing.screenshot("market-new-refused")

    page.get_by_label("Fin d'exécution").fill("2028-02-29")
    page.get_by_role("button", name="Créer le marché").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2026-TRB-001 — Entretien des espaces verts")
    expect(page.locator(".status")).to_have_text("en préparation")
    expect(page.locator("dl.facts")).to_contain_text("Carcassonne Agglo")
    expect(page.locator("dl.facts")).to_contain_text("Le Grand Narbonne")
    expect(page.get_by_text("Ce marché n'a pas encore de lot.")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("market-page")
    market_url = page.url

    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Marchés").click()
    page.get_by_label("Référence ou intitulé").fill("espaces verts")
    page.get_by_label("Statut").select_option(label="en préparation")
    page.get_by_label("Acheteur").select_option(label=NEW_BUYER["name"])
    page.get_by_label("Clause sociale").select_option(label="condition d'exécution")
    page.get_by_role("button", name="Filtrer").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2026-TRB-001 — Entretien des espaces verts")
    expect(rows.first).to_contain_text("Carcassonne Agglo, Le Grand Narbonne")
    browsing.check_accessibility()
    browsing.screenshot("markets-list-filtered")
    page.get_by_label("Clause sociale").select_option(label="sans clause sociale")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("Aucun marché ne correspond à ces critères.")).to_be_visible()

    page.goto(market_url)
    page.once("dialog", lambda dialog: dialog.dismiss())  # asked first; refused: nothing changes
    page.get_by_role("button", name="Passer à « attribué »").click()
    expect(page.locator(".status")).to_have_text("en préparation")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Passer à « attribué »").click()
    expect(page.get_by_text("Le marché est maintenant « attribué ».")).to_be_visible()
    expect(page.locator(".status")).to_have_text("attribué")
    expect(page.get_by_role("button", name="Passer à « en exécution »")).to_be_visible()
    browsing.screenshot("market-awarded")

    page.get_by_role("link", name="Modifier le marché").click()
    expect(page.get_by_label("Intitulé")).to_have_value("Entretien des espaces verts")
    expect(page.get_by_label("Le Grand Narbonne")).to_be_checked()
    page.get_by_label("Intitulé").fill("Entretien des espaces verts communaux")
    page.get_by_label("Marché de l'État").check()
    browsing.check_accessibility()
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2026-TRB-001 — Entretien des espaces verts communaux")
    expect(page.locator("dd", has_text="oui")).to_be_visible()

    page.get_by_role("link", name=NEW_BUYER["name"]).click()  # the buyer's page counts the new market
    expect(page.locator(".card", has_text="marché(s) avec une clause sociale")).to_contain_text("1")
    expect(page.locator(".card", has_text="part des marchés avec une clause")).to_contain_text("100")
    browsing.check_accessibility()
    browsing.screenshot("buyer-page")


def test_a_refused_step_shows_the_services_reason(browsing, stack):
    platform, _ = stack
    market = _market(platform, "2026-CA-STALE", DEMO_BUYERS[1]["siret"])
    browsing.sign_in("Facilitateur — Carcassonne Agglo")
    page = browsing.open(f"/marches/{market['id']}")
    # someone else moved it meanwhile: this page's button asks for a step the market has already taken
    platform.call("POST", "markets", f"/api/v1/markets/{market['id']}/status",
                  platform.token("facilitator", CARCASSONNE), {"status": "awarded"})
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Passer à « attribué »").click()
    expect(page.get_by_text("Le statut n'a pas changé : Un marché « attribué » ne peut pas passer à « attribué » : "
                            "l'étape suivante est « en exécution ».")).to_be_visible()
    expect(page.locator(".status")).to_have_text("attribué")


def test_a_buyer_sees_only_their_own_markets(browsing, stack):
    platform, _ = stack
    own = _market(platform, "2026-CC-OWN", DEMO_BUYERS[0]["siret"])
    other = _market(platform, "2026-AG-OTHER", DEMO_BUYERS[1]["siret"])
    browsing.sign_in(f"Acheteur — {DEMO_BUYERS[0]['name']}")
    page = browsing.open("/marches")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos marchés")
    expect(page.get_by_role("link", name="2026-CC-OWN — Marché 2026-CC-OWN")).to_be_visible()
    expect(page.get_by_text("2026-AG-OTHER")).to_have_count(0)
    expect(page.get_by_label("Acheteur")).to_have_count(0)  # no other buyer to choose
    expect(page.get_by_role("link", name="Créer un marché")).to_have_count(0)
    browsing.check_accessibility()
    browsing.screenshot("markets-list-buyer")

    page.get_by_role("link", name="2026-CC-OWN — Marché 2026-CC-OWN").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2026-CC-OWN — Marché 2026-CC-OWN")
    expect(page.get_by_role("button", name="Passer à « attribué »")).to_have_count(0)
    expect(page.get_by_role("link", name="Modifier le marché")).to_have_count(0)
    browsing.check_accessibility()
    browsing.screenshot("market-page-buyer")

    page = browsing.open(f"/marches/{other['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    assert own["id"] != other["id"]


def test_a_facilitator_of_another_territory_sees_none_of_it(browsing, stack):
    platform, _ = stack
    market = _market(platform, "2026-CA-LOCAL", DEMO_BUYERS[0]["siret"])
    browsing.sign_in("Facilitateur — Le Grand Narbonne")
    page = browsing.open("/marches?q=2026-CA-LOCAL")
    expect(page.get_by_text("Aucun marché ne correspond à ces critères.")).to_be_visible()
    page = browsing.open("/acheteurs")
    expect(page.get_by_role("link", name="Commune de Narbonne")).to_be_visible()
    expect(page.get_by_role("link", name=DEMO_BUYERS[0]["name"])).to_have_count(0)
    page = browsing.open(f"/marches/{market['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    browsing.check_accessibility()
    buyer = _buyer(platform, DEMO_BUYERS[0]["siret"])
    page = browsing.open(f"/acheteurs/{buyer['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    assert NARBONNE not in market["territories"]


def test_the_buyers_directory_is_searched_by_name_or_siret(browsing):
    browsing.sign_in("Facilitateur — tous les territoires")
    page = browsing.open("/acheteurs")
    page.get_by_label("Nom ou SIRET").fill("211 100 69")  # the start of Commune de Carcassonne's SIRET
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Commune de Carcassonne")
    page.get_by_label("Nom ou SIRET").fill("narbonne")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Commune de Narbonne")
    page.get_by_label("Nom ou SIRET").fill("")
    page.get_by_label("Type d'acheteur").select_option(label="intercommunalité")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Carcassonne Agglo")
    browsing.check_accessibility()
    browsing.screenshot("buyers-list-searched")


def test_a_long_list_of_markets_goes_page_by_page_keeping_its_filters(browsing, stack):
    platform, _ = stack
    narbonne = DEMO_BUYERS[3]
    for number in range(1, 22):
        _market(platform, f"2026-NA-{number:02d}", narbonne["siret"], NARBONNE)
    browsing.sign_in("Facilitateur — Le Grand Narbonne")
    page = browsing.open("/marches")
    page.get_by_label("Acheteur").select_option(label=narbonne["name"])
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("Page 1 sur 2 (21 résultats)")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(20)
    page.get_by_role("link", name="Page suivante").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("2026-NA-21")
    expect(page.get_by_label("Acheteur")).to_have_value(_buyer(platform, narbonne["siret"], NARBONNE)["id"])
    page.get_by_role("link", name="Page précédente").click()
    expect(page.locator("tbody tr").first).to_contain_text("2026-NA-01")


def test_the_markets_and_buyers_pages_fit_a_phone(phone):
    phone.sign_in("Facilitateur — Carcassonne Agglo")
    for path in ("/marches", "/acheteurs", "/marches/nouveau", "/acheteurs/nouveau"):
        page = phone.open(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("buyer-new-phone")


def test_the_next_step_is_taken_with_the_keyboard_alone(browsing, stack):
    platform, _ = stack
    market = _market(platform, "2026-CA-KEYS", DEMO_BUYERS[1]["siret"])
    browsing.sign_in("Facilitateur — Carcassonne Agglo")
    page = browsing.open(f"/marches/{market['id']}")
    button = page.get_by_role("button", name="Passer à « attribué »")
    browsing.tab_to(button)  # past the skip link, the menu, the breadcrumbs, to the page's actions
    expect(button).to_be_focused()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.locator(".status")).to_have_text("attribué")
