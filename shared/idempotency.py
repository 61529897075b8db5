"""Per-message idempotency for grouped processing, on Powertools' persistence layer.

Powertools' ``@idempotent_function`` wraps one call per payload. A grouped handler applies
many messages in one write, so it uses the same persistence protocol directly:
claim each message (INPROGRESS), apply the group, then mark the applied ones COMPLETED —
or release the claims if applying failed. Records and TTLs are the ones Powertools
writes, in the one idempotency table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

from shared.clients import client

T = TypeVar("T")


class MessageInProgress(Exception):
    """Another invocation holds the claim on this message; retry after it expires."""


@functools.cache
def persistence_layer(key_jmespath: str = "message_id") -> DynamoDBPersistenceLayer:
    layer = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=client("dynamodb"))
    layer.configure(
        IdempotencyConfig(event_key_jmespath=key_jmespath, expires_after_seconds=24 * 3600),
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
    )
    return layer


def apply_once(
    items: Sequence[T],
    payload: Callable[[T], dict[str, Any]],
    apply: Callable[[list[T]], Any],
    layer: DynamoDBPersistenceLayer,
    remaining_ms: int | None = None,
) -> tuple[list[T], list[T]]:
    """Apply the not-yet-completed ``items`` in one call to ``apply``.

    Returns ``(applied, skipped)``. Raises MessageInProgress (nothing applied) when a
    message is claimed by a live invocation. If ``apply`` raises, all claims are released.
    """
    claimed: list[T] = []
    skipped: list[T] = []
    try:
        for item in items:
            try:
                layer.save_inprogress(data=payload(item), remaining_time_in_millis=remaining_ms)
                claimed.append(item)
            except IdempotencyItemAlreadyExistsError as exc:
                record = exc.old_data_record or layer.get_record(data=payload(item))
                if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                    skipped.append(item)
                else:
                    raise MessageInProgress(f"message {payload(item)} is in progress elsewhere") from exc
        if claimed:
            apply(claimed)
    except BaseException as exc:
        for item in claimed:
            layer.delete_record(data=payload(item), exception=exc)  # type: ignore[arg-type]
        raise
    for item in claimed:
        layer.save_success(data=payload(item), result={"applied": True})
    return claimed, skipped
