"""SNS workflow service "summarize": a small summary of its input document.

Same shape as workflow_enrich; the transform is the only difference.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import workflow
from shared.messages import ConnectorSqsRecord

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)
# logger: each failed record is logged with its reason (Powertools' Logger has logging.Logger's methods)
processor = BatchProcessor(event_type=EventType.SQS, model=ConnectorSqsRecord, logger=logger)  # type: ignore[arg-type]


def summarize(document: dict[str, Any]) -> dict[str, Any]:
    canonical = json.dumps(document, sort_keys=True).encode()
    sizes = {name: len(json.dumps(value).encode()) for name, value in document.items()}
    return {
        "field_count": len(document),
        "bytes": len(canonical),
        "sha256": hashlib.sha256(canonical).hexdigest(),
        "largest_field": max(sizes, key=lambda k: sizes[k]) if sizes else None,
    }


SERVICE = workflow.Service.from_environ(summarize, os.environ)  # the configuration, read once


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return workflow.process_connector_batch(event, context, SERVICE, processor)
