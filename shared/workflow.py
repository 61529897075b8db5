"""Pattern 4 runtime: documents per request and stage in S3, hand-offs over SNS.

Documents live at ``requests/<request_id>/<stage>.json`` (stage = "preprocessor" or a
service name). A service reads its input stage, writes its own, publishes a ServiceResult
to the notifier topic (offloaded to S3 when large) and, if it has a next service, hands
the request on through the connector topic. The ``service`` message attribute routes
connector messages: each service queue's subscription filter accepts its own name and "all".

Exactly-once where it matters, without per-message records: a stage's output is a pure
function of its input document and is written to a key named by (request, stage), so a
redelivered connector message rewrites the same bytes. Its notification and hand-on are then
sent again: SNS and SQS are at-least-once anyway, so consumers of the notifier key on
(request_id, service) — the pair every ServiceResult carries. The notifications of one batch
go out together with PublishBatch (10 entries and 256 KiB per request at most).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import large_payload, sqs
from shared.clients import client
from shared.environment import text
from shared.messages import ConnectorMessage, ConnectorSqsRecord, ServiceResult

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse, PartialItemFailures

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


def routed(name: str) -> dict[str, dict[str, str]]:
    """The message attribute that routes a connector message to service ``name`` (or "all")."""
    return {ROUTE_ATTRIBUTE: {"DataType": "String", "StringValue": name}}


def publish_connector(topic_arn: str, request_id: str, source: str, route: str) -> str:
    """Hand ``request_id`` to the service(s) named by ``route`` (or "all")."""
    out = client("sns").publish(
        TopicArn=topic_arn,
        Message=ConnectorMessage(request_id=request_id, source=source).model_dump_json(),
        MessageAttributes=routed(route),
    )
    return out["MessageId"]


@dataclass(frozen=True)
class Notification:
    """One message for PublishBatch; ``key`` names what it is for (a record's SQS messageId)."""

    key: str
    message: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.message.encode()) + large_payload.attributes_size(self.attributes)


def publish_batch(topic_arn: str, notifications: list[Notification], attempts: int = 3) -> set[str]:
    """Publish with PublishBatch (shared/sqs.py: 10 entries and 256 KiB a request, the entries SNS
    reports as Failed retried); returns the keys of the notifications still unpublished."""
    sns = client("sns")
    entries: list[dict[str, Any]] = [
        {"Id": str(i), "Message": n.message, "MessageAttributes": n.attributes}
        if n.attributes
        else {"Id": str(i), "Message": n.message}
        for i, n in enumerate(notifications)
    ]
    failed = sqs.send_in_batches(
        lambda batch: sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=batch),
        entries,
        max_bytes=sqs.MAX_PUBLISH_BATCH_BYTES,
        nbytes=lambda e: notifications[int(e["Id"])].size,
        attempts=attempts,
        base_delay=0.1,
    )
    return {notifications[int(i)].key for i in failed}


@dataclass(frozen=True)
class Service:
    name: str
    input_stage: str
    transform: Transform
    bucket: str
    notifier_topic_arn: str
    connector_topic_arn: str = ""
    next_service: str = ""

    @classmethod
    def from_environ(cls, transform: Transform, environ: Mapping[str, str]) -> Service:
        """The service as modules/sns_workflow configures it; raises ConfigError naming the first
        variable missing or malformed. NEXT_SERVICE is empty for the last service of the chain."""
        return cls(
            name=text(environ, "SERVICE_NAME"),
            input_stage=text(environ, "INPUT_STAGE"),
            transform=transform,
            bucket=text(environ, "DOCUMENT_BUCKET"),
            notifier_topic_arn=text(environ, "NOTIFIER_TOPIC_ARN"),
            connector_topic_arn=text(environ, "CONNECTOR_TOPIC_ARN"),
            next_service=text(environ, "NEXT_SERVICE", empty=True),
        )


@dataclass
class Outbox:
    """What a batch's services publish, sent together after the batch (PublishBatch)."""

    notifications: list[Notification] = field(default_factory=list)
    hand_ons: list[Notification] = field(default_factory=list)

    def flush(self, service: Service) -> set[str]:
        """Publish everything; returns the keys (SQS messageIds) whose messages could not be sent."""
        failed = publish_batch(service.notifier_topic_arn, self.notifications) if self.notifications else set()
        if self.hand_ons:
            failed |= publish_batch(service.connector_topic_arn, self.hand_ons)
        self.notifications, self.hand_ons = [], []
        return failed


def run_service(service: Service, request_id: str, outbox: Outbox, key: str = "") -> ServiceResult:
    """Read the input stage, transform, write this stage; queue its notification and hand-on in ``outbox``."""
    document = service.transform(read_document(service.bucket, request_id, service.input_stage))
    output_key = write_document(service.bucket, request_id, service.name, document)
    result = ServiceResult(request_id=request_id, service=service.name, output_key=output_key, document=document)
    body, attributes = large_payload.offload(result.model_dump_json(), service.bucket, attributes=routed(service.name))
    outbox.notifications.append(Notification(key or request_id, body, attributes))
    if service.next_service:
        hand_on = ConnectorMessage(request_id=request_id, source=service.name).model_dump_json()
        outbox.hand_ons.append(Notification(key or request_id, hand_on, routed(service.next_service)))
    return result


def process_connector_batch(
    event: dict, context: Any, service: Service, processor: BatchProcessor
) -> PartialItemFailureResponse:
    """A service handler's body: run each record (partial batch response), then publish the batch's
    notifications and hand-ons; a record whose messages could not be published is retried."""
    # Imported here, not with the module: the preprocessor uses this module but processes no
    # batch, and Powertools' batch package is a large import (with pydantic already imported,
    # it imports every parser model Powertools has). The services import it before pydantic.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    outbox = Outbox()

    def record_handler(record: ConnectorSqsRecord) -> str:
        return run_service(service, record.body.Message.request_id, outbox, key=record.messageId).output_key

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    unsent = outbox.flush(service)
    failures: list[PartialItemFailures] = [*response["batchItemFailures"]]
    failures += [{"itemIdentifier": k} for k in sorted(unsent)]
    return {"batchItemFailures": failures}
