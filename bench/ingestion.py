"""Ingestion benchmark of the hours service on the local stack (printed figures, not a test).

    .venv/bin/python bench/ingestion.py            # about 2-3 minutes on 2 cores
    .venv/bin/python bench/ingestion.py --help     # sizes and rates

Starts its own stack (Apache Kafka, FerretDB, the four services under gunicorn and their workers,
from deploy/local/stack.py, on free ports, in a temporary folder), then measures:
  (a) single declarations posted by concurrent clients: requests/s, p50/p99 latency;
  (b) batches of 10,000 lines: lines/s accepted, and lines/s until the lots' progress counts them all;
  (c) the lag from a line's acceptance to its lot's progress moving, at a steady rate: p50/p99;
then the memory of every web and worker process, and the markets service's rebuild of its progress from the
hours topic (``flask rebuild-progress``) on 200,000 declaration events (``--rebuild-events``);
and, on the same broker and store, the raw limits: kafka-python producing and consuming as many
events of the same size, and bulk inserts of as many documents. Our figures are shown as ratios.
For (a) and (b) it also prints the CPU each counted line costs the whole stack (web, workers, broker,
store, clients), which says how many lines/s the machine's cores allow at most.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import pymongo  # noqa: E402
import requests  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

from demo import Platform, Slice, poll, seed  # noqa: E402
from plumbing.kafka import PRODUCER_BATCH_BYTES  # noqa: E402
from stack import StackConfig, free_port_block, wait_for_port  # noqa: E402

MONTHS = [f"2026-{m:02d}" for m in range(1, 11)]  # ten past months of 2026


class Stack:
    """The local stack's own process definitions, started in a temporary folder."""

    def __init__(self, data_dir: Path, ferretdb_handler: str):
        self.config = StackConfig(data_dir=data_dir, base_port=free_port_block(), ferretdb_handler=ferretdb_handler)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> Platform:
        self.config.prepare_data_dir()
        for name, (argv, env) in self.config.infra_commands().items():
            self.spawn(name, argv, env)
        for port in self.config.infra_ports():
            wait_for_port(port, timeout=60)
        for name, (argv, env) in self.config.service_commands().items():
            self.spawn(name, argv, env)
        platform = Platform(self.config)
        platform.wait_ready(timeout=120)
        seed(platform)
        return platform

    def spawn(self, name, argv, env):
        log = open(Path(self.config.data_dir) / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each part of the stack (every process of its session: gunicorn's
        workers too) and by this benchmark's own clients (Linux /proc)."""
        part_of_group = {proc.pid: cpu_part(name) for name, proc in self.procs.items()}
        used = {"client": sum(os.times()[:2])}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            part = part_of_group.get(int(fields[2]))  # the process group: the spawned process's pid
            if part:
                # its own time and its reaped children's (gunicorn workers replaced meanwhile)
                used[part] = used.get(part, 0) + sum(map(int, fields[11:15])) / CLOCK_TICKS
        return used

    def rss_mb(self) -> dict[str, list[float]]:
        """Resident memory (MB) of every process of each web app and worker (gunicorn's workers too), by name."""
        groups = {proc.pid: name for name, proc in self.procs.items() if name.endswith(("-web", "-worker"))}
        found: dict[str, list[float]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    group = int(stat.read().rsplit(")", 1)[1].split()[2])
                with open(f"/proc/{pid}/status") as status:
                    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                continue  # ended meanwhile, or a zombie
            if group in groups:
                found.setdefault(groups[group], []).append(rss / 1024)
        return found

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)

    def settle(self, timeout: float = 90) -> bool:
        """Wait until the stack is quiet (under a tenth of a core for a second): every consumer group
        has caught up, so one measure's backlog does not slow the next. False when it was still busy."""
        deadline, last = time.perf_counter() + timeout, self.cpu_seconds()
        while time.perf_counter() < deadline:
            time.sleep(1)
            now = self.cpu_seconds()
            if sum(now.values()) - sum(last.values()) - (now["client"] - last["client"]) < 0.1:
                return True
            last = now
        return False

    def stop(self):
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_part(process: str) -> str:
    """The part of the stack a process of deploy/local/stack.py belongs to, for the CPU figures."""
    if process == "kafka":
        return "broker"
    if process in ("mongo", "postgres"):
        return "store"
    if process == "hours-web":
        return "hours web"
    return "workers" if process.endswith("-worker") else "other"


def cpu_per_line(before: dict, after: dict, lines: int) -> dict:
    """Milliseconds of CPU per line, by part, largest first."""
    used = {part: (after[part] - before.get(part, 0)) * 1000 / lines for part in after}
    return dict(sorted(used.items(), key=lambda item: -item[1]))


CORES = os.cpu_count()


def cpu_detail(per_line: dict) -> str:
    return ", ".join(f"{part} {ms:.1f}" for part, ms in per_line.items() if ms >= 0.05)


def memory_detail(rss: dict[str, list[float]], kind: str) -> str:
    """Each service's largest process of that kind (gunicorn's master included for web apps)."""
    return ", ".join(f"{name.removesuffix(kind)} {max(sizes):.0f}" for name, sizes in sorted(rss.items())
                     if name.endswith(kind))


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


class Bench:
    def __init__(self, platform: Platform, participants: int):
        self.p = platform
        self.hours_url = platform.config.url("hours")
        self.run = uuid.uuid4().hex[:6]
        first = Slice(platform, reference=f"BENCH-{self.run}-0")
        self.facilitator = first.facilitator
        self.lots = []
        self.key = None
        self.participants = [first.eligible_participant(first_name=f"Banc{i}") for i in range(participants)]
        self.slice = first

    def new_lot(self, index: int) -> str:
        s = Slice(self.p, reference=f"BENCH-{self.run}-{index}")
        lot = s.create_lot(amount_excl_vat=1_000_000_000)  # a quota far above what is declared
        key = s.award(lot)
        self.key = self.key or key
        return lot["id"]

    def lines(self, lot_id: str, hours: float = 7):
        """Every line of a lot the measures may use (not the last month: see wait_learnt)."""
        return [{"lot_id": lot_id, "participant_id": p, "month": m, "hours": hours, "mode": "direct_hire",
                 "contract_type": "cdd"} for p in self.participants for m in MONTHS[:-1]]

    def wait_learnt(self, lot_id: str, participants):
        """Post a last-month line until the hours service knows the lot, its market status and these
        participants (the measures below never use the last month)."""
        for p in participants:
            self.slice.declare(self.key, lot_id, p, MONTHS[-1], 1)

    def drained(self, lot_id: str, expected: float, timeout: float = 180) -> float:
        """Seconds until the lot's progress shows ``expected`` hours (the markets worker caught up)."""
        started = time.perf_counter()
        poll(lambda: self.realised(lot_id) >= expected, timeout, "the markets worker to catch up", 0.2)
        return time.perf_counter() - started

    def realised(self, lot_id: str) -> float:
        return self.p.call("GET", "markets", f"/api/v1/lots/{lot_id}", self.facilitator)["progress"]["realised_hours"]

    # (a) single declarations: as fast as concurrent clients go, then at a steady rate
    def _post_all(self, lines, threads: int, due_at=None):
        """Post each line once; ``due_at(i)``: when line i is due (open loop), else as soon as possible.
        Latency runs from when a line was due, so queueing behind a slow answer counts too."""
        sessions, latencies = threading.local(), []

        def post(item):
            i, line = item
            due = due_at(i) if due_at else time.perf_counter()
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            http = getattr(sessions, "http", None) or setattr(sessions, "http", requests.Session()) or sessions.http
            try:
                response = http.post(self.hours_url + "/api/v1/declarations", json=line, headers=self.key,
                                     timeout=30)
            except requests.RequestException:
                return None
            latencies.append(time.perf_counter() - due)
            return response.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            codes = list(pool.map(post, enumerate(lines)))
        elapsed = time.perf_counter() - started
        return {"requests": len(lines), "ok": codes.count(201), "rps": len(lines) / elapsed,
                "p50_ms": pct(latencies, 0.5) * 1000, "p99_ms": pct(latencies, 0.99) * 1000}

    def singles(self, lines, clients: int):
        return self._post_all(lines, clients)

    def steady(self, lines, rate: float):
        begin = time.perf_counter() + 0.2
        return {**self._post_all(lines, 64, lambda i: begin + i / rate), "rate": rate}

    # (b) a batch of 10,000 lines: accepted, then counted by the markets service
    def batch(self, lot_ids, size: int, wait_s: float):
        lines = [line for lot_id in lot_ids for line in self.lines(lot_id, hours=3)][:size]
        before = {lot_id: self.realised(lot_id) for lot_id in lot_ids}
        expected = {lot_id: before[lot_id] + 3 * sum(1 for line in lines if line["lot_id"] == lot_id)
                    for lot_id in lot_ids}
        started = time.perf_counter()
        response = requests.post(self.hours_url + "/api/v1/declarations/batch", json={"lines": lines},
                                 headers=self.key, timeout=300)
        accepted_s = time.perf_counter() - started
        report = response.json()
        deadline, counted = started + wait_s, 0
        while True:
            counted = sum(round((self.realised(lot_id) - before[lot_id]) / 3) for lot_id in lot_ids)
            if counted >= report.get("accepted", 0) or time.perf_counter() > deadline:
                break
            time.sleep(0.25)
        end_to_end_s = time.perf_counter() - started
        return {"lines": len(lines), "accepted": report.get("accepted"), "accept_lps": len(lines) / accepted_s,
                "counted": counted, "e2e_lps": counted / end_to_end_s, "e2e_s": end_to_end_s,
                "complete": counted >= report.get("accepted", 0), "expected": expected}

    # (c) lag from acceptance to the lot's progress moving, at a steady rate
    def lag(self, lot_id: str, rate: float, count: int):
        lines = self.lines(lot_id, hours=1)[:count]
        base = self.realised(lot_id)
        accepted_at, seen_at, stop = [], {}, threading.Event()

        def watch():
            http = requests.Session()
            url = self.p.config.url("markets") + f"/api/v1/lots/{lot_id}"
            while not stop.is_set():
                try:
                    realised = http.get(url, headers=self.facilitator, timeout=10).json()["progress"]["realised_hours"]
                except requests.RequestException:  # gunicorn's sync workers drop idle kept-alive connections
                    continue
                now = time.perf_counter()
                for i in range(int(round(realised - base))):
                    seen_at.setdefault(i, now)
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        http = requests.Session()
        for i, line in enumerate(lines):
            due = i / rate
            pause = due - (time.perf_counter() - (accepted_at[0][0] if accepted_at else time.perf_counter()))
            if accepted_at and pause > 0:
                time.sleep(pause)
            response = http.post(self.hours_url + "/api/v1/declarations", json=line, headers=self.key, timeout=30)
            accepted_at.append((time.perf_counter(), response.status_code))
        refused = [code for _, code in accepted_at if code != 201]
        if refused:
            raise RuntimeError(f"(c) expects every line accepted; answers: {sorted(set(refused))}")
        try:
            poll(lambda: len(seen_at) >= len(lines), 60, "every line counted")
        except TimeoutError:
            raise TimeoutError(f"(c): {len(seen_at)} of {len(lines)} lines counted after 60 s, "
                               f"progress {self.realised(lot_id)} h from {base} h") from None
        stop.set()
        lags = [seen_at[i] - t for i, (t, _) in enumerate(accepted_at) if i in seen_at]
        return {"lines": len(lines), "rate": rate, "p50_ms": pct(lags, 0.5) * 1000, "p99_ms": pct(lags, 0.99) * 1000}


def copy_declarations(config: StackConfig, events: int) -> None:
    """Fill the hours topic up to ``events`` events: the declaration events this run produced, copied under new
    declaration ids (a region's year of declarations), as the hours service publishes them."""
    topic = config.topic("hours.events")
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends, read = consumer.end_offsets(partitions), []
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        read += [json.loads(r.value) for batch in consumer.poll(timeout_ms=500).values() for r in batch]
    consumer.close()
    declarations = [e for e in read if e["type"] in ("declaration.submitted", "declaration.validated")]
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all", linger_ms=20,
                             batch_size=PRODUCER_BATCH_BYTES)
    for copy in range(1, -(-(events - len(read)) // len(declarations)) + 1):
        for event in declarations:
            payload = {**event["payload"], "declaration_id": f"{event['payload']['declaration_id']}-{copy}"}
            producer.send(topic, key=event["key"].encode(), value=json.dumps(
                {**event, "id": uuid.uuid4().hex, "payload": payload}, separators=(",", ":")).encode())
    producer.flush()
    producer.close()


def rebuild_progress(stack: Stack) -> dict:
    """The markets service's rebuild of its progress from the hours topic (``flask rebuild-progress``). The
    markets worker is stopped first, as the command requires."""
    config = stack.config
    stack.stop_process("markets-worker")
    argv, env = config.worker_command("markets")
    started = time.perf_counter()
    done = subprocess.run([config.python, "-m", "flask", "--app", "markets.wsgi", "rebuild-progress"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"rebuild-progress failed: {done.stderr[-2000:]}")
    figures = re.search(r"(\d+) événements de déclaration, (\d+) déclarations sur (\d+) lots.* en ([\d.]+) s",
                        done.stdout)
    counted, facts, lots, seconds = int(figures[1]), int(figures[2]), int(figures[3]), float(figures[4])
    return {"events": counted, "facts": facts, "lots": lots, "seconds": seconds, "eps": counted / seconds,
            "command_s": elapsed}


def raw_kafka(bootstrap: str, count: int, size: int) -> dict:
    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    # acks=all, idempotent: as the services' publisher
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                             batch_size=PRODUCER_BATCH_BYTES)
    value = b"x" * size
    started = time.perf_counter()
    futures = [producer.send(topic, key=str(i % 50).encode(), value=value) for i in range(count)]
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    produce_s = time.perf_counter() - started
    producer.close()
    # partitions assigned, not a group: joining a group takes time that is not reading speed
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             max_poll_records=500)
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    read, started = 0, time.perf_counter()
    deadline = started + 60
    while read < count and time.perf_counter() < deadline:
        read += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
    consume_s = time.perf_counter() - started
    consumer.close()
    return {"produce": count / produce_s, "consume": read / consume_s}


def raw_mongo(url: str, count: int, size: int) -> dict:
    client = pymongo.MongoClient(url)
    collection = client["bench_raw"][f"c{uuid.uuid4().hex[:6]}"]
    docs = [{"_id": uuid.uuid4().hex, "n": i, "pad": "x" * size} for i in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 1000):
        collection.insert_many(docs[start:start + 1000], ordered=False)
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    for doc in docs[:300]:
        collection.insert_one({**doc, "_id": doc["_id"] + "s"})
    single = 300 / (time.perf_counter() - started)
    client.drop_database("bench_raw")
    client.close()
    return {"bulk": count / elapsed, "single": single}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-lines", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=300, help="single declarations as fast as they go in (a)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in (a)")
    parser.add_argument("--rate", type=float, default=200, help="single declarations per second in (a), steady")
    parser.add_argument("--seconds", type=float, default=5, help="how long the steady rate of (a) lasts")
    parser.add_argument("--lag-rate", type=float, default=20, help="lines per second in (c)")
    parser.add_argument("--lag-lines", type=int, default=100)
    parser.add_argument("--batch-wait", type=float, default=60, help="seconds to wait for (b) to be counted")
    parser.add_argument("--rebuild-events", type=int, default=200_000,
                        help="declaration events on the hours topic when the markets progress is rebuilt")
    parser.add_argument("--ferretdb-handler", choices=["postgresql", "sqlite"], default="postgresql",
                        help="FerretDB's storage (the local stack's is postgresql; sqlite to compare)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on kill too, not only on Ctrl-C

    participants = 100
    per_lot = participants * (len(MONTHS) - 1)  # unique (participant, month) lines a lot takes
    steady_lines = int(args.rate * args.seconds)
    need = {"single": args.single, "steady": steady_lines, "lag": args.lag_lines, "batch": args.batch_lines}
    lot_count = {name: -(-n // per_lot) for name, n in need.items()}
    with tempfile.TemporaryDirectory(prefix="bench-ingestion-") as tmp:
        stack = Stack(Path(tmp), args.ferretdb_handler)
        try:
            t0 = time.perf_counter()
            platform = stack.start()
            bench = Bench(platform, participants)
            lots, index = {}, 0
            for name, count in lot_count.items():
                lots[name] = [bench.new_lot(index + i) for i in range(count)]
                index += count
            every_lot = [lot for group in lots.values() for lot in group]
            bench.wait_learnt(every_lot[0], bench.participants)
            for lot_id in every_lot[1:]:
                bench.wait_learnt(lot_id, bench.participants[:1])
            bench.drained(every_lot[-1], 1)
            print(f"stack started and set up in {time.perf_counter() - t0:.0f} s "
                  f"({len(every_lot)} lots, {participants} participants)", flush=True)

            # the raw limits first, on the idle stack (the workers would still drain (b) afterwards)
            kafka = raw_kafka(stack.config.kafka_bootstrap, args.batch_lines, 700)
            mongo = raw_mongo(stack.config.mongodb_url, args.batch_lines, 1500)
            print("raw", kafka, mongo, flush=True)

            def lines_of(name, hours):
                return [line for lot in lots[name] for line in bench.lines(lot, hours)][:need[name]]

            def drain(name):
                for lot_id in lots[name]:
                    bench.drained(lot_id, 7 * sum(1 for line in lines_of(name, 7) if line["lot_id"] == lot_id))

            stack.settle()
            cpu_before = stack.cpu_seconds()
            singles = bench.singles(lines_of("single", 7), args.clients)
            drain("single")  # the workers' share of each line counts too
            singles_cpu = cpu_per_line(cpu_before, stack.cpu_seconds(), singles["ok"])
            print("(a)", singles, "CPU ms per line", singles_cpu, flush=True)
            steady = bench.steady(lines_of("steady", 7), args.rate)
            print("(a)", steady, flush=True)
            drain("steady")
            stack.settle()
            lag = bench.lag(lots["lag"][0], args.lag_rate, args.lag_lines)
            print("(c)", lag, flush=True)
            stack.settle()
            cpu_before = stack.cpu_seconds()
            batch = bench.batch(lots["batch"], args.batch_lines, args.batch_wait)
            batch_cpu = cpu_per_line(cpu_before, stack.cpu_seconds(), max(batch["counted"], 1))
            print("(b)", {k: v for k, v in batch.items() if k != "expected"}, "CPU ms per line", batch_cpu, flush=True)
            stack.settle()
            rss = stack.rss_mb()  # after the measures, before the rebuild stops the markets worker
            print("RSS MB", {name: [round(mb) for mb in sizes] for name, sizes in sorted(rss.items())}, flush=True)
            copy_declarations(stack.config, args.rebuild_events)
            rebuild = rebuild_progress(stack)
            print("rebuild", rebuild, flush=True)
        finally:
            stack.stop()
    print(f"whole run: {time.perf_counter() - t0:.0f} s")

    raw_floor = min(kafka["produce"], kafka["consume"], mongo["bulk"])
    rows = [
        ("(a) single POST, %d clients" % args.clients, f"{singles['rps']:.0f} req/s",
         f"p50 {singles['p50_ms']:.0f} ms, p99 {singles['p99_ms']:.0f} ms ({singles['ok']}/{singles['requests']} ok)",
         f"{singles['rps'] / mongo['single']:.0%} of single inserts"),
        ("(a) single POST, steady %.0f req/s" % steady["rate"], f"{steady['rps']:.0f} req/s",
         f"p50 {steady['p50_ms']:.0f} ms, p99 {steady['p99_ms']:.0f} ms ({steady['ok']}/{steady['requests']} ok)",
         "latency from when each was due"),
        ("(a) CPU per line, whole stack", f"{sum(singles_cpu.values()):.0f} ms", cpu_detail(singles_cpu),
         f"≤ {CORES * 1000 / sum(singles_cpu.values()):.0f} lines/s on {CORES} cores"),
        ("(b) batch of %d lines, accepted" % batch["lines"], f"{batch['accept_lps']:.0f} lines/s",
         f"{batch['accepted']} accepted", f"{batch['accept_lps'] / mongo['bulk']:.0%} of bulk inserts"),
        ("(b) same batch, counted on the lots", f"{batch['e2e_lps']:.0f} lines/s",
         f"{batch['counted']} counted in {batch['e2e_s']:.0f} s" + ("" if batch["complete"] else " (gave up)"),
         f"{batch['e2e_lps'] / raw_floor:.0%} of the raw floor"),
        ("(b) CPU per line, whole stack", f"{sum(batch_cpu.values()):.1f} ms", cpu_detail(batch_cpu),
         f"≤ {CORES * 1000 / sum(batch_cpu.values()):.0f} lines/s on {CORES} cores"),
        ("(c) lag acceptance → progress", f"at {lag['rate']:.0f} lines/s",
         f"p50 {lag['p50_ms']:.0f} ms, p99 {lag['p99_ms']:.0f} ms", ""),
        ("rebuild of the markets progress", f"{rebuild['eps']:.0f} events/s",
         f"{rebuild['events']:,} events, {rebuild['facts']:,} declarations, {rebuild['lots']} lots in "
         f"{rebuild['seconds']:.1f} s", f"{rebuild['command_s']:.1f} s with the command's start"),
        ("memory, largest web process", f"{max(max(v) for k, v in rss.items() if k.endswith('-web')):.0f} MB",
         memory_detail(rss, "-web"), "RSS after the measures"),
        ("memory, largest worker", f"{max(max(v) for k, v in rss.items() if k.endswith('-worker')):.0f} MB",
         memory_detail(rss, "-worker"), "RSS after the measures"),
        ("raw kafka-python produce (acks=all)", f"{kafka['produce']:.0f} msg/s", "same broker, 700 B", ""),
        ("raw kafka-python consume", f"{kafka['consume']:.0f} msg/s", "same broker", ""),
        ("raw bulk insert_many", f"{mongo['bulk']:.0f} docs/s", "same store, 1.5 kB", ""),
        ("raw single insert_one", f"{mongo['single']:.0f} docs/s", "same store", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    for row in [("measure", "figure", "detail", "ratio")] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
