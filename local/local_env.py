"""The local stack as a tool (ENV=local): the embedded emulator as an environment.

python -m local.local_env plan              # what terraform would create (fresh emulator)
python -m local.local_env apply [--port N]  # apply with progress, serve (and redeploy changes) until Ctrl-C
python -m local.local_env invoke FN EVENT   # invoke a function of the running stack
python -m local.local_env logs FN           # follow a function's log (CloudWatch Logs)
python -m local.local_env deploy FN         # rebuild FN's zip and update the running stack
python -m local.local_env document USER_ID  # a user's sticky document
python -m local.local_env queues            # every queue and its depth
python -m local.local_env redrive DLQ_URL [--max N | --rate R]   # ops/redrive.py on the running stack

FN is a function folder (``sticky_ingester``) or a deployed name (``qp-local-sticky-ingester``).
``apply`` keeps the record of the running stack (local/stack_record.py) that the other commands
read: they find the stack without any environment variable.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local import observe, stack_record, terraform
from local.emulator import endpoint_client
from local.stack_record import Problem, running

REPO = Path(__file__).resolve().parents[1]
APPLY_LOG = Path(os.environ.get("APPLY_LOG") or REPO / ".build" / "apply.log")
PACKAGE = REPO / "local" / "lambda_standin" / "package.py"
BUILDS = terraform.OFFLINE_ROOT / "terraform" / "builds"  # the offline root's artifacts_dir


def plan() -> int:
    from local.emulator import Emulator

    emulator = Emulator().start()
    try:
        env = {**emulator.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        with tempfile.TemporaryDirectory() as state_dir:
            print(terraform.plan(env, Path(state_dir) / "local.tfstate"))
    finally:
        emulator.stop()
    return 0


def summary(stack: Any, seconds: float, log: Path) -> str:
    out, endpoint, region = stack.outputs, stack.emulator.endpoint, stack.emulator.region
    dispatchers = sorted(out["sticky_queue"]["dispatcher_function_names"].values())
    return "\n".join(
        [
            f"Local stack ready in {seconds:.0f}s: {len(stack.runner.functions)} functions,"
            f" {len(stack.runner.mappings)} queue triggers, {len(stack.runner.schedules)} schedules (on the clock).",
            f"  endpoint   {endpoint}",
            f"  region     {region}",
            f"  terraform  full log in {log.relative_to(REPO) if log.is_relative_to(REPO) else log}",
            f"  functions  logs in {stack.runner.log_dir.relative_to(REPO)}/<function>.log",
            "",
            "In another shell (the commands find this stack themselves):",
            "  make invoke FN=sticky_ingester EVENT=events/sticky_ingester.json   # ingest two messages for user-1",
            f"  make document USER_ID=user-1      # user-1's document, s3://{out['document_bucket']}/users/user-1.json",
            "  make queues                       # every queue and its depth",
            f"  make logs FN=sticky_dispatcher    # follow the dispatchers' logs: /aws/lambda/{dispatchers[0]}, ...",
            "Other AWS tools (boto3, AWS CLI v2) reach it with:",
            f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region}"
            " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
            "",
            "Ctrl-C stops everything.",
        ]
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def apply(port: int | None) -> int:
    """Claim the record of the running stack (refused while another apply's stack lives), then
    start, serve and stop the stack; the record goes with it."""
    stack_record.claim()
    try:
        return serve(port)
    finally:
        stack_record.release()


def serve(port: int | None) -> int:
    from local import progress
    from local import stack as harness

    # Ctrl-C even when started in the background of a script (SIGINT inherited as ignored), and
    # `kill` (SIGTERM) stop the stack the same quiet way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.time()
    print(f"Applying terraform/ (environment local) to the embedded emulator{f' on port {port}' if port else ''}...")
    try:
        stack = harness.start(port=port, progress=progress.bar, log_path=APPLY_LOG)
    except KeyboardInterrupt:
        print("\nInterrupted: terraform stopped, emulator stopped, no state left behind.", file=sys.stderr)
        return 130
    except OSError as exc:
        raise Problem(f"cannot start the emulator{f' on port {port}' if port else ''}: {exc.strerror or exc}") from exc
    except RuntimeError as exc:
        raise Problem(str(exc).splitlines()[0]) from exc
    try:
        stack.runner.start_clock()
        stack.runner.ship_logs_to_cloudwatch()  # what `make logs` follows
        stack_record.publish(
            {
                "endpoint": stack.emulator.endpoint,
                "region": stack.emulator.region,
                "outputs": stack.outputs,
                "log_dir": str(stack.runner.log_dir),
            }
        )
        print(summary(stack, time.time() - started, APPLY_LOG), flush=True)
        watch(running)
    except KeyboardInterrupt:
        print("\nStopping.", file=sys.stderr)
    finally:
        stack_record.release()  # before the stack goes: no command reaches a stopped endpoint
        stack.stop()
    return 0


# --- commands against the running stack ---------------------------------------------------------


def client(state: dict[str, Any], service: str) -> Any:
    return endpoint_client(service, state["endpoint"], state["region"])


def functions_for(state: dict[str, Any], fn: str) -> list[str]:
    """Deployed functions for a folder name (every dispatcher for sticky_dispatcher) or a name."""
    names = [
        f["FunctionName"]
        for page in client(state, "lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    if fn in names:
        return [fn]
    dashed = fn.replace("_", "-")
    found = sorted(n for n in names if n.endswith(f"-{dashed}") or f"-{dashed}-" in n)
    if not found:
        folders = sorted(p.name for p in (REPO / "functions").iterdir() if (p / "app.py").exists())
        raise Problem(f"no function {fn!r}; one of: {', '.join(folders)}")
    return found


def event_payload(event_file: str | None) -> bytes:
    """The event file's bytes, once they parse as JSON; Problem naming the file and where not."""
    if not event_file:
        return b"{}"
    payload = Path(event_file).read_bytes()
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        raise Problem(f"{event_file} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # not UTF-8/16/32 text
        raise Problem(f"{event_file} is not valid JSON: {exc}") from None
    return payload


def invoke(fn: str, event_file: str | None) -> int:
    payload = event_payload(event_file)
    state = running()
    name = functions_for(state, fn)[0]
    response = client(state, "lambda").invoke(FunctionName=name, Payload=payload)
    body = response["Payload"].read()
    try:
        print(json.dumps(json.loads(body), indent=2))
    except ValueError:
        print(body.decode(errors="replace"))
    if "FunctionError" in response:
        print(f"{name}: function error ({response['FunctionError']})", file=sys.stderr)
        return 1
    return 0


def logs(fn: str, out: Any = None, stop: Any = None) -> int:
    """Follow the CloudWatch Logs group of each function ``fn`` names (as `aws logs tail --follow`)."""
    state = running()
    lam = client(state, "lambda")
    groups = {name: observe.log_group(lam, name) for name in functions_for(state, fn)}
    try:
        observe.follow(observe.LogTail(client(state, "logs"), groups), out=out, stop=stop)
    except KeyboardInterrupt:
        pass
    return 0


def document(user_id: str) -> int:
    state = running()
    print(observe.document(client(state, "s3"), state["outputs"]["document_bucket"], user_id))
    return 0


def queues() -> int:
    print(observe.depth_table(observe.depths(client(running(), "sqs"))))
    return 0


def redrive(dlq_url: str, options: list[str]) -> int:
    """ops/redrive.py against the running stack: its endpoint, region and dummy keys. A DLQ URL
    on any other host:port is refused: requests would reach this stack's queue of that name."""
    from ops.redrive import wrong_endpoint

    state = running()
    if wrong_endpoint(dlq_url, state["endpoint"]):
        raise Problem(
            f"{dlq_url} is not a queue of the running local stack ({state['endpoint']}):"
            " `make queues` lists its queues; ENV=dev|stg|prod redrives a deployed environment"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=state["endpoint"],
        AWS_DEFAULT_REGION=state["region"],
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        PYTHONPATH=str(REPO),
    )
    return subprocess.call([sys.executable, "-m", "ops.redrive", dlq_url, *options], cwd=REPO, env=env)


def build_record(name: str) -> dict[str, Any]:
    """How the apply built a function's zip: the lambda module's spec, saved beside the zips."""
    record = BUILDS / f"{name}.package.json"
    if not record.exists():
        raise Problem(f"no package spec for {name} in {BUILDS.relative_to(REPO)}: run `make apply` from this checkout")
    return json.loads(record.read_text())


def build_zip(record: dict[str, Any], output: Path) -> bytes:
    """Build a zip with the lambda module's packaging (package.py, the spec's build commands)."""
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    spec = json.dumps(record["spec"])
    done = subprocess.run(
        [sys.executable, str(PACKAGE), "--output", str(tmp.resolve()), "--spec", spec, "--runtime", record["runtime"]],
        cwd=record["cwd"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise Problem(f"build failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    tmp.replace(output)
    return output.read_bytes()


def folder_zip(folder: str, output: Path) -> bytes:
    """A zip of functions/<folder> as the last apply built it (any one function built from it)."""
    for record in sorted(BUILDS.glob("*.package.json")):
        spec = json.loads(record.read_text())
        if Path(spec["spec"][0]["path"]).name == folder:  # the function's folder is the first part
            return build_zip(spec, output)
    raise Problem(f"no apply has built functions/{folder} yet: run `make apply` (or make test) first")


def deploy(fn: str, state: dict[str, Any] | None = None) -> int:
    state = state or running()
    started = time.time()
    lam = client(state, "lambda")
    for name in functions_for(state, fn):
        code = build_zip(build_record(name), BUILDS / f"deploy-{name}.zip")
        sha = lam.update_function_code(FunctionName=name, ZipFile=code)["CodeSha256"]
        print(f"{name}: deployed {len(code) // 1024} KiB (sha256 {base64.b64decode(sha).hex()[:12]})")
    print(f"done in {time.time() - started:.1f}s; the running stack uses the new code from the next invocation")
    return 0


def fingerprint(path: Path) -> tuple:
    """What a redeploy depends on: the folder's Python files and its lock file."""
    files = [f for f in path.rglob("*.py") if "__pycache__" not in f.parts] + list(path.glob("requirements.txt"))
    return tuple(sorted((str(f), f.stat().st_mtime_ns) for f in files))


def watch(state: Any, every: float = 1.0) -> None:
    """Redeploy a function into the running stack when its folder (or shared/) changes."""
    folders = {p.name: p for p in (REPO / "functions").iterdir() if (p / "app.py").exists()}
    seen = {name: fingerprint(path) for name, path in folders.items()}
    shared = fingerprint(REPO / "shared")
    print("Watching functions/ and shared/: a saved change is redeployed.", flush=True)
    while True:
        time.sleep(every)
        now_shared = fingerprint(REPO / "shared")
        changed = [name for name, path in folders.items() if fingerprint(path) != seen[name]]
        if now_shared != shared:
            changed = list(folders)
        for name in changed:
            seen[name] = fingerprint(folders[name])
            try:
                deploy(name, state())
            except Exception as exc:  # a broken build must not stop the stack
                print(f"redeploy of {name} failed: {exc}", file=sys.stderr, flush=True)
        shared = now_shared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan")
    p_apply = sub.add_parser("apply")
    p_apply.add_argument("--port", type=int, default=None)
    p_invoke = sub.add_parser("invoke")
    p_invoke.add_argument("fn")
    p_invoke.add_argument("event", nargs="?")
    sub.add_parser("logs").add_argument("fn")
    sub.add_parser("deploy").add_argument("fn")
    sub.add_parser("document").add_argument("user_id")
    sub.add_parser("queues")
    p_redrive = sub.add_parser("redrive")
    p_redrive.add_argument("dlq_url")
    p_redrive.add_argument("options", nargs=argparse.REMAINDER, help="ops/redrive.py's: --max N | --rate R")
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            return plan()
        if args.command == "apply":
            return apply(args.port)
        if args.command == "invoke":
            return invoke(args.fn, args.event)
        if args.command == "logs":
            return logs(args.fn)
        if args.command == "document":
            return document(args.user_id)
        if args.command == "queues":
            return queues()
        if args.command == "redrive":
            return redrive(args.dlq_url, args.options)
        return deploy(args.fn)
    except Problem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: no such file: {exc.filename}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
