"""KFP component: stop a run early when a parameter a later step needs was left empty."""

from typing import NamedTuple

from kfp import dsl

from ._base import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def require_value(value: str, name: str, needed_by: str) -> NamedTuple("Outputs", value=str):
    """Passes ``value`` on, or fails the step with a message when it is empty.

    Put it in front of a step that would otherwise start (and spend budget) with an empty value,
    e.g. AutoML tabular training without a target column.

    Args:
        value: The parameter's value.
        name: The pipeline parameter's name, for the message.
        needed_by: What needs it, for the message (``AutoML tabular training``).

    Returns:
        value: The same value, to bind the next step to.
    """
    from collections import namedtuple

    if not value.strip():
        raise ValueError(f"pipeline parameter {name!r} is empty but {needed_by} needs it; pass --param {name}=...")
    return namedtuple("Outputs", ["value"])(value)
