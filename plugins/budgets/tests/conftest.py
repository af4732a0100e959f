from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from budgets_toy import btoy_upstream  # noqa: E402


@pytest.fixture
def btoy_server():
    with btoy_upstream() as server:
        yield server
