"""A facilitator follows an alert to its resolution, changes a contact's subscriptions and chooses her own
alerts by e-mail; an operator changes a territory's settings and a trade; the statistics show the region's
figures and give their files."""
import pytest
from playwright.sync_api import expect

from demo import CARCASSONNE, Slice, poll
from support import sunk_mails

pytestmark = pytest.mark.e2e

FACILITATOR = "Facilitateur — Carcassonne Agglo"


def _quota_reached(platform) -> tuple[Slice, dict, dict]:
    """A lot of 100 hours reaches its quota with one month's declaration: the facilitators are alerted."""
    s = Slice(platform)
    lot = s.create_lot(amount_excl_vat=120_000)  # 120 000 × 50 % × 5 % ÷ 30 = 100 hours
    api_key = s.award(lot)
    s.declare(api_key, lot["id"], s.eligible_participant(), "2026-01", 100)
    alert = poll(lambda: [a for a in s.alerts(CARCASSONNE, lot["id"]) if a["kind"] == "quota_reached"], 60,
                 "the quota-reached alert")[0]
    return s, lot, alert


@pytest.fixture(scope="module")
def reached(stack):
    """A lot reached its quota: the facilitators are alerted and the observatory counts it."""
    platform, _ = stack
    s, lot, alert = _quota_reached(platform)
    poll(lambda: platform.call("GET", "observatory", "/api/v1/observatory/statistics?dimensions=territory",
                               s.facilitator)["rows"], 60, "the observatory to count the lot")
    return {"lot": lot, "alert": alert}


def test_a_facilitator_reads_acknowledges_and_resolves_an_alert(browsing, reached):
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/alertes")
    page.get_by_label("Type d'alerte").select_option(label="Objectif d'heures atteint")
    page.get_by_label("Seulement celles que je n'ai pas lues").check()
    page.get_by_role("button", name="Filtrer").click()
    row = page.get_by_role("row").filter(has_text=reached["alert"]["message"])
    expect(row).to_contain_text("Non lue")
    expect(row).to_contain_text("Ouverte")
    browsing.check_accessibility()
    browsing.screenshot("alerts-feed")

    row.get_by_role("link", name="Objectif d'heures atteint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Objectif d'heures atteint")
    page.get_by_role("button", name="Marquer comme lue").click()
    expect(page.get_by_text("Alerte marquée comme lue.")).to_be_visible()
    expect(page.get_by_text("Vous l'avez lue")).to_be_visible()
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.locator("dl.facts")).to_contain_text("Prise en charge")
    page.get_by_label("Note de résolution").fill("Bilan envoyé à l'acheteur, objectif confirmé.")
    page.get_by_role("button", name="Résoudre l'alerte").click()
    expect(page.get_by_text("Alerte résolue.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Résolue")
    expect(page.locator("dl.facts")).to_contain_text("« Bilan envoyé à l'acheteur, objectif confirmé. »")
    expect(page.get_by_role("button", name="Résoudre l'alerte")).to_have_count(0)
    browsing.check_accessibility()
    browsing.screenshot("alert-resolved")

    page = browsing.open("/alertes?statut=resolved&type=quota_reached")
    expect(page.get_by_role("row").filter(has_text=reached["alert"]["message"])).to_contain_text("Résolue")


def test_an_alert_is_taken_in_hand_and_resolved_with_the_keyboard_alone(browsing, stack):
    _, _, alert = _quota_reached(stack[0])
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/alertes?type=quota_reached")
    browsing.tab_to(page.get_by_role("row").filter(has_text=alert["message"]).get_by_role("link"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Objectif d'heures atteint")
    browsing.tab_to(page.get_by_role("button", name="Prendre en charge"))
    page.keyboard.press("Enter")
    expect(page.locator("dl.facts")).to_contain_text("Prise en charge")
    browsing.tab_to(page.get_by_label("Note de résolution"))
    page.keyboard.type("Appel à l'entreprise, planning des embauches reçu.")
    browsing.tab_to(page.get_by_role("button", name="Résoudre l'alerte"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Alerte résolue.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("« Appel à l'entreprise, planning des embauches reçu. »")


def test_a_facilitator_changes_the_subscriptions_of_their_structure(browsing):
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/alertes")
    page.get_by_role("link", name="Abonnements aux alertes").click()
    browsing.check_accessibility()
    page.get_by_role("link", name="Service des clauses sociales").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Abonnements de Service des clauses sociales")
    quota_by_mail = page.locator("#field-quota_reached-email")
    expect(quota_by_mail).to_have_value("immediate")  # the demo subscribes every partner at once
    quota_by_mail.select_option(label="Dans le récapitulatif quotidien")
    page.locator("#field-behind-email").select_option(label="Ne pas recevoir")
    page.get_by_role("button", name="Enregistrer les abonnements").click()
    expect(page.get_by_text("Abonnements enregistrés.")).to_be_visible()
    expect(page.locator("#field-quota_reached-email")).to_have_value("daily_digest")
    expect(page.locator("#field-behind-email")).to_have_value("")
    browsing.check_accessibility()
    browsing.screenshot("alert-subscriptions")


def test_a_facilitator_chooses_her_own_alerts_gets_them_by_email_and_stops_them(browsing, stack):
    platform, _ = stack
    address = "claire.durand@carcassonne-agglo.example"
    browsing.sign_in(FACILITATOR)
    page = browsing.open("/alertes")
    page.get_by_role("link", name="Mes alertes par courriel").click()
    expect(page.get_by_text("Vous ne recevez encore aucune alerte par courriel.")).to_be_visible()
    browsing.check_accessibility()
    page.get_by_label("Nom").fill("Claire Durand")
    page.get_by_label("Adresse électronique").fill(address)
    page.locator("#field-quota_reached-email").select_option(label="Immédiatement")
    page.get_by_role("button", name="Enregistrer mes alertes").click()
    expect(page.get_by_text("Vos alertes par courriel sont enregistrées.")).to_be_visible()
    expect(page.locator("#field-quota_reached-email")).to_have_value("immediate")
    expect(page.locator("#field-behind-email")).to_have_value("")
    browsing.check_accessibility()
    browsing.screenshot("my-alerts")

    s = Slice(platform, reference="2026-MES-ALERTES")  # a lot reaching its quota: she is told at once
    lot = s.create_lot(amount_excl_vat=120_000)
    s.declare(s.award(lot), lot["id"], s.eligible_participant(), "2026-01", 100)
    mail = poll(lambda: sunk_mails(platform.config, address, s.reference), 90, "her e-mail")[0]
    assert "Objectif d'heures atteint" in mail["Subject"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Arrêter mes alertes et effacer mon adresse").click()
    expect(page.get_by_text("Vous ne recevez plus d'alertes par courriel")).to_be_visible()
    expect(page.get_by_text("Vous ne recevez encore aucune alerte par courriel.")).to_be_visible()
    expect(page.get_by_label("Adresse électronique")).to_have_value("")


def test_an_operator_changes_a_territory_setting_and_a_trade(browsing):
    browsing.sign_in("Opérateur de la région")
    page = browsing.open("/accueil")
    page.get_by_role("link", name="Administration").click()
    page.get_by_label("Territoire", exact=True).select_option(label="Carcassonne Agglo")
    page.get_by_role("button", name="Afficher").click()
    browsing.check_accessibility()
    browsing.screenshot("operators-settings")

    page.get_by_label("Montée en charge (jours)").fill("9999")
    page.get_by_role("button", name="Enregistrer le suivi des marchés").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the service's refusal, in words, above the form
    expect(page.locator(".field-error")).not_to_have_count(0)
    page.get_by_label("Montée en charge (jours)").fill("45")
    page.get_by_role("button", name="Enregistrer le suivi des marchés").click()
    expect(page.get_by_text("Paramètres du territoire enregistrés.")).to_be_visible()
    expect(page.get_by_label("Montée en charge (jours)")).to_have_value("45")

    # how the hours declared in a territory are validated (another territory: the other tests declare here)
    page.get_by_label("Territoire", exact=True).select_option(label="Le Grand Narbonne")
    page.get_by_role("button", name="Afficher").click()
    automatic = page.get_by_label("Valider automatiquement les lignes conformes")
    was_automatic = automatic.is_checked()
    ceiling, due_day = page.get_by_label("Plafond mensuel par participant (heures)"), \
        page.get_by_label("Jour d'échéance des déclarations")
    ceiling.fill("300")
    page.get_by_role("button", name="Enregistrer les paramètres des déclarations").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Plafond mensuel par participant (heures) : Plafond attendu entre 0 (exclu) et 208 heures")
    ceiling.fill("")
    due_day.fill("12")
    page.get_by_role("button", name="Enregistrer les paramètres des déclarations").click()
    expect(page.get_by_text("Paramètres du territoire enregistrés.")).to_be_visible()
    expect(due_day).to_have_value("12")
    expect(automatic).to_be_checked(checked=was_automatic)
    browsing.check_accessibility()
    due_day.fill("")  # back to the region's day
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer les paramètres des déclarations").click()
    expect(due_day).to_have_value("")

    page.get_by_role("link", name="Corps de métier").click()
    page.get_by_role("link", name="Charpente métallique").click()  # the other pages' tests size with masonry
    page.get_by_label("Coût horaire (€)").fill("32,50")
    page.get_by_role("button", name="Enregistrer le corps de métier").click()
    expect(page.get_by_text("Corps de métier enregistré.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Charpente métallique")).to_contain_text("32,50 €")
    browsing.check_accessibility()
    browsing.screenshot("operators-trades")

    for part, name in (("destinataires", "operators-recipients"), ("envois", "operators-deliveries")):
        browsing.open(f"/administration/{part}")  # a fresh region may have no recipient nor delivery yet
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_text("Ce service ne répond pas")).to_have_count(0)
        browsing.check_accessibility()
        browsing.screenshot(name)


def test_the_statistics_show_the_figures_and_give_their_files(browsing, reached, stack):
    platform, _ = stack
    rows = platform.call("GET", "observatory", "/api/v1/observatory/statistics?dimensions=territory",
                         platform.token("facilitator", CARCASSONNE))["rows"]
    required = next(r for r in rows if r["keys"]["territory"]["code"] == CARCASSONNE)["hours_required"]
    assert required >= 100  # the reached lot's, and other tests' lots of the territory
    browsing.sign_in("Facilitateur — tous les territoires")
    page = browsing.open("/statistiques")
    expect(page.get_by_role("heading", name="Heures et participants")).to_be_visible()
    page.get_by_label("Ventiler par").select_option(label="Territoire")
    page.get_by_role("button", name="Afficher", exact=True).click()
    table = page.get_by_role("table")
    expect(table.get_by_role("rowheader", name="Carcassonne Agglo")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="Carcassonne Agglo").get_by_role("cell").first).to_have_text(
        f"{required:,.0f}".replace(",", "\u202f"))  # the hours required, as the observatory counts them
    expect(page.get_by_role("img", name="Heures d'insertion réalisées par territoire")).to_be_visible()
    browsing.check_accessibility()
    browsing.screenshot("statistics")

    with page.expect_download() as csv:
        page.get_by_role("link", name="Ces statistiques en CSV").click()
    assert csv.value.suggested_filename == "statistiques.csv"
    assert "Carcassonne Agglo" in open(csv.value.path(), encoding="utf-8-sig").read()

    page.get_by_label("Année").fill("2026")
    with page.expect_download() as pdf:
        page.get_by_role("button", name="Télécharger le panorama (PDF)").click()
    assert pdf.value.suggested_filename == "panorama-2026.pdf"
    assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"
