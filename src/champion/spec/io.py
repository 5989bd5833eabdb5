"""YAML in and out: load a spec with every problem named by field, file and line; dump it back.

Loading composes the YAML node tree first so each error points at the line it came from.
Dumping writes only what the author set (``exclude_unset``), so YAML -> spec -> YAML is lossless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from champion.errors import SpecError
from champion.spec.checks import cross_field_problems
from champion.spec.models import Experiment

__all__ = ["dump_spec", "load_spec", "parse_spec", "spec_to_dict", "where_in_spec"]

# A place in the spec: mapping keys and list positions from the top level down.
_Loc = tuple[str | int, ...]


def _line_index(
    node: yaml.Node | None, path: _Loc = (), index: dict[_Loc, int] | None = None
) -> dict[_Loc, int]:
    """Map each YAML path (keys and list positions) to its 1-based line."""
    index = {} if index is None else index
    if node is None:
        return index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            index[child] = key.start_mark.line + 1
            _line_index(value, child, index)
            index[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), index)
    return index


def _line_for(path: _Loc, index: dict[_Loc, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in path[:cut])
        if key in index:
            return index[key]
    return None


def _describe(path: _Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format(source: str, path: _Loc, message: str, index: dict[_Loc, int]) -> str:
    line = _line_for(path, index)
    where = f"{source}:{line}" if line else source
    return f"{_describe(path)} ({where}): {message}"


def _schema_problems(error: ValidationError) -> list[tuple[_Loc, str]]:
    out: list[tuple[_Loc, str]] = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field: remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "string_pattern_mismatch":
            msg = (
                "must start with a letter or digit and use only letters, digits, '_', '.' "
                f"and '-' (got {err['input']!r})"
            )
        elif "input" in err and err["type"] not in ("value_error",):
            msg = f"{msg} (got {err['input']!r})"
        out.append((loc, msg.removeprefix("Value error, ")))
    return out


def parse_spec(text: str, source: str = "<spec>") -> Experiment:
    """Validate spec text; raise :class:`SpecError` listing every problem with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        raise SpecError(source, [f"({where}): not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise SpecError(
            source, ["the top level must be a mapping of fields (name: ..., models: ...)"]
        )
    index = _line_index(node)
    problems: list[tuple[_Loc, str]] = []
    experiment = None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as e:
        problems.extend(_schema_problems(e))
    problems.extend(cross_field_problems(data))
    if problems:
        raise SpecError(source, [_format(source, p, m, index) for p, m in problems])
    assert experiment is not None
    return experiment


def load_spec(path: str | Path) -> Experiment:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found: check the path"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(str(path), [f"cannot read the file: {e}"]) from None
    return parse_spec(text, str(path))


def where_in_spec(path: str | Path, field: tuple[str | int, ...]) -> str:
    """``field (FILE:LINE)`` for a field of a spec file, the way load errors name places:
    ``where_in_spec("spec.yaml", ("models", "v2_0", "target"))`` ->
    ``"models.v2_0.target (spec.yaml:9)"``. The line is the nearest enclosing one found."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return f"{_describe(field)} ({path})"
    line = _line_for(field, _line_index(node))
    return f"{_describe(field)} ({path}:{line})" if line else f"{_describe(field)} ({path})"


def spec_to_dict(experiment: Experiment) -> dict[str, Any]:
    return experiment.model_dump(mode="json", exclude_unset=True)


def dump_spec(experiment: Experiment) -> str:
    return yaml.safe_dump(spec_to_dict(experiment), sort_keys=False, allow_unicode=True)
