"""The plux plugin LocalStack finds through the ``localstack.lambda.runtime_executor`` entry point."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "host-process"

    def load(self, *args, **kwargs):
        from host_executor.executor import HostProcessRuntimeExecutor

        return HostProcessRuntimeExecutor
