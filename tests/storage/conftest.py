"""Storage suites: tests that take `component` run once per registered storage component."""

from __future__ import annotations

import pytest
from storage_helpers import component_params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "component" in metafunc.fixturenames:
        metafunc.parametrize("component", component_params())
