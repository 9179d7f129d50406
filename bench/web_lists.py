"""The lists the web application's pages ask for (printed figures, not a test): server time of each query on a
region of realistic size — 2,000 participants, 200 buyers, 500 markets with 1,000 lots, 50,000 declaration lines.

    .venv/bin/python bench/web_lists.py --mongodb-url mongodb://127.0.0.1:8102 --kafka 127.0.0.1:8101

Each service's Flask app answers in this process (no network, no gunicorn: the service's own time, store
included), as a facilitator of one territory (a third of the region) sees it; each query is asked --runs times
and its median and 95th percentile printed. The documents are written straight to the store in databases of
their own, removed at the end.
"""
import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pymongo  # noqa: E402

TERRITORIES = ["aude-carcassonne-agglo", "aude-departement", "aude-grand-narbonne"]
FIRST = ["Yasmina", "Élodie", "Marc", "Zoé", "Jean", "Inès", "Hugo", "Léa", "Karim", "Chloé", "Théo", "Amélie"]
LAST = ["Benali-Roussel", "Martin", "Dupont", "Benoît", "Lefèvre", "Garcia", "N'Diaye", "Moreau", "Fabre", "Roux"]
CRITERIA = ["minimum_benefit", "long_term_job_seeker", "rqth", "under_26_low_qualification"]
SIRETS = ["73282932000074", "55210055400013"]


def participants(rng, count):
    for n in range(count):
        eligible = rng.random() < 0.7
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(600))
        yield {"_id": uuid.uuid4().hex, "territory": TERRITORIES[n % 3], "first_name": rng.choice(FIRST),
               "last_name": f"{rng.choice(LAST)}{n}", "birth_date": datetime(1980, 1, 1), "sex": "female",
               "status": "eligible" if eligible else "registered", "categories": [rng.choice(CRITERIA)] if eligible else [],
               "eligibility": {"eligible_from": datetime.combine(start, datetime.min.time()),
                               "eligible_until": datetime.combine(start + timedelta(days=730), datetime.min.time()),
                               "criteria": [], "validated_by": "bench"} if eligible else None,
               "registered_on": datetime(2025, 1, 1), "path": [], "eligibility_history": []}


def buyers_markets_lots(rng, buyers, markets):
    buyer_docs = [{"_id": f"b{b}", "name": f"Commune de Saint-Étienne {b}", "siret": f"{21110000000000 + b}",
                   "buyer_type": "commune", "territory": TERRITORIES[b % 3], "contacts": []} for b in range(buyers)]
    market_docs, lot_docs = [], []
    for m in range(markets):
        territory, end = TERRITORIES[m % 3], date(2026, 1, 1) + timedelta(days=rng.randrange(900))
        market_docs.append({"_id": f"m{m}", "reference": f"2026-{m:04d}", "title": f"Réhabilitation de l'école {m}",
                            "buyer_id": f"b{m % buyers}", "buyer_name": "Commune", "nature": "works",
                            "clause_kind": rng.choice(["execution_condition", "award_criterion", None]),
                            "lead_territory": territory, "territories": [territory], "status": "in_execution",
                            "start_date": datetime(2025, 1, 1), "end_date": datetime.combine(end, datetime.min.time())})
        for number in (1, 2):
            quota = rng.randint(200, 3000)
            lot_docs.append({"_id": f"l{m}-{number}", "market_id": f"m{m}", "number": number, "title": f"Lot {number}",
                             "amount_excl_vat": "100000", "labour_share": "0.5", "insertion_rate": "0.05",
                             "hourly_cost": "30", "computed_quota_hours": quota, "territories": [territory],
                             "start_date": datetime(2025, 1, 1), "end_date": datetime.combine(end, datetime.min.time()),
                             "contractor_siret": SIRETS[m % 2], "realised_centihours": rng.randint(0, quota * 120),
                             "progress_status": rng.choice(["on_track", "at_risk", "behind", "reached"])})
    return buyer_docs, market_docs, lot_docs


def declarations(rng, count):
    submitted = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(count):
        month = f"2025-{n % 12 + 1:02d}" if n % 2 else f"2026-{n % 11 + 1:02d}"
        status = rng.choice(["submitted", "validated", "validated", "rejected"])
        at = submitted + timedelta(seconds=n)
        yield {"_id": f"d{n}", "line_key": f"k{n}", "lot_id": f"l{n % 500}-1", "participant_id": f"p{n // 10}",
               "contractor_siret": SIRETS[n % 2], "month": month, "territories": [TERRITORIES[n % 3]], "status": status,
               "centihours": 3500, "submitted_at": at, "version_ids": [f"d{n}"],
               "versions": [{"id": f"d{n}", "number": 1, "centihours": 3500, "mode": "direct_hire",
                             "status": status, "submitted_at": at}]}


def app_of(service, mongodb_url, kafka, database):
    os.environ.update({"MONGODB_URL": mongodb_url, "MONGODB_DB": database, "KAFKA_BOOTSTRAP_SERVERS": kafka,
                       "KAFKA_TOPIC_PREFIX": f"{database}.", "AUTH_JWT_SECRET": "bench-secret-long-enough-for-hs256-0123",
                       "ENVIRONMENT": "development", "REGION_FILE": str(ROOT / "deploy" / "regions" / "aude.yaml"),
                       "LOG_LEVEL": "WARNING"})
    __import__(f"{service}.app")
    return sys.modules[f"{service}.app"].create_app().test_client()


def timed(client, path, query, headers, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, query_string=query, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, query, response.get_json())
    total = response.headers.get("X-Pagination", "")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--markets", type=int, default=500)
    parser.add_argument("--lines", type=int, default=50000)
    args = parser.parse_args()
    for name in ("libs/plumbing", "services/participants", "services/markets", "services/hours"):
        sys.path.insert(0, str(ROOT / name))
    from plumbing.auth import issue_token
    rng, run = random.Random(13), uuid.uuid4().hex[:8]
    client = pymongo.MongoClient(args.mongodb_url)
    today, home = date(2026, 12, 1), TERRITORIES[0]
    cases = {
        "participants": (lambda db: db.participants.insert_many(list(participants(rng, args.participants))), [
            ("/api/v1/participants", {}),
            ("/api/v1/participants", {"q": "ben"}),
            ("/api/v1/participants", {"q": "eloise martin"}),
            ("/api/v1/participants", {"status": "eligible", "window_ends_before": str(today + timedelta(days=30))}),
            ("/api/v1/participants", {"public": "rqth", "sort": "-window_end"})]),
        "markets": (lambda db: [db[name].insert_many(docs) for name, docs in
                                zip(("buyers", "markets", "lots"), buyers_markets_lots(rng, 200, args.markets))], [
            ("/api/v1/buyers", {"q": "saint etienne 1"}),
            ("/api/v1/markets", {"q": "ecole"}),
            ("/api/v1/markets", {"clause_kind": "none", "sort": "-end_date"}),
            ("/api/v1/lots", {"ending_after": str(today), "ending_before": str(today + timedelta(days=60)),
                              "shortfall": "true"})]),
        "hours": (lambda db: db.declarations.insert_many(list(declarations(rng, args.lines)), ordered=False), [
            ("/api/v1/declarations", {"status": "submitted"}),
            ("/api/v1/declarations", {"status": "submitted", "contractor_siret": SIRETS[0],
                                      "period_from": "2026-01", "period_to": "2026-06"}),
            ("/api/v1/declarations", {"participant_id": "p42"})]),
    }
    print(f"{args.participants} participants, {args.markets} markets ({2 * args.markets} lots), {args.lines} lines; "
          f"a facilitator of {home}; {args.runs} runs each")
    print(f"{'query':<100} {'median ms':>10} {'p95 ms':>8}  X-Pagination")
    try:
        for service, (seed, queries) in cases.items():
            database = f"bench_web_{service}_{run}"
            http = app_of(service, args.mongodb_url, args.kafka, database)
            seed(client[database])
            headers = {"Authorization": "Bearer " + issue_token(os.environ["AUTH_JWT_SECRET"], "bench", "facilitator",
                                                                [home])}
            for path, query in queries:
                median, p95, total = timed(http, path, query, headers, args.runs)
                asked = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
                print(f"{asked:<100} {median:>10.1f} {p95:>8.1f}  {total}")
    finally:
        for service in cases:
            client.drop_database(f"bench_web_{service}_{run}")


if __name__ == "__main__":
    main()
