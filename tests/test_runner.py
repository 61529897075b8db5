"""The local runner's Lambda semantics that do not need a deployed stack."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.runner.sqs_pollers import successful_receipts
from local.runner.worker import InvocationResult
from tests.helpers import make_function, wait_for

RECORDS = [{"messageId": m, "receiptHandle": f"rh-{m}"} for m in ("a", "b", "c")]


def test_success_deletes_everything():
    assert successful_receipts(RECORDS, InvocationResult(True, payload=None), report_failures=True) == RECORDS


def test_function_error_deletes_nothing():
    assert successful_receipts(RECORDS, InvocationResult(False, error={}), report_failures=True) == []


def test_batch_item_failures_keep_only_the_failed_ones():
    payload = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    kept = successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=True)
    assert [r["messageId"] for r in kept] == ["a", "c"]


def test_batch_item_failures_ignored_without_report_batch_item_failures():
    payload = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=False) == RECORDS


def test_unknown_item_identifier_fails_the_whole_batch():
    payload = {"batchItemFailures": [{"itemIdentifier": "zzz"}]}
    assert successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=True) == []


# awslambdaric's log_error in JSON log format: one flat object, keys in this order
AWS_ERROR_LINE = ["timestamp", "log_level", "errorMessage", "errorType", "requestId", "stackTrace"]


def test_worker_runs_in_its_own_process_with_the_deployed_environment(tmp_path):
    pool = make_function(
        tmp_path,
        "import os\n"
        "def handler(event, context):\n"
        "    print('to the log')\n"
        "    return {'pid': os.getpid(), 'x': os.environ['X'], 'name': context.function_name,\n"
        "            'event': event, 'trace': os.environ['_X_AMZN_TRACE_ID']}\n",
        env={"X": "deployed"},
    )
    try:
        result = pool.invoke({"k": 1})
        assert result.ok and result.payload["x"] == "deployed" and result.payload["event"] == {"k": 1}
        assert result.payload["pid"] != __import__("os").getpid() and result.payload["name"] == "f"
        assert "Sampled=0" in result.payload["trace"]
        assert pool.invoke({}).payload["pid"] == result.payload["pid"]  # warm worker reused
        assert "to the log" in (tmp_path / "f.log").read_text()
    finally:
        pool.close()


def test_a_worker_sees_its_code_and_the_standard_library_only(tmp_path):
    """A package the zip lacks is missing, whatever the developer's venv holds (stricter than the
    runtime, whose own SDK follows /var/task on sys.path)."""
    pool = make_function(
        tmp_path,
        "import importlib.util, sys, sysconfig\n"
        "def handler(event, context):\n"
        "    names = ('json', 'pytest', 'botocore', 'local', 'calls')\n"
        "    found = {m: importlib.util.find_spec(m) is not None for m in names}\n"
        "    return {'found': found, 'path': sys.path, 'version': list(sys.version_info[:2]),\n"
        "            'stdlib': sysconfig.get_paths()['stdlib'], 'bytecode': sys.dont_write_bytecode}\n",
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])},  # ignored, as the runtime's own setting wins
    )
    try:
        result = pool.invoke({})
        assert result.ok, result.error
        found, path = result.payload["found"], result.payload["path"]
        assert found == {"json": True, "pytest": False, "botocore": False, "local": False, "calls": False}
        assert path[0] == str(tmp_path / "code") and all(
            p.startswith(result.payload["stdlib"][: -len("/python3.12")]) for p in path[1:]
        )
        assert result.payload["version"] == [3, 12] and result.payload["bytecode"] is True
    finally:
        pool.close()


def with_dev_sdk(code: Path) -> None:
    """Put the development venv's botocore (and what it needs) in a test function's code, as a zip carries its SDK."""
    import botocore
    import dateutil
    import jmespath
    import urllib3

    for module in (botocore, dateutil, jmespath, urllib3):
        (code / Path(module.__file__).parent.name).symlink_to(Path(module.__file__).parent)
    import six

    (code / "six.py").symlink_to(Path(six.__file__))


def test_errors_and_timeouts_are_reported_like_lambda(tmp_path):
    pool = make_function(
        tmp_path,
        "import time\n"
        "def handler(event, context):\n"
        "    if event.get('sleep'): time.sleep(5)\n"
        "    raise ValueError('bad input')\n",
        timeout=1,
    )
    try:
        error = pool.invoke({}).error
        assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
        timed_out = pool.invoke({"sleep": True})
        assert not timed_out.ok and timed_out.error["errorType"] == "Sandbox.Timedout"
        assert pool.invoke({}).error["errorType"] == "ValueError"  # a fresh worker replaced the killed one
        lines = [json.loads(line) for line in (tmp_path / "f.log").read_text().splitlines()]  # every line JSON
        reports = [line["record"] for line in lines if line.get("type") == "platform.report"]
        assert [r["status"] for r in reports] == ["success", "timeout", "success"]
        assert all(r["metrics"]["durationMs"] >= 0 and r["requestId"] for r in reports)
        errors = [line for line in lines if line.get("log_level") == "ERROR"]  # one flat line per unhandled error
        assert [list(e) for e in errors] == [AWS_ERROR_LINE] * 2
        assert [(e["errorType"], e["errorMessage"]) for e in errors] == [("ValueError", "bad input")] * 2
        assert errors[0]["requestId"] == reports[0]["requestId"] and "app.py" in errors[0]["stackTrace"][-1]
    finally:
        pool.close()


def test_the_same_zip_unpacked_at_once_gives_each_the_whole_folder_and_leaves_no_temporary_one(tmp_path):
    """`make deploy` beside the watcher's redeploy updates a function to the same code at once:
    each update unpacks it, neither fails, and both run from the one complete folder."""
    from local.runner.code_cache import unpacked

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(300):
            z.writestr(f"pkg/m{i}.py", "x = 1\n" * 50)
    code = buffer.getvalue()
    at_once = threading.Barrier(8)

    def unpack(_: int) -> Path:
        at_once.wait()
        return unpacked(code, "f", tmp_path)

    with ThreadPoolExecutor(8) as updates:
        folders = set(updates.map(unpack, range(8)))
    (folder,) = folders
    assert len(list(folder.rglob("*.py"))) == 300
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_rate_expressions_and_the_scheduled_event():
    from local.runner.schedules import Schedule, rate_seconds, scheduled_event

    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200 and rate_seconds("cron(0 12 * * ? *)") is None
    rule = Schedule("tick", "arn:aws:events:us-east-1:123456789012:rule/tick", "rate(1 minute)", "f")
    event = scheduled_event(rule, "us-east-1")
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [rule.rule_arn] and event["account"] == "123456789012"
    fixed = Schedule("tick", rule.rule_arn, "rate(1 minute)", "f", input='{"fixed": true}')
    assert scheduled_event(fixed, "us-east-1") == {"fixed": True}


def test_schedules_fire_on_demand_and_sns_deliveries_invoke_asynchronously(tmp_path):
    from local.runner import LocalLambdaRunner
    from local.runner.schedules import Schedule

    out = tmp_path / "events.jsonl"
    pool = make_function(
        tmp_path,
        "import json\n"
        "def handler(event, context):\n"
        f"    open({str(out)!r}, 'a').write(json.dumps(event) + '\\n')\n"
        "    return {'source': event.get('source') or event['Records'][0]['EventSource']}\n",
    )
    runner = LocalLambdaRunner(endpoint="http://127.0.0.1:1", region="us-east-1", code_fetcher=lambda n: b"")
    runner.pools["f"] = pool
    runner.schedules = [Schedule("tick", "arn:aws:events:us-east-1:123456789012:rule/tick", "rate(1 minute)", "f")]
    try:
        (result,) = runner.fire("tick", sync=True)
        assert result.payload == {"source": "aws.events"}
        (queued,) = runner.fire("tick")  # asynchronous: queued like EventBridge's invocation, not run here
        assert queued["source"] == "aws.events" and queued["resources"] == [runner.schedules[0].rule_arn]
        runner.deliver_sns(
            "arn:aws:lambda:us-east-1:123456789012:function:f", {"Records": [{"EventSource": "aws:sns"}]}
        )
        assert wait_for(lambda: len(out.read_text().splitlines()) == 3, timeout=10)
        sources = [json.loads(line).get("source") or "sns" for line in out.read_text().splitlines()]
        assert sorted(sources) == ["aws.events", "aws.events", "sns"]
        with pytest.raises(KeyError):
            runner.fire("no-such-rule")
    finally:
        runner.stop()


def test_pending_counts_the_asynchronous_invocations_not_yet_started(tmp_path):
    """What the fan-out poison ticker reads to skip a tick while earlier workers still wait."""
    from local.runner import LocalLambdaRunner

    pool = make_function(tmp_path, "import time\ndef handler(event, context):\n    time.sleep(1)\n", timeout=5)
    runner = LocalLambdaRunner(endpoint="http://127.0.0.1:1", region="us-east-1", code_fetcher=lambda n: b"")
    runner.pools["f"] = pool  # concurrency 1: one runs, the others wait
    try:
        assert runner.pending("f") == 0
        for _ in range(3):
            runner.deliver_sns("arn:aws:lambda:us-east-1:123456789012:function:f", {"Records": []})
        assert runner.pending("arn:aws:lambda:us-east-1:123456789012:function:f") >= 2
        assert wait_for(lambda: runner.pending("f") == 0, timeout=20)
    finally:
        runner.stop()


def test_each_invocation_reports_the_aws_calls_it_made(tmp_path):
    pool = make_function(
        tmp_path,
        "import botocore.session\n"
        "def handler(event, context):\n"
        "    s3 = botocore.session.get_session().create_client('s3', region_name='us-east-1', endpoint_url='http://127.0.0.1:9')\n"
        "    try:\n"
        "        s3.put_object(Bucket='b', Key='k', Body=b'12345')\n"
        "    except Exception:\n"
        "        pass\n"
        "    return 'ok'\n",
        timeout=30,
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"},
    )
    with_dev_sdk(pool.code_dir)
    try:
        result = pool.invoke({})
        assert result.usage == {"calls": {"s3:PutObject": 1}, "s3_put_bytes": 5, "sqs_fifo_calls": 0}
        assert pool.calls == {"s3:PutObject": 1} and pool.s3_put_bytes == 5
    finally:
        pool.close()


def test_call_counter_counts_only_its_thread_and_not_while_paused(aws):
    import threading

    import boto3

    from local.calls import CallCounter

    counter = CallCounter().install()
    counter.only_thread = threading.get_ident()
    sqs = boto3.client("sqs")
    sqs.list_queues()
    other = threading.Thread(target=lambda: boto3.client("sqs").list_queues())
    other.start()
    other.join()
    counter.paused = True
    sqs.list_queues()
    counter.paused = False
    assert counter.take() == {"calls": {"sqs:ListQueues": 1}, "s3_put_bytes": 0, "sqs_fifo_calls": 0}
    assert counter.take()["calls"] == {}


def test_call_counter_tells_fifo_queue_requests_apart(aws):
    """SQS FIFO requests cost more than standard ones, so the bench prices them by queue type."""
    import threading

    import boto3

    from local.calls import CallCounter

    sqs = boto3.client("sqs")
    fifo = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    standard = sqs.create_queue(QueueName="q")["QueueUrl"]
    counter = CallCounter().install()
    counter.only_thread = threading.get_ident()
    sqs.send_message(QueueUrl=fifo, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.send_message(QueueUrl=standard, MessageBody="x")
    got = counter.take()
    assert got["calls"] == {"sqs:SendMessage": 2}
    assert got["sqs_fifo_calls"] == 1


# --- the Invoke API as Lambda answers it (through the emulator, no stack) --------------------


@pytest.mark.parametrize(
    ("source", "kind", "message"),
    [
        ("import no_such_module\n", "Runtime.ImportModuleError", "Unable to import module 'app': No module named"),
        ("def handler(event, context)\n", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "),
        ("raise KeyError('SETTING')\n", "KeyError", "'SETTING'"),
    ],
)
def test_a_function_that_cannot_be_loaded_fails_each_invoke_with_a_json_line(tmp_path, source, kind, message):
    """As the Python runtime does: each invoke fails with the load error and logs one line."""
    pool = make_function(tmp_path, source)
    try:
        results = [pool.invoke({}), pool.invoke({})]
    finally:
        pool.close()
    assert [(r.ok, r.error["errorType"]) for r in results] == [(False, kind)] * 2
    assert results[0].error["errorMessage"].startswith(message)
    lines = [json.loads(line) for line in (tmp_path / "f.log").read_text().splitlines()]  # every line JSON
    errors = [line for line in lines if line.get("log_level") == "ERROR"]
    assert [(list(e), e["errorType"]) for e in errors] == [(AWS_ERROR_LINE, kind)] * 2
    reports = [line["record"]["requestId"] for line in lines if line.get("type") == "platform.report"]
    assert [e["requestId"] for e in errors] == reports


@pytest.fixture
def invoke_api(tmp_path):
    """An emulator whose Invoke API is served by a runner with one function ``f``."""
    from botocore.config import Config

    from local.emulator import Emulator
    from local.runner import LocalLambdaRunner

    pool = make_function(
        tmp_path,
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('bad input: ' + event['fail'])\n"
        "    if event.get('big'):\n"
        "        return 'x' * event['big']\n"
        "    return {'got': event}\n",
        timeout=10,
    )
    emulator = Emulator().start()
    runner = LocalLambdaRunner(endpoint=emulator.endpoint, region="us-east-1", code_fetcher=lambda n: b"")
    runner.pools["f"] = pool
    emulator.invoke_handler = runner.handle_invoke
    lam = emulator.client("lambda", Config(read_timeout=60))
    try:
        yield lam, pool
    finally:
        runner.stop()
        emulator.invoke_handler = None
        emulator.stop()


def test_invoke_returns_the_function_result(invoke_api):
    lam, pool = invoke_api
    response = lam.invoke(FunctionName="f", Payload=b'{"a": 1}')
    assert json.loads(response["Payload"].read()) == {"got": {"a": 1}} and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"


def test_non_json_payload_is_refused_at_once_with_invalid_request_content(invoke_api):
    from botocore.exceptions import ClientError

    lam, pool = invoke_api
    for kind in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as raised:
            lam.invoke(FunctionName="f", InvocationType=kind, Payload=b"not json {")
        error = raised.value.response
        assert error["Error"]["Code"] == "InvalidRequestContentException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["ResponseMetadata"]["RetryAttempts"] == 0  # a client error: not retried
        assert "Could not parse request body into json" in error["Error"]["Message"]
    assert pool.invocations == 0  # nothing ran


def test_payloads_over_the_lambda_quotas_are_refused(invoke_api):
    from botocore.exceptions import ClientError

    from local.runner.invoke_api import ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT

    lam, pool = invoke_api
    assert (SYNC_PAYLOAD_LIMIT, ASYNC_PAYLOAD_LIMIT) == (6 * 1024 * 1024, 1024 * 1024)  # AWS: 6 MB sync, 1 MB async

    def payload(size: int) -> bytes:
        body = b'{"k": "' + b"x" * (size - 9) + b'"}'
        assert len(body) == size
        return body

    for kind, limit in (("RequestResponse", SYNC_PAYLOAD_LIMIT), ("Event", ASYNC_PAYLOAD_LIMIT)):
        with pytest.raises(ClientError) as raised:
            lam.invoke(FunctionName="f", InvocationType=kind, Payload=payload(limit + 1))
        assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert f"smaller than {limit} bytes" in raised.value.response["Error"]["Message"]
    assert pool.invocations == 0
    # at the limit it runs; a 2 MB payload is fine synchronously, too big asynchronously
    assert (
        lam.invoke(FunctionName="f", InvocationType="Event", Payload=payload(ASYNC_PAYLOAD_LIMIT))["StatusCode"] == 202
    )
    ok = lam.invoke(FunctionName="f", Payload=payload(2 * 1024 * 1024))
    assert "FunctionError" not in ok and len(json.loads(ok["Payload"].read())["got"]["k"]) == 2 * 1024 * 1024 - 9


def test_a_response_over_6_mb_is_a_function_error(invoke_api):
    lam, _ = invoke_api
    response = lam.invoke(FunctionName="f", Payload=json.dumps({"big": 6 * 1024 * 1024 + 1}).encode())
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Function.ResponseSizeTooLarge"


def test_function_errors_are_shaped_as_aws_shapes_them(invoke_api):
    lam, _ = invoke_api
    response = lam.invoke(FunctionName="f", Payload=b'{"fail": "seq"}')
    error = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]  # the Python runtime's shape
    assert error["errorMessage"] == "bad input: seq" and error["errorType"] == "ValueError"
    assert error["stackTrace"] and all(isinstance(frame, str) for frame in error["stackTrace"])
    assert "app.py" in error["stackTrace"][-1] and not any("bootstrap.py" in f for f in error["stackTrace"])


def test_unknown_function_and_invocation_type_are_api_errors(invoke_api):
    from botocore.exceptions import ClientError

    lam, _ = invoke_api
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.invoke(FunctionName="f", InvocationType="DryRun", Payload=b"{}")["StatusCode"] == 204


# --- SQS DLQ redrive on the emulator (StartMessageMoveTask, which moto lacks) -----------------


@pytest.fixture
def emulator_sqs():
    from local.emulator import Emulator

    emulator = Emulator().start()
    sqs = emulator.client("sqs")
    try:
        yield emulator, sqs
    finally:
        emulator.stop()


def _queue_with_dead_letters(sqs, name: str, bodies: list[str]) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    for _ in range(4):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
        "ApproximateNumberOfMessages"
    ] == str(len(bodies))
    return url, dlq


def test_start_message_move_task_moves_dead_letters_back_to_their_source(emulator_sqs):
    import uuid

    _, sqs = emulator_sqs
    name = f"work-{uuid.uuid4().hex[:6]}"
    url, dlq = _queue_with_dead_letters(sqs, name, ["a", "b", "c"])
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handle = sqs.start_message_move_task(SourceArn=arn)["TaskHandle"]
    done = wait_for(
        lambda: [t for t in sqs.list_message_move_tasks(SourceArn=arn)["Results"] if t["Status"] == "COMPLETED"],
        timeout=20,
    )
    assert done and done[0]["ApproximateNumberOfMessagesMoved"] == 3 and handle
    back = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        back += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(back) == ["a", "b", "c"]


def test_start_message_move_task_refuses_a_missing_queue_and_a_queue_that_is_no_dlq(emulator_sqs):
    import uuid

    from botocore.exceptions import ClientError

    _, sqs = emulator_sqs
    with pytest.raises(ClientError) as missing:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:123456789012:no-such-queue")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    url, _ = _queue_with_dead_letters(sqs, f"plain-{uuid.uuid4().hex[:6]}", [])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as not_a_dlq:
        sqs.start_message_move_task(SourceArn=arn)
    assert not_a_dlq.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_make_redrive_works_against_the_local_stack(emulator_sqs, monkeypatch):
    import uuid

    from ops import redrive
    from shared import clients

    emulator, sqs = emulator_sqs
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    clients.reset()
    try:
        url, dlq = _queue_with_dead_letters(sqs, f"redrive-{uuid.uuid4().hex[:6]}", ["x", "y"])
        result = redrive.redrive(dlq)
        assert result.source_url == url and (result.task or result.moved == 2)

        def back() -> int:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

        assert wait_for(lambda: back() == 2, timeout=20)
    finally:
        clients.reset()


def test_a_fifo_long_poll_waits_quietly_while_its_only_group_is_in_flight(emulator_sqs):
    """moto's long poll spun at 100% CPU for WaitTimeSeconds when a FIFO queue's visible
    messages all belonged to a group in flight; every FIFO poller then starved the emulator."""
    import threading
    import time

    _, sqs = emulator_sqs
    url = sqs.create_queue(QueueName="spin.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    for i in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]) == 1  # group g in flight
    cpu = time.process_time()  # the emulator runs in this process
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []) == []
    assert time.process_time() - cpu < 1.0  # spinning would use ~2 s of CPU
    # a message of another group still ends the wait at once
    timer = threading.Timer(
        0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="h", MessageDeduplicationId="x")
    )
    timer.start()
    started = time.time()
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in got] == ["x"] and time.time() - started < 4


def test_concurrent_receivers_never_share_a_message_and_dead_letter_each_once(emulator_sqs, request):
    """moto changes a queue's message list without a lock: two concurrent ReceiveMessage calls
    handed out the same message (each raising its receive count, so valid messages reached
    maxReceiveCount and were dead-lettered) and both moved an exhausted message to the DLQ,
    the second failing with a 500 (``list.remove(x): x not in list``). SQS does neither.
    The emulator runs in this process: a tiny GIL switch interval makes its request threads
    interleave inside moto as a loaded machine's do."""
    import sys
    import threading

    from botocore.config import Config

    emulator, _ = emulator_sqs
    sqs = emulator.client("sqs", Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16))
    dlq = sqs.create_queue(QueueName="race-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = sqs.create_queue(QueueName="race", Attributes={"VisibilityTimeout": "60", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    bodies = [f"m{n}" for n in range(600)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    received: list[str] = []
    errors: list[Exception] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    request.addfinalizer(lambda: sys.setswitchinterval(switch))

    def drain(url: str) -> None:
        try:
            while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                received.extend(m["Body"] for m in got)
        except Exception as exc:  # noqa: BLE001 - any error fails the test below
            errors.append(exc)

    def race(url: str) -> None:  # eight receivers drain ``url`` at once
        threads = [threading.Thread(target=drain, args=(url,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    race(url)
    assert errors == []
    assert sorted(received) == sorted(bodies)  # each message handed out once

    # a queue whose messages are visible again at once: the receive after a message's first
    # one moves it to the DLQ -- exactly once, however many receivers race for it
    url = sqs.create_queue(QueueName="race-0", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    race(url)
    assert errors == []
    moved: list[str] = []
    while got := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
        moved.extend(m["Body"] for m in got)
    assert sorted(moved) == sorted(bodies)


def test_a_receive_does_not_count_the_whole_queue_for_each_message_it_hands_out(emulator_sqs, monkeypatch):
    """moto checked each received message's retention by computing every queue attribute,
    three of which walk the whole queue: ~1 s of the emulator's CPU (GIL held) per receive on
    a queue of 1,000, which starved every function under load (the fan-out scenario's workers
    timed out). A receive reads the retention period alone; expired messages still stay out."""
    from moto.sqs.models import Queue, sqs_backends

    _, sqs = emulator_sqs
    url = sqs.create_queue(QueueName="deep", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for start in range(0, 1000, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"{start + i}"} for i in range(10)])
    counted = []
    walk = Queue.approximate_number_of_messages_not_visible
    monkeypatch.setattr(
        Queue, "approximate_number_of_messages_not_visible", property(lambda q: counted.append(q) or walk.fget(q))
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 10 and counted == []
    # the retention period still applies: a message older than it is never handed out
    queue = sqs_backends["123456789012"]["us-east-1"].queues["deep"]
    for message in queue._messages:
        message.sent_timestamp -= (int(queue.message_retention_period) + 1) * 1000
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
