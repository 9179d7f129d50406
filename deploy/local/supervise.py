"""The local stack's process supervisor: starts processes, restarts one that dies, stops them all.

Written here rather than taken from supervisord or honcho: honcho stops everything when one process
exits, and supervisord restarts a process that was running at once (a backoff only while it starts),
neither prefixes each process's lines in one output, and we want what the person reads in French.

- Each process runs in its own process group (a new session), so a stop reaches its children too:
  gunicorn's workers, the JVM's threads. Its pid is written to ``<pid_dir>/<name>.pid``.
- A process that exits is restarted after 1 s, doubled for each restart in the last minute; after
  ``MAX_RESTARTS`` in a minute it is left stopped, and the output says so.
- SIGINT (Ctrl-C) or SIGTERM stops every process: SIGTERM to each group, SIGKILL to what remains
  after ``STOP_TIMEOUT_S``.
"""
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_S = 1.0
RESTART_WINDOW_S = 60.0
MAX_RESTARTS = 5
STOP_TIMEOUT_S = 15.0


@dataclass
class Program:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path | None = None  # chatty processes write there instead of the run output
    process: subprocess.Popen | None = None
    restart_at: float | None = None  # when a dead process is due to start again
    restarts: list[float] = field(default_factory=list)  # when it was restarted, within the last window


class Supervisor:
    def __init__(self, pid_dir: Path, cwd: Path):
        self.pid_dir = pid_dir
        self.cwd = cwd
        self.programs: dict[str, Program] = {}
        self.commands: set[subprocess.Popen] = set()  # one-off commands running now (run_once)
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # one writer of the output and of the tables at a time

    def add(self, name: str, argv: list[str], env: dict[str, str], log_file: Path | None = None) -> None:
        self.programs[name] = Program(name, argv, env, log_file)

    def say(self, name: str, line: str) -> None:
        """One line of the run output, from a process or about one."""
        self.show(f"{time.strftime('%H:%M:%S')} {name:<20} | {line}")

    def show(self, text: str) -> None:
        with self.lock:
            print(text, flush=True)

    def run(self) -> int:
        """Start every process, keep them running until SIGINT or SIGTERM, then stop them all."""
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        for program in self.programs.values():
            self._start(program)
        while not self.stopping.wait(0.2):
            for program in self.programs.values():
                self._watch(program)
        self._stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        return 0

    def run_once(self, name: str, argv: list[str], env: dict[str, str]) -> int | None:
        """Run a command to its end with its output in the run output (not restarted; stopped with the
        rest). Returns its exit code, or None when the stack is stopping."""
        with self.lock:
            if self.stopping.is_set():
                return None
            process = self._popen(argv, env, None)
            self.commands.add(process)
        self._relay_output(name, process)
        code = process.wait()
        with self.lock:
            self.commands.discard(process)
        return code

    def _popen(self, argv, env, log_file) -> subprocess.Popen:
        output = open(log_file, "ab") if log_file else subprocess.PIPE
        try:
            return subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=output, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if log_file:
                output.close()  # the process has its own copy

    def _start(self, program: Program) -> None:
        program.process = self._popen(program.argv, program.env, program.log_file)
        program.restart_at = None
        (self.pid_dir / f"{program.name}.pid").write_text(f"{program.process.pid}\n")
        if program.log_file is None:
            threading.Thread(target=self._relay_output, args=(program.name, program.process), daemon=True).start()

    def _relay_output(self, name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.say(name, line.decode(errors="replace").rstrip("\n"))

    def _watch(self, program: Program) -> None:
        now = time.monotonic()
        if program.restart_at is not None:
            if now >= program.restart_at:
                self._start(program)
                self.say("supervision", f"{program.name} relancé (pid {program.process.pid})")
            return
        code = program.process.poll() if program.process else None
        if code is None:
            return
        _kill_group(program.process.pid, signal.SIGKILL)  # what it leaves, e.g. gunicorn workers on its port
        program.restarts = [t for t in program.restarts if now - t < RESTART_WINDOW_S]
        how = f"signal {-code}" if code < 0 else f"code {code}"
        if len(program.restarts) >= MAX_RESTARTS:
            self.say("supervision", f"{program.name} s'est arrêté ({how}) ; déjà relancé {MAX_RESTARTS} fois en "
                                    f"{RESTART_WINDOW_S:.0f} s : il n'est plus relancé (voir sa sortie ci-dessus)")
            program.process = None
            return
        delay = BACKOFF_S * 2 ** len(program.restarts)
        program.restarts.append(now)
        program.restart_at = now + delay
        self.say("supervision", f"{program.name} s'est arrêté ({how}) ; redémarrage dans {delay:g} s")

    def _stop_all(self) -> None:
        self.say("supervision", "arrêt de tous les processus…")
        with self.lock:
            running = [p.process for p in self.programs.values() if p.process] + list(self.commands)
        for process in running:
            _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _kill_group(process.pid, signal.SIGKILL)  # whatever is left of its group
            process.wait()
        for program in self.programs.values():
            (self.pid_dir / f"{program.name}.pid").unlink(missing_ok=True)


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # nothing left in the group
