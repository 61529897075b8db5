"""The FIFO sticky variant: ``terraform/variants/sticky_fifo``, applied beside the main root.

That root deploys the sticky-queue pattern again, on FIFO pool queues and under its own name
prefix, from the project's own modules and with the main root's variables. One emulator then
serves both sticky queue types, so a test session needs one deployment instead of one per type,
and the two applies run side by side.
"""

from __future__ import annotations

from pathlib import Path

from local import terraform


def apply(
    env: dict[str, str],
    state_file: Path,
    extra_vars: dict[str, str] | None = None,
    var_file: str = "environments/local.tfvars",
) -> dict:
    """Apply the variant root of the offline copy with the main root's variables; return its outputs."""
    return terraform.apply(env, state_file, var_file=var_file, extra_vars=extra_vars, root=terraform.FIFO_VARIANT_ROOT)
