"""docs/spec.md, written from the pydantic models: every field of a spec with its type,
default, rules and an example from ``examples/fraud-detector.yaml``.

``python -m champion.spec.reference > docs/spec.md`` regenerates it; a test fails when the
page and the models disagree.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from champion.spec.models import Experiment

__all__ = ["render_spec_reference"]

_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud-detector.yaml"
_CONSTRAINTS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "min length",
                "max_length": "max length", "pattern": "pattern"}  # fmt: skip

_INTRO = """\
# Spec reference

Every field of an experiment spec (YAML), generated from the pydantic models by
`python -m champion.spec.reference > docs/spec.md`; a test fails when this page and the
models disagree. Examples come from
[examples/fraud-detector.yaml](../examples/fraud-detector.yaml). Unknown fields are
refused (each with its line), so a misspelt field never passes silently. Check a spec with
`champion validate FILE` (it also loads every model; `--no-load` skips that).
"""


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _type(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is list:
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}" if args else "mapping"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return ""
    else:
        value = field.default
    return (
        f"`{json.dumps(value)}`"
        if value not in (None, [], {})
        else ("" if value is None else f"`{json.dumps(value)}`")
    )


def _rules(field: FieldInfo) -> str:
    out = []
    for item in field.metadata:
        for attr, label in _CONSTRAINTS.items():
            value = getattr(item, attr, None)
            if value is not None:
                out.append(f"{label} `{value}`" if attr == "pattern" else f"{label} {value}")
    return ", ".join(out)


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        while isinstance(data, list):
            data = data[0] if data else None
        if key == "*" and isinstance(data, dict) and data:
            data = next(iter(data.values()))
            continue
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _example(data: Any, paths: list[tuple[str, ...]], name: str) -> str:
    for path in paths:
        value = _at(data, (*path, name))
        if value is not None:
            text = json.dumps(value)
            return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"
    return ""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _walk() -> list[tuple[type[BaseModel], list[tuple[str, ...]]]]:
    """Every model reachable from Experiment, in first-seen order, with where it is used."""
    seen: dict[type[BaseModel], list[tuple[str, ...]]] = {Experiment: [()]}
    queue: list[type[BaseModel]] = [Experiment]
    while queue:
        model = queue.pop(0)
        for name, field in model.model_fields.items():
            keyed = "dict" in str(field.annotation)  # models.<name>: one entry per key
            for sub in _models(field.annotation):
                paths = [(*p, name, "*") if keyed else (*p, name) for p in seen[model]]
                if sub not in seen:
                    seen[sub] = []
                    queue.append(sub)
                seen[sub] += [p for p in paths if p not in seen[sub]]
    return list(seen.items())


def _where(paths: list[tuple[str, ...]]) -> str:
    shown = [f"`{'.'.join(p)}`" for p in paths if p]
    return ", ".join(shown) or "the top level"


def render_spec_reference() -> str:
    """The whole of docs/spec.md."""
    # The example ships with the repository, not the wheel: without it, no example column.
    data = yaml.safe_load(_EXAMPLE.read_text(encoding="utf-8")) if _EXAMPLE.is_file() else {}
    models = _walk()
    lines = [_INTRO, "## Contents", ""]
    lines += [f"- [{m.__name__}](#{m.__name__.lower()})" for m, _ in models]
    lines.append("")
    for model, paths in models:
        lines += [f"## {model.__name__}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc and model is not Experiment:
            lines += [_cell(doc), ""]
        lines += [f"Used at: {_where(paths)}.", ""]
        lines += ["| field | type | default | rules | meaning | example |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, field in model.model_fields.items():
            lines.append(
                f"| `{name}` | {_type(field.annotation)} | {_default(field)} | "
                f"{_cell(_rules(field))} | {_cell(field.description or '')} | "
                f"{_cell(_example(data, paths, name))} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_spec_reference(), end="")
