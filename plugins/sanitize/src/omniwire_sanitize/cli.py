"""``omniwire-sanitize FILE``: clean a fixture, a log or any JSON recorded elsewhere.

The file is read as one JSON document, else as JSON lines, else as text, and written back
in the same shape: to stdout (default), to ``--output``, or over itself (``--in-place``,
atomically). ``--check`` writes nothing and exits 1 when the file is not clean, for CI.

The kernel CLI has no hook for plugin subcommands yet, so this is a console script of its
own; :func:`sanitize_file` is the function an ``omniwire sanitize`` subcommand would call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .sanitizer import Sanitizer

__all__ = ["main", "sanitize_document", "sanitize_file"]


def _others() -> list[Any]:
    """Sanitizers other plugins registered, applied after ours (best effort)."""
    try:
        from omniwire.plugins import get_plugin_manager

        table = get_plugin_manager().table("sanitizers")
    except Exception:
        return []
    return [s for name, s in sorted(table.items()) if name != "default"]


def sanitize_document(text: str, sanitizer: Sanitizer, others: Sequence[Any] = ()) -> str:
    """Clean ``text`` keeping its shape: a JSON document (re-indented like the input),
    JSON lines, or plain text."""

    def clean_json(data: Any) -> Any:
        data = sanitizer.sanitize_json(data)
        for other in others:
            data = other.sanitize_json(data)
        return data

    def clean_text(data: str) -> str:
        data = sanitizer.sanitize_text(data)
        for other in others:
            data = other.sanitize_text(data)
        return data

    stripped = text.strip()
    if not stripped:
        return text
    try:
        document = json.loads(stripped)
    except ValueError:
        document = _NOT_JSON
    if document is not _NOT_JSON:
        indent = 2 if "\n" in stripped else None
        separators = None if indent else (",", ":")
        dumped = json.dumps(
            clean_json(document), indent=indent, separators=separators, ensure_ascii=False
        )
        return dumped + ("\n" if text.endswith("\n") else "")
    lines = text.splitlines()
    try:
        parsed = [json.loads(line) if line.strip() else _BLANK for line in lines]
    except ValueError:
        return clean_text(text)
    out = [
        ""
        if item is _BLANK
        else json.dumps(clean_json(item), separators=(",", ":"), ensure_ascii=False)
        for item in parsed
    ]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


_NOT_JSON = object()
_BLANK = object()


def sanitize_file(
    path: str | Path,
    *,
    sanitizer: Sanitizer | None = None,
    in_place: bool = False,
    output: str | Path | None = None,
) -> tuple[str, bool]:
    """Sanitize one file; returns (cleaned text, whether anything changed). Writes the
    result over ``path`` when ``in_place`` (atomic rename) or to ``output``."""
    source = Path(path)
    original = source.read_text(encoding="utf-8")
    cleaned = sanitize_document(original, sanitizer or Sanitizer(), _others())
    changed = cleaned != original
    target = source if in_place else (Path(output) if output is not None else None)
    if target is not None and (changed or target != source):
        _write_atomic(target, cleaned)
    return cleaned, changed


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="omniwire-sanitize",
        description="Redact credentials and large blobs from a recorded fixture or log.",
    )
    configure(p)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments, shared by ``omniwire-sanitize`` and ``omniwire sanitize``."""
    p.add_argument("file", help="JSON, JSON-lines or text file ('-' for stdin)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-i", "--in-place", action="store_true", help="rewrite FILE")
    where.add_argument("-o", "--output", help="write here instead of stdout")
    where.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if FILE is not clean"
    )
    p.add_argument("--header", action="append", default=[], help="extra header name")
    p.add_argument("--field", action="append", default=[], help="extra JSON field name")
    p.add_argument("--param", action="append", default=[], help="extra query parameter")
    p.add_argument("--pattern", action="append", default=[], help="extra regex for text")
    p.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="VAR",
        help="an environment variable holding a secret to remove in every spelling",
    )
    p.add_argument("--blob-threshold", type=int, help="truncate base64 runs this long")
    p.add_argument("--config", help="a TOML file; its [sanitize] table adds rules")


def build_sanitizer(args: argparse.Namespace) -> Sanitizer:
    config: dict[str, Any] = {}
    if args.config:
        import tomllib

        with open(args.config, "rb") as fh:
            config = dict(tomllib.load(fh).get("sanitize", {}))
    merged = {
        "headers": [*config.get("headers", ()), *args.header],
        "fields": [*config.get("fields", ()), *args.field],
        "query_params": [*config.get("query_params", ()), *args.param],
        "patterns": [*config.get("patterns", ()), *args.pattern],
        "secret_env": [*config.get("secret_env", ()), *args.secret_env],
    }
    threshold = args.blob_threshold if args.blob_threshold is not None else None
    if threshold is None and "blob_threshold" in config:
        threshold = int(config["blob_threshold"])
    if threshold is not None:
        merged["blob_threshold"] = threshold
    return Sanitizer.from_config(merged)


def main(argv: Sequence[str] | None = None) -> int:
    return run(_parser().parse_args(argv))


class SanitizeCommand:
    """``omniwire sanitize FILE``: the same command inside the kernel's CLI."""

    name = "sanitize"
    help = "redact secrets and large blobs from a recorded fixture or log"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        configure(parser)

    def run(self, args: argparse.Namespace) -> int:
        return run(args)


def run(args: argparse.Namespace) -> int:
    try:
        sanitizer = build_sanitizer(args)
    except (OSError, ValueError) as exc:
        print(f"omniwire-sanitize: {exc}", file=sys.stderr)
        return 2
    if args.file == "-":
        if args.in_place:
            print("omniwire-sanitize: --in-place needs a file", file=sys.stderr)
            return 2
        original = sys.stdin.read()
        cleaned = sanitize_document(original, sanitizer, _others())
        changed = cleaned != original
        if args.output:
            _write_atomic(Path(args.output), cleaned)
    else:
        try:
            cleaned, changed = sanitize_file(
                args.file,
                sanitizer=sanitizer,
                in_place=args.in_place,
                output=None if args.check else args.output,
            )
        except (OSError, UnicodeDecodeError) as exc:
            print(f"omniwire-sanitize: {args.file}: {exc}", file=sys.stderr)
            return 2
    if args.check:
        if changed:
            print(f"omniwire-sanitize: {args.file} is not clean", file=sys.stderr)
            return 1
        return 0
    if not args.in_place and not args.output:
        sys.stdout.write(cleaned)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
