"""The local stack's supervisor on real processes: a crash loop is bounded, a stop reaches whole groups."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import supervise
from support import wait_until
from supervise import Supervisor


@pytest.fixture
def quick(monkeypatch):
    """Restart delays short enough for a test; the same rules."""
    monkeypatch.setattr(supervise, "BACKOFF_S", 0.05)
    monkeypatch.setattr(supervise, "STOP_TIMEOUT_S", 2.0)


def run_until(supervisor: Supervisor, done, timeout: float = 30) -> None:
    """Run the supervisor (in this, the main thread: it handles signals) until ``done()``, then stop it."""
    def watch():
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
        supervisor.stopping.set()
    threading.Thread(target=watch, daemon=True).start()
    assert supervisor.run() == 0


def gone(pid: int) -> bool:
    """No such process, or a zombie (dead; whoever adopted it has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_crash_looping_process_is_restarted_with_a_growing_delay_then_left_stopped(quick, tmp_path, capsys):
    supervisor = Supervisor(tmp_path / "run", cwd=tmp_path)
    supervisor.add("crashes", ["sh", "-c", "echo starting; exit 3"], dict(os.environ))
    crashes = supervisor.programs["crashes"]

    run_until(supervisor, lambda: len(crashes.restarts) == 5 and crashes.process is None)  # given up

    output = capsys.readouterr().out
    assert output.count("crashes              | starting") == 6
    for delay in ("0.05", "0.1", "0.2", "0.4", "0.8"):
        assert f"crashes s'est arrêté (code 3) ; redémarrage dans {delay} s" in output
    assert "crashes s'est arrêté (code 3) ; déjà relancé 5 fois en 60 s : il n'est plus relancé" in output


def test_a_stop_reaches_the_children_of_every_process(quick, tmp_path):
    supervisor = Supervisor(tmp_path / "run", cwd=tmp_path)
    # a parent that ignores SIGTERM and a child of its own: the group is killed after the timeout
    supervisor.add("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & echo $! > child.pid; wait"],
                   dict(os.environ))

    run_until(supervisor, lambda: (tmp_path / "child.pid").exists())

    child = int((tmp_path / "child.pid").read_text())
    wait_until(lambda: gone(child), timeout=5, what="the child killed with its group")  # SIGKILL is not instant
    assert not (tmp_path / "run" / "stubborn.pid").exists()


def test_a_process_killed_by_a_signal_is_said_so_and_restarted(quick, tmp_path, capsys):
    supervisor = Supervisor(tmp_path / "run", cwd=tmp_path)
    supervisor.add("victim", ["sleep", "300"], dict(os.environ))
    victim = supervisor.programs["victim"]
    threading.Timer(0.5, lambda: os.kill(victim.process.pid, signal.SIGKILL)).start()

    run_until(supervisor, lambda: victim.restarts and victim.restart_at is None)  # restarted

    output = capsys.readouterr().out
    assert "victim s'est arrêté (signal 9) ; redémarrage dans 0.05 s" in output
    assert "victim relancé (pid" in output
