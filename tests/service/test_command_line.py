"""The operator commands as a person types them: ``flask --app <service>.wsgi ...``, in a fresh process."""
import subprocess
import sys

import pytest

from stack import SERVICES, StackConfig

AUDE = StackConfig.region_file  # the dataclass field's default: deploy/regions/aude.yaml

# What a shell without any of the platform's settings has.
EMPTY_ENVIRONMENT = {"PATH": "/usr/bin:/bin"}


def flask(*args: str, env=EMPTY_ENVIRONMENT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("service", SERVICES)
def test_help_lists_a_services_commands_without_any_setting(service):
    done = flask("--app", f"{service}.wsgi", "--help")

    assert done.returncode == 0, done.stderr
    assert "dev-token" in done.stdout and "create-topics" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_scheduled_commands_are_listed():
    listed = {service: flask("--app", f"{service}.wsgi", "--help").stdout for service in SERVICES}

    assert "evaluate-lots" in listed["markets"]
    assert "check-windows" in listed["participants"] and "anonymise-exited" in listed["participants"]
    assert "purge-upload-reports" in listed["hours"]
    assert "evaluate-rules" in listed["notifications"] and "send-digests" in listed["notifications"]


def test_a_command_without_settings_says_what_is_missing_in_one_line():
    done = flask("--app", "markets.wsgi", "evaluate-lots")

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: invalid environment for the markets service: set one of AUTH_JWT_SECRET (local development), "
        "AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL to verify tokens"]


def test_a_command_whose_database_does_not_answer_says_so_in_one_line():
    done = flask("--app", "notifications.wsgi", "evaluate-rules",
                 env={**EMPTY_ENVIRONMENT, "AUTH_JWT_SECRET": "x" * 32, "MONGODB_URL": "mongodb://127.0.0.1:9",
                      "REGION_FILE": str(AUDE)})

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: the database does not answer at mongodb://127.0.0.1:9 (MONGODB_URL)"]
