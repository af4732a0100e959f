"""Shared fixtures for the anthropic codec tests; puts the helper modules on sys.path
(the workspace runs pytest with ``--import-mode=importlib``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# a deep run of the kit's properties: pytest --hypothesis-profile=anthropic-deep
# (with OMNIWIRE_CONFORMANCE_EXAMPLES raised to match)
settings.register_profile(
    "anthropic-deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from omniwire_anthropic.count_tokens import AnthropicCountTokens  # noqa: E402
from omniwire_anthropic.messages import AnthropicMessages  # noqa: E402


@pytest.fixture(scope="session")
def codec() -> AnthropicMessages:
    return AnthropicMessages()


@pytest.fixture(scope="session")
def counter() -> AnthropicCountTokens:
    return AnthropicCountTokens()
