"""Test support: real processes, waiting, Kafka helpers. No doubles of our own infrastructure."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer
from tenacity import retry, stop_after_attempt

from demo import poll

TEST_JWT_SECRET = "test-secret-long-enough-for-hs256-0123456789"


def free_port_block(size: int = 20) -> int:
    """A base port such that base..base+size are free now."""
    for _ in range(200):
        base = 20000 + (uuid.uuid4().int % 2000) * 20
        if all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def docker_engine_answers() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


wait_until = poll  # a bounded wait, shared with the demo client


class Processes:
    """Real OS processes started for a test run; each logs to its own file."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, tuple[list[str], dict]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.specs[name] = (argv, env)
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.running[name] = proc
        return proc

    def restart(self, name: str) -> subprocess.Popen:
        argv, env = self.specs[name]
        return self.start(name, argv, env)

    def kill(self, name: str, sig=signal.SIGKILL) -> int:
        """Signal a process (SIGKILL by default) and return its exit code."""
        proc = self.running.pop(name)
        os.killpg(proc.pid, sig)
        return proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.running.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.running.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.running.clear()


@retry(stop=stop_after_attempt(3), reraise=True)
def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Put one raw message on a topic, as any outside client would (a fresh producer per attempt:
    tansu on S3 storage sometimes loses a new producer id when several register at once)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=20)
    finally:
        producer.close(timeout=5)


def read_topic(bootstrap: str, topic: str, timeout: float = 10.0, expect: int = 1) -> list:
    """Every record on a topic from the beginning (no group), waiting for ``expect`` of them."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            for message in consumer:
                records.append(message)
    finally:
        consumer.close()
    return records


def events_of(records) -> list[dict]:
    return [json.loads(r.value) for r in records]
