"""The docstring examples of champion.assign run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["hashing", "layout", "targeting", "units", "assigner", "sql"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(f"champion.assign.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
