"""Participants across the whole stack: a counting window that has ended, and an erasure.

Driven over HTTP like any client; the stores, topics and logs are then searched for the person's
names, which must appear nowhere once the erasure is done.
"""
import json
import os
import subprocess
import sys

import pymongo
import pytest

from demo import CARCASSONNE, Slice
from support import events_of, read_topic, wait_until

pytestmark = pytest.mark.e2e

WINDOW_ENDED_PERSON = ("Philomène", "Quérardel")
ERASED_PERSON = ("Anatole", "Vandermeersch")
IMPORTED_PERSON = ("Gwenaëlle", "Kerhervé")


def probe(platform, api_key: dict, line: dict) -> dict:
    """One declaration attempt, refused or not (unlike Slice.declare, which waits for acceptance)."""
    return platform.call("POST", "hours", "/api/v1/declarations", api_key, line, expect=(201, 422))


def settled_probe(platform, api_key: dict, line: dict) -> dict:
    """The answer once the hours service knows the lot, its market's status and the participant (each
    web worker may keep what it read for HOURS_READ_CACHE_SECONDS)."""
    not_yet = ("lot_not_held", "lot_not_in_execution", "participant_unknown")
    return wait_until(lambda: (r := probe(platform, api_key, line)).get("rule") not in not_yet and r, timeout=60,
                      what="the hours service to learn the lot, its market and the participant")


def flask_command(platform, *args: str) -> str:
    """A scheduled command of the participants service, run as the platform's scheduler would."""
    env = {**os.environ, **platform.config.service_env("participants")}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "participants.wsgi", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_hours_declared_after_the_counting_window_has_ended_are_refused(stack):
    platform, _ = stack
    s = Slice(platform)
    lot = s.create_lot()  # runs from 2026-01-01
    api_key = s.award(lot)
    first, last = WINDOW_ENDED_PERSON
    participant_id = s.eligible_participant(first_name=first, last_name=last, eligible_from="2024-01-01")
    granted = platform.call("GET", "participants", f"/api/v1/participants/{participant_id}", s.facilitator)
    assert granted["eligibility"]["eligible_until"] == "2025-12-31"  # 24 months

    line = {"lot_id": lot["id"], "participant_id": participant_id, "month": "2026-02", "hours": 35,
            "mode": "direct_hire", "contract_type": "cdd"}
    refused = settled_probe(platform, api_key, line)
    assert refused["status"] == 422
    assert refused["rule"] == "participant_not_eligible"
    assert refused["detail"].endswith("ses heures comptent du 01/01/2024 au 31/12/2025.")

    # The daily check closes the window and says so, once.
    assert "1 closes" in flask_command(platform, "check-windows")
    assert "0 closes" in flask_command(platform, "check-windows")
    record = platform.call("GET", "participants", f"/api/v1/participants/{participant_id}", s.facilitator)
    assert record["status"] == "ended"
    config = platform.config
    notices = wait_until(lambda: [e for e in events_of(read_topic(
        config.kafka_bootstrap, config.topic("participants.events"), expect=10_000, timeout=3))
        if e["key"] == participant_id and e["type"].startswith("eligibility.window")], what="the notice")
    assert [e["type"] for e in notices] == ["eligibility.window_ended"]
    assert probe(platform, api_key, line)["rule"] == "participant_not_eligible"


def test_an_erasure_removes_the_identity_everywhere_and_the_statistics_stay(stack):
    platform, _ = stack
    s = Slice(platform)
    lot = s.create_lot()
    api_key = s.award(lot)
    first, last = ERASED_PERSON
    participant_id = s.eligible_participant(first_name=first, last_name=last, eligible_from="2026-02-01")
    for month in ("2026-02", "2026-03"):
        s.declare(api_key, lot["id"], participant_id, month, 120)  # validated at once in the demo region
    url = f"/api/v1/participants/{participant_id}"
    platform.call("POST", "participants", f"{url}/path-entries", s.facilitator, {
        "lot_id": lot["id"], "employer_siret": "73282932000074", "start": "2026-02-02", "end": "2026-03-31",
        "contract_type": "cdd"})
    platform.call("POST", "participants", f"{url}/exit", s.facilitator,
                  {"outcome": "permanent_contract", "exit_date": "2026-04-01"})
    wait_until(lambda: s.lot(lot["id"])["progress"]["realised_hours"] == 240, timeout=60, what="240 hours")
    before_month = {**{"lot_id": lot["id"], "participant_id": participant_id, "hours": 10,
                       "mode": "direct_hire"}, "month": "2026-01"}  # before entry: refused, never counted
    assert settled_probe(platform, api_key, before_month)["rule"] == "participant_not_eligible"
    statistics_path = f"/api/v1/participants/statistics?territory={CARCASSONNE}"
    statistics = platform.call("GET", "participants", statistics_path, s.facilitator)
    assert statistics["by_outcome"].get("permanent_contract", 0) >= 1
    progress = platform.call("GET", "markets", f"/api/v1/lots/{lot['id']}/progress", s.facilitator)

    erased = platform.call("DELETE", "participants", url, s.facilitator)

    assert erased["status"] == "erased" and erased["outcome"] == "permanent_contract"
    assert "first_name" not in erased
    gone = platform.http.get(platform.config.url("participants") + url, headers=s.facilitator, timeout=10)
    assert gone.status_code == 410
    assert gone.json()["detail"].startswith("Les données personnelles de ce participant ont été effacées")
    # the hours service forgets the person: new lines are refused, those made stay counted
    wait_until(lambda: probe(platform, api_key, before_month).get("rule") == "participant_unknown", timeout=60,
               what="the hours service to apply the erasure")
    assert platform.call("GET", "participants", statistics_path, s.facilitator) == statistics
    assert platform.call("GET", "markets", f"/api/v1/lots/{lot['id']}/progress", s.facilitator) == progress
    assert s.lot(lot["id"])["progress"]["realised_hours"] == 240
    log = platform.call("GET", "participants", f"{url}/access-log", s.facilitator)
    assert log[-1]["action"] == "erase" and log[-1]["subject"] == "claire.martin"

    config = platform.config
    with pymongo.MongoClient(config.mongodb_url) as mongo:
        for database in mongo.list_database_names():
            if database in ("admin", "local", "config"):
                continue
            for collection in mongo[database].list_collection_names():
                for document in mongo[database][collection].find():
                    text = json.dumps(document, default=str, ensure_ascii=False)
                    assert first not in text and last not in text, f"{database}.{collection}"
    for service in ("participants", "hours", "markets"):
        for record in read_topic(config.kafka_bootstrap, config.topic(f"{service}.events"), expect=10_000,
                                 timeout=3):
            assert first.encode() not in record.value and last.encode() not in record.value


def test_an_import_over_http_and_no_personal_data_in_any_log(stack):
    platform, processes = stack
    s = Slice(platform)
    first, last = IMPORTED_PERSON
    template = platform.http.get(platform.config.url("participants") + "/api/v1/participants/import-template.csv",
                                 headers=s.facilitator, timeout=10)
    header = template.content.decode("utf-8-sig").strip()
    row = f"{first};{last};03/05/1985;F;Carcassonne;oui;gwen@example.org;06 98 76 54 32" + ";" * 9
    response = platform.http.post(platform.config.url("participants") + "/api/v1/participants/import",
                                  headers=s.facilitator, params={"mode": "all_or_nothing"}, timeout=30,
                                  files={"file": ("suivi.csv", f"{header}\n{row}\n".encode(), "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1

    secrets = (*WINDOW_ENDED_PERSON, *ERASED_PERSON, *IMPORTED_PERSON, "gwen@example.org", "06 98 76 54 32")
    for name in processes.specs:
        if name.endswith(("-web", "-worker")):
            log = processes.log(name)
            for secret in secrets:
                assert secret not in log, f"{secret} appears in the {name} log"
