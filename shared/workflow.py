"""Pattern 4 runtime: documents per request and stage in S3, hand-offs over SNS.

Documents live at ``requests/<request_id>/<stage>.json`` (stage = "preprocessor" or a
service name). A service reads its input stage, writes its own, publishes a ServiceResult
to the notifier topic (offloaded to S3 when large) and, if it has a next service, hands
the request on through the connector topic. The ``service`` message attribute routes
connector messages: each service queue's subscription filter accepts its own name and "all".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from shared import large_payload
from shared.clients import client
from shared.idempotency import apply_once, persistence_layer
from shared.messages import ConnectorMessage, ConnectorSqsRecord, ServiceResult

ROUTE_ATTRIBUTE = "service"
BROADCAST = "all"

Transform = Callable[[dict[str, Any]], dict[str, Any]]


class MissingInput(LookupError):
    """The input document of this stage does not exist (yet): the message is retried."""


def document_key(request_id: str, stage: str) -> str:
    return f"requests/{request_id}/{stage}.json"


def read_document(bucket: str, request_id: str, stage: str) -> dict[str, Any]:
    try:
        body = client("s3").get_object(Bucket=bucket, Key=document_key(request_id, stage))["Body"].read()
    except client("s3").exceptions.NoSuchKey:
        raise MissingInput(f"no {stage} document for request {request_id}") from None
    return json.loads(body)


def write_document(bucket: str, request_id: str, stage: str, document: dict[str, Any]) -> str:
    key = document_key(request_id, stage)
    client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
    return key


def publish_connector(topic_arn: str, request_id: str, source: str, route: str) -> str:
    """Hand ``request_id`` to the service(s) named by ``route`` (or "all")."""
    out = client("sns").publish(
        TopicArn=topic_arn,
        Message=ConnectorMessage(request_id=request_id, source=source).model_dump_json(),
        MessageAttributes={ROUTE_ATTRIBUTE: {"DataType": "String", "StringValue": route}},
    )
    return out["MessageId"]


@dataclass(frozen=True)
class Service:
    name: str
    input_stage: str
    transform: Transform
    bucket: str
    notifier_topic_arn: str
    connector_topic_arn: str = ""
    next_service: str = ""


def run_service(service: Service, request_id: str) -> ServiceResult:
    """Read the input stage, transform, write this stage, notify, hand on."""
    document = service.transform(read_document(service.bucket, request_id, service.input_stage))
    key = write_document(service.bucket, request_id, service.name, document)
    result = ServiceResult(request_id=request_id, service=service.name, output_key=key, document=document)
    body, attributes = large_payload.offload(
        result.model_dump_json(),
        service.bucket,
        attributes={ROUTE_ATTRIBUTE: {"DataType": "String", "StringValue": service.name}},
    )
    client("sns").publish(TopicArn=service.notifier_topic_arn, Message=body, MessageAttributes=attributes)
    if service.next_service:
        publish_connector(service.connector_topic_arn, request_id, source=service.name, route=service.next_service)
    return result


def service_from_env(transform: Transform, env: dict[str, str]) -> Service:
    """The service as Terraform configured it (see modules/sns_workflow)."""
    return Service(
        name=env.get("SERVICE_NAME", ""),
        input_stage=env.get("INPUT_STAGE", "preprocessor"),
        transform=transform,
        bucket=env.get("DOCUMENT_BUCKET", ""),
        notifier_topic_arn=env.get("NOTIFIER_TOPIC_ARN", ""),
        connector_topic_arn=env.get("CONNECTOR_TOPIC_ARN", ""),
        next_service=env.get("NEXT_SERVICE", ""),
    )


def handle_connector_record(service: Service, record: ConnectorSqsRecord, remaining_ms: int | None) -> str:
    """Record handler: run the service once per SNS message id (a redelivery is skipped)."""
    applied, _ = apply_once(
        [record],
        payload=lambda r: {"message_id": f"{service.name}:{r.body.MessageId}"},
        apply=lambda todo: run_service(service, todo[0].body.Message.request_id),
        layer=persistence_layer(),
        remaining_ms=remaining_ms,
    )
    return "applied" if applied else "duplicate"


def process_connector_batch(
    event: dict, context: Any, service: Service, processor: BatchProcessor
) -> PartialItemFailureResponse:
    """A service handler's body: partial batch response over handle_connector_record."""
    return process_partial_response(
        event=event,
        record_handler=lambda record: handle_connector_record(service, record, context.get_remaining_time_in_millis()),
        processor=processor,
        context=context,
    )
