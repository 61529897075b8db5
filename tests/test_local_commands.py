"""The commands against the running local stack (make document, queues, logs, redrive, invoke)
find it by its record, talk to it through its AWS APIs (no AWS CLI, no exported variables),
and answer a mistake with one `error: ...` line; a second `make apply` leaves the first alone."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import local_env, stack_record
from local.emulator import Emulator, endpoint_client
from ops import redrive
from tests.helpers import outside_make, wait_for

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    started = Emulator().start()
    yield started
    started.stop()


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's stack record lives (never the checkout's own)."""
    path = tmp_path / "local-stack.json"
    monkeypatch.setattr(stack_record, "RECORD", path)
    return path


@pytest.fixture
def running(emulator: Emulator, record: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A record naming the emulator as the running stack, as `make apply` publishes it; the
    shell's AWS variables point elsewhere, so only the record can lead the commands to it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    bucket = f"docs-{uuid.uuid4().hex[:12]}"
    client(emulator, "s3").create_bucket(Bucket=bucket)
    state = {"endpoint": emulator.endpoint, "region": emulator.region, "outputs": {"document_bucket": bucket}}
    stack_record.publish(state)
    return state


def client(emulator: Emulator, service: str) -> Any:
    return endpoint_client(service, emulator.endpoint, emulator.region)


def one_error_line(err: str) -> str:
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


# --- make document ---------------------------------------------------------------------------


def entry(seq: int) -> dict:
    at = "2026-01-01T00:00:00Z"
    return {"seq": seq, "message_id": f"m-{seq}", "body": {"n": seq}, "ingested_at": at, "appended_at": at}


def test_document_prints_the_users_whole_history_in_order(emulator, running, capsys):
    """The sealed segment's entries first, then the head's (shared/history.py)."""
    s3, bucket = client(emulator, "s3"), running["outputs"]["document_bucket"]
    segment = {"user_id": "user-1", "last_seq": 2, "entries": [entry(1), entry(2)]}
    s3.put_object(Bucket=bucket, Key="users/user-1/segments/0000000000000002.json", Body=json.dumps(segment))
    head = {"user_id": "user-1", "entries": [entry(3)], "sealed_through": 2, "segments": 1}
    s3.put_object(Bucket=bucket, Key="users/user-1.json", Body=json.dumps(head))
    assert local_env.main(["document", "user-1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["message_id"] for e in shown["entries"]] == ["m-1", "m-2", "m-3"]


def test_a_head_that_does_not_parse_is_shown_as_stored(emulator, running, capsys):
    s3, bucket = client(emulator, "s3"), running["outputs"]["document_bucket"]
    s3.put_object(Bucket=bucket, Key="users/user-2.json", Body=b'{"user_id": "user-2", "entries": [{"seq": "x"}]}')
    assert local_env.main(["document", "user-2"]) == 0
    assert '"seq": "x"' in capsys.readouterr().out


def test_document_of_a_user_without_one_says_how_to_make_one(running, capsys):
    assert local_env.main(["document", "nobody"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"s3://{running['outputs']['document_bucket']}/users/nobody.json" in line and "make invoke" in line


# --- make queues -----------------------------------------------------------------------------


def test_queues_lists_each_queue_with_what_waits_and_what_is_in_flight(emulator, running, capsys):
    sqs = client(emulator, "sqs")
    busy, idle = f"busy-{uuid.uuid4().hex[:8]}", f"idle-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=busy)["QueueUrl"]
    sqs.create_queue(QueueName=idle)
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)
    assert local_env.main(["queues"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["queue"] == ["waiting", "in", "flight", "delayed"]
    assert rows[busy] == ["2", "1", "0"] and rows[idle] == ["0", "0", "0"]


# --- make logs -------------------------------------------------------------------------------


def create_function(emulator: Emulator, name: str) -> None:
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return None\n")
    role = client(emulator, "iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client(emulator, "lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()}
    )


def put_lines(emulator: Emulator, group: str, *lines: str) -> None:
    logs = client(emulator, "logs")
    try:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": m} for m in lines]
    )


def test_logs_follows_each_named_functions_cloudwatch_log_from_the_record(emulator, running):
    """`make logs FN=<folder>` follows every function built from it, as `aws logs tail --follow`."""
    token = uuid.uuid4().hex[:8]
    names = [f"qp-t-probe-{token}-00", f"qp-t-probe-{token}-01"]
    for name in names:
        create_function(emulator, name)
    put_lines(emulator, f"/aws/lambda/{names[0]}", "before start")
    out, stop = io.StringIO(), threading.Event()
    follower = threading.Thread(target=local_env.logs, args=(f"probe_{token}",), kwargs={"out": out, "stop": stop})
    follower.start()
    try:
        assert wait_for(lambda: "before start" in out.getvalue(), timeout=20), out.getvalue()
        time.sleep(0.01)  # a later timestamp
        put_lines(emulator, f"/aws/lambda/{names[1]}", "after start")
        put_lines(emulator, f"/aws/lambda/{names[0]}", "after start too")
        assert wait_for(lambda: out.getvalue().count("\n") == 3, timeout=20), out.getvalue()
        time.sleep(2.5)  # two more polls: nothing printed twice
    finally:
        stop.set()
        follower.join(timeout=20)
    assert out.getvalue().splitlines() == [
        f"{names[0]}  before start",
        f"{names[1]}  after start",
        f"{names[0]}  after start too",
    ]


# --- make redrive ----------------------------------------------------------------------------


def queue_with_dead_letters(emulator: Emulator, count: int) -> tuple[str, str]:
    sqs, name = client(emulator, "sqs"), f"work-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "1"})
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    for n in range(count):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(n))
    return url, dlq


def depth(emulator: Emulator, url: str) -> int:
    attributes = client(emulator, "sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_redrive_finds_the_running_stack_without_exported_variables(emulator, running, capfd):
    url, dlq = queue_with_dead_letters(emulator, 3)
    assert local_env.main(["redrive", dlq, "--max", "2"]) == 0
    assert json.loads(capfd.readouterr().out)["moved"] == 2
    assert (depth(emulator, url), depth(emulator, dlq)) == (2, 1)


def test_redrive_refuses_a_dlq_url_of_another_host_or_port(emulator, running, capfd):
    """Requests go to the stack's endpoint whatever the URL's host: a stopped stack's URL would
    otherwise redrive the running one's queue of the same name."""
    url, dlq = queue_with_dead_letters(emulator, 1)
    elsewhere = dlq.replace(f":{emulator.port}/", ":9/")
    assert local_env.main(["redrive", elsewhere]) == 1
    line = one_error_line(capfd.readouterr().err)
    assert f"{elsewhere} is not a queue of the running local stack ({emulator.endpoint})" in line
    assert (depth(emulator, url), depth(emulator, dlq)) == (0, 1)


def test_redrive_itself_refuses_a_dlq_url_of_another_endpoint(emulator, monkeypatch, capsys):
    """ops/redrive.py, whatever runs it (a LocalStack, an emulator of its own): the same refusal."""
    from shared import clients

    url, dlq = queue_with_dead_letters(emulator, 1)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.reset()
    try:
        elsewhere = dlq.replace(f":{emulator.port}/", ":9/")
        assert redrive.main([elsewhere]) == 2
    finally:
        clients.reset()
    line = one_error_line(capsys.readouterr().err)
    assert f"{elsewhere} is not a queue of {emulator.endpoint}" in line
    assert (depth(emulator, url), depth(emulator, dlq)) == (0, 1)


@pytest.mark.parametrize(
    ("url", "endpoint", "refused"),
    [
        ("http://127.0.0.1:4566/000000000000/q-dlq", "http://127.0.0.1:4566", False),
        ("http://localhost:4566/000000000000/q-dlq", "http://127.0.0.1:4566", False),
        ("http://127.0.0.1:4567/000000000000/q-dlq", "http://127.0.0.1:4566", True),
        ("http://10.0.0.2:4566/000000000000/q-dlq", "http://127.0.0.1:4566", True),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq", "http://127.0.0.1:4566", True),
        ("http://127.0.0.1:4566/123456789012/q-dlq", "https://sqs.us-east-1.amazonaws.com", True),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq", "https://sqs.us-east-1.amazonaws.com", False),
        ("https://queue.amazonaws.com/123456789012/q-dlq", "https://sqs.us-east-1.amazonaws.com", False),
    ],
)
def test_a_dlq_url_must_be_on_the_endpoint_the_redrive_talks_to(url, endpoint, refused):
    assert (redrive.wrong_endpoint(url, endpoint) is not None) is refused


def test_make_redrive_reaches_the_local_stack_by_default_and_aws_with_env():
    def dry(*args: str) -> str:
        done = subprocess.run(
            ["make", "-n", "redrive", "DLQ=http://x/q-dlq", *args], cwd=REPO, capture_output=True, env=outside_make()
        )
        return done.stdout.decode()

    assert "-m local.local_env redrive" in dry() and "-m ops.redrive" not in dry()
    assert "-m ops.redrive" in dry("ENV=dev") and "local.local_env" not in dry("ENV=dev")


# --- make invoke -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"user_id": "u",}', "Expecting property name enclosed in double quotes (line 1, column 17)"),
        ("", "Expecting value"),
    ],
)
def test_invoke_with_a_malformed_event_file_names_the_file_and_the_problem(tmp_path, record, capsys, text, problem):
    event = tmp_path / "bad.json"
    event.write_text(text)
    assert local_env.main(["invoke", "sticky_ingester", str(event)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {event} is not valid JSON: ") and problem in line


def test_make_invoke_with_a_malformed_event_file_prints_one_line(tmp_path):
    event = tmp_path / "bad.json"
    event.write_text("{\n  'user_id': 1\n}\n")
    done = subprocess.run(
        ["make", "--no-print-directory", "invoke", "FN=sticky_ingester", f"EVENT={event}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=outside_make(),
    )
    assert done.returncode != 0 and "line 2, column 3" in one_error_line(done.stderr.split("make: ***")[0])


# --- one record, one stack -------------------------------------------------------------------


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_second_apply_is_refused_while_the_recorded_stack_lives(running, record, capsys):
    before = record.read_text()
    assert local_env.main(["apply", "--port", "4999"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"pid {os.getpid()} at {running['endpoint']}" in line and f"kill {os.getpid()}" in line
    assert record.read_text() == before  # the commands still reach the first stack
    assert stack_record.running()["endpoint"] == running["endpoint"]


def test_a_record_whose_process_is_gone_is_replaced(record):
    record.write_text(json.dumps({"pid": dead_pid(), "endpoint": "http://127.0.0.1:9"}))
    stack_record.claim()
    assert json.loads(record.read_text()) == {"pid": os.getpid()}
    stack_record.release()
    assert not record.exists()
    assert list(record.parent.iterdir()) == []  # no claim or stale file left beside it


def test_commands_wait_for_a_stack_that_is_still_applying(record, capsys):
    stack_record.claim()
    try:
        assert local_env.main(["queues"]) == 1
        assert "still applying" in one_error_line(capsys.readouterr().err)
    finally:
        stack_record.release()


def test_commands_after_the_stack_stopped_say_so_and_forget_it(record, capsys):
    record.write_text(json.dumps({"pid": dead_pid(), "endpoint": "http://127.0.0.1:9"}))
    assert local_env.main(["document", "user-1"]) == 1
    assert "has stopped" in one_error_line(capsys.readouterr().err)
    assert not record.exists()


def test_release_leaves_another_processes_record(record):
    record.write_text(json.dumps({"pid": os.getppid(), "endpoint": "http://127.0.0.1:9"}))
    stack_record.release()
    assert record.exists()
