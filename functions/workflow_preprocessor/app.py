"""SNS workflow preprocessor: store the input document, start the workflow.

Input: ``{"document": {...}}``. Issues a uuid4 request id, writes
``requests/<id>/preprocessor.json`` and publishes the id to the connector topic, routed to
ENTRY_SERVICE ("all" reaches every subscribed service).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import workflow
from shared.messages import PreprocessRequest

logger = Logger()
metrics = Metrics()
tracer = Tracer()

DOCUMENT_BUCKET = os.environ.get("DOCUMENT_BUCKET", "")
CONNECTOR_TOPIC_ARN = os.environ.get("CONNECTOR_TOPIC_ARN", "")
ENTRY_SERVICE = os.environ.get("ENTRY_SERVICE", workflow.BROADCAST)


class InvalidPreprocessRequest(ValueError):
    """The input does not match PreprocessRequest."""


def parse(event: Any) -> PreprocessRequest:
    try:
        return PreprocessRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidPreprocessRequest(f"invalid preprocess request: {problems}") from None


def start_workflow(request: PreprocessRequest, bucket: str, topic_arn: str, entry: str) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    key = workflow.write_document(bucket, request_id, "preprocessor", request.document)
    workflow.publish_connector(topic_arn, request_id, source="preprocessor", route=entry)
    return {"request_id": request_id, "document_key": key}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(event)
    started = start_workflow(request, DOCUMENT_BUCKET, CONNECTOR_TOPIC_ARN, ENTRY_SERVICE)
    logger.info("workflow started", extra=started)
    metrics.add_metric(name="WorkflowsStarted", unit=MetricUnit.Count, value=1)
    return started
