"""The Lambda service around moto, for functions the local runner runs (not moto, not Docker).

* moto would consume an SQS queue itself when an event source mapping exists (and try to run
  the function in Docker); here the mappings are only stored, and the local runner polls.
* SNS deliveries to Lambda subscriptions go to the runner (``sns_handler``), as the SNS event
  AWS sends (filter policies are still applied by moto).
* Lambda's recursion config (``Put/GetFunctionRecursionConfig``), which moto lacks, is kept
  per function; nothing here stops a recursive loop.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

SnsHandler = Callable[[str, dict], None]
_sns_handler: list[SnsHandler | None] = [None]  # set by Emulator.sns_handler; moto's models are global


def current_sns_handler() -> SnsHandler | None:
    """Where SNS deliveries to Lambda subscriptions go (None: moto delivers them)."""
    return _sns_handler[0]


def set_sns_handler(handler: SnsHandler | None) -> None:
    """Send SNS deliveries to Lambda subscriptions to ``handler`` (None: back to moto)."""
    _sns_handler[0] = handler


def detach_moto_event_source_mappings() -> None:
    """A queue reports no event source mappings to moto's SQS, so moto never runs a function
    for a message; the mappings stay stored in moto's Lambda, and the local runner polls."""
    from moto.sqs.models import Queue

    def _get(self: Any) -> dict:
        return {}

    def _set(self: Any, value: Any) -> None:
        pass

    Queue.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]


def sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: dict | None
) -> dict:
    """The event SNS sends to a Lambda subscriber."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    region = subscription.topic.arn.split(":")[3]
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": iso_8601_datetime_with_milliseconds(),
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        k: {"Type": v["Type"], "Value": v["Value"]} for k, v in (attributes or {}).items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def route_sns_lambda_deliveries() -> None:
    """A delivery to a Lambda subscription that passes its filter policy goes to the runner's
    ``sns_handler`` as the event AWS sends; other protocols, and every delivery while no runner
    listens, stay moto's."""
    from moto.sns.models import Subscription

    if getattr(Subscription.publish, "_local_runner", False):
        return
    original = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        handler = _sns_handler[0]
        if self.protocol != "lambda" or handler is None:
            return original(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        handler(self.endpoint, sns_lambda_event(self, message, message_id, subject, message_attributes))
        return None

    publish._local_runner = True  # type: ignore[attr-defined]
    Subscription.publish = publish  # type: ignore[method-assign]


def lambda_recursion_config() -> None:
    """moto has no Put/GetFunctionRecursionConfig, which aws_lambda_function_recursion_config
    calls (create and update: Put; refresh: Get; destroy: Put Terminate). Kept on the function
    (so it goes with it and with a reset), Terminate until set, as on AWS; values other than
    Allow and Terminate are refused with AWS's ValidationException."""
    from moto.awslambda import urls
    from moto.awslambda.exceptions import ValidationException
    from moto.awslambda.responses import LambdaResponse

    path = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$"
    urls.url_paths.setdefault(path, LambdaResponse.dispatch)

    def function(self: Any) -> Any:
        return self.backend.get_function(urllib.parse.unquote(self.path.rstrip("/").rsplit("/", 2)[-2]))

    def get_function_recursion_config(self: Any) -> tuple[int, dict, str]:
        return 200, {}, json.dumps({"RecursiveLoop": getattr(function(self), "recursive_loop", "Terminate")})

    def put_function_recursion_config(self: Any) -> tuple[int, dict, str]:
        value = self._get_param("RecursiveLoop")
        if value not in ("Allow", "Terminate"):
            constraint = "Member must satisfy enum value set: [Terminate, Allow]"
            if value is None:
                constraint = "Member must not be null"
            raise ValidationException(str(value), "recursiveLoop", constraint)
        function(self).recursive_loop = value
        return 200, {}, json.dumps({"RecursiveLoop": value})

    LambdaResponse.get_function_recursion_config = get_function_recursion_config  # type: ignore[attr-defined]
    LambdaResponse.put_function_recursion_config = put_function_recursion_config  # type: ignore[attr-defined]
