"""The notifications service through its Flask test client and its real worker, on the real broker and store."""
import pytest
from plumbing.events import Event, encode

from support import produce, read_topic, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
DEPARTEMENT = "aude-departement"
LOT = {"lot_id": "lot-1", "market_id": "market-1", "market_reference": "2026-CA-014",
       "market_title": "Réhabilitation du groupe scolaire Jean-Jaurès", "lot_number": 1,
       "lot_title": "Gros œuvre", "lead_territory": CARCASSONNE}


def lot_event(type_="lot.quota_reached", **payload) -> Event:
    return Event(type=type_, producer="markets", key=payload.get("lot_id", "lot-1"),
                 territories=[CARCASSONNE, NARBONNE],
                 payload={**LOT, "realised_hours": 833.0, "quota_hours": 833, **payload})


@pytest.fixture
def client(service_env):
    service_env("notifications")
    from notifications.app import create_app
    return create_app().test_client()


@pytest.fixture
def narbonne(auth):
    return auth("facilitator", NARBONNE, subject="facilitator-narbonne")


def add_recipient(client, headers, territory, name, email):
    response = client.post("/api/v1/recipients", json={"territory": territory, "name": name, "email": email},
                           headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def alerts(client, headers, **query):
    response = client.get("/api/v1/alerts", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def send(infra, topic, *values, key=b"lot-1"):
    for value in values:
        produce(infra.kafka_bootstrap, topic("markets.events"), value if isinstance(value, bytes) else encode(value),
                key=key)


def test_a_reached_quota_alerts_every_territory_of_the_market_once(
        client, narbonne, auth, start_worker, topic, infra):
    from notifications.store import Recipient
    add_recipient(client, auth("operator", CARCASSONNE), CARCASSONNE, "Anne Martin", "anne.martin@carcassonne-agglo.fr")
    add_recipient(client, narbonne, NARBONNE, "Paul Roques", "Paul.Roques@legrandnarbonne.com")
    add_recipient(client, narbonne, NARBONNE, "Inès Bedos", "ines.bedos@legrandnarbonne.com")
    add_recipient(client, auth("facilitator", DEPARTEMENT), DEPARTEMENT, "Marc Py", "marc.py@aude.fr")
    Recipient(territory=CARCASSONNE, name="Ancien", email="ancien@carcassonne-agglo.fr", active=False).save()
    reached, other = lot_event(), lot_event(lot_id="lot-2", lot_number=2, lot_title="Charpente")
    send(infra, topic, reached, reached, other)  # one key, one partition: "other" comes last
    start_worker("notifications")

    seen = wait_until(lambda: len(a := alerts(client, narbonne)) == 2 and a, timeout=60, what="two alerts")
    first = next(a for a in seen if a["lot_id"] == "lot-1")
    assert first["id"] == "quota_reached:lot-1:833"  # one alert per lot and state, whatever the event
    assert (first["kind"], first["severity"], first["title"]) == ("quota_reached", "info", "Objectif d'heures atteint")
    assert first["message"].replace("\u00a0", " ").endswith("833 h réalisées sur un objectif de 833 h.")
    assert first["territories"] == [CARCASSONNE, NARBONNE]
    assert first["recipients_count"] == 3 and "recipients" not in first
    assert first["read"] is False
    assert alerts(client, auth("facilitator", DEPARTEMENT)) == []
    assert [a["lot_id"] for a in alerts(client, narbonne, lot_id="lot-1")] == ["lot-1"]
    listed = client.get("/api/v1/recipients", headers=narbonne).json
    assert [r["email"] for r in listed] == ["ines.bedos@legrandnarbonne.com", "paul.roques@legrandnarbonne.com"]

    read = client.post(f"/api/v1/alerts/{first['id']}/read", headers=narbonne)
    assert read.status_code == 200 and read.json["read"] is True
    assert client.post(f"/api/v1/alerts/{first['id']}/read", headers=narbonne).json["read"] is True  # again
    assert [a["lot_id"] for a in alerts(client, narbonne, unread="true")] == ["lot-2"]
    colleague = auth("facilitator", CARCASSONNE, subject="facilitator-carcassonne")
    assert sorted(a["lot_id"] for a in alerts(client, colleague, unread="true")) == ["lot-1", "lot-2"]


def test_unreadable_events_are_dead_lettered_and_the_next_ones_still_alert(
        client, narbonne, start_worker, topic, infra):
    incomplete = lot_event()
    del incomplete.payload["lot_id"]
    on_track = lot_event("lot.status_changed", previous_status="not_started", status="on_track")
    behind = lot_event("lot.status_changed", previous_status="at_risk", status="behind", realised_hours=120.5)
    send(infra, topic, b"not json", incomplete, on_track, behind)
    start_worker("notifications")

    alert = wait_until(lambda: alerts(client, narbonne), timeout=60, what="the alert of the good event")
    assert [(a["kind"], a["severity"]) for a in alert] == [("behind", "critical")]
    dead = read_topic(infra.kafka_bootstrap, topic("notifications.deadletter"), expect=2)
    assert [r.value for r in dead] == [b"not json", encode(incomplete)]
    reasons = [dict(r.headers)["dead-letter-reason"].decode() for r in dead]
    assert reasons[0].startswith("not JSON")
    assert reasons[1].startswith("Unapplicable") and "lot_id" in reasons[1]


def test_the_api_refuses_bad_input_unknown_alerts_and_callers_out_of_scope(client, narbonne, auth):
    from notifications.handlers import apply_lot_event
    event = lot_event("lot.status_changed", previous_status="on_track", status="at_risk")
    apply_lot_event(event)
    alert_id = "at_risk:lot-1:83300:833"

    assert client.get("/api/v1/alerts").status_code == 401
    assert client.post("/api/v1/recipients", json={}).status_code == 401
    assert client.get("/api/v1/alerts", headers=auth("buyer", NARBONNE)).status_code == 403  # no buyer_id
    outside = client.post("/api/v1/recipients", json={"territory": CARCASSONNE, "name": "X", "email": "x@aude.fr"},
                          headers=narbonne)
    assert outside.status_code == 403 and outside.json["detail"].startswith("Vous n'intervenez")
    assert client.post(f"/api/v1/alerts/{alert_id}/read",
                       headers=auth("facilitator", DEPARTEMENT)).status_code == 403
    assert client.post(f"/api/v1/alerts/{alert_id}/read", headers=auth("operator", NARBONNE)).status_code == 403
    missing = client.post("/api/v1/alerts/nope/read", headers=narbonne)
    assert missing.status_code == 404 and missing.json["detail"] == "Alerte introuvable."

    invalid = client.post("/api/v1/recipients", json={"territory": NARBONNE, "email": "pas-une-adresse"},
                          headers=narbonne)
    assert invalid.status_code == 422 and invalid.mimetype == "application/problem+json"
    assert invalid.json["errors"] == {"name": ["Champ obligatoire."], "email": ["Adresse e-mail invalide."]}
    bad_query = client.get("/api/v1/alerts", query_string={"unread": "peut-être"}, headers=narbonne)
    assert bad_query.status_code == 422 and bad_query.json["errors"]["unread"] == ["Booléen attendu (true ou false)."]
    add_recipient(client, narbonne, NARBONNE, "Paul Roques", "paul.roques@legrandnarbonne.com")
    twice = client.post("/api/v1/recipients", headers=narbonne, json={
        "territory": NARBONNE, "name": "Paul", "email": "PAUL.ROQUES@legrandnarbonne.com"})
    assert twice.status_code == 409

    apply_lot_event(event)  # applied again: still one alert
    assert [a["id"] for a in alerts(client, narbonne)] == [alert_id]
