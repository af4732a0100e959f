"""Shared helpers for the cross-package tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OMNIWIRE_SHARED", ROOT.parent / "shared"))


def require(condition: bool, why: str) -> None:
    """Skip when a prerequisite is missing locally; under CI=true it is a failure."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"missing under CI: {why}")
    pytest.skip(why)
