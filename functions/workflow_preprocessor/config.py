"""The workflow preprocessor's configuration: the variables modules/sns_workflow sets on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.environment import text


@dataclass(frozen=True)
class Config:
    document_bucket: str
    connector_topic_arn: str
    entry_service: str
    idempotency_table: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """Raises ConfigError naming the first variable missing or malformed."""
        return cls(
            document_bucket=text(environ, "DOCUMENT_BUCKET"),
            connector_topic_arn=text(environ, "CONNECTOR_TOPIC_ARN"),
            entry_service=text(environ, "ENTRY_SERVICE"),  # a service name, or "all"
            idempotency_table=text(environ, "IDEMPOTENCY_TABLE"),
        )
