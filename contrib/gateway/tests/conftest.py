from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_support import GATEWAY_KEY, gateway_config  # noqa: E402


def thinking_responder(request, recorded):
    """The kit's echo, plus signed reasoning when the request asks for reasoning."""
    import attrs
    from omniwire import ReasoningPart, Request
    from omniwire_testing.upstream import echo_response

    response = echo_response(request, recorded.index + 1)
    reasoning = getattr(request, "reasoning", None) if isinstance(request, Request) else None
    if reasoning is None or reasoning.enabled is False:
        return response
    thought = ReasoningPart("Let me think about that.", signature="sig-upstream-0001")
    choice = response.choices[0]
    return attrs.evolve(
        response, choices=(attrs.evolve(choice, content=(thought, *choice.content)),)
    )


@pytest.fixture(scope="module")
def upstream():
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream(responder=thinking_responder) as up:
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
