"""Azure deployments, the v1 Azure API, and full-URL wrappers, over real HTTP."""

from __future__ import annotations

import anyio
import pytest
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.stack import Stack


@pytest.fixture
def upstream():
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream() as up:
        up.on(
            "/openai/deployments/{deployment}/chat/completions",
            lambda r: {
                "id": "a",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "azure"},
                        "finish_reason": "stop",
                    }
                ],
            },
        )
        yield up


def call(endpoint: Endpoint, model: str = "gpt-4o") -> str:
    async def main():
        async with Stack([endpoint], plugin_manager=PluginManager()) as stack:
            return (await stack.call(Request.simple(model, "hi"))).text

    return anyio.run(main)


def test_azure_deployment_url_api_version_and_api_key(upstream):
    ep = Endpoint(
        "az",
        "openai.chat",
        upstream.url,
        keys=("azure-key-0000000001",),
        profile="azure",
        options={"api_version": "2024-10-21", "deployments": {"gpt-4o": "prod-4o"}},
    )
    assert call(ep) == "azure"
    req = upstream.last_request
    assert req.path == "/openai/deployments/prod-4o/chat/completions"
    assert req.query == {"api-version": "2024-10-21"}
    assert req.headers["api-key"] == "azure-key-0000000001" and "authorization" not in req.headers


def test_azure_v1_api(upstream):
    ep = Endpoint(
        "az", "openai.chat", upstream.url, keys=("azure-key-0000000001",), profile="azure"
    )
    upstream.on(
        "/openai/v1/chat/completions",
        lambda r: {
            "id": "b",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "v1"},
                    "finish_reason": "stop",
                }
            ],
        },
    )
    assert call(ep) == "v1"


def test_compat_full_url_and_typed_content(upstream):
    ep = Endpoint(
        "ollama", "openai.chat_compat", upstream.url + "/v1/chat/completions", profile="compat"
    )
    assert call(ep, "llama3") == "echo: hi"
    body = upstream.last_request.json
    assert body["messages"][0]["content"] == [{"type": "text", "text": "hi"}]
