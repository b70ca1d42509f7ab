"""The Ledger hands a method's parameters to its parser by name (`shell_setup.given`): each
parser must take exactly the method's parameter names, in order, or a call would fail."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from meterlib import Ledger
from meterlib.arguments import catalogue, grants, usage
from meterlib.operations.track import track_args

PARSERS: dict[str, Callable[..., Any]] = {
    "create": grants.create_args,
    "update": grants.update_args,
    "check": usage.check_args,
    "track": track_args,
    "create_feature": catalogue.feature_args,
}


def names(function: Callable[..., Any], *skipped: str) -> list[str]:
    return [n for n in inspect.signature(function).parameters if n not in skipped]


@pytest.mark.parametrize("method", sorted(PARSERS))
def test_each_parser_takes_its_methods_parameters(method: str) -> None:
    assert names(PARSERS[method], "now") == names(getattr(Ledger, method), "self")


def test_a_renamed_parameter_would_be_caught() -> None:
    assert names(grants.delete_args) != names(Ledger.update, "self")
