from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kernel_toy import ToyCodec, ToyServer  # noqa: E402


@pytest.fixture
def toy_server():
    with ToyServer() as server:
        yield server


@pytest.fixture
def toy_codec():
    return ToyCodec()
