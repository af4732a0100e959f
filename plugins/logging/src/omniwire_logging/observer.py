"""The call logger: one record per call end or error, with structured fields.

Records go to ``omniwire.calls`` (a ``NullHandler`` is attached, so nothing is printed
until the application configures logging). The check ``isEnabledFor`` comes first, so a
disabled level costs one cached lookup per call.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.call import Call

__all__ = ["LOGGER_NAME", "CallLogger", "JsonFormatter", "call_fields"]

LOGGER_NAME = "omniwire.calls"
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def _sanitized(call: Call, text: str) -> str:
    """Error text through every registered sanitizer (the kernel already scrubbed known
    secrets; sanitizers also catch key-shaped tokens and credential pairs)."""
    try:
        sanitizers = call.stack.pm.table("sanitizers")
    except Exception:
        return text
    for name in sorted(sanitizers):
        try:
            text = sanitizers[name].sanitize_text(text)
        except Exception:
            continue
    return text


def call_fields(call: Call, event: str) -> dict[str, Any]:
    """The structured fields of a finished call: JSON-ready, no secret (key alias only)."""
    fields: dict[str, Any] = {
        "event": event,
        "operation": call.operation,
        "stream": call.stream,
        "provider": call.provider,
        "endpoint": call.endpoint.name if call.endpoint is not None else None,
        "key_alias": call.key.alias if call.key is not None else None,
        "model": call.model,
        "request_model": getattr(call.request, "model", None),
        "status": call.status,
        "duration_s": None if call.duration is None else round(call.duration, 6),
    }
    ttfc = call.time_to_first_chunk
    if ttfc is not None:
        fields["ttfc_s"] = round(ttfc, 6)
    response = call.response
    for attr, name in (("id", "response_id"), ("model", "response_model")):
        value = getattr(response, attr, None)
        if isinstance(value, str):
            fields[name] = value
    choices = getattr(response, "choices", None)
    if choices:
        fields["stop_reasons"] = [getattr(c.stop_reason, "value", c.stop_reason) for c in choices]
    usage = call.usage
    if usage is not None:
        fields["input_tokens"] = usage.input_tokens
        fields["output_tokens"] = usage.output_tokens
        if usage.cache_read_tokens:
            fields["cache_read_tokens"] = usage.cache_read_tokens
        if usage.cache_write_tokens:
            fields["cache_write_tokens"] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            fields["reasoning_tokens"] = usage.reasoning_tokens
    if call.cost is not None:
        fields["cost"] = str(call.cost.amount)
        fields["currency"] = call.cost.currency
    if call.reserved is not None:
        fields["reserved"] = str(call.reserved.amount)
        fields.setdefault("currency", call.reserved.currency)
    fields["attempts"] = len(call.attempts)
    fields["retries"] = max(0, len(call.attempts) - 1)
    if len(call.attempts) > 1:
        fields["failover"] = [
            {"endpoint": a.endpoint, "model": a.model, "key_alias": a.key_alias, "error": a.error}
            for a in call.attempts
        ]
    if call.conversion.losses:
        fields["loss_reasons"] = [str(r) for r in call.conversion.losses]
    error = call.error
    if error is not None:
        fields["error_type"] = error.kind
        fields["error_message"] = _sanitized(call, error.message)
        upstream = getattr(error, "upstream_kind", None)
        if upstream:
            fields["upstream_type"] = upstream
    return fields


class CallLogger:
    """An ``omniwire_observe`` implementation logging finished calls.

    :param logger: default ``logging.getLogger("omniwire.calls")``.
    :param level: for successful calls (INFO).
    :param error_level: for failed calls (WARNING).
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        error_level: int = logging.WARNING,
    ) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.level = level
        self.error_level = error_level

    @hookimpl
    def omniwire_observe(self, call: Call, event: str) -> None:
        if event == "end":
            level = self.level
        elif event == "error":
            level = self.error_level
        else:
            return
        if not self.logger.isEnabledFor(level):
            return
        fields = call_fields(call, event)
        where = f"{fields['endpoint'] or '?'}/{fields['model'] or fields['request_model']}"
        duration = fields["duration_s"]
        took = f" in {duration:.3f}s" if duration is not None else ""
        if event == "end":
            tokens = ""
            if "input_tokens" in fields:
                tokens = f" ({fields['input_tokens']} in, {fields['output_tokens']} out)"
            self.logger.log(
                level, "%s %s ok%s%s", call.operation, where, took, tokens,
                extra={"omniwire": fields},
            )  # fmt: skip
        else:
            self.logger.log(
                level, "%s %s failed%s: %s: %s", call.operation, where, took,
                fields.get("error_type"), fields.get("error_message"),
                extra={"omniwire": fields},
            )  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the ``omniwire``
    fields flattened in (for log shippers that want JSON lines)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "omniwire", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)
