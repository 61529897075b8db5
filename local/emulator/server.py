"""The emulator's server: moto's WSGI app on 127.0.0.1, in this process, on its own thread.

Before moto sees a request, the server checks IAM (``local/iam.py``), answers the test-only
clock (``clock.CLOCK_PATH``), hands Lambda ``Invoke`` to the local runner (``invoke_handler``),
tells the runner of a successful ``UpdateFunctionCode`` (``code_updated``) and serves SQS
message move tasks (``move_tasks``); everything else is moto's.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.emulator.clock import CLOCK_PATH, clock_request
from local.emulator.lambda_fidelity import SnsHandler, current_sns_handler, set_sns_handler
from local.emulator.move_tasks import MessageMoveTasks
from local.emulator.patches import patch_moto
from local.emulator.ttl import TtlSweeper, ttl_lag_from_env
from local.iam import Authorizer

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
CODE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/code$")
ACCOUNT_ID = "123456789012"

InvokeHandler = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def endpoint_client(service: str, endpoint: str | None, region: str, config: Any = None) -> Any:
    """A boto3 client for a local endpoint (the emulator, LocalStack), with their dummy credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        aws_session_token="test",
        config=config,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """moto's server for one port and region, with the local runner's hooks (``invoke_handler``,
    ``code_updated``, ``sns_handler``); ``start()`` applies the moto corrections and starts the
    TTL sweeper, ``env()`` is what a client needs to reach it."""

    def __init__(self, port: int | None = None, region: str = "us-east-1", iam: str | None = None) -> None:
        self.port = port or free_port()
        self.region = region
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.invoke_handler: InvokeHandler | None = None
        self.move_tasks = MessageMoveTasks(self)
        self.code_updated: Callable[[str], Any] | None = None  # UpdateFunctionCode succeeded (runner.reload)
        self.sweeper: TtlSweeper | None = None  # started by start(), with EMULATOR_TTL_LAG_SECONDS
        # Requests signed with assumed-role credentials are authorised against the role
        # (local/iam.py); IAM=enforce|report|off, read now. Nothing else is checked.
        self.iam = Authorizer(iam, account=ACCOUNT_ID)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def env(self) -> dict[str, str]:
        """Environment for any client (terraform, boto3, functions) talking to this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, config: Any = None) -> Any:
        """A boto3 client for ``service`` on this emulator (``config``: a botocore Config)."""
        return endpoint_client(service, self.endpoint, self.region, config)

    def _app(self) -> Callable:
        from moto.server import DomainDispatcherApplication, create_backend_app

        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict, start_response: Callable) -> Any:
            denied = self.iam.check(environ)
            if denied is not None:
                status, headers, body = denied
                return Response(body, status=status, headers=headers)(environ, start_response)
            if environ.get("PATH_INFO") == CLOCK_PATH:
                request = Request(environ)
                status, answer = clock_request(request.method, request.get_data(), self.sweeper)
                headers = {"Content-Type": "application/json"}
                return Response(json.dumps(answer), status=status, headers=headers)(environ, start_response)
            match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
            if match and environ.get("REQUEST_METHOD") == "POST" and self.invoke_handler is not None:
                request = Request(environ)
                name = urllib.parse.unquote(match.group("name"))
                kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
                try:
                    status, headers, body = self.invoke_handler(name, kind, request.get_data())
                except Exception as exc:  # a JSON ServiceException, never an HTML page
                    status, headers = 500, {"x-amzn-ErrorType": "ServiceException"}
                    body = json.dumps({"Type": "Service", "message": f"{type(exc).__name__}: {exc}"}).encode()
                return Response(body, status=status, headers=headers)(environ, start_response)
            code = CODE_PATH.match(environ.get("PATH_INFO", ""))
            if code and environ.get("REQUEST_METHOD") == "PUT" and self.code_updated is not None:
                name = urllib.parse.unquote(code.group("name")).split(":")[-1]
                return self._update_code(moto_app, environ, start_response, name)
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith("AmazonSQS.") and target.split(".", 1)[1] in self.move_tasks.ACTIONS:
                request = Request(environ)
                status, headers, body = self.move_tasks.handle(target.split(".", 1)[1], request.get_data())
                return Response(body, status=status, headers=headers)(environ, start_response)
            return moto_app(environ, start_response)

        return app

    def _update_code(self, moto_app: Callable, environ: dict, start_response: Callable, name: str) -> Any:
        """UpdateFunctionCode, answered once the runner runs the new code (``code_updated``), so an
        Invoke sent after the answer runs it; if the runner cannot load it, a JSON ServiceException."""
        answered: list[Any] = []
        result = moto_app(environ, lambda status, headers, exc_info=None: answered.extend([status, headers]))
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = answered
        if status.startswith("200"):
            try:
                self.code_updated(name)  # type: ignore[misc]
            except Exception as exc:
                error = {"Type": "Service", "message": f"{type(exc).__name__}: {exc}"}
                headers = {"x-amzn-ErrorType": "ServiceException", "Content-Type": "application/json"}
                return Response(json.dumps(error), status=500, headers=headers)(environ, start_response)
        start_response(status, headers)
        return [body]

    def start(self) -> Emulator:
        patch_moto()
        self.sweeper = TtlSweeper(ttl_lag_from_env()).start()
        self._server = make_server("127.0.0.1", self.port, self._app(), threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        return self

    @property
    def sns_handler(self) -> SnsHandler | None:
        return current_sns_handler()

    @sns_handler.setter
    def sns_handler(self, handler: SnsHandler | None) -> None:
        set_sns_handler(handler)

    def stop(self) -> None:
        if self.invoke_handler is not None and current_sns_handler() is not None:
            set_sns_handler(None)  # only an emulator serving a runner set it
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.sweeper is not None:
            self.sweeper.stop()

    def function_code(self, function_name: str) -> bytes:
        """The deployed zip of a function, straight from moto's Lambda backend."""
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[ACCOUNT_ID][self.region]
        return backend.get_function(function_name).code_bytes

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
