"""Test support: real processes, waiting, Kafka helpers. No doubles of our own infrastructure."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from tenacity import retry, stop_after_attempt

from demo import poll
from stack import StackConfig, free_port_block, wait_for_port

TEST_JWT_SECRET = "test-secret-long-enough-for-hs256-0123456789"
ROOT = Path(__file__).resolve().parents[2]


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


def assert_realised_hours_settle_at(slice_, lot_id: str, expected: float, timeout: float = 90) -> None:
    """The lot's realised hours reach exactly ``expected`` and stay there: nothing lost, nothing counted
    twice (an event redelivered late would show within seconds)."""
    wait_until(lambda: slice_.lot(lot_id)["progress"]["realised_hours"] == expected, timeout,
               f"{expected} realised hours")
    time.sleep(3)
    assert slice_.lot(lot_id)["progress"]["realised_hours"] == expected


class RunCommand:
    """``deploy/local/run.py`` started as a person would, its output collected line by line."""

    def __init__(self, data_dir: Path, base_port: int, *options: str):
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy/local/run.py"), "--base-port", str(base_port),
             "--data-dir", str(data_dir), "--web-workers", "1", *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Until the output holds ``text``; fails at once when the run command exits."""
        wait_until(lambda: text in self.output or self.process.poll() is not None, timeout, repr(text))
        assert self.process.poll() is None, "".join(self.lines[-50:])

    def pid(self, name: str) -> int:
        """The process the supervisor runs as ``name`` now (its pid file)."""
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def stop(self, sig=signal.SIGINT) -> int:
        """Stop it (SIGINT is what Ctrl-C sends) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def start_infra(processes: Processes, config: StackConfig) -> None:
    """Start the broker and the database of a stack (formatting the broker's log first); wait for them."""
    config.prepare_data_dir()
    for name, (argv, env) in config.infra_commands().items():
        processes.start(name, argv, env)
    for port in config.infra_ports():
        wait_for_port(port, timeout=60)


@retry(stop=stop_after_attempt(3), reraise=True)
def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Put one raw message on a topic, as any outside client would. The topic is created first when
    missing, as the service that owns it would (the broker creates no topic by itself)."""
    create_topic(bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=20)
    finally:
        producer.close(timeout=5)


_created_topics: set[tuple[str, str]] = set()  # (bootstrap, topic): one admin round trip per topic


def create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    if (bootstrap, topic) in _created_topics:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    _created_topics.add((bootstrap, topic))


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


# --- notifications: a real SMTP server and a real webhook receiver ---------------------------------
class MailServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts. ``stop()`` and
    ``start()`` again on the same port: a mail server that is down for a while."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port_block(1)
        self.messages = []  # (recipients, email.message.EmailMessage)
        self._controller = None

    def start(self) -> "MailServer":
        from aiosmtpd.controller import Controller
        self._controller = Controller(_MailCollector(self.messages), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    def to(self, address: str) -> list:
        return [message for rcpts, message in self.messages if address in rcpts]


class _MailCollector:
    def __init__(self, messages: list):
        self.messages = messages

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        raw = envelope.original_content or envelope.content
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(raw, policy=policy.default)))
        return "250 Message accepted for delivery"


def sunk_mails(config, to: str | None = None, about: str = "") -> list:
    """The e-mails a stack's SMTP sink stored (to this address, whose subject holds ``about``)."""
    import email
    from email import policy
    found = []
    for path in sorted(config.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if (to is None or message["X-Envelope-To"] == to) and about in message["Subject"]:
            found.append(message)
    return found


def mail_parts(message) -> tuple[str, str]:
    """(text, html) of a multipart/alternative e-mail."""
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that checks the signature the way a subscriber would: HMAC-SHA256
    with its secret over "X-Clause-Timestamp.body", a timestamp less than five minutes old.

    ``answers`` are the statuses it gives to the next calls (then 200); ``calls`` keeps every call,
    ``accepted`` the bodies of the calls it answered 2xx with a valid signature."""

    def __init__(self, secret: str | None = None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.secret = secret
        self.answers: list[int] = []
        self.calls: list[dict] = []
        self.accepted: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._handle(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clauses"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def verify(self, headers, body: bytes) -> bool:
        import hashlib
        import hmac
        timestamp, signature = headers.get("X-Clause-Timestamp", ""), headers.get("X-Clause-Signature", "")
        if not self.secret or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def _handle(self, request, body: bytes) -> None:
        valid = self.verify(request.headers, body)
        status = self.answers.pop(0) if self.answers else (200 if valid else 401)
        call = {"path": request.path, "headers": dict(request.headers), "body": body, "valid": valid,
                "status": status}
        self.calls.append(call)
        if valid and 200 <= status < 300:
            self.accepted.append(json.loads(body))
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
