"""A person opens the platform, signs in and lands on what needs their attention."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_public_page_says_who_to_contact_without_signing_in(browsing):
    page = browsing.open("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Guichet unique des clauses sociales de l'Aude")
    expect(page.get_by_role("heading", name="Carcassonne Agglo")).to_be_visible()
    expect(page.get_by_role("link", name="clauses.sociales@carcassonne-agglo.example")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("public-home")


def test_a_facilitator_signs_in_and_sees_the_lots_alerts_and_lines_needing_attention(browsing):
    browsing.sign_in("Facilitateur — tous les territoires")
    page = browsing.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bonjour")
    for section in ("Lots en risque ou en retard", "Alertes non lues",
                    "Marchés qui se terminent dans les 60 jours avec un manque d'heures",
                    "Participants dont la période de comptage se termine dans les 30 jours"):
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(page.get_by_text("ligne(s) de déclaration à valider")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("facilitator-home")

    page.get_by_label("Territoire affiché").select_option(label="Le Grand Narbonne")
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_label("Territoire affiché")).to_have_value("aude-grand-narbonne")


def test_a_page_asks_to_sign_in_and_comes_back_after(browsing):
    page = browsing.open("/accueil")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
    page.get_by_label("Opérateur de la région", exact=True).check()
    page.get_by_role("button", name="Se connecter").last.click()
    expect(page).to_have_url(browsing.base_url + "/accueil")


def test_the_keyboard_reaches_the_content_first(browsing):
    page = browsing.open("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_the_pages_fit_a_phone(phone):
    phone.sign_in("Facilitateur — Carcassonne Agglo")
    page = phone.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen: it scrolls sideways"
    phone.check_accessibility()
    phone.screenshot("facilitator-home-phone")
