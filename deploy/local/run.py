"""Start the whole platform on this machine: broker, database, five services, the web application, demo region.

    deploy/local/run.sh [--region aude] [--reset] [--base-port 8100] [--data-dir .local] [--no-seed]
                        [--schedule-every S]

A process that dies is restarted (supervise.py); the daily operator commands run on the Kubernetes
CronJobs' schedules and once after start-up (scheduled.py); each service's environment is written to
<data dir>/env for deploy/local/manage.sh. Ctrl-C stops every process it started.
"""
import argparse
import os
import shlex
import shutil
import sys
import threading
from pathlib import Path

from plumbing.region import load_region

import scheduled
from demo import Platform, seed
from stack import SERVICES, StackConfig, full_env, wait_for_port
from supervise import Supervisor

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = ROOT / ".local"
REGIONS = ROOT / "deploy" / "regions"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reset", action="store_true", help="delete the data folder first")
    parser.add_argument("--base-port", type=int, default=8100,
                        help="Kafka on BASE+1, MongoDB BASE+2, SMTP BASE+3, services BASE+10..13")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where every byte of data lives")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--no-seed", action="store_true",
                        help="seed the region's reference (trades, partners) but not the demo region's markets, "
                             "people and stories")
    parser.add_argument("--schedule-every", type=float, metavar="SECONDS",
                        help="run the daily commands every SECONDS instead (tests, demonstrations)")
    parser.add_argument("--region", default="aude", choices=sorted(p.stem for p in REGIONS.glob("*.yaml")),
                        help="the region the services serve: deploy/regions/REGION.yaml")
    return parser.parse_args(argv)


def operator_command(config: StackConfig, service: str, *args: str) -> list[str]:
    """A service's operator command against this stack, as a person types it from the repository root."""
    data_dir = [] if config.data_dir == DEFAULT_DATA_DIR.resolve() else ["--data-dir", str(config.data_dir)]
    return ["deploy/local/manage.sh", *data_dir, service, *args]


def write_service_environments(config: StackConfig) -> None:
    """What manage.sh reads: each service's environment, as shell assignments."""
    folder = config.data_dir / "env"
    folder.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (folder / f"{service}.env").write_text(
            "".join(f"{name}={shlex.quote(value)}\n" for name, value in config.service_env(service).items()))


def banner(config: StackConfig, every_s: float | None) -> str:
    platform = Platform(config)
    region = load_region(config.region_file)
    token = platform.token("facilitator", *region.territories, subject="demo-facilitator")["Authorization"]
    lines = ["", "=" * 78, "La plateforme des clauses sociales tourne en local.", "",
             f"  Ouvrez {config.web_app_url}   (connexion : choisissez une personne de démonstration)", ""]
    for service in SERVICES:
        lines.append(f"  {service:<14} {config.url(service)}/api/v1   docs: {config.url(service)}/docs/{service}/")
    lines += [
        f"  Kafka          {config.kafka_bootstrap}   MongoDB: {config.mongodb_url}   data: {config.data_dir}",
        f"  Courriels      SMTP 127.0.0.1:{config.smtp_port} -> {config.mail_dir} (un fichier .eml par message)",
        "",
        "Faire passer une déclaration de bout en bout (région de l'Aude : marché → heures → quota atteint → alerte) :",
        f"  .venv/bin/python deploy/local/demo.py slice --base-port {config.base_port}",
        "",
        f"Ou à la main, avec un jeton de facilitateur des territoires de la région « {region.name} » :",
        f"  export TOKEN='{token.split(' ', 1)[1]}'",
        f"  curl -s -H \"Authorization: Bearer $TOKEN\" {config.url('notifications')}/api/v1/alerts",
        "",
        "Commandes d'exploitation d'un service, avec son environnement (la liste : --help) :",
        f"  {shlex.join(operator_command(config, 'markets', 'evaluate-lots'))}",
        f"  {shlex.join(operator_command(config, 'notifications', '--help'))}",
        "Lancées ici une fois au démarrage, puis (horaires des CronJobs de deploy/kubernetes) :"]
    lines += [f"  {command.name:<31} {scheduled.describe(command, every_s)}" for command in scheduled.daily_commands()]
    lines += ["", "Un processus qui s'arrête est relancé. Ctrl-C arrête tout.", "=" * 78, ""]
    return "\n".join(lines)


def prepare(config: StackConfig, supervisor: Supervisor, args) -> None:
    """Runs beside the supervisor: waits for everything, seeds the demo region, prints how to use it,
    then starts the daily commands."""
    try:
        for port in config.infra_ports():
            wait_for_port(port, timeout=60)
        platform = Platform(config)
        platform.wait_ready(timeout=120)
        if not args.no_seed:  # the pages work at once, and fill up as the region is seeded
            supervisor.show(f"\n  Ouvrez {config.web_app_url} : la région de démonstration s'y remplit pendant "
                            "une à deux minutes.\n")
        seed(platform, stories=not args.no_seed, region=not args.no_seed)
        supervisor.show(banner(config, args.schedule_every))
    except Exception as exc:  # noqa: BLE001 - tell the person, the processes keep running
        print(f"\n!! the stack did not come up: {exc}\n", file=sys.stderr, flush=True)
        return

    def run_daily(command: scheduled.DailyCommand) -> None:
        code = supervisor.run_once(command.name, operator_command(config, command.service, *command.args),
                                   dict(os.environ))
        if code:
            supervisor.say("planification", f"« {command.name} » a échoué (code {code})")
    scheduled.start(run_daily, args.schedule_every)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.reset and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    config = StackConfig(data_dir=args.data_dir.resolve(), base_port=args.base_port, web_workers=args.web_workers,
                         region_file=REGIONS / f"{args.region}.yaml")
    config.prepare_data_dir()
    write_service_environments(config)
    supervisor = Supervisor(pid_dir=config.data_dir / "run", cwd=ROOT)
    for name, (argv_, env) in config.infra_commands().items():  # chatty: their output goes to files
        supervisor.add(name, argv_, full_env(env), log_file=config.data_dir / f"{name}.out")
    for name, (argv_, env) in config.service_commands().items():
        supervisor.add(name, argv_, full_env(env))
    threading.Thread(target=prepare, args=(config, supervisor, args), daemon=True).start()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
