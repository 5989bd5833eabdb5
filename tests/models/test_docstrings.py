"""The docstring examples of champion.models run, so they stay true."""

from __future__ import annotations

import doctest

import pytest

from champion.models import base, oip, python


@pytest.mark.parametrize("module", [base, oip, python], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: object) -> None:
    failed, attempted = doctest.testmod(module, verbose=False)  # type: ignore[arg-type]
    assert attempted > 0
    assert failed == 0
