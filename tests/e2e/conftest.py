"""The whole local stack as separate processes: broker on durable storage, database, four services
under gunicorn and their workers — the same definitions the run command uses."""
import pytest

from demo import Platform, seed
from stack import StackConfig, wait_for_port
from support import Processes, free_port_block


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack")
    config = StackConfig(data_dir=data_dir, base_port=free_port_block(), web_workers=2)
    config.prepare_data_dir()
    processes = Processes(data_dir)
    infra = config.infra_commands()
    for name in ("s3", "mongo"):
        processes.start(name, *infra[name])
    wait_for_port(config.s3_port)
    processes.start("kafka", *infra["kafka"])
    for name, (argv, env) in config.service_commands().items():
        processes.start(name, argv, env)
    platform = Platform(config)
    try:
        platform.wait_ready(timeout=120)
        seed(platform)
        yield platform, processes
    finally:
        processes.stop_all()
