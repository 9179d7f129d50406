"""Issue 15's done-when, across the real services: on the demo region, a facilitator downloads the panorama
PDF and a buyer's market report, both agreeing with what the markets and participants services show; a
read model rebuilt from the topics gives the same figures as the live one; no published figure reveals
fewer people than the threshold."""
import io
import os
import re
import signal
import subprocess
import sys

import pytest
from pypdf import PdfReader

from demo import CARCASSONNE, NARBONNE, Slice
from support import wait_until

pytestmark = pytest.mark.e2e

THRESHOLD = 5  # the observatory's default
QUERIES = ({}, {"dimensions": "sex"}, {"dimensions": "buyer,month"}, {"dimensions": "public_category,qpv"},
           {"dimensions": "territory,mode", "from": "2026-02", "to": "2026-03"})


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


def french(value: float, decimals: int = 0) -> str:
    """As the documents print a number (thousands with a space of any width, decimal comma)."""
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",")


def normalised(text: str) -> str:
    return re.sub(r"[\s\u202f\u00a0]+", " ", text)


def statistics(platform, headers, **query):
    query_string = "&".join(f"{k}={v}" for k, v in query.items())
    return platform.call("GET", "observatory", f"/api/v1/observatory/statistics?{query_string}", headers)


def people_counts(document) -> list:
    """Every count of people a statistics answer (or the public figures) publishes: participants, outcomes."""
    if isinstance(document, list):
        return [c for item in document for c in people_counts(item)]
    if not isinstance(document, dict):
        return []
    own = [document["participants"], *document["outcomes"].values()] if "participants" in document else []
    return own + [c for key, value in document.items() if key != "outcomes" for c in people_counts(value)]


def test_reports_match_the_other_services_a_rebuild_gives_the_same_figures_and_nothing_small_is_published(stack):
    platform, processes = stack
    big, small = Slice(platform, "OBS-GRAND"), Slice(platform, "OBS-PETIT")
    facilitator = platform.token("facilitator", CARCASSONNE, NARBONNE, subject="observatoire")
    lots, people = {}, {}
    # a market with 6 participants (published) and one with 2 (under the secret), same buyer
    for s, count, hours in ((big, 6, 35), (small, 2, 20)):
        lot = s.create_lot(amount_excl_vat=600_000)
        api_key = s.award(lot)
        lots[s.reference] = lot
        for i in range(count):
            pid = s.eligible_participant(first_name=f"Personne{i}", last_name=s.reference)
            people[pid] = s.reference
            for month in ("2026-01", "2026-02", "2026-03"):
                s.declare(api_key, lot["id"], pid, month, hours + i)
    expected = {ref: sum(35 + i if ref == "OBS-GRAND" else 20 + i for i in range(n)) * 3
                for ref, n in (("OBS-GRAND", 6), ("OBS-PETIT", 2))}
    for ref, lot in lots.items():  # the markets service counts them (lines validated at once in the demo)
        wait_until(lambda: big.lot(lot["id"])["progress"]["realised_hours"] == expected[ref], 120,
                   f"the markets service to count {ref}'s hours")
    shown = {ref: big.lot(lot["id"]) for ref, lot in lots.items()}
    wait_until(lambda: statistics(platform, facilitator)["total"]["hours_realised"] == sum(expected.values()), 120,
               "the observatory to count every line")

    # figures against the markets and participants services
    total = statistics(platform, facilitator)["total"]
    assert total["hours_realised"] == sum(lot["progress"]["realised_hours"] for lot in shown.values())
    assert total["participants"] == len(people) == 8
    records = [platform.call("GET", "participants", f"/api/v1/participants/{pid}", facilitator) for pid in people]
    by_sex = statistics(platform, facilitator, dimensions="sex")
    for row in by_sex["rows"]:
        assert row["participants"] == sum(r["sex"] == row["keys"]["sex"]["code"] for r in records)

    # a buyer's market report, HTML and PDF, as the facilitator downloads it
    market_id = lots["OBS-GRAND"]["market_id"]
    quota, realised = shown["OBS-GRAND"]["quota"]["hours"], shown["OBS-GRAND"]["progress"]["realised_hours"]
    for fmt in ("html", "pdf"):
        response = platform.http.get(f"{platform.config.url('observatory')}/api/v1/observatory/markets/"
                                     f"{market_id}/report.{fmt}", headers=facilitator, timeout=60)
        assert response.status_code == 200
        text = normalised(pdf_text(response.content) if fmt == "pdf" else response.text)
        assert f"{french(quota)} h" in text and f"{french(realised, 2)} h" in text
        assert "Participants : 6." in text and "Bâtiments du Sud Aude" in text
    small = platform.http.get(f"{platform.config.url('observatory')}/api/v1/observatory/markets/"
                              f"{lots['OBS-PETIT']['market_id']}/report.html", headers=facilitator, timeout=60)
    assert "Participants : s." in normalised(small.text)  # 2 people: under the secret

    # the panorama of the region, PDF
    response = platform.http.get(f"{platform.config.url('observatory')}/api/v1/observatory/panorama.pdf?year=2026",
                                 headers=facilitator, timeout=60)
    assert response.status_code == 200
    text = normalised(pdf_text(response.content))
    assert f"Heures réalisées en 2026 {french(sum(expected.values()))} h" in text
    assert "Participants 8" in text

    # nothing published below the threshold: statistics, the small market's own figures, the public ones
    live = [statistics(platform, facilitator, **q) for q in QUERIES]
    public = platform.call("GET", "observatory", "/api/v1/observatory/public")
    for document in (*live, public):
        counts = people_counts(document)
        assert counts and all(c is None or c == 0 or c >= THRESHOLD for c in counts)

    # the rebuild: refused while the worker runs, then the same figures as the live model
    argv = [sys.executable, "-m", "flask", "--app", "observatory.wsgi", "rebuild"]
    env = {**os.environ, **processes.specs["observatory-worker"][1]}
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "arrêtez-le" in refused.stderr, refused.stderr
    assert [statistics(platform, facilitator, **q) for q in QUERIES] == live
    processes.kill("observatory-worker", signal.SIGTERM)
    wait_until(lambda: subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300).returncode == 0, 120,
               "the rebuild to run once the worker's group has no member")
    assert [statistics(platform, facilitator, **q) for q in QUERIES] == live
    processes.restart("observatory-worker")
