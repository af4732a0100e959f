"""The response cache: pinned request hashes, one upstream request for a repeated call,
streams replayed as streams, both tiers, TTL, zero cost, and never an error cached."""

from __future__ import annotations

import hashlib
import time

import anyio
import pytest
from omniwire import (
    Message,
    PartStart,
    Request,
    ResponseStart,
    Role,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolChoice,
    UpstreamError,
)
from omniwire.model import EmbeddingRequest, PromptCache
from omniwire.money import ZERO, Cost
from omniwire.routing import ModelRoute, Target
from omniwire_redis import close_clients, request_hash
from omniwire_redis.cache import STATE, Entry, canonical_fields, events_of
from redis_support import KEY, PRICE, build, free_port, guard

# -- the key --------------------------------------------------------------------------------

HELLO = Request.simple("m", "hello")
HELLO_DOCUMENT = (
    '{"request":{"messages":[{"content":[{"text":"hello","type":"text"}],"role":"user"}],'
    '"model":"m"},"type":"Request","v":1}'
)
PINNED = {
    "hello": (HELLO, "b788a6644fa45748d19748cf5bd6667f7beaa8b37c4b8fe8650edebf6dcffe78"),
    "tools": (
        Request(
            "smart",
            (
                Message.text(Role.SYSTEM, "Be brief."),
                Message.text(Role.USER, "Weather in Zürich?"),
            ),
            tools=(
                Tool(
                    "weather",
                    "Current weather",
                    {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                ),
            ),
            tool_choice=ToolChoice("auto"),
            max_tokens=64,
            temperature=0.2,
            seed=7,
        ),
        "5cc16f09517792919bac6701b747112dd38f9905d02d191eb573008f53cd831b",
    ),
    "embedding": (
        EmbeddingRequest("embed", ("a", "b")),
        "d0d29ea521e49aa1045a7e34f102e699ff492fa344d127b3157718d95d390734",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_request_hashes_are_pinned(name):
    request, expected = PINNED[name]
    assert request_hash(request) == expected


def test_the_hash_is_sha256_of_the_documented_json():
    assert hashlib.sha256(HELLO_DOCUMENT.encode()).hexdigest() == PINNED["hello"][1]
    assert canonical_fields(HELLO) == {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }


def test_volatile_fields_do_not_change_the_hash_and_the_rest_does():
    same = Request.simple(
        "m",
        "hello",
        user="u-1",
        metadata={"tenant": "acme"},
        stream=True,
        service_tier="flex",
        cache=PromptCache(key="k"),
    )
    assert request_hash(same) == request_hash(HELLO)
    for other in (
        Request.simple("m", "hello", temperature=0.0),
        Request.simple("m", "hello!"),
        Request.simple("other", "hello"),
        Request.simple("m", "hello", extra={"logit_scale": 1}),
        Request.simple("m", "hello", max_tokens=5),
    ):
        assert request_hash(other) != request_hash(HELLO)


# -- through a stack --------------------------------------------------------------------


def run(main):
    async def wrapped():
        try:
            return await main()
        finally:
            await close_clients()

    return anyio.run(wrapped)


def cached_stack(up, redis_url, prefix, *, cache=None, **kwargs):
    settings = {"models": ["m"], "ttl": 60} if cache is None else cache
    return build(up.url, redis_url, prefix, cache=settings, **kwargs)


def question(text="hello", **kwargs):
    return Request.simple("m", text, max_tokens=16, **kwargs)


def test_the_same_request_twice_reaches_the_upstream_once(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix)

    async def main():
        async with stack:
            first = await stack.invoke(question())
            second = await stack.invoke(question(user="someone else", metadata={"a": "b"}))
            return first, second

    first, second = run(main)
    assert up.count(KEY) == 1
    assert second.response == first.response
    assert not first.attributes[STATE].hit and second.attributes[STATE].hit
    assert second.response_headers == {"x-omniwire-cache": "hit"}
    assert second.cost == ZERO and first.cost == Cost(PRICE)
    cache = guard(stack, "CacheGuard")
    assert (cache.hits, cache.misses, cache.stored) == (1, 1, 1)


def test_another_process_finds_the_answer_in_redis(up, redis_url, prefix):
    writer, reader = cached_stack(up, redis_url, prefix), cached_stack(up, redis_url, prefix)

    async def main():
        async with writer, reader:
            first = await writer.call(question())
            second = await reader.call(question())
            return first, second

    first, second = run(main)
    assert first == second and up.count(KEY) == 1
    assert len(guard(reader, "CacheGuard").memory) == 1  # copied into its memory tier


def test_a_stream_is_cached_as_events_and_replayed_as_a_stream(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix)
    text = "a longer answer cut into several stream events " * 3

    async def collect(request):
        events = []
        async with stack.stream(request) as result:
            async for event in result:
                events.append(event)
        return events, result.response(), result.call

    async def main():
        async with stack:
            live = await collect(question(text))
            replayed = await collect(question(text))
            whole = await stack.call(question(text))  # a plain call of the same request
            return live, replayed, whole

    (live_events, live, live_call), (events, replayed, call), whole = run(main)
    assert up.count(KEY) == 1
    assert len(live_events) > 5 and events == live_events  # the same events, one by one
    assert replayed == live == whole  # and they fold to the same response
    assert call.attributes[STATE].hit and call.cost == ZERO
    assert call.first_chunk_at is not None


def test_a_plain_answer_serves_a_later_stream(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix)

    async def main():
        async with stack:
            plain = await stack.call(question("call"))
            async with stack.stream(question("call")) as result:
                events = [e async for e in result]
            return plain, events, result.response()

    plain, events, streamed = run(main)
    assert up.count(KEY) == 1
    assert streamed == plain and any(isinstance(e, TextDelta) for e in events)


def test_errors_are_never_cached(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix)
    broken = [
        ResponseStart(id="r", model="m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "partial"),
        StreamError("the upstream gave up", "server_error", 500),
    ]

    async def main():
        async with stack:
            up.fail(500)
            with pytest.raises(UpstreamError):
                await stack.call(question("a"))
            up.script(broken)
            with pytest.raises(UpstreamError, match="gave up"):
                async with stack.stream(question("b")) as result:
                    async for _ in result:
                        pass
            up.cut_stream(after_events=2)
            with pytest.raises(Exception):  # noqa: B017 - the cut surfaces as a ProtocolError
                async with stack.stream(question("c")) as result:
                    async for _ in result:
                        pass
            async with stack.stream(question("d")) as result:  # the consumer stops early
                async for _ in result:
                    break
            for text in "abcd":  # every one of them goes upstream again
                await stack.call(question(text))
            for text in "abcd":  # and is cached now
                await stack.call(question(text))

    run(main)
    assert up.count(KEY) == 8
    assert guard(stack, "CacheGuard").stored == 4


def test_entries_expire_with_their_ttl(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix, cache={"models": ["m"], "ttl": 0.3})

    async def main():
        async with stack:
            await stack.call(question())
            await stack.call(question())
            await anyio.sleep(0.35)
            await stack.call(question())

    run(main)
    assert up.count(KEY) == 2


def test_only_models_that_opt_in_are_cached(up, redis_url, prefix):
    routes = [
        ModelRoute("m", (Target("up", "toy-1"),)),
        ModelRoute("cached", (Target("up", "toy-1"),), options={"cache_ttl": 60}),
    ]
    stack = build(up.url, redis_url, prefix, routes=routes, cache={})

    async def main():
        async with stack:
            for model in ("m", "m", "cached", "cached"):
                await stack.call(Request.simple(model, "hi"))

    run(main)
    assert up.count(KEY) == 3
    plain = build(up.url, redis_url, prefix)
    assert not any(type(g).__name__ == "CacheGuard" for g in plain.guards)


def test_a_hit_is_free_for_budgets(up, redis_url, prefix):
    stack = cached_stack(up, redis_url, prefix, budget_usd=str(PRICE * 2))

    async def main():
        async with stack:
            await stack.call(question())
            for _ in range(3):
                await stack.call(question())  # hits: reserve nothing, spend nothing
            status = (await guard(stack, "BudgetGuard").report())[0]
            await stack.call(question("new"))  # the second call's worth is still there
            return status, (await guard(stack, "BudgetGuard").report())[0]

    status, spent = run(main)
    assert status.spent == Cost(PRICE) and status.reserved == ZERO
    assert spent.spent == Cost(PRICE * 2) and up.count(KEY) == 2


def test_a_spent_budget_refuses_even_a_hit(up, redis_url, prefix):
    # the budget guard refuses a zero reservation on a budget at its limit, and hits
    # pass the guards like any attempt (the kernel has no seam before them)
    from omniwire import BudgetExceeded

    stack = cached_stack(up, redis_url, prefix, budget_usd=str(PRICE))

    async def main():
        async with stack:
            await stack.call(question())
            with pytest.raises(BudgetExceeded):
                await stack.call(question())

    run(main)


def test_the_memory_tier_works_without_redis(up):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing there, and never asked
    stack = cached_stack(up, url, "m:", cache={"models": ["*"], "redis": False})

    async def main():
        async with stack:
            started = time.monotonic()
            for _ in range(3):
                await stack.call(question())
            return time.monotonic() - started

    assert run(main) < 2 and up.count(KEY) == 1


def test_a_redis_that_does_not_answer_is_a_miss(up):
    url = f"redis://127.0.0.1:{free_port()}/0"
    stack = cached_stack(
        up,
        url,
        "m:",
        cache={"models": ["m"], "memory_entries": 0},
        redis={"limits": False, "breakers": False, "timeout": 0.3, "retry_interval": 0.1},
    )

    async def main():
        async with stack:
            for _ in range(3):
                await stack.call(question())

    run(main)
    assert up.count(KEY) == 3


def test_entries_round_trip_through_json():
    from omniwire import Choice, ReasoningPart, Response, StopReason, ToolCallPart, Usage

    response = Response(
        id="r1",
        model="m",
        choices=(
            Choice(
                (
                    ReasoningPart("thinking", signature="sig"),
                    TextPart("hi"),
                    ToolCallPart("c1", "f", '{"x": 1}'),
                ),
                StopReason.TOOL_CALLS,
                "tool_use",
            ),
        ),
        usage=Usage(3, 4),
        created=1,
    )
    assert Entry.load(Entry(1.0, response=response).dump()) == Entry(1.0, response=response)
    events = events_of(response)
    loaded = Entry.load(Entry(2.0, events=events).dump())
    assert loaded is not None and loaded.events == events
    assert loaded.as_response() == response
