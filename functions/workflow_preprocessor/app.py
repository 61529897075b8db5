"""SNS workflow preprocessor: store the input document, start the workflow.

Input: ``{"document": {...}, "idempotency_key": "..." (optional)}``. Issues a uuid4 request
id, writes ``requests/<id>/preprocessor.json`` and publishes the id to the connector topic,
routed to ENTRY_SERVICE ("all" reaches every subscribed service).

Starting a workflow is the one effect here that is not naturally idempotent (each start
draws a fresh request id), so a request carrying an ``idempotency_key`` goes through
Powertools' stock ``idempotent_function``: one record per key, and a retry returns the
first start. Requests without a key cost no record.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import Config
from pydantic import ValidationError

from shared import workflow
from shared.clients import client
from shared.messages import PreprocessRequest
from shared.rejections import problems, rejections

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)

CONFIG = Config.from_environ(os.environ)


class InvalidPreprocessRequest(ValueError):
    """The input does not match PreprocessRequest."""


def parse(event: Any) -> PreprocessRequest:
    try:
        return PreprocessRequest.model_validate(event)
    except ValidationError as exc:
        raise InvalidPreprocessRequest(f"invalid preprocess request: {problems(exc)}") from None


def _start(request: PreprocessRequest, bucket: str, topic_arn: str, entry: str) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    key = workflow.write_document(bucket, request_id, "preprocessor", request.document)
    workflow.publish_connector(topic_arn, request_id, source="preprocessor", route=entry)
    return {"request_id": request_id, "document_key": key}


@functools.cache
def _once() -> tuple[Any, Callable[..., dict[str, str]]]:
    """``_start`` under Powertools' idempotent_function, keyed by the client's idempotency_key
    (imported on first use: requests without a key never load it)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        payload_validation_jmespath="document",  # the same key with another document is refused
        expires_after_seconds=24 * 3600,
    )
    layer = DynamoDBPersistenceLayer(table_name=CONFIG.idempotency_table, boto3_client=client("dynamodb"))
    return config, idempotent_function(data_keyword_argument="request", config=config, persistence_store=layer)(_start)


def start_workflow(
    request: PreprocessRequest, bucket: str, topic_arn: str, entry: str, context: LambdaContext | None = None
) -> dict[str, str]:
    if request.idempotency_key is None:
        return _start(request, bucket, topic_arn, entry)
    config, once = _once()
    if context is not None:
        config.register_lambda_context(context)  # an in-progress claim expires with this invocation
    return once(request=request, bucket=bucket, topic_arn=topic_arn, entry=entry)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # the caller's faults: an invalid request, an idempotency key reused for another document
    with rejections(logger, metrics, InvalidPreprocessRequest, "IdempotencyValidationError"):
        request = parse(event)
        started = start_workflow(
            request, CONFIG.document_bucket, CONFIG.connector_topic_arn, CONFIG.entry_service, context
        )
    logger.info("workflow started", extra=started)
    metrics.add_metric(name="WorkflowsStarted", unit=MetricUnit.Count, value=1)
    return started
