"""Each function reads its environment once, at import, and a cold start without a variable it
needs, or with a malformed one, stops with one line naming the variable."""

from __future__ import annotations

import re

import pytest

from shared.environment import ConfigError
from tests.conftest import FUNCTION_ENVIRONMENTS, REPO, import_function

FUNCTIONS = sorted(p.parent.name for p in (REPO / "functions").glob("*/app.py"))
REQUIRED = [(name, variable) for name in FUNCTIONS for variable in FUNCTION_ENVIRONMENTS[name]]
INTEGERS = [(name, variable) for name, variable in REQUIRED if FUNCTION_ENVIRONMENTS[name][variable].isdigit()]


def cold_start(name: str, environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as failed:
        import_function(name, environ, f"cold_start_{name}")
    message = str(failed.value)
    assert "\n" not in message, message
    return failed.value


def test_every_function_has_a_test_environment():
    assert sorted(FUNCTION_ENVIRONMENTS) == FUNCTIONS


@pytest.mark.parametrize(("name", "variable"), REQUIRED)
def test_a_cold_start_without_a_variable_stops_naming_it(name: str, variable: str):
    environ = {k: v for k, v in FUNCTION_ENVIRONMENTS[name].items() if k != variable}
    assert str(cold_start(name, environ)) == f"{variable} is not set"


@pytest.mark.parametrize(("name", "variable"), INTEGERS)
def test_a_cold_start_with_a_malformed_number_stops_naming_it(name: str, variable: str):
    environ = {**FUNCTION_ENVIRONMENTS[name], variable: "x"}
    assert str(cold_start(name, environ)) == f"{variable} must be an integer, got 'x'"


@pytest.mark.parametrize(
    ("name", "variable", "value", "message"),
    [
        ("relay_consumer", "MAX_HOPS", "0", "MAX_HOPS must be at least 1, got 0"),
        ("sticky_dispatcher", "QUEUE_TYPE", "lifo", "QUEUE_TYPE must be one of fifo, standard, got 'lifo'"),
        ("sticky_ingester", "POOL_QUEUE_URL_TEMPLATE", "https://q/pool", "POOL_QUEUE_URL_TEMPLATE must hold {index}"),
        ("workflow_enrich", "SERVICE_NAME", "", "SERVICE_NAME is empty"),
    ],
)
def test_a_cold_start_with_a_malformed_value_stops_naming_it(name: str, variable: str, value: str, message: str):
    environ = {**FUNCTION_ENVIRONMENTS[name], variable: value}
    assert str(cold_start(name, environ)).startswith(message)


def test_the_last_workflow_service_has_no_next_one():
    summarize = import_function("workflow_summarize", FUNCTION_ENVIRONMENTS["workflow_summarize"], "cold_start_last")
    assert summarize.SERVICE.next_service == ""


def test_every_variable_a_function_needs_is_one_terraform_sets():
    """Python holds no default: whatever a function reads, its Terraform module sets."""
    terraform = "\n".join(p.read_text() for p in (REPO / "terraform" / "modules").glob("*/main.tf"))
    set_there = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", terraform, re.MULTILINE))
    missing = sorted({variable for _, variable in REQUIRED} - set_there)
    assert missing == [], f"functions need variables no Terraform module sets: {missing}"
