"""One event log with known properties, written once for the shadow tests."""

import pytest

from tests.shadow._data import ShadowData, write_shadow_data


@pytest.fixture(scope="session")
def shadow_data(tmp_path_factory: pytest.TempPathFactory) -> ShadowData:
    return write_shadow_data(tmp_path_factory.mktemp("events"))
