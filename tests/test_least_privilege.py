"""Least privilege: each function's role grants the actions its code calls, and no others.

The calls are read from the code, not listed by hand: every `client("<service>").<operation>(...)`
(directly, through a name bound to such a client, or `(s3 or client("s3"))`) in the function's
app.py and in every module of shared/ it imports, mapped to the IAM action that authorizes
it (a batch operation is authorized by its single one: SendMessageBatch by sqs:SendMessage).
The grants are the function's inline policy in each environment's plan; the lambda module's
own log and X-Ray policies are not compared (the runtime and the tracer call those).
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests.conftest import PLAN_ENVIRONMENTS
from tests.harness import aws_limits

REPO = Path(__file__).resolve().parents[1]

# Operations whose IAM action is another's (Service Authorization Reference).
ACTION_OF = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
}
# Library classes that call AWS with a client we hand them, and what they call.
LIBRARY_CALLS = {
    # aws_lambda_powertools.utilities.idempotency: reads, writes, updates and deletes records
    "DynamoDBPersistenceLayer": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
}
# What Lambda's SQS poller does with the function's role (event source mapping).
MAPPING_NEEDS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


@cache
def operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def iam_action(service: str, method: str) -> str:
    operation = operations(service)[method]
    return f"{service}:{ACTION_OF.get((service, operation), operation)}"


def client_service(node: ast.AST, names: dict[str, str]) -> str | None:
    """The service of a client expression: client("sqs"), a name bound to one, (x or client("s3"))."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "client":
        (arg,) = node.args
        assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), ast.dump(node)
        return arg.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BoolOp):
        found = {client_service(v, names) for v in node.values} - {None}
        return found.pop() if len(found) == 1 else None
    return None


Unit = tuple[str, str]  # (module, top-level function or class, or "<module>"); module "" is app.py

# A GetObject of a missing key answers NoSuchKey (404) only to a caller allowed s3:ListBucket on
# the bucket, AccessDenied (403) otherwise: code that tells the two apart needs the listing.
LIST_FOR_NO_SUCH_KEY = "s3:ListBucket"


def units_of(module: str, source: str) -> dict[Unit, tuple[set[str], set[Unit]]]:
    """Each top-level function or class of a module, and its top-level code: the IAM actions
    of the AWS calls in it and the units it refers to."""
    tree = ast.parse(source)
    names: dict[str, str] = {}
    for node in ast.walk(tree):  # names bound to a client anywhere in the module
        if isinstance(node, ast.Assign) and (service := client_service(node.value, {})):
            names.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})
        if isinstance(node, ast.arg) and node.arg in ("s3", "sqs", "sns") and node.annotation is not None:
            names.setdefault(node.arg, node.arg)  # def resolve(body, s3: Any = None)
    imported: dict[str, Unit] = {}  # local name -> unit of shared/ (a module: (name, "*"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "shared":
            imported.update({a.asname or a.name: (a.name, "*") for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared."):
            imported.update({a.asname or a.name: (node.module.split(".")[1], a.name) for a in node.names})
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    local = {n.name for n in tree.body if isinstance(n, definitions)}
    units: list[tuple[str, list[ast.stmt]]] = [(n.name, [n]) for n in tree.body if isinstance(n, definitions)]
    units.append(("<module>", [n for n in tree.body if not isinstance(n, definitions)]))
    out: dict[Unit, tuple[set[str], set[Unit]]] = {}
    for name, nodes in units:
        actions: set[str] = set()
        refs: set[Unit] = {(module, "<module>")}
        for node in (sub for n in nodes for sub in ast.walk(n)):
            if isinstance(node, ast.Attribute):  # an operation called, or handed on to be called
                service = client_service(node.value, names)
                if service and node.attr in operations(service):
                    actions.add(iam_action(service, node.attr))
            if isinstance(node, ast.Name) and node.id in LIBRARY_CALLS:
                actions |= LIBRARY_CALLS[node.id]
            if (isinstance(node, ast.Attribute) and node.attr == "NoSuchKey") or (
                isinstance(node, ast.Constant) and node.value == "NoSuchKey"
            ):
                actions.add(LIST_FOR_NO_SUCH_KEY)
            if isinstance(node, ast.Name) and node.id in local:
                refs.add((module, node.id))
            elif isinstance(node, ast.Name) and node.id in imported:
                refs.add(imported[node.id])
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported:
                target = imported[node.value.id]
                refs.add((target[0], node.attr) if target[1] == "*" else target)
        out[module, name] = (actions, refs)
    return out


def calls_in(source: str) -> set[str]:
    """The IAM actions of every AWS call anywhere in one module's source."""
    return {a for actions, _ in units_of("", source).values() for a in actions}


@cache
def shared_units(module: str) -> dict[Unit, tuple[set[str], set[Unit]]]:
    path = REPO / "shared" / f"{module}.py"
    return units_of(module, path.read_text()) if path.exists() else {}


def called_by(folder: str) -> set[str]:
    """IAM actions of every AWS call the function can make: all of its app.py, and the
    functions and classes of shared/ it reaches from there."""
    app = units_of("", (REPO / "functions" / folder / "app.py").read_text())
    actions: set[str] = set()
    todo: list[Unit] = list(app)
    seen: set[Unit] = set()
    while todo:
        unit = todo.pop()
        if unit in seen:
            continue
        seen.add(unit)
        known = app if unit[0] == "" else shared_units(unit[0])
        if unit in known:  # else a name without code of its own (a constant, a re-export)
            found, refs = known[unit]
            actions |= found
            todo.extend(refs)
    return actions


FOLDERS = sorted(p.parent.name for p in (REPO / "functions").glob("*/app.py"))


def test_calls_are_read_from_the_code():
    source = """
from shared.clients import client
def f(body, s3: Any = None):
    store = client("sqs")
    store.receive_message(QueueUrl=q)
    client("sqs").delete_message_batch(QueueUrl=q, Entries=[])
    client("sns").publish_batch(TopicArn=t, PublishBatchRequestEntries=[])
    (s3 or client("s3")).get_object(Bucket=b, Key=k)
    client("s3").exceptions.NoSuchKey  # needs s3:ListBucket to be told from AccessDenied
    client("lambda").invoke(FunctionName=f)
    granted(client("dynamodb").batch_write_item, RequestItems={})
    layer = DynamoDBPersistenceLayer(table_name=t)
"""
    assert calls_in(source) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sns:Publish",
        "s3:GetObject",
        "s3:ListBucket",
        "lambda:InvokeFunction",
        "dynamodb:BatchWriteItem",
        *LIBRARY_CALLS["DynamoDBPersistenceLayer"],
    }


def test_every_function_calls_aws():
    assert len(FOLDERS) == 8
    for folder in FOLDERS:
        assert called_by(folder), folder  # every function calls something: the reading works


def folder_of(function_name: str, prefix: str) -> str:
    short = function_name.removeprefix(prefix)
    (folder,) = [f for f in FOLDERS if short == f.replace("_", "-") or short.startswith(f.replace("_", "-") + "-")]
    return folder


def statements(document: str) -> list[dict[str, Any]]:
    body = json.loads(document)["Statement"]
    return body if isinstance(body, list) else [body]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def roles(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """function module -> {name, granted: {action: [statements]}, mapped: bool}."""
    out: dict[str, dict[str, Any]] = {}
    for r in aws_limits.resources(plan):
        module, _, rest = r["address"].partition(".module.lambda.")
        if not rest:
            continue
        entry = out.setdefault(module, {"granted": {}, "mapped": False})
        if r["type"] == "aws_lambda_function":
            entry["name"] = r["values"]["function_name"]
        elif r["type"] == "aws_lambda_event_source_mapping":
            entry["mapped"] = True
        elif rest.startswith("aws_iam_role_policy.additional_inline"):
            for st in statements(r["values"]["policy"]):
                for action in as_list(st["Action"]):
                    entry["granted"].setdefault(action, []).append(st)
    return out


@pytest.mark.plans
@pytest.mark.parametrize("environment", PLAN_ENVIRONMENTS)
def test_each_function_is_granted_what_its_code_calls_and_nothing_more(environment_plans, environment: str):
    plan = environment_plans[environment]
    functions = roles(plan)
    assert len(functions) >= 8
    prefix = next(iter(functions.values()))["name"].split("-")[0] + f"-{environment}-"
    problems = {}
    for module, role in functions.items():
        needed = called_by(folder_of(role["name"], prefix)) | (MAPPING_NEEDS if role["mapped"] else set())
        granted = set(role["granted"])
        if granted != needed:
            problems[module] = {"unused": sorted(granted - needed), "missing": sorted(needed - granted)}
    assert problems == {}


def whole_bucket_lists(document: str) -> list[dict[str, Any]]:
    """Statements granting s3:ListBucket on a whole bucket without an s3:prefix condition."""
    out = []
    for st in statements(document):
        if st.get("Effect") == "Allow" and "s3:ListBucket" in as_list(st["Action"]):
            if "s3:prefix" not in json.dumps(st.get("Condition", {})):
                out.append(st)
    return out


def reads_objects_of(document: str, bucket: str) -> bool:
    return any(
        st.get("Effect") == "Allow"
        and "s3:GetObject" in as_list(st["Action"])
        and any(r.startswith(f"{bucket}/") for r in as_list(st["Resource"]))
        for st in statements(document)
    )


# A GetObject of a missing key answers NoSuchKey (404) only to a caller allowed s3:ListBucket on
# the bucket; without it, AccessDenied (403). That implicit check carries no s3:prefix (there is
# no listing), so a prefix-conditioned grant does not satisfy it: a role that reads objects which
# may not exist (the dispatcher's users/<id>.json, a workflow stage's input) needs ListBucket on
# the bucket itself. Any other ListBucket must name the prefixes it lists.


@pytest.mark.plans
@pytest.mark.parametrize("environment", PLAN_ENVIRONMENTS)
def test_functions_list_a_whole_bucket_only_to_tell_a_missing_object_from_a_forbidden_one(
    environment_plans, environment: str
):
    for r in aws_limits.resources(environment_plans[environment]):
        if r["type"] == "aws_iam_role_policy" and ".additional_inline" in r["address"]:
            document = r["values"]["policy"]
            for st in whole_bucket_lists(document):
                for bucket in as_list(st["Resource"]):
                    assert reads_objects_of(document, bucket), (r["address"], st)


@pytest.mark.plans
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_ci_roles_list_a_whole_bucket_only_where_they_read_its_objects_or_its_configuration(
    bootstrap_plans, environment: str
):
    for r in aws_limits.resources(bootstrap_plans[environment]):
        if r["type"] != "aws_iam_role_policy":
            continue
        document = r["values"]["policy"]
        for st in whole_bucket_lists(document):
            for bucket in as_list(st["Resource"]):
                configuration = {a for a in as_list(st["Action"]) if a.startswith("s3:GetBucket")}
                # the plan role's HeadBucket/GetBucket* reads (terraform refresh) need ListBucket
                # on the bucket; the state and scenario roles read objects that may not exist
                assert configuration or reads_objects_of(document, bucket), (r["address"], st)


def test_a_whole_bucket_list_without_object_reads_is_refused():
    bucket = "arn:aws:s3:::qp-dev-documents"
    listing = {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket]}
    reading = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket}/users/*"]}
    alone = json.dumps({"Statement": [listing]})
    assert whole_bucket_lists(alone) and not reads_objects_of(alone, bucket)
    assert reads_objects_of(json.dumps({"Statement": [listing, reading]}), bucket)
    prefixed = {**listing, "Condition": {"StringLike": {"s3:prefix": ["users/*"]}}}
    assert whole_bucket_lists(json.dumps({"Statement": [prefixed]})) == []
