"""A test run leaves nothing running: what its fixtures do not stop, tests/run.sh stops and reports.

Each case runs a small test module in a nested pytest, marked as tests/run.sh marks a run."""
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from support import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import leftovers  # noqa: E402

STARTS_A_BROKER_AND_A_STORE = textwrap.dedent('''
    import time
    from pathlib import Path
    from stack import StackConfig
    from support import Processes, free_port_block, start_infra

    def test_infra(tmp_path):
        processes = Processes(tmp_path)
        try:
            start_infra(processes, StackConfig(data_dir=tmp_path, base_port=free_port_block()))
            Path(tmp_path.parent.parent / "started").write_text("yes")
            time.sleep(float(__import__("os").environ["HOLD_S"]))
        finally:
            processes.stop_all()
''')


def nested_run(tmp_path: Path, hold_s: float) -> tuple[str, subprocess.Popen]:
    module = tmp_path / "test_nested.py"
    module.write_text(STARTS_A_BROKER_AND_A_STORE)
    run_id = uuid.uuid4().hex
    env = {**os.environ, "CLAUSES_TEST_RUN": run_id, "HOLD_S": str(hold_s)}
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-c", str(ROOT / "tests/pytest.ini"), str(module),
                            "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "base")],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return run_id, run


def test_a_run_that_ends_normally_leaves_nothing(tmp_path):
    run_id, run = nested_run(tmp_path, hold_s=0)
    assert run.wait(timeout=120) == 0, run.stdout.read().decode()[-3000:]
    assert leftovers.marked(run_id) == {}


def test_what_a_killed_run_left_behind_is_stopped_and_reported(tmp_path):
    run_id, run = nested_run(tmp_path, hold_s=300)
    wait_until(lambda: (tmp_path / "started").exists(), timeout=120, what="the nested run's broker and store")
    os.kill(run.pid, signal.SIGKILL)  # no teardown runs
    run.wait(timeout=30)
    left = leftovers.marked(run_id)
    assert any("kafka.Kafka" in command for command in left.values())
    assert any("ferretdb" in command for command in left.values())

    check = subprocess.run([sys.executable, str(ROOT / "tests/leftovers.py"), run_id], capture_output=True,
                           text=True, timeout=60)

    assert check.returncode == 1
    assert "left running by the tests" in check.stderr and "kafka.Kafka" in check.stderr
    assert leftovers.marked(run_id) == {}
