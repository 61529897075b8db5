"""SQS DLQ redrive (the message move task API), which moto lacks, served by the emulator."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.emulator.server import Emulator


class MessageMoveTasks:
    """SQS DLQ redrive (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask), which
    moto lacks: each task moves the DLQ's messages back (to DestinationArn, or to the queue each
    came from) at most MaxNumberOfMessagesPerSecond, in the background, as SQS does."""

    ACTIONS = ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask")

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.tasks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _sqs(self) -> Any:
        return self.emulator.client("sqs")

    @staticmethod
    def _error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, str], bytes]:
        body = {"__type": f"com.amazonaws.sqs#{code}", "message": message}
        return status, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body).encode()

    @staticmethod
    def _ok(body: dict) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body).encode()

    def _url(self, arn: str) -> str | None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            return None
        try:
            return self._sqs().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        except Exception:
            return None

    def handle(self, action: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self._error("InvalidParameterValue", "The request body is not valid JSON")
        return getattr(self, action)(params)

    def StartMessageMoveTask(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        source_arn = params.get("SourceArn") or ""
        source = self._url(source_arn)
        if source is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the SourceArn parameter doesn't exist: {source_arn}",
            )
        sqs = self._sqs()
        if not sqs.list_dead_letter_source_queues(QueueUrl=source).get("queueUrls"):
            return self._error(
                "InvalidParameterValue", f"Source queue must be configured as a Dead Letter Queue: {source_arn}"
            )
        destination_arn = params.get("DestinationArn")
        destination = self._url(destination_arn) if destination_arn else None
        if destination_arn and destination is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the DestinationArn parameter doesn't exist: {destination_arn}",
            )
        with self._lock:
            if any(t["SourceArn"] == source_arn and t["Status"] == "RUNNING" for t in self.tasks.values()):
                return self._error(
                    "UnsupportedOperation",
                    "There is already a task running. Only one active task is allowed for a source queue arn"
                    " at a given time.",
                )
            handle = uuid.uuid4().hex
            depth = int(
                sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                    "ApproximateNumberOfMessages"
                ]
            )
            task = {
                "TaskHandle": handle,
                "Status": "RUNNING",
                "SourceArn": source_arn,
                "ApproximateNumberOfMessagesMoved": 0,
                "ApproximateNumberOfMessagesToMove": depth,
                "StartedTimestamp": int(time.time() * 1000),
            }
            if destination_arn:
                task["DestinationArn"] = destination_arn
            if params.get("MaxNumberOfMessagesPerSecond"):
                task["MaxNumberOfMessagesPerSecond"] = int(params["MaxNumberOfMessagesPerSecond"])
            self.tasks[handle] = task
        threading.Thread(target=self._move, args=(task, source, destination), daemon=True).start()
        return self._ok({"TaskHandle": handle})

    def _move(self, task: dict, source: str, destination: str | None) -> None:
        sqs = self._sqs()
        rate = task.get("MaxNumberOfMessagesPerSecond") or 500
        try:
            while (
                task["Status"] == "RUNNING"
                and task["ApproximateNumberOfMessagesMoved"] < task["ApproximateNumberOfMessagesToMove"]
            ):
                got = sqs.receive_message(
                    QueueUrl=source,
                    MaxNumberOfMessages=min(10, rate),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not got:
                    break
                for message in got:
                    target = destination or self._url(message["Attributes"].get("DeadLetterQueueSourceArn", ""))
                    if target is None:  # moto does not record DeadLetterQueueSourceArn: the DLQ's one source
                        sources = sqs.list_dead_letter_source_queues(QueueUrl=source).get("queueUrls", [])
                        if len(sources) != 1:
                            raise RuntimeError("cannot tell which source queue a message came from")
                        target = sources[0]
                    entry: dict[str, Any] = {"QueueUrl": target, "MessageBody": message["Body"]}
                    attributes = {
                        k: {f: v for f, v in value.items() if f in ("DataType", "StringValue", "BinaryValue")}
                        for k, value in message.get("MessageAttributes", {}).items()
                    }
                    if attributes:
                        entry["MessageAttributes"] = attributes
                    if target.endswith(".fifo"):
                        entry["MessageGroupId"] = message["Attributes"].get("MessageGroupId", "redrive")
                        entry["MessageDeduplicationId"] = (
                            message["Attributes"].get("MessageDeduplicationId") or uuid.uuid4().hex
                        )
                    sqs.send_message(**entry)
                    sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                    task["ApproximateNumberOfMessagesMoved"] += 1
                time.sleep(len(got) / rate)
            if task["Status"] == "RUNNING":
                task["Status"] = "COMPLETED"
        except Exception as exc:
            task["Status"], task["FailureReason"] = "FAILED", str(exc)

    def ListMessageMoveTasks(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        source_arn = params.get("SourceArn") or ""
        if self._url(source_arn) is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the SourceArn parameter doesn't exist: {source_arn}",
            )
        tasks = [t for t in self.tasks.values() if t["SourceArn"] == source_arn]
        tasks.sort(key=lambda t: t["StartedTimestamp"], reverse=True)
        results = [{k: v for k, v in t.items() if k != "TaskHandle" or t["Status"] == "RUNNING"} for t in tasks]
        return self._ok({"Results": results[: int(params.get("MaxResults") or 1)]})

    def CancelMessageMoveTask(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        task = self.tasks.get(params.get("TaskHandle") or "")
        if task is None or task["Status"] != "RUNNING":
            return self._error("ResourceNotFoundException", "The task handle is invalid or the task is not running")
        task["Status"] = "CANCELLED"
        return self._ok({"ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]})
