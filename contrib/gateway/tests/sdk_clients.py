"""Runs the official SDKs against a gateway, inside an oracle venv (never the project's).

Reads ``{"base", "key", "cases": [...]}`` as JSON on stdin; writes one result per case on
stdout as JSON. Each case: ``inbound`` (chat | responses | messages | gemini | images),
``model``, ``mode`` (plain | stream | tools | thinking | error; for images edit |
variation), ``prompt``. Image cases carry their uploads as ``images`` (and ``mask``):
``{"name", "data" (base64), "type"}``. Clients are strict: no retries, and for
openai/anthropic ``_strict_response_validation=True``.
"""

from __future__ import annotations

import base64
import json
import sys
import traceback

TOOL_OPENAI_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TOOL_RESPONSES = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": TOOL_OPENAI_CHAT["function"]["parameters"],
}
TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": TOOL_OPENAI_CHAT["function"]["parameters"],
}


def openai_client(base, key):
    import openai

    return openai.OpenAI(
        base_url=base + "/v1", api_key=key, max_retries=0, _strict_response_validation=True
    )


def anthropic_client(base, key):
    import anthropic

    return anthropic.Anthropic(
        base_url=base, api_key=key, max_retries=0, _strict_response_validation=True
    )


def genai_client(base, key):
    from google import genai
    from google.genai import types

    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=base, api_version="v1beta")
    )


def run_chat(c, case):
    client = openai_client(c["base"], c["key"])
    messages = [{"role": "user", "content": case["prompt"]}]
    mode = case["mode"]
    if mode == "plain":
        r = client.chat.completions.create(model=case["model"], messages=messages)
        return {"text": r.choices[0].message.content, "finish": r.choices[0].finish_reason}
    if mode == "stream":
        stream_api = (
            getattr(client.chat.completions, "stream", None) or client.beta.chat.completions.stream
        )
        with stream_api(
            model=case["model"], messages=messages, stream_options={"include_usage": True}
        ) as s:
            final = s.get_final_completion()
        return {
            "text": final.choices[0].message.content,
            "finish": final.choices[0].finish_reason,
            "usage": bool(final.usage),
        }
    if mode == "tools":
        stream_api = (
            getattr(client.chat.completions, "stream", None) or client.beta.chat.completions.stream
        )
        with stream_api(model=case["model"], messages=messages, tools=[TOOL_OPENAI_CHAT]) as s:
            final = s.get_final_completion()
        calls = final.choices[0].message.tool_calls or []
        plain = client.chat.completions.create(
            model=case["model"], messages=messages, tools=[TOOL_OPENAI_CHAT]
        )
        calls2 = plain.choices[0].message.tool_calls or []
        return {
            "tool": calls[0].function.name if calls else None,
            "tool_plain": calls2[0].function.name if calls2 else None,
            "args": calls[0].function.arguments if calls else None,
            "finish": final.choices[0].finish_reason,
        }
    if mode == "embed":
        # strict validation only holds for floats: the SDK's default base64 answer is a
        # string until its own post-parser decodes it, so check that path unstrictly
        r = client.embeddings.create(
            model=case["model"], input=[case["prompt"], "second"], encoding_format="float"
        )
        import openai

        lenient = openai.OpenAI(base_url=c["base"] + "/v1", api_key=c["key"], max_retries=0)
        b = lenient.embeddings.create(model=case["model"], input=[case["prompt"], "second"])
        same = [len(d.embedding) for d in b.data] == [len(d.embedding) for d in r.data]
        return {"vectors": [len(d.embedding) for d in r.data], "base64_same_shape": same}
    if mode == "error":
        import openai

        try:
            client.chat.completions.create(model=case["model"], messages=messages)
        except openai.APIStatusError as e:
            return {"status": e.status_code, "message": str(e.message)[:200]}
        return {"status": 200}
    raise ValueError(mode)


def run_responses(c, case):
    client = openai_client(c["base"], c["key"])
    mode = case["mode"]
    if mode == "plain":
        r = client.responses.create(model=case["model"], input=case["prompt"])
        return {"text": r.output_text, "status": r.status}
    if mode == "stream":
        with client.responses.stream(model=case["model"], input=case["prompt"]) as s:
            final = s.get_final_response()
        return {"text": final.output_text, "status": final.status}
    if mode == "thinking":
        with client.responses.stream(
            model=case["model"],
            input=case["prompt"],
            reasoning={"effort": "low", "summary": "auto"},
        ) as s:
            final = s.get_final_response()
        items = [o for o in final.output if o.type == "reasoning"]
        text = ""
        if items:
            parts = list(getattr(items[0], "content", None) or []) + list(items[0].summary or [])
            text = "".join(getattr(p, "text", "") for p in parts)
        return {
            "text": final.output_text,
            "thinking": text or None,
            "signature": getattr(items[0], "encrypted_content", None) if items else None,
        }
    if mode == "tools":
        with client.responses.stream(
            model=case["model"], input=case["prompt"], tools=[TOOL_RESPONSES]
        ) as s:
            final = s.get_final_response()
        calls = [o for o in final.output if o.type == "function_call"]
        return {
            "tool": calls[0].name if calls else None,
            "args": calls[0].arguments if calls else None,
            "status": final.status,
        }
    raise ValueError(mode)


def run_messages(c, case):
    client = anthropic_client(c["base"], c["key"])
    messages = [{"role": "user", "content": case["prompt"]}]
    mode = case["mode"]
    if mode == "plain":
        r = client.messages.create(model=case["model"], max_tokens=256, messages=messages)
        return {
            "text": "".join(b.text for b in r.content if b.type == "text"),
            "stop": r.stop_reason,
        }
    if mode == "stream":
        with client.messages.stream(model=case["model"], max_tokens=256, messages=messages) as s:
            final = s.get_final_message()
        return {
            "text": "".join(b.text for b in final.content if b.type == "text"),
            "stop": final.stop_reason,
        }
    if mode == "tools":
        with client.messages.stream(
            model=case["model"], max_tokens=256, messages=messages, tools=[TOOL_ANTHROPIC]
        ) as s:
            final = s.get_final_message()
        calls = [b for b in final.content if b.type == "tool_use"]
        return {
            "tool": calls[0].name if calls else None,
            "args": json.dumps(calls[0].input) if calls else None,
            "stop": final.stop_reason,
        }
    if mode == "thinking":
        with client.messages.stream(
            model=case["model"],
            max_tokens=2048,
            messages=messages,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as s:
            final = s.get_final_message()
        thinking = [b for b in final.content if b.type == "thinking"]
        return {
            "text": "".join(b.text for b in final.content if b.type == "text"),
            "thinking": thinking[0].thinking if thinking else None,
            "signature": thinking[0].signature if thinking else None,
        }
    raise ValueError(mode)


def run_gemini(c, case):
    client = genai_client(c["base"], c["key"])
    mode = case["mode"]
    if mode == "plain":
        r = client.models.generate_content(model=case["model"], contents=case["prompt"])
        return {"text": r.text, "finish": str(r.candidates[0].finish_reason)}
    if mode == "stream":
        text = ""
        for chunk in client.models.generate_content_stream(
            model=case["model"], contents=case["prompt"]
        ):
            text += chunk.text or ""
        return {"text": text}
    if mode == "embed":
        r = client.models.embed_content(model=case["model"], contents=case["prompt"])
        return {"vectors": [len(e.values) for e in r.embeddings]}
    if mode == "tools":
        from google.genai import types

        tool = types.Tool(
            function_declarations=[
                types.FunctionDeclaration(
                    name="get_weather",
                    description="Weather for a city",
                    parameters_json_schema=TOOL_OPENAI_CHAT["function"]["parameters"],
                )
            ]
        )
        config = types.GenerateContentConfig(
            tools=[tool],
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        r = client.models.generate_content(
            model=case["model"], contents=case["prompt"], config=config
        )
        calls = r.function_calls or []
        return {
            "tool": calls[0].name if calls else None,
            "args": json.dumps(calls[0].args) if calls else None,
        }
    raise ValueError(mode)


def _upload(spec):
    return (spec["name"], base64.b64decode(spec["data"]), spec["type"])


def run_images(c, case):
    client = openai_client(c["base"], c["key"])
    uploads = [_upload(f) for f in case["images"]]
    options = {"n": case["n"]} if case.get("n") else {}
    if case["mode"] == "edit":
        if case.get("mask"):
            options["mask"] = _upload(case["mask"])
        r = client.images.edit(
            model=case["model"],
            prompt=case["prompt"],
            # a list is sent as image[] parts, one file as image
            image=uploads if case.get("as_list") else uploads[0],
            response_format="b64_json",
            **options,
        )
    elif case["mode"] == "variation":
        r = client.images.create_variation(
            model=case["model"], image=uploads[0], response_format="b64_json", **options
        )
    else:
        raise ValueError(case["mode"])
    return {"created": r.created, "images": [d.b64_json for d in r.data]}


RUNNERS = {
    "chat": run_chat,
    "responses": run_responses,
    "messages": run_messages,
    "gemini": run_gemini,
    "images": run_images,
}


def main():
    spec = json.load(sys.stdin)
    out = []
    for case in spec["cases"]:
        try:
            result = RUNNERS[case["inbound"]](spec, case)
            out.append({"case": case, "ok": True, "result": result})
        except Exception as exc:
            out.append(
                {
                    "case": case,
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}"[:600],
                    "trace": traceback.format_exc()[-1500:],
                }
            )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
