"""The service tests again, against the official Apache Kafka and MongoDB images (testcontainers).

Where no Docker engine answers (CI here), this is reported as skipped, never as passed.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import docker_engine_answers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not docker_engine_answers(),
                    reason="no Docker engine answers on this machine: the service tests ran against Apache Kafka and "
                           "FerretDB, not MongoDB; run `TEST_INFRA=docker tests/run.sh tests/service` where Docker exists")
def test_the_service_tests_pass_against_apache_kafka_and_mongodb():
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", "tests/pytest.ini", "tests/service", "-q"],
                            cwd=ROOT, env={**os.environ, "TEST_INFRA": "docker"}, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
