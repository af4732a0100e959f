from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from prices_toy import PToyServer  # noqa: E402


@pytest.fixture
def ptoy_server():
    with PToyServer() as server:
        yield server
