"""A whole stack for end-to-end and browser tests: every process of the run command, seeded."""
import os
import uuid

from demo import Platform, seed
from stack import StackConfig
from support import Processes, free_port_block, start_infra

# Status-change mails wait this long without another change of the lot (15 minutes in production).
QUIET_PERIOD_S = 3


def running_stack(request, tmp_path_factory):
    """Start every process of a stack, seed the region, yield (platform, processes), stop them all."""
    data_dir = tmp_path_factory.mktemp("stack")
    processes = Processes(data_dir)
    if os.environ.get("TEST_INFRA", "embedded") == "embedded":
        config = StackConfig(data_dir=data_dir, base_port=free_port_block(), quiet_period_s=QUIET_PERIOD_S)
        start_infra(processes, config)
    else:
        infra = request.getfixturevalue("infra")
        config = StackConfig(data_dir=data_dir, base_port=free_port_block(), topic_prefix=f"e{uuid.uuid4().hex[:8]}.",
                             external_kafka=infra.kafka_bootstrap, external_mongodb=infra.mongodb_url,
                             quiet_period_s=QUIET_PERIOD_S)
    for name, (argv, env) in config.service_commands().items():
        processes.start(name, argv, env)
    platform = Platform(config)
    try:
        platform.wait_ready(timeout=120)
        seed(platform)
        yield platform, processes
    finally:
        processes.stop_all()
