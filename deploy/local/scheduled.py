"""The daily operator commands of the local stack, on the schedules of the Kubernetes CronJobs.

The schedules are written once, in the CronJobs of ``deploy/kubernetes`` (``schedule``, ``timeZone``,
``command``): this reads them from there. Every command also runs once shortly after start-up: each is
idempotent, and time may have moved a lot's status while the stack was stopped.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

MANIFESTS = Path(__file__).resolve().parents[1] / "kubernetes"


@dataclass(frozen=True)
class DailyCommand:
    service: str
    args: tuple[str, ...]  # what follows ``flask --app <service>.wsgi``
    schedule: str  # cron
    time_zone: str

    @property
    def name(self) -> str:
        return f"{self.service} {' '.join(self.args)}"

    def trigger(self, every_s: float | None = None):
        if every_s:
            return IntervalTrigger(seconds=every_s)
        return CronTrigger.from_crontab(self.schedule, timezone=self.time_zone)


def daily_commands(folder: Path = MANIFESTS) -> list[DailyCommand]:
    """Every CronJob of the manifests, whose command is ``flask --app <service>.wsgi <command>``."""
    commands = []
    for path in sorted(folder.glob("*.yaml")):
        for manifest in yaml.safe_load_all(path.read_text()):
            if manifest and manifest["kind"] == "CronJob":
                spec = manifest["spec"]
                (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
                _flask, _app, module, *args = container["command"]
                commands.append(DailyCommand(module.removesuffix(".wsgi"), tuple(args), spec["schedule"],
                                             spec["timeZone"]))
    return commands


def start(run, every_s: float | None = None, first_after_s: float = 5.0) -> BackgroundScheduler:
    """Call ``run(command)`` for each daily command on its schedule, or every ``every_s`` seconds (for
    tests and demonstrations); each the first time ``first_after_s`` from now. One at a time: the
    machine is small, and the commands are short."""
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)})
    first = datetime.now().astimezone() + timedelta(seconds=first_after_s)
    for command in daily_commands():
        scheduler.add_job(run, command.trigger(every_s), args=[command], id=command.name, next_run_time=first,
                          coalesce=True, misfire_grace_time=None)  # late (a busy machine) is better than never
    scheduler.start()
    return scheduler


def describe(command: DailyCommand, every_s: float | None = None) -> str:
    """When a command runs, in French, for the banner."""
    if every_s:
        return f"toutes les {every_s:g} s"
    next_run = command.trigger().get_next_fire_time(None, datetime.now().astimezone())
    return f"chaque jour à {next_run:%H:%M} ({command.time_zone})"
