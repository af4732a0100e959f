"""``omniwire serve`` and ``omniwire usage``, contributed to the kernel's CLI."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["ServeCommand", "UsageCommand", "main"]


class ServeCommand:
    name = "serve"
    help = "run the OpenAI/Anthropic/Gemini-compatible gateway"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--config",
            help="TOML config (default $OMNIWIRE_CONFIG, else "
            "provider keys in the environment, else the local model)",
        )
        parser.add_argument("--host")
        parser.add_argument("--port", type=int)
        parser.add_argument("--api-key", action="append", help="inbound key (repeatable)")
        parser.add_argument("--api-key-file", help="file with one inbound key per line")
        parser.add_argument("--database", help="SQLite file for the request log ('' for none)")
        parser.add_argument("--redis-url")
        parser.add_argument("--allow-local-upstreams", action="store_true")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="refuse lossy conversions instead of reporting them",
        )

    def run(self, args: argparse.Namespace) -> int:
        from aiohttp import web

        from .build import build_gateway

        flags = {
            "host": args.host,
            "port": args.port,
            "api_key": args.api_key,
            "api_key_file": args.api_key_file,
            "database": args.database,
            "redis_url": args.redis_url,
            "allow_local_upstreams": args.allow_local_upstreams,
            "strict": args.strict,
        }
        gateway, settings = build_gateway(args.config, flags=flags)
        try:
            import uvloop  # type: ignore[import-not-found]

            loop_factory: Any = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        where = f"http://{settings.host}:{settings.port}"
        mode = (
            "local model (no provider configured)"
            if gateway.local
            else (", ".join(f"{e.name} ({e.protocol})" for e in gateway.stack.endpoints.values()))
        )
        print(f"omniwire gateway on {where}  serving: {mode}", flush=True)
        print(f"  OpenAI:    OPENAI_BASE_URL={where}/v1", flush=True)
        print(f"  Anthropic: ANTHROPIC_BASE_URL={where}", flush=True)
        print(f"  Gemini:    base_url={where} (api_version v1beta)", flush=True)
        if loop_factory is not None:
            import asyncio

            asyncio.set_event_loop(loop_factory())
        import gc

        gc.collect()
        gc.freeze()  # what was built to serve is permanent: keep the collector off it
        web.run_app(
            gateway.app(),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=5,
        )
        return 0


class UsageCommand:
    name = "usage"
    help = "print the gateway's spend per inbound key and model"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--database", default=os.environ.get("OMNIWIRE_DATABASE", "omniwire.db")
        )
        parser.add_argument("--json", action="store_true")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from omniwire.errors import ConfigError

        from .store import usage_report

        if not os.path.exists(args.database):
            raise ConfigError(f"no request log at {args.database!r} (see --database)")
        rows = usage_report(args.database)
        if args.json:
            print(json.dumps([{**r, "cost_usd": str(r["cost_usd"])} for r in rows], indent=2))
            return 0
        print(
            f"{'key':<16} {'model':<28} {'requests':>8} {'errors':>6} {'in tok':>10} "
            f"{'out tok':>10} {'cost USD':>12}"
        )
        for r in rows:
            print(
                f"{r['key'] or '-':<16} {r['model'] or '-':<28} {r['requests']:>8} "
                f"{r['errors']:>6} {r['input_tokens']:>10} {r['output_tokens']:>10} "
                f"{r['cost_usd']:>12.6f}"
            )
        return 0


def main(argv: list[str] | None = None) -> int:
    """``omniwire-gateway`` = ``omniwire serve``."""
    from omniwire.cli import main as omniwire_main

    return omniwire_main(["serve", *(sys.argv[1:] if argv is None else argv)])
