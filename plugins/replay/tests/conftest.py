from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omniwire_testing.upstream import FakeUpstream

sys.path.insert(0, str(Path(__file__).parent))

from replay_toy import CODEC, quoting_echo  # noqa: E402


@pytest.fixture
def rtoy_server():
    with FakeUpstream([CODEC], responder=quoting_echo) as server:
        yield server
