from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from redis_support import PrivateRedis  # noqa: E402


@pytest.fixture
def prefix(redis_url):
    """A fresh key prefix for one test; its keys are deleted afterwards."""
    name = f"owtest:{uuid.uuid4().hex[:12]}:"
    yield name
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=name + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def up():
    from omniwire_testing.toy import ToyCodec
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream([ToyCodec()]) as server:
        yield server


@pytest.fixture
def private_redis():
    """A redis-server of this test's own, to kill and restart (never the shared one)."""
    from omniwire_testing.services import unavailable

    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = PrivateRedis().start()
    yield server
    server.kill()
