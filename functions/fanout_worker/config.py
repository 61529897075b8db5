"""The fan-out worker's configuration: the variables modules/cron_fanout sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import integer, text


@dataclass(frozen=True)
class Config:
    work_queue_url: str
    items_table: str
    receive_wait_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            work_queue_url=text(environ, "WORK_QUEUE_URL"),
            items_table=text(environ, "ITEMS_TABLE"),
            receive_wait_seconds=integer(environ, "RECEIVE_WAIT_SECONDS", minimum=1),  # a long poll
        )
