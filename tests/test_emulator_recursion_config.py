"""Lambda's recursion config on the embedded emulator, as terraform-provider-aws uses it for
aws_lambda_function_recursion_config: PutFunctionRecursionConfig on create (its answer is
the state), GetFunctionRecursionConfig on refresh, Put Terminate on destroy. moto alone
answers neither call.

AWS: the config is per function, Terminate until set; RecursiveLoop is Allow or Terminate
(anything else: 400 ValidationException); an unknown function: 404 ResourceNotFoundException."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def lambda_client() -> Iterator[Any]:
    from local.emulator import Emulator

    with Emulator() as emulator:
        client = emulator.client("lambda")
        role = emulator.client("iam").create_role(RoleName="recursion", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as zf:
            zf.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
        for name in ("relay", "other"):
            client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": package.getvalue()},
            )
        yield client


def recursive_loop(client: Any, name: str) -> str:
    return client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"]


def test_put_and_get_round_trip_per_function(lambda_client: Any):
    assert recursive_loop(lambda_client, "relay") == "Terminate"  # AWS's default
    answer = lambda_client.put_function_recursion_config(FunctionName="relay", RecursiveLoop="Allow")
    assert answer["RecursiveLoop"] == "Allow"  # the provider stores this answer as the state
    assert recursive_loop(lambda_client, "relay") == "Allow"
    assert recursive_loop(lambda_client, "other") == "Terminate"  # per function
    arn = lambda_client.get_function(FunctionName="relay")["Configuration"]["FunctionArn"]
    assert recursive_loop(lambda_client, arn) == "Allow"  # by name or ARN
    lambda_client.put_function_recursion_config(FunctionName=arn, RecursiveLoop="Terminate")  # what destroy does
    assert recursive_loop(lambda_client, "relay") == "Terminate"


@pytest.mark.parametrize("value", ["allow", "Off", ""])
def test_values_other_than_allow_and_terminate_are_refused(lambda_client: Any, value: str):
    with pytest.raises(ClientError) as raised:
        lambda_client.put_function_recursion_config(FunctionName="other", RecursiveLoop=value)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [Terminate, Allow]" in error["Error"]["Message"]
    assert recursive_loop(lambda_client, "other") == "Terminate"


@pytest.mark.parametrize("call", ["get", "put"])
def test_an_unknown_function_is_not_found(lambda_client: Any, call: str):
    with pytest.raises(ClientError) as raised:
        if call == "get":
            lambda_client.get_function_recursion_config(FunctionName="missing")
        else:
            lambda_client.put_function_recursion_config(FunctionName="missing", RecursiveLoop="Allow")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
