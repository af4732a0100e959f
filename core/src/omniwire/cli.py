"""The ``omniwire`` command.

Bad input (unknown codec id, malformed JSON, wrong kind, unknown model, missing key)
prints one line ``omniwire: error: ...`` on stderr and exits 2; upstream failures exit 1.
No traceback ever reaches the user unless ``OMNIWIRE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

__all__ = ["main"]

INPUT_ERRORS = ("config_error", "invalid_request", "plugin_error", "model_not_found")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="omniwire", description="Provider-neutral LLM access.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    plugins = sub.add_parser("plugins", help="list installed plugins and what they provide")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    tc = sub.add_parser("transcode", help="convert a payload between protocols (stdin -> stdout)")
    tc.add_argument("--from", dest="source", required=True, metavar="ID", help="source codec id")
    tc.add_argument("--to", dest="target", required=True, metavar="ID", help="target codec id")
    tc.add_argument("--kind", default="request", help="request | response | stream")
    tc.add_argument("--report", action="store_true", help="write the report as JSON on stderr")
    tc.add_argument("--strict", action="store_true", help="fail instead of losing information")
    tc.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="URL parameters of the source protocol (model=..., for Gemini)",
    )

    call = sub.add_parser("call", help="send one prompt and print the answer")
    call.add_argument("prompt", nargs="+", help="the prompt")
    call.add_argument("--model", "-m", required=True)
    call.add_argument("--stream", action="store_true")
    call.add_argument("--system", help="a system prompt")
    call.add_argument("--max-tokens", type=int)
    call.add_argument(
        "--config",
        help="TOML config (default: $OMNIWIRE_CONFIG or provider keys in the environment)",
    )
    call.add_argument("--base-url", help="call this upstream directly (with --protocol)")
    call.add_argument("--protocol", help="codec id of --base-url (default openai.chat)")
    call.add_argument("--api-key", help="key for --base-url (default $OMNIWIRE_API_KEY)")
    call.add_argument("--json", action="store_true", help="print the canonical response as JSON")

    for command in _plugin_commands().values():
        command.configure(sub.add_parser(command.name, help=command.help))
    return p


def _plugin_commands() -> dict[str, Any]:
    """Subcommands contributed by plugins (omniwire_register_commands)."""
    from .plugins import get_plugin_manager

    return {
        name: command
        for name, command in get_plugin_manager().table("commands").items()
        if name not in BUILTIN_COMMANDS
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .errors import OmniwireError

    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help()
            return 0
        handler = COMMANDS.get(args.command)
        if handler is None:
            return int(_plugin_commands()[args.command].run(args) or 0)
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"omniwire: error: {exc}", file=sys.stderr)
        return 2
    except OmniwireError as exc:
        print(f"omniwire: error: {exc}", file=sys.stderr)
        return 2 if exc.kind in INPUT_ERRORS else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("OMNIWIRE_DEBUG"):
            raise
        from .secrets import scrub

        print(f"omniwire: internal error: {type(exc).__name__}: {scrub(str(exc))}", file=sys.stderr)
        return 1


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager

    pm = get_plugin_manager()
    infos = pm.plugins()
    if args.json:
        out = {
            "plugins": [i.to_dict() for i in infos],
            "broken": [
                {"name": b.name, "distribution": b.distribution, "error": b.error}
                for b in pm.broken
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    for info in infos:
        print(f"{info.name}  ({info.distribution or '-'} {info.version or ''})".rstrip())
        for table, names in info.provides.items():
            print(f"    {table.replace('_', ' ')}: {', '.join(names)}")
    for b in pm.broken:
        print(f"{b.name}  ({b.distribution or '-'})  BROKEN: {b.error}")
    return 0


def _read_stdin(binary: bool) -> Any:
    if binary:
        return sys.stdin.buffer.read()
    text = sys.stdin.buffer.read().decode("utf-8", errors="strict")
    if not text.strip():
        raise UsageError("no payload on standard input")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"standard input is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def cmd_transcode(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager
    from .transcode import KINDS, transcode

    if args.kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, not {args.kind!r}")
    pm = get_plugin_manager()
    pm.codec(args.source)  # unknown ids fail before stdin is read
    pm.codec(args.target)
    params = {}
    for item in args.param:
        k, sep, v = item.partition("=")
        if not sep:
            raise UsageError(f"--param takes K=V, got {item!r}")
        params[k] = v
    payload = _read_stdin(binary=args.kind == "stream")
    out, report = transcode(
        payload,
        args.source,
        args.target,
        kind=args.kind,
        strict=args.strict,
        params=params or None,
        plugin_manager=pm,
    )
    if args.kind == "stream":
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    if args.report:
        print(json.dumps(report.to_dict()), file=sys.stderr)
    return 0


def _stack_for(args: argparse.Namespace) -> Any:
    from .config import config_from_env, load_config
    from .endpoint import Endpoint, Key
    from .secrets import Secret
    from .stack import Stack

    if args.base_url:
        key = args.api_key or os.environ.get("OMNIWIRE_API_KEY")
        endpoint = Endpoint(
            name="cli",
            protocol=args.protocol or "openai.chat",
            base_url=args.base_url,
            keys=(Key(Secret(key), alias="cli"),) if key else (),
        )
        return Stack([endpoint])
    config = load_config(args.config) if args.config else config_from_env()
    if not config.endpoints:
        raise UsageError(
            "no provider configured: pass --config FILE or --base-url URL, or set "
            "OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY"
        )
    return Stack(config.endpoints, routes=config.routes, strict=config.strict)


def cmd_call(args: argparse.Namespace) -> int:
    import anyio

    from .model import Message, Request, Role, TextDelta

    messages = []
    if args.system:
        messages.append(Message.text(Role.SYSTEM, args.system))
    messages.append(Message.text(Role.USER, " ".join(args.prompt)))
    request = Request(
        model=args.model, messages=tuple(messages), max_tokens=args.max_tokens, stream=args.stream
    )
    stack = _stack_for(args)

    async def run() -> None:
        async with stack:
            if args.stream:
                async with stack.stream(request) as result:
                    async for event in result:
                        if isinstance(event, TextDelta):
                            sys.stdout.write(event.text)
                            sys.stdout.flush()
                    response = result.response()
                    if not args.json:
                        sys.stdout.write("\n")
            else:
                response = await stack.call(request)
                if not args.json:
                    print(response.text or _describe(response))
            if args.json:
                from .serialize import to_json

                print(json.dumps(to_json(response), indent=2, ensure_ascii=False))

    anyio.run(run)
    return 0


def _describe(response: Any) -> str:
    calls = [f"{c.name}({c.arguments})" for c in response.tool_calls]
    if calls:
        return "tool calls: " + ", ".join(calls)
    return response.refusal or f"(no text; stop reason {response.stop_reason})"


COMMANDS = {
    "plugins": cmd_plugins,
    "transcode": cmd_transcode,
    "call": cmd_call,
}
BUILTIN_COMMANDS = frozenset(COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
