"""A company's staff member signs in as a person (a JWT with role contractor and the company's SIRET) and
does in each service what the company's API key does, no more: its own lots, lines, uploads, calendar and
alerts, never another company's. The claims' names are settings, for the region's identity provider."""
import io
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from plumbing.events import Event

from support import TEST_JWT_SECRET
from test_hours_service import (CARCASSONNE, LINE, LOT_ID, OTHER_SIRET, SIRET, client,  # noqa: F401
                                contractor_key, facilitator, world)
from test_markets_service import create_lot


@pytest.fixture
def staff(auth):
    return auth("contractor", CARCASSONNE, subject="paie@btp-aude.example", siret=SIRET)


@pytest.fixture
def other_staff(auth):
    return auth("contractor", CARCASSONNE, subject="paie@autre.example", siret=OTHER_SIRET)


def test_a_staff_member_declares_uploads_and_reads_the_calendar_as_the_key_does(
        client, contractor_key, world, staff, other_staff, facilitator):
    line = client.post("/api/v1/declarations", json=LINE, headers=staff)
    assert line.status_code == 201, line.json
    assert line.json["contractor_siret"] == SIRET
    listed = client.get("/api/v1/declarations", headers=staff)
    assert [d["id"] for d in listed.json] == [line.json["id"]]
    assert client.get("/api/v1/declarations", headers=other_staff).json == []
    assert client.get(f"/api/v1/declarations/{line.json['id']}", headers=other_staff).status_code == 404

    rows = ("lot_id;participant_id;month;hours;mode;contract_type\n"
            f"{LOT_ID};p-1;2026-04;10;direct_hire;cdd\nlot-inconnu;p-1;2026-04;10;direct_hire;cdd\n").encode()
    report = client.post("/api/v1/declarations/upload", headers=staff, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(rows), "heures.csv")})
    assert report.status_code == 207, report.json
    assert (report.json["accepted"], report.json["refused"]) == (1, 1)
    errors = client.get(report.json["error_file"]["csv"], headers=staff)
    assert errors.status_code == 200 and "lot-inconnu" in errors.get_data(as_text=True)
    assert client.get(report.json["error_file"]["csv"], headers=other_staff).status_code == 404

    calendar = client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=staff)
    assert calendar.status_code == 200, calendar.json
    assert LOT_ID in {lot["lot_id"] for lot in calendar.json["lots"]}
    assert client.get(f"/api/v1/contractors/{SIRET}/reporting", headers=other_staff).status_code == 403
    assert client.get(f"/api/v1/contractors/{SIRET}/api-keys", headers=staff).status_code == 200
    # staff declare and correct; validating stays the facilitators' (403, as for the key)
    assert client.post(f"/api/v1/declarations/{line.json['id']}/validate", headers=staff).status_code == 403


def test_a_contractor_token_without_a_valid_siret_is_refused(client, contractor_key, world):
    now = datetime.now(timezone.utc)
    claims = {"sub": "x", "role": "contractor", "territories": [CARCASSONNE], "iat": now,
              "exp": now + timedelta(hours=1)}
    for siret in ({}, {"siret": "12345678901234"}, {"siret": int(SIRET)}):
        token = jwt.encode({**claims, **siret}, TEST_JWT_SECRET)
        refused = client.get("/api/v1/declarations", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401, siret
        assert refused.json["detail"] == "Jeton d'authentification invalide ou expiré."


def test_a_staff_member_reads_the_company_lots_in_the_markets_service(service_env, auth):
    service_env("markets")
    from markets.app import create_app
    from test_markets_service import BUYER
    markets = create_app().test_client()
    facilitator = auth("facilitator", CARCASSONNE)
    buyer = markets.post("/api/v1/buyers", json=BUYER, headers=facilitator).json
    held, other = create_lot(markets, facilitator, buyer), create_lot(markets, facilitator, buyer, reference="2026-X")
    for lot, siret in ((held, SIRET), (other, OTHER_SIRET)):
        assert markets.post(f"/api/v1/lots/{lot['id']}/award", headers=facilitator, json={
            "contractor_siret": siret, "contractor_name": "BTP"}).status_code == 200
    staff = auth("contractor", CARCASSONNE, siret=SIRET)
    assert [lot["id"] for lot in markets.get("/api/v1/lots", headers=staff).json] == [held["id"]]
    assert markets.get(f"/api/v1/lots/{held['id']}/progress", headers=staff).status_code == 200
    assert markets.get(f"/api/v1/lots/{other['id']}", headers=staff).status_code == 403


def test_a_staff_member_reads_the_company_alerts(service_env, auth):
    service_env("notifications")
    from notifications.app import create_app
    from notifications.handlers import apply_declaration
    notifications = create_app().test_client()
    for declaration_id, siret in (("d-1", SIRET), ("d-2", OTHER_SIRET)):
        apply_declaration(Event(type="declaration.rejected", producer="hours", key=LOT_ID, territories=[CARCASSONNE],
                                payload={"declaration_id": declaration_id, "lot_id": LOT_ID, "contractor_siret": siret,
                                         "month": "2026-03", "centihours": 3550, "reason": "Heures en double"}))
    feed = notifications.get("/api/v1/alerts", headers=auth("contractor", CARCASSONNE, siret=SIRET))
    assert feed.status_code == 200, feed.json
    assert [a["context"]["declaration_id"] for a in feed.json] == ["d-1"]
    assert "Heures en double" in feed.json[0]["message"]


def test_the_claims_names_are_settings(service_env):
    service_env("markets", AUTH_CLAIM_ROLE="https://idp.example/role", AUTH_CLAIM_TERRITORIES="https://idp.example/t",
                AUTH_CLAIM_SIRET="company", AUTH_CLAIM_BUYER="org")
    from markets.app import create_app
    markets = create_app().test_client()
    now = datetime.now(timezone.utc)
    base = {"sub": "anne", "iat": now, "exp": now + timedelta(hours=1)}

    def lots(claims):
        token = jwt.encode({**base, **claims}, TEST_JWT_SECRET)
        return markets.get("/api/v1/lots", headers={"Authorization": f"Bearer {token}"}).status_code
    assert lots({"https://idp.example/role": "contractor", "https://idp.example/t": [], "company": SIRET}) == 200
    assert lots({"https://idp.example/role": "buyer", "https://idp.example/t": [CARCASSONNE], "org": "b-1"}) == 200
    assert lots({"role": "facilitator", "territories": [CARCASSONNE]}) == 401  # the default names no longer
