"""Execution roles: the temporary credentials Lambda hands each function's runtime and SQS
pollers (sts:AssumeRole, renewed before they expire), and the clients made with them."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

CREDENTIALS_REFRESH_SECONDS = 300.0  # new credentials when the current ones expire sooner than this
ROLE_SESSION_SECONDS = 3600  # the DurationSeconds of each AssumeRole


@dataclass
class RoleCredentials:
    """Temporary credentials of a function's execution role, as Lambda hands them to the runtime."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float  # epoch seconds

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def fresh(self, margin: float = CREDENTIALS_REFRESH_SECONDS) -> bool:
        return self.expires - time.time() > margin


class ExecutionRoles:
    """Lambda assumes each function's execution role and gives the runtime the temporary
    credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN); its SQS pollers use
    the same role. Locally the runner stands in for the Lambda service principal: it calls
    sts:AssumeRole with the emulator's own (never checked) keys, after checking that the role's
    trust policy lets lambda.amazonaws.com assume it, as Lambda's CreateFunction does. Credentials
    are renewed when they expire within ``margin`` seconds."""

    def __init__(self, client: Callable[[str], Any], margin: float = CREDENTIALS_REFRESH_SECONDS) -> None:
        self._client = client
        self.margin = margin
        self.duration = ROLE_SESSION_SECONDS
        self._current: dict[tuple[str, str], RoleCredentials] = {}
        self._lock = threading.Lock()
        self.assumed = 0  # AssumeRole calls made (tests)

    def get(self, function: str, role_arn: str) -> RoleCredentials:
        with self._lock:
            current = self._current.get((function, role_arn))
            if current is not None and current.fresh(self.margin):
                return current
            creds = self._client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=function[:64], DurationSeconds=self.duration
            )["Credentials"]
            current = RoleCredentials(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"].timestamp()
            )
            self._current[(function, role_arn)] = current
            self.assumed += 1
            return current

    def trusts_lambda(self, role_arn: str) -> bool:
        """Whether the role's trust policy allows lambda.amazonaws.com to sts:AssumeRole it."""
        try:
            role = self._client("iam").get_role(RoleName=role_arn.split("/")[-1])["Role"]
        except Exception:  # noqa: BLE001 - no such role
            return False
        document = role["AssumeRolePolicyDocument"]
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            services = (statement.get("Principal") or {}).get("Service", [])
            services = [services] if isinstance(services, str) else services
            if (
                statement.get("Effect") == "Allow"
                and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
                and "lambda.amazonaws.com" in services
            ):
                return True
        return False


class RoleClients:
    """boto3 clients signed with a role's credentials, one per (function, service, access key):
    a renewal of the credentials gets a new client, the others are reused."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint, self.region = endpoint, region
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, function: str, service: str, credentials: RoleCredentials) -> Any:
        key = (function, service, credentials.access_key_id)
        with self._lock:  # boto3's default session is not thread-safe
            if key not in self._clients:
                self._clients[key] = boto3.client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                )
            return self._clients[key]
