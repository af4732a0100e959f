"""Transcoding throughput: a realistic 20-message, tool-using conversation converted
between the Anthropic Messages and OpenAI Chat request shapes, each direction, with
``omniwire.transcode`` (decode to the canonical model, encode to the other protocol)."""

from __future__ import annotations

import copy
import json
import statistics
import time
from typing import Any, Callable

TOOLS = [
    {
        "name": "search_flights",
        "description": "Search direct and one-stop flights between two airports on a date.",
        "input_schema": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "description": "IATA code, e.g. LHR"},
                "destination": {"type": "string", "description": "IATA code"},
                "date": {"type": "string", "format": "date"},
                "cabin": {"type": "string", "enum": ["economy", "premium", "business"]},
                "max_stops": {"type": "integer", "minimum": 0, "maximum": 2},
            },
            "required": ["origin", "destination", "date"],
        },
    },
    {
        "name": "get_weather",
        "description": "Daily forecast for a city.",
        "input_schema": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 10},
                "units": {"type": "string", "enum": ["metric", "imperial"]},
            },
            "required": ["city"],
        },
    },
    {
        "name": "book_hotel",
        "description": "Reserve a hotel room.",
        "input_schema": {
            "type": "object",
            "properties": {
                "hotel_id": {"type": "string"},
                "check_in": {"type": "string", "format": "date"},
                "nights": {"type": "integer", "minimum": 1},
                "guests": {"type": "integer", "minimum": 1},
            },
            "required": ["hotel_id", "check_in", "nights"],
        },
    },
]


def anthropic_conversation() -> dict[str, Any]:
    """An Anthropic Messages request: system prompt, three tools, 20 messages with
    parallel tool calls and their results."""
    msgs: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": "I need to be in Lisbon for a conference on 14 March. "
            "Can you find me a flight from London and check the weather?",
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "text",
                    "text": "Let me look up flights and the forecast at the same time.",
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "search_flights",
                    "input": {
                        "origin": "LHR",
                        "destination": "LIS",
                        "date": "2026-03-13",
                        "cabin": "economy",
                        "max_stops": 0,
                    },
                },
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "get_weather",
                    "input": {"city": "Lisbon", "days": 5, "units": "metric"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": json.dumps(
                        {
                            "flights": [
                                {"no": "TP1351", "dep": "07:15", "arr": "09:50", "price": 142},
                                {"no": "BA500", "dep": "11:40", "arr": "14:15", "price": 188},
                            ]
                        }
                    ),
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": json.dumps(
                        {
                            "forecast": [
                                {"day": "2026-03-13", "max": 18, "min": 11, "rain": 0.2},
                                {"day": "2026-03-14", "max": 19, "min": 12, "rain": 0.0},
                            ]
                        }
                    ),
                },
            ],
        },
    ]
    turn = 3
    while len(msgs) < 19:
        msgs.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": f"Option {turn}: TAP TP1351 leaves at 07:15 and costs "
                        "EUR 142; the weather looks mild, around 18 degrees. Shall I look for hotels?",
                    },
                    {
                        "type": "tool_use",
                        "id": f"toolu_{turn:02d}",
                        "name": "book_hotel",
                        "input": {
                            "hotel_id": f"H{turn}",
                            "check_in": "2026-03-13",
                            "nights": 3,
                            "guests": 1,
                        },
                    },
                ],
            }
        )
        msgs.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{turn:02d}",
                        "content": [
                            {
                                "type": "text",
                                "text": json.dumps(
                                    {
                                        "status": "held",
                                        "hotel": f"H{turn}",
                                        "until": "2026-03-01T12:00:00Z",
                                    }
                                ),
                            }
                        ],
                    },
                    {"type": "text", "text": "Thanks. Is there anything closer to the venue?"},
                ],
            }
        )
        turn += 1
    msgs.append(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "The Corinthia is a ten-minute walk from the venue."}
            ],
        }
    )
    msgs.append({"role": "user", "content": "Great, summarise the whole plan for me."})
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": "You are a travel assistant. Be concise, confirm before booking.",
        "tools": TOOLS,
        "tool_choice": {"type": "auto"},
        "temperature": 0.3,
        "messages": msgs,
    }


def run(plan: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    from omniwire.plugins import PluginManager
    from omniwire.transcode import transcode

    pm = PluginManager()
    anthropic = anthropic_conversation()
    openai, _ = transcode(
        copy.deepcopy(anthropic), "anthropic.messages", "openai.chat", plugin_manager=pm
    )
    openai = json.loads(json.dumps(openai))
    openai["model"] = "gpt-4o-mini"
    cases = {
        "anthropic.messages -> openai.chat": (anthropic, "anthropic.messages", "openai.chat"),
        "openai.chat -> anthropic.messages": (openai, "openai.chat", "anthropic.messages"),
    }
    out: dict[str, Any] = {
        "messages": len(anthropic["messages"]),
        "openai_messages": len(openai["messages"]),
        "bytes": len(json.dumps(anthropic)),
        "directions": {},
    }
    rates: dict[str, list[float]] = {k: [] for k in cases}
    for _r in range(plan["rounds"]):
        for name, (payload, src, dst) in cases.items():
            for _ in range(20):  # warm
                transcode(payload, src, dst, plugin_manager=pm)
            n = 0
            clock = time.perf_counter
            start = clock()
            deadline = start + plan["seconds"]
            while n < plan["max"]:
                transcode(payload, src, dst, plugin_manager=pm)
                n += 1
                if clock() > deadline:
                    break
            rates[name].append(n / (clock() - start))
    for name, v in rates.items():
        out["directions"][name] = {
            "per_s": statistics.median(v),
            "us_each": 1e6 / statistics.median(v),
            "samples": v,
        }
    log(
        "  transcoding: "
        + ", ".join(f"{k} {v['per_s']:.0f}/s" for k, v in out["directions"].items())
    )
    return out
