"""Observatory benchmark (printed figures, not a test): rebuilding its read model, and the time of statistics
on a region of N declaration lines.

    .venv/bin/python bench/observatory.py --mongodb-url mongodb://127.0.0.1:8102 --kafka 127.0.0.1:8101
    .venv/bin/python bench/observatory.py --lines 100000 --via-kafka ...   # the whole rebuild command

In a database (and with --via-kafka a topic namespace) of its own, removed at the end. The region: markets
and lots, a participant for every 10 lines, each line validated. By default the rebuild's own work is timed
without the broker (fold the events in memory, write the read model) and the envelope's decoding on a
sample: producing a million events takes longer than the rest. With --via-kafka the events are put on the
markets, participants and hours topics and the rebuild command's code reads them back. Then a web
process's first statistic (it loads the snapshot the rebuild saved; and, for comparison, from the documents), the
worker's saving of a snapshot, and statistics with none, one and two criteria on the whole region.
"""
import argparse
import itertools
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is named like the service's package: import the package, not this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from kafka import KafkaProducer  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402
import pymongo  # noqa: E402

QUERIES = ([], ["sector"], ["public_category"], ["buyer"], ["sex", "year"], ["territory", "mode"],
           ["public_category", "month"])


def region_events(lines: int, seed: int = 15):
    from plumbing.events import Event
    rng = random.Random(seed)
    territories = ["aude-carcassonne-agglo", "aude-departement", "aude-grand-narbonne"]
    lots = max(10, lines // 2000)
    for m in range(lots // 3 + 1):
        territory = territories[m % 3]
        yield "markets", Event(type="market.created", producer="markets", key=f"m{m}", territories=[territory], payload={
            "market_id": f"m{m}", "reference": f"M-{m}", "title": f"Marché {m}", "buyer_id": f"b{m % 40}",
            "buyer_name": f"Acheteur {m % 40}", "buyer_type": rng.choice(["commune", "departement", "social_landlord"]),
            "nature": rng.choice(["works", "works", "services", "supplies"]), "cpv_code": rng.choice(["45210000", "90910000"]),
            "clause_kind": rng.choice(["execution_condition", "award_criterion"]), "state_market": m % 7 == 0,
            "lead_territory": territory, "status": "in_execution", "start_date": "2024-01-01", "end_date": "2027-12-31"})
    for lot in range(lots):
        m = lot % (lots // 3 + 1)
        yield "markets", Event(type="lot.awarded", producer="markets", key=f"l{lot}", territories=[territories[m % 3]],
                               payload={"lot_id": f"l{lot}", "market_id": f"m{m}", "lot_number": 1 + lot // 3,
                                        "lot_title": f"Lot {lot}", "trade": rng.choice(["masonry", "painting", "roads"]),
                                        "contractor_siret": "73282932000074", "contractor_name": "BTP",
                                        "quota_hours": rng.randint(500, 5000), "start_date": "2024-01-01",
                                        "end_date": "2027-12-31"})
    people = lines // 10
    for p in range(people):
        territory = territories[p % 3]
        yield "participants", Event(type="participant.registered", producer="participants", key=f"p{p}",
                                    territories=[territory], payload={
                                        "participant_id": f"p{p}", "territory": territory,
                                        "sex": rng.choice(["female", "male"]),
                                        "age_band": rng.choice(["under_26", "26_49", "50_plus"]),
                                        "qpv": rng.random() < 0.3, "categories": [rng.choice([
                                            "minimum_benefit", "long_term_job_seeker", "rqth", "under_26_low_qualification"])]})
        if rng.random() < 0.4:
            yield "participants", Event(type="participant.exited", producer="participants", key=f"p{p}",
                                        territories=[territory], payload={
                                            "participant_id": f"p{p}", "territory": territory, "exit_date": "2026-06-30",
                                            "outcome": rng.choice(["permanent_contract", "training", "job_seeking"])})
    for n in range(lines):
        p, lot = n // 10, (n // 10) % lots
        month = f"{2024 + (n % 10 + p) % 36 // 12}-{(n % 10 + p) % 12 + 1:02d}"
        yield "hours", Event(type="declaration.validated", producer="hours", key=f"l{lot}",
                             territories=[territories[p % 3]], payload={
                                 "declaration_id": f"d{n}", "line_id": f"d{n}", "version": 1, "status": "validated",
                                 "lot_id": f"l{lot}", "participant_id": f"p{p}", "month": month,
                                 "territory": territories[p % 3], "centihours": rng.randint(700, 15000),
                                 "mode": rng.choice(["direct_hire", "etti", "geiq", "siae_subcontracting"]),
                                 "contractor_siret": "73282932000074", "employer_siret": None,
                                 "contract_type": rng.choice(["cdd", "cdi", "insertion", "temporary"])})


def produce(events, prefix: str, kafka: str) -> None:
    from plumbing.events import encode
    started, count = time.perf_counter(), 0
    producer = KafkaProducer(bootstrap_servers=kafka, acks=1, linger_ms=50, batch_size=512 * 1024)
    for service, event in events:
        producer.send(f"{prefix}{service}.events", key=event.key.encode(), value=encode(event))
        count += 1
    producer.flush()
    producer.close()
    print(f"produced {count:,} events in {time.perf_counter() - started:.1f} s")


def fold_and_write(handlers, lines: int) -> None:
    """The rebuild's own work without the broker: fold the region's events in memory, write the read model;
    and the envelope's decoding (JSON and validation) measured on a sample."""
    from observatory import domain
    from plumbing.events import decode, encode
    facts, count, folding = domain.Facts(), 0, 0.0
    for _, event in region_events(lines):
        begin = time.perf_counter()
        domain.fold(facts, event)
        folding += time.perf_counter() - begin
        count += 1
    begin = time.perf_counter()
    handlers.replace_read_model(facts)
    writing = time.perf_counter() - begin
    print(f"rebuild without the broker: {count:,} events folded in {folding:.1f} s and written in {writing:.1f} s: "
          f"{count / (folding + writing):,.0f} events/s (target ≥ 10,000)")
    sample = [encode(event) for _, event in itertools.islice(region_events(20_000, seed=16), 20_000)]
    begin = time.perf_counter()
    for raw in sample:
        decode(raw)
    print(f"decoding envelopes (JSON + validation), one core: {len(sample) / (time.perf_counter() - begin):,.0f} "
          f"events/s")


def cold_first_statistic(handlers) -> None:
    """A web process's first statistic: it loads the snapshot the rebuild saved; for comparison, a snapshot read from
    the documents alone (as before snapshots were saved); then the worker's saving of a snapshot."""
    from observatory import snapshot
    snapshot._snapshots.clear()
    begin = time.perf_counter()
    handlers.statistics(handlers.Scope(None), [], None, 5)
    print(f"a web process's first statistic (loads the saved snapshot): {time.perf_counter() - begin:.1f} s "
          f"(once per process and rebuild; then only the changes)")
    begin = time.perf_counter()
    snapshot.Snapshot(None, 0).load()
    print(f"for comparison, a snapshot read from the documents: {time.perf_counter() - begin:.1f} s")
    begin = time.perf_counter()
    snapshot.save(snapshot.current())
    size = sum(len(part["data"]) for part in snapshot.collection(snapshot.SavedPart).find())
    print(f"the worker saves a snapshot (every {snapshot.SAVE_EVERY} batches): {time.perf_counter() - begin:.1f} s, "
          f"{size / 1e6:.1f} MB in the store (two kept)")


def machine() -> None:
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()} "
          f"({os.cpu_count()} cores; other processes share them)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--via-kafka", action="store_true",
                        help="put the events on the topics and run the whole rebuild command (slow to produce)")
    parser.add_argument("--mongodb-url", default=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:8102"))
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:8101"))
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    database = prefix.replace(".", "_") + "observatory"
    os.environ.update({"MONGODB_URL": args.mongodb_url, "MONGODB_DB": database, "KAFKA_BOOTSTRAP_SERVERS": args.kafka,
                       "KAFKA_TOPIC_PREFIX": prefix, "AUTH_JWT_SECRET": "bench-only-secret-0123456789abcdef",
                       "REGION_FILE": str(ROOT / "deploy" / "regions" / "aude.yaml"), "LOG_LEVEL": "WARNING"})
    from observatory import handlers
    from observatory.app import create_app, load
    settings = load()
    app = create_app(settings)
    topics = [settings.events_topic(s) for s in handlers.CONSUMES]
    admin = KafkaAdminClient(bootstrap_servers=args.kafka)
    admin.create_topics([NewTopic(t, settings.kafka_topic_partitions, 1) for t in topics])
    try:
        with app.app_context():
            if args.via_kafka:
                produce(region_events(args.lines), prefix, args.kafka)
                result = handlers.rebuild(settings)
                print(f"rebuild from the topics: {result['events']:,} events in {result['seconds']} s "
                      f"(reading, decoding and folding {result['read_seconds']} s): "
                      f"{result['events_per_second']:,} events/s (target ≥ 10,000)")
            else:
                fold_and_write(handlers, args.lines)
            machine()
            cold_first_statistic(handlers)
            for dimensions in QUERIES:
                begin = time.perf_counter()
                handlers.statistics(handlers.Scope(None), dimensions, None, 5)
                print(f"statistics by {', '.join(dimensions) or 'nothing (totals)'}: "
                      f"{time.perf_counter() - begin:.2f} s (target < 1 s)")
            begin = time.perf_counter()
            handlers.statistics(handlers.Scope(None), ["buyer", "month"], ("2025-01", "2025-06"), 5)
            print(f"statistics by buyer, month over six months: {time.perf_counter() - begin:.2f} s")
            machine()
    finally:
        admin.delete_topics(topics)
        admin.close()
        pymongo.MongoClient(args.mongodb_url).drop_database(database)


if __name__ == "__main__":
    sys.exit(main())
