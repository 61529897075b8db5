"""SNS workflow service "enrich": adds a description of the document's fields.

Consumes its connector queue (partial batch responses; a redelivery rewrites the same stage), reads
its input stage, writes ``requests/<id>/<SERVICE_NAME>.json``, notifies, hands on.
"""

from __future__ import annotations

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


def enrich(document: dict[str, Any]) -> dict[str, Any]:
    fields = {name: type(value).__name__ for name, value in document.items()}
    size = len(json.dumps(document).encode())
    return {**document, "_enrichment": {"fields": fields, "field_count": len(fields), "bytes": size}}


SERVICE = workflow.Service.from_environ(enrich, os.environ)  # the configuration, read once


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return workflow.process_connector_batch(event, context, SERVICE, processor)
