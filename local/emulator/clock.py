"""The clock of SQS retention and DynamoDB TTL, which a test may move ahead (``CLOCK_PATH``).

Retention and TTL act after minutes or days; a test advances this clock instead of waiting.
Everything else the emulator times (visibility timeouts, delays, timestamps moto records)
keeps the wall clock.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Protocol

CLOCK_PATH = "/_emulator/clock"  # test-only: read or advance the clock of retention and TTL

_clock_offset = [0.0]  # seconds the emulator's retention/TTL clock runs ahead of time.time()


def clock() -> float:
    """Now, in epoch seconds, for SQS retention and DynamoDB TTL only: the wall clock plus the
    offset a test set through ``CLOCK_PATH`` (0 unless a test advanced it). Everything else
    (visibility timeouts, delays, timestamps moto records) keeps the wall clock."""
    return time.time() + _clock_offset[0]


def clock_offset() -> float:
    """How many seconds ``clock()`` runs ahead of the wall clock."""
    return _clock_offset[0]


class Sweeper(Protocol):
    """What the clock endpoint needs of the TTL sweeper (``ttl.TtlSweeper``)."""

    lag: float

    def sweep(self) -> dict[str, int]: ...


def clock_request(method: str, body: bytes, sweeper: Sweeper | None) -> tuple[int, dict[str, Any]]:
    """``CLOCK_PATH``, for tests only: GET reads the clock of SQS retention and DynamoDB TTL;
    POST ``{"advance": seconds}`` (or ``{"offset": seconds}``, 0 resets) moves it and then
    sweeps at once, so a test sees a 60 s retention or a TTL pass without waiting for it."""
    if method == "POST":
        try:
            params = json.loads(body or b"{}")
            if "offset" in params:
                offset = float(params["offset"])
            else:
                offset = _clock_offset[0] + float(params["advance"])
        except (ValueError, TypeError, KeyError):
            return 400, {"message": 'POST {"advance": <seconds>} or {"offset": <seconds>}'}
        if not math.isfinite(offset):
            return 400, {"message": "the offset must be a finite number of seconds"}
        _clock_offset[0] = offset
        deleted = sweeper.sweep() if sweeper is not None else {}
        return 200, {"now": clock(), "offset": _clock_offset[0], "deleted": deleted}
    if method != "GET":
        return 405, {"message": "GET or POST"}
    lag = sweeper.lag if sweeper is not None else None
    return 200, {"now": clock(), "offset": _clock_offset[0], "ttl_lag_seconds": lag}
