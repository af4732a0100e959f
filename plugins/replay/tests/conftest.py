from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from replay_toy import RToyServer  # noqa: E402


@pytest.fixture
def rtoy_server():
    with RToyServer() as server:
        yield server
