"""Message content in the GenAI conventions' JSON shape (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``). Built only when content
capture is on; media is described (type, MIME type, URL), never inlined."""

from __future__ import annotations

import json
from typing import Any, Iterable

__all__ = ["FINISH_REASONS", "finish_reason", "input_messages", "output_messages"]

#: canonical stop reasons -> the conventions' finish reasons
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_calls": "tool_call",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "error": "error",
}


def finish_reason(stop: Any) -> str:
    value = getattr(stop, "value", stop)
    return FINISH_REASONS.get(str(value), str(value)) if value is not None else "unknown"


def _part(part: Any) -> dict[str, Any]:
    kind = getattr(part, "type", "unknown")
    if kind == "text":
        return {"type": "text", "content": part.text}
    if kind == "refusal":
        return {"type": "refusal", "content": part.text}
    if kind == "reasoning":
        return {"type": "reasoning", "content": part.text or "\n".join(part.summary)}
    if kind == "tool_call":
        try:
            arguments: Any = json.loads(part.arguments) if part.arguments.strip() else {}
        except ValueError:
            arguments = part.arguments
        return {"type": "tool_call", "id": part.id, "name": part.name, "arguments": arguments}
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": part.tool_call_id, "response": part.text}
    source = getattr(part, "source", None)
    if source is not None:
        out: dict[str, Any] = {"type": "uri" if source.url else "blob", "modality": kind}
        if source.media_type:
            out["mime_type"] = source.media_type
        if source.url:
            out["uri"] = source.url
        elif source.file_id:
            out = {"type": "file", "modality": kind, "file_id": source.file_id}
        return out
    return {"type": kind}


def _parts(parts: Iterable[Any]) -> list[dict[str, Any]]:
    return [_part(p) for p in parts]


def input_messages(request: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system instructions, the other input messages) of a canonical request."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in getattr(request, "messages", ()):
        role = getattr(message.role, "value", str(message.role))
        if role in ("system", "developer"):
            system.extend(_parts(message.content))
        else:
            messages.append({"role": role, "parts": _parts(message.content)})
    prompt = getattr(request, "prompt", None)  # image generation
    if not messages and isinstance(prompt, str):
        messages.append({"role": "user", "parts": [{"type": "text", "content": prompt}]})
    inputs = getattr(request, "inputs", None)  # embeddings
    if not messages and inputs:
        texts = [i for i in inputs if isinstance(i, str)]
        messages.append({"role": "user", "parts": [{"type": "text", "content": t} for t in texts]})
    return system, messages


def output_messages(response: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "parts": _parts(choice.content),
            "finish_reason": finish_reason(choice.stop_reason),
        }
        for choice in getattr(response, "choices", ())
    ]
