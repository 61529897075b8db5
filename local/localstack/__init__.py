"""LocalStack without Docker: a host-mode launcher and a runtime executor for Lambda functions."""
