"""The ingester's configuration: the variables modules/sticky_queue sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import ConfigError, integer, text


def pool_urls(template: str, size: int) -> tuple[str, ...]:
    """The pool's queue URLs: ``template`` with ``{index}`` replaced by 00, 01, ... (the queues' names)."""
    if "{index}" not in template:
        raise ConfigError(f"POOL_QUEUE_URL_TEMPLATE must hold {{index}}, got {template!r}")
    return tuple(template.replace("{index}", f"{i:02d}") for i in range(size))


@dataclass(frozen=True)
class Config:
    assignment_table: str
    url_store_queue_url: str
    pool_queue_urls: tuple[str, ...]
    lease_seconds: int  # at least the pool queues' message retention: see shared/assignments.py
    max_message_bytes: int  # the pool queues' MaximumMessageSize

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            assignment_table=text(environ, "ASSIGNMENT_TABLE"),
            url_store_queue_url=text(environ, "URL_STORE_QUEUE_URL"),
            pool_queue_urls=pool_urls(
                text(environ, "POOL_QUEUE_URL_TEMPLATE"), integer(environ, "POOL_SIZE", minimum=1)
            ),
            lease_seconds=integer(environ, "ASSIGNMENT_LEASE_SECONDS", minimum=1),
            max_message_bytes=integer(environ, "MAX_MESSAGE_BYTES", minimum=1),
        )
