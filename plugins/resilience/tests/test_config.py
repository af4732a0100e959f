"""Activation and settings: what a configuration file switches on, and its mistakes."""

from __future__ import annotations

import json

import anyio
import omniwire_resilience
import pytest
from omniwire import ConfigError, Request, Stack
from omniwire.guard import Failover
from omniwire.plugins import PluginManager
from omniwire_resilience import (
    BreakerGuard,
    KeyAwareBackoff,
    KillSwitchGuard,
    RateLimitGuard,
    parse_duration,
    pool_status,
    retry_after_from_headers,
    retry_policy,
)
from omniwire_testing.toy import ToyCodec

CONFIG = """
[[providers]]
name = "up"
protocol = "kit.chat"
base_url = "{url}/v1"
api_keys = ["sk-res-test-key-a-0001", "sk-res-test-key-b-0002"]
rpm = 6
tpm = 100000
max_concurrency = 8
options = {{ breaker = {{ cooldown = 5 }} }}

[[providers]]
name = "other"
protocol = "kit.chat"
base_url = "{url}/v1"
api_keys = ["sk-res-test-key-c-0003"]
options = {{ breaker = {{ enabled = false }} }}

[breaker]
failures = 3

[limits]
mode = "wait"
max_wait = 2

[retry]
base = 0.01
cap = 0.05
deadline = 10
{extra}
"""


def from_config(url: str, extra: str = "") -> Stack:
    return Stack.from_config(
        CONFIG.format(url=url, extra=extra),
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[omniwire_resilience],
    )


def test_a_config_file_switches_everything_on(up):
    stack = from_config(up.url)
    breaker = next(g for g in stack.guards if isinstance(g, BreakerGuard))
    limiter = next(g for g in stack.guards if isinstance(g, RateLimitGuard))
    assert stack.guards.index(breaker) < stack.guards.index(limiter)  # order 10, then 20
    endpoint = stack.endpoints["up"]
    assert breaker.settings_for(endpoint).failures == 3
    assert breaker.settings_for(endpoint).cooldown == 5
    assert not breaker.settings_for(stack.endpoints["other"]).enabled
    assert limiter.settings.mode == "wait" and limiter.settings.max_wait == 2
    assert limiter.limits_for(endpoint).max_concurrency == 8

    async def main():
        async with stack:
            assert type(stack.retry) is Failover  # installed at the first attempt
            await stack.call(Request.simple("up:m", "x"))
            assert isinstance(stack.retry, KeyAwareBackoff)
            return await pool_status(stack)

    status = anyio.run(main)
    data = json.loads(json.dumps(status.to_dict()))
    up_status, other = data["endpoints"]
    assert up_status["breaker"] == "closed"
    assert [k["rpm"] for k in up_status["keys"]] == [6, 6]
    assert sum(k["rpm_used"] for k in up_status["keys"]) == pytest.approx(1, abs=0.1)
    assert other["breaker"] == "off" and other["keys"][0]["rpm"] is None


def test_a_policy_given_in_code_is_kept(up):
    mine = Failover()

    class Mine(Failover):
        pass

    stack = Stack.from_config(
        CONFIG.format(url=up.url, extra=""),
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[omniwire_resilience],
        retry=Mine(),
    )

    async def main():
        async with stack:
            await stack.call(Request.simple("up:m", "x"))

    anyio.run(main)
    assert type(stack.retry) is Mine and mine is not stack.retry


def test_defaults_kill_switch_and_breaker_only(make_stack):
    stack = make_stack()
    assert [type(g) for g in stack.guards] == [KillSwitchGuard, BreakerGuard]
    off = {"breaker": {"enabled": False}, "kill_switch": {"enabled": False}}
    assert make_stack(options=off).guards == ()


@pytest.mark.parametrize(
    ("options", "endpoint_options", "message"),
    [
        ({"breaker": {"cooldown": -1}}, {}, "breaker.cooldown: expected a number >= 0"),
        ({"breaker": {"failure_rate": 2}}, {}, "breaker.failure_rate"),
        ({"breaker": {"cooldwn": 1}}, {}, "breaker: unknown setting 'cooldwn'"),
        ({"limits": {"mode": "queue"}}, {"rpm": 1}, "limits.mode: expected one of reject, wait"),
        ({"retry": {"deadline": "soon"}}, {}, "retry.deadline"),
        ({}, {"rpm": 0}, "rpm must be a positive integer"),
        ({}, {"breaker": {"failures": 1.5}}, "options.breaker.failures: expected an integer"),
    ],
)
def test_mistakes_fail_at_build_naming_the_setting(make_stack, options, endpoint_options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        make_stack(options=options, endpoint_options=endpoint_options)


def test_retry_policy():
    assert retry_policy({}) is None
    policy = retry_policy({"retry": {"base": 0.5, "max_attempts": 3}})
    assert isinstance(policy, KeyAwareBackoff)
    assert (policy.base, policy.cap, policy.deadline, policy.max_attempts) == (0.5, 8.0, 60.0, 3)


def test_registered_factories():
    found = {}
    omniwire_resilience.omniwire_register_guards(lambda f: found.setdefault(f.name, f.order))
    assert found == {
        "retry": 0,
        "kill-switch": 5,
        "breaker": 10,
        "adaptive-concurrency": 15,
        "rate-limit": 20,
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.5", 1.5), ("20ms", 0.02), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("soon", None)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_retry_after_from_headers():
    assert retry_after_from_headers({"Retry-After": "3"}) == 3.0
    assert retry_after_from_headers({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_from_headers({"retry-after": date}, now=lambda: 1445412480.0) == 10.0
    both = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "1m",
    }
    assert retry_after_from_headers(both) == 60.0
    assert retry_after_from_headers({"content-type": "application/json"}) is None


def test_installed_entry_point_and_status_found_without_importing_the_plugin(up, make_stack):
    from importlib import metadata

    found = [ep for ep in metadata.entry_points(group="omniwire") if ep.name == "resilience"]
    assert [ep.load() for ep in found] == [omniwire_resilience]
    stack = make_stack(endpoint_options={"rpm": 10})

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "x"))
            hooks = [g.pool_status for g in stack.guards if hasattr(g, "pool_status")]
            return [(await hook(stack)).to_dict() for hook in hooks]

    first, *others = anyio.run(main)
    assert len(others) == 2  # the kill switch, the breaker and the rate limiter
    assert first["endpoints"][0]["keys"][0]["rpm"] == 10
    assert [k["alias"] for k in first["endpoints"][0]["keys"]] == ["up#0", "up#1"]

    def shape(status):  # rpm_used refills between the reads
        return [
            (e["name"], [(k["alias"], k["rpm"]) for k in e["keys"]]) for e in status["endpoints"]
        ]

    assert all(shape(o) == shape(first) for o in others)
