"""The relay consumer's configuration: the variables modules/relay_consumer sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import integer, text


@dataclass(frozen=True)
class Config:
    queue_url: str
    lease_table: str
    results_table: str
    max_hops: int
    chain_budget_seconds: int
    batches_per_hop: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            queue_url=text(environ, "RELAY_QUEUE_URL"),
            lease_table=text(environ, "LEASE_TABLE"),
            results_table=text(environ, "RESULTS_TABLE"),
            max_hops=integer(environ, "MAX_HOPS", minimum=1),
            chain_budget_seconds=integer(environ, "CHAIN_BUDGET_SECONDS", minimum=1),
            batches_per_hop=integer(environ, "BATCHES_PER_HOP", minimum=1),
        )
