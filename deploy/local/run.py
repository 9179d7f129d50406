"""Start the whole platform on this machine: broker, database, four services, demo region.

    deploy/local/run.sh [--region aude] [--reset] [--base-port 8100] [--data-dir .local] [--no-seed]

Ctrl-C stops every process it started (honcho runs them and stops them all together).
"""
import argparse
import shutil
import sys
import threading
from pathlib import Path

from honcho.manager import Manager

from demo import Platform, seed
from plumbing.region import load_region
from stack import SERVICES, StackConfig, full_env, shell_line, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "deploy" / "regions"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reset", action="store_true", help="delete the data folder first")
    parser.add_argument("--base-port", type=int, default=8100,
                        help="S3 on BASE, Kafka on BASE+1, MongoDB on BASE+2, services on BASE+10..13")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".local", help="where every byte of data lives")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--no-seed", action="store_true", help="do not seed the demo region")
    parser.add_argument("--region", default="aude", choices=sorted(p.stem for p in REGIONS.glob("*.yaml")),
                        help="the region the services serve: deploy/regions/REGION.yaml")
    return parser.parse_args(argv)


def banner(config: StackConfig) -> str:
    platform = Platform(config)
    region = load_region(config.region_file)
    token = platform.token("facilitator", *region.territories, subject="demo-facilitator")["Authorization"]
    lines = ["", "=" * 78, "La plateforme des clauses sociales tourne en local.", ""]
    for service in SERVICES:
        lines.append(f"  {service:<14} {config.url(service)}/api/v1   docs: {config.url(service)}/docs/{service}/")
    lines += [
        f"  Kafka          {config.kafka_bootstrap}   MongoDB: {config.mongodb_url}   data: {config.data_dir}",
        f"  Courriels      SMTP 127.0.0.1:{config.smtp_port} -> {config.mail_dir} (un fichier .eml par message)",
        "",
        "Faire passer une déclaration de bout en bout (marché → heures → quota atteint → alerte) :",
        f"  .venv/bin/python deploy/local/demo.py slice --base-port {config.base_port}   (région de l'Aude)",
        "",
        f"Ou à la main, avec un jeton de facilitateur des territoires de la région « {region.name} » :",
        f"  export TOKEN='{token.split(' ', 1)[1]}'",
        f"  curl -s -H \"Authorization: Bearer $TOKEN\" {config.url('notifications')}/api/v1/alerts",
        "",
        "Ctrl-C arrête tout.",
        "=" * 78, ""]
    return "\n".join(lines)


def prepare(config: StackConfig, seed_demo: bool) -> None:
    """Runs beside honcho: waits for everything, seeds the demo region, prints how to use it."""
    try:
        for port in (config.kafka_port, config.mongo_port):
            wait_for_port(port, timeout=60)
        platform = Platform(config)
        platform.wait_ready(timeout=120)
        if seed_demo:
            seed(platform)
        print(banner(config), flush=True)
    except Exception as exc:  # noqa: BLE001 - tell the person, the processes keep running
        print(f"\n!! the stack did not come up: {exc}\n", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.reset and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    config = StackConfig(data_dir=args.data_dir.resolve(), base_port=args.base_port, web_workers=args.web_workers,
                         region_file=REGIONS / f"{args.region}.yaml")
    config.prepare_data_dir()
    manager = Manager()
    for name, (argv_, env) in config.infra_commands().items():  # chatty: their output goes to files
        manager.add_process(name, f"{shell_line(argv_)} >> {config.data_dir / name}.out 2>&1",
                            env=full_env(env), cwd=str(ROOT))
    for name, (argv_, env) in config.service_commands().items():
        manager.add_process(name, shell_line(argv_), env=full_env(env), cwd=str(ROOT))
    threading.Timer(1.0, prepare, args=(config, not args.no_seed)).start()
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
