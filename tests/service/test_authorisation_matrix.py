"""The authorisation matrix, generated from each service's OpenAPI document: every operation × every role
× a foreign territory × no, expired, forged or unsigned (``alg: none``) credentials.

An operation is read from ``x-allowed-roles`` (what ``@allow`` writes), so one added tomorrow is probed the
day it is written; one that takes a body and has no example below fails until it is given one. Resources are
created in one territory of the Aude region (Carcassonne Agglo) and probed from another (Le Grand Narbonne):
- without valid credentials, 401; a role the document does not allow, 403;
- an allowed role from the other territory (a contractor: another company, by its API key and by a staff
  member's token) neither reads nor changes them:
  403 or 404 on a resource, no id of theirs in a list, and the database is the same afterwards;
- never a 5xx.
One app per service, its test client, the real store."""
import importlib
import io
import json
import re
from datetime import datetime, timedelta, timezone

import jwt
import pymongo
import pytest
from plumbing.auth import new_api_key
from plumbing.contractor_keys import apply_key_event
from plumbing.events import Event

from support import TEST_JWT_SECRET
from support.decp import NO_SOCIAL, contract, siret
from test_hours_service import LINE, OTHER_SIRET, SIRET
from test_markets_service import BUYER, LOT, MARKET
from test_notifications_channels import BUYER_ID, lot_event
from test_observatory_service import line as line_event, lot as lot_awarded, market as market_created, person
from test_participants_service import PERSON, eligibility

HOME, FOREIGN = "aude-carcassonne-agglo", "aude-grand-narbonne"  # two territories of the tests' region file
ROLES = ("facilitator", "operator", "buyer", "contractor")
STAFF = "contractor staff"  # the role contractor, as a company's staff member's token rather than its key
METHODS = ("get", "post", "put", "patch", "delete")
FOREIGN_BUYER = {**BUYER, "siret": "21110262000013", "name": "Commune de Narbonne", "territory": FOREIGN}

# Operations on what the whole region shares (not a territory's resource): another territory may use them
# (the census is the region's open data, imported and sized by any of its operators).
REGION_WIDE = {("PUT", "/api/v1/trades/{code}"), ("POST", "/api/v1/quota/simulations"),
               ("POST", "/api/v1/census/imports"), ("PUT", "/api/v1/census/table")}
# Operations that need no sign-in, on purpose, per service: the public observatory (the region's suppressed
# aggregates only) and the public simulator (the trades' defaults and a sizing, nothing stored).
PUBLIC_OF = {"observatory": {("GET", "/api/v1/observatory/public"), ("GET", "/api/v1/observatory/public.html")},
             "markets": {("GET", "/api/v1/quota/public/trades"), ("POST", "/api/v1/quota/public/simulations")}}
PUBLIC = set().union(*PUBLIC_OF.values())
# Where the refusal of another territory's write is a business answer rather than 403/404 (nothing written;
# a company's registration is public: its SIRET is already known, whoever registered it).
# What the foreign caller may write of its own while refused: the report of its own refused upload.
OWN_RECORDS = {"upload_reports"}
FOREIGN_REFUSAL = {("POST", "/api/v1/contractors"): {409}, ("POST", "/api/v1/declarations"): {422}, ("POST", "/api/v1/declarations/batch"): {207, 422},
                   ("POST", "/api/v1/declarations/upload"): {207, 422}, ("POST", "/api/v1/declarations/validate"): {200},
                   ("POST", "/api/v1/declarations/reject"): {200},
                   ("POST", "/api/v1/declarations/no-hours"): {422}}


# --- one world per service: its resources in HOME, and who calls ------------------------------------------------
class World:
    """``params``: a path parameter's value, or a function of the path template giving it; ``queries``: what an
    operation's query must carry to be answered at all (a required parameter)."""
    def __init__(self, client, auth, params: dict, ids: set, bodies: dict, buyer_ids=("b-home", "b-foreign"),
                 keys=(None, None), queries=None):
        self.client, self.params, self.ids, self.bodies = client, params, {i for i in ids if i}, bodies
        self.queries = queries or {}
        key_home, key_foreign = keys
        unknown_key = {"X-API-Key": new_api_key()[1]}
        self.home = {"facilitator": auth("facilitator", HOME), "operator": auth("operator", HOME),
                     "buyer": auth("buyer", HOME, buyer_id=buyer_ids[0]),
                     "contractor": {"X-API-Key": key_home} if key_home else unknown_key}
        self.foreign = {"facilitator": auth("facilitator", FOREIGN), "operator": auth("operator", FOREIGN),
                        "buyer": auth("buyer", FOREIGN, buyer_id=buyer_ids[1]),
                        "contractor": {"X-API-Key": key_foreign} if key_foreign else unknown_key}
        # the same companies' staff members, signed in with a token: held exactly where the keys are
        self.home[STAFF] = auth("contractor", HOME, subject="paie@home.example", siret=SIRET)
        self.foreign[STAFF] = auth("contractor", FOREIGN, subject="paie@foreign.example", siret=OTHER_SIRET)


def contractor_keys_learnt(*sirets) -> list[str]:
    """Keys the hours service gave these companies, as the other services learn them (its own event handler)."""
    keys = []
    for siret in sirets:
        key_id, key, key_hash = new_api_key()
        apply_key_event(Event(type="api_key.created", producer="hours", key=siret, territories=[HOME],
                              payload={"key_id": key_id, "contractor_siret": siret, "key_hash": key_hash}))
        keys.append(key)
    return keys


def created(response, status=201) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def markets_world(client, auth) -> World:
    facilitator = auth("facilitator", HOME)
    buyer = created(client.post("/api/v1/buyers", json=BUYER, headers=facilitator))
    foreign_buyer = created(client.post("/api/v1/buyers", json=FOREIGN_BUYER, headers=auth("facilitator", FOREIGN)))
    market = created(client.post("/api/v1/markets", json={**MARKET, "buyer_id": buyer["id"]}, headers=facilitator))
    lot = created(client.post(f"/api/v1/markets/{market['id']}/lots", json=LOT, headers=facilitator))
    created(client.post(f"/api/v1/lots/{lot['id']}/award", json={"contractor_siret": SIRET,
                                                                 "contractor_name": "BTP Aude"},
                        headers=facilitator), 200)
    created(client.put("/api/v1/trades/masonry", headers=auth("operator", HOME), json={
        "label": "Maçonnerie", "labour_share": "0.50", "hourly_cost": "30", "insertion_rate": "0.05"}), 200)
    partner = {"siret": OTHER_SIRET, "name": "Électricité Narbonnaise"}
    census = census_of_home(client, auth)
    bodies = {
        ("POST", "/api/v1/buyers"): {**BUYER, "siret": "21110262000013"},
        ("POST", "/api/v1/markets"): {**MARKET, "reference": "2026-CA-099", "buyer_id": buyer["id"]},
        ("PATCH", "/api/v1/markets/{market_id}"): {"title": "Réécrit par un autre territoire"},
        ("POST", "/api/v1/markets/{market_id}/status"): {"status": "awarded"},
        ("POST", "/api/v1/markets/{market_id}/lots"): {**LOT, "number": 2},
        ("POST", "/api/v1/lots/{lot_id}/award"): {"contractor_siret": OTHER_SIRET, "contractor_name": "Autre"},
        ("PUT", "/api/v1/lots/{lot_id}/partners"): {"co_contractors": [partner], "subcontractors": []},
        ("POST", "/api/v1/lots/{lot_id}/quota-override"): {"hours": 1, "reason": "Réduit par un autre"},
        ("POST", "/api/v1/lots/{lot_id}/amendments"): {"signed_on": "2026-06-01", "reason": "Avenant n° 1",
                                                       "amount_excl_vat": 2000000},
        ("PUT", "/api/v1/trades/{code}"): {"label": "Maçonnerie", "labour_share": "0.90", "hourly_cost": "30",
                                           "insertion_rate": "0.05"},
        ("PUT", "/api/v1/territories/{territory}/settings"): {"ramp_days": 30},
        ("POST", "/api/v1/quota/simulations"): {"amount_excl_vat": 100000, "trade": "masonry"},
        ("POST", "/api/v1/quota/public/simulations"): {"amount_excl_vat": 100000, "trade": "masonry"},
        **census["bodies"],
    }
    return World(client, auth, {"buyer_id": buyer["id"], "market_id": market["id"], "lot_id": lot["id"],
                                "code": "masonry", "territory": HOME, **census["params"]},
                 {buyer["id"], market["id"], lot["id"], *census["ids"]}, bodies, (buyer["id"], foreign_buyer["id"]),
                 contractor_keys_learnt(SIRET, OTHER_SIRET))


CENSUS_HOME, CENSUS_SHARED = siret(1201), siret(1202)  # in HOME's directory; in no directory (the département's)


def census_of_home(client, auth) -> dict:
    """A census imported (the region's), its buyer CENSUS_HOME in HOME's directory with a contract carrying a
    clause and a promotion action; CENSUS_SHARED, in no directory, is seen by every territory of the Aude."""
    facilitator, operator = auth("facilitator", HOME), auth("operator", HOME)
    records = [contract("2024HOME1", CENSUS_HOME, amount=500000, notified="2024-03-01", social=["Clause sociale"],
                        contractors=[SIRET], buyer_name="Commune de Trèbes"),
               contract("2024SHRD1", CENSUS_SHARED, amount=200000, cpv="90", notified="2024-02-01",
                        social=[NO_SOCIAL], buyer_name="SIVOM du Minervois")]
    census_file = json.dumps({"marches": {"marche": records}}).encode()
    created(client.post("/api/v1/census/imports", headers=operator,
                        data={"file": (io.BytesIO(census_file), "decp.json")}), 200)
    directory = created(client.post(f"/api/v1/census/buyers/{CENSUS_HOME}/directory", headers=facilitator,
                                    json={"territory": HOME, "buyer_type": "commune"}))
    action = created(client.post("/api/v1/promotion/actions", headers=facilitator, json={
        "buyer_siret": CENSUS_HOME, "territory": HOME, "kind": "individual_meeting", "date": "2024-01-15",
        "agreed": "Une clause dans le prochain marché", "next_step": "Envoyer le modèle", "next_step_on": "2024-02-01"}))
    table = created(client.get("/api/v1/census/table", headers=operator), 200)
    return {"params": {"siret": CENSUS_SHARED, "contract_id": f"{CENSUS_HOME}:2024HOME1", "action_id": action["id"]},
            "ids": {CENSUS_HOME, directory["id"], action["id"], "Commune de Trèbes", "2024HOME1"},
            "bodies": {
                ("POST", "/api/v1/census/imports"): {"data": {"file": (io.BytesIO(census_file), "decp.json")}},
                ("PUT", "/api/v1/census/table"): {k: v for k, v in table.items()
                                                  if k not in ("defaults", "updated_by", "updated_at")},
                # a buyer every territory of the Aude sees: only the territory named in the body may take it
                ("POST", "/api/v1/census/buyers/{siret}/directory"): {"territory": HOME, "buyer_type": "commune"},
                ("POST", "/api/v1/promotion/actions"): {"buyer_siret": CENSUS_SHARED, "territory": HOME,
                                                        "kind": "newsletter", "date": "2024-03-01"},
                ("PATCH", "/api/v1/promotion/actions/{action_id}"): {"agreed": "Réécrit par un autre territoire"}}}


def participants_world(client, auth) -> World:
    facilitator = auth("facilitator", HOME)
    person = created(client.post("/api/v1/participants", json={**PERSON, "territory": HOME}, headers=facilitator))
    url = f"/api/v1/participants/{person['id']}"
    created(client.post(f"{url}/eligibility", json=eligibility(), headers=facilitator))
    entry = created(client.post(f"{url}/path-entries", headers=facilitator, json={
        "lot_id": "lot-1", "employer_siret": SIRET, "start": "2026-03-02", "contract_type": "cdd"}))
    csv = "Prénom;Nom\nYasmina;Benali\n".encode()
    bodies = {
        ("POST", "/api/v1/participants"): {**PERSON, "territory": HOME, "last_name": "Autre"},
        ("PATCH", "/api/v1/participants/{participant_id}"): {**{k: PERSON[k] for k in (
            "first_name", "birth_date", "sex", "commune")}, "last_name": "Réécrit"},
        ("POST", "/api/v1/participants/{participant_id}/eligibility"): eligibility(),
        ("POST", "/api/v1/participants/{participant_id}/eligibility/revoke"): {"reason": "Révoqué par un autre"},
        ("POST", "/api/v1/participants/{participant_id}/path-entries"): {
            "lot_id": "lot-2", "employer_siret": SIRET, "start": "2026-04-01", "contract_type": "cdi"},
        ("PATCH", "/api/v1/participants/{participant_id}/path-entries/{entry_id}"): {"end": "2026-05-31"},
        ("POST", "/api/v1/participants/{participant_id}/exit"): {"outcome": "permanent_contract", "exit_date": "2026-06-30"},
        ("POST", "/api/v1/participants/import"): {"data": {"file": (io.BytesIO(csv), "participants.csv")},
                                                  "query_string": {"territory": HOME}},
        ("PUT", "/api/v1/participants/territory-settings/{territory}"): {"counting_window_months": 12,
                                                                         "retention_months": 12},
    }
    return World(client, auth, {"participant_id": person["id"], "entry_id": entry["id"], "territory": HOME},
                 {person["id"], PERSON["last_name"], PERSON["email"]}, bodies)


def hours_world(client, auth) -> World:
    from hours.handlers import EVENT_HANDLERS
    for type_, payload, territories in (
            ("lot.awarded", {"lot_id": LINE["lot_id"], "market_id": "m1", "contractor_siret": SIRET,
                             "start_date": "2026-01-01", "end_date": "2027-12-31"}, [HOME]),
            ("market.status_changed", {"market_id": "m1", "status": "in_execution"}, [HOME]),
            ("eligibility.granted", {"participant_id": LINE["participant_id"], "territory": HOME,
                                     "categories": ["rqth"], "eligible_from": "2026-01-01",
                                     "eligible_until": "2027-12-31"}, [HOME])):
        EVENT_HANDLERS[type_](Event(type=type_, producer="markets", key="k", territories=territories,
                                    payload=payload))
    facilitator, narbonne = auth("facilitator", HOME), auth("facilitator", FOREIGN)
    keys = []
    for siret, headers in ((SIRET, facilitator), (OTHER_SIRET, narbonne)):
        created(client.post("/api/v1/contractors", json={"siret": siret, "name": f"BTP {siret}"}, headers=headers))
        keys.append(created(client.post(f"/api/v1/contractors/{siret}/api-keys", json={"label": "paie"},
                                        headers=headers)))
    contractor = {"X-API-Key": keys[0]["api_key"]}
    line = created(client.post("/api/v1/declarations", json=LINE, headers=contractor))
    refused_row = "lot_id;participant_id;month;hours;mode;contract_type\nlot-x;p-1;2026-03;10;direct_hire;cdd\n"
    report = client.post("/api/v1/declarations/upload", headers=contractor,
                         data={"file": (io.BytesIO(refused_row.encode()), "heures.csv")})
    upload_id = report.get_json().get("upload_id") or (report.get_json().get("error_file") or {}).get("upload_id")
    assert upload_id, report.get_json()
    upload = ("lot_id;participant_id;month;hours;mode;contract_type\n"
              f"{LINE['lot_id']};{LINE['participant_id']};2026-04;10;direct_hire;cdd\n").encode()
    bodies = {
        ("POST", "/api/v1/contractors"): {"siret": SIRET, "name": "Autre"},  # the home company
        ("POST", "/api/v1/contractors/{siret}/api-keys"): {"label": "autre"},
        ("POST", "/api/v1/contractors/{siret}/api-keys/{key_id}/rotate"): {"grace_hours": 0},
        ("POST", "/api/v1/declarations"): {**LINE, "month": "2026-04"},
        ("POST", "/api/v1/declarations/batch"): {"lines": [{**LINE, "month": "2026-04"}]},
        ("POST", "/api/v1/declarations/upload"): {"data": {"file": (io.BytesIO(upload), "heures.csv")}},
        ("POST", "/api/v1/declarations/{declaration_id}/reject"): {"reason": "Refusé par un autre"},
        ("POST", "/api/v1/declarations/{declaration_id}/exit-review"): {"decision": "confirm"},
        ("POST", "/api/v1/declarations/{declaration_id}/correct"): {"hours": 1},
        ("POST", "/api/v1/declarations/validate"): {"ids": [line["id"]]},
        ("POST", "/api/v1/declarations/reject"): {"ids": [line["id"]], "reason": "Refusé par un autre"},
        ("POST", "/api/v1/declarations/no-hours"): {"lot_id": LINE["lot_id"], "month": "2026-05",
                                                    "reason": "Chantier arrêté"},
        ("PUT", "/api/v1/declarations/territory-settings/{territory}"): {"auto_validation": True,
                                                                          "monthly_ceiling_hours": 100},
    }
    return World(client, auth, {"siret": SIRET, "key_id": keys[0]["key_id"], "declaration_id": line["id"],
                                "upload_id": upload_id, "territory": HOME},
                 {line["id"], keys[0]["key_id"], upload_id}, bodies,
                 keys=(keys[0]["api_key"], keys[1]["api_key"]))


def notifications_world(client, auth) -> World:
    from notifications.handlers import apply_lot_event, fan_out_pending
    operator = auth("operator", HOME)
    person = created(client.post("/api/v1/recipients", headers=operator, json={
        "territory": HOME, "name": "Claire Martin", "email": "claire.martin@carcassonne-agglo.example"}))
    created(client.put(f"/api/v1/recipients/{person['id']}/subscriptions", headers=operator, json={
        "subscriptions": [{"kind": "quota_reached", "channel": "email", "mode": "immediate"}]}), 200)
    apply_lot_event(lot_event("lot.quota_reached", territories=(HOME,), realised_hours=100.0))
    fan_out_pending()
    alert = client.get("/api/v1/alerts", headers=operator).get_json()[0]
    delivery = client.get("/api/v1/deliveries", headers=operator).get_json()[0]
    bodies = {
        ("POST", "/api/v1/recipients"): {"territory": HOME, "name": "Autre", "email": "autre@carcassonne.example"},
        ("PATCH", "/api/v1/recipients/{recipient_id}"): {"active": False},
        ("PUT", "/api/v1/recipients/{recipient_id}/subscriptions"): {"subscriptions": []},
        ("PUT", "/api/v1/recipients/{recipient_id}/webhook"): {"url": "https://93.184.215.14/hooks"},
        ("PUT", "/api/v1/recipients/mine"): {"territory": HOME, "name": "Moi", "email": "moi@carcassonne.example"},
        ("PUT", "/api/v1/recipients/mine/subscriptions"): {"subscriptions": []},
        ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"note": "Réglé par un autre territoire"},
    }
    return World(client, auth, {"recipient_id": person["id"], "alert_id": alert["id"],
                                "delivery_id": delivery["id"]},
                 {person["id"], alert["id"], delivery["id"], person["email"]}, bodies,
                 (BUYER_ID, "buyer-elsewhere"),  # the buyer of the alert's lot, and another
                 contractor_keys_learnt(SIRET, OTHER_SIRET))


def observatory_world(client, auth) -> World:
    from observatory.handlers import apply_events
    events = [market_created("m-home", HOME, "b-home", "Commune de Carcassonne", "Groupe scolaire Jean Jaurès"),
              lot_awarded("l-home", "m-home", HOME, 1000)]
    for number in range(6):  # enough people for the statistical secret to publish their count
        events += [person(f"p-home-{number}", HOME, "female"),
                   line_event(f"line-home-{number}", "l-home", f"p-home-{number}", "2026-01", 10)]
    apply_events([event for _, event in events])
    return World(client, auth, {"market_id": "m-home", "fmt": lambda path: "html" if "report" in path
                                or "panorama" in path else "csv"},
                 {"m-home", "l-home", "b-home", "Commune de Carcassonne", "Groupe scolaire Jean Jaurès",
                  *(f"p-home-{n}" for n in range(6))}, {},
                 queries={("GET", "/api/v1/observatory/panorama.{fmt}"): {"year": 2026}})


WORLDS = {"markets": markets_world, "participants": participants_world, "hours": hours_world,
          "notifications": notifications_world, "observatory": observatory_world}


@pytest.fixture(params=WORLDS)
def service(request, service_env, auth, infra):
    name = request.param
    database = service_env(name)
    app = importlib.import_module(f"{name}.app").create_app()
    world = WORLDS[name](app.test_client(), auth)
    world.name, world.database = name, pymongo.MongoClient(infra.mongodb_url)[database]
    world.operations = [(method.upper(), path, operation) for path, item in
                        app.test_client().get(f"/docs/{name}/openapi.json").get_json()["paths"].items()
                        for method, operation in item.items() if method in METHODS]
    world.public = [(method, path, op) for method, path, op in world.operations if (method, path) in PUBLIC]
    world.operations = [(method, path, op) for method, path, op in world.operations if (method, path) not in PUBLIC]
    return world


# --- calling an operation ----------------------------------------------------------------------------------
def call(world: World, method: str, template: str, operation: dict, headers: dict, query: dict | None = None):
    def value(name):
        given = world.params[name]
        return str(given(template) if callable(given) else given)
    path = re.sub(r"\{(\w+)\}", lambda m: value(m.group(1)), template)
    example = world.bodies.get((method, template))
    kwargs = {}
    query = {**world.queries.get((method, template), {}), **(query or {})}
    if "requestBody" in operation:
        example = example() if callable(example) else example
        if isinstance(example, dict) and "data" in example:  # multipart: a fresh file each time
            kwargs = {"data": {name: (io.BytesIO(f[0].getvalue()), f[1]) for name, f in example["data"].items()},
                      "query_string": example.get("query_string")}
        else:
            kwargs = {"json": example if example is not None else {}}
    if query:
        kwargs["query_string"] = {**(kwargs.get("query_string") or {}), **query}
    return world.client.open(path, method=method, headers=headers, **kwargs)


def is_problem(response, status: int | set) -> bool:
    statuses = {status} if isinstance(status, int) else status
    return response.status_code in statuses and response.mimetype == "application/problem+json"


def token(claims: dict, key=TEST_JWT_SECRET, algorithm="HS256") -> dict:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


def bad_credentials() -> dict[str, dict]:
    now = datetime.now(timezone.utc)
    claims = {"sub": "someone", "role": "operator", "territories": [HOME], "iat": now, "exp": now + timedelta(hours=1)}
    return {"none": {}, "expired": token({**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}),
            "forged": token(claims, key="another-secret-long-enough-for-hs256-0123"),
            "alg none": token(claims, key=None, algorithm="none"),
            "not a token": {"Authorization": "Bearer pas-un-jeton"},
            "unknown API key": {"X-API-Key": new_api_key()[1]}}


def snapshot(database) -> dict:
    """Every document of the service's database, but a key's own use (a contractor calling counts)."""
    return {name: {str({k: v for k, v in doc.items() if k != "last_used_at"}) for doc in database[name].find()}
            for name in database.list_collection_names() if name != "api_key_daily_uses"}


# --- the matrix --------------------------------------------------------------------------------------------
def test_every_operation_documents_its_roles_and_has_an_example_body(service):
    missing = [(m, p) for m, p, op in service.operations if not set(op.get("x-allowed-roles") or ()) <= set(ROLES)
               or not op.get("x-allowed-roles")]
    assert missing == [], "operations without x-allowed-roles"
    without = [(m, p) for m, p, op in service.operations if "requestBody" in op and (m, p) not in service.bodies]
    assert without == [], "give these operations an example body in this file"


def test_only_the_public_operations_answer_without_credentials_and_they_give_no_record(service):
    for method, path, operation in service.public:
        response = call(service, method, path, operation, {})
        assert response.status_code == 200, (path, response.get_data()[:300])
        assert not [i for i in service.ids if i.encode() in response.get_data()], path
    assert PUBLIC_OF.get(service.name, set()) == {(method, path) for method, path, _ in service.public}


def test_no_operation_answers_without_valid_credentials(service):
    wrong = []
    for method, path, operation in service.operations:
        for what, headers in bad_credentials().items():
            response = call(service, method, path, operation, headers)
            if not is_problem(response, 401):
                wrong.append((method, path, what, response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


def test_no_operation_answers_a_role_it_does_not_allow(service):
    wrong = []
    keys = service.client.application.extensions.get("api_key_resolver") is not None
    for method, path, operation in service.operations:
        refused = set(ROLES) - set(operation["x-allowed-roles"])
        for role in refused | ({STAFF} if "contractor" in refused else set()):
            response = call(service, method, path, operation, service.home[role])
            # a service that takes no API key knows no contractor's key: 401
            if not is_problem(response, 403 if keys or role != "contractor" else 401):
                wrong.append((method, path, role, response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


def test_no_operation_lets_another_territory_read_or_change_a_resource(service):
    before, wrong = snapshot(service.database), []
    for method, path, operation in service.operations:
        if (method, path) in REGION_WIDE:
            continue
        territory = [p for p in operation.get("parameters", []) if p["name"] == "territory" and p["in"] == "query"]
        query = {"territory": HOME} if territory else None
        # a read that may be narrowed to a territory is also asked without it: the caller's own, theirs only
        optional = territory and not territory[0].get("required") and method == "GET"
        allowed = [*operation["x-allowed-roles"], *([STAFF] if "contractor" in operation["x-allowed-roles"] else [])]
        for role, asked in [(role, asked) for role in allowed for asked in ([query, None] if optional else [query])]:
            response = call(service, method, path, operation, service.foreign[role], asked)
            # an id counts as leaked unless the caller sent it (a problem's "instance" repeats the path asked)
            sent = response.request.path + str(service.bodies.get((method, path)))
            leaked = sorted(i for i in service.ids if i.encode() in response.get_data() and i not in sent)
            if ("{" in path or method != "GET") and asked == query:
                expected = FOREIGN_REFUSAL.get((method, path), {403, 404})
                ok = response.status_code in expected and (response.status_code < 400 or is_problem(
                    response, response.status_code))
            else:  # a list or a file of the caller's own: theirs only, or refused
                ok = response.status_code in (200, 403, 404)
            if not ok or leaked:
                wrong.append((method, path, role, asked, response.status_code, leaked, response.get_data()[:300]))
    assert wrong == [], "\n".join(map(str, wrong))
    after = snapshot(service.database)
    assert {name: docs - after.get(name, set()) for name, docs in before.items()
            if docs - after.get(name, set())} == {}  # nothing of theirs changed or removed
    assert {name for name, docs in after.items() if docs - before.get(name, set())} <= OWN_RECORDS
