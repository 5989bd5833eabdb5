"""docs/spec.md is the page the pydantic models generate, and names every field."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from champion.spec.models import Experiment
from champion.spec.reference import render_spec_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    seen.add(model)
    for field in model.model_fields.values():
        annotation = str(field.annotation)
        for sub in _all_models():
            if sub.__name__ in annotation and sub not in seen:
                _models(sub, seen)
    return seen


def _all_models() -> list[type[BaseModel]]:
    import champion.spec.design as design
    import champion.spec.models as models

    return [
        value
        for module in (models, design)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]


def test_docs_spec_md_is_the_page_the_models_generate():
    assert DOC.read_text(encoding="utf-8") == render_spec_reference(), (
        "docs/spec.md is out of date: python -m champion.spec.reference > docs/spec.md"
    )


def test_every_field_of_every_model_a_spec_uses_is_on_the_page():
    text = DOC.read_text(encoding="utf-8")
    for model in _models(Experiment, set()):
        section = text.split(f"\n## {model.__name__}\n", 1)[1].split("\n## ", 1)[0]
        for name in model.model_fields:
            assert f"| `{name}` |" in section, (model.__name__, name)


def test_the_example_spec_fills_the_example_column():
    assert "| `min_stage_hours` | float | `24` |" in DOC.read_text(encoding="utf-8")
