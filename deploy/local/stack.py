"""The embedded local stack: Apache Kafka (KRaft, one node) and FerretDB (the MongoDB wire protocol)
on Debian's PostgreSQL, as processes on 127.0.0.1, and the five services under gunicorn. No Docker.

The process definitions here are used by the run command and by the end-to-end tests and the
benchmark (which need to kill and restart single processes). ``deploy/local/infra.sh`` installs the
two servers into ``TOOLS_DIR``.
"""
import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from plumbing.settings import DEVELOPMENT_JWT_SECRET

HERE = Path(__file__).resolve().parent
TOOLS_DIR = Path(os.environ.get("CLAUSES_TOOLS_DIR", Path.home() / ".cache" / "clauses-sociales"))
GIN_TWINS_SQL = HERE / "ferretdb-gin-twins.sql"  # applied to the local PostgreSQL cluster once, at its creation
KAFKA_VERSION = re.search(r"<kafka.version>(.+)</kafka.version>", (HERE / "kafka" / "pom.xml").read_text()).group(1)
FERRETDB_VERSION = "v1.24.2"
# infra.sh builds FerretDB with the patches of deploy/local/ferretdb/, in a folder named after them
FERRETDB_BUILD = "ferretdb-{}-{}".format(FERRETDB_VERSION, hashlib.sha256(b"".join(
    patch.read_bytes() for patch in sorted((HERE / "ferretdb").glob("*.patch")))).hexdigest()[:8])
KAFKA_HEAP = "-Xmx512m"
SERVICES = ("markets", "participants", "hours", "notifications", "observatory")
# BASE + (web port, worker's metrics port) of each service
PORT_OFFSETS = {"markets": (10, 14), "participants": (11, 15), "hours": (12, 16), "notifications": (13, 17),
                "observatory": (18, 19)}
WEB_PORT_OFFSET = 0  # the pages people open: the base port itself (http://127.0.0.1:8100 by default)
LOCAL_JWT_SECRET = DEVELOPMENT_JWT_SECRET  # refused by every service outside ENVIRONMENT=development


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    base_port: int = 8100
    topic_prefix: str = ""
    web_workers: int = 2
    jwt_secret: str = LOCAL_JWT_SECRET
    region_file: Path = Path(__file__).resolve().parents[1] / "regions" / "aude.yaml"  # run.py --region
    python: str = field(default=sys.executable)
    # An existing broker and database (then only the services are started here).
    external_kafka: str | None = None
    external_mongodb: str | None = None
    # FerretDB's storage: "postgresql" (a PostgreSQL server in the data folder) or "sqlite" (files in
    # the data folder; kept to compare them, see the README)
    ferretdb_handler: str = "postgresql"
    # how long a lot's status-change mail waits (NOTIFICATIONS_QUIET_PERIOD_S); None: the service's default
    quiet_period_s: float | None = None

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
    def kafka_controller_port(self) -> int:
        """The KRaft controller's listener (the broker is its own controller)."""
        return self.base_port + 4

    @property
    def postgres_port(self) -> int:
        """The PostgreSQL server FerretDB stores its documents in."""
        return self.base_port + 5

    @property
    def mail_dir(self) -> Path:
        """Where the SMTP sink keeps each e-mail as an .eml file."""
        return Path(self.data_dir) / "mail"

    def web_port(self, service: str) -> int:
        return self.base_port + PORT_OFFSETS[service][0]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.web_port(service)}"

    @property
    def web_app_port(self) -> int:
        return self.base_port + WEB_PORT_OFFSET

    @property
    def web_app_url(self) -> str:
        """The web application's address: what a person opens."""
        return f"http://127.0.0.1:{self.web_app_port}"

    def web_app_env(self) -> dict[str, str]:
        """The web application calls each service's API at its address on this stack."""
        return {"AUTH_JWT_SECRET": self.jwt_secret, "ENVIRONMENT": "development", "REGION_FILE": str(self.region_file),
                "PYTHONUNBUFFERED": "1", **{f"{service.upper()}_URL": self.url(service) for service in SERVICES}}

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
            "ENVIRONMENT": "development",  # the published secret above and dev-token are allowed
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
            "NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # webhook receivers of demos and tests run here
            **({"NOTIFICATIONS_QUIET_PERIOD_S": str(self.quiet_period_s)} if self.quiet_period_s is not None else {}),
        }

    def infra_commands(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        """The broker and the database (call ``prepare_data_dir`` first: it formats the broker's log)."""
        kafka_dir = self.data_dir / "kafka"
        commands = {"kafka": ([*kafka_java(kafka_dir), "kafka.Kafka", str(kafka_dir / "server.properties")], {})}
        if self.ferretdb_handler == "postgresql":
            commands["postgres"] = ([*as_postgres_user(), postgres_bin("postgres"), "-D", str(self.postgres_dir),
                                     "-p", str(self.postgres_port), "-c", "listen_addresses=127.0.0.1",
                                     "-c", f"unix_socket_directories={self.postgres_dir}",
                                     "-c", "plan_cache_mode=force_custom_plan",  # ferretdb-gin-twins.sql
                                     # FerretDB's documents (1-3 kB of JSONB) are compressed inline; a list reads
                                     # and decompresses hundreds of them: lz4 does it about 3x faster than pglz
                                     "-c", "default_toast_compression=lz4",
                                     # the data lives in memory: with the default 4, the planner scans a whole
                                     # collection rather than use an index that selects a fifth of it (a
                                     # company's lines: 88 ms instead of 22)
                                     "-c", "random_page_cost=1.1"], {})
        return {
            **commands,
            "mongo": ([str(TOOLS_DIR / FERRETDB_BUILD / "ferretdb"), *self.ferretdb_storage(),
                       f"--state-dir={self.data_dir / 'mongo'}",
                       f"--listen-addr=127.0.0.1:{self.mongo_port}", "--debug-addr=-", "--telemetry=disable",
                       "--log-level=warn"], {}),
        }

    def infra_ports(self) -> list[int]:
        """What listens once the broker and the database are up."""
        return [self.kafka_port, self.mongo_port] + [self.postgres_port] * (self.ferretdb_handler == "postgresql")

    def ferretdb_storage(self) -> list[str]:
        if self.ferretdb_handler == "postgresql":
            # pgx's default pool is max(4, cores) connections for the whole platform: a few open cursors and
            # every other request waited (30 s timeouts when seeding a region); PostgreSQL allows 100
            return ["--handler=postgresql",
                    f"--postgresql-url=postgres://postgres@127.0.0.1:{self.postgres_port}/postgres?pool_max_conns=40"]
        return ["--handler=sqlite", f"--sqlite-url=file:{self.data_dir / 'mongo'}/"]

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"

    def prepare_data_dir(self) -> None:
        """Create the data folder; write the broker's settings and format its log directory once;
        create the PostgreSQL cluster once."""
        (self.data_dir / "mongo").mkdir(parents=True, exist_ok=True)
        if self.ferretdb_handler == "postgresql" and not (self.postgres_dir / "PG_VERSION").exists():
            init_postgres(self.postgres_dir)
        kafka_dir = self.data_dir / "kafka"
        (kafka_dir / "log").mkdir(parents=True, exist_ok=True)
        properties = kafka_dir / "server.properties"
        properties.write_text("".join(f"{name}={value}\n" for name, value in self.kafka_properties().items()))
        (kafka_dir / "log4j2.properties").write_text(KAFKA_LOG4J.format(log=kafka_dir / "server.log"))
        if not (kafka_dir / "log" / "meta.properties").exists():
            subprocess.run([*kafka_java(kafka_dir), "kafka.tools.StorageTool", "format", "--ignore-formatted",
                            f"--cluster-id={kafka_cluster_id()}",  # joined: an id may start with "-"
                            "--config", str(properties)],
                           check=True, capture_output=True)

    def kafka_properties(self) -> dict[str, object]:
        """A single-node KRaft broker: standard settings, internal topics with one replica."""
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{self.kafka_controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.kafka_port},CONTROLLER://127.0.0.1:{self.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir / "kafka" / "log",
            "num.partitions": 3,
            "auto.create.topics.enable": "false",  # every service creates its topics explicitly
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 3,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "group.min.session.timeout.ms": 1000,  # tests detect a stopped consumer within seconds
        }

    def web_command(self, service: str) -> tuple[list[str], dict[str, str]]:
        bin_dir = Path(self.python).parent
        return ([str(bin_dir / "gunicorn"), "--config", "python:plumbing.gunicorn_config",
                 "--bind", f"127.0.0.1:{self.web_port(service)}",
                 "--workers", str(self.web_workers), "--graceful-timeout", "5",
                 "--timeout", "120",  # a batch of 10,000 lines on a busy machine: gunicorn's 30 s killed it
                 f"{service}.wsgi:create_app()"],
                {**self.service_env(service),  # /metrics adds up the gunicorn processes' files there
                 "PROMETHEUS_MULTIPROC_DIR": str(Path(self.data_dir) / "metrics" / service)})

    def metrics_port(self, service: str) -> int:
        """Where a service's worker serves its Prometheus metrics."""
        return self.base_port + PORT_OFFSETS[service][1]

    def worker_command(self, service: str) -> tuple[list[str], dict[str, str]]:
        return [self.python, "-m", f"{service}.worker"], {
            **self.service_env(service), "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(self.metrics_port(service))}

    def mail_sink_command(self) -> tuple[list[str], dict[str, str]]:
        sink = Path(__file__).resolve().parent / "mailsink.py"
        return ([self.python, str(sink), "--port", str(self.smtp_port), "--dir", str(self.mail_dir)],
                {"PYTHONUNBUFFERED": "1"})

    def web_app_command(self) -> tuple[list[str], dict[str, str]]:
        bin_dir = Path(self.python).parent
        return ([str(bin_dir / "gunicorn"), "--config", "python:plumbing.gunicorn_config",
                 "--bind", f"127.0.0.1:{self.web_app_port}", "--workers", str(self.web_workers),
                 "--graceful-timeout", "5", "web.wsgi:create_app()"], self.web_app_env())

    def service_commands(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        commands = {"web": self.web_app_command()}
        for service in SERVICES:
            commands[f"{service}-web"] = self.web_command(service)
            commands[f"{service}-worker"] = self.worker_command(service)
        commands["mail-sink"] = self.mail_sink_command()
        return commands


def kafka_java(kafka_dir: Path) -> list[str]:
    """The JVM command line of Kafka's tools, as the official scripts build it (bounded heap)."""
    libs = TOOLS_DIR / f"kafka-{KAFKA_VERSION}" / "libs"
    return ["java", KAFKA_HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={kafka_dir / 'log4j2.properties'}", "-cp", f"{libs}/*"]


def postgres_bin(program: str) -> str:
    """A program of Debian's PostgreSQL server (deploy/local/infra.sh installs it)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise FileNotFoundError("PostgreSQL is not installed: run deploy/local/infra.sh")
    return str(found[-1])


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's ``postgres`` user."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def init_postgres(directory: Path) -> None:
    """An empty cluster, reached over TCP on 127.0.0.1 without a password (a local development store)."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        for parent in directory.parents:  # the postgres user must reach its folder (e.g. in a 0700 temp dir)
            if parent.stat().st_mode & 0o001 == 0:
                parent.chmod(parent.stat().st_mode | 0o001)
    subprocess.run([*as_postgres_user(), postgres_bin("initdb"), "-D", str(directory), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    # FerretDB's indexes usable by its lookups (see the file); single-user mode: no server is running yet
    done = subprocess.run([*as_postgres_user(), postgres_bin("postgres"), "--single", "-j", "-D", str(directory),
                           "postgres"], input=GIN_TWINS_SQL.read_text(), capture_output=True, text=True, check=True)
    if "ERROR:" in done.stdout + done.stderr:
        raise RuntimeError(f"{GIN_TWINS_SQL.name} failed: {done.stdout}{done.stderr}")


def kafka_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


KAFKA_LOG4J = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def free_port_block(size: int = 20) -> int:
    """A base port such that base..base+size are free now, below the kernel's ephemeral ports: one of those,
    free when chosen, can be given to a client's connection before the server binds it."""
    blocks = (_first_ephemeral_port() - 10000) // size - 1
    for _ in range(200):
        base = 10000 + (uuid.uuid4().int % blocks) * size
        if all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def _first_ephemeral_port() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


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


def full_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
