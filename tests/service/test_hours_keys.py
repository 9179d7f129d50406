"""Contractors' API keys in the hours service: rotation with a grace period, expiry honoured here and by
the other services' read model, and every use counted per day."""
from datetime import datetime, timedelta, timezone

import pymongo
from plumbing.events import decode

from support import read_topic, wait_until
from test_hours_service import CARCASSONNE, NARBONNE, OTHER_SIRET, SIRET, client, contractor_key, facilitator  # noqa: F401

KEYS = f"/api/v1/contractors/{SIRET}/api-keys"


def listed(client, headers) -> dict:
    return {key["key_id"]: key for key in client.get(KEYS, headers=headers).json}


def only_key_id(client, headers) -> str:
    (key_id,) = listed(client, headers)
    return key_id


def reads_itself(client, headers) -> int:
    return client.get(f"/api/v1/contractors/{SIRET}", headers=headers).status_code


def key_events(infra, topic, expect: int) -> list:
    def found():
        events = [decode(r.value) for r in read_topic(infra.kafka_bootstrap, topic("hours.events"), expect=expect,
                                                      timeout=2)]
        return len(events) >= expect and events
    return wait_until(found, what=f"{expect} key events")


# --- rotation ------------------------------------------------------------------------------------
def test_a_rotated_key_keeps_working_during_its_grace_period_then_is_refused(client, facilitator, contractor_key,
                                                                             start_worker, infra, topic):
    old_id = only_key_id(client, facilitator)
    response = client.post(f"{KEYS}/{old_id}/rotate", json={"grace_hours": 48}, headers=facilitator)

    assert response.status_code == 201, response.json
    new = response.json
    assert new["api_key"] and new["key_id"] != old_id and "Conservez cette clé" in new["notice"]
    assert (new["label"], new["replaces"], new["status"]) == ("paie", old_id, "active")
    assert new["replaced_key"]["status"] == "expiring" and "api_key" not in new["replaced_key"]
    expires_at = datetime.fromisoformat(new["replaced_key"]["expires_at"])
    assert timedelta(hours=47) < expires_at - datetime.now(timezone.utc) <= timedelta(hours=48)
    new_key = {"X-API-Key": new["api_key"]}
    assert reads_itself(client, contractor_key) == 200 and reads_itself(client, new_key) == 200

    keys = listed(client, facilitator)
    assert (keys[old_id]["status"], keys[old_id]["replaced_by"]) == ("expiring", new["key_id"])
    assert keys[old_id]["status_label"].startswith("Remplacée")
    assert (keys[new["key_id"]]["status"], keys[new["key_id"]]["expires_at"]) == ("active", None)
    again = client.post(f"{KEYS}/{old_id}/rotate", json={}, headers=facilitator)
    assert again.status_code == 409 and again.json["rule"] == "api_key_already_replaced"
    assert new["key_id"] in again.json["detail"]
    assert len(listed(client, facilitator)) == 2  # the refused rotation created nothing

    from hours.store import ApiKey
    old = ApiKey.objects.get(id=old_id)
    old.expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)  # the grace period is over
    old.commit()
    refused = client.get(f"/api/v1/contractors/{SIRET}", headers=contractor_key)
    assert refused.status_code == 401 and refused.json["detail"] == "Clé d'API inconnue ou révoquée."
    assert reads_itself(client, new_key) == 200
    assert listed(client, facilitator)[old_id]["status"] == "revoked"

    start_worker("hours")
    events = {(e.type, e.payload["key_id"]): e.payload for e in key_events(infra, topic, expect=3)}
    assert set(events) == {("api_key.created", old_id), ("api_key.created", new["key_id"]),
                           ("api_key.expiring", old_id)}
    assert events["api_key.created", new["key_id"]]["replaces"] == old_id
    expiring = events["api_key.expiring", old_id]
    assert expiring["replaced_by"] == new["key_id"]
    assert datetime.fromisoformat(expiring["expires_at"]) == expires_at
    assert new["api_key"] not in str(events)


def test_a_grace_of_zero_revokes_the_old_key_at_once_here_and_for_the_other_services(
        client, facilitator, contractor_key, start_worker, infra, topic):
    old_id = only_key_id(client, facilitator)
    # a contractor renews its own key, with the key itself
    response = client.post(f"{KEYS}/{old_id}/rotate", json={"grace_hours": 0}, headers=contractor_key)

    assert response.status_code == 201, response.json
    assert response.json["replaced_key"]["status"] == "revoked"
    new_key = {"X-API-Key": response.json["api_key"]}
    assert reads_itself(client, contractor_key) == 401 and reads_itself(client, new_key) == 200
    assert client.post(f"{KEYS}/{old_id}/rotate", json={}, headers=new_key).status_code == 409

    start_worker("hours")
    events = key_events(infra, topic, expect=3)
    assert sorted(e.type for e in events) == ["api_key.created", "api_key.created", "api_key.revoked"]
    # the read model the markets and notifications services keep, fed with these very events
    from plumbing.contractor_keys import apply_key_event, principal_for_contractor_key
    for event in events:
        apply_key_event(event)
    assert principal_for_contractor_key(contractor_key["X-API-Key"]) is None
    assert principal_for_contractor_key(new_key["X-API-Key"]).siret == SIRET


def test_revoked_keys_and_bad_grace_periods_are_refused_and_change_nothing(client, facilitator, contractor_key):
    key_id = only_key_id(client, facilitator)
    for grace, message in ((-1, "Entre 0"), (169, "168 heures"), ("demain", "Nombre entier attendu")):
        refused = client.post(f"{KEYS}/{key_id}/rotate", json={"grace_hours": grace}, headers=facilitator)
        assert refused.status_code == 422 and message in refused.json["errors"]["grace_hours"][0]
    assert list(listed(client, facilitator)) == [key_id] and reads_itself(client, contractor_key) == 200

    client.delete(f"{KEYS}/{key_id}", headers=facilitator)
    revoked = client.post(f"{KEYS}/{key_id}/rotate", json={}, headers=facilitator)
    assert revoked.status_code == 409 and revoked.json["rule"] == "api_key_revoked"
    assert "révoquée" in revoked.json["detail"]
    assert client.post(f"{KEYS}/unknown/rotate", json={}, headers=facilitator).status_code == 404
    assert list(listed(client, facilitator)) == [key_id]


def test_only_the_contractor_and_its_territories_facilitators_rotate_its_keys(client, facilitator, contractor_key,
                                                                               auth):
    key_id = only_key_id(client, facilitator)
    client.post("/api/v1/contractors", json={"siret": OTHER_SIRET, "name": "Autre BTP"}, headers=facilitator)
    other_key = {"X-API-Key": client.post(f"/api/v1/contractors/{OTHER_SIRET}/api-keys", json={},
                                          headers=facilitator).json["api_key"]}

    assert client.post(f"{KEYS}/{key_id}/rotate", json={}, headers=other_key).status_code == 403
    assert client.post(f"{KEYS}/{key_id}/rotate", json={}, headers=auth("facilitator", NARBONNE)).status_code == 403
    assert client.post(f"{KEYS}/{key_id}/rotate", json={}, headers=auth("buyer", CARCASSONNE)).status_code == 403
    other_keys = client.get(f"/api/v1/contractors/{OTHER_SIRET}/api-keys", headers=facilitator).json
    # another contractor's key named under this contractor is unknown here
    assert client.post(f"{KEYS}/{other_keys[0]['key_id']}/rotate", json={}, headers=contractor_key).status_code == 404
    assert client.get(f"{KEYS}/{key_id}/usage", headers=other_key).status_code == 403
    assert client.get(f"{KEYS}/{key_id}/usage", headers=auth("facilitator", NARBONNE)).status_code == 403
    assert listed(client, facilitator)[key_id]["status"] == "active"

    own = client.post(f"{KEYS}/{key_id}/rotate", headers=contractor_key)  # no body: a day of grace
    assert own.status_code == 201, own.json
    left = datetime.fromisoformat(own.json["replaced_key"]["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(hours=23) < left <= timedelta(hours=24)


# --- every use counted ---------------------------------------------------------------------------
def test_every_request_made_with_a_key_is_counted_per_day(client, facilitator, contractor_key, infra):
    key_id = only_key_id(client, facilitator)
    assert listed(client, facilitator)[key_id]["last_used_at"] is None
    for _ in range(5):
        assert reads_itself(client, contractor_key) == 200
    wrong = {"X-API-Key": f"ck_{key_id}_not-the-secret"}
    assert reads_itself(client, wrong) == 401  # a wrong secret is not a use

    from hours.handlers import record_key_use
    record_key_use(key_id, datetime.now(timezone.utc) - timedelta(days=1))
    usage = client.get(f"{KEYS}/{key_id}/usage", headers=facilitator)
    assert usage.status_code == 200, usage.json
    today = datetime.now(timezone.utc).date()
    assert usage.json["days"] == [{"day": today.isoformat(), "requests": 5},
                                  {"day": (today - timedelta(days=1)).isoformat(), "requests": 1}]
    assert usage.json["total_requests"] == 6
    last_used = datetime.fromisoformat(usage.json["last_used_at"])
    assert timedelta(0) <= datetime.now(timezone.utc) - last_used < timedelta(minutes=1)
    assert listed(client, facilitator)[key_id]["last_used_at"] == usage.json["last_used_at"]

    own = client.get(f"{KEYS}/{key_id}/usage?days=1", headers=contractor_key).json  # this request counts too
    assert own["days"] == [{"day": today.isoformat(), "requests": 6}] and own["total_requests"] == 6
    assert client.get(f"{KEYS}/{key_id}/usage?days=0", headers=facilitator).status_code == 422
    assert client.get(f"{KEYS}/nope/usage", headers=facilitator).status_code == 404

    stored = pymongo.MongoClient(infra.mongodb_url)[client.application.extensions["settings"].mongodb_db]
    assert contractor_key["X-API-Key"] not in str(list(stored.api_key_daily_uses.find()))
