"""IAM as AWS evaluates it, for requests signed with an assumed role's credentials.

The emulator (``local/emulator/server.py``) asks ``Authorizer.check`` about every request before moto
sees it. Only credentials that ``sts:AssumeRole`` issued are checked: the emulator's dummy keys
(``test``), which Terraform, the tests and the runner's own API calls use, are never checked,
so set-up needs no permissions. Each function's workers and SQS pollers run with their
execution role's credentials (``local/runner/roles.py``), so what they call is authorised against
that role's inline and attached policies.

Why not moto's own access control (``INITIAL_NO_AUTH_ACTION_COUNT``)? It checks every caller
once set-up is done, knows the resource ARN of SQS, IAM, STS and S3 requests only (every other
request is checked against ``*``, so a table-, topic- or function-scoped Allow never matches),
names actions by moto's operation (``sqs:SendMessageBatch``, ``lambda:Invoke``,
``monitoring:PutMetricData``) where AWS authorises ``sqs:SendMessage``,
``lambda:InvokeFunction``, ``cloudwatch:PutMetricData``, ignores conditions (a conditional
Deny denies unconditionally), answers 500 to an AssumeRole of a service-trusted role and
fails the signature of Lambda's GET requests. Here each request becomes the (action,
resource) pairs AWS authorises (``requested``), evaluated by ``evaluate``:

* an explicit Deny wins, else an Allow is needed (identity policies only; with a session
  policy, it must allow too);
* ``Action``/``NotAction`` match case-insensitively, ``Resource``/``NotResource``
  case-sensitively, ``*`` and ``?`` as wildcards;
* a statement with a ``Condition`` matches only if every condition can be evaluated and is
  true: the keys known here are ``aws:SecureTransport`` (true: a request to the emulator
  stands for a TLS request to AWS), ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:RequestedRegion`` and ``aws:userid``. So a conditional Allow on any other key never
  allows, and a conditional Deny on any other key never denies (approximations: AWS would
  evaluate them);
* resource-based policies (queue, topic, bucket, key policies), permission boundaries, SCPs,
  KMS grants and policy variables are not evaluated: same-account calls need the identity
  policy's Allow, which is what is checked.

Modes (``IAM`` in the environment, read when the emulator starts): ``enforce`` (the default)
answers a denied request with the service's AccessDenied error, naming the action and the
resource as AWS does; ``report`` logs it and lets it through; ``off`` checks nothing.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import logging
import os
import re
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("local-iam")
MODES = ("enforce", "report", "off")
MODE_ENV = "IAM"

# The IAM service prefix of each SigV4 signing name that differs from it.
PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# Batch operations AWS authorises as the single operation's action.
BATCH_ACTIONS = {
    "sqs": {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    },
    "sns": {"PublishBatch": "Publish"},
}


def mode_from_env() -> str:
    mode = os.environ.get(MODE_ENV, "").strip().lower() or "enforce"
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


@dataclass
class Principal:
    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    account: str
    role_name: str
    session_policy: str | None
    user_id: str


@dataclass
class Denial:
    principal: str
    action: str
    resource: str
    explicit: bool
    service: str
    time: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat())

    @property
    def message(self) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if self.explicit
            else f"because no identity-based policy allows the {self.action} action"
        )
        return f"User: {self.principal} is not authorized to perform: {self.action} on resource: {self.resource} {why}"


# --- who is calling --------------------------------------------------------------------------


def _credential(headers: dict[str, str], query: dict[str, list[str]]) -> tuple[str, str, str] | None:
    """(access key id, region, signing service) of a SigV4 request (header or presigned)."""
    auth = headers.get("authorization", "")
    match = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
    if match:
        return match.group(1), match.group(2), match.group(3)
    cred = (query.get("X-Amz-Credential") or [""])[0].split("/")
    if len(cred) == 5:
        return cred[0], cred[2], cred[3]
    return None


def assumed_role(access_key_id: str) -> Any:
    """moto's record of the AssumeRole that issued ``access_key_id``, if one did."""
    if not access_key_id.startswith("ASIA"):
        return None
    from moto.sts.models import sts_backends

    for account in list(sts_backends.values()):
        for backend in list(account.values()):
            for role in list(backend.assumed_roles):
                if role.access_key_id == access_key_id:
                    return role
    return None


def role_policies(account: str, role_name: str) -> list[str]:
    """The role's inline and attached policy documents (JSON), read from moto's IAM now."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    documents = []
    try:
        for name in backend.list_role_policies(role_name):
            documents.append(backend.get_role_policy(role_name, name)[1])
        attached, _ = backend.list_attached_role_policies(role_name)
    except Exception:  # noqa: BLE001 - the role was deleted: nothing allows
        return documents
    for policy in attached:
        documents += [v.document for v in policy.versions if v.version_id == policy.default_version_id]
    return documents


# --- what it asks for ------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    region: str
    service: str  # SigV4 signing name
    account: str

    @functools.cached_property
    def json(self) -> dict:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @functools.cached_property
    def form(self) -> dict[str, str]:
        params = {k: v[0] for k, v in self.query.items()}
        if self.method == "POST" and "x-amz-target" not in self.headers:
            try:
                params.update({k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode()).items()})
            except UnicodeDecodeError:
                pass
        return params

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def _operation(request: Request) -> str | None:
    target = request.headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    cbor = re.search(r"/service/[^/]+/operation/([^/]+)$", request.path)
    if cbor:
        return cbor.group(1)
    return request.form.get("Action")


def _sqs(request: Request, op: str) -> list[tuple[str, str]]:
    params = request.json or request.form
    url = params.get("QueueUrl")
    if url:
        parts = urllib.parse.urlparse(url).path.strip("/").split("/")
        resource = f"arn:aws:sqs:{request.region}:{parts[-2]}:{parts[-1]}" if len(parts) >= 2 else "*"
    elif op in ("GetQueueUrl", "CreateQueue") and params.get("QueueName"):
        account = params.get("QueueOwnerAWSAccountId") or request.account
        resource = f"arn:aws:sqs:{request.region}:{account}:{params['QueueName']}"
    elif params.get("SourceArn"):  # StartMessageMoveTask and friends
        resource = params["SourceArn"]
    else:
        resource = "*"
    return [(f"sqs:{BATCH_ACTIONS['sqs'].get(op, op)}", resource)]


def _dynamodb(request: Request, op: str) -> list[tuple[str, str]]:
    body = request.json

    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else request.arn("dynamodb", f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if op in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{op}", table(name)) for name in body.get("RequestItems") or {}]
    if op in ("TransactWriteItems", "TransactGetItems"):
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        kinds["Get"] = "GetItem"
        pairs = []
        for item in body.get("TransactItems") or []:
            for kind, spec in (item or {}).items():
                if isinstance(spec, dict) and spec.get("TableName"):
                    pairs.append((f"dynamodb:{kinds.get(kind, kind)}", table(spec["TableName"])))
        return pairs
    if body.get("TableName"):
        return [(f"dynamodb:{op}", table(body["TableName"], body.get("IndexName")))]
    if body.get("ResourceArn"):
        return [(f"dynamodb:{op}", body["ResourceArn"])]
    return [(f"dynamodb:{op}", "*")]


def _sns(request: Request, op: str) -> list[tuple[str, str]]:
    params = request.form
    arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if not arn and params.get("SubscriptionArn"):
        arn = params["SubscriptionArn"].rsplit(":", 1)[0]
    return [(f"sns:{BATCH_ACTIONS['sns'].get(op, op)}", arn or "*")]


LAMBDA_ROUTES = [  # (method, path pattern, action): the Lambda API calls a function makes or might
    ("POST", r"/2015-03-31/functions/(?P<fn>[^/]+)/invocations", "InvokeFunction"),
    ("POST", r"/2014-11-13/functions/(?P<fn>[^/]+)/invoke-async/?", "InvokeAsync"),
    ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/configuration", "GetFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/(?P<fn>[^/]+)/configuration", "UpdateFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/(?P<fn>[^/]+)/code", "UpdateFunctionCode"),
    ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/?", "GetFunction"),
    ("DELETE", r"/2015-03-31/functions/(?P<fn>[^/]+)/?", "DeleteFunction"),
    ("GET", r"/2015-03-31/functions/?", "ListFunctions"),
    ("GET", r"/2015-03-31/event-source-mappings/?", "ListEventSourceMappings"),
]


def _lambda(request: Request) -> list[tuple[str, str]]:
    for method, pattern, action in LAMBDA_ROUTES:
        match = re.fullmatch(pattern, request.path)
        if match and request.method == method:
            name = urllib.parse.unquote(match.groupdict().get("fn") or "")
            if not name:
                return [(f"lambda:{action}", "*")]
            if name.startswith("arn:"):
                resource = name
            else:
                resource = request.arn("lambda", f"function:{name}")
            qualifier = (request.query.get("Qualifier") or [""])[0]
            if qualifier and resource.count(":") == 6:
                resource = f"{resource}:{qualifier}"
            return [(f"lambda:{action}", resource)]
    return [(f"lambda:{request.method}{request.path}", "*")]  # not one the functions make: never allowed


def _s3(request: Request) -> list[tuple[str, str]]:
    parts = request.path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
    host = request.headers.get("host", "")
    if ".s3." in host or host.endswith(".localhost") and not host.startswith("s3."):
        bucket, key = host.split(".", 1)[0], urllib.parse.unquote(request.path.lstrip("/"))
    if not bucket:
        return [("s3:ListAllMyBuckets", "*")]
    q = request.query
    if key:
        obj = f"arn:aws:s3:::{bucket}/{key}"
        if request.method in ("GET", "HEAD"):
            return [("s3:GetObjectVersion" if "versionId" in q else "s3:GetObject", obj)]
        if request.method in ("PUT", "POST"):
            pairs = [("s3:PutObject", obj)]
            source = request.headers.get("x-amz-copy-source")
            if source:
                pairs.append(("s3:GetObject", "arn:aws:s3:::" + urllib.parse.unquote(source.lstrip("/").split("?")[0])))
            return pairs
        if request.method == "DELETE":
            if "uploadId" in q:
                return [("s3:AbortMultipartUpload", obj)]
            return [("s3:DeleteObjectVersion" if "versionId" in q else "s3:DeleteObject", obj)]
    resource = f"arn:aws:s3:::{bucket}"
    if request.method == "POST" and "delete" in q:
        keys = re.findall(rb"<Key>(.*?)</Key>", request.body)
        return [("s3:DeleteObject", f"{resource}/{k.decode()}") for k in keys] or [("s3:DeleteObject", f"{resource}/*")]
    if request.method in ("GET", "HEAD"):
        if "versions" in q:
            return [("s3:ListBucketVersions", resource)]
        for sub in ("policy", "versioning", "lifecycle", "notification", "encryption", "tagging", "location"):
            if sub in q:
                return [(f"s3:GetBucket{sub.capitalize()}", resource)]
        return [("s3:ListBucket", resource)]
    return [(f"s3:{request.method}Bucket", resource)]


def _generic(request: Request, op: str, prefix: str) -> list[tuple[str, str]]:
    body: dict[str, Any] = request.json or dict(request.form)
    if prefix == "events":
        if op == "PutEvents":
            buses = {(e or {}).get("EventBusName") or "default" for e in body.get("Entries") or []} or {"default"}
            return [
                ("events:PutEvents", b if b.startswith("arn:") else request.arn("events", f"event-bus/{b}"))
                for b in sorted(buses)
            ]
        rule = body.get("Rule") or body.get("Name")
        if rule and op not in ("CreateEventBus", "DescribeEventBus", "DeleteEventBus"):
            bus = body.get("EventBusName") or "default"
            path = f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}"
            return [(f"events:{op}", request.arn("events", path))]
    if prefix == "logs":
        group = body.get("logGroupName")
        if group:
            stream = body.get("logStreamName")
            resource = f"log-group:{group}:log-stream:{stream}" if stream else f"log-group:{group}"
            if op == "CreateLogGroup":
                resource = f"log-group:{group}:log-stream:"
            return [(f"logs:{op}", request.arn("logs", resource))]
    if prefix == "kms":
        key = body.get("KeyId") or ""
        if key:
            if not key.startswith("arn:"):
                key = request.arn("kms", key if key.startswith("alias/") else f"key/{key}")
            return [(f"kms:{op}", key)]
    if prefix == "sts" and body.get("RoleArn"):
        return [(f"sts:{op}", body["RoleArn"])]
    return [(f"{prefix}:{op}", "*")]


def missing_object(request: Request) -> list[tuple[str, str]]:
    """S3 answers a GetObject/HeadObject of a key that does not exist with 404 NoSuchKey only
    to a caller that may s3:ListBucket the bucket; to any other, 403 AccessDenied (so that
    one cannot learn which keys exist). That permission, when the key is missing."""
    if request.service != "s3" or request.method not in ("GET", "HEAD"):
        return []
    pairs = _s3(request)
    if len(pairs) != 1 or pairs[0][0] not in ("s3:GetObject", "s3:GetObjectVersion"):
        return []
    bucket_name, key = pairs[0][1].removeprefix("arn:aws:s3:::").split("/", 1)
    from moto.s3.models import s3_backends

    bucket = s3_backends[request.account]["aws"].buckets.get(bucket_name)
    if bucket is None or bucket.keys.get(key) is not None:
        return []
    return [("s3:ListBucket", f"arn:aws:s3:::{bucket_name}")]


XRAY_ROUTES = {
    "/TraceSegments": "PutTraceSegments",
    "/TelemetryRecords": "PutTelemetryRecords",
    "/GetSamplingRules": "GetSamplingRules",
    "/SamplingTargets": "GetSamplingTargets",
    "/SamplingStatisticSummaries": "GetSamplingStatisticSummaries",
}


def requested(request: Request) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorises for ``request``; all must be allowed."""
    service = request.service
    prefix = PREFIX.get(service, service)
    if service == "s3":
        return _s3(request)
    if service == "lambda":
        return _lambda(request)
    if service == "xray":
        return [(f"xray:{XRAY_ROUTES.get(request.path, request.path.strip('/'))}", "*")]
    op = _operation(request)
    if op is None:
        return [(f"{prefix}:{request.method}{request.path}", "*")]
    if service == "sqs":
        return _sqs(request, op)
    if service == "dynamodb":
        return _dynamodb(request, op)
    if service == "sns":
        return _sns(request, op)
    return _generic(request, op, prefix)


# --- policy evaluation -----------------------------------------------------------------------


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL if case else re.DOTALL | re.IGNORECASE)


def _glob(pattern: str, value: str, case: bool) -> bool:
    return _pattern(pattern, case).fullmatch(value) is not None


def _condition_true(condition: dict, context: dict[str, str]) -> bool:
    """Whether every condition holds; False if any cannot be evaluated here (unknown key or operator)."""
    operators = {
        "StringEquals": lambda v, p: v == p,
        "StringNotEquals": lambda v, p: v != p,
        "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
        "StringLike": lambda v, p: _glob(p, v, True),
        "StringNotLike": lambda v, p: not _glob(p, v, True),
        "ArnEquals": lambda v, p: _glob(p, v, True),
        "ArnLike": lambda v, p: _glob(p, v, True),
        "ArnNotEquals": lambda v, p: not _glob(p, v, True),
        "ArnNotLike": lambda v, p: not _glob(p, v, True),
        "Bool": lambda v, p: v.lower() == str(p).lower(),
    }
    for operator, tests in (condition or {}).items():
        base = operator.removesuffix("IfExists")
        negated = "Not" in base
        compare = operators.get(base)
        if compare is None or not isinstance(tests, dict):
            return False
        for key, patterns in tests.items():
            value = context.get(key.lower())
            if value is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            results = [compare(value, str(p)) for p in _list(patterns)]
            if not (all(results) if negated else any(results)):
                return False
    return True


def _statement_matches(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    if "Action" in statement:
        if not any(_glob(a, action, False) for a in _list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_glob(a, action, False) for a in _list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(_glob(r, resource, True) for r in _list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_glob(r, resource, True) for r in _list(statement["NotResource"])):
            return False
    if "Condition" in statement:
        return _condition_true(statement["Condition"], context)
    return True


def _statements(document: Any) -> list[dict]:
    if isinstance(document, str):
        return _parsed(document)
    return [s for s in _list(document.get("Statement", [])) if isinstance(s, dict)]


@functools.lru_cache(maxsize=1024)
def _parsed(document: str) -> list[dict]:
    """A policy document's statements (documents are read at each request: parsed once)."""
    value = json.loads(urllib.parse.unquote(document) if document.lstrip().startswith("%") else document)
    return [s for s in _list(value.get("Statement", [])) if isinstance(s, dict)]


def evaluate(documents: list[Any], action: str, resource: str, context: dict[str, str]) -> str:
    """``"allow"``, ``"deny"`` (explicit) or ``"implicit"`` for one action on one resource."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if _statement_matches(statement, action, resource, context):
                if statement.get("Effect") == "Deny":
                    return "deny"
                if statement.get("Effect") == "Allow":
                    allowed = True
    return "allow" if allowed else "implicit"


# --- the emulator's check --------------------------------------------------------------------


class Authorizer:
    """Checks each request signed with assumed-role credentials; keeps what it denied."""

    def __init__(self, mode: str | None = None, account: str = "123456789012") -> None:
        self.mode = mode or mode_from_env()
        if self.mode not in MODES:
            raise ValueError(f"IAM mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        self.account = account
        self.denials: list[Denial] = []  # every denial (or would-be denial, in report mode)
        self._lock = threading.Lock()

    def check(self, environ: dict) -> tuple[int, dict[str, str], bytes] | None:
        """None to let the request through; else the error response (enforce) for it. The body
        of a checked request is read here and put back (``wsgi.input``) for moto."""
        if self.mode == "off":
            return None
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        credential = _credential(headers, query)
        if credential is None:
            return None
        key, region, service = credential
        role = assumed_role(key)
        if role is None:
            return None  # the emulator's own keys: Terraform, tests, the runner itself
        token = headers.get("x-amz-security-token") or (query.get("X-Amz-Security-Token") or [""])[0]
        if token != role.session_token:
            return _error(
                service, headers, 403, "InvalidClientTokenId", "The security token included in the request is invalid."
            )
        if role.expiration < datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
            return _error(
                service, headers, 403, "ExpiredToken", "The security token included in the request is expired"
            )
        body = _take_body(environ) if service != "s3" or environ.get("REQUEST_METHOD") == "POST" else b""
        role_name = role.role_arn.split("/")[-1]
        principal = Principal(
            arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role_name}/{role.session_name}",
            account=role.account_id,
            role_name=role_name,
            session_policy=role.policy,
            user_id=f"{key}:{role.session_name}",
        )
        request = Request(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=urllib.parse.unquote(environ.get("PATH_INFO", "/"))
            if service != "s3"
            else environ.get("PATH_INFO", "/"),
            query=query,
            headers=headers,
            body=body,
            region=region,
            service=service,
            account=role.account_id,
        )
        if service == "sts" and _operation(request) == "GetCallerIdentity":
            return None  # always allowed, whatever the policies say
        context = {
            "aws:securetransport": "true",
            "aws:principalarn": role.role_arn,
            "aws:principalaccount": role.account_id,
            "aws:requestedregion": region,
            "aws:userid": principal.user_id,
        }
        documents = role_policies(role.account_id, role_name)
        for action, resource in requested(request) + missing_object(request):
            verdict = evaluate(documents, action, resource, context)
            if verdict == "allow" and principal.session_policy:
                verdict = evaluate([principal.session_policy], action, resource, context)
            if verdict == "allow":
                continue
            denial = Denial(principal.arn, action, resource, verdict == "deny", service)
            with self._lock:
                self.denials.append(denial)
            if self.mode == "report":
                log.warning("IAM would deny (IAM=report): %s", denial.message)
                continue
            log.warning("IAM denied: %s", denial.message)
            return _error(service, headers, 403 if service != "dynamodb" else 400, _code(service), denial.message)
        return None


def _take_body(environ: dict) -> bytes:
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def _code(service: str) -> str:
    return {"sns": "AuthorizationError", "s3": "AccessDenied", "sqs": "AccessDenied", "monitoring": "AccessDenied"}.get(
        service, "AccessDeniedException"
    )


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 + n])
    elif n < 256:
        head = bytes([0x78, n])
    elif n < 65536:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + n.to_bytes(4, "big")
    return head + data


def _error(
    service: str, headers: dict[str, str], status: int, code: str, message: str
) -> tuple[int, dict[str, str], bytes]:
    """The error in the service's protocol: JSON, CBOR (CloudWatch), query XML or S3's XML."""
    request_id = str(uuid.uuid4())
    if "x-amz-target" in headers:  # awsJson 1.0 / 1.1 (SQS, DynamoDB, EventBridge, Logs, KMS)
        body = json.dumps({"__type": code, "message": message}).encode()
        out = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
        if service == "sqs":
            out["x-amzn-query-error"] = f"{code};Sender"
        return status, out, body
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
        return (
            status,
            {
                "Content-Type": "application/cbor",
                "smithy-protocol": "rpc-v2-cbor",
                "x-amzn-query-error": f"{code};Sender",
            },
            body,
        )
    if service in ("lambda", "xray"):  # rest-json
        body = json.dumps({"Type": "User", "message": message, "Message": message}).encode()
        return (
            status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
            body,
        )
    from xml.sax.saxutils import escape

    if service == "s3":
        text = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return status, {"Content-Type": "application/xml"}, text.encode()
    text = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, text.encode()
