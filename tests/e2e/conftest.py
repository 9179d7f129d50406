"""The whole local stack as separate processes: Apache Kafka, FerretDB, five services
under gunicorn and their workers — the same definitions the run command uses. With TEST_INFRA=url or
docker, the services run against that broker and database instead."""
import pytest

from support.stacks import running_stack


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    yield from running_stack(request, tmp_path_factory)
