"""The stack an operator runs, started by the run command: a killed process comes back and nothing is
lost; the daily commands run by themselves; the operator command the banner prints works as printed.

One stack for the module (a start costs 20-30 s); the last test stops it."""
import os
import re
import signal
import subprocess
import uuid

import pytest
import requests

from demo import Platform, Slice
from stack import StackConfig
from support import ROOT, RunCommand, assert_realised_hours_settle_at, free_port_block, wait_until

pytestmark = pytest.mark.e2e
EVERY_S = 15  # --schedule-every: the daily commands fire within seconds


@pytest.fixture(scope="module")
def operator_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("operator") / "data"
    base_port = free_port_block()
    run = RunCommand(data_dir, base_port, "--no-seed", "--schedule-every", str(EVERY_S))  # its tests make their own data
    try:
        run.wait_for("tourne en local")
        yield run, Platform(StackConfig(data_dir=data_dir, base_port=base_port))
    finally:
        run.stop()


def declare_until_accepted(slice_: Slice, api_key: dict, line: dict) -> None:
    """Post one line as a payroll program would: again while the platform is partly down (no answer,
    or 5xx), under one Idempotency-Key so that a line is never accepted twice."""
    headers = {**api_key, "Idempotency-Key": uuid.uuid4().hex}
    url = slice_.p.config.url("hours") + "/api/v1/declarations"

    def attempt():
        try:
            response = requests.post(url, json=line, headers=headers, timeout=10)
        except requests.RequestException:
            return False
        assert response.status_code in (201, 500, 502, 503), response.text
        return response.status_code == 201
    wait_until(attempt, timeout=120, what="the line accepted", interval=0.5)


def test_a_killed_process_of_each_kind_comes_back_and_no_declaration_is_lost_or_counted_twice(operator_stack):
    run, platform = operator_stack
    s = Slice(platform)
    lot = s.create_lot(amount_excl_vat=10_000_000)  # 8 333 hours: the run below stays under it
    api_key = s.award(lot)
    participants = [s.eligible_participant(first_name=f"Personne{i}") for i in range(4)]
    lines = [{"lot_id": lot["id"], "participant_id": p, "month": f"2026-{m:02d}", "hours": 20 + (i % 7) * 10.25,
              "mode": "direct_hire", "contract_type": "cdd"}
             for i, (p, m) in enumerate((p, m) for m in range(1, 9) for p in participants)]
    for line in lines[:len(participants)]:  # the hours service knows the lot and every participant now
        s.declare(api_key, line["lot_id"], line["participant_id"], line["month"], line["hours"])
    rest = lines[len(participants):]
    victims = ["markets-worker", "hours-web", "kafka", "mongo"]  # a worker, a web server, the broker, the store
    chunk = len(rest) // len(victims)

    for index, victim in enumerate(victims):
        pid = run.pid(victim)
        os.kill(pid, signal.SIGKILL)
        for line in rest[index * chunk:(index + 1) * chunk if index < len(victims) - 1 else None]:
            declare_until_accepted(s, api_key, line)
        run.wait_for(f"{victim} s'est arrêté (signal 9) ; redémarrage dans 1 s", timeout=30)
        run.wait_for(f"{victim} relancé (pid", timeout=30)
        assert run.pid(victim) != pid
        platform.wait_ready(timeout=120)  # every service answers /health/ready again

    expected = sum(line["hours"] for line in lines)
    assert_realised_hours_settle_at(s, lot["id"], expected, timeout=120)


def test_the_daily_evaluation_runs_by_itself_and_moves_a_late_lot(operator_stack):
    run, platform = operator_stack
    s = Slice(platform)
    # 2026-01-01 to 2027-06-30: more than half the period has passed, and no hour has been declared
    lot = s.create_lot()
    assert lot["progress"]["status"] == "not_started"
    s.award(lot)  # the market is in execution: the evaluation judges its lots from now on

    status = wait_until(lambda: (st := s.lot(lot["id"])["progress"]["status"]) != "not_started" and st,
                        timeout=4 * EVERY_S + 30, what="the scheduled evaluation", interval=1)

    assert status == "behind"
    # the command prints its summary once done, a moment after the lot's status changed
    wait_until(lambda: re.search(r"markets evaluate-lots \| [1-9]\d* lot\(s\) changed status", run.output),
               timeout=30, what="the evaluation's summary", interval=0.5)
    for command in ("participants check-windows", "participants anonymise-exited", "hours purge-upload-reports",
                    "notifications evaluate-rules", "notifications send-digests"):
        run.wait_for(f"{command} | ", timeout=2 * EVERY_S + 30)


def test_the_operator_command_of_the_banner_works_as_printed(operator_stack):
    run, _ = operator_stack
    printed = re.search(r"^\s+(deploy/local/manage\.sh .*markets evaluate-lots)$", run.output, re.M).group(1)

    done = subprocess.run(printed, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "lot(s) changed status" in done.stdout


def test_sigterm_stops_every_process_it_started(operator_stack):
    run, platform = operator_stack
    pid_files = {path.stem: path for path in (run.data_dir / "run").glob("*.pid")}
    # broker, PostgreSQL, FerretDB, mail sink, five web servers and five workers
    assert set(pid_files) == {*platform.config.infra_commands(), *platform.config.service_commands()}
    groups = [int(path.read_text()) for path in pid_files.values()]

    assert run.stop(signal.SIGTERM) == 0

    assert "arrêt de tous les processus" in run.output
    for group in groups:  # each runs in a group of its own: gunicorn's workers and the JVM included
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
