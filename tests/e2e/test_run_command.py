"""The README's run command: up with one command, its printed example raises an alert, Ctrl-C stops all."""
import os
import re
import socket
import subprocess
import sys

import pytest
import requests

from stack import SERVICES, StackConfig
from support import ROOT, RunCommand, free_port_block, wait_until

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_run_command_starts_everything_and_its_example_makes_an_alert_appear(tmp_path):
    base_port = free_port_block()
    config = StackConfig(data_dir=tmp_path, base_port=base_port)
    run = RunCommand(tmp_path / "data", base_port)
    try:
        run.wait_for("tourne en local")
        printed = run.output
        # the seed played the follow-up stories, each saying what happened in French
        for said in ("sans heures, avec leur motif", "Relances envoyées : ", "missing",
                     "Validation groupée de 40 lignes", "back_on_track"):
            assert said in printed, printed
        example = re.search(r"^\s+(\.venv/bin/python deploy/local/demo\.py slice .*)$", printed, re.M).group(1)
        for service in SERVICES:
            assert config.url(service) in printed
        # the pages' address comes first, before the seed and the APIs, and a person opening it sees the
        # region's one-stop shop
        opened = re.search(r"Ouvrez (http://[\d.:]+)", printed).group(1)
        assert opened == config.web_app_url
        assert printed.index("Ouvrez") < printed.index("Relances envoyées") < printed.index(
            f"{config.url('markets')}/api/v1")
        page = requests.get(opened, timeout=10)
        assert page.status_code == 200 and "Guichet unique des clauses sociales de l&#39;Aude" in page.text

        slice_run = subprocess.run(example.replace(".venv/bin/python", sys.executable, 1), shell=True,
                                   cwd=ROOT, capture_output=True, text=True, timeout=240)

        assert slice_run.returncode == 0, slice_run.stdout + slice_run.stderr
        assert "Objectif d'heures atteint" in slice_run.stdout
        assert "quota de 833 heures" in slice_run.stdout
    finally:
        run.stop()
    ports = [config.kafka_port, config.kafka_controller_port, config.mongo_port] + [config.web_port(s) for s in SERVICES] + [config.web_app_port]
    wait_until(lambda: not any(listening(port) for port in ports), timeout=20, what="every port released")
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"processes left running: {leftovers}"
    assert os.path.isdir(tmp_path / "data" / "mongo")  # the data stayed in the folder asked for
