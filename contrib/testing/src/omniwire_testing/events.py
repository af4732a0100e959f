"""The kernel's response-to-stream replay, under the name the kit has always used."""

from omniwire.model.replay import events_for, input_usage, part_events, split_text

__all__ = ["events_for", "input_usage", "part_events", "split_text"]
