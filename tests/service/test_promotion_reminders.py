"""A promotion next step coming due reaches the facilitators by e-mail: the markets service's event, the
notifications service's real worker, a real SMTP server."""
import pytest
from plumbing.events import Event, encode

from support import MailServer, mail_parts, produce, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
BUYER = "00000110100013"


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def client(service_env, mail):
    service_env("notifications", SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port), SMTP_TIMEOUT_S="2",
                NOTIFICATIONS_DELIVERY_INTERVAL_S="0.1", NOTIFICATIONS_PUBLIC_URL="https://clauses.example")
    from notifications.app import create_app
    return create_app().test_client()


def subscribed(client, headers, territory, name, email) -> None:
    created = client.post("/api/v1/recipients", headers=headers,
                          json={"territory": territory, "name": name, "email": email})
    assert created.status_code == 201, created.json
    put = client.put(f"/api/v1/recipients/{created.json['id']}/subscriptions", headers=headers,
                     json={"subscriptions": [{"kind": "next_step_due", "channel": "email", "mode": "immediate"}]})
    assert put.status_code == 200, put.json


def test_a_next_step_due_is_mailed_once_to_the_facilitators_of_the_actions_territory(
        client, auth, mail, start_worker, topic, infra):
    operator = auth("operator", CARCASSONNE, NARBONNE)
    subscribed(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example")
    subscribed(client, operator, NARBONNE, "Paul Roques", "paul.roques@legrandnarbonne.example")
    event = Event(type="promotion.next_step_due", producer="markets", key=BUYER, territories=[CARCASSONNE], payload={
        "action_id": "a1", "buyer_siret": BUYER, "buyer_name": "Commune de Lézignan", "territory": CARCASSONNE,
        "kind": "individual_meeting", "kind_label": "rendez-vous individuel", "date": "2024-01-15",
        "next_step": "Envoyer le modèle de clause", "next_step_on": "2024-02-01", "recorded_by": "claire"})
    start_worker("notifications")
    for _ in range(2):  # delivered twice: one alert, one mail
        produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=BUYER.encode())
    wait_until(lambda: mail.messages, timeout=30, what="the reminder mailed")
    wait_until(lambda: len(client.get("/api/v1/alerts", headers=operator).json) == 1, timeout=10, what="one alert")
    assert [rcpts for rcpts, _ in mail.messages] == [["claire.martin@carcassonne-agglo.example"]]
    text, _ = mail_parts(mail.messages[0][1])
    assert "Prochaine étape de promotion auprès d'un acheteur".upper() in text
    assert "prochaine étape « Envoyer le modèle de clause » prévue le 1er février 2024" in text
    assert "Échéance : 1er février 2024" in text
    assert client.get("/api/v1/alerts", headers=auth("facilitator", NARBONNE)).json == []
