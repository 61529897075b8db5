"""The fan-out counter's configuration: the variables modules/cron_fanout sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import integer, text


@dataclass(frozen=True)
class Config:
    work_queue_url: str
    fanout_topic_arn: str
    max_workers: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            work_queue_url=text(environ, "WORK_QUEUE_URL"),
            fanout_topic_arn=text(environ, "FANOUT_TOPIC_ARN"),
            max_workers=integer(environ, "MAX_WORKERS", minimum=1),
        )
