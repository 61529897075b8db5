"""A dispatcher's configuration: the variables modules/sticky_queue sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import choice, text


@dataclass(frozen=True)
class Config:
    document_bucket: str
    queue_type: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            document_bucket=text(environ, "DOCUMENT_BUCKET"),
            queue_type=choice(environ, "QUEUE_TYPE", ("standard", "fifo")),
        )

    @property
    def fifo(self) -> bool:
        return self.queue_type == "fifo"
