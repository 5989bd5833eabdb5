"""Property-based fuzzing of the gateway over its own OpenAPI schema (schemathesis).

A real uvicorn on 127.0.0.1 with a SQLite registry and an event store; every operation is
called with generated requests, with the admin token and with none: no 5xx, and every
answer (status, content type, body) is one the schema documents. The model answers
anything, so a 502 here would be the gateway's fault. ``CHAMPION_FUZZ_EXAMPLES`` sets the
cases per operation and token (default 60).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from champion.registry import Registry
from champion.serve import Router, SpecSource
from champion.serve.app import create_app
from champion.spec import parse_spec
from tests.serve._safety import ADMIN
from tests.serve._safety import settings as gateway_settings
from tests.serve._support import HERE, ThreadServer, spec_text

EXAMPLES = int(os.environ.get("CHAMPION_FUZZ_EXAMPLES", "60"))
PREDICT_TOKEN = "predict-secret-0123456789"
SPEC = (
    spec_text("checkout")
    .replace("serve_models:champion", "safety_models:anything")
    .replace("serve_models:challenger", "safety_models:anything")
)


def _schema() -> dict:
    """The gateway's OpenAPI document, from an app built for it (it does not depend on data)."""
    router = Router(SpecSource([parse_spec(SPEC, "checkout")]), models_dir=HERE)
    try:
        return create_app(gateway_settings(), router=router).openapi()
    finally:
        router.close()


schema = schemathesis.openapi.from_dict(_schema())


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    db = root / "reg.db"
    with Registry(f"sqlite:///{db}") as registry:
        registry.create(parse_spec(SPEC, "checkout"), by="operator")
        registry.start("checkout", by="operator")
    app = create_app(gateway_settings(db, events=str(root / "events"), predict_token=PREDICT_TOKEN,
                                      max_body_bytes=64_000))  # fmt: skip
    with ThreadServer(app) as server:
        yield server.url


# Checks of the answers. Left out: whether the schema describes every input the gateway
# refuses or accepts (a spec is a free-form object the spec parser judges; pydantic coerces
# "1" to 1) -- a question of the schema's precision, not of a failing or undocumented answer.
_INPUT_PRECISION = [checks.positive_data_acceptance, checks.negative_data_rejection]

_FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip


@schema.parametrize()
@_FUZZ
def test_with_the_admin_token_no_5xx_and_every_answer_documented(
    case: schemathesis.Case, gateway_url: str
) -> None:
    case.call_and_validate(base_url=gateway_url, headers=ADMIN, timeout=30,
                           excluded_checks=_INPUT_PRECISION)  # fmt: skip


@schema.parametrize()
@_FUZZ
def test_with_the_predict_token_no_5xx_and_every_answer_documented(
    case: schemathesis.Case, gateway_url: str
) -> None:
    headers = {"Authorization": f"Bearer {PREDICT_TOKEN}"}
    case.call_and_validate(base_url=gateway_url, headers=headers, timeout=30,
                           excluded_checks=_INPUT_PRECISION)  # fmt: skip


@schema.parametrize()
@_FUZZ
def test_without_a_token_no_5xx_and_every_answer_documented(
    case: schemathesis.Case, gateway_url: str
) -> None:
    if case.headers:
        case.headers.pop("Authorization", None)
    case.call_and_validate(base_url=gateway_url, timeout=30, excluded_checks=_INPUT_PRECISION)
