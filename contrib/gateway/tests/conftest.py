from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_support import GATEWAY_KEY, gateway_config  # noqa: E402


@pytest.fixture(scope="module")
def upstream():
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    from omniwire_gateway.testing import RunningGateway

    work = tmp_path_factory.mktemp("gw")
    with RunningGateway(
        gateway_config(upstream), workdir=work, database=str(work / "gw.db"), keys=(GATEWAY_KEY,)
    ) as gw:
        yield gw


@pytest.fixture
def fresh_gateway(upstream, tmp_path):
    """A gateway of its own, for tests that leave keys cooling down or dead."""
    from omniwire_gateway.testing import RunningGateway

    upstream.clear()
    with RunningGateway(gateway_config(upstream), workdir=tmp_path, keys=(GATEWAY_KEY,)) as gw:
        yield gw
    upstream.clear()
